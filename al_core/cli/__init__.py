"""Command line: ``python -m al_core {run,sweep,runner,status,cancel,report} …``.

Results go to stdout (a table, or JSON with ``--json``); logs and progress go
to stderr. Bad input exits with status 2 and a one-line message naming the
problem and the fix.

One module per concern: :mod:`~al_core.cli.parser` (the subcommands) and
:mod:`~al_core.cli.options` (their flags), :mod:`~al_core.cli.run` (one trial),
:mod:`~al_core.cli.sweeps` (grids and the background runner),
:mod:`~al_core.cli.progress` (the sweep's progress display),
:mod:`~al_core.cli.status` (status and cancel), :mod:`~al_core.cli.reports`
(report), :mod:`~al_core.cli.data` (the data check of a data set),
:mod:`~al_core.cli.labeling` (labeling sessions' worker and export) and
:mod:`~al_core.cli.common` (what they share). :func:`main` is the entry point.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from al_core.cli.labeling import cmd_label_export, cmd_label_worker
from al_core.cli.parser import EPILOG_RUN, EPILOG_SWEEP, build_parser
from al_core.cli.reports import cmd_report
from al_core.cli.run import cmd_run
from al_core.cli.status import cmd_cancel, cmd_status
from al_core.cli.sweeps import cmd_runner, cmd_sweep
from al_core.errors import ALError

__all__ = [
    "EPILOG_RUN",
    "EPILOG_SWEEP",
    "build_parser",
    "cmd_cancel",
    "cmd_label_export",
    "cmd_label_worker",
    "cmd_report",
    "cmd_run",
    "cmd_runner",
    "cmd_status",
    "cmd_sweep",
    "main",
]


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
