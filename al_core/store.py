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
  its source (oracle / human / pseudo), time and the seconds it took (label
  ``-1`` is "not sure"); a session's background jobs (retrain, audit) and the
  pid of its worker live on its row;
- ``session_batches``: each queried batch (items, uncertainty scores, the
  model's top-3 classes) and the auto-label proposals made with it;
- ``session_rounds``: a session's learning curve; ``session_skips``: items
  skipped within a batch.

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
# Background jobs of a labeling session, each with a status column pair
# ``<job>_status`` / ``<job>_error`` on ``sessions``.
SESSION_JOBS = ("train", "audit")
JOB_STATUSES = ("idle", "queued", "running", "failed")

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
    # 3: labeling sessions: background jobs (retrain, audit), queried batches with
    # the model's reasons, the session's learning curve, skipped items.
    """
    ALTER TABLE sessions ADD COLUMN train_status TEXT NOT NULL DEFAULT 'idle';
    ALTER TABLE sessions ADD COLUMN train_error TEXT;
    ALTER TABLE sessions ADD COLUMN audit_status TEXT NOT NULL DEFAULT 'idle';
    ALTER TABLE sessions ADD COLUMN audit_error TEXT;
    ALTER TABLE sessions ADD COLUMN audit_experiment_id INTEGER;
    ALTER TABLE sessions ADD COLUMN worker_pid INTEGER;
    ALTER TABLE sessions ADD COLUMN use_pseudo INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE session_batches (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        round INTEGER NOT NULL,
        kind TEXT NOT NULL,
        items TEXT NOT NULL,
        scores TEXT NOT NULL,
        top3 TEXT NOT NULL,
        proposals TEXT NOT NULL DEFAULT '[]',
        proposals_reviewed_at REAL,
        created_at REAL NOT NULL,
        UNIQUE (session_id, round)
    );
    CREATE TABLE session_rounds (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        round INTEGER NOT NULL,
        labeled INTEGER NOT NULL,
        pseudo_labeled INTEGER NOT NULL,
        held_out INTEGER NOT NULL,
        test_accuracy REAL,
        test_loss REAL,
        train_seconds REAL,
        score_seconds REAL,
        epochs INTEGER,
        created_at REAL NOT NULL,
        UNIQUE (session_id, round)
    );
    CREATE TABLE session_skips (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        round INTEGER NOT NULL,
        item TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (session_id, round, item)
    );
    """,
    # 4: the gradient steps each fit actually ran (training is sized in steps, not
    # epochs), the machine + library versions behind each trial and session, and
    # how many of a round's queried images are near-copies (batch redundancy).
    """
    ALTER TABLE rounds ADD COLUMN steps INTEGER;
    ALTER TABLE session_rounds ADD COLUMN steps INTEGER;
    ALTER TABLE trials ADD COLUMN environment TEXT;
    ALTER TABLE sessions ADD COLUMN environment TEXT;
    ALTER TABLE rounds ADD COLUMN redundant INTEGER;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
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
    "redundant",
    "steps",
)


def default_db_path() -> Path:
    """``$AL_DATA_DIR/al.sqlite3`` when set, else ``data/al.sqlite3`` in the repository."""
    data_dir = os.environ.get("AL_DATA_DIR")
    return (Path(data_dir) if data_dir else REPO_ROOT / "data") / DB_FILENAME


def _read_only_here(path: Path) -> bool:
    """Whether an existing database file cannot be written by this process: the file,
    or its folder (SQLite writes its journal there), is not writable."""
    if not path.is_file():
        return False
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK))


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
    for key in ("config", "environment"):
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
        self.read_only = _read_only_here(self.path)
        if self.read_only:
            self.conn = self._connect_read_only()
            return
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

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open an existing database that this process may not write (a read-only file
        or folder): reading works, every write fails with a :class:`StoreError`.

        SQLite's read-only mode (``mode=ro``) still needs the WAL's ``-shm`` file; in a
        folder where it cannot be created, the file is opened ``immutable=1`` (no
        locking: in a folder nobody here may write to, no writer of ours can be active).
        """
        last: sqlite3.Error | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            uri = f"{self.path.resolve().as_uri()}?{flags}"
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
                conn.row_factory = sqlite3.Row
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                last = exc
                continue
            if version != SCHEMA_VERSION:
                conn.close()
                raise StoreError(
                    f"{self.path} has schema version {version}, this program reads "
                    f"{SCHEMA_VERSION}, and it cannot upgrade it: the database (or its folder) "
                    "is read-only. Open it once with write access, or copy it to a writable "
                    "folder and pass --db."
                )
            return conn
        assert last is not None
        raise self._explain(last) from last

    def _explain(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            return StoreError(
                f"{self.path} is read-only here (the file or its folder cannot be written "
                "by this user): reading works, this command needs to write. Nothing was "
                "changed; give write access, or copy the database and pass --db."
            )
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
        if self.read_only:  # refuse before anything starts, with the reason
            raise self._explain(sqlite3.OperationalError("attempt to write a readonly database"))
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
                   r.score_seconds, r.epochs, r.steps, r.queried_accuracy, r.agreement,
                   r.redundant, r.queried, r.queried_scores
            FROM rounds r JOIN trials t ON t.id = r.trial_id
            WHERE t.experiment_id IN ({marks})
            ORDER BY t.experiment_id, t.strategy, t.fraction, t.seed, r.round
            """,
            ids,
        ).fetchall()
        return [dict(r) for r in rows]

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
        deleted (a trial's rounds always come from one execution), and its
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
            conn.execute("DELETE FROM rounds WHERE trial_id = ?", (trial_id,))
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
            "SELECT id, item, label, source, seconds, created_at FROM labels "
            "WHERE session_id = ? ORDER BY created_at, id",
            (session_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def session(self, session_id: int) -> dict[str, Any]:
        """One labeling session (config parsed); :class:`StoreError` when unknown."""
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise StoreError(
                f"no labeling session with id {session_id}; pick one from the session list"
            )
        return _row(row)  # type: ignore[return-value]

    def label_of(self, session_id: int, item: str) -> dict[str, Any] | None:
        """The stored label row of one item, or None."""
        row = self.conn.execute(
            "SELECT id, item, label, source, seconds, created_at FROM labels "
            "WHERE session_id = ? AND item = ?",
            (session_id, item),
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
    ) -> bool:
        """Store the batch queried for round ``round_index``; False if it already exists."""
        with self.transaction() as conn:
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

    def session_batches(self, session_id: int) -> list[dict[str, Any]]:
        """Every queried batch of a session, in round order, JSON columns parsed."""
        rows = self.conn.execute(
            "SELECT * FROM session_batches WHERE session_id = ? ORDER BY round", (session_id,)
        ).fetchall()
        return [_batch_row(r) for r in rows]

    def latest_session_batch(self, session_id: int) -> dict[str, Any] | None:
        """The batch being labeled now (highest round), or None before the first one."""
        row = self.conn.execute(
            "SELECT * FROM session_batches WHERE session_id = ? ORDER BY round DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return None if row is None else _batch_row(row)

    def add_session_round(self, session_id: int, record: dict[str, Any]) -> bool:
        """One learning-curve point of a session; False if that round is already stored."""
        columns = SESSION_ROUND_COLUMNS
        with self.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO session_rounds (session_id, {', '.join(columns)}, created_at) "
                f"VALUES (?, {', '.join('?' for _ in columns)}, ?) "
                "ON CONFLICT (session_id, round) DO NOTHING",
                (session_id, *(record.get(c) for c in columns), time.time()),
            )
        return cursor.rowcount == 1

    def session_rounds(self, session_id: int) -> list[dict[str, Any]]:
        """A session's learning curve, in round order."""
        rows = self.conn.execute(
            "SELECT * FROM session_rounds WHERE session_id = ? ORDER BY round", (session_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def add_skip(self, session_id: int, round_index: int, item: str) -> bool:
        """Skip ``item`` in the batch of ``round_index``; False if already skipped."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO session_skips (session_id, round, item, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session_id, round_index, item, time.time()),
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
            "SELECT item, created_at FROM session_skips WHERE session_id = ? AND round = ? "
            "ORDER BY created_at",
            (session_id, round_index),
        ).fetchall()
        return [dict(r) for r in rows]


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
)


def _batch_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("items", "scores", "top3", "proposals"):
        data[key] = json.loads(data[key])
    return data


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


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no ``;`` inside our literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
