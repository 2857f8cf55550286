"""Stored rounds as tables: one row per trial, one row per configuration.

:func:`rounds_frame` turns the store's rows into a DataFrame, :func:`trial_table`
measures each trial (labels to target, final accuracy, AUC) and
:func:`config_table` summarizes the trials of each configuration against the
random baseline. The keys, columns and trial statuses every other part of
:mod:`al_core.results` shares are defined here.
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
#: The columns of :func:`config_table` a person reads (CLI report, results page).
SUMMARY_COLUMNS = [
    "experiment_id",
    "strategy",
    "fraction",
    "trials",
    "reached",
    "labels_to_target",
    "labels_min",
    "labels_max",
    "saved_fraction",
    "saved_fraction_std",
    "outcome",
    "final_accuracy",
    "final_accuracy_std",
    "auc",
]
#: Trial statuses whose rounds are complete; the others are partial.
FINISHED = "done"
#: Trial statuses that will still change (no verdict while any remains).
OPEN_STATUSES = ("queued", "running")


def summary_columns(configs: pd.DataFrame) -> list[str]:
    """:data:`SUMMARY_COLUMNS`, plus ``auto_accuracy`` when any configuration
    auto-labeled (the MNIST protocol's last figure), for the CLI and the page."""
    if "auto_accuracy" in configs and configs["auto_accuracy"].notna().any():
        return [*SUMMARY_COLUMNS, "auto_accuracy"]
    return list(SUMMARY_COLUMNS)


def rounds_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Rows from :meth:`Store.experiment_rounds` as a DataFrame (one row per round)."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=[*TRIAL_KEYS, "round", "phase", "labeled", "test_accuracy"])
    return frame


#: Phases whose rounds count for labels to target: the active-learning rounds and the
#: random baseline's rounds past the active budget (the baseline extension).
MEASURED_PHASES = ("active", "baseline")


def _measured_curve(
    phase: np.ndarray, labeled: np.ndarray, accuracy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A trial's (labeled, accuracy) over its :data:`MEASURED_PHASES` rounds, shape (r,)
    each, ordered by labeled count (a repeated count keeps its first, active, round)."""
    index = np.flatnonzero(np.isin(phase, MEASURED_PHASES))
    index = index[np.argsort(labeled[index], kind="stable")]
    x, y = labeled[index], accuracy[index]
    keep = np.r_[True, np.diff(x) > 0]
    return x[keep], y[keep]


def trial_table(rounds: pd.DataFrame, target: float | None) -> pd.DataFrame:
    """One row per trial: labels to ``target``, final accuracy, AUC.

    Labels to target is measured on the ``active`` **and** ``baseline`` rounds
    (the random baseline run on past the active budget, see
    :data:`MEASURED_PHASES`), so random's count can lie beyond the budget;
    rounds, final_labeled, final_accuracy and auc come from the ``active``
    rounds only (the comparison at equal budget).

    Columns: experiment_id, trial_id, strategy, fraction, seed, status
    (``trial_status`` of the rounds, ``done`` when absent), complete (status is
    ``done``: its rounds are all there), rounds, final_labeled,
    extended_labeled (most labels including baseline rounds), final_accuracy,
    peak_accuracy (the highest accuracy of the measured rounds, baseline rounds
    included: every target up to it is reached), auc, labels_to_target (NaN = not
    reached), interpolated, reached,
    auto_accuracy (last auto-labeling step, NaN without one), saved_vs_random
    (``1 - labels / labels of the random trial with the same seed``, NaN unless
    both reached the target; NaN for random itself).
    """
    records = []
    # Sorted once and read as arrays per trial: per-group DataFrame masks and sorts
    # cost about a second with 50 experiments on the Results page.
    ordered = rounds.sort_values([*TRIAL_KEYS, "round"], kind="stable")
    has_status = "trial_status" in ordered
    for key, group in ordered.groupby(TRIAL_KEYS, sort=True):
        phase = group["phase"].to_numpy()
        active = phase == "active"
        if not active.any():
            continue
        all_labeled = group["labeled"].to_numpy()
        labeled = all_labeled[active]
        all_accuracy = group["test_accuracy"].to_numpy(dtype=float)
        accuracy = all_accuracy[active]
        measured_labeled, measured_accuracy = _measured_curve(phase, all_labeled, all_accuracy)
        auto_accuracy = all_accuracy[phase == "auto"]
        status = str(group["trial_status"].iloc[0]) if has_status else FINISHED
        row = dict(zip(TRIAL_KEYS, key, strict=True))
        row.update(
            status=status,
            complete=status == FINISHED,
            rounds=int(active.sum()),
            final_labeled=int(labeled[-1]),
            extended_labeled=int(measured_labeled[-1]),
            final_accuracy=float(accuracy[-1]),
            peak_accuracy=float(measured_accuracy.max()),
            auc=metrics.normalized_auc(labeled, accuracy),
            auto_accuracy=float(auto_accuracy[-1]) if len(auto_accuracy) else math.nan,
        )
        if target is not None:
            ltt = metrics.labels_to_target(measured_labeled, measured_accuracy, target)
            row.update(
                labels_to_target=math.nan if ltt.labels is None else ltt.labels,
                interpolated=ltt.interpolated,
                reached=ltt.reached,
            )
        else:
            row.update(labels_to_target=math.nan, interpolated=False, reached=False)
        records.append(row)
    table = pd.DataFrame.from_records(records)
    if table.empty:
        return table
    random = table[table["fraction"] == 0].set_index(["experiment_id", "seed"])
    random_labels = [
        random["labels_to_target"].get((e, s), math.nan) if f != 0 else math.nan
        for e, s, f in zip(table["experiment_id"], table["seed"], table["fraction"], strict=True)
    ]
    table["saved_vs_random"] = 1.0 - table["labels_to_target"] / np.asarray(random_labels, float)
    return table


def config_table(trials: pd.DataFrame, *, include_partial: bool = False) -> pd.DataFrame:
    """One row per configuration: labels to target, savings vs random, final accuracy.

    Only finished trials (``complete``) count unless ``include_partial``; the
    others are counted in ``partial``. Labels to target is the
    :func:`al_core.metrics.censored_median` over the counted trials, rounded to
    whole labels (NaN = "not reached": half or more did not reach the target),
    and the saving is computed from those rounded medians; ``labels_min`` /
    ``labels_max`` are the fastest and slowest trial (``labels_max`` NaN when a
    trial did not reach it). ``saved_fraction`` is ``1 - labels_to_target /
    random's labels_to_target`` of the same experiment, ``saved_fraction_std``
    the spread of the per-seed savings and ``outcome`` the
    :attr:`al_core.metrics.Comparison.outcome` (empty for random).

    Columns: :data:`SUMMARY_COLUMNS` plus partial, final_labeled (most labels a
    counted trial ran in the active phase), extended_labeled (most labels
    including the random baseline's rounds past the budget), final_accuracy_median
    (median over the counted trials), reachable_accuracy (the highest target whose
    median labels-to-target is measured: more than half of the counted trials
    reached it, see :func:`_reachable`), random_labels, labels_saved (random's
    median minus this one), auto_accuracy.
    """
    if trials.empty:
        return pd.DataFrame()
    if "complete" not in trials:
        trials = trials.assign(complete=True)
    counted = trials if include_partial else trials[trials["complete"]]
    records = []
    for (experiment_id, strategy, fraction), group in trials.groupby(CONFIG_KEYS, sort=True):
        used = counted.loc[counted.index.intersection(group.index)]
        labels = used["labels_to_target"].to_numpy(dtype=float)
        reached = labels[~np.isnan(labels)]
        acc_mean, acc_std, n = metrics.summarize(used["final_accuracy"])
        row = {
            "experiment_id": experiment_id,
            "strategy": strategy,
            "fraction": fraction,
            "trials": n,
            "partial": len(group) - n,
            "reached": int(reached.size),
            "labels_to_target": float(np.round(metrics.censored_median(labels))),
            "labels_min": float(reached.min()) if reached.size else math.nan,
            "labels_max": float(reached.max()) if reached.size == n and n else math.nan,
            "final_labeled": float(used["final_labeled"].max()) if n else math.nan,
            "extended_labeled": float(used["extended_labeled"].max())
            if n and "extended_labeled" in used
            else math.nan,
            "final_accuracy": acc_mean,
            "final_accuracy_median": float(used["final_accuracy"].median()) if n else math.nan,
            "reachable_accuracy": _reachable(used),
            "final_accuracy_std": acc_std,
            "auc": float(used["auc"].mean()) if n else math.nan,
            "auto_accuracy": float(used["auto_accuracy"].mean()) if n else math.nan,
            "random_labels": math.nan,
            "saved_fraction": math.nan,
            "saved_fraction_std": math.nan,
            "labels_saved": math.nan,
            "outcome": "",
        }
        baseline = counted[(counted["experiment_id"] == experiment_id) & (counted["fraction"] == 0)]
        if fraction != 0 and n and not baseline.empty:
            comparison = metrics.compare_with_random(
                labels,
                baseline["labels_to_target"].to_numpy(dtype=float),
                strategy_seeds=used["seed"].to_numpy(),
                random_seeds=baseline["seed"].to_numpy(),
                decimals=0,  # whole labels, as the table shows them
            )
            row.update(
                random_labels=comparison.random_labels,
                saved_fraction=comparison.saved_fraction,
                saved_fraction_std=comparison.saved_std,
                labels_saved=comparison.random_labels - comparison.labels,
                outcome=comparison.outcome,
            )
        records.append(row)
    return pd.DataFrame.from_records(records)


def _reachable(trials: pd.DataFrame) -> float:
    """The highest accuracy more than half of ``trials`` reached (their ``peak_accuracy``,
    baseline rounds included): any target up to it has a measured
    :func:`al_core.metrics.censored_median`, which needs ``n // 2 + 1`` of ``n`` trials
    to reach it. NaN without trials or peaks."""
    if trials.empty or "peak_accuracy" not in trials:
        return math.nan
    peaks = np.sort(trials["peak_accuracy"].to_numpy(dtype=float))[::-1]
    return float(peaks[len(peaks) // 2])
