"""``python -m al_core run``: one trial, stored as a one-trial experiment (or not,
with ``--no-store``), printed as a learning-curve table or one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from al_core.cli.common import (
    _check_against_dataset,
    _default_model_and_dropout,
    _nan_to_none,
    _open_store,
    _print_skipped,
    _skipped_json,
    _trial_config,
    log,
)


def cmd_run(args: argparse.Namespace) -> int:
    from al_core import metrics, models, runner

    _default_model_and_dropout(args, args.dropout, [args.strategy])
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
            experiment_id, trial_id = runner.create_single_trial(
                store,
                config,
                "run",
                f"run · {config.dataset} · {config.strategy} {config.fraction:g}",
            )
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
