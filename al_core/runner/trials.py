"""Experiments as grids of trials, and running one trial in this process.

:func:`plan_trials` expands a grid (strategies × uncertainty fractions × seeds)
into trial specs, adding the random baseline (fraction 0) that every comparison
needs; :func:`create_experiment` writes the experiment and all its trials to the
store before anything runs (:func:`create_single_trial`: a one-trial experiment,
set running); :func:`run_trial` runs one trial here and writes each
round as it finishes; :func:`finish_experiment` sets an experiment's status from
its trials' and, once its active trials have finished, queues the random
baseline's extension (:func:`plan_baseline_extension`). :func:`cached_dataset` /
:func:`dataset_for` load a trial's data set once per process.
"""

from __future__ import annotations

import functools
import statistics
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
            # Only the random baseline runs on past the budget (plan_baseline_extension).
            extension = {} if fraction == 0 else {"baseline_cap": None, "baseline_target": None}
            config = base.replace(strategy=strategy, fraction=fraction, seed=seed, **extension)
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
    extend_baseline: bool = True,
    extra: dict[str, Any] | None = None,
) -> int:
    """Store an experiment and all its (queued) trials; returns the experiment id.

    With ``extend_baseline`` (and a random baseline), the random trials may run on
    past the active budget to ``base.baseline_cap`` labels, by default
    :meth:`TrialConfig.default_baseline_cap` (``None`` there: no extension).
    """
    base = resolve_baseline_cap(base, extend_baseline and baseline)
    specs = plan_trials(base, strategies, fractions, trials, baseline=baseline)
    config = {
        "base": base.to_dict(),
        "strategies": list(strategies),
        "fractions": [float(f) for f in fractions],
        "trials": trials,
        "baseline": baseline,
        "extend_baseline": base.baseline_cap is not None,
        **(extra or {}),
    }
    name = name or f"{base.dataset} · {base.model} · {', '.join(strategies)}"
    return store.create_experiment(name, config, specs, kind=kind)


def resolve_baseline_cap(base: TrialConfig, extend: bool) -> TrialConfig:
    """``base`` with the extension's cap filled in (``extend``) or cleared; a cap given
    while the extension is off is refused rather than silently dropped."""
    if not extend:
        if base.baseline_cap is not None:
            raise ConfigError(
                f"a baseline cap ({base.baseline_cap}) was given but the baseline extension "
                "is off; drop the cap or turn the extension on"
            )
        return base
    if base.baseline_cap is not None:
        return base
    return base.replace(baseline_cap=base.default_baseline_cap())


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
    replay = extension_replay(store, row)
    store.set_trial_status(trial_id, "running")
    if replay:  # a baseline extension: what an earlier attempt of it stored goes
        store.delete_rounds(trial_id, keep_phase="active")

    def record(r: RoundRecord) -> None:
        store.add_round(trial_id, r.to_dict())
        if on_round is not None:
            on_round(r)

    try:
        result = run_loop(
            dataset_for(config), config, on_round=record, should_stop=should_stop, replay=replay
        )
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


def plan_baseline_extension(store: Store, experiment_id: int) -> list[int]:
    """Once every trial of a sweep is done, queue its random trials' extension.

    The target is the best median final accuracy (last active round) of any active
    configuration; each random trial with a ``baseline_cap`` that ended below it and
    below its cap is queued again with ``baseline_target`` set, to run on from its
    stored active rounds (:func:`al_core.loop.run_loop` ``replay``). Planned once:
    the target is recorded in the experiment's config. Returns the queued trial ids.
    """
    experiment = store.experiment(experiment_id)
    if "baseline_target" in experiment["config"]:
        return []
    trials = store.trials(experiment_id)
    randoms = [t for t in trials if t["fraction"] == 0 and t["config"].get("baseline_cap")]
    if not randoms or any(t["status"] != "done" for t in trials):
        return []
    finals: dict[int, dict[str, Any]] = {}
    for trial in trials:
        active = [r for r in store.rounds(trial["id"]) if r["phase"] == "active"]
        if active:
            finals[trial["id"]] = active[-1]
    by_config: dict[tuple[str, float], list[float]] = {}
    for trial in trials:
        if trial["fraction"] > 0 and trial["id"] in finals:
            key = (trial["strategy"], trial["fraction"])
            by_config.setdefault(key, []).append(float(finals[trial["id"]]["test_accuracy"]))
    if not by_config:
        return []
    target = max(statistics.median(values) for values in by_config.values())
    configs = {}
    for trial in randoms:
        final = finals.get(trial["id"])
        cap = int(trial["config"]["baseline_cap"])
        if final is None or final["test_accuracy"] >= target or final["labeled"] >= cap:
            continue
        config = TrialConfig.from_dict(trial["config"]).replace(baseline_target=target)
        configs[trial["id"]] = config.to_dict()
    return store.queue_baseline_extension(experiment_id, target, configs)


def extension_replay(store: Store, trial: dict[str, Any]) -> list[RoundRecord]:
    """The stored active rounds a trial queued for the baseline extension goes on
    from (``[]`` for any other trial: it runs from the start)."""
    if trial["config"].get("baseline_target") is None:
        return []
    return [RoundRecord.from_stored(r) for r in store.rounds(trial["id"]) if r["phase"] == "active"]


def finish_experiment(store: Store, experiment_id: int) -> str:
    """Set the experiment's status from its trials' and return it (first queueing the
    random baseline's extension when every trial is done)."""
    plan_baseline_extension(store, experiment_id)
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
