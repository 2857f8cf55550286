"""``python -m al_core status`` and ``cancel``: runner health, experiment and trial
progress with an ETA; cancelling an experiment while keeping its done rounds."""

from __future__ import annotations

import argparse
import json
import sys

from al_core.cli.common import _open_store
from al_core.cli.progress import _format_eta


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
