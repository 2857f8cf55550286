"""Experiments, their trials and the trials' measured rounds.

:class:`ExperimentsMixin` creates an experiment with its grid of trials
(:class:`TrialSpec`), moves experiments and trials through their statuses,
stores and reads rounds, reports progress (:meth:`~ExperimentsMixin.trial_progress`,
:meth:`~ExperimentsMixin.count_open_trials`) and takes cancel requests. The round
insert (:data:`_INSERT_ROUND`, :func:`_round_params`) is shared with the runners'
claimed writes (:mod:`al_core.store.runners`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from al_core.errors import StoreError
from al_core.store.schema import StoreBase, _row

EXPERIMENT_STATUSES = ("queued", "running", "done", "failed", "cancelled")
TRIAL_STATUSES = ("queued", "running", "done", "failed", "cancelled")
#: The experiment kind runners serve. Other kinds (``label-audit``) are run by
#: their owner in its own process and must never be claimed by a runner.
RUNNER_KIND = "sweep"

ROUND_COLUMNS = (
    "round",
    "phase",
    "labeled",
    "pseudo_labeled",
    "test_accuracy",
    "test_loss",
    "train_seconds",
    "eval_seconds",
    "score_seconds",
    "epochs",
    "queried",
    "queried_scores",
    "queried_accuracy",
    "agreement",
    "kappa",
    "redundant",
    "steps",
    "picked_by",
)

_INSERT_ROUND = (
    f"INSERT INTO rounds (trial_id, {', '.join(ROUND_COLUMNS)}, created_at) "
    f"VALUES (?, {', '.join('?' for _ in ROUND_COLUMNS)}, ?)"
)


def _round_params(trial_id: int, record: dict[str, Any]) -> tuple[Any, ...]:
    """Parameters of :data:`_INSERT_ROUND` for one measured round."""
    if record.get("synthetic"):
        raise StoreError("synthetic (expected) curves are never stored as measurements")
    values = dict(record)
    values["queried"] = json.dumps(list(values.get("queried") or []))
    values["queried_scores"] = json.dumps(
        [None if s != s else s for s in (values.get("queried_scores") or [])]  # NaN → null
    )
    return (trial_id, *(values.get(c) for c in ROUND_COLUMNS), time.time())


@dataclass(frozen=True)
class TrialSpec:
    """A trial to create: its grid coordinates and full config (a JSON-ready dict)."""

    strategy: str
    fraction: float
    seed: int
    config: dict[str, Any]


class ExperimentsMixin(StoreBase):
    """Experiments, trials and rounds (part of :class:`~al_core.store.Store`)."""

    # -- experiments and trials ----------------------------------------------
    def create_experiment(
        self,
        name: str,
        config: dict[str, Any],
        trials: Sequence[TrialSpec],
        *,
        kind: str = "sweep",
    ) -> int:
        """Insert an experiment and all its trials (queued) in one transaction."""
        if not trials:
            raise StoreError("an experiment needs at least one trial; the grid is empty")
        now = time.time()
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO experiments (name, kind, config, status, created_at) "
                "VALUES (?, ?, ?, 'queued', ?)",
                (name, kind, json.dumps(config, sort_keys=True), now),
            )
            experiment_id = int(cursor.lastrowid)
            conn.executemany(
                "INSERT INTO trials (experiment_id, strategy, fraction, seed, config, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        experiment_id,
                        t.strategy,
                        float(t.fraction),
                        int(t.seed),
                        json.dumps(t.config, sort_keys=True),
                        now,
                    )
                    for t in trials
                ],
            )
        return experiment_id

    def experiment(self, experiment_id: int) -> dict[str, Any]:
        """One experiment as a dict (config parsed); :class:`StoreError` when unknown."""
        row = self.conn.execute(
            "SELECT * FROM experiments WHERE id = ?", (experiment_id,)
        ).fetchone()
        if row is None:
            raise StoreError(
                f"no experiment with id {experiment_id}; list them with `python -m al_core report`"
            )
        return _row(row)  # type: ignore[return-value]

    def experiments(self) -> list[dict[str, Any]]:
        """All experiments, newest first, with trial counts per status."""
        rows = self.conn.execute(
            """
            SELECT e.*,
                   COUNT(t.id) AS trials,
                   SUM(t.status = 'done') AS trials_done,
                   SUM(t.status = 'running') AS trials_running,
                   SUM(t.status = 'failed') AS trials_failed
            FROM experiments e LEFT JOIN trials t ON t.experiment_id = e.id
            GROUP BY e.id ORDER BY e.id DESC
            """
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

    def set_experiment_status(self, experiment_id: int, status: str) -> None:
        """Move an experiment to ``status``, stamping start / finish times."""
        if status not in EXPERIMENT_STATUSES:
            raise StoreError(f"unknown experiment status {status!r}")
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                """
                UPDATE experiments SET status = ?,
                    started_at = CASE WHEN ? = 'running' AND started_at IS NULL
                                      THEN ? ELSE started_at END,
                    finished_at = CASE WHEN ? IN ('done', 'failed', 'cancelled')
                                       THEN ? ELSE finished_at END
                WHERE id = ?
                """,
                (status, status, now, status, now, experiment_id),
            )

    def trials(self, experiment_id: int) -> list[dict[str, Any]]:
        """Trials of an experiment, in creation order, configs parsed."""
        rows = self.conn.execute(
            "SELECT * FROM trials WHERE experiment_id = ? ORDER BY id", (experiment_id,)
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

    def queue_baseline_extension(
        self, experiment_id: int, target: float, configs: dict[int, dict[str, Any]]
    ) -> list[int]:
        """Record the baseline extension's ``target`` in the experiment's config and
        queue the finished random trials in ``configs`` (trial id → its config with
        ``baseline_target``) again, in one transaction. Their active rounds stay; the
        claim that runs the extension keeps them (see :meth:`claim_trial`). Returns the
        ids queued (a trial that is no longer ``done`` is left alone)."""
        queued = []
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT config FROM experiments WHERE id = ?", (experiment_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no experiment with id {experiment_id}")
            config = {**json.loads(row[0]), "baseline_target": float(target)}
            conn.execute(
                "UPDATE experiments SET config = ? WHERE id = ?",
                (json.dumps(config, sort_keys=True), experiment_id),
            )
            for trial_id, trial_config in configs.items():
                cursor = conn.execute(
                    """
                    UPDATE trials SET config = ?, status = 'queued',
                        runner_id = NULL, stop_reason = NULL, finished_at = NULL
                    WHERE id = ? AND experiment_id = ? AND status = 'done'
                    """,
                    (json.dumps(trial_config, sort_keys=True), trial_id, experiment_id),
                )
                if cursor.rowcount:
                    queued.append(trial_id)
            if queued:
                conn.execute(
                    "UPDATE experiments SET status = 'running', finished_at = NULL WHERE id = ?",
                    (experiment_id,),
                )
        return queued

    def set_trial_environment(self, trial_id: int, environment: dict[str, Any]) -> None:
        """Store what a trial ran on (:func:`al_core.environment.capture`), as JSON."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE trials SET environment = ? WHERE id = ?",
                (json.dumps(environment, sort_keys=True), trial_id),
            )

    def trial(self, trial_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if row is None:
            raise StoreError(f"no trial with id {trial_id}")
        return _row(row)  # type: ignore[return-value]

    def set_trial_status(
        self,
        trial_id: int,
        status: str,
        *,
        error: str | None = None,
        stop_reason: str | None = None,
    ) -> None:
        """Move a trial to ``status``; ``running`` counts an attempt."""
        if status not in TRIAL_STATUSES:
            raise StoreError(f"unknown trial status {status!r}")
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                """
                UPDATE trials SET status = ?, error = ?,
                    stop_reason = COALESCE(?, stop_reason),
                    attempts = attempts + (? = 'running'),
                    started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END,
                    finished_at = CASE WHEN ? IN ('done', 'failed', 'cancelled')
                                       THEN ? ELSE NULL END
                WHERE id = ?
                """,
                (status, error, stop_reason, status, status, now, status, now, trial_id),
            )

    # -- rounds ----------------------------------------------------------------
    def add_round(self, trial_id: int, record: dict[str, Any]) -> None:
        """Store one measured round. A second copy of (trial, round) is refused."""
        try:
            with self.transaction() as conn:
                conn.execute(_INSERT_ROUND, _round_params(trial_id, record))
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"round {record.get('round')} of trial {trial_id} is already stored "
                f"(or the trial does not exist): {exc}"
            ) from exc

    def delete_rounds(self, trial_id: int, *, keep_phase: str | None = None) -> None:
        """Delete a trial's rounds (all, or all but those of ``keep_phase``)."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM rounds WHERE trial_id = ? AND phase IS NOT ?", (trial_id, keep_phase)
            )

    def rounds(self, trial_id: int) -> list[dict[str, Any]]:
        """The stored rounds of a trial, in round order."""
        rows = self.conn.execute(
            "SELECT * FROM rounds WHERE trial_id = ? ORDER BY round", (trial_id,)
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

    def experiment_version(self, experiment_id: int) -> tuple[Any, ...] | None:
        """A cheap stamp of everything a page shows of an experiment: it changes whenever
        a round is stored or deleted, a trial changes status (or is queued again) or the
        experiment does; ``None`` for an unknown experiment.

        One indexed query: the experiment's status and, per trial in id order, its
        status, attempts and its rounds' count and newest write time (round ids are
        reused after a delete, write times are not).
        """
        row = self.conn.execute(
            """
            SELECT e.status,
                   (SELECT group_concat(stamp, ',') FROM (
                        SELECT t.id || ':' || t.status || ':' || t.attempts || ':'
                               || (SELECT COUNT(*) || ':' || COALESCE(MAX(r.created_at), 0)
                                   FROM rounds r WHERE r.trial_id = t.id) AS stamp
                        FROM trials t WHERE t.experiment_id = e.id ORDER BY t.id))
            FROM experiments e WHERE e.id = ?
            """,
            (experiment_id,),
        ).fetchone()
        return None if row is None else (row[0], row[1] or "")

    def experiments_version(self) -> tuple[Any, ...]:
        """A cheap stamp of every experiment's status and, for the unfinished ones, of
        their trials and rounds (:meth:`experiment_version`): what a monitor of all
        experiments shows changes only when it does."""
        statuses = tuple(
            (int(i), str(s))
            for i, s in self.conn.execute("SELECT id, status FROM experiments ORDER BY id")
        )
        return statuses, tuple(
            self.experiment_version(i) for i, s in statuses if s in ("queued", "running")
        )

    def experiment_rounds(self, experiment_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Rounds of several experiments joined with their trial's coordinates.

        Each row: experiment_id, trial_id, strategy, fraction, seed, trial status and
        every round column (queried lists left as JSON text, for export).
        """
        ids = [int(i) for i in experiment_ids]
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.conn.execute(
            f"""
            SELECT t.experiment_id, r.trial_id, t.strategy, t.fraction, t.seed,
                   t.status AS trial_status, r.round, r.phase, r.labeled, r.pseudo_labeled,
                   r.test_accuracy, r.test_loss, r.train_seconds, r.eval_seconds,
                   r.score_seconds, r.epochs, r.steps, r.queried_accuracy, r.agreement,
                   r.kappa, r.redundant, r.picked_by, r.queried, r.queried_scores
            FROM rounds r JOIN trials t ON t.id = r.trial_id
            WHERE t.experiment_id IN ({marks})
            ORDER BY t.experiment_id, t.strategy, t.fraction, t.seed, r.round
            """,
            ids,
        ).fetchall()
        return [dict(r) for r in rows]

    # -- progress and cancellation ---------------------------------------------
    def count_open_trials(self, experiment_id: int | None = None) -> dict[str, int]:
        """``{"queued": n, "running": m}``, of one experiment or of all the runners'
        (sweeps; queued ones of experiments with a cancel request are not counted:
        they will never start)."""
        scope = (
            f"AND e.kind = '{RUNNER_KIND}'" if experiment_id is None else "AND t.experiment_id = ?"
        )
        params: tuple[Any, ...] = () if experiment_id is None else (experiment_id,)
        row = self.conn.execute(
            f"""
            SELECT COALESCE(SUM(t.status = 'queued' AND e.cancel_requested = 0), 0),
                   COALESCE(SUM(t.status = 'running'), 0)
            FROM trials t JOIN experiments e ON e.id = t.experiment_id
            WHERE t.status IN ('queued', 'running') {scope}
            """,
            params,
        ).fetchone()
        return {"queued": int(row[0]), "running": int(row[1])}

    def request_cancel(self, experiment_id: int) -> int:
        """Flag an experiment for cancellation and cancel its queued trials at once.

        Running trials stop at their next round boundary (their worker reads the
        flag). Returns how many queued trials were cancelled.
        """
        self.experiment(experiment_id)  # unknown id → StoreError
        with self.transaction() as conn:
            conn.execute(
                "UPDATE experiments SET cancel_requested = 1 WHERE id = ?", (experiment_id,)
            )
            cursor = conn.execute(
                "UPDATE trials SET status = 'cancelled', stop_reason = 'cancelled', "
                "finished_at = ? WHERE experiment_id = ? AND status = 'queued'",
                (time.time(), experiment_id),
            )
        return cursor.rowcount

    def trial_progress(self, experiment_id: int) -> list[dict[str, Any]]:
        """Trials of an experiment with their stored-round count and last round time.

        One query (for pages that poll): each row has the trial columns (config
        parsed), ``rounds_done`` and ``last_round_at`` (epoch seconds or None).
        """
        rows = self.conn.execute(
            """
            SELECT t.id, t.strategy, t.fraction, t.seed, t.config, t.status, t.error,
                   t.attempts, t.started_at, t.finished_at,
                   COUNT(r.id) AS rounds_done, MAX(r.created_at) AS last_round_at
            FROM trials t LEFT JOIN rounds r ON r.trial_id = t.id
            WHERE t.experiment_id = ? GROUP BY t.id ORDER BY t.id
            """,
            (experiment_id,),
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]
