"""From stored rounds to learning-curve tables: per trial, per configuration.

Used by ``python -m al_core report`` and by the app's results pages, so the
numbers a user reads are computed in one place.

A *configuration* is one (strategy, fraction) of an experiment; its trials
differ by seed. The random baseline is the configuration with fraction 0.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from al_core import expected, metrics

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


def trial_table(rounds: pd.DataFrame, target: float | None) -> pd.DataFrame:
    """One row per trial: labels to ``target`` (active phase), final accuracy, AUC.

    Columns: experiment_id, trial_id, strategy, fraction, seed, status
    (``trial_status`` of the rounds, ``done`` when absent), complete (status is
    ``done``: its rounds are all there), rounds, final_labeled, final_accuracy,
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
        labeled = group["labeled"].to_numpy()[active]
        all_accuracy = group["test_accuracy"].to_numpy(dtype=float)
        accuracy = all_accuracy[active]
        auto_accuracy = all_accuracy[phase == "auto"]
        status = str(group["trial_status"].iloc[0]) if has_status else FINISHED
        row = dict(zip(TRIAL_KEYS, key, strict=True))
        row.update(
            status=status,
            complete=status == FINISHED,
            rounds=int(active.sum()),
            final_labeled=int(labeled[-1]),
            final_accuracy=float(accuracy[-1]),
            auc=metrics.normalized_auc(labeled, accuracy),
            auto_accuracy=float(auto_accuracy[-1]) if len(auto_accuracy) else math.nan,
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
    counted trial ran), random_labels, labels_saved (random's median minus this
    one), auto_accuracy.
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
            "final_accuracy": acc_mean,
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
            "labels to target": format_labels(row["labels_to_target"], row["final_labeled"])
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

    Only the active phase is averaged. Per configuration the finished trials
    (status ``done``) are averaged; while none has finished, the trials
    measured so far are (a live preview), so a curve does not shrink back when
    another trial starts. Points are the labeled counts that every averaged
    trial reached (:func:`al_core.metrics.mean_curve`: no interpolation).

    Returns one row per (configuration, labeled count) with columns
    experiment_id, strategy, fraction, label, labeled, mean, std, lower, upper,
    trials; ``label`` is prefixed with the experiment id when there are several.
    """
    columns = [*CONFIG_KEYS, "label", "labeled", "mean", "std", "lower", "upper", "trials"]
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
        frames.append(
            pd.DataFrame(
                {
                    "experiment_id": experiment_id,
                    "strategy": strategy,
                    "fraction": fraction,
                    "label": f"exp {experiment_id} · {label}" if several else label,
                    "labeled": labeled,
                    "mean": mean,
                    "std": std,
                    "lower": mean - std,
                    "upper": mean + std,
                    "trials": n,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[columns]


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
    initial: int, batch: int, rounds: int, fractions: Sequence[float]
) -> pd.DataFrame:
    """Expected (dummy) curves at the labeled counts ``initial + batch * r``, r = 0..rounds.

    Synthetic, never measured: every row has ``synthetic`` True and a label
    ending in "not measured" (see :mod:`al_core.expected`). Columns: fraction,
    label, labeled, accuracy, synthetic; ``(len(fractions) * (rounds + 1))`` rows.
    """
    labeled = initial + batch * np.arange(rounds + 1, dtype=np.float64)
    params = expected.params_for(initial, batch, rounds)
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
        for curve in expected.expected_curves(labeled, fractions, params)
    ]
    return pd.concat(frames, ignore_index=True)


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
        saved = format_percent(self.saved_fraction, signed=True)
        spread = format_percent(self.saved_std)
        tail = {
            "within noise": f"{saved} ± {spread} across seed pairs: within noise",
            "not conclusive": f"{saved}, not conclusive (spread unknown with one seed pair)",
        }.get(
            self.outcome,
            f"saved {format_percent(self.saved_fraction)} ± {spread} across seed pairs",
        )
        return (
            f"Labels needed to reach {self.target:.0%} (median over trials): "
            f"random {format_labels(self.random_labels)} ({self.random_reached} of "
            f"{self.random_trials} trials reached it), best fraction {self.fraction:.0%} "
            f"({self.strategy}) {format_labels(self.labels)} ({self.reached} of "
            f"{self.trials}): {tail}"
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
                "labels to target": format_labels(row["labels_to_target"], row["final_labeled"]),
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
