"""Savings across target accuracies: labels needed by a configuration and by
random at each target, and the saving.

Targets are parsed and checked here (:func:`parse_targets`,
:func:`check_targets`); :func:`target_grid` spans the range worth showing,
:func:`savings_by_target` computes the figures (those of :func:`config_table` at
each target), :func:`savings_display_table` formats them, :func:`savings_view`
is what a page shows and :func:`target_comparisons` what ``python -m al_core
report --targets`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from al_core.errors import ConfigError
from al_core.parsing import number_list
from al_core.results.display import (
    _OUTCOME_WORDS,
    _labels_run,
    _whole_percent,
    config_label,
    format_labels,
    format_percent,
)
from al_core.results.tables import FINISHED, config_table, trial_table
from al_core.results.verdicts import default_target, top_active

#: Columns of :func:`savings_by_target`.
SAVINGS_COLUMNS = [
    "target",
    "random_labels",
    "random_min",
    "random_max",
    "random_reached",
    "random_trials",
    "random_ran",
    "labels",
    "labels_min",
    "labels_max",
    "reached",
    "trials",
    "ran",
    "saved_fraction",
    "saved_std",
    "outcome",
]


def check_targets(targets: Sequence[float]) -> list[float]:
    """``targets`` as floats, each a target accuracy in (0, 1]; at least one.

    Raises
    ------
    ConfigError
        A value that is not a number or lies outside (0, 1] (naming it and the fix),
        or no value at all.
    """
    values = []
    for target in targets:
        try:
            value = float(target)
        except (TypeError, ValueError):
            raise ConfigError(
                f"target {target!r} is not a number; give accuracies in (0, 1], e.g. 0.9"
            ) from None
        if not (0.0 < value <= 1.0) or not math.isfinite(value):
            raise ConfigError(
                f"target accuracy must be in (0, 1], got {target}; write 0.9 for 90 %"
            )
        values.append(value)
    if not values:
        raise ConfigError("give at least one target accuracy, e.g. 0.85,0.9,0.95")
    return values


def parse_targets(text: str) -> list[float]:
    """``"0.85,0.9,0.95"`` → ``[0.85, 0.9, 0.95]`` (commas or spaces; duplicates dropped,
    order kept), each checked by :func:`check_targets`.

    Raises
    ------
    ConfigError
        A part that is not a number, a value outside (0, 1], or an empty list.
    """
    values = number_list(text, example="0.85,0.9,0.95", what="targets", noun="accuracies")
    return check_targets(values)


def _pair_rounds(
    rounds: pd.DataFrame, strategy: str, fraction: float, experiment_id: int | None
) -> pd.DataFrame:
    """The rounds of one experiment's configuration and of its random baseline."""
    if float(fraction) == 0:
        raise ConfigError(
            "compare an active-learning configuration (fraction > 0) with random, not "
            "random with itself"
        )
    if rounds.empty:
        return rounds
    if experiment_id is None:
        experiments = rounds["experiment_id"].unique()
        if len(experiments) > 1:
            raise ConfigError(
                f"the rounds hold {len(experiments)} experiments; name the experiment_id "
                "whose configuration to compare with its random baseline"
            )
        experiment_id = experiments[0]
    mine = rounds["experiment_id"] == experiment_id
    chosen = (rounds["strategy"] == strategy) & (rounds["fraction"] == fraction)
    return rounds[mine & (chosen | (rounds["fraction"] == 0))]


def savings_by_target(
    rounds: pd.DataFrame,
    strategy: str,
    fraction: float,
    targets: Sequence[float],
    *,
    experiment_id: int | None = None,
    include_partial: bool = False,
) -> pd.DataFrame:
    """Labels needed by one configuration and by random, and the saving, per target.

    Each row is the two rows of :func:`config_table` over :func:`trial_table` at
    that target, so the figures are those of the results table at the same
    target: medians over the counted trials with never-reached trials counted
    (:func:`al_core.metrics.censored_median`, whole labels), the random
    baseline's rounds past the budget included; the saving from those two
    medians, its spread across seed pairs and the outcome from
    :func:`al_core.metrics.compare_with_random`.

    Parameters
    ----------
    rounds : a :func:`rounds_frame` (several experiments need ``experiment_id``)
    strategy, fraction : the configuration compared (fraction > 0)
    targets : sequence of shape (t,), accuracies in (0, 1]
    experiment_id : the experiment, required when ``rounds`` holds several
    include_partial : count unfinished trials too, as :func:`config_table`

    Returns
    -------
    DataFrame of shape (t, len(SAVINGS_COLUMNS))
        Columns :data:`SAVINGS_COLUMNS`: target; random_labels (median, NaN = not
        reached), random_min / random_max (the spread across trials: fastest and
        slowest trial, random_max NaN when a trial never reached it),
        random_reached of random_trials, random_ran (most labels a random trial
        ran, past the budget included); the same for the configuration (labels,
        labels_min, labels_max, reached, trials, ran); saved_fraction (``1 -
        labels / random_labels``), saved_std (across seed pairs), outcome
        (``"fewer"``, ``"more"``, ``"within noise"``, ``"not conclusive"``,
        ``"not comparable"``). Empty (no rows) when either side has no trial.

    Raises
    ------
    ConfigError
        A target outside (0, 1], fraction 0, or several experiments and no
        ``experiment_id``.
    """
    targets = check_targets(targets)
    pair = _pair_rounds(rounds, strategy, fraction, experiment_id)
    records = []
    for target in targets:
        configs = config_table(trial_table(pair, target), include_partial=include_partial)
        if configs.empty:
            break
        random = configs[configs["fraction"] == 0]
        chosen = configs[(configs["strategy"] == strategy) & (configs["fraction"] == fraction)]
        if random.empty or chosen.empty:
            break
        r, c = random.iloc[0], chosen.iloc[0]
        records.append(
            {
                "target": target,
                "random_labels": r["labels_to_target"],
                "random_min": r["labels_min"],
                "random_max": r["labels_max"],
                "random_reached": int(r["reached"]),
                "random_trials": int(r["trials"]),
                "random_ran": _labels_run(r),
                "labels": c["labels_to_target"],
                "labels_min": c["labels_min"],
                "labels_max": c["labels_max"],
                "reached": int(c["reached"]),
                "trials": int(c["trials"]),
                "ran": _labels_run(c),
                "saved_fraction": c["saved_fraction"],
                "saved_std": c["saved_fraction_std"],
                "outcome": c["outcome"] or "not comparable",
            }
        )
    return pd.DataFrame.from_records(records, columns=SAVINGS_COLUMNS)


def target_grid(
    rounds: pd.DataFrame,
    strategy: str,
    fraction: float,
    *,
    upper: float | None = None,
    experiment_id: int | None = None,
) -> list[float]:
    """Whole-percent targets over the range both a configuration and random reach.

    From just above the larger of the two configurations' median first-round
    accuracies (below it both need only the initial labels) up to ``upper``
    (e.g. :func:`default_target`), by default the configuration's median final
    accuracy, rounded down. Finished trials count (every trial while none has
    finished). Returns the targets in increasing order, e.g. ``[0.71, …, 0.96]``;
    empty when nothing is measured or the range is empty.
    """
    pair = _pair_rounds(rounds, strategy, fraction, experiment_id)
    active = pair[pair["phase"] == "active"] if not pair.empty else pair
    if active.empty:
        return []
    if "trial_status" in active and (active["trial_status"] == FINISHED).any():
        active = active[active["trial_status"] == FINISHED]
    ordered = active.sort_values(["trial_id", "round"], kind="stable")
    per_trial = ordered.groupby("trial_id").agg(
        fraction=("fraction", "first"),
        first=("test_accuracy", "first"),
        last=("test_accuracy", "last"),
    )
    starts = per_trial.groupby("fraction")["first"].median()
    if len(starts) < 2:
        return []
    if upper is None:
        upper = float(per_trial[per_trial["fraction"] == fraction]["last"].median())
    low = math.floor(round(float(starts.max()) * 100, 6)) + 1
    high = math.floor(round(float(upper) * 100, 6))
    return [p / 100 for p in range(max(low, 1), min(high, 100) + 1)]


def _spread(low: float, high: float, ran: float) -> str:
    if not math.isfinite(low):
        return "not reached"
    first = f"{low:.0f}"
    last = f"{high:.0f}" if math.isfinite(high) else format_labels(math.nan, ran)
    return first if first == last else f"{first} – {last}"


#: Columns of :func:`savings_display_table`.
SAVINGS_DISPLAY_COLUMNS = [
    "target",
    "random: labels (median)",
    "random: fastest – slowest",
    "random: reached",
    "chosen: labels (median)",
    "chosen: fastest – slowest",
    "chosen: reached",
    "saved vs random",
    "± saved (seed pairs)",
    "verdict",
]


def savings_display_table(savings: pd.DataFrame) -> pd.DataFrame:
    """:func:`savings_by_target` as the strings a person reads, one row per target.

    Columns :data:`SAVINGS_DISPLAY_COLUMNS` ("chosen" is the configuration
    compared with random): target ("96 %"), the medians ("not reached (> N)"
    when half or more never reached it), fastest – slowest trial, "k of n"
    trials reaching it, the saving ("+44%"), its spread across seed pairs and
    the verdict. The chart of :func:`al_core.charts.savings_figure` shows these
    same strings.
    """
    rows = []
    for _, row in savings.iterrows():
        rows.append(
            {
                "target": _whole_percent(row["target"]),
                "random: labels (median)": format_labels(row["random_labels"], row["random_ran"]),
                "random: fastest – slowest": _spread(
                    row["random_min"], row["random_max"], row["random_ran"]
                ),
                "random: reached": f"{row['random_reached']} of {row['random_trials']}",
                "chosen: labels (median)": format_labels(row["labels"], row["ran"]),
                "chosen: fastest – slowest": _spread(
                    row["labels_min"], row["labels_max"], row["ran"]
                ),
                "chosen: reached": f"{row['reached']} of {row['trials']}",
                "saved vs random": format_percent(row["saved_fraction"], signed=True),
                "± saved (seed pairs)": format_percent(row["saved_std"]),
                "verdict": _OUTCOME_WORDS.get(row["outcome"], "—"),
            }
        )
    return pd.DataFrame(rows, columns=SAVINGS_DISPLAY_COLUMNS)


def target_comparisons(
    rounds: pd.DataFrame,
    configs: pd.DataFrame,
    targets: Sequence[float],
    *,
    fraction: float | None = None,
) -> pd.DataFrame:
    """:func:`savings_by_target` for every experiment of ``configs`` (its
    :func:`config_table`), as ``python -m al_core report --targets`` prints it.

    Per experiment the configuration compared with random is :func:`top_active`
    (highest median final accuracy), or the one at ``fraction`` (the best of
    them by median final accuracy when several strategies share it).

    Returns one row per (experiment, target): columns experiment_id, strategy,
    fraction, then :data:`SAVINGS_COLUMNS`; empty without an active
    configuration or a random baseline.

    Raises
    ------
    ConfigError
        A bad target, or a ``fraction`` that is 0 or no experiment ran.
    """
    targets = check_targets(targets)
    columns = ["experiment_id", "strategy", "fraction", *SAVINGS_COLUMNS]
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise ConfigError(
            f"--fraction must be an uncertainty fraction in (0, 1] to compare with random, "
            f"got {fraction:g}"
        )
    frames = []
    for experiment_id, own in configs.groupby("experiment_id", sort=True) if len(configs) else []:
        candidates = own if fraction is None else own[np.isclose(own["fraction"], fraction)]
        if fraction is not None and candidates.empty:
            ran = ", ".join(f"{f:g}" for f in sorted(set(own["fraction"])) if f > 0)
            raise ConfigError(
                f"experiment {experiment_id} has no configuration at fraction {fraction:g}; "
                f"its fractions are {ran or 'none but random'}"
            )
        top = top_active(candidates)
        if top is None or own[own["fraction"] == 0].empty:
            continue
        savings = savings_by_target(
            rounds,
            str(top["strategy"]),
            float(top["fraction"]),
            targets,
            experiment_id=int(experiment_id),
        )
        frames.append(
            savings.assign(
                experiment_id=int(experiment_id),
                strategy=str(top["strategy"]),
                fraction=float(top["fraction"]),
            )[columns]
        )
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class SavingsView:
    """What a page shows of :func:`savings_by_target`: the configuration compared
    with random (``name`` its :func:`config_label`), its ``savings`` frame and the
    :func:`savings_display_table` of it (same rows)."""

    experiment_id: int
    strategy: str
    fraction: float
    name: str
    savings: pd.DataFrame
    table: pd.DataFrame


def savings_view(
    rounds: pd.DataFrame,
    configs: pd.DataFrame,
    target: float | None,
    *,
    fraction: float | None = None,
    experiment_id: int | None = None,
    include_partial: bool = False,
    strategy: str | None = None,
) -> SavingsView | None:
    """Savings across targets for one experiment, as the Overview and Results show them.

    The configuration compared is the one at ``fraction`` (the person's choice;
    :func:`top_active` among several strategies there, or ``strategy``'s when
    given), else :func:`top_active` of the experiment. The targets are :func:`target_grid` up to
    :func:`default_target`, plus ``target`` (the headline's) when outside it.
    ``configs`` is a :func:`config_table` holding the experiment (the first one
    when ``experiment_id`` is not given). ``None`` without a random baseline and
    an active configuration, or with no target to show.
    """
    if configs.empty:
        return None
    if experiment_id is None:
        experiment_id = int(configs["experiment_id"].iloc[0])
    own = configs[configs["experiment_id"] == experiment_id]
    row = None
    if fraction is not None and fraction > 0:
        at = own[np.isclose(own["fraction"].astype(float), fraction)]
        if strategy is not None:
            at = at[at["strategy"] == strategy]
            if at.empty:
                return None
        row = top_active(at)
    if row is None:
        row = top_active(own)
    if row is None or own[own["fraction"] == 0].empty:
        return None
    strategy, chosen = str(row["strategy"]), float(row["fraction"])
    grid = target_grid(
        rounds, strategy, chosen, upper=default_target(own), experiment_id=experiment_id
    )
    if target is not None and round(target, 6) not in grid:
        grid = sorted({*grid, round(float(target), 6)})
    if not grid:
        return None
    savings = savings_by_target(
        rounds,
        strategy,
        chosen,
        grid,
        experiment_id=experiment_id,
        include_partial=include_partial,
    )
    if savings.empty:
        return None
    return SavingsView(
        experiment_id=experiment_id,
        strategy=strategy,
        fraction=chosen,
        name=config_label(strategy, chosen),
        savings=savings,
        table=savings_display_table(savings),
    )


def savings_views(
    rounds: pd.DataFrame,
    configs: pd.DataFrame,
    target: float | None,
    *,
    fraction: float,
    experiment_id: int | None = None,
    include_partial: bool = False,
) -> list[SavingsView]:
    """:func:`savings_view` of the configuration at ``fraction``, then of every other
    strategy measured at the same fraction (e.g. ``auto`` beside ``margin``), each
    against the same random baseline. Empty when there is nothing to compare."""
    first = savings_view(
        rounds, configs, target, fraction=fraction, experiment_id=experiment_id,
        include_partial=include_partial,
    )  # fmt: skip
    if first is None:
        return []
    own = configs[configs["experiment_id"] == first.experiment_id]
    at = own[np.isclose(own["fraction"].astype(float), first.fraction)]
    views = [first]
    for strategy in dict.fromkeys(at["strategy"].astype(str)):
        if strategy == first.strategy:
            continue
        view = savings_view(
            rounds, configs, target, fraction=first.fraction,
            experiment_id=first.experiment_id, include_partial=include_partial,
            strategy=strategy,
        )  # fmt: skip
        if view is not None:
            views.append(view)
    return views
