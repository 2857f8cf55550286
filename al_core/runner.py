"""Experiments as grids of trials, and running trials into the store.

An experiment is a grid of strategies × uncertainty fractions × trials (seeds)
over one base configuration. :func:`plan_trials` expands it, adding the random
baseline (fraction 0) that every comparison needs; :func:`create_experiment`
writes the experiment and all its trials to the store before anything runs;
:func:`run_trial` runs one trial in this process and writes each round as it
finishes.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from al_core.datasets import Dataset, load_dataset
from al_core.errors import ConfigError
from al_core.loop import LoopResult, RoundRecord, TrialConfig, run_loop
from al_core.store import Store, TrialSpec

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
    every configuration so comparisons can be paired by seed. A fraction of 0
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
    specs = []
    for strategy, fraction in sorted(configs, key=lambda c: (c[1], c[0])):
        for seed in range(base.seed, base.seed + trials):
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
    source: str, pool_size: int | None, test_size: int | None, val_size: int, seed: int
) -> Dataset:
    """Load a data set once per process: every trial of a sweep shares it."""
    return load_dataset(
        source, pool_size=pool_size, test_size=test_size, val_size=val_size, seed=seed
    )


def dataset_for(config: TrialConfig) -> Dataset:
    """The data set a trial config names (cached)."""
    return cached_dataset(
        config.dataset, config.pool_size, config.test_size, config.val_size, config.data_seed
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
        store.set_trial_status(
            trial_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
        raise
    status = "cancelled" if result.stop_reason == "cancelled" else "done"
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
