"""From stored rounds to learning-curve tables: per trial, per configuration.

Used by ``python -m al_core report`` and by the app's results pages, so the
numbers a user reads are computed in one place.

A *configuration* is one (strategy, fraction) of an experiment; its trials
differ by seed. The random baseline is the configuration with fraction 0.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from al_core import expected, metrics
from al_core.errors import ConfigError

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
    auc, labels_to_target (NaN = not reached), interpolated, reached,
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
    (median over the counted trials), random_labels, labels_saved (random's
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


# --------------------------------------------------------------------------- formatting


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


# --------------------------------------------------------------------------- verdicts


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


# --------------------------------------------------------------------------- app views


def config_label(strategy: str, fraction: float) -> str:
    """Legend name of a configuration: ``"random (baseline)"`` or ``"margin · u = 30 %"``."""
    if fraction == 0:
        return "random (baseline)"
    return f"{strategy} · u = {round(fraction * 100, 1):g} %"


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
    trials, phase (``"active"`` or ``"baseline"``); ``label`` is prefixed with
    the experiment id when there are several.
    """
    columns = [*CONFIG_KEYS, "label", "labeled", "mean", "std", "lower", "upper", "trials",
               "phase"]  # fmt: skip
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
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)[columns]


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
    (:func:`~al_core.expected.anchor_for_config`); otherwise the generic formula.
    ``frame.attrs["caption"]`` says which (:func:`~al_core.expected.describe_expected`).
    """
    labeled = initial + batch * np.arange(rounds + 1, dtype=np.float64)
    params = expected.params_for(initial, batch, rounds)
    anchor = None if base is None else expected.anchor_for_config(base, initial, batch, rounds)
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


def experiment_target(experiment: dict[str, Any]) -> float | None:
    """The target accuracy stored in an experiment's base config (``None`` if unset)."""
    return experiment["config"].get("base", {}).get("target")


def overview_experiment(
    experiments: Sequence[dict[str, Any]],
    *,
    presets: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The experiment the overview shows first: the newest sweep with measured
    (finished) trials, else the newest queued / running one (from
    :meth:`Store.experiments`, newest first); ``presets`` / ``exclude`` as in
    :func:`overview_choices`."""
    candidates = overview_choices(experiments, presets=presets, exclude=exclude)
    with_data = [e for e in candidates if (e["trials_done"] or 0) > 0]
    return (with_data or candidates or [None])[0]


def experiment_preset(experiment: dict[str, Any]) -> str | None:
    """The preset an experiment was queued from (``submit_preset`` stores it in the
    config as ``preset``), ``None`` for a sweep from the form or the command line."""
    return (experiment.get("config") or {}).get("preset")


def overview_choices(
    experiments: Sequence[dict[str, Any]],
    *,
    presets: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Sweeps the overview can show (newest first): with finished trials, or still open.

    ``presets`` keeps only the experiments queued from one of these presets;
    ``exclude`` drops those queued from any of these (another story shows them).
    """
    return [
        e
        for e in experiments
        if e["kind"] == "sweep"
        and ((e["trials_done"] or 0) > 0 or e["status"] in ("queued", "running"))
        and (presets is None or experiment_preset(e) in presets)
        and experiment_preset(e) not in exclude
    ]


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


# --------------------------------------------------------------------------- savings across targets

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
    values: list[float] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"targets must be accuracies separated by commas, e.g. 0.85,0.9,0.95 (got {part!r})"
            ) from None
        if value not in values:
            values.append(value)
    return check_targets(values)


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


def default_target(configs: pd.DataFrame, completion: Completion | None = None) -> float | None:
    """The headline's default target: :func:`top_active`'s median final accuracy
    rounded down to a whole percent, the accuracy the best configuration reached
    with its label budget.

    ``configs`` is a :func:`config_table` (any target: final accuracies do not
    depend on it). ``None`` while trials are open (``completion``), without an
    active configuration, or below 1 %.
    """
    if completion is not None and completion.preliminary:
        return None
    top = top_active(configs)
    if top is None:
        return None
    target = whole_percent_down(top["final_accuracy_median"])
    return target if target > 0 else None


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


def _config_words(strategy: str, fraction: float) -> str:
    """``"margin at 40 %"``: a configuration in a sentence."""
    return f"{strategy} at {round(fraction * 100, 1):g} %"


def _whole_percent(target: float) -> str:
    """``0.96`` → ``"96 %"`` (one decimal when it is not whole: ``"96.5 %"``)."""
    return f"{round(target * 100, 1):g} %"


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
        clause = (
            f" — the accuracy {_config_words(str(top['strategy']), float(top['fraction']))} "
            f"reached with {top['final_labeled']:.0f} labels —"
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
) -> SavingsView | None:
    """Savings across targets for one experiment, as the Overview and Results show them.

    The configuration compared is the one at ``fraction`` (the person's choice;
    :func:`top_active` among several strategies there), else :func:`top_active`
    of the experiment. The targets are :func:`target_grid` up to
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
        row = top_active(own[np.isclose(own["fraction"].astype(float), fraction)])
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


def starting_target(
    rounds: pd.DataFrame, stored: float | None, completion: Completion | None = None
) -> float | None:
    """The target a page's control starts at: :func:`default_target` of the rounds'
    configurations once every trial has finished, else the ``stored`` target."""
    configs = config_table(trial_table(rounds, None)) if not rounds.empty else pd.DataFrame()
    return default_target(configs, completion) or stored
