"""Experiments as grids of trials, and running trials into the store.

An experiment is a grid of strategies × uncertainty fractions × trials (seeds)
over one base configuration. :func:`plan_trials` expands it, adding the random
baseline (fraction 0) that every comparison needs; :func:`create_experiment`
writes the experiment and all its trials to the store before anything runs;
:func:`run_trial` runs one trial in this process and writes each round as it
finishes.

Background sweeps
-----------------
A :class:`Runner` (``python -m al_core runner``) is a long-lived process that
claims queued trials from the store and runs them on a
``concurrent.futures.Executor``: by default one single-process
``ProcessPoolExecutor`` (spawn start method) per worker slot, or Dask
distributed's client executor (``executor="dask"``). The design:

- **Claims.** :meth:`Store.claim_trial` takes the oldest queued trial in one
  ``BEGIN IMMEDIATE`` transaction, so two runners never run the same trial. A
  claim is (trial, runner id, attempt); every write the runner makes about the
  trial checks that it still holds the claim.
- **Rounds flow through a spool.** A worker (:func:`execute_trial`) appends each
  round as one JSON line to a per-claim file in ``<db>.spool/`` and never writes
  to SQLite; the runner tails the spool every ``poll_seconds`` and stores new
  rounds, so curves grow live. A file works the same behind any executor (a
  local process, a Dask worker on this host or on a shared filesystem), where a
  multiprocessing queue cannot reach a Dask worker and a Dask queue does not
  exist for a process pool. The worker also returns all its rounds, so a worker
  that cannot see the spool folder still delivers the whole curve at the end.
- **No round twice.** The runner stores round *k* only when it is the next one
  of the claim (a Dask task re-executed after a worker loss repeats rounds that
  are skipped). A claim starts by deleting rounds left by an earlier attempt in
  the same transaction, so a trial's rounds always come from one execution;
  trials are deterministic, so the re-run reproduces them exactly.
- **Cancellation and liveness.** At every round boundary the worker reads the
  store read-only (:func:`al_core.store.claim_stop_reason`): a cancel request,
  a lost claim, or a runner whose heartbeat is stale stops the trial there.
- **Faults.** Each local slot is its own one-process pool, so a worker killed
  by a signal or the OOM killer breaks only that pool: only its trial fails
  (reason stored), the pool is replaced, and the trial is retried up to
  ``max_attempts``. Trials left ``running`` by a dead runner (dead pid on this
  host, or heartbeat older than :data:`STALE_SECONDS`) are re-queued by the
  next runner (:func:`recover_orphans`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from al_core import environment
from al_core.datasets import Dataset, load_dataset, repeat_pool
from al_core.errors import ALError, ConfigError, StoreError
from al_core.loop import LoopResult, RoundRecord, TrialConfig, run_loop
from al_core.store import REPO_ROOT, Store, TrialSpec, claim_stop_reason

log = logging.getLogger(__name__)


def plan_trials(
    base: TrialConfig,
    strategies: Sequence[str],
    fractions: Sequence[float],
    trials: int,
    *,
    baseline: bool = True,
) -> list[TrialSpec]:
    """Expand a grid into trial specs, one per (strategy, fraction, seed).

    Seeds are ``base.seed, base.seed + 1, …`` (``trials`` of them), the same for
    every configuration so comparisons can be paired by seed. Specs come seed by
    seed (every configuration's first seed before any second seed): the order in
    which runners claim them. A fraction of 0
    is the random baseline whatever the strategy, so it appears once (as
    strategy ``random``); with ``baseline`` it is added when missing.
    """
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    if not strategies or not fractions:
        raise ConfigError("the grid is empty: give at least one strategy and one fraction")
    configs: dict[tuple[str, float], None] = {}
    for strategy in strategies:
        for fraction in fractions:
            config = base.replace(strategy=strategy, fraction=float(fraction))
            configs[(config.strategy, config.fraction)] = None
    if baseline:
        configs.setdefault(("random", 0.0), None)
    # Seed-major (round-robin over configurations): runners claim trials in this
    # order, so every configuration has a measured curve after the first pass
    # instead of the last configuration arriving at the very end.
    specs = []
    for seed in range(base.seed, base.seed + trials):
        for strategy, fraction in sorted(configs, key=lambda c: (c[1], c[0])):
            config = base.replace(strategy=strategy, fraction=fraction, seed=seed)
            specs.append(TrialSpec(strategy, fraction, seed, config.to_dict()))
    return specs


def create_experiment(
    store: Store,
    base: TrialConfig,
    strategies: Sequence[str],
    fractions: Sequence[float],
    trials: int,
    *,
    name: str | None = None,
    kind: str = "sweep",
    baseline: bool = True,
    extra: dict[str, Any] | None = None,
) -> int:
    """Store an experiment and all its (queued) trials; returns the experiment id."""
    specs = plan_trials(base, strategies, fractions, trials, baseline=baseline)
    config = {
        "base": base.to_dict(),
        "strategies": list(strategies),
        "fractions": [float(f) for f in fractions],
        "trials": trials,
        "baseline": baseline,
        **(extra or {}),
    }
    name = name or f"{base.dataset} · {base.model} · {', '.join(strategies)}"
    return store.create_experiment(name, config, specs, kind=kind)


@functools.lru_cache(maxsize=2)
def cached_dataset(
    source: str,
    pool_size: int | None,
    test_size: int | None,
    val_size: int,
    seed: int,
    repeat: int = 1,
    repeat_noise: float = 0.0,
) -> Dataset:
    """Load a data set once per process: every trial of a sweep shares it.

    ``repeat`` / ``repeat_noise`` make it a redundant pool (:func:`repeat_pool`).
    """
    dataset = load_dataset(
        source, pool_size=pool_size, test_size=test_size, val_size=val_size, seed=seed
    )
    return repeat_pool(dataset, repeat, repeat_noise, seed)


def dataset_for(config: TrialConfig) -> Dataset:
    """The data set a trial config names (cached)."""
    return cached_dataset(
        config.dataset,
        config.pool_size,
        config.test_size,
        config.val_size,
        config.data_seed,
        config.repeat,
        config.repeat_noise,
    )


def run_trial(
    store: Store,
    trial_id: int,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> LoopResult | None:
    """Run one stored trial here, writing rounds as they finish.

    The trial is marked ``running``, then ``done`` / ``cancelled``, or ``failed``
    with the error stored (and re-raised for bad configs, which no retry fixes).
    """
    row = store.trial(trial_id)
    config = TrialConfig.from_dict(row["config"])
    store.set_trial_status(trial_id, "running")

    def record(r: RoundRecord) -> None:
        store.add_round(trial_id, r.to_dict())
        if on_round is not None:
            on_round(r)

    try:
        result = run_loop(dataset_for(config), config, on_round=record, should_stop=should_stop)
    except Exception as exc:
        store.set_trial_environment(trial_id, environment.capture())
        store.set_trial_status(
            trial_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
        raise
    status = "cancelled" if result.stop_reason == "cancelled" else "done"
    store.set_trial_environment(trial_id, environment.capture())
    store.set_trial_status(trial_id, status, stop_reason=result.stop_reason)
    return result


def finish_experiment(store: Store, experiment_id: int) -> str:
    """Set the experiment's status from its trials' and return it."""
    statuses = {t["status"] for t in store.trials(experiment_id)}
    if statuses & {"queued", "running"}:
        status = "running"
    elif "cancelled" in statuses:
        status = "cancelled"
    elif "failed" in statuses:
        status = "failed"
    else:
        status = "done"
    store.set_experiment_status(experiment_id, status)
    return status


# -- presets and submission -----------------------------------------------------
EXECUTORS: tuple[str, ...] = ("local", "dask")
#: Seconds between a runner's heartbeats.
HEARTBEAT_SECONDS = 2.0
#: A runner whose last heartbeat is older than this is taken for dead.
STALE_SECONDS = 30.0
#: Seconds between two searches for trials left ``running`` by dead runners.
RECOVERY_SECONDS = 10.0
#: How long to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT = 5.0
#: Keys of :func:`submit_preset` overrides that change the grid, not the trial config.
GRID_KEYS: tuple[str, ...] = ("strategies", "fractions", "trials", "name")

_TENTHS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
#: The demo's fractions: 11 fractions x 3 trials took 6 min on 2 cores, 6 fit in 5.
_FIFTHS: tuple[float, ...] = tuple(round(i / 5, 1) for i in range(6))


@dataclass(frozen=True)
class Preset:
    """A named, ready-to-run experiment grid."""

    name: str
    description: str
    base: TrialConfig
    strategies: tuple[str, ...]
    fractions: tuple[float, ...]
    trials: int

    @property
    def target(self) -> float | None:
        """The target accuracy that labels-to-target is measured against."""
        return self.base.target


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "demo",
            "Digits (embedded, no download), seed CNN trained to convergence at every size "
            "(the model's default steps), 20 random labels then 8 rounds of 10 by margin; "
            "uncertainty fraction 0–100 % by 20 × 3 trials. About 4 minutes on 2 cores: the "
            "one-click stakeholder demo.",
            TrialConfig(
                dataset="digits",
                model="cnn",
                strategy="margin",
                initial=20,
                batch=10,
                rounds=8,
                target=0.85,
            ),
            ("margin",),
            _FIFTHS,
            3,
        ),
        Preset(
            "cifar10-fraction",
            "The original CIFAR-10 protocol: 49k pool / 1k validation / 10k test, 1,000 "
            "random labels then 1,000 per round until the pool is used up, margin, seed "
            "CNN, target 50 %; fraction 0–100 % by 10 × 3 trials (1,600+ trainings). Needs "
            "CIFAR-10 (a download) and a cluster or hours.",
            TrialConfig(
                dataset="cifar10",
                val_size=1000,
                model="cnn",
                strategy="margin",
                initial=1000,
                batch=1000,
                epochs=10,
                target=0.5,
            ),
            ("margin",),
            _TENTHS,
            3,
        ),
        Preset(
            "mnist-400",
            "The MNIST protocol: 4,000-image pool / 400 test, softmax regression, 10 "
            "random labels then batches of 10 by least confidence up to 400 labels, "
            "training with patience 10; against random, 3 trials.",
            TrialConfig(
                dataset="mnist",
                pool_size=4000,
                test_size=400,
                model="softmax",
                strategy="least_confidence",
                initial=10,
                batch=10,
                budget=400,
                epochs=200,
                patience=10,
                target=0.85,
            ),
            ("least_confidence",),
            (0.0, 1.0),
            3,
        ),
        Preset(
            "repeated-mnist",
            "Why batches need diversity (the BatchBALD paper's Repeated MNIST): 2,000 MNIST "
            "images, each 3 times with pixel noise 0.1 (6,000 pool rows), dropout CNN, 20 "
            "balanced labels then 15 batches of 10; BALD top-k vs BatchBALD vs random, 20 MC "
            "samples over 2,000 candidates per round, 3 trials. Results show the curves and "
            "how many queried images were near-copies per round.",
            TrialConfig(
                dataset="mnist",
                pool_size=2000,
                test_size=1000,
                repeat=3,
                repeat_noise=0.1,
                model="cnn",
                dropout=0.5,
                strategy="batchbald",
                initial=20,
                initial_mode="balanced",
                batch=10,
                rounds=15,
                candidates=2000,
                mc_samples=20,
                target=0.9,
            ),
            ("bald", "batchbald"),
            (0.0, 1.0),
            3,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`ConfigError` naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def submit_experiment(
    store: Store,
    base: TrialConfig,
    strategies: Sequence[str],
    fractions: Sequence[float],
    trials: int,
    *,
    name: str | None = None,
) -> int:
    """Queue a sweep (all its trials stored as ``queued``) for a runner; returns its id."""
    return create_experiment(store, base, strategies, fractions, trials, name=name)


def preset_base(preset: str, overrides: Mapping[str, Any]) -> TrialConfig:
    """The base trial config of ``preset`` with ``overrides`` applied (grid keys in
    ``overrides`` are ignored here); :class:`ConfigError` names unknown fields."""
    fields = {k: v for k, v in overrides.items() if k not in GRID_KEYS}
    unknown = TrialConfig.unknown_fields(fields)
    if unknown:
        raise ConfigError(
            f"unknown preset override(s): {', '.join(unknown)}; give trial-config fields "
            f"or {', '.join(GRID_KEYS)}"
        )
    return get_preset(preset).base.replace(**fields)


def submit_preset(store: Store, preset: str, **overrides: Any) -> int:
    """Queue a preset's grid; returns the experiment id.

    ``overrides`` are trial-config fields (``epochs=5``, ``dataset="mnist"`` …) or
    grid keys (``strategies``, ``fractions``, ``trials``, ``name``).
    """
    chosen = get_preset(preset)
    grid = {key: overrides[key] for key in GRID_KEYS if key in overrides}
    return create_experiment(
        store,
        preset_base(preset, overrides),
        grid.get("strategies", chosen.strategies),
        grid.get("fractions", chosen.fractions),
        grid.get("trials", chosen.trials),
        name=grid.get("name") or f"{chosen.name} preset",
        extra={"preset": chosen.name},
    )


# -- progress, cancellation, runner health ----------------------------------------
def planned_rounds(config: dict[str, Any]) -> int | None:
    """Rounds (curve points) a trial config will record, or ``None`` when only the
    pool size (unknown without loading the data) bounds it."""
    initial = len(config.get("initial_indices") or []) or config["initial"]
    bounds = []
    if config.get("rounds") is not None:
        bounds.append(config["rounds"] + 1)
    if config.get("budget") is not None:
        bounds.append(math.ceil(max(config["budget"] - initial, 0) / config["batch"]) + 1)
    if config.get("pool_size") is not None:
        bounds.append(math.ceil(max(config["pool_size"] - initial, 0) / config["batch"]) + 1)
    if not bounds or config.get("stop_at_target"):
        return None
    return min(bounds) + int(config.get("auto_label_steps") or 0)


#: Trial statuses that still change; an experiment with none is finished.
OPEN_TRIAL_STATUSES = ("queued", "running")


def experiment_progress(store: Store, experiment_id: int) -> dict[str, Any]:
    """Where an experiment stands, from one query.

    Returns ``status``, trial counts (``trials``, ``done``, ``running``,
    ``failed``, ``queued``, ``cancelled``), ``finished`` (no trial queued or
    running: nothing will change), ``percent`` (finished trials count whole,
    running ones by rounds stored), ``eta_seconds`` and ``trials_detail``: per
    trial ``trial_id``, ``strategy``, ``fraction``, ``seed``, ``status``,
    ``round`` (index of its last stored round: 0 is the fit on the initial
    labels; ``None`` before it), ``rounds_total`` (index of its last planned
    round, ``None`` when unknown) and ``error``.

    ``eta_seconds`` is ``None`` once finished, and while estimating: before any
    trial has finished, because the first rounds include starting workers and
    importing TensorFlow and later rounds train on more labels, so early round
    paces mislead (a 1.5-minute run once showed 5 minutes). Then it is the
    remaining work (queued trials whole, running ones by the share of rounds
    left) × the mean seconds a finished trial took (``finished_at -
    started_at``) ÷ the trials running at once (at least one).
    """
    experiment = store.experiment(experiment_id)
    rows = store.trial_progress(experiment_id)
    counts = Counter(row["status"] for row in rows)
    finished_lengths = [r["rounds_done"] for r in rows if r["status"] == "done"]
    fallback_total = max(finished_lengths) if finished_lengths else None
    details, trial_seconds = [], []
    work_done, work_left = 0.0, 0.0
    for row in rows:
        points = row["rounds_done"] if row["status"] == "done" else planned_rounds(row["config"])
        points = points if points is not None else fallback_total
        share = min(row["rounds_done"] / points, 0.99) if points else 0.0
        if row["status"] in ("done", "failed", "cancelled"):
            work_done += 1.0
        elif row["status"] == "running":
            work_done += share
            work_left += 1.0 - share
        else:
            work_left += 1.0
        if row["status"] == "done" and row["started_at"] and row["finished_at"]:
            trial_seconds.append(row["finished_at"] - row["started_at"])
        details.append(
            {
                "trial_id": row["id"],
                "strategy": row["strategy"],
                "fraction": row["fraction"],
                "seed": row["seed"],
                "status": row["status"],
                "round": row["rounds_done"] - 1 if row["rounds_done"] else None,
                "rounds_total": None if points is None else points - 1,
                "error": row["error"],
            }
        )
    open_trials = sum(counts[s] for s in OPEN_TRIAL_STATUSES)
    eta: float | None = None
    if open_trials and trial_seconds:
        per_trial = sum(trial_seconds) / len(trial_seconds)
        eta = work_left * per_trial / max(counts["running"], 1)
    return {
        "status": experiment["status"],
        "trials": len(rows),
        "done": counts["done"],
        "running": counts["running"],
        "failed": counts["failed"],
        "queued": counts["queued"],
        "cancelled": counts["cancelled"],
        "finished": open_trials == 0,
        "percent": 100.0 * work_done / len(rows) if rows else 100.0,
        "eta_seconds": eta,
        "trials_detail": details,
    }


def cancel_experiment(store: Store, experiment_id: int) -> None:
    """Cancel an experiment: queued trials never start, running ones stop at their
    next round boundary, rounds already stored are kept. Idempotent."""
    store.request_cancel(experiment_id)
    recover_orphans(store)  # trials of a dead runner end as cancelled now
    finish_experiment(store, experiment_id)


def _pid_alive(pid: int, registered_at: float) -> bool:
    """Is ``pid`` a live (non-zombie) process that existed at ``registered_at``?"""
    try:
        process = psutil.Process(pid)
        return (
            process.status() != psutil.STATUS_ZOMBIE
            and process.create_time() <= registered_at + 1.0  # not a reused pid
        )
    except psutil.Error:
        return False


def _runner_alive(row: dict[str, Any]) -> bool:
    if row["stopped_at"] is not None or time.time() - row["heartbeat_at"] > STALE_SECONDS:
        return False
    return row["host"] != socket.gethostname() or _pid_alive(row["pid"], row["started_at"])


def runner_health(store: Store) -> dict[str, Any] | None:
    """The newest runner: ``id``, ``pid``, ``host``, ``alive``, ``heartbeat_age``
    (seconds), ``workers``, ``executor``; ``None`` when no runner ever ran."""
    row = store.newest_runner()
    if row is None:
        return None
    return {
        "id": row["id"],
        "pid": row["pid"],
        "host": row["host"],
        "alive": _runner_alive(row),
        "heartbeat_age": max(time.time() - row["heartbeat_at"], 0.0),
        "workers": row["workers"],
        "executor": row["executor"],
    }


def recover_orphans(store: Store) -> list[int]:
    """Re-queue trials left ``running`` by dead runners; returns their ids."""
    recovered = []
    for row in store.runners_holding_trials():
        if not _runner_alive(row):
            trial_ids = store.requeue_runner_trials(
                [row["id"]],
                f"runner {row['id']} (pid {row['pid']} on {row['host']}) died while the "
                "trial ran; re-queued",
            )
            for trial_id in trial_ids:  # spool files of its attempts will never be read
                for path in spool_dir(store.path).glob(f"trial-{trial_id}-{row['id']}-*.jsonl"):
                    path.unlink(missing_ok=True)
            recovered += trial_ids
    if recovered:
        log.warning("re-queued trials %s left running by dead runners", recovered)
    return recovered


def spool_dir(db_path: str | os.PathLike[str]) -> Path:
    """Folder where workers append the rounds of the trials they run."""
    db = Path(db_path).resolve()
    return db.with_name(db.name + ".spool")


def runner_log_path(db_path: str | os.PathLike[str]) -> Path:
    """Log file of runners started by :func:`ensure_runner`."""
    db = Path(db_path).resolve()
    return db.with_name(db.name + ".runner.log")


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, e.g. under ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_runner_options(workers: int, executor: str, scheduler: str | None) -> None:
    """Refuse bad worker settings with a :class:`ConfigError` naming the fix."""
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise ConfigError(
            "the dask executor needs --scheduler tcp://HOST:PORT (start one with `dask scheduler`)"
        )


def ensure_runner(
    db_path: str | os.PathLike[str],
    *,
    workers: int = 2,
    executor: str = "local",
    scheduler: str | None = None,
    wait_seconds: float = 20.0,
) -> dict[str, Any]:
    """Start a detached runner unless a live one already serves ``db_path``.

    The runner (``python -m al_core runner --exit-when-idle``) is a new session
    (it outlives Streamlit reruns and restarts) logging to
    :func:`runner_log_path`; it exits once the queue is empty. Waits up to
    ``wait_seconds`` for its first heartbeat. Returns :func:`runner_health`.
    """
    check_runner_options(workers, executor, scheduler)
    with Store(db_path) as store:
        health = runner_health(store)
    if health is not None and health["alive"]:
        return health
    command = [
        sys.executable, "-m", "al_core", "runner", "--exit-when-idle",
        "--db", str(Path(db_path).resolve()), "--workers", str(workers),
        "--executor", executor,
    ]  # fmt: skip
    if scheduler:
        command += ["--scheduler", scheduler]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    log_path = runner_log_path(db_path)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_seconds
    with Store(db_path) as store:
        while time.monotonic() < deadline:
            health = runner_health(store)
            if health is not None and health["pid"] == process.pid:
                return health
            if process.poll() not in (None, 0):
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise StoreError(
                    f"the runner exited with status {process.returncode}: "
                    + " / ".join(tail)
                    + f" (log: {log_path})"
                )
            time.sleep(0.1)
    raise StoreError(f"the runner did not report within {wait_seconds:g} s; see {log_path}")


# -- the worker side ----------------------------------------------------------------
@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one claimed trial (picklable, paths absolute)."""

    trial_id: int
    attempt: int
    runner_id: str
    config: dict[str, Any]
    db_path: str
    spool_path: str
    threads: int | None


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker returns: the loop's stop reason, why it stopped early (a
    :func:`claim_stop_reason` value, or ``None``), every round (dicts), the
    largest resident memory sampled at round boundaries, and wall seconds."""

    trial_id: int
    stop_reason: str
    stopped_because: str | None
    rounds: list[dict[str, Any]]
    peak_rss_bytes: int
    seconds: float
    pid: int
    #: :func:`al_core.environment.capture` in the worker: CPU, threads, versions.
    environment: dict[str, Any] | None = None


def _start_worker(threads: int | None, runner_pid: int | None = None) -> None:
    """Pool initializer: import TensorFlow here, with this worker's thread count.

    With ``runner_pid``, a watcher thread ends this process as soon as the runner
    is gone (killed): an idle pool worker would otherwise wait forever on its
    call queue, and a busy one would finish a trial nobody collects.
    """
    from al_core import models

    if runner_pid is not None:
        threading.Thread(target=_exit_with, args=(runner_pid,), daemon=True).start()
    # Every trial builds its own model, so Keras retraces per trial: expected, not news.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    models.configure_runtime(threads)


def _exit_with(runner_pid: int) -> None:
    while os.getppid() == runner_pid:
        time.sleep(1.0)
    os._exit(0)


def execute_trial(task: TrialTask) -> TrialOutcome:
    """Run one claimed trial in a worker process; rounds go to the spool file.

    Never writes to SQLite; reads it (read-only) at each round boundary to stop
    on cancellation or when the claim is no longer this runner's.
    """
    _start_worker(task.threads)  # no-op when the pool initializer already did it
    started = time.perf_counter()
    process = psutil.Process()
    peak = process.memory_info().rss
    config = TrialConfig.from_dict(task.config)
    dataset = dataset_for(config)
    stopped_because: str | None = None

    def should_stop() -> bool:
        nonlocal stopped_because
        stopped_because = claim_stop_reason(
            task.db_path, task.trial_id, task.runner_id, task.attempt, STALE_SECONDS
        )
        return stopped_because is not None

    spool = Path(task.spool_path)
    spool.parent.mkdir(parents=True, exist_ok=True)
    with spool.open("a", encoding="utf-8") as out:

        def record(r: RoundRecord) -> None:
            nonlocal peak
            out.write(json.dumps(r.to_dict()) + "\n")
            out.flush()
            peak = max(peak, process.memory_info().rss)

        result = run_loop(dataset, config, on_round=record, should_stop=should_stop)
    return TrialOutcome(
        trial_id=task.trial_id,
        stop_reason=result.stop_reason,
        stopped_because=stopped_because,
        rounds=[r.to_dict() for r in result.rounds],
        peak_rss_bytes=max(peak, process.memory_info().rss),
        seconds=time.perf_counter() - started,
        pid=os.getpid(),
        environment=environment.capture(),
    )


# -- the runner -----------------------------------------------------------------------
def connect_dask(scheduler: str, *, timeout: float = DASK_CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` on ``scheduler``; :class:`ConfigError` if unreachable."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
            "check the address, start one (`dask scheduler`, then `dask worker ADDRESS "
            "--nthreads 1`), or use --executor local"
        ) from exc


@dataclass
class _Job:
    """A claimed trial submitted to an executor, and how far its spool was read."""

    trial_id: int
    experiment_id: int
    attempt: int
    future: Future
    spool: Path
    offset: int = 0
    next_round: int = 0
    claim_lost: bool = False


@dataclass
class _Slot:
    """One worker slot: an executor and the job it runs, if any."""

    executor: Executor
    job: _Job | None = None


class Runner:
    """Claims queued trials from the store and runs them on executors.

    Parameters
    ----------
    store : the open store; only this process writes results to it.
    workers : trials run at once (slots).
    executor : ``"local"`` (a spawn process pool of one per slot) or ``"dask"``.
    scheduler : the Dask scheduler address (``tcp://HOST:PORT``), dask only.
        Start Dask workers with one thread each (``--nthreads 1``): TensorFlow's
        seeding is per process.
    threads : TensorFlow threads per worker; default usable cores ÷ workers.
    max_attempts : starts per trial before a failing trial stays ``failed``.
    exit_when_idle : stop when no trial is queued (else run until interrupted).
    poll_seconds : how often the spool is read and free slots filled.
    """

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 2,
        executor: str = "local",
        scheduler: str | None = None,
        threads: int | None = None,
        max_attempts: int = 3,
        exit_when_idle: bool = False,
        poll_seconds: float = 0.2,
    ) -> None:
        check_runner_options(workers, executor, scheduler)
        if max_attempts < 1:
            raise ConfigError(f"max attempts must be >= 1, got {max_attempts}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        self.store = store
        self.db_path = store.path.resolve()
        self.workers = workers
        self.executor_kind = executor
        self.threads = threads or max(1, available_cores() // workers)
        self.max_attempts = max_attempts
        self.experiment_id: int | None = None
        self.exit_when_idle = exit_when_idle
        self.poll_seconds = poll_seconds
        self.id = uuid.uuid4().hex[:12]
        self.spool = spool_dir(self.db_path)
        #: Outcomes of the trials this runner finished, by trial id.
        self.outcomes: dict[int, TrialOutcome] = {}
        self._dask = connect_dask(scheduler) if executor == "dask" else None  # type: ignore[arg-type]

    def close(self) -> None:
        """Disconnect from Dask (local pools are shut down by :meth:`run`)."""
        if self._dask is not None:
            self._dask.close()
            self._dask = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_executor(self) -> Executor:
        if self._dask is not None:
            return self._dask.get_executor(pure=False)  # retries must not be deduplicated
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # TensorFlow is not fork-safe
            initializer=_start_worker,
            initargs=(self.threads, os.getpid()),
        )

    def run(
        self,
        *,
        experiment_id: int | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Serve queued trials until the exit condition.

        ``experiment_id``: run only that experiment's trials and return once it
        has none queued or running (else see ``exit_when_idle``). ``on_tick`` is
        called after every poll (progress bars).
        """
        self.experiment_id = experiment_id
        self.store.register_runner(
            self.id,
            pid=os.getpid(),
            host=socket.gethostname(),
            executor=self.executor_kind,
            workers=self.workers,
        )
        log.info(
            "runner %s: %d %s worker(s), %d thread(s) each, db %s",
            self.id, self.workers, self.executor_kind, self.threads, self.db_path,
        )  # fmt: skip
        self.spool.mkdir(parents=True, exist_ok=True)
        slots = [_Slot(self._new_executor()) for _ in range(self.workers)]
        next_heartbeat = next_recovery = 0.0
        try:
            while True:
                now = time.monotonic()
                if now >= next_heartbeat:
                    self.store.heartbeat(self.id)
                    next_heartbeat = now + HEARTBEAT_SECONDS
                if now >= next_recovery:
                    recover_orphans(self.store)
                    next_recovery = now + RECOVERY_SECONDS
                for slot in slots:
                    if slot.job is not None:
                        self._ingest(slot.job)
                        if slot.job.future.done():
                            self._finish(slot)
                for slot in slots:
                    if slot.job is None and not self._start_next(slot):
                        break
                if on_tick is not None:
                    on_tick()
                if all(slot.job is None for slot in slots) and self._done():
                    return
                time.sleep(self.poll_seconds)
        finally:
            self._shutdown(slots)

    def _done(self) -> bool:
        if self.experiment_id is not None:
            return sum(self.store.count_open_trials(self.experiment_id).values()) == 0
        if not self.exit_when_idle:
            return False
        recover_orphans(self.store)
        if self.store.count_open_trials()["queued"]:
            return False
        # Mark stopped *before* the last look: a client that queues work after
        # that look sees this runner stopped and starts another one.
        self.store.mark_runner_stopped(self.id)
        return self.store.count_open_trials()["queued"] == 0

    def _start_next(self, slot: _Slot) -> bool:
        trial = self.store.claim_trial(self.id, self.experiment_id)
        if trial is None:
            return False
        attempt = int(trial["attempts"])
        spool = self.spool / f"trial-{trial['id']}-{self.id}-{attempt}.jsonl"
        task = TrialTask(
            trial_id=trial["id"],
            attempt=attempt,
            runner_id=self.id,
            config=trial["config"],
            db_path=str(self.db_path),
            spool_path=str(spool),
            threads=self.threads,
        )
        try:
            future = slot.executor.submit(execute_trial, task)
        except BrokenExecutor:  # the pool broke while idle: replace it and retry once
            slot.executor = self._new_executor()
            future = slot.executor.submit(execute_trial, task)
        slot.job = _Job(trial["id"], trial["experiment_id"], attempt, future, spool)
        log.info(
            "trial %d (experiment %d: %s u=%g seed %d) started, attempt %d",
            trial["id"], trial["experiment_id"], trial["strategy"], trial["fraction"],
            trial["seed"], attempt,
        )  # fmt: skip
        return True

    def _ingest(self, job: _Job, extra: Sequence[dict[str, Any]] = ()) -> None:
        """Store the job's new rounds: complete spool lines, then ``extra`` ones."""
        records = []
        if job.spool.exists():
            with job.spool.open("rb") as spool:
                spool.seek(job.offset)
                data = spool.read()
            complete = data[: data.rfind(b"\n") + 1]
            job.offset += len(complete)
            records = [json.loads(line) for line in complete.splitlines()]
        fresh = []
        for record in [*records, *extra]:
            if record["round"] == job.next_round:  # earlier ones are stored already
                fresh.append(record)
                job.next_round += 1
        if (
            fresh
            and not job.claim_lost
            and not self.store.add_claimed_rounds(job.trial_id, self.id, job.attempt, fresh)
        ):
            job.claim_lost = True
            log.warning("trial %d was re-queued elsewhere; dropping its rounds", job.trial_id)

    def _finish(self, slot: _Slot) -> None:
        job, slot.job = slot.job, None
        assert job is not None
        error, retry, stop_reason = None, False, None
        try:
            outcome = job.future.result()
        except BrokenExecutor:
            error = (
                f"attempt {job.attempt}: the worker process died while running this trial "
                "(killed by a signal, or out of memory)"
            )
            retry = True
            _shutdown_executor(slot.executor)
            slot.executor = self._new_executor()
        except ALError as exc:  # a bad config or data set: no retry fixes it
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            error = f"attempt {job.attempt}: " + "".join(traceback.format_exception(exc))
            retry = True
        if error is None:
            self._ingest(job, outcome.rounds)
            self.outcomes[job.trial_id] = outcome
            stop_reason = outcome.stop_reason
            if outcome.environment is not None and not job.claim_lost:
                self.store.set_trial_environment(job.trial_id, outcome.environment)
            if outcome.stopped_because is None:
                status = "done"
            elif outcome.stopped_because == "cancelled":
                status = "cancelled"
            else:  # our heartbeat was late, or the claim moved: give the trial back
                status, error = "queued", f"stopped early ({outcome.stopped_because}); re-queued"
            log.info(
                "trial %d %s: %d rounds in %.1f s, worker peak RSS %.0f MiB",
                job.trial_id, status, job.next_round, outcome.seconds,
                outcome.peak_rss_bytes / 2**20,
            )  # fmt: skip
        else:
            self._ingest(job)  # rounds done before the failure stay visible
            status = "queued" if retry and job.attempt < self.max_attempts else "failed"
            log.error("trial %d attempt %d failed (%s): %s", job.trial_id, job.attempt,
                      "retrying" if status == "queued" else "giving up",
                      error.strip().splitlines()[-1])  # fmt: skip
        if not job.claim_lost:
            self.store.finish_claimed_trial(
                job.trial_id, self.id, job.attempt, status, error=error, stop_reason=stop_reason
            )
            finish_experiment(self.store, job.experiment_id)
        job.spool.unlink(missing_ok=True)

    def _shutdown(self, slots: list[_Slot]) -> None:
        """Give back unfinished trials (their workers stop at the next round) and stop."""
        try:
            if any(slot.job is not None for slot in slots):
                self.store.requeue_runner_trials(
                    [self.id], f"runner {self.id} stopped before the trial finished; re-queued"
                )
            else:
                self.store.mark_runner_stopped(self.id)
        except StoreError as exc:  # the next runner re-queues them from the stale heartbeat
            log.error("could not hand back running trials: %s", exc)
        for slot in slots:
            if slot.job is not None:
                slot.job.spool.unlink(missing_ok=True)
            _shutdown_executor(slot.executor)


def _shutdown_executor(executor: Executor) -> None:
    """Stop an executor without waiting for running work (Dask's has no cancel flag)."""
    if isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=False, cancel_futures=True)
    else:
        executor.shutdown(wait=False)
