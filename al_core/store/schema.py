"""The store's schema and connection, what every part of :class:`~al_core.store.Store` stands on.

- :data:`MIGRATIONS` (the schema, one script per version; ``PRAGMA user_version``
  says which are applied) and :data:`SCHEMA_VERSION`;
- :func:`default_db_path` (``$AL_DATA_DIR/al.sqlite3``, else ``data/al.sqlite3``);
- :class:`StoreBase`: opening the file (WAL mode, foreign keys; read-only when this
  process cannot write it), migrating it forward, turning SQLite errors into a
  :class:`~al_core.errors.StoreError` that says what to do, write transactions,
  ``close`` and the context manager;
- the row helpers the other modules share (:func:`_row`, :func:`_split_sql`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from al_core.errors import StoreError

#: The repository root (``al_core/store/schema.py`` is three levels below it).
REPO_ROOT = Path(__file__).resolve().parents[2]
DB_FILENAME = "al.sqlite3"

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
    # 5: labeling as a team. An answer belongs to (session, item, annotator): the
    # labels table is rebuilt with an ``annotator`` column (existing answers get
    # 'anonymous', the default annotator; ids and everything else are kept), skips
    # say who skipped, claims hand each annotator images nobody else holds, and
    # reviews settle the items two annotators disagree on.
    """
    CREATE TABLE labels_v5 (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        item TEXT NOT NULL,
        annotator TEXT NOT NULL DEFAULT 'anonymous',
        label INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('oracle', 'human', 'pseudo')),
        seconds REAL,
        created_at REAL NOT NULL,
        UNIQUE (session_id, item, annotator)
    );
    INSERT INTO labels_v5 (id, session_id, item, annotator, label, source, seconds, created_at)
        SELECT id, session_id, item, 'anonymous', label, source, seconds, created_at FROM labels;
    DROP TABLE labels;
    ALTER TABLE labels_v5 RENAME TO labels;
    CREATE INDEX labels_by_item ON labels(session_id, item);
    ALTER TABLE session_skips ADD COLUMN annotator TEXT NOT NULL DEFAULT 'anonymous';
    CREATE TABLE label_claims (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        item TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        PRIMARY KEY (session_id, annotator)
    );
    CREATE TABLE label_reviews (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        item TEXT NOT NULL,
        label INTEGER NOT NULL,
        annotator TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (session_id, item)
    );
    """,
    # 6: which strategy picked a round's batch (strategy "auto" hands over from
    # typiclust to its base score: the switch point is stored with the curve).
    """
    ALTER TABLE rounds ADD COLUMN picked_by TEXT;
    """,
    # 7: when can I stop? Cohen's kappa between consecutive models on the never-queried
    # stop set (rounds and session rounds), the session's stop-set predictions that the
    # next retrain compares with, and how many images each session point was measured
    # on (its 95 % interval).
    """
    ALTER TABLE rounds ADD COLUMN kappa REAL;
    ALTER TABLE session_rounds ADD COLUMN kappa REAL;
    ALTER TABLE session_rounds ADD COLUMN stop_predictions TEXT;
    ALTER TABLE session_rounds ADD COLUMN evaluated INTEGER;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


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


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no ``;`` inside our literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


class StoreBase:
    """The connection behind :class:`~al_core.store.Store`: opening, migrating,
    explaining errors, write transactions, closing. The other parts of the store
    (experiments, runners, labeling sessions) are mixins over this class."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        self.path = Path(path) if path is not None else default_db_path()
        self.timeout = timeout
        #: Reads kept while the database is unchanged (:meth:`_kept_read`).
        self._kept: dict[Any, tuple[tuple[int, int], Any]] = {}
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

    def _stamp(self) -> tuple[int, int]:
        """Changes whenever the database may have changed since the last stamp: SQLite's
        ``data_version`` moves when another connection (any process) commits, and
        ``total_changes`` when this one writes (even in a transaction later undone)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes

    def _kept_read(self, key: Any, read: Callable[[], Any]) -> Any:
        """``read()``, or what it returned last time for ``key`` on this connection when
        nothing was written to the database since, by anyone; a read inside a write
        transaction is not kept (its writes may yet be undone). A labeling page reads a
        session's answers about ten times per key press; this reads them once."""
        stamp = self._stamp()
        kept = self._kept.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        value = read()
        if not self.conn.in_transaction:  # (a rollback would leave the stamp as it is)
            self._kept[key] = (stamp, value)
        return value

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
