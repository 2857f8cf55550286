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

Modules
-------
- :mod:`~al_core.runner.trials`: planning a grid, storing an experiment, running
  one trial in this process, finishing an experiment.
- :mod:`~al_core.runner.presets`: the named presets, their overrides, and
  submitting (queuing) sweeps.
- :mod:`~al_core.runner.progress`: an experiment's progress and ETA; cancelling.
- :mod:`~al_core.runner.health`: runner liveness, orphan recovery, the spool and
  log paths, starting a detached runner (:func:`ensure_runner`).
- :mod:`~al_core.runner.executors`: executor kinds and options, connecting to
  Dask, stopping an executor.
- :mod:`~al_core.runner.worker`: the worker-process side (:func:`execute_trial`).
- :mod:`~al_core.runner.service`: the :class:`Runner` loop (claims, heartbeats,
  spool ingestion, retries, hand-back on stop).

Every public name is re-exported here, so ``from al_core.runner import X`` and
``runner.X`` keep working.
"""

from __future__ import annotations

from al_core.runner.executors import (
    DASK_CONNECT_TIMEOUT,
    EXECUTORS,
    available_cores,
    check_runner_options,
    connect_dask,
)
from al_core.runner.health import (
    STALE_SECONDS,
    ensure_runner,
    recover_orphans,
    runner_health,
    runner_log_path,
    spool_dir,
)
from al_core.runner.presets import (
    GRID_KEYS,
    PRESETS,
    Preset,
    get_preset,
    preset_base,
    submit_experiment,
    submit_preset,
)
from al_core.runner.progress import (
    OPEN_TRIAL_STATUSES,
    cancel_experiment,
    experiment_progress,
    planned_rounds,
    time_left_text,
)
from al_core.runner.service import HEARTBEAT_SECONDS, RECOVERY_SECONDS, Runner
from al_core.runner.trials import (
    cached_dataset,
    create_experiment,
    create_single_trial,
    dataset_for,
    finish_experiment,
    plan_baseline_extension,
    plan_trials,
    resolve_baseline_cap,
    run_trial,
)
from al_core.runner.worker import TrialOutcome, TrialTask, execute_trial

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "EXECUTORS",
    "GRID_KEYS",
    "HEARTBEAT_SECONDS",
    "OPEN_TRIAL_STATUSES",
    "PRESETS",
    "RECOVERY_SECONDS",
    "STALE_SECONDS",
    "Preset",
    "Runner",
    "TrialOutcome",
    "TrialTask",
    "available_cores",
    "cached_dataset",
    "cancel_experiment",
    "check_runner_options",
    "connect_dask",
    "create_experiment",
    "create_single_trial",
    "dataset_for",
    "ensure_runner",
    "execute_trial",
    "experiment_progress",
    "time_left_text",
    "finish_experiment",
    "get_preset",
    "plan_baseline_extension",
    "plan_trials",
    "planned_rounds",
    "preset_base",
    "recover_orphans",
    "resolve_baseline_cap",
    "run_trial",
    "runner_health",
    "runner_log_path",
    "spool_dir",
    "submit_experiment",
    "submit_preset",
]
