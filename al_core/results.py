"""From stored rounds to learning-curve tables: per trial, per configuration.

Used by ``python -m al_core report`` and by the app's results pages, so the
numbers a user reads are computed in one place.

A *configuration* is one (strategy, fraction) of an experiment; its trials
differ by seed. The random baseline is the configuration with fraction 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from al_core import metrics

TRIAL_KEYS = ["experiment_id", "trial_id", "strategy", "fraction", "seed"]
CONFIG_KEYS = ["experiment_id", "strategy", "fraction"]


def rounds_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows from :meth:`Store.experiment_rounds` as a DataFrame (one row per round)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=[*TRIAL_KEYS, "round", "phase", "labeled", "test_accuracy"])
    return frame


def trial_table(rounds: pd.DataFrame, target: float | None) -> pd.DataFrame:
    """One row per trial: labels to ``target`` (active phase), final accuracy, AUC.

    Columns: experiment_id, trial_id, strategy, fraction, seed, rounds,
    final_labeled, final_accuracy, auc, labels_to_target, interpolated, reached,
    auto_accuracy (last auto-labeling step, NaN without one).
    """
    records = []
    for key, group in rounds.groupby(TRIAL_KEYS, sort=True):
        active = group[group["phase"] == "active"].sort_values("round")
        auto = group[group["phase"] == "auto"].sort_values("round")
        if active.empty:
            continue
        labeled = active["labeled"].to_numpy()
        accuracy = active["test_accuracy"].to_numpy(dtype=float)
        row = dict(zip(TRIAL_KEYS, key, strict=True))
        row.update(
            rounds=len(active),
            final_labeled=int(labeled[-1]),
            final_accuracy=float(accuracy[-1]),
            auc=metrics.normalized_auc(labeled, accuracy),
            auto_accuracy=float(auto["test_accuracy"].iloc[-1]) if len(auto) else math.nan,
        )
        if target is not None:
            ltt = metrics.labels_to_target(labeled, accuracy, target)
            row.update(
                labels_to_target=math.nan if ltt.labels is None else ltt.labels,
                interpolated=ltt.interpolated,
                reached=ltt.reached,
            )
        else:
            row.update(labels_to_target=math.nan, interpolated=False, reached=False)
        records.append(row)
    return pd.DataFrame.from_records(records)


def config_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: mean ± spread across trials, savings vs random.

    Savings compare labels-to-target with the same experiment's random baseline
    (fraction 0), paired by seed; positive = fewer labels than random. Trials
    that never reached the target are counted in ``reached`` and left out of
    the labels means (see :func:`al_core.metrics.savings_vs_random`).
    """
    if trials.empty:
        return pd.DataFrame()
    records = []
    for (experiment_id, strategy, fraction), group in trials.groupby(CONFIG_KEYS, sort=True):
        baseline = trials[(trials["experiment_id"] == experiment_id) & (trials["fraction"] == 0)]
        ltt_mean, ltt_std, reached = metrics.summarize(group["labels_to_target"])
        acc_mean, acc_std, n = metrics.summarize(group["final_accuracy"])
        row = {
            "experiment_id": experiment_id,
            "strategy": strategy,
            "fraction": fraction,
            "trials": n,
            "reached": reached,
            "labels_to_target": ltt_mean,
            "labels_to_target_std": ltt_std,
            "final_accuracy": acc_mean,
            "final_accuracy_std": acc_std,
            "auc": float(group["auc"].mean()),
            "auto_accuracy": float(group["auto_accuracy"].mean()),
            "saved_fraction": math.nan,
            "saved_fraction_std": math.nan,
            "labels_saved": math.nan,
        }
        if not baseline.empty and fraction != 0:
            savings = metrics.savings_vs_random(
                group["labels_to_target"].to_numpy(dtype=float),
                baseline["labels_to_target"].to_numpy(dtype=float),
                strategy_seeds=group["seed"].to_numpy(),
                random_seeds=baseline["seed"].to_numpy(),
            )
            row.update(
                saved_fraction=savings.mean_fraction,
                saved_fraction_std=savings.std_fraction,
                labels_saved=savings.labels_saved,
            )
        records.append(row)
    return pd.DataFrame.from_records(records)


def verdict(configs: pd.DataFrame, target: float | None) -> str:
    """One honest sentence on whether active learning beat random here."""
    if configs.empty:
        return "No measured results yet."
    if target is None:
        return "No target accuracy set: compare the curves' areas (auc) instead."
    active = configs[configs["fraction"] > 0]
    baseline = configs[configs["fraction"] == 0]
    if baseline.empty:
        return "No random baseline (fraction 0) in these results: savings cannot be judged."
    if active.empty:
        return "Only the random baseline was measured."
    if not (active["reached"] > 0).any():
        return f"No active-learning configuration reached {target:.0%} test accuracy."
    best = active.sort_values("saved_fraction", ascending=False, na_position="last").iloc[0]
    if not np.isfinite(best["saved_fraction"]):
        return f"Random never reached {target:.0%}, so savings cannot be computed."
    name = f"{best['strategy']} at {best['fraction']:.0%} uncertainty"
    if best["saved_fraction"] <= 0:
        return (
            f"Active learning did NOT beat random here: the best configuration ({name}) "
            f"needed {-best['saved_fraction']:.0%} more labels than random to reach "
            f"{target:.0%}."
        )
    spread = best["saved_fraction_std"]
    noisy = np.isfinite(spread) and spread >= best["saved_fraction"]
    return (
        f"Best: {name} reached {target:.0%} with {best['saved_fraction']:.0%} fewer labels "
        f"than random (± {spread:.0%} across trials)"
        + ("; the spread is as large as the saving, so this is not conclusive." if noisy else ".")
    )
