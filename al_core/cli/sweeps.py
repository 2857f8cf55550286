"""``python -m al_core sweep`` and ``runner``: a grid of trials run in the foreground
with a progress display (then reported), queued for a background runner with
``--detach``, or served by a long-lived runner process."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from al_core.cli.common import (
    _check_against_dataset,
    _default_model_and_dropout,
    _open_store,
    _print_skipped,
    _trial_config,
    log,
)
from al_core.cli.progress import _run_with_progress
from al_core.cli.reports import cmd_report
from al_core.errors import ConfigError


def _resolve_sweep_flags(args: argparse.Namespace) -> None:
    """Fill flags not given on the command line from --preset, else their defaults."""
    from al_core import runner

    values = dict(args.flag_defaults)
    if args.preset is not None:
        preset = runner.get_preset(args.preset)
        values.update({k: v for k, v in preset.base.to_dict().items() if k in values})
        values.update(
            strategies=list(preset.strategies),
            fractions=list(preset.fractions),
            trials=preset.trials,
        )
    for dest in args.flag_defaults:
        if getattr(args, dest) is not None:
            values[dest] = getattr(args, dest)
    for dest, value in values.items():
        setattr(args, dest, value)


def cmd_sweep(args: argparse.Namespace) -> int:
    from al_core import runner

    given_dropout = args.dropout  # None unless on the command line
    _resolve_sweep_flags(args)
    _default_model_and_dropout(args, given_dropout, args.strategies or [])
    if not args.strategies or not args.fractions:
        raise ConfigError(
            "the grid is empty: give at least one strategy (--strategies margin) and one "
            "fraction (--fractions 0,0.5,1)"
        )
    runner.check_runner_options(args.workers, args.executor, args.scheduler)
    base = _trial_config(args, strategy=args.strategies[0], fraction=1.0)
    base = runner.resolve_baseline_cap(
        base.replace(baseline_cap=args.baseline_cap),
        not args.no_extend_baseline and not args.no_baseline,
    )
    for name in args.strategies:  # validate every name before anything is stored
        base.replace(strategy=name)
    runner.plan_trials(base, args.strategies, args.fractions, args.trials)
    dataset = runner.dataset_for(base)
    _check_against_dataset(base, dataset, args.strategies)
    _print_skipped(dataset)
    runner.cached_dataset.cache_clear()  # workers load their own copy

    def store_experiment(store: Any) -> int:
        return runner.create_experiment(
            store,
            base,
            args.strategies,
            args.fractions,
            args.trials,
            name=args.name or (f"{args.preset} preset" if args.preset else None),
            baseline=not args.no_baseline,
            extend_baseline=base.baseline_cap is not None,
            extra={"preset": args.preset} if args.preset else None,
        )

    if args.detach:
        if args.executor == "dask":
            runner.connect_dask(args.scheduler).close()  # unreachable: refuse before storing
        with _open_store(args) as store:
            experiment_id = store_experiment(store)
            n_trials = len(store.trials(experiment_id))
        health = runner.ensure_runner(
            store.path, workers=args.workers, executor=args.executor, scheduler=args.scheduler
        )
        print(experiment_id)
        print(
            f"experiment {experiment_id}: {n_trials} trials queued; runner {health['id']} "
            f"(pid {health['pid']}); follow it with `python -m al_core status {experiment_id}`",
            file=sys.stderr,
        )
        return 0
    with (
        _open_store(args) as store,
        _runner_for(store, args) as sweep_runner,
    ):
        experiment_id = store_experiment(store)
        n_trials = len(store.trials(experiment_id))
        print(f"experiment {experiment_id}: {n_trials} trials", file=sys.stderr)
        try:
            _run_with_progress(store, sweep_runner, experiment_id, n_trials)
        except KeyboardInterrupt:
            print(
                f"interrupted: experiment {experiment_id}'s unfinished trials are queued; "
                "resume with `python -m al_core runner --exit-when-idle`",
                file=sys.stderr,
            )
            return 130
        status = store.experiment(experiment_id)["status"]
    print(f"experiment {experiment_id}: {status}", file=sys.stderr)
    args.experiments, args.csv, args.json = [experiment_id], None, False
    return cmd_report(args)


def _runner_for(store: Any, args: argparse.Namespace, **extra: Any) -> Any:
    """A :class:`al_core.runner.Runner` configured from the command's flags."""
    from al_core import runner

    return runner.Runner(
        store,
        workers=args.workers,
        executor=args.executor,
        scheduler=args.scheduler,
        threads=args.threads,
        max_attempts=args.max_attempts,
        **extra,
    )


def cmd_runner(args: argparse.Namespace) -> int:
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds through Runner.run, which hands trials back

    signal.signal(signal.SIGTERM, stop)
    with (
        _open_store(args) as store,
        _runner_for(store, args, exit_when_idle=args.exit_when_idle) as background,
    ):
        try:
            background.run()
        except KeyboardInterrupt:
            log.info("runner %s stopped; its unfinished trials are queued again", background.id)
    return 0
