"""The SQLite store: the schema and every SQL statement of the project.

One file (``data/al.sqlite3`` by default; ``AL_DATA_DIR`` or ``--db`` says
otherwise) in WAL mode, so the app can read while a runner writes. The schema
is versioned with ``PRAGMA user_version`` and migrated forward on open.

Tables:

- ``experiments``: a grid (or a single run) with its config JSON and status;
- ``trials``: one learning curve each (strategy, fraction, seed) and the full
  trial config JSON that reproduces it, with status and error;
- ``rounds``: measured points of a trial, unique per (trial, round);
- ``sessions`` and ``labels``: labeling sessions and every answer given, one per
  (session, item, annotator), with its source (oracle / human / pseudo), time and
  the seconds it took (label ``-1`` is "not sure"); a session's background jobs
  (retrain, audit) and the pid of its worker live on its row;
- ``label_claims``: the image each annotator of a session holds now (one each);
  ``label_reviews``: the label a person settled for an image two annotators
  disagree on;
- ``session_batches``: each queried batch (items, uncertainty scores, the
  model's top-3 classes) and the auto-label proposals made with it;
- ``session_rounds``: a session's learning curve; ``session_skips``: items
  skipped within a batch.

Synthetic ("expected") curves are never stored here: only measured rounds.

The package, a module per concern, all SQL inside it:

- :mod:`~al_core.store.schema`: the schema and its migrations, opening the
  file (read-only when it cannot be written), errors explained, transactions;
- :mod:`~al_core.store.experiments`: experiments, trials and their rounds;
- :mod:`~al_core.store.runners`: runner heartbeats, claiming and requeueing
  trials, :func:`claim_stop_reason`;
- :mod:`~al_core.store.sessions`: labeling sessions, labels, jobs, workers,
  batches, session rounds and skips;
- :mod:`~al_core.store.annotations`: claims and reviews of labeling as a team.

:class:`Store` is all of them together; import everything from ``al_core.store``.
"""

from __future__ import annotations

from al_core.errors import StoreError
from al_core.store.annotations import AnnotationsMixin
from al_core.store.experiments import (
    EXPERIMENT_STATUSES,
    ROUND_COLUMNS,
    RUNNER_KIND,
    TRIAL_STATUSES,
    ExperimentsMixin,
    TrialSpec,
)
from al_core.store.runners import RunnersMixin, claim_stop_reason
from al_core.store.schema import (
    DB_FILENAME,
    MIGRATIONS,
    REPO_ROOT,
    SCHEMA_VERSION,
    StoreBase,
    default_db_path,
)
from al_core.store.sessions import (
    DEFAULT_ANNOTATOR,
    JOB_STATUSES,
    LABEL_SOURCES,
    SESSION_JOBS,
    SESSION_ROUND_COLUMNS,
    SessionsMixin,
)

__all__ = [
    "DB_FILENAME",
    "DEFAULT_ANNOTATOR",
    "EXPERIMENT_STATUSES",
    "JOB_STATUSES",
    "LABEL_SOURCES",
    "MIGRATIONS",
    "REPO_ROOT",
    "ROUND_COLUMNS",
    "RUNNER_KIND",
    "SCHEMA_VERSION",
    "SESSION_JOBS",
    "SESSION_ROUND_COLUMNS",
    "TRIAL_STATUSES",
    "Store",
    "StoreBase",
    "StoreError",
    "TrialSpec",
    "claim_stop_reason",
    "default_db_path",
]


class Store(ExperimentsMixin, RunnersMixin, SessionsMixin, AnnotationsMixin):
    """A connection to the SQLite store. Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : the database file; created (with its folder) when missing.
    timeout : seconds to wait for another process's write lock before giving up
        with a :class:`StoreError`.
    """
