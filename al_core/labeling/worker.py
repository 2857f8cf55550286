"""The background side of a session: one worker process per session (started
fresh, never forked) that trains on the stored labels and queries the next batch,
and the audit's simulated run."""

from __future__ import annotations

import logging
import os
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core import environment, strategies
from al_core.datasets import Dataset
from al_core.errors import ConfigError, DatasetError
from al_core.labeling.pipeline import (
    can_refill,
    free_items,
    next_step,
    open_items,
    open_rounds,
)
from al_core.labeling.sessions import (
    _ITEMS_DIR,
    _POOL_FILE,
    _TRUTH_FILE,
    HELD_OUT_EVERY,
    NOT_SURE,
    SessionConfig,
    session_config,
    session_dir,
)
from al_core.labeling.team import item_labels
from al_core.loop import ActiveLearner
from al_core.loop.config import STOP_SET_SHARE, stop_set_size
from al_core.processes import start_background
from al_core.stopping import prediction_kappa
from al_core.store import Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from al_core.models import Classifier


log = logging.getLogger(__name__)

WORKER_IDLE_SECONDS = 300.0
"""A worker leaves after this long without a job (``AL_LABEL_WORKER_IDLE_SECONDS``)."""

_STREAM_COLD = 7  # random stream of cold-start draws (apart from the loop's streams)
_STREAM_STOP = 8  # random stream of the stop set's draw
_STOP_FILE = "stop_set.npy"  # the session's stop set: pool rows never queried
# Workers started by this process, by (database, session): polled so that none
# stays a zombie, and so that a worker still starting is not started twice.
_workers: dict[tuple[str, int], subprocess.Popen[bytes]] = {}


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
    # A fresh interpreter, never a fork of this process (TensorFlow is not fork-safe,
    # and the app must not hold the training), without the app's password.
    idle = os.environ.get("AL_LABEL_WORKER_IDLE_SECONDS", str(WORKER_IDLE_SECONDS))
    process = start_background(
        ["label-worker", str(session_id), "--db", str(store.path), "--idle-seconds", idle],
        log_path,
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


def _split_labels(
    rows: Sequence[dict[str, Any]],
    hold_out: bool,
    reviews: Sequence[dict[str, Any]] = (),
) -> _LabelSplit:
    """One label per image (:func:`al_core.labeling.team.item_labels`: the agreed or
    settled one; a disputed image is set aside, neither trained on nor queried)."""
    split = _LabelSplit()
    human = 0
    # In the order first answered; relabels and second opinions keep it.
    for entry in item_labels(rows, reviews).values():
        index = int(entry.item)
        if entry.label is None:  # disputed: its place in the hold-out order is kept
            human += 1
            split.aside.append(index)
            continue
        label = entry.label
        if label < 0:
            split.aside.append(index)
        elif entry.status == "pseudo":
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
    reviews: Sequence[dict[str, Any]] = (),
) -> bool:
    """True when no label changed since the current batch was queried: none of its
    items is answered, no label is newer than it, and the pseudo-label switch gives
    the same training set as the model that queried it."""
    items = set(batch["items"])
    if any(r["item"] in items or r["created_at"] > batch["created_at"] for r in rows):
        return False
    if any(r["created_at"] > batch["created_at"] for r in reviews):
        return False
    if store.skips(session_id, batch["round"]):
        return False
    return not _pseudo_switched(store, session_id, batch, split, use_pseudo)


def _pseudo_switched(
    store: Store, session_id: int, batch: dict[str, Any], split: _LabelSplit, use_pseudo: bool
) -> bool:
    """Whether the pseudo-label switch now gives another training set than the one of
    the model that queried ``batch``."""
    previous = [p for p in store.session_rounds(session_id) if p["round"] == batch["round"] - 1]
    used_pseudo = len(split.pseudo) if use_pseudo else 0
    return bool(previous) and previous[0]["pseudo_labeled"] != used_pseudo


def _rng(config: SessionConfig, round_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, _STREAM_COLD, round_index]))


def stop_set(store: Store, session_id: int, config: SessionConfig, pool_size: int) -> np.ndarray:
    """The session's stop set, (m,) int64 sorted pool rows: the images the
    stabilizing-predictions rule compares consecutive models on
    (:func:`al_core.stopping.prediction_kappa`). Drawn once, at the first retrain,
    from the images no batch has shown yet (``agreement_size`` of them, at most
    :data:`STOP_SET_SHARE` of the pool) and kept in the session's folder; never
    queried, shown, trained on nor proposed for auto-labeling."""
    path = session_dir(store, session_id) / _STOP_FILE
    if path.is_file():
        return np.load(path)
    shown = {int(i) for b in store.session_batches(session_id) for i in b["items"]}
    shown |= {int(r["item"]) for r in store.labels(session_id)}
    unseen = np.setdiff1d(np.arange(pool_size), np.fromiter(shown, np.int64, len(shown)))
    wanted = stop_set_size(config.trial_config().agreement_size, pool_size)
    size = min(wanted, int(pool_size * STOP_SET_SHARE), len(unseen))
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _STREAM_STOP]))
    rows = np.sort(rng.choice(unseen, size=size, replace=False)).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    return rows


def cold_start_indices(
    config: SessionConfig, x: np.ndarray, available: np.ndarray, round_index: int
) -> np.ndarray:
    """Pool indices of a batch chosen without a model, (<= batch,) int64.

    ``random``: uniform. ``clusters``: TypiClust on the pool's pixel features, the
    same code as a simulation's ``initial_mode="typical"``
    (:func:`al_core.strategies.typiclust`): the most typical image of each of the
    largest k-means regions that hold no answered image yet. The available images
    are the candidates (a random subset of ``candidates`` of them on big pools); the
    others (answered or set aside) count as covered.
    """
    rng = _rng(config, round_index)
    k = min(config.batch, len(available))
    if config.cold_start == "random" or k == 0:
        return np.sort(rng.choice(available, size=k, replace=False)).astype(np.int64)
    subset = available
    if config.candidates is not None and len(available) > config.candidates:
        subset = np.sort(rng.choice(available, size=config.candidates, replace=False))
    covered = np.setdiff1d(np.arange(len(x)), available)
    rows = np.concatenate([subset, covered])
    features = strategies.pixel_features(x[rows], seed=config.seed)
    picks = strategies.typiclust(features, np.arange(len(rows)) >= len(subset), k, rng)
    return subset[picks].astype(np.int64)


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
        *,
        only_if: Callable[[], bool] | None = None,
    ) -> bool:
        """Write the batch's images and store it (see ``Store.add_session_batch``)."""
        self._write_item_images(store, config, indices)
        return store.add_session_batch(
            self.session_id,
            round_index,
            kind,
            [str(int(i)) for i in indices],
            scores,
            top3,
            only_if=only_if,
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
        """Train on the stored labels, evaluate, store the curve point and the next batch.

        Pipelined (:mod:`al_core.labeling.pipeline`): while the latest batch still has
        open images they are left out of the query, and the new batch is queued after
        it. While the batch before the latest is still open, the latest (prepared) one
        is only refreshed: its images nobody holds are replaced by the picks of a
        model trained on every label (also once the batch before is finished, when
        :func:`~al_core.labeling.pipeline.next_step` says ``"refill"``)."""
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
        reviews = store.reviews(self.session_id)
        split = _split_labels(rows, config.source != "builtin", reviews)
        use_pseudo = bool(session["use_pseudo"])
        rounds = open_rounds(store, self.session_id)
        if rounds and rounds != [round_index]:  # the batch before is open: only a refresh
            if can_refill(store, self.session_id, batch) or _pseudo_switched(
                store, self.session_id, batch, split, use_pseudo
            ):
                self._refill(store, config, pool, batch, rows, split, use_pseudo)
            return  # else nothing the prepared batch's model did not see
        if rounds == [round_index] and next_step(store, self.session_id) == "refill":
            self._refill(store, config, pool, batch, rows, split, use_pseudo)
            return
        if _nothing_new(store, self.session_id, batch, rows, split, use_pseudo, reviews):
            return  # a repeated request: the current batch already reflects these labels
        # The latest batch's open images are still to be answered: not queried again.
        skips = [dict(s, round=round_index) for s in store.skips(self.session_id, round_index)]
        pending = [int(i) for i in open_items(batch, {r["item"] for r in rows}, skips)]
        dataset = self._dataset(config, pool, split)
        if dataset is None:
            answered = {int(r["item"]) for r in rows} | set(pending)
            answered |= set(stop_set(store, self.session_id, config, len(pool.x)).tolist())
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
        learner, selection, top3 = self._train_and_query(
            store, config, dataset, split, use_pseudo, pending, round_index
        )
        if selection is None:
            return
        written = self._write_batch(
            store,
            config,
            round_index + 1,
            config.strategy,
            selection.indices,
            [float(s) for s in selection.scores],
            top3,
            # An undo across the batch boundary during the retrain reopened the batch
            # before: a new batch now would push that batch (and its image) out of
            # the queue. The page asks again once it is answered.
            only_if=lambda: open_rounds(store, self.session_id) in ([], [round_index]),
        )
        if written:
            self._propose(store, config, learner, round_index + 1, set(selection.indices.tolist()))

    def _refill(
        self,
        store: Store,
        config: SessionConfig,
        pool: Pool,
        batch: dict[str, Any],
        rows: Sequence[dict[str, Any]],
        split: _LabelSplit,
        use_pseudo: bool,
    ) -> None:
        """Replace the prepared ``batch``'s images nobody holds by the picks of a model
        trained on every label now (the curve point of the round before it is
        replaced by this model's). The images left out of the query: the batch
        before's open ones (still to be answered) and the held ones of ``batch``."""
        round_index = int(batch["round"])
        batches = store.session_batches(self.session_id)
        answered = {r["item"] for r in rows}
        pending: list[int] = []
        if len(batches) >= 2 and int(batches[-2]["round"]) == round_index - 1:
            previous = batches[-2]
            skips = [
                dict(s, round=round_index - 1)
                for s in store.skips(self.session_id, round_index - 1)
            ]
            pending = [int(i) for i in open_items(previous, answered, skips)]
        free = set(
            free_items(
                batch,
                rows,
                store.skips(self.session_id, round_index),
                store.claims(self.session_id),
            )
        )
        held = [int(i) for i in batch["items"] if i not in free and i not in answered]
        dataset = self._dataset(config, pool, split)
        if dataset is None or not free:
            return
        learner, selection, top3 = self._train_and_query(
            store, config, dataset, split, use_pseudo, pending + held, round_index - 1
        )
        if selection is None:
            return
        picks = [str(int(i)) for i in selection.indices]
        self._write_item_images(store, config, selection.indices)
        items = store.refill_session_batch(
            self.session_id, round_index, picks, [float(s) for s in selection.scores], top3
        )
        self._propose(store, config, learner, round_index, {int(i) for i in items})

    def _train_and_query(
        self,
        store: Store,
        config: SessionConfig,
        dataset: Dataset,
        split: _LabelSplit,
        use_pseudo: bool,
        excluded: Sequence[int],
        round_index: int,
    ) -> tuple[ActiveLearner, Any, list[Any]]:
        """Train on ``split`` (``excluded`` pool rows kept out of the query), store the
        curve point of ``round_index`` and query a batch: (learner, the selection or
        None when the pool is used up, the selection's top-3 guesses). The point
        replaces one stored before: a round's point is the last model that queried
        (or refreshed) the batch after it."""
        learner = ActiveLearner(
            dataset,
            # A fresh learner each retrain has no previous model: the session measures
            # kappa on its own stop set (stop_set) instead of the loop's subset.
            config.trial_config(agreement_size=0),
            classifier=self._classifier_for(config, dataset),
        )
        learner.use_pseudo_labels = use_pseudo
        learner.teach(split.train, split.train_y, "human")
        learner.teach(split.pseudo, split.pseudo_y, "pseudo")
        stop_rows = stop_set(store, self.session_id, config, len(dataset.x_pool))
        aside = split.aside + split.held + list(excluded) + stop_rows.tolist()
        learner.teach(aside, [NOT_SURE] * len(aside))
        learner.round = round_index
        metrics = learner.train_and_evaluate()
        stop_predictions = kappa = None
        if len(stop_rows):
            stop_predictions = learner.classifier.predict_proba(dataset.x_pool[stop_rows]).argmax(
                axis=1
            )
            previous = store.session_stop_predictions(self.session_id, round_index)
            if previous is not None and len(previous) == len(stop_predictions):
                kappa = prediction_kappa(
                    np.asarray(previous), stop_predictions, dataset.num_classes
                )
        start = time.perf_counter()
        selection, top3 = None, []
        if len(learner.unlabeled_indices()) > 0:
            selection = learner.query(config.batch)
            top3 = _top3(learner.classifier.predict_proba(dataset.x_pool[selection.indices]))
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
                "kappa": kappa,
                "stop_predictions": stop_predictions,
                "evaluated": len(dataset.y_test),
            },
            replace=True,
        )
        self.last_timings = {
            "train_seconds": metrics["train_seconds"],
            "eval_seconds": metrics["eval_seconds"],
            "score_seconds": score_seconds,
        }
        return learner, selection, top3

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
        experiment_id, trial_id = runner.create_single_trial(
            store, trial, "label-audit", f"audit of labeling session {self.session_id}"
        )
        store.set_session_audit_experiment(self.session_id, experiment_id)
        try:
            runner.run_trial(store, trial_id)
        finally:
            runner.finish_experiment(store, experiment_id)
