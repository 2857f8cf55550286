"""Command line: ``python -m al_core {run,sweep,runner,status,cancel,report} …``.

Results go to stdout (a table, or JSON with ``--json``); logs and progress go
to stderr. Bad input exits with status 2 and a one-line message naming the
problem and the fix.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

from al_core import __version__
from al_core.errors import ALError, ConfigError
from al_core.models import defaults_text

log = logging.getLogger("al_core")

EPILOG_RUN = """examples:
  python -m al_core run --dataset digits --strategy margin --initial 20 --batch 10 \\
      --rounds 15 --seed 0 --json
  python -m al_core run --dataset mnist --pool-size 4000 --test-size 400 --model softmax \\
      --strategy least_confidence --initial 10 --batch 10 --budget 400 --patience 10 \\
      --epochs 200 --auto-label-steps 5
"""

EPILOG_SWEEP = """examples:
  python -m al_core sweep --dataset digits --strategies margin,entropy \\
      --fractions 0,0.5,1 --trials 3 --initial 20 --batch 10 --rounds 10 --target 0.9
  python -m al_core sweep --preset demo --workers 2
  python -m al_core sweep --preset demo --min-steps 100 --detach   # queue; a runner starts
  python -m al_core sweep --preset demo --executor dask --scheduler tcp://10.0.0.5:8786 \\
      --workers 8
presets: demo, cifar10-fraction, mnist-400 (flags given with --preset override it)
"""

# Trial-config fields that are command-line flags of the same name.
_TRIAL_FLAGS: tuple[str, ...] = (
    "dataset", "pool_size", "test_size", "val_size", "data_seed", "model", "initial",
    "initial_mode", "batch", "rounds", "budget", "target", "stop_at_target", "epochs",
    "min_steps", "train_batch_size", "patience", "learning_rate", "dropout", "candidates",
    "auto_label_steps", "auto_label_k", "seed", "mc_samples", "base_score", "hybrid_top_m",
    "density_beta", "weights", "agreement_size", "repeat", "repeat_noise",
)  # fmt: skip
# Sweep flags a --preset sets, unless given on the command line.
_PRESET_FLAGS: tuple[str, ...] = (*_TRIAL_FLAGS, "strategies", "fractions", "trials")


def _fractions(text: str) -> list[float]:
    from al_core.forms import parse_fractions  # one parser for the CLI and the app's form

    try:
        return parse_fractions(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _add_trial_options(parser: argparse.ArgumentParser, *, single: bool) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits (embedded, default), mnist, fashion_mnist, cifar10, npz:PATH or folder:PATH",
    )
    data.add_argument("--pool-size", type=int, help="random subset of the train split as pool")
    data.add_argument("--test-size", type=int, help="random subset of the test split")
    data.add_argument("--val-size", type=int, default=0, help="labeled validation images (0)")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the data subsets (0)")
    data.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="redundant pool: each pool image R times (1 = off; Repeated MNIST: 3)",
    )
    data.add_argument(
        "--repeat-noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="std of the Gaussian pixel noise on each copy, pixels in [0, 1] (0; paper: 0.1)",
    )

    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--model", default="cnn", help="cnn (default), softmax, mlp or transfer (MobileNetV2)"
    )
    model.add_argument(
        "--weights",
        metavar="PATH",
        help="weights file of the transfer model's MobileNetV2 base (width 0.35, no top); "
        "without it the base starts from random weights",
    )
    model.add_argument(
        "--epochs",
        type=int,
        help="passes over the labeled set per fit, or the cap with --patience "
        f"(default per model: {defaults_text('epochs')})",
    )
    model.add_argument(
        "--min-steps",
        type=int,
        help="gradient steps per fit at least, however few the labels "
        f"(default per model: {defaults_text('min_steps')})",
    )
    model.add_argument("--patience", type=int, help="early stopping after N epochs w/o gain")
    model.add_argument("--train-batch-size", type=int, default=32, help="SGD batch size (32)")
    model.add_argument(
        "--learning-rate",
        type=float,
        help=f"Adam's rate (default per model: {defaults_text('learning_rate')})",
    )
    model.add_argument(
        "--dropout",
        type=float,
        help="dropout rate (default: 0.5 for Monte-Carlo dropout strategies such as bald "
        "and variation_ratios, else 0 = none)",
    )
    model.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")

    loop = parser.add_argument_group("active learning")
    if single:
        loop.add_argument(
            "--strategy",
            default="margin",
            help="least_confidence, margin (default), ratio, entropy, bald, variation_ratios, "
            "batchbald, density_weighted, kcenter, kmeans, hybrid, hybrid_cluster or random",
        )
        loop.add_argument(
            "--fraction",
            type=float,
            default=1.0,
            help="share of each batch picked by uncertainty, the rest random (1.0)",
        )
        loop.add_argument("--seed", type=int, default=0, help="seed of the trial (0)")
    loop.add_argument("--initial", type=int, default=20, help="initial labeled images (20)")
    loop.add_argument(
        "--initial-mode",
        choices=["random", "balanced"],
        default="random",
        help="initial set drawn at random (default) or the same number per class",
    )
    loop.add_argument("--batch", type=int, default=10, help="images labeled per round (10)")
    loop.add_argument("--rounds", type=int, help="stop after N acquisition rounds")
    loop.add_argument("--budget", type=int, help="stop at N labels in all")
    loop.add_argument("--target", type=float, help="target test accuracy in (0, 1], e.g. 0.9")
    loop.add_argument(
        "--stop-at-target", action="store_true", help="stop once the target is reached"
    )
    loop.add_argument(
        "--candidates", type=int, help="score a random subset of N pool images per round"
    )
    loop.add_argument(
        "--auto-label-steps",
        type=int,
        default=0,
        help="after the loop, N steps of adding the most confident images with the "
        "model's own labels (0)",
    )
    loop.add_argument("--auto-label-k", type=int, default=10, help="images per auto step (10)")
    loop.add_argument(
        "--mc-samples",
        type=int,
        default=20,
        help="Monte-Carlo dropout passes of bald / variation_ratios / batchbald (20; "
        "dropout 0.5 unless --dropout is given)",
    )
    loop.add_argument(
        "--base-score",
        default="margin",
        help="per-image score that density_weighted and the hybrids build on (margin)",
    )
    loop.add_argument(
        "--hybrid-top-m",
        type=int,
        help="hybrid short-list of the most uncertain images (default 10x the batch)",
    )
    loop.add_argument("--density-beta", type=float, default=1.0, help="density exponent (1.0)")
    loop.add_argument(
        "--agreement-size",
        type=int,
        default=1000,
        help="pool images whose predictions are compared between rounds, the stopping "
        "advice (1000; 0 = off)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m al_core``."""
    parser = argparse.ArgumentParser(
        prog="python -m al_core",
        description="Active Learning Lab engine: run active-learning trials and sweeps "
        "on image classification, and report label savings against random.",
    )
    parser.add_argument("--version", action="version", version=f"al_core {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", help="SQLite file (default: $AL_DATA_DIR/al.sqlite3 or data/al.sqlite3)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    common.add_argument(
        "--lock-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="wait this long for another process's write lock on the database (30)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run one trial and print its learning curve",
        description="Run one active-learning trial and print its learning curve and the "
        "labels needed to reach --target. The trial is stored (see --no-store).",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_trial_options(run, single=True)
    run.add_argument("--json", action="store_true", help="one JSON object on stdout")
    run.add_argument("--no-store", action="store_true", help="do not write to the database")
    run.set_defaults(handler=cmd_run)

    sweep = sub.add_parser(
        "sweep",
        parents=[common],
        help="run a grid of strategies x fractions x trials into the store",
        description="Run every (strategy, fraction, seed) of a grid on a pool of worker "
        "processes (or a Dask cluster) with a progress bar; results go to the store. "
        "With --detach, queue it for a background runner and print its id. The random "
        "baseline (fraction 0) is always included unless --no-baseline.",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_trial_options(sweep, single=False)
    sweep.add_argument(
        "--strategies", type=_names, default=["margin"], help="comma-separated (margin)"
    )
    sweep.add_argument(
        "--fractions",
        type=_fractions,
        default=[0.0, 0.5, 1.0],
        help="comma-separated uncertainty fractions in [0, 1] (0,0.5,1)",
    )
    sweep.add_argument("--trials", type=int, default=3, help="seeds per configuration (3)")
    sweep.add_argument("--seed", type=int, default=0, help="first seed (0)")
    sweep.add_argument("--name", help="experiment name")
    sweep.add_argument("--no-baseline", action="store_true", help="do not add fraction 0")
    sweep.add_argument("--preset", help="demo, cifar10-fraction or mnist-400; flags override it")
    sweep.add_argument(
        "--detach", action="store_true", help="queue it, start a runner if none, print the id"
    )
    _add_runner_options(sweep)
    # A flag given explicitly must win over --preset, even when it equals the default:
    # parse them as None and fill in preset values or the defaults afterwards.
    flag_defaults = {dest: sweep.get_default(dest) for dest in _PRESET_FLAGS}
    sweep.set_defaults(
        handler=cmd_sweep, flag_defaults=flag_defaults, **dict.fromkeys(flag_defaults)
    )

    runner = sub.add_parser(
        "runner",
        parents=[common],
        help="serve queued trials in the background (process pool or Dask)",
        description="Claim queued trials from the store and run them on worker processes, "
        "writing rounds as they finish. Runs until interrupted, or with --exit-when-idle "
        "until no trial is queued. Trials left running by a dead runner are re-queued.",
    )
    _add_runner_options(runner)
    runner.add_argument("--threads", type=int, help="TensorFlow threads per worker (cores/N)")
    runner.add_argument(
        "--exit-when-idle", action="store_true", help="exit once no trial is queued"
    )
    runner.set_defaults(handler=cmd_runner)

    status = sub.add_parser(
        "status",
        parents=[common],
        help="runner health and experiment progress",
        description="Show whether a runner is alive and the progress of experiments; with "
        "EXP, per-trial progress (round k of n) and the error of failed trials.",
    )
    status.add_argument("experiment", nargs="?", type=int, metavar="EXP", help="experiment id")
    status.add_argument("--json", action="store_true", help="print the progress as JSON")
    status.set_defaults(handler=cmd_status)

    cancel = sub.add_parser(
        "cancel",
        parents=[common],
        help="cancel an experiment (done rounds are kept)",
        description="Cancel an experiment: queued trials never start, running ones stop at "
        "their next round boundary; rounds already stored are kept.",
    )
    cancel.add_argument("experiment", type=int, metavar="EXP", help="experiment id")
    cancel.set_defaults(handler=cmd_cancel)

    report = sub.add_parser(
        "report",
        parents=[common],
        help="labels-to-target, savings vs random and final accuracy per configuration",
        description="Summarise stored experiments per configuration (strategy, fraction): "
        "the median over finished trials of the labels needed to reach the target (a trial "
        "that never reached it counting as needing more), how many trials reached it, the "
        "saving against the random baseline with its spread across seed pairs, and the "
        "final accuracy. Without EXP, lists the experiments.",
    )
    report.add_argument("experiments", nargs="*", type=int, metavar="EXP", help="experiment ids")
    report.add_argument("--target", type=float, help="override the experiments' target accuracy")
    report.add_argument("--csv", metavar="PATH", help="also export every round to a CSV file")
    report.add_argument(
        "--json",
        action="store_true",
        help="print the verdict, the table and every trial (with the CPU, threads and "
        "library versions it ran on) as one JSON object",
    )
    report.set_defaults(handler=cmd_report)

    worker = sub.add_parser(
        "label-worker",
        parents=[common],
        help="background retraining of one labeling session (started by the app)",
        description="Run a labeling session's queued jobs (retrain + query the next batch, "
        "the audit's simulated run) until idle. The app starts it; it keeps the model "
        "in memory between retrains.",
    )
    worker.add_argument("session", type=int, metavar="SESSION", help="labeling session id")
    worker.add_argument(
        "--idle-seconds", type=float, default=300.0, help="exit after N s without a job (300)"
    )
    worker.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    worker.set_defaults(handler=cmd_label_worker)

    export = sub.add_parser(
        "label-export",
        parents=[common],
        help="export a labeling session's labels (CSV, JSON, or a zip of images per class)",
    )
    export.add_argument("session", type=int, metavar="SESSION", help="labeling session id")
    export.add_argument("--format", choices=["csv", "json", "zip"], default="csv")
    export.add_argument("--out", metavar="PATH", help="output file (default: stdout; not zip)")
    export.set_defaults(handler=cmd_label_export)
    return parser


def _add_runner_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workers")
    group.add_argument("--workers", type=int, default=2, help="trials run at once (2)")
    group.add_argument("--executor", default="local", help="local (process pool, default) or dask")
    group.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler, tcp://HOST:PORT")
    group.add_argument(
        "--max-attempts", type=int, default=3, help="starts per trial before it stays failed (3)"
    )


def _default_dropout(args: argparse.Namespace, given: float | None, names: Sequence[str]) -> None:
    """Turn dropout on when a strategy needs Monte-Carlo dropout and no --dropout was
    given (a whole grid gets it, so that its random baseline trains the same model);
    say so on stderr. The rate ends up in the stored config."""
    from al_core.loop import MC_DROPOUT_DEFAULT, needs_mc_dropout

    if given is not None or not needs_mc_dropout(names, args.base_score) or args.dropout:
        return
    args.dropout = MC_DROPOUT_DEFAULT
    print(
        f"note: {', '.join(names)} scores with Monte-Carlo dropout: dropout "
        f"{MC_DROPOUT_DEFAULT} turned on (stored in the config; --dropout R sets another rate)",
        file=sys.stderr,
    )


def _trial_config(args: argparse.Namespace, **overrides: Any):  # -> TrialConfig
    from al_core.loop import TrialConfig

    values = {name: getattr(args, name) for name in _TRIAL_FLAGS}
    values.update(overrides)
    return TrialConfig(**values)


def _open_store(args: argparse.Namespace):  # -> Store
    from al_core.store import Store

    return Store(args.db, timeout=args.lock_timeout)


def _check_against_dataset(config: Any, dataset: Any) -> None:
    from al_core.forms import check_against_pool
    from al_core.models import check_weights_file

    if config.weights is not None:  # before anything is stored
        check_weights_file(config.weights)
    check_against_pool(config, len(dataset.x_pool))


def _print_skipped(dataset: Any) -> None:
    """List the files a data set skipped, with reasons, on stderr (a short list)."""
    from al_core.datasets import format_skipped

    if dataset.skipped:
        print(
            f"{len(dataset.skipped)} file(s) skipped:\n{format_skipped(dataset.skipped)}",
            file=sys.stderr,
        )


def _skipped_json(dataset: Any) -> dict[str, Any]:
    """The skipped files for ``--json``: count, the first few, how many not listed."""
    from al_core.datasets import SKIPPED_SHOWN

    listed = list(dataset.skipped[:SKIPPED_SHOWN])
    return {
        "count": len(dataset.skipped),
        "listed": listed,
        "more": len(dataset.skipped) - len(listed),
    }


def cmd_run(args: argparse.Namespace) -> int:
    from al_core import metrics, models, runner

    _default_dropout(args, args.dropout, [args.strategy])
    config = _trial_config(args, strategy=args.strategy, fraction=args.fraction)
    models.configure_runtime(args.threads)
    dataset = runner.dataset_for(config)
    _check_against_dataset(config, dataset)
    log.info("data set: %s", dataset.describe())
    _print_skipped(dataset)

    def progress(record: Any) -> None:
        log.info(
            "round %d: %d labels, test accuracy %.4f (train %.1f s)",
            record.round,
            record.labeled + record.pseudo_labeled,
            record.test_accuracy,
            record.train_seconds,
        )

    ids: dict[str, int] = {}
    if args.no_store:
        from al_core.loop import run_loop

        result = run_loop(dataset, config, on_round=progress)
    else:
        with _open_store(args) as store:
            experiment_id = runner.create_experiment(
                store,
                config,
                [config.strategy],
                [config.fraction],
                1,
                baseline=False,
                kind="run",
                name=f"run · {config.dataset} · {config.strategy} {config.fraction:g}",
            )
            trial_id = store.trials(experiment_id)[0]["id"]
            store.set_experiment_status(experiment_id, "running")
            try:
                result = runner.run_trial(store, trial_id, on_round=progress)
            finally:
                runner.finish_experiment(store, experiment_id)
            ids = {"experiment_id": experiment_id, "trial_id": trial_id}

    labeled, accuracy = result.curve()
    ltt = metrics.labels_to_target(labeled, accuracy, config.target) if config.target else None
    output = {
        "config": config.to_dict(),
        **ids,
        "stop_reason": result.stop_reason,
        "rounds": [r.to_dict() for r in result.rounds],
        "labels_to_target": (
            None
            if ltt is None
            else {"labels": ltt.labels, "reached": ltt.reached, "interpolated": ltt.interpolated}
        ),
        "auc": metrics.normalized_auc(labeled, accuracy),
        "skipped_files": _skipped_json(dataset),
    }
    if args.json:
        json.dump(_nan_to_none(output), sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _print_run(output)
    return 0


def _nan_to_none(value: Any) -> Any:
    """``value`` with every NaN float (e.g. the score of a random pick) replaced by None.

    ``json.dump`` never calls ``default`` for floats, so this must happen before.
    """
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value


def _print_run(output: dict[str, Any]) -> None:
    print(
        f"{'round':>5} {'phase':>6} {'labels':>7} {'pseudo':>6} {'test acc':>9} "
        f"{'queried acc':>11} {'agreement':>9} {'train s':>8} {'score s':>8}"
    )
    for r in output["rounds"]:
        queried = "" if r["queried_accuracy"] is None else f"{r['queried_accuracy']:.3f}"
        agreement = "" if r.get("agreement") is None else f"{r['agreement']:.3f}"
        print(
            f"{r['round']:>5} {r['phase']:>6} {r['labeled']:>7} {r['pseudo_labeled']:>6} "
            f"{r['test_accuracy']:>9.4f} {queried:>11} {agreement:>9} "
            f"{r['train_seconds']:>8.2f} {r['score_seconds']:>8.3f}"
        )
    print(f"stopped: {output['stop_reason']}; normalized AUC {output['auc']:.4f}")
    ltt = output["labels_to_target"]
    target = output["config"]["target"]
    if ltt is None:
        print("labels to target: no --target given")
    elif not ltt["reached"]:
        print(f"labels to reach {target:.1%}: not reached")
    else:
        how = " (interpolated)" if ltt["interpolated"] else ""
        print(f"labels to reach {target:.1%}: {ltt['labels']:.1f}{how}")


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
    _default_dropout(args, given_dropout, args.strategies or [])
    if not args.strategies or not args.fractions:
        raise ConfigError(
            "the grid is empty: give at least one strategy (--strategies margin) and one "
            "fraction (--fractions 0,0.5,1)"
        )
    runner.check_runner_options(args.workers, args.executor, args.scheduler)
    base = _trial_config(args, strategy=args.strategies[0], fraction=1.0)
    for name in args.strategies:  # validate every name before anything is stored
        base.replace(strategy=name)
    runner.plan_trials(base, args.strategies, args.fractions, args.trials)
    dataset = runner.dataset_for(base)
    _check_against_dataset(base, dataset)
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


def _run_with_progress(store: Any, sweep_runner: Any, experiment_id: int, n_trials: int) -> None:
    """Run one experiment's trials to the end with a progress bar on stderr."""
    import time

    from tqdm import tqdm

    from al_core import runner

    with tqdm(total=n_trials, unit="trial", file=sys.stderr) as bar:
        shown_at = 0.0

        def show() -> None:
            nonlocal shown_at
            if time.monotonic() - shown_at < 0.5:
                return
            shown_at = time.monotonic()
            progress = runner.experiment_progress(store, experiment_id)
            bar.update(progress["done"] + progress["failed"] + progress["cancelled"] - bar.n)
            eta = progress["eta_seconds"]
            left = (
                "done"
                if progress["finished"]
                else ("estimating" if eta is None else f"{eta:.0f} s")
            )
            bar.set_postfix_str(
                f"running {progress['running']}, failed {progress['failed']}, "
                f"{progress['percent']:.0f} %, ETA {left}"
            )

        sweep_runner.run(experiment_id=experiment_id, on_tick=show)
        shown_at = 0.0
        show()


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


def _format_eta(seconds: float | None) -> str:
    if seconds is None:  # no trial has finished yet: an early pace would mislead
        return "estimating"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def cmd_status(args: argparse.Namespace) -> int:
    from al_core import runner

    with _open_store(args) as store:
        health = runner.runner_health(store)
        ids = (
            [args.experiment]
            if args.experiment is not None
            else [e["id"] for e in store.experiments()]
        )
        progress = {i: runner.experiment_progress(store, i) for i in ids}
    if args.json:
        json.dump({"runner": health, "experiments": progress}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if health is None:
        print("runner: none has run on this database; `python -m al_core runner` starts one")
    else:
        state = "alive" if health["alive"] else "not running"
        print(
            f"runner {health['id']}: {state} (pid {health['pid']} on {health['host']}, "
            f"{health['workers']} {health['executor']} workers, last heartbeat "
            f"{health['heartbeat_age']:.0f} s ago)"
        )
    if not ids:
        print("no experiments yet; start one with `python -m al_core sweep`")
        return 0
    print(f"{'id':>4}  {'status':<9} {'done':>9} {'run':>4} {'fail':>4} {'queue':>5} "
          f"{'%':>4}  {'ETA':>10}")  # fmt: skip
    for experiment_id, p in progress.items():
        print(
            f"{experiment_id:>4}  {p['status']:<9} {p['done']:>4}/{p['trials']:<4} "
            f"{p['running']:>4} {p['failed']:>4} {p['queued']:>5} {p['percent']:>4.0f}  "
            f"{'-' if p['finished'] else _format_eta(p['eta_seconds']):>10}"
        )
    if args.experiment is not None:
        print(f"\n{'trial':>6} {'strategy':<17} {'u':>4} {'seed':>4}  {'status':<9} round")
        for t in progress[args.experiment]["trials_detail"]:
            total = "?" if t["rounds_total"] is None else t["rounds_total"]
            done_round = "-" if t["round"] is None else t["round"]
            print(
                f"{t['trial_id']:>6} {t['strategy']:<17} {t['fraction']:>4.1f} {t['seed']:>4}  "
                f"{t['status']:<9} {done_round}/{total}"
            )
            if t["error"] and t["status"] != "done":
                print(f"{'':>8}error: {t['error'].strip().splitlines()[-1]}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from al_core import runner

    with _open_store(args) as store:
        runner.cancel_experiment(store, args.experiment)
        progress = runner.experiment_progress(store, args.experiment)
    print(
        f"experiment {args.experiment}: {progress['status']} ({progress['cancelled']} trials "
        f"cancelled, {progress['running']} stopping at their next round, "
        f"{progress['done']} done)"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from al_core import results

    with _open_store(args) as store:
        if not args.experiments:
            rows = store.experiments()
            if args.json:  # the listing as data: one object per experiment ([] when none)
                keys = ("id", "name", "status", "trials", "trials_done", "trials_failed")
                print(json.dumps([{k: e[k] for k in keys} for e in rows]))
                return 0
            if not rows:
                print("no experiments yet; start one with `python -m al_core sweep`")
                return 0
            print(f"{'id':>4}  {'status':<9} {'trials':>6} {'done':>5} {'failed':>6}  name")
            for e in rows:
                print(
                    f"{e['id']:>4}  {e['status']:<9} {e['trials']:>6} {e['trials_done'] or 0:>5}"
                    f" {e['trials_failed'] or 0:>6}  {e['name']}"
                )
            return 0
        targets = []
        for experiment_id in args.experiments:
            experiment = store.experiment(experiment_id)
            targets.append(experiment["config"].get("base", {}).get("target"))
        rounds = results.rounds_frame(store.experiment_rounds(args.experiments))
        stored_trials = [t for i in args.experiments for t in store.trials(i)]
    target = args.target if args.target is not None else next((t for t in targets if t), None)
    if target is not None and not 0.0 < target <= 1.0:
        raise ConfigError(f"target accuracy must be in (0, 1], got {target}")
    if args.csv:
        rounds.to_csv(args.csv, index=False)
        print(f"wrote {len(rounds)} rounds to {args.csv}", file=sys.stderr)
    done = results.completion([t["status"] for t in stored_trials])
    trials = results.trial_table(rounds, target)
    configs = results.config_table(trials)
    verdict = results.verdict(configs, target, done)
    if args.json:
        environments = {t["id"]: t.get("environment") for t in stored_trials}
        trial_rows = json.loads(trials.to_json(orient="records")) if not trials.empty else []
        for row in trial_rows:
            row["environment"] = environments.get(row["trial_id"])
        output = {
            "target": target,
            "trials_total": done.total,
            "trials_finished": done.finished,
            "trials_open": done.open,
            "preliminary": done.preliminary,
            "verdict": verdict,
            "configurations": json.loads(configs.to_json(orient="records"))
            if not configs.empty
            else [],
            "trials": trial_rows,
        }
        print(json.dumps(output))
        return 0
    if configs.empty:
        print("no measured rounds yet")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(results.display_table(configs).to_string(index=False))
    label = "no target set" if target is None else f"target {target:.1%}"
    print(
        f"({label}; labels to target is the median over finished trials, a trial that "
        "never reached the target counting as needing more labels than any that did; "
        "partial (cancelled, failed, running) trials are left out)"
    )
    print(verdict)
    return 0


def cmd_label_worker(args: argparse.Namespace) -> int:
    from al_core import labeling
    from al_core.store import default_db_path

    return labeling.run_worker(
        args.db or default_db_path(),
        args.session,
        idle_seconds=args.idle_seconds,
        threads=args.threads,
    )


def cmd_label_export(args: argparse.Namespace) -> int:
    from al_core import labeling

    exporters = {
        "csv": labeling.export_csv,
        "json": labeling.export_json,
        "zip": labeling.export_zip,
    }
    with _open_store(args) as store:
        data = exporters[args.format](store, args.session)
    if args.out:
        with open(args.out, "wb") as out:
            out.write(data)
        print(f"wrote {len(data)} bytes to {args.out}", file=sys.stderr)
    elif args.format == "zip":
        raise ConfigError("a zip is binary: give --out PATH")
    else:
        sys.stdout.write(data.decode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except ALError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
