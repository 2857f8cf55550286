"""Labeling sessions: the session rows, their labels, jobs, workers, batches, curve and skips.

:class:`SessionsMixin` stores what :mod:`al_core.labeling` does: a session and its
config, every label the moment it is given (with its source, see
:data:`LABEL_SOURCES`), the background jobs (:data:`SESSION_JOBS`) and the worker
process that runs them, each queried batch with the model's reasons and
auto-label proposals, the session's learning curve and the items skipped.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from al_core.errors import StoreError
from al_core.store.schema import StoreBase, _row

LABEL_SOURCES = ("oracle", "human", "pseudo")
DEFAULT_ANNOTATOR = "anonymous"
"""Who gave an answer when nobody named themselves (and every answer stored before
schema version 5); the same literal is in that migration."""
# Background jobs of a labeling session, each with a status column pair
# ``<job>_status`` / ``<job>_error`` on ``sessions``.
SESSION_JOBS = ("train", "audit")
JOB_STATUSES = ("idle", "queued", "running", "failed")

SESSION_ROUND_COLUMNS = (
    "round",
    "labeled",
    "pseudo_labeled",
    "held_out",
    "test_accuracy",
    "test_loss",
    "train_seconds",
    "score_seconds",
    "epochs",
    "steps",
    "kappa",
    "stop_predictions",
    "evaluated",
)


def _round_value(record: dict[str, Any], column: str) -> Any:
    """A session round's value for its column (the stop-set predictions as JSON)."""
    value = record.get(column)
    if column == "stop_predictions" and value is not None:
        return json.dumps([int(v) for v in value])
    return value


def _batch_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("items", "scores", "top3", "proposals"):
        data[key] = json.loads(data[key])
    return data


class SessionsMixin(StoreBase):
    """Labeling sessions and all stored about them (part of :class:`~al_core.store.Store`)."""

    # -- labeling sessions -----------------------------------------------------
    def create_session(self, name: str, config: dict[str, Any]) -> int:
        """A new labeling session; returns its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (name, config, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(config, sort_keys=True), time.time()),
            )
        return int(cursor.lastrowid)

    def set_session_environment(self, session_id: int, environment: dict[str, Any]) -> None:
        """Store what a labeling session's retrains ran on, as JSON (the latest one)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET environment = ? WHERE id = ?",
                (json.dumps(environment, sort_keys=True), session_id),
            )

    def set_session_config(self, session_id: int, config: dict[str, Any]) -> None:
        """Replace a session's stored settings (checked by the caller)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sessions SET config = ? WHERE id = ?",
                (json.dumps(config, sort_keys=True), session_id),
            )
        if cursor.rowcount == 0:
            raise StoreError(f"no labeling session with id {session_id}")

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            """
            SELECT s.*, COUNT(l.id) AS labels FROM sessions s
            LEFT JOIN labels l ON l.session_id = s.id GROUP BY s.id ORDER BY s.id DESC
            """
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

    def add_label(
        self,
        session_id: int,
        item: str,
        label: int,
        source: str,
        *,
        annotator: str = DEFAULT_ANNOTATOR,
        seconds: float | None = None,
        relabel: bool = False,
        max_annotators: int | None = None,
        claims_after: float | None = None,
    ) -> bool:
        """Store ``annotator``'s label the moment it is given. Returns ``False`` (and
        stores nothing) if that annotator already answered the item and ``relabel`` is
        not set (a second tab's duplicate), if ``max_annotators`` is set and that many
        *other* annotators already answered it (1: nobody else may have), or if
        ``claims_after`` is set and another annotator holds a claim on the item made
        or renewed after that time.
        The checks and the write are one transaction."""
        if source not in LABEL_SOURCES:
            raise StoreError(f"unknown label source {source!r}; one of {', '.join(LABEL_SOURCES)}")
        conflict = (
            "DO UPDATE SET label = excluded.label, source = excluded.source, "
            "seconds = excluded.seconds, created_at = excluded.created_at"
            if relabel
            else "DO NOTHING"
        )
        with self.transaction() as conn:
            if max_annotators is not None:
                (others,) = conn.execute(
                    "SELECT COUNT(*) FROM labels WHERE session_id = ? AND item = ? "
                    "AND annotator != ?",
                    (session_id, item, annotator),
                ).fetchone()
                if others >= max_annotators:
                    return False
            if (
                claims_after is not None
                and conn.execute(
                    "SELECT 1 FROM label_claims WHERE session_id = ? AND item = ? "
                    "AND annotator != ? AND claimed_at > ?",
                    (session_id, item, annotator, claims_after),
                ).fetchone()
            ):
                return False
            cursor = conn.execute(
                "INSERT INTO labels (session_id, item, annotator, label, source, seconds, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (session_id, item, annotator) {conflict}",
                (session_id, item, annotator, int(label), source, seconds, time.time()),
            )
        return cursor.rowcount > 0

    def remove_label(self, session_id: int, item: str, annotator: str = DEFAULT_ANNOTATOR) -> None:
        """Undo: forget ``annotator``'s label of ``item``."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM labels WHERE session_id = ? AND item = ? AND annotator = ?",
                (session_id, item, annotator),
            )

    def labels(
        self,
        session_id: int,
        items: Collection[str] | None = None,
        *,
        since: float | None = None,
    ) -> list[dict[str, Any]]:
        """Every answer of a session (one row per item and annotator) in the order given;
        with ``items``, the answers of those images only; with ``since``, those stored
        after that time (``created_at``, seconds since the epoch).

        All answers are read once while the database is unchanged (the rows are then
        shared between calls on this connection: read them, do not change them). A
        session of 3,000 answers takes about 17 ms to read, and every answer changes
        the database: a key press on the Label page asks for the few rows it needs
        (``items``, ``since``) instead."""
        where: list[str] = ["session_id = ?"]
        args: list[Any] = [session_id]
        if items is not None:
            where.append("item IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(items)))
        if since is not None:
            where.append("created_at > ?")
            args.append(since)

        def read() -> list[dict[str, Any]]:
            rows = self.conn.execute(
                "SELECT id, item, annotator, label, source, seconds, created_at FROM labels "
                "WHERE " + " AND ".join(where) + " ORDER BY created_at, id",
                args,
            ).fetchall()
            return [dict(r) for r in rows]

        if items is not None or since is not None:
            return read()  # a few rows, read each time
        return list(self._kept_read(("labels", session_id), read))

    def single_answer_items(self, session_id: int, other_than: str) -> list[str]:
        """Images with exactly one answer, by a person other than ``other_than`` (not
        pseudo-labeled): where ``other_than``'s second opinion can come from. Only the
        images others answered are grouped, so a person labeling alone costs little."""
        rows = self.conn.execute(
            "SELECT item FROM labels WHERE session_id = ? AND item IN (SELECT item FROM labels "
            "WHERE session_id = ? AND annotator <> ? AND source = 'human') "
            "GROUP BY item HAVING COUNT(*) = 1",
            (session_id, session_id, other_than),
        ).fetchall()
        return [r[0] for r in rows]

    def recent_answer_seconds(self, session_id: int, last: int) -> list[float]:
        """The seconds spent on the ``last`` people's answers that have them, oldest first."""
        rows = self.conn.execute(
            "SELECT seconds FROM labels WHERE session_id = ? AND source = 'human' "
            "AND seconds IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT ?",
            (session_id, last),
        ).fetchall()
        return [float(r[0]) for r in reversed(rows)]

    def label_counts(self, session_id: int) -> dict[str, int]:
        """A session's answers by kind: ``human`` (a class), ``not_sure``, ``pseudo``."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(source = 'human' AND label >= 0), 0), "
            "COALESCE(SUM(label < 0), 0), COALESCE(SUM(source = 'pseudo' AND label >= 0), 0) "
            "FROM labels WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return {"human": int(row[0]), "not_sure": int(row[1]), "pseudo": int(row[2])}

    def session(self, session_id: int) -> dict[str, Any]:
        """One labeling session (config parsed); :class:`StoreError` when unknown."""
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(
                f"no labeling session with id {session_id}; pick one from the session list"
            )
        return _row(row)  # type: ignore[return-value]

    def label_of(
        self, session_id: int, item: str, annotator: str | None = DEFAULT_ANNOTATOR
    ) -> dict[str, Any] | None:
        """``annotator``'s stored label row of one item (None: the item's first answer by
        anyone), or None."""
        row = self.conn.execute(
            "SELECT id, item, annotator, label, source, seconds, created_at FROM labels "
            "WHERE session_id = ? AND item = ? AND (? IS NULL OR annotator = ?) "
            "ORDER BY id LIMIT 1",
            (session_id, item, annotator, annotator),
        ).fetchone()
        return None if row is None else dict(row)

    def remove_labels(self, session_id: int, source: str) -> int:
        """Forget every label of one ``source`` (e.g. all pseudo-labels); returns how many."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM labels WHERE session_id = ? AND source = ?", (session_id, source)
            )
        return cursor.rowcount

    def set_session_use_pseudo(self, session_id: int, use: bool) -> None:
        """The switch that includes (or excludes) pseudo-labels in training."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET use_pseudo = ? WHERE id = ?", (int(bool(use)), session_id)
            )

    def set_session_audit_experiment(self, session_id: int, experiment_id: int) -> None:
        """Link the simulated run (an experiment) that the session's audit overlays."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET audit_experiment_id = ? WHERE id = ?",
                (experiment_id, session_id),
            )

    # -- labeling session jobs and workers -------------------------------------
    @staticmethod
    def _job_column(job: str) -> str:
        if job not in SESSION_JOBS:
            raise StoreError(f"unknown session job {job!r}; one of {', '.join(SESSION_JOBS)}")
        return job

    def request_session_job(self, session_id: int, job: str) -> int | None:
        """Queue ``job`` for the session's worker. A running job is queued again (it
        may have read the labels before the newest ones), so the worker runs it once
        more when it finishes. Returns the pid the session's worker last registered,
        or None: the caller starts a worker when that process is gone."""
        column = self._job_column(job)
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE sessions SET {column}_status = 'queued', {column}_error = NULL "
                f"WHERE id = ?",
                (session_id,),
            )
            row = conn.execute(
                "SELECT worker_pid FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no labeling session with id {session_id}")
        return row["worker_pid"]

    def claim_session_job(self, session_id: int, job: str) -> bool:
        """Move a queued ``job`` to running; False when none is queued (or another
        worker took it first)."""
        column = self._job_column(job)
        with self.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE sessions SET {column}_status = 'running' "
                f"WHERE id = ? AND {column}_status = 'queued'",
                (session_id,),
            )
        return cursor.rowcount == 1

    def finish_session_job(self, session_id: int, job: str, *, error: str | None = None) -> None:
        """A running ``job`` ends: ``idle``, or ``failed`` with ``error``. A job queued
        again meanwhile stays queued."""
        column = self._job_column(job)
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE sessions SET {column}_status = ?, {column}_error = ? "
                f"WHERE id = ? AND {column}_status = 'running'",
                ("failed" if error else "idle", error, session_id),
            )

    def reset_session_job(self, session_id: int, job: str, error: str) -> None:
        """Mark a job whose worker died as failed (it can be requested again)."""
        column = self._job_column(job)
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE sessions SET {column}_status = 'failed', {column}_error = ? "
                f"WHERE id = ? AND {column}_status IN ('queued', 'running')",
                (error, session_id),
            )

    def register_session_worker(self, session_id: int, pid: int) -> None:
        """A worker process announces itself for the session."""
        with self.transaction() as conn:
            conn.execute("UPDATE sessions SET worker_pid = ? WHERE id = ?", (pid, session_id))

    def release_session_worker(self, session_id: int, pid: int) -> bool:
        """The worker ``pid`` leaves, unless a job is queued; True when it may exit.

        Done in one transaction with the check, so that a job queued at the same
        moment either sees this worker gone (and starts another) or is seen here.
        """
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sessions SET worker_pid = NULL WHERE id = ? AND worker_pid = ? "
                "AND train_status != 'queued' AND audit_status != 'queued'",
                (session_id, pid),
            )
            if cursor.rowcount == 0:
                row = conn.execute(
                    "SELECT worker_pid, train_status, audit_status FROM sessions WHERE id = ?",
                    (session_id,),
                ).fetchone()
                # Another worker took over the session: this one may leave.
                return row is None or row["worker_pid"] != pid
        return True

    # -- labeling session batches, curve, skips --------------------------------
    def add_session_batch(
        self,
        session_id: int,
        round_index: int,
        kind: str,
        items: Sequence[str],
        scores: Sequence[float | None],
        top3: Sequence[Any],
        *,
        only_if: Callable[[], bool] | None = None,
    ) -> bool:
        """Store the batch queried for round ``round_index``; False if it already exists,
        or if ``only_if`` (asked inside the write transaction, so that nothing changes
        between its answer and the write) says no."""
        with self.transaction() as conn:
            if only_if is not None and not only_if():
                return False
            cursor = conn.execute(
                "INSERT INTO session_batches (session_id, round, kind, items, scores, top3, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id, round) DO NOTHING",
                (
                    session_id,
                    round_index,
                    kind,
                    json.dumps(list(items)),
                    json.dumps([None if s is None or s != s else s for s in scores]),
                    json.dumps(list(top3)),
                    time.time(),
                ),
            )
        return cursor.rowcount == 1

    def set_batch_proposals(
        self, session_id: int, round_index: int, proposals: Sequence[dict[str, Any]]
    ) -> None:
        """Auto-label proposals made by the model that queried batch ``round_index``."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE session_batches SET proposals = ?, proposals_reviewed_at = NULL "
                "WHERE session_id = ? AND round = ?",
                (json.dumps(list(proposals)), session_id, round_index),
            )

    def mark_proposals_reviewed(self, session_id: int, round_index: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE session_batches SET proposals_reviewed_at = ? "
                "WHERE session_id = ? AND round = ?",
                (time.time(), session_id, round_index),
            )

    def session_batches(self, session_id: int, last: int | None = None) -> list[dict[str, Any]]:
        """Every queried batch of a session (or its ``last`` ones), in round order, JSON
        columns parsed."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT * FROM session_batches WHERE session_id = ? "
            "ORDER BY round DESC LIMIT ?) ORDER BY round",
            (session_id, -1 if last is None else last),
        ).fetchall()
        return [_batch_row(r) for r in rows]

    def session_version(self, session_id: int) -> tuple[Any, ...]:
        """A cheap stamp of what the labeling screen is drawn from: it changes whenever
        a batch is added or refilled, an answer or skip is stored or undone. One query
        over indexed rows (answers and skips by count and newest write time: their ids
        are reused after an undo, write times are not)."""
        row = self.conn.execute(
            """
            SELECT (SELECT COUNT(*) || ':' || COALESCE(MAX(round), -1) || ':'
                           || COALESCE(SUM(length(items)), 0)
                    FROM session_batches WHERE session_id = :s),
                   (SELECT COUNT(*) || ':' || COALESCE(MAX(created_at), 0)
                    FROM labels WHERE session_id = :s),
                   (SELECT COUNT(*) || ':' || COALESCE(MAX(created_at), 0)
                    FROM session_skips WHERE session_id = :s)
            """,
            {"s": session_id},
        ).fetchone()
        return tuple(row)

    def latest_session_batch(self, session_id: int) -> dict[str, Any] | None:
        """The batch being labeled now (highest round), or None before the first one."""
        row = self.conn.execute(
            "SELECT * FROM session_batches WHERE session_id = ? ORDER BY round DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return None if row is None else _batch_row(row)

    def add_session_round(
        self, session_id: int, record: dict[str, Any], *, replace: bool = False
    ) -> bool:
        """One learning-curve point of a session; False if that round is already stored
        (unless ``replace``: then the stored point is replaced, e.g. by the model that
        refreshed a batch prepared early)."""
        columns = SESSION_ROUND_COLUMNS
        on_conflict = (
            "DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*columns[1:], "created_at"))
            if replace
            else "DO NOTHING"
        )
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO session_rounds (session_id, {', '.join(columns)}, created_at) "
                f"VALUES (?, {', '.join('?' for _ in columns)}, ?) "
                f"ON CONFLICT (session_id, round) {on_conflict}",
                (session_id, *(_round_value(record, c) for c in columns), time.time()),
            )
        return cursor.rowcount == 1

    def refill_session_batch(
        self,
        session_id: int,
        round_index: int,
        picks: Sequence[str],
        scores: Sequence[float | None],
        top3: Sequence[Any],
    ) -> list[str]:
        """Replace the images of batch ``round_index`` that nobody holds (not answered,
        skipped in its round or claimed, read in this write transaction) by ``picks``
        in order (with their ``scores`` and ``top3``), skipping picks already in it;
        the held ones stay, first. The batch keeps its size (old free images fill up
        when the picks run short) and is dated now. Returns its new items."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM session_batches WHERE session_id = ? AND round = ?",
                (session_id, round_index),
            ).fetchone()
            if row is None:
                raise StoreError(f"session {session_id} has no batch for round {round_index}")
            batch = _batch_row(row)
            held = (
                {r["item"] for r in self.labels(session_id)}
                | {s["item"] for s in self.skips(session_id, round_index)}
                | {c["item"] for c in self.claims(session_id)}
            )
            old = {
                item: (batch["scores"][i], batch["top3"][i])
                for i, item in enumerate(batch["items"])
            }
            new = {
                item: (score, guess) for item, score, guess in zip(picks, scores, top3, strict=True)
            }
            kept = [i for i in batch["items"] if i in held]
            fresh = [p for p in picks if p not in held]
            spare = [i for i in batch["items"] if i not in held and i not in fresh]
            items = kept + (fresh + spare)[: len(batch["items"]) - len(kept)]
            cells = [new[i] if i in new and i not in kept else old[i] for i in items]
            conn.execute(
                "UPDATE session_batches SET items = ?, scores = ?, top3 = ?, created_at = ? "
                "WHERE session_id = ? AND round = ?",
                (
                    json.dumps(items),
                    json.dumps([None if s is None or s != s else s for s, _ in cells]),
                    json.dumps([guess for _, guess in cells]),
                    time.time(),
                    session_id,
                    round_index,
                ),
            )
        return items

    def session_rounds(self, session_id: int) -> list[dict[str, Any]]:
        """A session's learning curve, in round order (without the stop-set
        predictions: :meth:`session_stop_predictions`)."""
        rows = self.conn.execute(
            "SELECT * FROM session_rounds WHERE session_id = ? ORDER BY round", (session_id,)
        ).fetchall()
        points = [dict(r) for r in rows]
        for point in points:
            point.pop("stop_predictions", None)
        return points

    def session_stop_predictions(self, session_id: int, before_round: int) -> list[int] | None:
        """The stop-set classes predicted by the model of the latest round before
        ``before_round`` that stored them, or None."""
        row = self.conn.execute(
            "SELECT stop_predictions FROM session_rounds WHERE session_id = ? AND round < ? "
            "AND stop_predictions IS NOT NULL ORDER BY round DESC LIMIT 1",
            (session_id, before_round),
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def add_skip(
        self, session_id: int, round_index: int, item: str, annotator: str = DEFAULT_ANNOTATOR
    ) -> bool:
        """``annotator`` skips ``item`` in the batch of ``round_index``; False if already
        skipped (by anyone)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO session_skips (session_id, round, item, annotator, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session_id, round_index, item, annotator, time.time()),
            )
        return cursor.rowcount == 1

    def remove_skip(self, session_id: int, round_index: int, item: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM session_skips WHERE session_id = ? AND round = ? AND item = ?",
                (session_id, round_index, item),
            )

    def skips(self, session_id: int, round_index: int) -> list[dict[str, Any]]:
        """Items skipped in one batch, in the order they were skipped."""
        rows = self.conn.execute(
            "SELECT item, annotator, created_at FROM session_skips "
            "WHERE session_id = ? AND round = ? "
            "ORDER BY created_at",
            (session_id, round_index),
        ).fetchall()
        return [dict(r) for r in rows]
