"""The argument parser of ``python -m al_core``: one subcommand per handler.

The flags of a trial and of the workers are in :mod:`al_core.cli.options`; each
subcommand's handler (``args.handler``) in the module of its concern. The presets
that ``sweep --help`` lists come from the registry, :data:`al_core.runner.PRESETS`.
"""

from __future__ import annotations

import argparse
import textwrap

from al_core import __version__
from al_core.cli.data import cmd_data
from al_core.cli.labeling import cmd_label_export, cmd_label_worker
from al_core.cli.options import (
    _PRESET_FLAGS,
    _add_runner_options,
    _add_trial_options,
    _fractions,
    _names,
)
from al_core.cli.reports import cmd_report
from al_core.cli.run import cmd_run
from al_core.cli.status import cmd_cancel, cmd_status
from al_core.cli.sweeps import cmd_runner, cmd_sweep

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
"""


#: Width of the generated epilog lines (the examples above are at most this wide).
_EPILOG_WIDTH = 92


class _NamesWholeFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps option help at spaces only, so that a name such as ``repeated-mnist``
    is never split across two lines."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m al_core``."""
    from al_core.runner import PRESETS  # the registry: a new preset is listed by itself

    presets = ", ".join(PRESETS)
    presets_epilog = textwrap.fill(
        f"presets: {presets} (flags given with --preset override it)",
        width=_EPILOG_WIDTH,
        subsequent_indent="  ",
        break_on_hyphens=False,
    )
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
        epilog=EPILOG_SWEEP + presets_epilog + "\n",
        formatter_class=_NamesWholeFormatter,
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
    sweep.add_argument(
        "--no-extend-baseline",
        action="store_true",
        help="stop the random baseline at the active budget (by default, once the active "
        "trials finish, it runs on until it reaches the best active median final accuracy)",
    )
    sweep.add_argument(
        "--baseline-cap",
        type=int,
        default=None,
        metavar="LABELS",
        help="most labels the random baseline may run on to (default 10 x the budget)",
    )
    sweep.add_argument("--preset", help=f"one of: {presets}; flags override it")
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
    report.add_argument(
        "--targets",
        metavar="T1,T2,…",
        help="also compare random with the best configuration (or --fraction's) at each of "
        "these target accuracies, e.g. 0.85,0.9,0.95: labels each needed and the saving "
        "with its spread across seed pairs",
    )
    report.add_argument(
        "--fraction",
        type=float,
        metavar="U",
        help="with --targets: the uncertainty fraction compared with random (default: the "
        "configuration with the highest median final accuracy)",
    )
    report.add_argument("--csv", metavar="PATH", help="also export every round to a CSV file")
    report.add_argument(
        "--html",
        metavar="FILE",
        help="write one experiment's report as a self-contained HTML file (opens offline: "
        "headline, verdict, curves, savings across targets, tables, what was compared, "
        "how to rerun it, caveats): the file the app's Download report button gives",
    )
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

    data = sub.add_parser(
        "data",
        parents=[common],
        help="check a data set before a sweep: classes, sizes, test split, a linear floor",
        description="Load a data set as a trial would and print the classes with their pool "
        "and test counts, the image size and colour policy applied, the test split used, the "
        "files skipped with reasons, and a LogisticRegression learning curve on random labels "
        "(20/50/100/200/all, capped at 2,000): the floor a network must clear. Takes seconds.",
        epilog="examples:\n  python -m al_core data digits\n"
        "  python -m al_core data folder:data/datasets/my-cats/images --json\n"
        "  python -m al_core data npz:my.npz --test-size 500\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data.add_argument(
        "source", metavar="SOURCE", help="digits, mnist, …, npz:PATH, folder:PATH or a path"
    )
    data.add_argument("--pool-size", type=int, help="random subset of the train split as pool")
    data.add_argument("--test-size", type=int, help="random subset of the test split")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the data subsets (0)")
    data.add_argument("--json", action="store_true", help="one JSON object on stdout")
    data.set_defaults(handler=cmd_data)

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
