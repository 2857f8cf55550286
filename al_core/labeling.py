"""Hand labeling: a person is the oracle of the active-learning loop.

A *labeling session* has a pool of images, class names, a model, a strategy, a
batch size and a held-out evaluation set. Its state lives in the store (see
:mod:`al_core.store`: ``sessions``, ``labels``, ``session_batches``,
``session_rounds``, ``session_skips``) and its files in
``<folder of the database>/sessions/<id>/``, so a server restart loses nothing
that was acknowledged.

The round is the one of :mod:`al_core.loop`, driven one step at a time:

1. the session's worker queries a batch (the first one by *cold start*:
   random, or cluster-diverse: k-means on the pool's pixels and the images
   nearest the centroids, :func:`al_core.strategies.kmeans_sample`);
2. the person labels it; each answer is written the moment it is given
   (:func:`answer`, :func:`skip`, :func:`undo`);
3. when the batch is done the page calls :func:`request_retrain`: a background
   *process* (``python -m al_core label-worker SESSION --db PATH``; TensorFlow is
   not fork-safe, so it is started fresh, never forked from the app) loads the
   labels, runs :meth:`~al_core.loop.ActiveLearner.train_and_evaluate` and
   :meth:`~al_core.loop.ActiveLearner.query` and writes the learning-curve point
   and the next batch (items, uncertainty scores, the model's top-3 classes).
   One worker per session; it stays alive for a while after a job so that the
   next retrain does not pay for starting TensorFlow again, and it never blocks
   another session or the experiment runner.

Pools
-----
- A built-in data set (``digits``, ``mnist``, ``fashion_mnist``, ``cifar10``):
  the pool is its training split; its labels are hidden from the labeler and
  kept (``truth.npy``) for the audit; the learning curve is measured on its
  test split (``test_size`` images, a stratified subset).
- The user's images, from a zip upload or a folder on the server inside the
  allowed data root (``$AL_DATA_DIR``, default ``data/``). They are unlabeled;
  class names are typed in, or taken from the subfolders when there are at
  least two. Images are converted by the image-folder policy of
  :mod:`al_core.datasets` (:func:`~al_core.datasets.load_images`: EXIF
  orientation applied, grayscale kept as 1 channel only when every image is
  grayscale, else RGB, transparency flattened onto white) and resized to
  ``image_size`` (default 32x32, aspect ratio not kept). The learning curve is
  measured on a held-out share of the user's own labels: every
  :data:`HELD_OUT_EVERY`-th human label, in the order given, is used for
  evaluation and never for training.

Uploads and folders are checked and read by :mod:`al_core.uploads` (bad zips
refused, unreadable files and duplicates skipped and listed); nothing is stored
until they pass.

Labels: a class index ``0..K-1``, or :data:`NOT_SURE` (``-1``: never asked
again, not used for training). Skipped items stay in the pool and may be
queried again. Two tabs on one session cannot store two labels for one item:
the second answer is refused unless it is an explicit relabel.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core import environment, strategies, uploads
from al_core.datasets import BUILTIN_DATASETS, Dataset, builtin_class_names
from al_core.errors import ConfigError, DatasetError
from al_core.loop import ActiveLearner, TrialConfig
from al_core.models import check_model_name
from al_core.store import Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from PIL.Image import Image as PILImage

    from al_core.models import Classifier

log = logging.getLogger(__name__)

NOT_SURE = -1
"""The label stored for "not sure": the item is set aside, never used for training."""
HELD_OUT_EVERY = 5
"""User data: every 5th human label (20 %) is held out to measure accuracy."""
DEFAULT_IMAGE_SIZE = (32, 32)
"""(height, width) user images are converted to unless the session says otherwise."""
SOURCES: tuple[str, ...] = ("builtin", "upload", "folder")
COLD_STARTS: tuple[str, ...] = ("random", "clusters")
DISPLAY_SIDE = 256
"""Small images are shown at least this many pixels wide (nearest-neighbour upscaling)."""
WORKER_IDLE_SECONDS = 300.0
"""A worker leaves after this long without a job (``AL_LABEL_WORKER_IDLE_SECONDS``)."""

_POOL_FILE, _TRUTH_FILE, _FILES_DIR, _ITEMS_DIR = "pool.npz", "truth.npy", "files", "items"
_STREAM_COLD = 7  # random stream of cold-start draws (apart from the loop's streams)
# Workers started by this process, by (database, session): polled so that none
# stays a zombie, and so that a worker still starting is not started twice.
_workers: dict[tuple[str, int], subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SessionConfig:
    """Everything that defines a labeling session; stored as JSON with it.

    ``source`` is ``builtin`` (``dataset``, ``pool_size``, ``test_size``,
    ``data_seed`` say which images), ``upload`` or ``folder`` (``folder``: the
    absolute path the images were read from; ``image_size``: their converted
    (height, width)). ``candidates``: each query scores a random subset of this
    many unlabeled images (None: all of them), which keeps retraining within
    seconds on a 60k pool.
    """

    source: str
    class_names: tuple[str, ...]
    dataset: str | None = None
    pool_size: int | None = None
    test_size: int | None = None
    data_seed: int = 0
    folder: str | None = None
    image_size: tuple[int, int] | None = None
    model: str = "mlp"
    strategy: str = "least_confidence"
    batch: int = 10
    cold_start: str = "clusters"
    candidates: int | None = 10_000
    # Training, as in the simulation loop (TrialConfig): None takes the model's
    # default, filled in on construction so that the stored config says what ran.
    epochs: int | None = None
    min_steps: int | None = None
    learning_rate: float | None = None
    dropout: float = 0.0
    auto_label_k: int = 10
    seed: int = 0

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
        check_model_name(self.model)
        trial = self.trial_config()
        for name in ("strategy", "epochs", "min_steps", "learning_rate"):
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
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
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
        rows.append(
            {
                "id": row["id"],
                "name": row["name"],
                "pool": config.get("dataset") or config.get("source"),
                "created_at": row["created_at"],
                "human_labels": sum(
                    1 for r in labels if r["source"] == "human" and r["label"] >= 0
                ),
                "retrain": row["train_status"],
            }
        )
    return rows


# --------------------------------------------------------------------------- batch state


@dataclass(frozen=True)
class BatchItem:
    """One queried item and why it was picked."""

    item: str  # pool index, as stored
    score: float | None  # uncertainty score (None for a cold-start pick)
    top3: tuple[tuple[int, float], ...]  # (class index, probability), best first
    label: int | None = None  # the answer given, NOT_SURE, or None
    skipped: bool = False

    @property
    def answered(self) -> bool:
        return self.label is not None or self.skipped


@dataclass(frozen=True)
class BatchView:
    """The batch being labeled now."""

    round: int
    kind: str
    items: tuple[BatchItem, ...]

    @property
    def done(self) -> int:
        return sum(item.answered for item in self.items)

    @property
    def current(self) -> BatchItem | None:
        """The first item without an answer, or None when the batch is finished."""
        return next((item for item in self.items if not item.answered), None)

    @property
    def finished(self) -> bool:
        return self.current is None


def current_batch(store: Store, session_id: int) -> BatchView | None:
    """The latest queried batch with each item's answer, or None before the first."""
    batch = store.latest_session_batch(session_id)
    if batch is None:
        return None
    labels = {r["item"]: r["label"] for r in store.labels(session_id)}
    skipped = {r["item"] for r in store.skips(session_id, batch["round"])}
    items = tuple(
        BatchItem(
            item=item,
            score=score,
            top3=tuple((int(k), float(p)) for k, p in top3 or ()),
            label=labels.get(item),
            skipped=item in skipped and item not in labels,
        )
        for item, score, top3 in zip(batch["items"], batch["scores"], batch["top3"], strict=True)
    )
    return BatchView(round=batch["round"], kind=batch["kind"], items=items)


@dataclass(frozen=True)
class AnswerResult:
    stored: bool  # False: another tab already labeled the item (not overwritten)
    existing: int | None  # the label already stored when not stored
    batch_finished: bool


def _check_item(store: Store, session_id: int, item: str) -> int:
    batch = store.latest_session_batch(session_id)
    if batch is None or item not in batch["items"]:
        raise ConfigError(
            f"item {item} is not in the current batch of session {session_id}; reload the page"
        )
    return int(batch["round"])


def answer(
    store: Store,
    session_id: int,
    item: str,
    label: int,
    *,
    seconds: float | None = None,
    relabel: bool = False,
) -> AnswerResult:
    """Store a human label (``0..K-1``, or :data:`NOT_SURE`) for a batch item, now.

    A label already stored (e.g. from another tab) is kept unless ``relabel``.
    """
    config = session_config(store, session_id)
    if not NOT_SURE <= int(label) < len(config.class_names):
        raise ConfigError(
            f"label {label} is out of range: 0..{len(config.class_names) - 1} or -1 (not sure)"
        )
    round_index = _check_item(store, session_id, item)
    stored = store.add_label(
        session_id, item, int(label), "human", seconds=seconds, relabel=relabel
    )
    existing = None
    if stored:
        store.remove_skip(session_id, round_index, item)
    else:
        existing = store.label_of(session_id, item)["label"]  # type: ignore[index]
    batch = current_batch(store, session_id)
    return AnswerResult(stored, existing, batch is not None and batch.finished)


def skip(store: Store, session_id: int, item: str) -> bool:
    """Skip a batch item (it stays in the pool); True when the batch is now finished."""
    round_index = _check_item(store, session_id, item)
    if store.label_of(session_id, item) is None:
        store.add_skip(session_id, round_index, item)
    batch = current_batch(store, session_id)
    return batch is not None and batch.finished


def undo(store: Store, session_id: int) -> str | None:
    """Take back the latest answer (label, not sure or skip) in the current batch.

    Returns the item whose answer was removed, or None when there is none.
    """
    batch = store.latest_session_batch(session_id)
    if batch is None:
        return None
    in_batch = set(batch["items"])
    actions = [
        (r["created_at"], "label", r["item"])
        for r in store.labels(session_id)
        if r["item"] in in_batch and r["source"] == "human"
    ]
    actions += [
        (r["created_at"], "skip", r["item"]) for r in store.skips(session_id, batch["round"])
    ]
    if not actions:
        return None
    _, kind, item = max(actions)
    if kind == "label":
        store.remove_label(session_id, item)
    else:
        store.remove_skip(session_id, batch["round"], item)
    return item


def strategy_choices() -> list[str]:
    """Strategies a session offers: least confidence first, then every strategy of
    :mod:`al_core.strategies` that needs no Monte-Carlo dropout (sessions train
    without dropout)."""
    usable = [s for s in strategies.STRATEGIES if "mc_probs" not in strategies.inputs_needed(s)]
    return sorted(usable, key=lambda s: s != "least_confidence")


def shortcut_keys(class_names: Sequence[str]) -> list[str | None]:
    """Keyboard key of each class button: the digit itself when the classes are the
    digits 0-9 (MNIST, digits), else 1-9 then 0 by position; None past the tenth."""
    if list(class_names) == [str(i) for i in range(10)]:
        return list(class_names)
    keys = [*"123456789", "0"]
    return [keys[i] if i < len(keys) else None for i in range(len(class_names))]


def why_picked(item: BatchItem, config: SessionConfig) -> str:
    """One line saying why an item is in the batch."""
    if item.score is None:
        how = "nearest to a k-means centroid" if config.cold_start == "clusters" else "at random"
        return f"Picked {how}: there is no trained model yet (cold start)."
    return f"Uncertainty ({config.strategy.replace('_', ' ')}): {item.score:.3f}."


def evaluation_note(config: SessionConfig) -> str:
    """Where the session's accuracy is measured, for the page."""
    if config.source == "builtin":
        return (
            f"Accuracy is measured on the {config.dataset} test split"
            + (f" ({config.test_size} images)" if config.test_size else "")
            + "; the pool's true labels are hidden from you and used only by the audit."
        )
    return (
        f"Accuracy is measured on a held-out share of your own labels: every "
        f"{HELD_OUT_EVERY}th label you give ({100 // HELD_OUT_EVERY} %) is used only to "
        "evaluate the model, never to train it."
    )


# --------------------------------------------------------------------------- background


@dataclass(frozen=True)
class JobState:
    status: str  # idle | queued | running | failed
    error: str | None
    worker_alive: bool


def _worker_alive(pid: int | None) -> bool:
    """True when ``pid`` is a running label worker (not a zombie, not a reused pid)."""
    import psutil

    for key, process in list(_workers.items()):
        if process.poll() is not None:
            del _workers[key]
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and "label-worker" in process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def job_state(store: Store, session_id: int, job: str = "train") -> JobState:
    """State of a session's background job; a queued or running job whose worker
    died is reported (and stored) as failed, so it can be requested again."""
    row = store.session(session_id)
    status, error = row[f"{job}_status"], row[f"{job}_error"]
    alive = _worker_alive(row["worker_pid"])
    # A worker writes its pid before it claims a job: give a just-started one time.
    starting = status == "queued" and _starting(store, session_id)
    if status in ("queued", "running") and not alive and not starting:
        error = "the background worker stopped before finishing; request it again"
        store.reset_session_job(session_id, job, error)
        status = "failed"
    return JobState(status, error, alive)


def _start_worker(store: Store, session_id: int) -> None:
    log_path = session_dir(store, session_id) / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        # A fresh interpreter (fork + exec), never a fork of this process:
        # TensorFlow is not fork-safe, and the app must not hold the training.
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "al_core",
                "label-worker",
                str(session_id),
                "--db",
                str(store.path),
                "--idle-seconds",
                os.environ.get("AL_LABEL_WORKER_IDLE_SECONDS", str(WORKER_IDLE_SECONDS)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    _workers[(str(store.path), session_id)] = process


def _starting(store: Store, session_id: int) -> bool:
    """True while a worker this process started for the session is running."""
    process = _workers.get((str(store.path), session_id))
    return process is not None and process.poll() is None


def stop_workers(timeout: float = 15.0) -> None:
    """Terminate the workers this process started (SIGTERM, then SIGKILL)."""
    for key, process in list(_workers.items()):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        del _workers[key]


def _request(store: Store, session_id: int, job: str) -> None:
    pid = store.request_session_job(session_id, job)
    if not _worker_alive(pid) and not _starting(store, session_id):
        _start_worker(store, session_id)


def request_retrain(store: Store, session_id: int) -> None:
    """Queue a retrain (or the first batch) for the session's background worker."""
    store.session(session_id)
    _request(store, session_id, "train")


def request_audit(store: Store, session_id: int) -> None:
    """Queue the simulated run of the same configuration (built-in sets only)."""
    config = session_config(store, session_id)
    if config.source != "builtin":
        raise ConfigError("the audit needs hidden ground truth: it exists for built-in sets only")
    if not store.session_batches(session_id):
        raise ConfigError("label the first batch before running the simulated curve")
    _request(store, session_id, "audit")


def run_worker(
    db_path: str | os.PathLike[str],
    session_id: int,
    *,
    idle_seconds: float = WORKER_IDLE_SECONDS,
    poll_seconds: float = 0.1,
    threads: int | None = None,
) -> int:
    """The ``label-worker`` process: run the session's queued jobs until idle.

    Keeps the pool and the compiled model in memory between jobs, so retrains
    after the first do not pay TensorFlow's start-up again.
    """
    from al_core import models

    worker = SessionWorker(session_id)
    pid = os.getpid()
    with Store(db_path) as store:
        store.session(session_id)
        store.register_session_worker(session_id, pid)  # before TensorFlow's slow start
        models.configure_runtime(threads)
        idle_since = time.monotonic()
        while True:
            if process_jobs(store, session_id, worker):
                idle_since = time.monotonic()
                continue
            if time.monotonic() - idle_since > idle_seconds and store.release_session_worker(
                session_id, pid
            ):
                return 0
            time.sleep(poll_seconds)


def process_jobs(store: Store, session_id: int, worker: SessionWorker) -> bool:
    """Run one queued job of the session here; False when none was queued."""
    for job, run in (("train", worker.retrain), ("audit", worker.simulate)):
        if store.claim_session_job(session_id, job):
            try:
                run(store)
            except Exception as exc:  # a failed job is reported on the page, not lost
                log.error("session %d: %s failed\n%s", session_id, job, traceback.format_exc())
                store.finish_session_job(session_id, job, error=f"{type(exc).__name__}: {exc}")
            else:
                store.finish_session_job(session_id, job)
            return True
    return False


@dataclass(frozen=True)
class Pool:
    """A session's images: ``x`` (n, H, W, C) float32; for built-in sets also the
    hidden ``truth`` (n,) and the test split ``x_test`` / ``y_test``."""

    x: np.ndarray
    truth: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def load_pool(store: Store, session_id: int, config: SessionConfig) -> Pool:
    """Read a session's pool (built-in: through the experiment runner's cache)."""
    folder = session_dir(store, session_id)
    if config.source == "builtin":
        from al_core import runner

        ds = runner.cached_dataset(
            config.dataset, config.pool_size, config.test_size, 0, config.data_seed
        )
        truth = folder / _TRUTH_FILE
        if not truth.exists():
            folder.mkdir(parents=True, exist_ok=True)
            np.save(truth, ds.y_pool)
        return Pool(ds.x_pool, truth=ds.y_pool, x_test=ds.x_test, y_test=ds.y_test)
    path = folder / _POOL_FILE
    if not path.is_file():
        raise DatasetError(f"the images of session {session_id} are missing ({path})")
    with np.load(path, allow_pickle=False) as archive:
        x = archive["x"].astype(np.float32) / np.float32(255)
    return Pool(x)


@dataclass
class _LabelSplit:
    """A session's stored labels as pool indices, split by role."""

    train: list[int] = field(default_factory=list)
    train_y: list[int] = field(default_factory=list)
    pseudo: list[int] = field(default_factory=list)
    pseudo_y: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    held_y: list[int] = field(default_factory=list)
    aside: list[int] = field(default_factory=list)  # not sure


def _split_labels(rows: Sequence[dict[str, Any]], hold_out: bool) -> _LabelSplit:
    split = _LabelSplit()
    human = 0
    for row in sorted(rows, key=lambda r: r["id"]):  # the order given; relabels keep it
        index, label = int(row["item"]), int(row["label"])
        if label < 0:
            split.aside.append(index)
        elif row["source"] == "pseudo":
            split.pseudo.append(index)
            split.pseudo_y.append(label)
        else:
            human += 1
            if hold_out and human % HELD_OUT_EVERY == 0:
                split.held.append(index)
                split.held_y.append(label)
            else:
                split.train.append(index)
                split.train_y.append(label)
    return split


def _nothing_new(
    store: Store,
    session_id: int,
    batch: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    split: _LabelSplit,
    use_pseudo: bool,
) -> bool:
    """True when no label changed since the current batch was queried: none of its
    items is answered, no label is newer than it, and the pseudo-label switch gives
    the same training set as the model that queried it."""
    items = set(batch["items"])
    if any(r["item"] in items or r["created_at"] > batch["created_at"] for r in rows):
        return False
    if store.skips(session_id, batch["round"]):
        return False
    previous = [p for p in store.session_rounds(session_id) if p["round"] == batch["round"] - 1]
    used_pseudo = len(split.pseudo) if use_pseudo else 0
    return not previous or previous[0]["pseudo_labeled"] == used_pseudo


def _rng(config: SessionConfig, round_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, _STREAM_COLD, round_index]))


def cold_start_indices(
    config: SessionConfig, x: np.ndarray, available: np.ndarray, round_index: int
) -> np.ndarray:
    """Pool indices of a batch chosen without a model, (<= batch,) int64.

    ``random``: uniform. ``clusters``: k-means (k = batch) on the pixels of the
    available images (a random subset of ``candidates`` of them on big pools),
    then the image nearest each centroid.
    """
    rng = _rng(config, round_index)
    k = min(config.batch, len(available))
    if config.cold_start == "random" or k == 0:
        return np.sort(rng.choice(available, size=k, replace=False)).astype(np.int64)
    subset = available
    if config.candidates is not None and len(available) > config.candidates:
        subset = np.sort(rng.choice(available, size=config.candidates, replace=False))
    flat = x[subset].reshape(len(subset), -1)
    return subset[strategies.kmeans_sample(flat, k, rng)].astype(np.int64)


def _top3(probs: np.ndarray) -> list[list[list[float]]]:
    """Each row's 3 best (class, probability) pairs, best first."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    return [
        [[int(k), round(float(row[k]), 4)] for k in ks]
        for row, ks in zip(probs, order, strict=True)
    ]


class SessionWorker:
    """The jobs of one session, run in its worker process (state kept between jobs)."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self._pool: Pool | None = None
        self._classifier: tuple[tuple[Any, ...], Classifier] | None = None
        self.last_timings: dict[str, float] = {}

    def pool(self, store: Store, config: SessionConfig) -> Pool:
        if self._pool is None:
            self._pool = load_pool(store, self.session_id, config)
        return self._pool

    def _classifier_for(self, config: SessionConfig, dataset: Dataset) -> Classifier:
        from al_core.models import Classifier

        trial = config.trial_config()
        key = (
            config.model,
            dataset.image_shape,
            dataset.num_classes,
            trial.training(),
            config.seed,
        )
        if self._classifier is None or self._classifier[0] != key:
            classifier = Classifier(
                config.model,
                dataset.image_shape,
                dataset.num_classes,
                training=trial.training(),
                seed=config.seed,
            )
            self._classifier = (key, classifier)
        return self._classifier[1]

    def _write_batch(
        self,
        store: Store,
        config: SessionConfig,
        round_index: int,
        kind: str,
        indices: np.ndarray,
        scores: Sequence[float | None],
        top3: Sequence[Any],
    ) -> None:
        self._write_item_images(store, config, indices)
        store.add_session_batch(
            self.session_id, round_index, kind, [str(int(i)) for i in indices], scores, top3
        )

    def _write_item_images(self, store: Store, config: SessionConfig, indices: np.ndarray) -> None:
        """Built-in sets: PNGs of the shown items, so the app never loads the pool."""
        if config.source != "builtin" or self._pool is None:
            return
        from PIL import Image

        folder = session_dir(store, self.session_id) / _ITEMS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for index in indices:
            path = folder / f"{int(index)}.png"
            if not path.exists():
                pixels = np.rint(self._pool.x[int(index)] * 255).astype(np.uint8)
                image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
                image.save(path)

    def retrain(self, store: Store) -> None:
        """Train on the stored labels, evaluate, store the curve point and the next batch."""
        session = store.session(self.session_id)
        config = SessionConfig.from_dict(session["config"])
        pool = self.pool(store, config)
        batch = store.latest_session_batch(self.session_id)
        everything = np.arange(len(pool.x))
        if batch is None:
            first = cold_start_indices(config, pool.x, everything, 0)
            self._write_batch(
                store, config, 0, "cold start", first, [None] * len(first), [[]] * len(first)
            )
            return
        round_index = int(batch["round"])
        rows = store.labels(self.session_id)
        split = _split_labels(rows, config.source != "builtin")
        if _nothing_new(store, self.session_id, batch, rows, split, bool(session["use_pseudo"])):
            return  # a repeated request: the current batch already reflects these labels
        dataset = self._dataset(config, pool, split)
        if dataset is None:
            answered = {int(r["item"]) for r in rows}
            available = np.setdiff1d(everything, np.fromiter(answered, np.int64, len(answered)))
            if len(available):
                picks = cold_start_indices(config, pool.x, available, round_index + 1)
                self._write_batch(
                    store,
                    config,
                    round_index + 1,
                    "cold start (too few labels to train)",
                    picks,
                    [None] * len(picks),
                    [[]] * len(picks),
                )
            return
        learner = ActiveLearner(
            dataset,
            config.trial_config(),
            classifier=self._classifier_for(config, dataset),
        )
        learner.use_pseudo_labels = bool(session["use_pseudo"])
        learner.teach(split.train, split.train_y, "human")
        learner.teach(split.pseudo, split.pseudo_y, "pseudo")
        learner.teach(split.aside + split.held, [NOT_SURE] * (len(split.aside) + len(split.held)))
        learner.round = round_index
        metrics = learner.train_and_evaluate()
        start = time.perf_counter()
        has_pool = len(learner.unlabeled_indices()) > 0
        if has_pool:
            selection = learner.query(config.batch)
            top3 = _top3(learner.classifier.predict_proba(pool.x[selection.indices]))
        score_seconds = time.perf_counter() - start
        store.set_session_environment(self.session_id, environment.capture())
        store.add_session_round(
            self.session_id,
            {
                "round": round_index,
                "labeled": learner.count("human"),
                "pseudo_labeled": len(learner.labeled_indices()) - learner.count("human"),
                "held_out": len(split.held),
                "test_accuracy": metrics["test_accuracy"],
                "test_loss": metrics["test_loss"],
                "train_seconds": metrics["train_seconds"],
                "score_seconds": score_seconds,
                "epochs": metrics["epochs"],
                "steps": metrics["steps"],
            },
        )
        self.last_timings = {
            "train_seconds": metrics["train_seconds"],
            "eval_seconds": metrics["eval_seconds"],
            "score_seconds": score_seconds,
        }
        if not has_pool:
            return
        self._write_batch(
            store,
            config,
            round_index + 1,
            config.strategy,
            selection.indices,
            [float(s) for s in selection.scores],
            top3,
        )
        self._propose(store, config, learner, round_index + 1, set(selection.indices.tolist()))

    def _dataset(self, config: SessionConfig, pool: Pool, split: _LabelSplit) -> Dataset | None:
        """The loop's data set for this retrain, or None when there is nothing to
        train on or (user data) nothing held out to evaluate on yet."""
        if not split.train:
            return None
        if config.source == "builtin":
            x_test, y_test = pool.x_test, pool.y_test
        elif split.held:
            x_test, y_test = pool.x[split.held], np.asarray(split.held_y, dtype=np.int64)
        else:
            return None
        return Dataset(
            name=f"labeling session {self.session_id}",
            x_pool=pool.x,
            # The human is the oracle; the loop never reads the pool's labels.
            y_pool=pool.truth if pool.truth is not None else np.full(len(pool.x), -1),
            x_test=x_test,
            y_test=y_test,
            class_names=config.class_names,
        )

    def _propose(
        self,
        store: Store,
        config: SessionConfig,
        learner: ActiveLearner,
        round_index: int,
        queried: set[int],
    ) -> None:
        """Auto-label proposals: the model's most confident unlabeled images (from a
        random subset of ``candidates`` on big pools), not in the new batch."""
        free = np.array([i for i in learner.unlabeled_indices() if i not in queried], np.int64)
        if len(free) == 0:
            return
        rng = _rng(config, 10_000 + round_index)
        if config.candidates is not None and len(free) > config.candidates:
            free = np.sort(rng.choice(free, size=config.candidates, replace=False))
        probs = learner.classifier.predict_proba(learner.dataset.x_pool[free])
        picked = strategies.most_confident(probs, min(config.auto_label_k, len(free)))
        self._write_item_images(store, config, free[picked])
        store.set_batch_proposals(
            self.session_id,
            round_index,
            [
                {
                    "item": str(int(free[p])),
                    "label": int(probs[p].argmax()),
                    "confidence": round(float(probs[p].max()), 4),
                }
                for p in picked
            ],
        )

    def simulate(self, store: Store) -> None:
        """Audit: the same configuration with the hidden truth as oracle, from the
        same first batch, for as many rounds as the person has done (a stored
        experiment of kind ``label-audit``)."""
        from al_core import runner

        config = session_config(store, self.session_id)
        batches = store.session_batches(self.session_id)
        first = [int(i) for i in batches[0]["items"]]
        rounds = max(len(store.session_rounds(self.session_id)) - 1, 0)
        trial = config.trial_config(first, rounds=rounds)
        experiment_id = runner.create_experiment(
            store,
            trial,
            [trial.strategy],
            [trial.fraction],
            1,
            baseline=False,
            kind="label-audit",
            name=f"audit of labeling session {self.session_id}",
        )
        store.set_session_audit_experiment(self.session_id, experiment_id)
        trial_id = store.trials(experiment_id)[0]["id"]
        store.set_experiment_status(experiment_id, "running")
        try:
            runner.run_trial(store, trial_id)
        finally:
            runner.finish_experiment(store, experiment_id)


# --------------------------------------------------------------------------- auto-labeling


def proposals(store: Store, session_id: int) -> list[dict[str, Any]]:
    """Unreviewed auto-label proposals of the current batch's model: item, label,
    confidence; items labeled since are left out."""
    batch = store.latest_session_batch(session_id)
    if batch is None or batch["proposals_reviewed_at"] is not None:
        return []
    labeled = {r["item"] for r in store.labels(session_id)}
    return [p for p in batch["proposals"] if p["item"] not in labeled]


def review_proposals(store: Store, session_id: int, accepted: Sequence[str]) -> int:
    """Store the ``accepted`` proposals as ``pseudo`` labels (the rest are rejected);
    returns how many were stored. Items labeled meanwhile keep their label."""
    batch = store.latest_session_batch(session_id)
    if batch is None:
        return 0
    wanted = set(accepted)
    stored = 0
    for proposal in proposals(store, session_id):
        if proposal["item"] in wanted:
            stored += store.add_label(session_id, proposal["item"], proposal["label"], "pseudo")
    store.mark_proposals_reviewed(session_id, batch["round"])
    return stored


def set_use_pseudo(store: Store, session_id: int, use: bool) -> None:
    """Include (True) or exclude pseudo-labels from training at the next retrain."""
    store.session(session_id)
    store.set_session_use_pseudo(session_id, use)


# --------------------------------------------------------------------------- progress, audit


def counts(store: Store, session_id: int) -> dict[str, int]:
    """Labels of the session by kind: human, not_sure, pseudo."""
    rows = store.labels(session_id)
    return {
        "human": sum(1 for r in rows if r["source"] == "human" and r["label"] >= 0),
        "not_sure": sum(1 for r in rows if r["label"] < 0),
        "pseudo": sum(1 for r in rows if r["source"] == "pseudo" and r["label"] >= 0),
    }


def learning_curve(store: Store, session_id: int) -> list[dict[str, Any]]:
    """The session's points: round, labeled (human labels trained on), pseudo_labeled,
    held_out, test_accuracy, …"""
    return store.session_rounds(session_id)


@dataclass(frozen=True)
class Audit:
    """Human labels against the hidden truth (built-in sets)."""

    per_class: list[dict[str, Any]]  # class, labeled, agreed, agreement
    agreement: float | None
    labeled: int
    simulated: list[dict[str, Any]]  # rounds of the simulated run (labeled, test_accuracy)
    simulation_status: str | None


def audit(store: Store, session_id: int) -> Audit:
    """Agreement of the human labels with the hidden truth, per true class, and the
    simulated curve of the same configuration when it was run."""
    config = session_config(store, session_id)
    if config.source != "builtin":
        raise ConfigError("the audit needs hidden ground truth: it exists for built-in sets only")
    truth_path = session_dir(store, session_id) / _TRUTH_FILE
    rows = [r for r in store.labels(session_id) if r["source"] == "human" and r["label"] >= 0]
    per_class, agreed_total = [], 0
    if rows and truth_path.is_file():
        truth = np.load(truth_path)
        items = np.array([int(r["item"]) for r in rows])
        given = np.array([r["label"] for r in rows])
        true = truth[items]
        for k, name in enumerate(config.class_names):
            mask = true == k
            n = int(mask.sum())
            agreed = int((given[mask] == k).sum())
            agreed_total += agreed
            per_class.append(
                {
                    "class": name,
                    "labeled": n,
                    "agreed": agreed,
                    "agreement": agreed / n if n else None,
                }
            )
    session = store.session(session_id)
    simulated, status = [], None
    if session["audit_experiment_id"] is not None:
        trials = store.trials(session["audit_experiment_id"])
        if trials:
            simulated = store.rounds(trials[0]["id"])
            status = trials[0]["status"]
    return Audit(
        per_class=per_class,
        agreement=agreed_total / len(rows) if per_class else None,
        labeled=len(rows),
        simulated=simulated,
        simulation_status=status,
    )


# --------------------------------------------------------------------------- images


def _original_path(store: Store, session_id: int, config: SessionConfig, name: str) -> Path:
    if config.source == "upload":
        return session_dir(store, session_id) / _FILES_DIR / name
    return Path(config.folder or "") / name


def item_names(store: Store, session_id: int) -> tuple[str, ...]:
    """File names of a user pool, by pool index (empty for built-in sets)."""
    path = session_dir(store, session_id) / _POOL_FILE
    if not path.is_file():
        return ()
    with np.load(path, allow_pickle=False) as archive:
        return tuple(str(n) for n in archive["names"])


def item_image(
    store: Store,
    session_id: int,
    item: str,
    *,
    side: int = DISPLAY_SIDE,
    names: Sequence[str] | None = None,
) -> PILImage:
    """An item's image to show: small ones upscaled by a whole factor with
    nearest-neighbour (sharp pixels, no blur) to at least ``side`` px, large
    ones reduced to at most ``2 * side``."""
    from PIL import Image, ImageOps

    config = session_config(store, session_id)
    if config.source == "builtin":
        path = session_dir(store, session_id) / _ITEMS_DIR / f"{int(item)}.png"
    else:
        names = names if names is not None else item_names(store, session_id)
        path = _original_path(store, session_id, config, names[int(item)])
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except OSError as exc:
        raise DatasetError(
            f"the image of item {item} cannot be read ({exc}); was it moved or deleted?"
        ) from exc
    longest = max(image.size)
    if longest < side:
        factor = -(-side // longest)
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    image.thumbnail((2 * side, 2 * side))
    return image


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = ("item", "file", "label", "label_name", "source", "labeled_at", "seconds")


def export_rows(store: Store, session_id: int) -> list[dict[str, Any]]:
    """Every stored label in the order given: item (pool index), file (user data),
    label (``-1`` = not sure), label name, source, UTC time, seconds spent."""
    config = session_config(store, session_id)
    names = item_names(store, session_id)
    rows = []
    for r in store.labels(session_id):
        label = int(r["label"])
        rows.append(
            {
                "item": r["item"],
                "file": names[int(r["item"])] if names else "",
                "label": label,
                "label_name": config.class_names[label] if label >= 0 else "not sure",
                "source": r["source"],
                "labeled_at": _dt.datetime.fromtimestamp(r["created_at"], _dt.UTC).isoformat(),
                "seconds": None if r["seconds"] is None else round(r["seconds"], 3),
            }
        )
    return rows


def export_csv(store: Store, session_id: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(store, session_id))
    return buffer.getvalue().encode()


def export_json(store: Store, session_id: int) -> bytes:
    session = store.session(session_id)
    document = {
        "session": {
            "id": session["id"],
            "name": session["name"],
            "config": session["config"],
        },
        "labels": export_rows(store, session_id),
    }
    return json.dumps(document, indent=1).encode()


def _safe_folder_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip(" .")
    return cleaned or "class"


def export_zip(
    store: Store, session_id: int, *, sources: Sequence[str] = ("human", "pseudo")
) -> bytes:
    """A zip of the labeled images, one folder per class (original files for user
    data, PNGs of the pool images for built-in sets). "Not sure" items are left out."""
    config = session_config(store, session_id)
    names = item_names(store, session_id)
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in store.labels(session_id):
            if row["label"] < 0 or row["source"] not in sources:
                continue
            folder = _safe_folder_name(config.class_names[row["label"]])
            if config.source == "builtin":
                path = session_dir(store, session_id) / _ITEMS_DIR / f"{int(row['item'])}.png"
                file_name = path.name
            else:
                path = _original_path(store, session_id, config, names[int(row["item"])])
                file_name = PurePosixPath(names[int(row["item"])]).name
            if not path.is_file():
                continue
            arcname = f"{folder}/{file_name}"
            if arcname in used:
                arcname = f"{folder}/{row['item']}-{file_name}"
            used.add(arcname)
            archive.write(path, arcname)
    return buffer.getvalue()


__all__ = [
    "COLD_STARTS",
    "DEFAULT_IMAGE_SIZE",
    "HELD_OUT_EVERY",
    "NOT_SURE",
    "SOURCES",
    "Audit",
    "BatchItem",
    "BatchView",
    "CreatedSession",
    "SessionConfig",
    "SessionWorker",
    "answer",
    "audit",
    "cold_start_indices",
    "counts",
    "create_session",
    "current_batch",
    "export_csv",
    "export_json",
    "export_zip",
    "item_image",
    "job_state",
    "learning_curve",
    "list_sessions",
    "process_jobs",
    "proposals",
    "request_audit",
    "request_retrain",
    "review_proposals",
    "run_worker",
    "evaluation_note",
    "session_config",
    "set_use_pseudo",
    "shortcut_keys",
    "strategy_choices",
    "skip",
    "stop_workers",
    "undo",
    "why_picked",
]
