"""The Overview's "Why batches need diversity" story, from :mod:`al_core.results` tables.

The ``repeated-digits`` preset (embedded digits, no download) and the
``repeated-mnist`` preset (the BatchBALD paper's Repeated MNIST) run BALD top-k,
BatchBALD and the random baseline on a pool where every image appears three times,
scoring the whole pool each round; these functions name their configurations, order
their curves and tables, and draw the verdict with the same honest comparison rules
as the rest of the app (:mod:`al_core.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from al_core import metrics
from al_core.results import (
    Completion,
    config_label,
    display_table,
    format_labels,
    format_percent,
)

#: The presets behind the Overview's "Why batches need diversity" story, by the data
#: set they run on: the first needs no download and is the default.
DIVERSITY_PRESETS: dict[str, str] = {
    "repeated-digits": "Digits (embedded, 8×8)",
    "repeated-mnist": "MNIST (28×28, the paper's)",
}
DIVERSITY_PRESET = next(iter(DIVERSITY_PRESETS))
#: How that story names strategies (at fraction 1: the strategy picks the whole batch).
STORY_NAMES = {"bald": "BALD top-k", "batchbald": "BatchBALD"}
_STORY_ORDER = {"random": 0, "bald": 1, "batchbald": 2}


def story_label(strategy: str, fraction: float) -> str:
    """A configuration's name in the diversity story: ``"random (baseline)"``,
    ``"BALD top-k"``, ``"BatchBALD"`` (other fractions add ``" · u = 50 %"``)."""
    if fraction == 0:
        return config_label(strategy, fraction)
    name = STORY_NAMES.get(strategy, strategy)
    return name if fraction == 1 else f"{name} · u = {round(fraction * 100, 1):g} %"


def _story_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in reading order: random, BALD top-k, BatchBALD, then any other."""
    order = [
        (float(f) > 0, _STORY_ORDER.get(str(s), len(_STORY_ORDER)), str(s), float(f))
        for s, f in zip(frame["strategy"], frame["fraction"], strict=True)
    ]
    positions = sorted(range(len(order)), key=order.__getitem__)
    return frame.iloc[positions].reset_index(drop=True)


def story_bands(bands: pd.DataFrame) -> pd.DataFrame:
    """:func:`curve_bands` of one experiment with :func:`story_label` legend names,
    random first, then BALD top-k, then BatchBALD (same columns)."""
    if bands.empty:
        return bands
    relabeled = bands.assign(
        label=[story_label(s, f) for s, f in zip(bands["strategy"], bands["fraction"], strict=True)]
    )
    configs = _story_sorted(relabeled[["strategy", "fraction"]].drop_duplicates())
    pieces = [
        relabeled[(relabeled["strategy"] == s) & (relabeled["fraction"] == f)]
        for s, f in zip(configs["strategy"], configs["fraction"], strict=True)
    ]
    return pd.concat(pieces, ignore_index=True)


def story_labels_table(configs: pd.DataFrame) -> pd.DataFrame:
    """:func:`display_table` of one experiment as the diversity story shows it: the
    configuration by its :func:`story_label`, random first; without the experiment
    and uncertainty columns. Every figure is that table's cell, as text."""
    if configs.empty:
        return pd.DataFrame()
    ordered = _story_sorted(configs)
    table = display_table(ordered).drop(columns=["exp", "uncertainty"])
    table["strategy"] = [
        story_label(s, f) for s, f in zip(ordered["strategy"], ordered["fraction"], strict=True)
    ]
    return table


def story_redundancy_table(redundancy: pd.DataFrame) -> pd.DataFrame:
    """:func:`redundancy_table` of one experiment as the diversity story shows it.

    One row per configuration (random first) with columns strategy
    (:func:`story_label`), trials, batches (rounds that queried), images queried,
    near-copies, "near-copies per batch" (``per_round`` to one decimal, as text: the
    figure's bar labels are these strings) and share (percent of queried images).
    """
    columns = ["strategy", "trials", "batches", "images queried", "near-copies",
               "near-copies per batch", "share"]  # fmt: skip
    if redundancy.empty:
        return pd.DataFrame(columns=columns)
    ordered = _story_sorted(redundancy)
    return pd.DataFrame(
        {
            "strategy": [
                story_label(s, f)
                for s, f in zip(ordered["strategy"], ordered["fraction"], strict=True)
            ],
            "trials": ordered["trials"].astype(int),
            "batches": ordered["rounds"].astype(int),
            "images queried": ordered["queried"].astype(int),
            "near-copies": ordered["redundant"].astype(int),
            "near-copies per batch": [f"{v:.1f}" for v in ordered["per_round"]],
            "share": [format_percent(v) for v in ordered["share"]],
        },
        columns=columns,
    )


def batchbald_comparison(
    trials: pd.DataFrame, strategy: str, fraction: float
) -> metrics.Comparison | None:
    """BatchBALD (fraction 1) against another configuration of the same experiment.

    :func:`al_core.metrics.compare_with_random` with the other configuration in the
    baseline's place: medians of the finished trials' labels to target (whole
    labels), the spread of the per-seed savings ``1 - batchbald_i / other_i``, and
    its outcome ("fewer" = BatchBALD needed fewer labels beyond that spread).
    ``trials`` is a :func:`trial_table`; ``None`` when either side has no finished
    trial.
    """
    if trials.empty:
        return None
    finished = trials[trials["complete"]] if "complete" in trials else trials
    ours = finished[(finished["strategy"] == "batchbald") & (finished["fraction"] == 1.0)]
    other = finished[(finished["strategy"] == strategy) & (finished["fraction"] == fraction)]
    if ours.empty or other.empty:
        return None
    return metrics.compare_with_random(
        ours["labels_to_target"].to_numpy(dtype=float),
        other["labels_to_target"].to_numpy(dtype=float),
        strategy_seeds=ours["seed"].to_numpy(),
        random_seeds=other["seed"].to_numpy(),
        decimals=0,
    )


@dataclass(frozen=True)
class DiversityVerdict:
    """Whether BatchBALD needed fewer labels than BALD top-k and than random.

    ``bottom_line``: one sentence ("Yes — …", "No — …", "Partly — …", or why there
    is no verdict yet); ``details``: one sentence per comparison, each quoting
    :func:`story_labels_table` cells; ``against``: the comparisons by the other
    configuration's story name (empty while trials are unfinished).
    """

    bottom_line: str
    details: tuple[str, ...] = ()
    against: tuple[tuple[str, metrics.Comparison], ...] = ()


# (strategy, fraction) BatchBALD is compared with, in the order the verdict reads.
_RIVALS = (("bald", 1.0), ("random", 0.0))


def _short(strategy: str, fraction: float) -> str:
    return "random" if fraction == 0 else story_label(strategy, fraction)


def _comparison_sentence(
    rival: str, comparison: metrics.Comparison, ours: str, theirs: str, goal: str
) -> str:
    saved = format_percent(abs(comparison.saved_fraction))
    spread = format_percent(comparison.saved_std)
    figures = f"a median of {ours} labels against {rival}'s {theirs}"
    outcome = comparison.outcome
    if outcome == "fewer":
        return (
            f"**Fewer labels than {rival}:** BatchBALD reached {goal} with {figures} "
            f"({saved} fewer; ± {spread} across seed pairs)."
        )
    if outcome == "more":
        return (
            f"**More labels than {rival}:** BatchBALD needed {figures} to reach {goal} "
            f"({saved} more; ± {spread} across seed pairs). BatchBALD did not win here."
        )
    if outcome == "within noise":
        more_or_fewer = "fewer" if comparison.saved_fraction > 0 else "more"
        if comparison.saved_fraction == 0:
            return (
                f"**Within noise against {rival}:** both needed a median of {ours} labels "
                f"to reach {goal} (± {spread} across seed pairs); no difference can be claimed."
            )
        return (
            f"**Within noise against {rival}:** BatchBALD needed {figures} to reach {goal} "
            f"({saved} {more_or_fewer}), no more than the ± {spread} spread across seed "
            "pairs; no difference can be claimed."
        )
    if outcome == "not conclusive":
        return (
            f"**Not conclusive against {rival}:** BatchBALD needed {figures} to reach {goal}, "
            "but fewer than two seed pairs both reached it, so the spread is unknown."
        )
    ours_reached = math.isfinite(comparison.labels)
    theirs_reached = math.isfinite(comparison.random_labels)
    if ours_reached and not theirs_reached:
        return (
            f"**BatchBALD reached {goal}, {rival} did not** in half or more of its trials: "
            f"BatchBALD a median of {ours} labels, {rival} {theirs}. No saving can be "
            f"computed against a target {rival} missed."
        )
    if theirs_reached and not ours_reached:
        return (
            f"**BatchBALD did not reach {goal}** in half or more of its trials, {rival} did: "
            f"BatchBALD {ours}, {rival} a median of {theirs} labels. BatchBALD did not win here."
        )
    return (
        f"**Neither BatchBALD nor {rival} reached {goal}** in half or more of its trials "
        f"({ours} and {theirs}): run more rounds or lower the target to compare them."
    )


def _won(comparison: metrics.Comparison) -> bool:
    return comparison.outcome == "fewer" or (
        comparison.outcome == "not comparable"
        and math.isfinite(comparison.labels)
        and not math.isfinite(comparison.random_labels)
    )


def _lost(comparison: metrics.Comparison) -> bool:
    return comparison.outcome == "more" or (
        comparison.outcome == "not comparable"
        and not math.isfinite(comparison.labels)
        and math.isfinite(comparison.random_labels)
    )


def _names(names: Sequence[str]) -> str:
    return " and ".join(names)


def _phrase(rival: str, comparison: metrics.Comparison, goal: str) -> str:
    """What BatchBALD did against ``rival``, for the bottom line (a win or a loss)."""
    if comparison.outcome in ("fewer", "more"):
        return f"needed {comparison.outcome} labels than {rival} to reach {goal}"
    if _won(comparison):
        return f"reached {goal} where {rival} did not (in half or more of the trials)"
    return f"did not reach {goal} where {rival} did (in half or more of the trials)"


def diversity_verdict(
    trials: pd.DataFrame,
    configs: pd.DataFrame,
    target: float | None,
    completion: Completion | None = None,
) -> DiversityVerdict:
    """Did BatchBALD need fewer labels than BALD top-k and than random to reach ``target``?

    ``trials`` and ``configs`` are one experiment's :func:`trial_table` and
    :func:`config_table`. Each comparison is :func:`batchbald_comparison`: a
    difference no larger than the spread across seed pairs is "within noise", one
    resting on fewer than two pairs "not conclusive". While ``completion`` says
    trials are queued or running, nothing is concluded. A loss is said as plainly
    as a win.
    """
    if completion is not None and completion.preliminary:
        return DiversityVerdict(
            f"{completion.text().capitalize()}. No verdict until every trial of the "
            "comparison has finished."
        )
    if configs.empty or not (configs["trials"] > 0).any():
        return DiversityVerdict("No finished trials yet.")
    if target is None:
        return DiversityVerdict("No target accuracy set: compare the curves instead.")
    goal = f"{target:.0%}"
    cells = {
        (str(r["strategy"]), float(r["fraction"])): format_labels(
            r["labels_to_target"], r["final_labeled"]
        )
        for _, r in configs[configs["trials"] > 0].iterrows()
    }
    missing = [story_label(s, f) for s, f in (("batchbald", 1.0), *_RIVALS) if (s, f) not in cells]
    if missing:
        return DiversityVerdict(
            f"This experiment has no finished {_names(missing)} trials: the comparison needs "
            "BatchBALD, BALD top-k and the random baseline."
        )
    compared = []
    details = []
    for strategy, fraction in _RIVALS:
        comparison = batchbald_comparison(trials, strategy, fraction)
        assert comparison is not None  # both sides have finished trials (cells)
        rival = _short(strategy, fraction)
        compared.append((rival, comparison))
        details.append(
            _comparison_sentence(
                rival, comparison, cells[("batchbald", 1.0)], cells[(strategy, fraction)], goal
            )
        )
    won = [rival for rival, c in compared if _won(c)]
    lost = [rival for rival, c in compared if _lost(c)]
    unclear = [rival for rival, c in compared if rival not in won and rival not in lost]
    phrases = {rival: _phrase(rival, c, goal) for rival, c in compared if rival not in unclear}
    if len(won) == len(compared) and all(c.outcome == "fewer" for _, c in compared):
        bottom = f"Yes — here BatchBALD needed fewer labels than {_names(won)} to reach {goal}."
    elif len(won) == len(compared):
        bottom = "Yes — here BatchBALD " + "; it ".join(phrases[r] for r in won) + "."
    elif lost:
        bottom = "No — here BatchBALD " + "; it ".join(phrases[r] for r in lost) + "."
        if won:
            bottom += " It " + "; it ".join(phrases[r] for r in won) + "."
    elif won:
        bottom = (
            f"Partly — here BatchBALD needed fewer labels than {_names(won)} to reach {goal}; "
            f"against {_names(unclear)} no difference can be claimed."
        )
    else:
        bottom = (
            f"Not shown by this experiment: against {_names(unclear)} no difference in labels "
            f"to reach {goal} can be claimed."
        )
    return DiversityVerdict(bottom, tuple(details), tuple(compared))
