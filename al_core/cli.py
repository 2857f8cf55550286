"""Command line: ``python -m al_core {run,sweep,report} …``.

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
"""


def _fractions(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"fractions must be numbers separated by commas, e.g. 0,0.5,1 (got {text!r})"
        ) from exc
    for value in values:
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(
                f"fraction {value:g} is outside [0, 1]; write 0.3 for 30 %"
            )
    return values


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

    model = parser.add_argument_group("model and training")
    model.add_argument("--model", default="cnn", help="cnn (default), softmax or mlp")
    model.add_argument("--epochs", type=int, default=20, help="epochs per round, or cap (20)")
    model.add_argument("--patience", type=int, help="early stopping after N epochs w/o gain")
    model.add_argument("--train-batch-size", type=int, default=32, help="SGD batch size (32)")
    model.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's rate (0.001)")
    model.add_argument("--dropout", type=float, default=0.0, help="dropout rate (0 = none)")
    model.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")

    loop = parser.add_argument_group("active learning")
    if single:
        loop.add_argument(
            "--strategy",
            default="margin",
            help="least_confidence, margin (default), ratio, entropy or random",
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
        description="Run every (strategy, fraction, seed) of a grid one after another, "
        "with a progress bar; results go to the store. The random baseline "
        "(fraction 0) is always included unless --no-baseline.",
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
    sweep.set_defaults(handler=cmd_sweep)

    report = sub.add_parser(
        "report",
        parents=[common],
        help="labels-to-target, savings vs random and final accuracy per configuration",
        description="Summarise stored experiments per configuration (strategy, fraction): "
        "mean and spread across trials of the labels needed to reach the target, the "
        "savings against the random baseline, and the final accuracy. Without EXP, lists "
        "the experiments.",
    )
    report.add_argument("experiments", nargs="*", type=int, metavar="EXP", help="experiment ids")
    report.add_argument("--target", type=float, help="override the experiments' target accuracy")
    report.add_argument("--csv", metavar="PATH", help="also export every round to a CSV file")
    report.add_argument("--json", action="store_true", help="print the table as JSON")
    report.set_defaults(handler=cmd_report)
    return parser


def _trial_config(args: argparse.Namespace, **overrides: Any):  # -> TrialConfig
    from al_core.loop import TrialConfig

    values = dict(
        dataset=args.dataset,
        pool_size=args.pool_size,
        test_size=args.test_size,
        val_size=args.val_size,
        data_seed=args.data_seed,
        model=args.model,
        initial=args.initial,
        initial_mode=args.initial_mode,
        batch=args.batch,
        rounds=args.rounds,
        budget=args.budget,
        target=args.target,
        stop_at_target=args.stop_at_target,
        epochs=args.epochs,
        train_batch_size=args.train_batch_size,
        patience=args.patience,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        candidates=args.candidates,
        auto_label_steps=args.auto_label_steps,
        auto_label_k=args.auto_label_k,
        seed=args.seed,
    )
    values.update(overrides)
    return TrialConfig(**values)


def _open_store(args: argparse.Namespace):  # -> Store
    from al_core.store import Store

    return Store(args.db)


def _check_against_dataset(config: Any, dataset: Any) -> None:
    n_pool = len(dataset.x_pool)
    if config.batch > n_pool:
        raise ConfigError(
            f"batch size {config.batch} is larger than the pool ({n_pool} images); "
            "lower --batch or raise --pool-size"
        )
    if config.initial > n_pool:
        raise ConfigError(
            f"initial labeled set {config.initial} is larger than the pool ({n_pool} images); "
            "lower --initial"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from al_core import metrics, models, runner

    config = _trial_config(args, strategy=args.strategy, fraction=args.fraction)
    models.configure_runtime(args.threads)
    dataset = runner.dataset_for(config)
    _check_against_dataset(config, dataset)
    log.info("data set: %s", dataset.describe())

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
    }
    if args.json:
        json.dump(output, sys.stdout, allow_nan=False, default=_json_default)
        sys.stdout.write("\n")
    else:
        _print_run(output)
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _print_run(output: dict[str, Any]) -> None:
    print(
        f"{'round':>5} {'phase':>6} {'labels':>7} {'pseudo':>6} {'test acc':>9} "
        f"{'queried acc':>11} {'train s':>8} {'score s':>8}"
    )
    for r in output["rounds"]:
        queried = "" if r["queried_accuracy"] is None else f"{r['queried_accuracy']:.3f}"
        print(
            f"{r['round']:>5} {r['phase']:>6} {r['labeled']:>7} {r['pseudo_labeled']:>6} "
            f"{r['test_accuracy']:>9.4f} {queried:>11} {r['train_seconds']:>8.2f} "
            f"{r['score_seconds']:>8.3f}"
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from al_core import models, runner

    base = _trial_config(args, strategy=args.strategies[0], fraction=1.0)
    for name in args.strategies:  # validate every name before anything is stored
        base.replace(strategy=name)
    models.configure_runtime(args.threads)
    dataset = runner.dataset_for(base)
    _check_against_dataset(base, dataset)
    with _open_store(args) as store:
        experiment_id = runner.create_experiment(
            store,
            base,
            args.strategies,
            args.fractions,
            args.trials,
            name=args.name,
            baseline=not args.no_baseline,
        )
        trials = store.trials(experiment_id)
        print(f"experiment {experiment_id}: {len(trials)} trials", file=sys.stderr)
        store.set_experiment_status(experiment_id, "running")
        try:
            with tqdm(total=len(trials), unit="trial", file=sys.stderr) as bar:
                for trial in trials:
                    bar.set_postfix_str(
                        f"{trial['strategy']} u={trial['fraction']:g} seed={trial['seed']}"
                    )
                    try:
                        runner.run_trial(store, trial["id"])
                    except ALError:
                        raise
                    except Exception as exc:  # a failed trial must not lose the rest
                        log.error("trial %d failed: %s", trial["id"], exc)
                    bar.update()
        finally:
            status = runner.finish_experiment(store, experiment_id)
    print(f"experiment {experiment_id}: {status}", file=sys.stderr)
    args.experiments, args.csv, args.json = [experiment_id], None, False
    return cmd_report(args)


def cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from al_core import results

    with _open_store(args) as store:
        if not args.experiments:
            rows = store.experiments()
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
    target = args.target if args.target is not None else next((t for t in targets if t), None)
    if target is not None and not 0.0 < target <= 1.0:
        raise ConfigError(f"target accuracy must be in (0, 1], got {target}")
    if args.csv:
        rounds.to_csv(args.csv, index=False)
        print(f"wrote {len(rounds)} rounds to {args.csv}", file=sys.stderr)
    configs = results.config_table(results.trial_table(rounds, target))
    if args.json:
        print(configs.to_json(orient="records"))
        return 0
    if configs.empty:
        print("no measured rounds yet")
        return 0
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        shown = configs[
            [
                "experiment_id",
                "strategy",
                "fraction",
                "trials",
                "reached",
                "labels_to_target",
                "labels_to_target_std",
                "saved_fraction",
                "saved_fraction_std",
                "final_accuracy",
                "final_accuracy_std",
                "auc",
            ]
        ]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    label = "no target set" if target is None else f"target {target:.1%}"
    print(f"({label}; labels_to_target is the mean over trials that reached it)")
    print(results.verdict(configs, target))
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
