"""``python -m al_core report``: the experiments listed, or per configuration the
labels to reach the target, savings against random, final accuracy and the verdict
(a table, ``--json`` or a ``--csv`` of every round), or one experiment's
self-contained HTML report (``--html``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from al_core.cli.common import _open_store
from al_core.errors import ConfigError


def cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from al_core import results

    # A bad list is refused before anything is read: exit 2 with the fix (main()).
    # (``sweep`` prints its report through here, without these flags.)
    targets_text = getattr(args, "targets", None)
    several = results.parse_targets(targets_text) if targets_text is not None else None
    with _open_store(args) as store:
        if getattr(args, "html", None):
            return _write_html(store, args)
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
        targets, measures = [], {}
        for experiment_id in args.experiments:
            experiment = store.experiment(experiment_id)
            base = experiment["config"].get("base", {})
            targets.append(base.get("target"))
            measures[experiment_id] = results.accuracy_measure_text(base)
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
    across = None
    if several is not None:
        across = results.target_comparisons(
            rounds, configs, several, fraction=getattr(args, "fraction", None)
        )
        if done.preliminary:  # no verdict while trials run
            across["outcome"] = ""
    if args.json:
        environments = {t["id"]: t.get("environment") for t in stored_trials}
        trial_rows = json.loads(trials.to_json(orient="records")) if not trials.empty else []
        for row in trial_rows:
            row["environment"] = environments.get(row["trial_id"])
        output = {
            "target": target,
            "test_measure": {str(i): text for i, text in measures.items()},
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
        if across is not None:
            # Full precision: the numbers equal those of results.savings_by_target.
            output["targets"] = json.loads(across.to_json(orient="records", double_precision=15))
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
    for experiment_id, text in measures.items():
        print(f"exp {experiment_id}: {text}" if len(measures) > 1 else text)
    print(verdict)
    if across is not None:
        _print_targets(results, across, done.preliminary)
    return 0


def _print_targets(results: Any, across: Any, preliminary: bool) -> None:
    """``report --targets``: per experiment, random against the compared configuration
    at each target (the cells of :func:`al_core.results.savings_display_table`)."""
    import pandas as pd

    if across.empty:
        print("\nno active configuration and random baseline to compare across targets")
        return
    for (experiment_id, strategy, fraction), rows in across.groupby(
        ["experiment_id", "strategy", "fraction"], sort=True
    ):
        name = f"{strategy} at {round(fraction * 100, 1):g} %"
        table = results.savings_display_table(rows)
        table.columns = [c.replace("chosen:", f"{name}:") for c in table.columns]
        print(f"\nexp {experiment_id}: random vs {name}, labels to each target")
        with pd.option_context("display.width", 250, "display.max_columns", 20):
            print(table.to_string(index=False))
    print(
        "(medians over finished trials, a trial that never reached a target counting as "
        "needing more; fastest – slowest trial; saving ± its spread across seed pairs"
        + ("; preliminary: no verdict while trials run)" if preliminary else ")")
    )


def _write_html(store: Any, args: argparse.Namespace) -> int:
    """``report EXP --html FILE``: :func:`al_core.results.report.report_html` of one
    experiment, at ``--target`` (default: the pages' starting target)."""
    from pathlib import Path

    from al_core.results.report import report_html

    if len(args.experiments) != 1:
        raise ConfigError(
            f"--html writes the report of one experiment, got {len(args.experiments)}: "
            "give one id, e.g. `python -m al_core report 3 --html report.html`"
        )
    if args.target is not None and not 0.0 < args.target <= 1.0:
        raise ConfigError(f"target accuracy must be in (0, 1], got {args.target}")
    store.experiment(args.experiments[0])  # an unknown id is refused before writing
    text = report_html(store, args.experiments[0], args.target)
    Path(args.html).write_text(text, encoding="utf-8")
    print(f"wrote the report of experiment {args.experiments[0]} to {args.html}", file=sys.stderr)
    return 0
