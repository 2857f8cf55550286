"""From stored rounds to learning-curve tables: per trial, per configuration.

Used by ``python -m al_core report`` and by the app's results pages, so the
numbers a user reads are computed in one place.

A *configuration* is one (strategy, fraction) of an experiment; its trials
differ by seed. The random baseline is the configuration with fraction 0.
"""

from __future__ import annotations

import math
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
    "labels_to_target_std",
    "saved_fraction",
    "saved_fraction_std",
    "final_accuracy",
    "final_accuracy_std",
    "auc",
]


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


def best_active(configs: pd.DataFrame) -> pd.Series | None:
    """The active-learning configuration (fraction > 0) that saved the most labels.

    Rows with no computable saving sort last; ``None`` without any active row.
    """
    active = configs[configs["fraction"] > 0] if not configs.empty else configs
    if active.empty:
        return None
    return active.sort_values("saved_fraction", ascending=False, na_position="last").iloc[0]


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
    best = best_active(configs)
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
    for (experiment_id, strategy, fraction), group in active.groupby(CONFIG_KEYS, sort=True):
        done = group[group["trial_status"] == "done"]
        chosen = done if not done.empty else group
        curves = [
            (trial["labeled"].to_numpy(), trial["test_accuracy"].to_numpy(dtype=float))
            for _, trial in chosen.sort_values("round").groupby("trial_id", sort=True)
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


def overview_experiment(experiments: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The experiment the overview shows: the newest sweep that has finished trials
    or is still queued / running (from :meth:`Store.experiments`, newest first)."""
    for experiment in experiments:
        if experiment["kind"] != "sweep":
            continue
        if (experiment["trials_done"] or 0) > 0 or experiment["status"] in ("queued", "running"):
            return experiment
    return None


@dataclass(frozen=True)
class Headline:
    """The overview's headline figure for one experiment and target accuracy.

    Labels are means over the trials that reached the target, ``*_std`` their
    sample spread (NaN with one trial); ``saved_fraction`` is the best active
    configuration's saving vs random (negative: it needed more labels).
    """

    target: float
    random_labels: float
    random_std: float
    strategy: str
    fraction: float
    labels: float
    labels_std: float
    saved_fraction: float
    saved_std: float
    trials: int

    def text(self) -> str:
        """E.g. "Labels needed to reach 90%: random 130 ± 12, best fraction 50% (margin)
        95 ± 8, saved 27% ± 9% (3 trials each)"."""
        saved = _plus_minus(self.saved_fraction * 100, self.saved_std * 100, "%")
        return (
            f"Labels needed to reach {self.target:.0%}: "
            f"random {_plus_minus(self.random_labels, self.random_std)}, "
            f"best fraction {self.fraction:.0%} ({self.strategy}) "
            f"{_plus_minus(self.labels, self.labels_std)}, saved {saved} "
            f"({self.trials} trial{'s' if self.trials != 1 else ''} each)"
        )


def _plus_minus(value: float, spread: float, unit: str = "") -> str:
    if math.isfinite(spread):
        return f"{value:.0f}{unit} ± {spread:.0f}{unit}"
    return f"{value:.0f}{unit}"


def headline(configs: pd.DataFrame, target: float | None) -> Headline | None:
    """The headline figure from one experiment's :func:`config_table`.

    ``None`` when it cannot be stated honestly: no target, no random baseline
    or no active configuration, or random / the best configuration never
    reached the target (then :func:`verdict` explains why).
    """
    if target is None or configs.empty:
        return None
    best = best_active(configs)
    if best is None or not np.isfinite(best["saved_fraction"]):
        return None
    baseline = configs[
        (configs["fraction"] == 0) & (configs["experiment_id"] == best["experiment_id"])
    ]
    if baseline.empty or not np.isfinite(baseline["labels_to_target"].iloc[0]):
        return None
    random_row = baseline.iloc[0]
    return Headline(
        target=float(target),
        random_labels=float(random_row["labels_to_target"]),
        random_std=float(random_row["labels_to_target_std"]),
        strategy=str(best["strategy"]),
        fraction=float(best["fraction"]),
        labels=float(best["labels_to_target"]),
        labels_std=float(best["labels_to_target_std"]),
        saved_fraction=float(best["saved_fraction"]),
        saved_std=float(best["saved_fraction_std"]),
        trials=int(best["trials"]),
    )
