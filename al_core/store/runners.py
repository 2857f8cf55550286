"""Background runners: registration and heartbeats, claiming trials, giving them back.

:class:`RunnersMixin` holds a runner's writes: it registers and heartbeats,
claims the oldest queued trial atomically, stores that trial's rounds and ends the
claim, every write conditional on still holding the claim; and re-queues the trials
of runners found dead. :func:`claim_stop_reason` is the read-only check a worker
makes at each round boundary (cancel request, lost claim, runner gone).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from al_core.errors import StoreError
from al_core.store.experiments import _INSERT_ROUND, RUNNER_KIND, _round_params
from al_core.store.schema import StoreBase, _row


class RunnersMixin(StoreBase):
    """Runner heartbeats, trial claims and requeues (part of :class:`~al_core.store.Store`)."""

    # -- background runners: heartbeats, claims, cancellation ------------------
    # A claim is (trial id, runner id, attempt): every runner write about a trial
    # is conditional on still holding that claim, so a runner that was given up
    # for dead (and whose trial was re-queued) can no longer write to it.
    def register_runner(
        self, runner_id: str, *, pid: int, host: str, executor: str, workers: int
    ) -> None:
        """Record a starting runner (its first heartbeat)."""
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runners (id, pid, host, executor, workers, started_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (runner_id, pid, host, executor, workers, now, now),
            )

    def heartbeat(self, runner_id: str) -> None:
        """Tell the world this runner is alive (and not stopping)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runners SET heartbeat_at = ?, stopped_at = NULL WHERE id = ?",
                (time.time(), runner_id),
            )

    def mark_runner_stopped(self, runner_id: str) -> None:
        """The runner is exiting: :meth:`heartbeat` would undo this if it goes on."""
        with self.transaction() as conn:
            conn.execute("UPDATE runners SET stopped_at = ? WHERE id = ?", (time.time(), runner_id))

    def newest_runner(self) -> dict[str, Any] | None:
        """The runner that looks most alive: not stopped first, then latest heartbeat."""
        row = self.conn.execute(
            "SELECT * FROM runners ORDER BY stopped_at IS NULL DESC, heartbeat_at DESC LIMIT 1"
        ).fetchone()
        return None if row is None else dict(row)

    def runners_holding_trials(self) -> list[dict[str, Any]]:
        """Runners (rows of ``runners``) that hold at least one ``running`` trial."""
        rows = self.conn.execute(
            "SELECT * FROM runners WHERE id IN "
            "(SELECT DISTINCT runner_id FROM trials WHERE status = 'running')"
        ).fetchall()
        return [dict(r) for r in rows]

    def requeue_runner_trials(self, runner_ids: Sequence[str], reason: str) -> list[int]:
        """Give back the ``running`` trials of (dead or exiting) runners, in one transaction.

        Trials of experiments with a cancel request become ``cancelled``, the others
        ``queued`` with ``reason`` as their error; the runners are marked stopped.
        Returns the ids of the trials given back.
        """
        ids = list(runner_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        now = time.time()
        with self.transaction() as conn:
            trial_ids = [
                int(r[0])
                for r in conn.execute(
                    f"SELECT id FROM trials WHERE status = 'running' AND runner_id IN ({marks})",
                    ids,
                )
            ]
            conn.execute(
                f"""
                UPDATE trials SET
                    status = CASE WHEN (SELECT cancel_requested FROM experiments e
                                        WHERE e.id = trials.experiment_id)
                                  THEN 'cancelled' ELSE 'queued' END,
                    finished_at = CASE WHEN (SELECT cancel_requested FROM experiments e
                                             WHERE e.id = trials.experiment_id)
                                       THEN ? END,
                    error = ?, runner_id = NULL
                WHERE status = 'running' AND runner_id IN ({marks})
                """,
                (now, reason, *ids),
            )
            conn.execute(
                f"UPDATE runners SET stopped_at = COALESCE(stopped_at, ?) WHERE id IN ({marks})",
                (now, *ids),
            )
        return trial_ids

    def claim_trial(
        self, runner_id: str, experiment_id: int | None = None
    ) -> dict[str, Any] | None:
        """Atomically take the oldest queued trial (of ``experiment_id`` if given).

        In one ``BEGIN IMMEDIATE`` transaction: the trial becomes ``running`` for
        ``runner_id`` with one more attempt, rounds left by an earlier attempt are
        deleted (a trial's rounds always come from one execution; a baseline
        extension's run keeps the finished active rounds it goes on from), and its
        experiment becomes ``running``. Two runners can never claim the same trial.
        Returns the trial (config parsed, ``attempts`` = this attempt) or ``None``.
        """
        scope = "" if experiment_id is None else "AND t.experiment_id = ?"
        params: tuple[Any, ...] = () if experiment_id is None else (experiment_id,)
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute(
                f"""
                SELECT t.id FROM trials t JOIN experiments e ON e.id = t.experiment_id
                WHERE t.status = 'queued' AND e.cancel_requested = 0
                      AND e.kind = '{RUNNER_KIND}' {scope}
                ORDER BY t.experiment_id, t.id LIMIT 1
                """,
                params,
            ).fetchone()
            if row is None:
                return None
            trial_id = int(row[0])
            conn.execute(
                "UPDATE trials SET status = 'running', runner_id = ?, attempts = attempts + 1, "
                "started_at = ?, finished_at = NULL WHERE id = ? AND status = 'queued'",
                (runner_id, now, trial_id),
            )
            (config_text,) = conn.execute(
                "SELECT config FROM trials WHERE id = ?", (trial_id,)
            ).fetchone()
            extension = json.loads(config_text).get("baseline_target") is not None
            conn.execute(
                "DELETE FROM rounds WHERE trial_id = ? AND phase IS NOT ?",
                (trial_id, "active" if extension else None),
            )
            conn.execute(
                "UPDATE experiments SET status = 'running', started_at = COALESCE(started_at, ?) "
                "WHERE id = (SELECT experiment_id FROM trials WHERE id = ?)",
                (now, trial_id),
            )
            claimed = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
        return _row(claimed)

    def add_claimed_rounds(
        self, trial_id: int, runner_id: str, attempt: int, records: Sequence[dict[str, Any]]
    ) -> bool:
        """Store rounds of a claimed trial in one transaction; ``False`` if the claim is lost."""
        with self.transaction() as conn:
            if not _holds_claim(conn, trial_id, runner_id, attempt):
                return False
            conn.executemany(_INSERT_ROUND, [_round_params(trial_id, r) for r in records])
        return True

    def finish_claimed_trial(
        self,
        trial_id: int,
        runner_id: str,
        attempt: int,
        status: str,
        *,
        error: str | None = None,
        stop_reason: str | None = None,
    ) -> bool:
        """End a claim: ``done`` / ``cancelled`` / ``failed``, or ``queued`` for a retry.

        ``error`` (when given) replaces the stored reason; a trial that is done after
        a retry keeps the reason of its failed attempt. ``False`` if the claim is lost.
        """
        if status not in ("done", "cancelled", "failed", "queued"):
            raise StoreError(f"a claim cannot end in status {status!r}")
        with self.transaction() as conn:
            if not _holds_claim(conn, trial_id, runner_id, attempt):
                return False
            conn.execute(
                """
                UPDATE trials SET status = ?, error = COALESCE(?, error),
                    stop_reason = COALESCE(?, stop_reason),
                    runner_id = CASE WHEN ? = 'queued' THEN NULL ELSE runner_id END,
                    finished_at = CASE WHEN ? = 'queued' THEN NULL ELSE ? END
                WHERE id = ?
                """,
                (status, error, stop_reason, status, status, time.time(), trial_id),
            )
        return True


def _holds_claim(conn: sqlite3.Connection, trial_id: int, runner_id: str, attempt: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM trials WHERE id = ? AND runner_id = ? AND attempts = ? "
        "AND status = 'running'",
        (trial_id, runner_id, attempt),
    ).fetchone()
    return row is not None


def claim_stop_reason(
    path: str | os.PathLike[str], trial_id: int, runner_id: str, attempt: int, stale_after: float
) -> str | None:
    """Why a worker should stop its trial now, read from the store read-only, or ``None``.

    ``"cancelled"`` (the experiment has a cancel request), ``"claim lost"`` (the
    trial was given back or claimed again), ``"runner gone"`` (its runner's last
    heartbeat is older than ``stale_after`` seconds). Workers call this at every
    round boundary; they never write. A store they cannot read (a remote worker
    without the shared folder) gives ``None``: the trial then runs to its end.
    """
    try:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(
            """
            SELECT e.cancel_requested, t.status, t.runner_id, t.attempts, r.heartbeat_at
            FROM trials t JOIN experiments e ON e.id = t.experiment_id
            LEFT JOIN runners r ON r.id = ?
            WHERE t.id = ?
            """,
            (runner_id, trial_id),
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return "claim lost"
    cancel_requested, status, holder, attempts, heartbeat_at = row
    if cancel_requested:
        return "cancelled"
    if status != "running" or holder != runner_id or attempts != attempt:
        return "claim lost"
    if heartbeat_at is None or time.time() - heartbeat_at > stale_after:
        return "runner gone"
    return None
