"""The SQLite store: the schema and every SQL statement of the project.

One file (``data/al.sqlite3`` by default; ``AL_DATA_DIR`` or ``--db`` says
otherwise) in WAL mode, so the app can read while a runner writes. The schema
is versioned with ``PRAGMA user_version`` and migrated forward on open.

Tables:

- ``experiments``: a grid (or a single run) with its config JSON and status;
- ``trials``: one learning curve each (strategy, fraction, seed) and the full
  trial config JSON that reproduces it, with status and error;
- ``rounds``: measured points of a trial, unique per (trial, round);
- ``sessions`` and ``labels``: labeling sessions and every label given, with
  its source (oracle / human / pseudo), time and the seconds it took.

Synthetic ("expected") curves are never stored here: only measured rounds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from al_core.errors import StoreError

REPO_ROOT = Path(__file__).resolve().parent.parent
DB_FILENAME = "al.sqlite3"

EXPERIMENT_STATUSES = ("queued", "running", "done", "failed", "cancelled")
TRIAL_STATUSES = ("queued", "running", "done", "failed", "cancelled")
LABEL_SOURCES = ("oracle", "human", "pseudo")

# Each entry migrates the schema from version i to i + 1. Never edit a shipped
# entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'sweep',
        config TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        strategy TEXT NOT NULL,
        fraction REAL NOT NULL,
        seed INTEGER NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        stop_reason TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (experiment_id, strategy, fraction, seed)
    );
    CREATE INDEX trials_by_experiment ON trials(experiment_id, status);
    CREATE TABLE rounds (
        id INTEGER PRIMARY KEY,
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        round INTEGER NOT NULL,
        phase TEXT NOT NULL DEFAULT 'active',
        labeled INTEGER NOT NULL,
        pseudo_labeled INTEGER NOT NULL DEFAULT 0,
        test_accuracy REAL NOT NULL,
        test_loss REAL,
        train_seconds REAL,
        eval_seconds REAL,
        score_seconds REAL,
        epochs INTEGER,
        queried TEXT NOT NULL DEFAULT '[]',
        queried_scores TEXT NOT NULL DEFAULT '[]',
        queried_accuracy REAL,
        created_at REAL NOT NULL,
        UNIQUE (trial_id, round)
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        item TEXT NOT NULL,
        label INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('oracle', 'human', 'pseudo')),
        seconds REAL,
        created_at REAL NOT NULL,
        UNIQUE (session_id, item)
    );
    """,
    # 2: background runners (heartbeat, claims), cancellation, stopping advice.
    """
    CREATE TABLE runners (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        executor TEXT NOT NULL,
        workers INTEGER NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        stopped_at REAL
    );
    ALTER TABLE trials ADD COLUMN runner_id TEXT;
    ALTER TABLE experiments ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rounds ADD COLUMN agreement REAL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

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
)


def default_db_path() -> Path:
    """``$AL_DATA_DIR/al.sqlite3`` when set, else ``data/al.sqlite3`` in the repository."""
    data_dir = os.environ.get("AL_DATA_DIR")
    return (Path(data_dir) if data_dir else REPO_ROOT / "data") / DB_FILENAME


@dataclass(frozen=True)
class TrialSpec:
    """A trial to create: its grid coordinates and full config (a JSON-ready dict)."""

    strategy: str
    fraction: float
    seed: int
    config: dict[str, Any]


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for key in ("config",):
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    for key in ("queried", "queried_scores"):
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return data


class Store:
    """A connection to the SQLite store. Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : the database file; created (with its folder) when missing.
    timeout : seconds to wait for another process's write lock before giving up
        with a :class:`StoreError`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_db_path()
        self.timeout = timeout
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder; give the path of a database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise self._explain(exc) from exc

    def _explain(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return StoreError(
                f"{self.path} is not a readable SQLite database ({text}); it is corrupt or "
                "another kind of file. Nothing was changed: move it aside, or pass --db "
                "(or set AL_DATA_DIR) to use another file."
            )
        if "locked" in text or "busy" in text:
            return StoreError(
                f"{self.path} is locked by another process (waited {self.timeout:g} s); "
                "close the other program or wait for it, then retry. Nothing was written."
            )
        return StoreError(f"database error on {self.path}: {text}")

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade Active Learning Lab or use another --db"
            )
        for target in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _split_sql(MIGRATIONS[target]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._explain(exc) from exc
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        if record.get("synthetic"):
            raise StoreError("synthetic (expected) curves are never stored as measurements")
        values = dict(record)
        values["queried"] = json.dumps(list(values.get("queried") or []))
        values["queried_scores"] = json.dumps(
            [None if s != s else s for s in (values.get("queried_scores") or [])]  # NaN → null
        )
        columns = ", ".join(ROUND_COLUMNS)
        marks = ", ".join("?" for _ in ROUND_COLUMNS)
        try:
            with self.transaction() as conn:
                conn.execute(
                    f"INSERT INTO rounds (trial_id, {columns}, created_at) VALUES (?, {marks}, ?)",
                    (trial_id, *(values.get(c) for c in ROUND_COLUMNS), time.time()),
                )
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"round {record.get('round')} of trial {trial_id} is already stored "
                f"(or the trial does not exist): {exc}"
            ) from exc

    def rounds(self, trial_id: int) -> list[dict[str, Any]]:
        """The stored rounds of a trial, in round order."""
        rows = self.conn.execute(
            "SELECT * FROM rounds WHERE trial_id = ? ORDER BY round", (trial_id,)
        ).fetchall()
        return [_row(r) for r in rows]  # type: ignore[misc]

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
                   r.score_seconds, r.epochs, r.queried_accuracy, r.agreement,
                   r.queried, r.queried_scores
            FROM rounds r JOIN trials t ON t.id = r.trial_id
            WHERE t.experiment_id IN ({marks})
            ORDER BY t.experiment_id, t.strategy, t.fraction, t.seed, r.round
            """,
            ids,
        ).fetchall()
        return [dict(r) for r in rows]

    # -- labeling sessions -----------------------------------------------------
    def create_session(self, name: str, config: dict[str, Any]) -> int:
        """A new labeling session; returns its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (name, config, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(config, sort_keys=True), time.time()),
            )
        return int(cursor.lastrowid)

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
        seconds: float | None = None,
        relabel: bool = False,
    ) -> bool:
        """Store a label the moment it is given. Returns ``False`` if the item already
        had one and ``relabel`` is not set (a second tab's duplicate is not stored)."""
        if source not in LABEL_SOURCES:
            raise StoreError(f"unknown label source {source!r}; one of {', '.join(LABEL_SOURCES)}")
        conflict = (
            "DO UPDATE SET label = excluded.label, source = excluded.source, "
            "seconds = excluded.seconds, created_at = excluded.created_at"
            if relabel
            else "DO NOTHING"
        )
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO labels (session_id, item, label, source, seconds, created_at) "
                f"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, item) {conflict}",
                (session_id, item, int(label), source, seconds, time.time()),
            )
        return cursor.rowcount > 0

    def remove_label(self, session_id: int, item: str) -> None:
        """Undo: forget the label of ``item``."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM labels WHERE session_id = ? AND item = ?", (session_id, item))

    def labels(self, session_id: int) -> list[dict[str, Any]]:
        """Labels of a session in the order they were given."""
        rows = self.conn.execute(
            "SELECT item, label, source, seconds, created_at FROM labels "
            "WHERE session_id = ? ORDER BY created_at, id",
            (session_id,),
        ).fetchall()
        return [dict(r) for r in rows]


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no ``;`` inside our literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
