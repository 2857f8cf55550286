"""Frames behind the app's charts: measured learning curves, expected curves and
near-copies among the queried images, per configuration.

Expected (dummy) curves are synthetic and labelled so (:mod:`al_core.expected`);
only measured rounds come from the store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from al_core import expected, expected_anchors, metrics
from al_core.results.display import config_label
from al_core.results.tables import CONFIG_KEYS


def curve_bands(rounds: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy vs labeled count per configuration, with a ±1 std band.

    The active phase is averaged (auto-labeling steps are not). Per configuration
    the finished trials (status ``done``) are averaged; while none has finished,
    the trials measured so far are (a live preview), so a curve does not shrink back when
    another trial starts. Points are the labeled counts that every averaged
    trial reached (:func:`al_core.metrics.mean_curve`: no interpolation).

    The random baseline's rounds past the active budget (phase ``baseline``,
    the baseline extension) come after its active points, with ``phase``
    ``"baseline"``: the mean over the same trials of their active plus
    baseline rounds, at the labeled counts beyond the active points that every
    one of them reached.

    Returns one row per (configuration, labeled count) with columns
    experiment_id, strategy, fraction, label, labeled, mean, std, lower, upper,
    trials, phase (``"active"`` or ``"baseline"``) and handover_at (strategy
    ``auto``: the median over its trials of the labeled count at which it handed
    over from typical images to its base score, :func:`handover_at`; NaN
    otherwise); ``label`` is prefixed with the experiment id when there are several.
    """
    columns = [*CONFIG_KEYS, "label", "labeled", "mean", "std", "lower", "upper", "trials",
               "phase", "handover_at"]  # fmt: skip
    extension = rounds[rounds["phase"] == "baseline"] if not rounds.empty else rounds
    active = rounds[rounds["phase"] == "active"] if not rounds.empty else rounds
    if active.empty:
        return pd.DataFrame(columns=columns)
    if "trial_status" not in active:
        active = active.assign(trial_status="done")
    several = active["experiment_id"].nunique() > 1
    frames = []
    active = active.sort_values(["trial_id", "round"], kind="stable")
    for (experiment_id, strategy, fraction), group in active.groupby(CONFIG_KEYS, sort=True):
        done = group[group["trial_status"] == "done"]
        chosen = done if not done.empty else group
        trial_ids = chosen["trial_id"].to_numpy()
        labeled_all = chosen["labeled"].to_numpy()
        accuracy_all = chosen["test_accuracy"].to_numpy(dtype=float)
        starts = np.flatnonzero(np.r_[True, trial_ids[1:] != trial_ids[:-1]])
        bounds = [*starts[1:], len(trial_ids)]
        curves = [
            (labeled_all[a:b], accuracy_all[a:b]) for a, b in zip(starts, bounds, strict=True)
        ]
        labeled, mean, std, n = metrics.mean_curve(curves)
        label = config_label(strategy, fraction)
        label = f"exp {experiment_id} · {label}" if several else label
        points = [(labeled, mean, std, n, "active")]
        past = extension[
            extension["trial_id"].isin(set(trial_ids))
            & (extension["experiment_id"] == experiment_id)
        ]
        if not past.empty and labeled.size:
            by_trial = dict(zip(trial_ids[starts], curves, strict=True))
            points.append(_extension_points(by_trial, past, labeled[-1]))
        switch = handover_at(chosen) if strategy == "auto" else math.nan
        for x, y, spread, count, phase in points:
            frames.append(
                pd.DataFrame(
                    {
                        "experiment_id": experiment_id,
                        "strategy": strategy,
                        "fraction": fraction,
                        "label": label,
                        "labeled": x,
                        "mean": y,
                        "std": spread,
                        "lower": y - spread,
                        "upper": y + spread,
                        "trials": count,
                        "phase": phase,
                        "handover_at": switch,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)[columns]


def handover_at(rounds: pd.DataFrame) -> float:
    """Median over trials of the labeled count at which strategy ``auto`` handed over:
    the first round whose batch was picked by something other than ``typiclust``
    (``picked_by``, stored per round). NaN when no trial has handed over (yet), or
    for rounds stored before ``picked_by`` was."""
    if "picked_by" not in rounds:
        return math.nan
    picked = rounds[rounds["picked_by"].notna() & (rounds["picked_by"] != "typiclust")]
    if picked.empty:
        return math.nan
    first = picked.sort_values(["trial_id", "round"], kind="stable").groupby("trial_id").first()
    return float(first["labeled"].median())


def _extension_points(
    curves: dict[Any, tuple[np.ndarray, np.ndarray]], past: pd.DataFrame, last_active: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    """The baseline extension's mean points of one configuration.

    ``curves`` maps trial id to its active (labeled, accuracy) curve; each is
    continued with that trial's ``past`` rounds (phase ``baseline``) and the
    :func:`al_core.metrics.mean_curve` of the continued curves is kept beyond
    ``last_active`` (the last active point). Returns (labeled, mean, std, n,
    ``"baseline"``), arrays of shape (g,).
    """
    continued = []
    for trial_id, (x, y) in curves.items():
        more = past[(past["trial_id"] == trial_id) & (past["labeled"] > x[-1])]
        more = more.sort_values("labeled", kind="stable").drop_duplicates("labeled")
        continued.append(
            (
                np.r_[x, more["labeled"].to_numpy()],
                np.r_[y, more["test_accuracy"].to_numpy(dtype=float)],
            )
        )
    labeled, mean, std, n = metrics.mean_curve(continued)
    beyond = labeled > last_active
    return labeled[beyond], mean[beyond], std[beyond], n, "baseline"


def expected_plan(base: dict[str, Any], labeled_max: float | None = None) -> tuple[int, int, int]:
    """(initial, batch, rounds) to draw expected curves over, from a stored base config.

    ``rounds`` comes from the config's rounds, else its label budget, else the
    largest labeled count measured so far, else 10.
    """
    initial, batch = int(base.get("initial") or 1), int(base.get("batch") or 1)
    if base.get("rounds"):
        rounds = int(base["rounds"])
    elif base.get("budget"):
        rounds = math.ceil((int(base["budget"]) - initial) / batch)
    elif labeled_max is not None and math.isfinite(labeled_max):
        rounds = math.ceil((labeled_max - initial) / batch)
    else:
        rounds = 10
    return initial, batch, max(rounds, 1)


def expected_frame(
    initial: int,
    batch: int,
    rounds: int,
    fractions: Sequence[float],
    base: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Expected (dummy) curves at the labeled counts ``initial + batch * r``, r = 0..rounds.

    Synthetic, never measured: every row has ``synthetic`` True and a label
    ending in "not measured" (see :mod:`al_core.expected`). Columns: fraction,
    label, labeled, accuracy, synthetic; ``(len(fractions) * (rounds + 1))`` rows.
    With the stored base config ``base`` whose data set loads quickly, random
    follows a logistic-regression curve on that data
    (:func:`~al_core.expected_anchors.anchor_for_config`: kept, else measured); otherwise the
    generic formula.
    ``frame.attrs["caption"]`` says which (:func:`~al_core.expected.describe_expected`).
    """
    labeled = initial + batch * np.arange(rounds + 1, dtype=np.float64)
    params = expected.params_for(initial, batch, rounds)
    # Kept anchors first (the presets' on digits: measured ahead of time, so the first
    # look is instant), else measured now.
    anchor = (
        None if base is None else expected_anchors.anchor_for_config(base, initial, batch, rounds)
    )
    curves = (
        expected.expected_curves(labeled, fractions, params)
        if anchor is None
        else expected.anchored_curves(labeled, fractions, anchor, initial=initial)
    )
    frames = [
        pd.DataFrame(
            {
                "fraction": curve.fraction,
                "label": curve.label,
                "labeled": curve.labeled,
                "accuracy": curve.accuracy,
                "synthetic": curve.synthetic,
            }
        )
        for curve in curves
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["caption"] = expected.describe_expected(
        anchor, None if base is None else str(base.get("dataset", ""))
    )
    return frame


def redundancy_table(rounds: pd.DataFrame) -> pd.DataFrame:
    """Near-copies among the queried images, per configuration.

    A round's ``redundant`` counts its queried images that were near-copies of a
    labeled or earlier-queried image (:meth:`al_core.loop.ActiveLearner.redundant_count`).
    As for the curves, the finished trials are summed, or every trial measured so far
    while none has finished. Rounds stored before redundancy was measured (NULL) are
    left out.

    Returns one row per configuration with columns experiment_id, strategy, fraction,
    label, trials, rounds (rounds that queried), queried (images), redundant (images),
    share (redundant / queried), per_round (mean redundant images per round); empty
    when no round has a count.
    """
    columns = [*CONFIG_KEYS, "label", "trials", "rounds", "queried", "redundant", "share",
               "per_round"]  # fmt: skip
    if rounds.empty or "redundant" not in rounds:
        return pd.DataFrame(columns=columns)
    measured = rounds[rounds["redundant"].notna() & (rounds["phase"] == "active")]
    if measured.empty:
        return pd.DataFrame(columns=columns)
    if "trial_status" not in measured:
        measured = measured.assign(trial_status="done")
    rows = []
    for (experiment_id, strategy, fraction), group in measured.groupby(CONFIG_KEYS, sort=True):
        done = group[group["trial_status"] == "done"]
        chosen = done if not done.empty else group
        queried = sum(len(_as_list(q)) for q in chosen["queried"])
        redundant = int(chosen["redundant"].sum())
        rows.append(
            {
                "experiment_id": experiment_id,
                "strategy": strategy,
                "fraction": fraction,
                "label": config_label(strategy, fraction),
                "trials": chosen["trial_id"].nunique(),
                "rounds": len(chosen),
                "queried": queried,
                "redundant": redundant,
                "share": redundant / queried if queried else math.nan,
                "per_round": redundant / len(chosen),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _as_list(value: Any) -> list[Any]:
    """A round's ``queried`` indices: JSON text from the store, or a list."""
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value) if value is not None else []
