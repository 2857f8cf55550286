"""Labeling sessions: their settings (:class:`SessionConfig`), creation over a
built-in set, a zip upload or a server folder, and their files."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from al_core import strategies, uploads
from al_core.datasets import BUILTIN_DATASETS, builtin_class_names
from al_core.errors import ConfigError
from al_core.loop import TrialConfig, needs_mc_dropout
from al_core.models import BAYESIAN_MODEL, check_model_name
from al_core.store import Store

NOT_SURE = -1
"""The label stored for "not sure": the item is set aside, never used for training."""
HELD_OUT_EVERY = 5
"""User data: every 5th human label (20 %) is held out to measure accuracy."""
DEFAULT_IMAGE_SIZE = (32, 32)
"""(height, width) user images are converted to unless the session says otherwise."""
#: A session's model when its strategy needs no Monte-Carlo dropout: it retrains in
#: seconds on CPU.
DEFAULT_SESSION_MODEL = "mlp"
DEFAULT_OVERLAP = 0.1
"""Share of the images shown to a second annotator, unless the session says otherwise."""
SOURCES: tuple[str, ...] = ("builtin", "upload", "folder")
COLD_STARTS: tuple[str, ...] = ("random", "clusters")

# A session's files, in session_dir(): the user pool's pixels and file names, the
# hidden truth of a built-in pool, uploaded originals, PNGs of shown built-in items.
_POOL_FILE, _TRUTH_FILE, _FILES_DIR, _ITEMS_DIR = "pool.npz", "truth.npy", "files", "items"


# --------------------------------------------------------------------------- config


def check_overlap(value: object) -> float:
    """The overlap share (images shown to two annotators, :mod:`al_core.labeling.team`)
    as a float in [0, 1); :class:`ConfigError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"the overlap is a number in [0, 1), got {value!r}")
    share = float(value)
    if not math.isfinite(share) or not 0.0 <= share < 1.0:
        raise ConfigError(
            f"the overlap is the share of images shown to two annotators: at least 0 and "
            f"below 1 (0 % to 99 %), got {value!r}"
        )
    return share


@dataclass(frozen=True)
class SessionConfig:
    """Everything that defines a labeling session; stored as JSON with it.

    ``source`` is ``builtin`` (``dataset``, ``pool_size``, ``test_size``,
    ``data_seed`` say which images), ``upload`` or ``folder`` (``folder``: the
    absolute path the images were read from; ``image_size``: their converted
    (height, width)). ``candidates``: each query scores a random subset of this
    many unlabeled images (None: all of them), which keeps retraining within
    seconds on a 60k pool. ``overlap``: the share of images shown to a second
    annotator (in [0, 1); see :mod:`al_core.labeling.team`). ``pipeline``: request
    the next batch before this one is finished (:mod:`al_core.labeling.pipeline`).
    """

    source: str
    class_names: tuple[str, ...]
    dataset: str | None = None
    pool_size: int | None = None
    test_size: int | None = None
    data_seed: int = 0
    folder: str | None = None
    image_size: tuple[int, int] | None = None
    # None: the Bayesian CNN for a Monte-Carlo dropout strategy (bald, batchbald, …),
    # else DEFAULT_SESSION_MODEL, which retrains in seconds on CPU.
    model: str | None = None
    strategy: str = "least_confidence"
    batch: int = 10
    cold_start: str = "clusters"
    candidates: int | None = 10_000
    # Training, as in the simulation loop (TrialConfig): None takes the model's
    # default, filled in on construction so that the stored config says what ran.
    epochs: int | None = None
    min_steps: int | None = None
    learning_rate: float | None = None
    # None: the loop's rule (MC_DROPOUT_DEFAULT for a Monte-Carlo dropout strategy such
    # as bald or batchbald, else 0), filled in on construction like the fields above.
    dropout: float | None = None
    auto_label_k: int = 10
    seed: int = 0
    overlap: float = DEFAULT_OVERLAP
    # Prepare the next batch while this one is labeled (al_core.labeling.pipeline).
    pipeline: bool = True

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"unknown pool source {self.source!r}; one of {', '.join(SOURCES)}")
        names = tuple(str(n).strip() for n in self.class_names)
        if len(names) < 2 or any(not n for n in names) or len(set(names)) != len(names):
            raise ConfigError(
                f"a session needs at least 2 distinct, non-empty class names, got {list(names)}; "
                "type them separated by commas"
            )
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "overlap", check_overlap(self.overlap))
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        if self.source == "builtin" and self.dataset not in BUILTIN_DATASETS:
            raise ConfigError(
                f"unknown built-in data set {self.dataset!r}; one of {', '.join(BUILTIN_DATASETS)}"
            )
        if self.cold_start not in COLD_STARTS:
            raise ConfigError(
                f"unknown cold start {self.cold_start!r}; one of {', '.join(COLD_STARTS)}"
            )
        if self.source != "builtin" and self.batch < HELD_OUT_EVERY:
            raise ConfigError(
                f"batch size must be >= {HELD_OUT_EVERY} on your own images (every "
                f"{HELD_OUT_EVERY}th label is held out to measure accuracy), got {self.batch}"
            )
        if self.model is None:
            bayesian = needs_mc_dropout([self.strategy])
            object.__setattr__(self, "model", BAYESIAN_MODEL if bayesian else DEFAULT_SESSION_MODEL)
        check_model_name(self.model)
        trial = self.trial_config()
        for name in ("strategy", "epochs", "min_steps", "learning_rate", "dropout"):
            object.__setattr__(self, name, getattr(trial, name))

    def trial_config(self, initial: Sequence[int] | None = None, **changes: Any) -> TrialConfig:
        """The loop's config for this session (validates model, strategy, sizes).

        ``initial``: the first batch's pool indices, so that a simulation starts
        from the same images as the person did.
        """
        return TrialConfig(
            dataset=self.dataset if self.source == "builtin" else f"{self.source} images",
            pool_size=self.pool_size,
            test_size=self.test_size,
            data_seed=self.data_seed,
            model=self.model,
            strategy=self.strategy,
            fraction=1.0,
            initial=len(initial) if initial else self.batch,
            initial_mode="given" if initial else "random",
            initial_indices=tuple(initial) if initial else None,
            batch=self.batch,
            epochs=self.epochs,
            min_steps=self.min_steps,
            learning_rate=self.learning_rate,
            dropout=self.dropout,
            candidates=self.candidates,
            seed=self.seed,
            **changes,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["class_names"] = list(self.class_names)
        data["image_size"] = None if self.image_size is None else list(self.image_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown session setting(s): {', '.join(unknown)}")
        return cls(**{**data, "class_names": tuple(data["class_names"])})


@dataclass(frozen=True)
class CreatedSession:
    session_id: int
    report: uploads.ImportReport | None = None


# --------------------------------------------------------------------------- files


def session_dir(store: Store, session_id: int) -> Path:
    """Folder of a session's files: next to the database, ``sessions/<id>``."""
    return store.path.parent / "sessions" / str(int(session_id))


# --------------------------------------------------------------------------- sessions


def create_session(
    store: Store,
    name: str,
    *,
    dataset: str | None = None,
    upload: bytes | None = None,
    folder: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] | None = None,
    image_size: tuple[int, int] | None = DEFAULT_IMAGE_SIZE,
    root: Path | None = None,
    max_upload_bytes: int | None = None,
    **settings: Any,
) -> CreatedSession:
    """Create a session over one pool: a built-in ``dataset``, an ``upload`` (zip
    bytes) or a server ``folder`` inside the data ``root``. ``settings`` are the
    other :class:`SessionConfig` fields (model, strategy, batch, cold_start, …).

    Everything is checked and the images converted before the session is stored,
    so a refused input leaves the store as it was. The first batch is queried in
    the background: call :func:`request_retrain` next.
    """
    if sum(x is not None for x in (dataset, upload, folder)) != 1:
        raise ConfigError("give exactly one pool: a built-in data set, a zip upload or a folder")
    name = (name or "").strip() or "labeling session"
    if dataset is not None:
        key = dataset.strip().lower().replace("-", "_")
        names = class_names or builtin_class_names(key)
        config = SessionConfig(source="builtin", dataset=key, class_names=tuple(names), **settings)
        return CreatedSession(store.create_session(name, config.to_dict()))
    sessions = store.path.parent / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="new-", dir=sessions))
    try:
        if upload is not None:
            files_dir = work / _FILES_DIR
            files, pre_skipped = uploads.unpack_zip(upload, files_dir, max_bytes=max_upload_bytes)
            base, folder_text = files_dir, None
        else:
            data_root_dir = (root or uploads.data_root()).resolve()
            base = uploads.resolve_data_folder(folder, data_root_dir)  # type: ignore[arg-type]
            files, pre_skipped = uploads.folder_files(base, data_root_dir)
            folder_text = str(base)
        imported = uploads.read_images(files, base, class_names, image_size, pre_skipped)
        np.savez(work / _POOL_FILE, x=imported.x, names=np.asarray(imported.names, dtype=str))
        config = SessionConfig(
            source="upload" if upload is not None else "folder",
            class_names=imported.class_names,
            folder=folder_text,
            image_size=imported.report.image_size,
            **settings,
        )
        session_id = store.create_session(name, config.to_dict())
        work.rename(session_dir(store, session_id))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return CreatedSession(session_id, imported.report)


def session_config(store: Store, session_id: int) -> SessionConfig:
    return SessionConfig.from_dict(store.session(session_id)["config"])


def list_sessions(store: Store) -> list[dict[str, Any]]:
    """Sessions, newest first: id, name, source, created_at, labels (human), status."""
    rows = []
    for row in store.sessions():
        config = row["config"]
        labels = store.labels(row["id"])
        labeled = {r["item"] for r in labels if r["source"] == "human" and r["label"] >= 0}
        rows.append(
            {
                "id": row["id"],
                "name": row["name"],
                "pool": config.get("dataset") or config.get("source"),
                "created_at": row["created_at"],
                "human_labels": len(labeled),
                "retrain": row["train_status"],
            }
        )
    return rows


# --------------------------------------------------------------------------- options


def strategy_choices() -> list[str]:
    """Strategies a session offers: least confidence first, then every strategy of
    :mod:`al_core.strategies`. A Monte-Carlo dropout one (bald, batchbald, …; see
    :func:`al_core.loop.needs_mc_dropout`) trains the session's model with dropout
    and scores the candidates with ``mc_samples`` dropout passes at each retrain."""
    return sorted(strategies.STRATEGIES, key=lambda s: s != "least_confidence")


def evaluation_note(config: SessionConfig) -> str:
    """Where and how the session's accuracy is measured, for the page."""
    trial = config.trial_config()
    how = (
        f" The model's prediction is the mean of {trial.mc_samples} Monte-Carlo dropout "
        "passes, as the BatchBALD paper measures accuracy."
        if trial.test_measure == "mc_mean"
        else ""
    )
    if config.source == "builtin":
        return (
            f"Accuracy is measured on the {config.dataset} test split"
            + (f" ({config.test_size} images)" if config.test_size else "")
            + "; the pool's true labels are hidden from you and used only by the audit."
            + how
        )
    return (
        f"Accuracy is measured on a held-out share of your own labels: every "
        f"{HELD_OUT_EVERY}th label you give ({100 // HELD_OUT_EVERY} %) is used only to "
        "evaluate the model, never to train it." + how
    )
