"""``python -m al_core label-worker`` and ``label-export``: a labeling session's
background retraining process (started by the app) and the export of its labels."""

from __future__ import annotations

import argparse
import sys

from al_core.cli.common import _open_store
from al_core.errors import ConfigError


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
