"""``python -m al_core report``: the experiments listed, or per configuration the
labels to reach the target, savings against random, final accuracy and the verdict
(a table, ``--json`` or a ``--csv`` of every round)."""

from __future__ import annotations

import argparse
import json
import sys

from al_core.cli.common import _open_store
from al_core.errors import ConfigError


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
