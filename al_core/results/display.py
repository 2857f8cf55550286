"""The strings a person reads: tables of :mod:`~al_core.results.tables` formatted.

Never "None" or "nan": a missing number is "—", a median that half or more of
the trials did not reach is "not reached (> N)". Used by the results page and
``python -m al_core report``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from al_core.results.tables import FINISHED, summary_columns


def format_labels(value: float, final_labeled: float = math.nan) -> str:
    """A labels-to-target cell: ``"86"``, or ``"not reached"`` (``"> 120"`` given the
    most labels the trials ran)."""
    if math.isfinite(value):
        return f"{value:.0f}"
    if math.isfinite(final_labeled):
        return f"not reached (> {final_labeled:.0f})"
    return "not reached"


def format_percent(fraction: float, *, signed: bool = False) -> str:
    """``0.126`` → ``"13%"`` (``"+13%"`` when ``signed``); NaN → ``"—"``."""
    if not math.isfinite(fraction):
        return "—"
    return f"{fraction * 100:{'+' if signed else ''}.0f}%"


def _labels_run(row: pd.Series) -> float:
    """The most labels a row's trials ran, the random baseline's rounds past the
    budget included (``extended_labeled``, when there)."""
    extended = float(row.get("extended_labeled", math.nan))
    final = float(row["final_labeled"])
    return max(final, extended) if math.isfinite(extended) else final


def _range(row: pd.Series) -> str:
    if row["trials"] == 0:
        return "—"
    low = f"{row['labels_min']:.0f}" if math.isfinite(row["labels_min"]) else "not reached"
    high = f"{row['labels_max']:.0f}" if math.isfinite(row["labels_max"]) else "not reached"
    return low if low == high else f"{low} – {high}"


def display_table(configs: pd.DataFrame) -> pd.DataFrame:
    """:func:`config_table` as the strings a person reads (results page, ``report``).

    Never "None" or "nan": a missing number is "—", a median over trials of
    which half or more missed the target is "not reached (> N)". Columns: exp,
    strategy, uncertainty, trials, reaching target ("2 of 3"), labels to target
    (median), fastest – slowest, saved vs random, ± saved (seed pairs), verdict,
    final accuracy, AUC (and accuracy after auto-labeling when measured).
    """
    rows = []
    auto = "auto_accuracy" in summary_columns(configs)
    for _, row in configs.iterrows():
        partial = int(row.get("partial", 0) or 0)
        trials = f"{row['trials']}" + (f" (+{partial} partial)" if partial else "")
        final = f"{row['final_accuracy']:.1%}" if row["trials"] else "—"
        if math.isfinite(row["final_accuracy_std"]):
            final += f" ± {row['final_accuracy_std']:.1%}"
        record = {
            "exp": int(row["experiment_id"]),
            "strategy": row["strategy"],
            "uncertainty": f"{row['fraction']:.0%}",
            "trials": trials,
            "reaching target": f"{row['reached']} of {row['trials']}" if row["trials"] else "—",
            "labels to target": format_labels(row["labels_to_target"], _labels_run(row))
            if row["trials"]
            else "—",
            "fastest – slowest": _range(row),
            "saved vs random": "baseline"
            if row["fraction"] == 0
            else format_percent(row["saved_fraction"], signed=True),
            "± saved": format_percent(row["saved_fraction_std"]),
            "verdict": "" if row["fraction"] == 0 else _OUTCOME_WORDS.get(row["outcome"], "—"),
            "final accuracy": final,
            "AUC": f"{row['auc']:.3f}" if math.isfinite(row["auc"]) else "—",
        }
        if auto:
            record["after auto-labeling"] = format_percent(row["auto_accuracy"])
        rows.append(record)
    return pd.DataFrame(rows)


_OUTCOME_WORDS = {
    "fewer": "fewer labels",
    "more": "more labels",
    "within noise": "within noise",
    "not conclusive": "not conclusive",
    "not comparable": "—",
    "": "—",
}


def _whole_percent(target: float) -> str:
    """``0.96`` → ``"96 %"`` (one decimal when it is not whole: ``"96.5 %"``)."""
    return f"{round(target * 100, 1):g} %"


def config_label(strategy: str, fraction: float) -> str:
    """Legend name of a configuration: ``"random (baseline)"`` or ``"margin · u = 30 %"``."""
    if fraction == 0:
        return "random (baseline)"
    return f"{strategy} · u = {round(fraction * 100, 1):g} %"


def trial_display_table(trials: pd.DataFrame) -> pd.DataFrame:
    """:func:`trial_table` as strings, one row per trial: exp, trial, strategy,
    uncertainty, seed, status ("partial" marked), rounds, labels to target
    ("not reached (> N)"), saved vs random (same seed), final accuracy."""
    rows = []
    for _, row in trials.iterrows():
        status = str(row.get("status", FINISHED))
        rows.append(
            {
                "exp": int(row["experiment_id"]),
                "trial": int(row["trial_id"]),
                "strategy": row["strategy"],
                "uncertainty": f"{row['fraction']:.0%}",
                "seed": int(row["seed"]),
                "status": status if status == FINISHED else f"{status} (partial)",
                # Rounds after the fit on the initial labels (the curve has one point more).
                "rounds": int(row["rounds"]) - 1,
                "labels to target": format_labels(row["labels_to_target"], _labels_run(row)),
                "saved vs random (same seed)": "baseline"
                if row["fraction"] == 0
                else format_percent(row.get("saved_vs_random", math.nan), signed=True),
                "final accuracy": f"{row['final_accuracy']:.1%}",
            }
        )
    return pd.DataFrame(rows)


def environment_table(environments: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """One row per trial id: the :func:`al_core.environment.capture` values it stored."""
    from al_core.environment import ENVIRONMENT_KEYS

    return pd.DataFrame(
        [
            {"trial": trial_id, **{key: env.get(key) for key in ENVIRONMENT_KEYS}}
            for trial_id, env in sorted(environments.items())
        ]
    ).astype(str)


def accuracy_measure_text(base: dict[str, Any]) -> str:
    """How an experiment's test accuracy was measured, from its stored base config.

    A config stored before the measure was recorded (no ``test_measure``) was
    measured with dropout off.
    """
    measure = base.get("test_measure") or "dropout_off"
    if measure == "mc_mean":
        passes = base.get("mc_samples", 20)
        return (
            f"Test accuracy: the mean prediction of {passes} Monte-Carlo dropout passes "
            "(each one sampled network), as the BatchBALD paper measures it."
        )
    if base.get("dropout"):
        return "Test accuracy: the network with dropout off (one deterministic pass)."
    return "Test accuracy: the trained network on the test images."
