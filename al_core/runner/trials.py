"""Experiments as grids of trials, and running one trial in this process.

:func:`plan_trials` expands a grid (strategies × uncertainty fractions × seeds)
into trial specs, adding the random baseline (fraction 0) that every comparison
needs; :func:`create_experiment` writes the experiment and all its trials to the
store before anything runs (:func:`create_single_trial`: a one-trial experiment,
set running); :func:`run_trial` runs one trial here and writes each
round as it finishes; :func:`finish_experiment` sets an experiment's status from
its trials'. :func:`cached_dataset` / :func:`dataset_for` load a trial's data set
once per process.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from al_core import environment
from al_core.datasets import Dataset, load_dataset, repeat_pool
from al_core.errors import ConfigError
from al_core.loop import LoopResult, RoundRecord, TrialConfig, run_loop
from al_core.store import Store, TrialSpec


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


def create_single_trial(store: Store, config: TrialConfig, kind: str, name: str) -> tuple[int, int]:
    """Store a one-trial experiment of ``config`` (no baseline) and set it running,
    to run here with :func:`run_trial` and then :func:`finish_experiment` (the
    command line's ``run``, a labeling session's audit). Returns (experiment id,
    trial id)."""
    experiment_id = create_experiment(
        store,
        config,
        [config.strategy],
        [config.fraction],
        1,
        baseline=False,
        kind=kind,
        name=name,
    )
    trial_id = store.trials(experiment_id)[0]["id"]
    store.set_experiment_status(experiment_id, "running")
    return experiment_id, trial_id


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
