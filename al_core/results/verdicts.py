"""Whether active learning beat random: the verdict, the headline and its target.

:class:`Completion` says whether every compared trial has finished (no verdict
before); :func:`verdict` is one honest sentence over a :func:`config_table`;
:class:`Headline` / :func:`headline` the overview's figure, stated by
:func:`headline_sentence` at :func:`default_target` (the accuracy the best
configuration reached, :func:`top_active`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from al_core.results.display import _labels_run, _whole_percent, format_labels, format_percent
from al_core.results.tables import FINISHED, OPEN_STATUSES, config_table, trial_table


@dataclass(frozen=True)
class Completion:
    """How many of the trials a comparison rests on have finished.

    ``finished``: done; ``open``: queued or running (they will still change);
    ``stopped``: cancelled or failed (partial, never to finish).
    """

    total: int
    finished: int
    open: int
    stopped: int

    @property
    def preliminary(self) -> bool:
        """True while any trial is queued or running: no verdict yet."""
        return self.open > 0

    def text(self) -> str:
        """E.g. ``"preliminary: 2 of 33 trials finished"``."""
        return f"preliminary: {self.finished} of {self.total} trials finished"


def completion(statuses: Sequence[str]) -> Completion:
    """:class:`Completion` from the statuses of every trial of the compared experiments."""
    counts = Counter(statuses)
    opened = sum(counts[s] for s in OPEN_STATUSES)
    return Completion(
        total=len(statuses),
        finished=counts[FINISHED],
        open=opened,
        stopped=len(statuses) - counts[FINISHED] - opened,
    )


def best_active(configs: pd.DataFrame) -> pd.Series | None:
    """The active-learning configuration (fraction > 0) that saved the most labels.

    Rows with no computable saving sort last (those reaching the target in
    more trials first); ``None`` without any active row.
    """
    active = configs[configs["fraction"] > 0] if not configs.empty else configs
    if active.empty:
        return None
    return active.sort_values(
        ["saved_fraction", "reached"], ascending=False, na_position="last"
    ).iloc[0]


def _name(row: pd.Series) -> str:
    return f"{row['strategy']} at {row['fraction']:.0%} uncertainty"


def verdict(
    configs: pd.DataFrame, target: float | None, completion: Completion | None = None
) -> str:
    """One honest sentence on whether active learning beat random here.

    Every figure in it is a cell of :func:`display_table` (same formatting).
    While ``completion`` says trials are still queued or running, it draws no
    conclusion and says how many have finished.
    """
    if completion is not None and completion.preliminary:
        return (
            f"Preliminary: {completion.finished} of {completion.total} trials finished. "
            "No verdict until every trial of the comparison has finished."
        )
    if configs.empty or not (configs["trials"] > 0).any():
        return "No finished trials yet."
    if target is None:
        return "No target accuracy set: compare the curves' areas (auc) instead."
    counted = configs[configs["trials"] > 0]
    active = counted[counted["fraction"] > 0]
    baseline = counted[counted["fraction"] == 0]
    goal = f"{target:.0%}"
    if baseline.empty:
        return "No random baseline (fraction 0) in these results: savings cannot be judged."
    if active.empty:
        return "Only the random baseline was measured."
    best = best_active(counted)
    assert best is not None
    if best["outcome"] == "not comparable":
        random_reached = baseline["labels_to_target"].notna().all()
        reaching = active[active["labels_to_target"].notna()]
        if not random_reached and not reaching.empty:
            first = reaching.sort_values("labels_to_target").iloc[0]
            return (
                f"Random did not reach {goal} in half or more of its trials, so no saving can "
                f"be computed; {_name(first)} reached it in {first['reached']} of "
                f"{first['trials']} trials (median {format_labels(first['labels_to_target'])} "
                "labels)."
            )
        if not random_reached:
            return f"Neither random nor any active-learning configuration reached {goal}."
        return (
            f"No active-learning configuration reached {goal} in at least half of its trials; "
            f"random needed {format_labels(baseline['labels_to_target'].iloc[0])} labels "
            "(median)."
        )
    saved = format_percent(abs(best["saved_fraction"]))
    spread = format_percent(best["saved_fraction_std"])
    figures = (
        f"a median of {format_labels(best['labels_to_target'])} labels against random's "
        f"{format_labels(best['random_labels'])}"
    )
    if best["outcome"] == "not conclusive":
        return (
            f"Not conclusive: the best configuration ({_name(best)}) needed {figures} to "
            f"reach {goal}, but fewer than two seed pairs reached the target, so the spread "
            "across trials is unknown."
        )
    if best["outcome"] == "within noise":
        more_or_fewer = "fewer" if best["saved_fraction"] > 0 else "more"
        return (
            f"Within noise: the best configuration ({_name(best)}) needed {figures} to reach "
            f"{goal} ({saved} {more_or_fewer}), no more than the ± {spread} spread across "
            "seed pairs; no saving can be claimed."
        )
    if best["outcome"] == "more":
        return (
            f"Active learning did NOT beat random here: the best configuration ({_name(best)}) "
            f"needed {saved} more labels than random to reach {goal} ({figures}; "
            f"± {spread} across seed pairs)."
        )
    return (
        f"Best: {_name(best)} reached {goal} with {saved} fewer labels than random "
        f"({figures}; ± {spread} across seed pairs)."
    )


@dataclass(frozen=True)
class Headline:
    """The overview's headline figure for one experiment and target accuracy.

    ``labels`` and ``random_labels`` are the medians of :func:`config_table`
    (never-reached trials counted), ``reached`` / ``random_reached`` how many
    of the ``trials`` / ``random_trials`` reached the target, ``saved_fraction``
    and ``saved_std`` the best active configuration's row, ``outcome`` its
    :attr:`al_core.metrics.Comparison.outcome`.
    """

    target: float
    random_labels: float
    random_reached: int
    random_trials: int
    strategy: str
    fraction: float
    labels: float
    reached: int
    trials: int
    saved_fraction: float
    saved_std: float
    outcome: str

    @property
    def claim(self) -> str:
        """The metric's value: ``"27%"`` (or ``"-12%"``) beyond the spread, else
        ``"within noise"`` / ``"not conclusive"``."""
        if self.outcome in ("fewer", "more"):
            return format_percent(self.saved_fraction)
        return self.outcome

    def text(self) -> str:
        """E.g. "Labels needed to reach 90% (median over trials): random 130 (3 of 3
        trials reached it), best fraction 50% (margin) 95 (3 of 3): saved 27% ± 9%
        across seed pairs"."""
        return (
            f"Labels needed to reach {self.target:.0%} (median over trials): "
            f"random {format_labels(self.random_labels)} ({self.random_reached} of "
            f"{self.random_trials} trials reached it), best fraction {self.fraction:.0%} "
            f"({self.strategy}) {format_labels(self.labels)} ({self.reached} of "
            f"{self.trials}): {self.saving_text()}"
        )

    def saving_text(self) -> str:
        """The saving with its spread: ``"saved 27% ± 9% across seed pairs"``, or
        ``"+3% ± 8% across seed pairs: within noise"`` / ``"…, not conclusive …"``."""
        saved = format_percent(self.saved_fraction, signed=True)
        spread = format_percent(self.saved_std)
        return {
            "within noise": f"{saved} ± {spread} across seed pairs: within noise",
            "not conclusive": f"{saved}, not conclusive (spread unknown with one seed pair)",
        }.get(
            self.outcome,
            f"saved {format_percent(self.saved_fraction)} ± {spread} across seed pairs",
        )


def headline(
    configs: pd.DataFrame, target: float | None, completion: Completion | None = None
) -> Headline | None:
    """The headline figure from one experiment's :func:`config_table`.

    ``None`` when it cannot be stated honestly: trials still open
    (``completion``), no target, no random baseline or no active
    configuration, or random / the best configuration did not reach the
    target in at least half of its trials (then :func:`verdict` explains why).
    """
    if target is None or configs.empty or (completion is not None and completion.preliminary):
        return None
    best = best_active(configs[configs["trials"] > 0])
    if best is None or not np.isfinite(best["saved_fraction"]):
        return None
    baseline = configs[
        (configs["fraction"] == 0) & (configs["experiment_id"] == best["experiment_id"])
    ]
    if baseline.empty:
        return None
    random_row = baseline.iloc[0]
    return Headline(
        target=float(target),
        random_labels=float(random_row["labels_to_target"]),
        random_reached=int(random_row["reached"]),
        random_trials=int(random_row["trials"]),
        strategy=str(best["strategy"]),
        fraction=float(best["fraction"]),
        labels=float(best["labels_to_target"]),
        reached=int(best["reached"]),
        trials=int(best["trials"]),
        saved_fraction=float(best["saved_fraction"]),
        saved_std=float(best["saved_fraction_std"]),
        outcome=str(best["outcome"]),
    )


def top_active(configs: pd.DataFrame) -> pd.Series | None:
    """The active configuration (fraction > 0, with counted trials) whose median final
    accuracy is highest; ``None`` without one. Ties: the first in table order."""
    if configs.empty or "final_accuracy_median" not in configs:
        return None
    active = configs[(configs["fraction"] > 0) & (configs["trials"] > 0)]
    active = active[np.isfinite(active["final_accuracy_median"].to_numpy(dtype=float))]
    if active.empty:
        return None
    return active.loc[active["final_accuracy_median"].astype(float).idxmax()]


def whole_percent_down(accuracy: float) -> float:
    """``0.9675`` → ``0.96``: an accuracy rounded down to a whole percent (``0.57`` stays
    ``0.57`` despite binary floating point)."""
    return math.floor(round(float(accuracy) * 100, 6)) / 100


#: How :func:`default_target` chooses, in the words the pages' target controls show.
DEFAULT_TARGET_RULE = (
    "Default: the best configuration's median final accuracy, rounded down to a whole "
    "percent, or lower: the highest whole percent that configuration and random each "
    'reached in more than half of their trials, so neither reads "not reached" there.'
)


def default_target(configs: pd.DataFrame, completion: Completion | None = None) -> float | None:
    """The headline's default target: an accuracy the best configuration
    (:func:`top_active`) reached with its label budget, which it and random (run on
    past the budget) each reached in more than half of their trials.

    The lowest of: the best configuration's median final accuracy, its
    ``reachable_accuracy`` and random's (the same experiment's), each rounded down to
    a whole percent. So at the default target neither the configuration the target
    comes from nor random reads "not reached", and the headline states a saving
    its chart shows. (The median final accuracy alone failed that: with 2 trials
    ending at 76.2 % and 73.6 %, 74 % is a target one trial never reached.)

    ``configs`` is a :func:`config_table` (any target: final and peak accuracies do
    not depend on it). ``None`` while trials are open (``completion``), without an
    active configuration, or below 1 %.
    """
    if completion is not None and completion.preliminary:
        return None
    top = top_active(configs)
    if top is None:
        return None
    ceilings = [float(top["final_accuracy_median"]), float(top.get("reachable_accuracy", math.nan))]
    random_row = configs[
        (configs["fraction"] == 0) & (configs["experiment_id"] == top["experiment_id"])
    ]
    if not random_row.empty and "reachable_accuracy" in random_row:
        ceilings.append(float(random_row["reachable_accuracy"].iloc[0]))
    target = min(whole_percent_down(c) for c in ceilings if math.isfinite(c))
    return target if target > 0 else None


def starting_target(
    rounds: pd.DataFrame, stored: float | None, completion: Completion | None = None
) -> float | None:
    """The target a page's control starts at: :func:`default_target` of the rounds'
    configurations once every trial has finished, else the ``stored`` target."""
    configs = config_table(trial_table(rounds, None)) if not rounds.empty else pd.DataFrame()
    return default_target(configs, completion) or stored


def _config_words(strategy: str, fraction: float) -> str:
    """``"margin at 40 %"``: a configuration in a sentence."""
    return f"{strategy} at {round(fraction * 100, 1):g} %"


def headline_sentence(best: Headline, configs: pd.DataFrame) -> str:
    """The headline at its target, as the Overview and Results state it.

    E.g. "To reach 96 % — the accuracy margin at 40 % reached with 100 labels —
    random needed 180 labels (median of 5 trials; 5 of 5 reached it), margin at
    40 % needed 100 (5 of 5): saved 44% ± 8% across seed pairs." The clause
    between dashes is there when the target is :func:`default_target` of
    ``configs`` (the same experiment's :func:`config_table`); every figure is a
    cell of ``configs``' :func:`display_table`.
    """
    top = top_active(configs)
    clause = ""
    if top is not None and default_target(configs) == round(best.target, 6):
        words = _config_words(str(top["strategy"]), float(top["fraction"]))
        if whole_percent_down(top["final_accuracy_median"]) == round(best.target, 6):
            clause = f" — the accuracy {words} reached with {top['final_labeled']:.0f} labels —"
        else:
            clause = (
                f" — the highest whole percent that {words} (within {top['final_labeled']:.0f} "
                "labels) and random each reached in more than half of their trials —"
            )
    random_row = configs[
        (configs["fraction"] == 0) & (configs["experiment_id"] == configs["experiment_id"].iloc[0])
    ]
    ran = _labels_run(random_row.iloc[0]) if not random_row.empty else math.nan
    return (
        f"To reach {_whole_percent(best.target)}{clause} random needed "
        f"{format_labels(best.random_labels, ran)} labels (median of {best.random_trials} "
        f"trials; {best.random_reached} of {best.random_trials} reached it), "
        f"{_config_words(best.strategy, best.fraction)} needed {format_labels(best.labels)} "
        f"({best.reached} of {best.trials}): {best.saving_text()}."
    )
