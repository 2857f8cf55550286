"""When can I stop labeling? Three honest answers to the question, measured, not assumed.

- :func:`accuracy_interval`: how sure one point of a learning curve is. An accuracy
  measured on ``n`` images is a binomial proportion; its 95 % Wilson score interval
  (Wilson 1927) stays inside [0, 1] and behaves on the small held-out sets of a
  person's own labels, where the normal approximation does not.
- :func:`prediction_kappa` and :func:`stability`: are more labels still changing the
  model? The stabilizing-predictions rule (Bloodgood & Vijay-Shanker, CoNLL 2009):
  Cohen's kappa between consecutive models' predicted classes on a fixed "stop set"
  of unlabeled pool images that is never queried; stop once it stays at or above a
  threshold (0.99) over a window of retrains (3). Their paper averages the window's
  kappas; small-text's ``KappaAverage`` stops when the window's kappas stop moving.
  Here every kappa of the window must reach the threshold, the stricter reading.
- :func:`extrapolate`: how many more labels to a target? An inverse power law
  ``accuracy = c - a * n ** -b`` (the usual learning-curve model, e.g. Figueroa et
  al. 2012) fitted with :func:`scipy.optimize.curve_fit`; the number of labels where
  the fitted curve meets the target, with a 95 % interval from the fit's parameter
  covariance. Below :data:`MIN_FIT_POINTS` points or on a poor fit it refuses, with
  the reason.

How well the last two did on stored simulated runs is measured by
``benchmarks/stopping.py``; :func:`validation` reads what it measured
(``al_core/stopping_validation.json``) so that a page quotes the numbers next to its
advice. Pure NumPy / SciPy / scikit-learn: no UI, no store.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Two-sided 95 % quantile of the standard normal distribution.
Z_95 = 1.959963984540054
#: The stabilizing-predictions rule's defaults (Bloodgood & Vijay-Shanker 2009).
KAPPA_THRESHOLD = 0.99
KAPPA_WINDOW = 3
#: Fewest curve points :func:`extrapolate` fits (three parameters need more than three).
MIN_FIT_POINTS = 5
#: Largest root-mean-square residual of a usable fit, in accuracy (3 points).
MAX_FIT_RMSE = 0.03
#: The extrapolation's answer is refused when its interval's upper end is beyond this
#: many times the labels measured so far: so far out, the fit says nothing.
MAX_EXTRAPOLATION_FACTOR = 20.0
_DRAWS = 2000  # parameter draws behind the extrapolation's interval
VALIDATION_FILE = Path(__file__).with_name("stopping_validation.json")


# --------------------------------------------------------------------- intervals
def accuracy_interval(accuracy: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """95 % Wilson score interval ``(low, high)`` of an accuracy measured on ``n`` images.

    ``accuracy`` is the share correct, so ``round(accuracy * n)`` images were right.
    Raises ValueError for ``n < 1`` or an accuracy outside [0, 1].
    """
    if n < 1:
        raise ValueError(f"an interval needs at least one evaluated image, got n={n}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    p = round(accuracy * n) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------- stabilising
def prediction_kappa(previous: np.ndarray, current: np.ndarray, num_classes: int) -> float:
    """Cohen's kappa between two models' predicted classes on the same images.

    ``previous``, ``current``: (m,) int class indices. scikit-learn's
    ``cohen_kappa_score`` over all ``num_classes`` labels; two identical predictions
    are full agreement (1.0), where the formula divides 0 by 0 when both models
    predict one class everywhere (small-text treats that case the same way).
    """
    from sklearn.metrics import cohen_kappa_score

    previous = np.asarray(previous, dtype=np.int64)
    current = np.asarray(current, dtype=np.int64)
    if previous.shape != current.shape or previous.ndim != 1 or len(previous) == 0:
        raise ValueError(
            f"kappa needs two equally long, non-empty prediction vectors; "
            f"got shapes {previous.shape} and {current.shape}"
        )
    if np.array_equal(previous, current):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohen_kappa_score(previous, current, labels=np.arange(num_classes))
    return float(kappa)


@dataclass(frozen=True)
class Stability:
    """The stabilizing-predictions rule over a curve's kappas, one per retrain.

    ``stable_at``: the index (into the kappas given) of the first retrain at which
    the last ``window`` kappas all reached ``threshold``, or None; ``stable_now``:
    whether the latest ``window`` kappas all reach it.
    """

    kappas: tuple[float | None, ...]
    window: int
    threshold: float
    stable_at: int | None
    stable_now: bool

    def message(self) -> str:
        """One sentence for the page."""
        measured = [k for k in self.kappas if k is not None]
        if len(measured) < self.window:
            return (
                f"Not enough retrains to judge yet: the rule needs {self.window} kappas "
                f"(one per retrain after the first), {len(measured)} so far."
            )
        last = ", ".join(f"{k:.3f}" for k in measured[-self.window :])
        if self.stable_now:
            return (
                f"Predictions have stabilised: kappa ≥ {self.threshold:g} over the last "
                f"{self.window} retrains ({last}). More labels of this kind barely change "
                "the model."
            )
        return (
            f"Predictions are still changing: the last {self.window} kappas are {last}; "
            f"the rule waits for all of them to reach {self.threshold:g}."
        )


def stability(
    kappas: Sequence[float | None],
    window: int = KAPPA_WINDOW,
    threshold: float = KAPPA_THRESHOLD,
) -> Stability:
    """Apply the rule to per-retrain kappas (None where there was no previous model)."""
    if window < 1:
        raise ValueError(f"the window must hold at least one retrain, got {window}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"a kappa threshold lies in [-1, 1], got {threshold}")
    values = tuple(None if k is None or np.isnan(k) else float(k) for k in kappas)
    reached = [k is not None and k >= threshold for k in values]
    stable_at = next(
        (i for i in range(window - 1, len(values)) if all(reached[i - window + 1 : i + 1])),
        None,
    )
    stable_now = len(values) >= window and all(reached[-window:])
    return Stability(values, window, threshold, stable_at, stable_now)


# --------------------------------------------------------------------- extrapolation
def power_law(n: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    """Inverse power-law learning curve ``c - a * n ** -b``, (m,) for (m,) label counts."""
    return c - a * np.power(np.asarray(n, dtype=np.float64), -b)


@dataclass(frozen=True)
class Extrapolation:
    """How many more labels the fitted curve needs to reach ``target``.

    ``reason`` is set (and the numbers None) when it cannot tell. Otherwise
    ``labels_needed`` is where the fitted curve meets the target and ``low`` /
    ``high`` its 95 % interval (``high`` is ``inf`` when too many plausible curves
    level off below the target); ``params`` = (c, a, b) and ``rmse`` the fit.
    ``reached``: the curve's last measured point is already at the target.
    """

    target: float
    labels_now: int
    params: tuple[float, float, float] | None = None
    rmse: float | None = None
    labels_needed: float | None = None
    low: float | None = None
    high: float | None = None
    reached: bool = False
    reason: str | None = None

    @property
    def more(self) -> int | None:
        """Labels still to add (rounded up), or None."""
        if self.labels_needed is None:
            return None
        return max(0, math.ceil(self.labels_needed - self.labels_now))

    def message(self) -> str:
        """One sentence for the page, marked as an extrapolation."""
        if self.reached:
            return f"The last measured point already reaches {self.target:.0%}."
        if self.reason is not None:
            return f"Cannot tell how many labels {self.target:.0%} needs: {self.reason}."
        assert self.low is not None and self.high is not None
        low = max(0, math.ceil(self.low - self.labels_now))
        high = (
            "an unknown number (some plausible curves never get there)"
            if math.isinf(self.high)
            else f"{max(0, math.ceil(self.high - self.labels_now)):,}"
        )
        return (
            f"About {self.more:,} more labels to reach {self.target:.0%} "
            f"(95 % interval {low:,} to {high}) — extrapolated from the fitted curve "
            f"c − a·n^(−b), not measured."
        )

    def curve(self, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """The fitted curve from the labels measured so far to where it meets the
        target (or twice the labels so far): ``(labels, accuracy)``, (points,) each."""
        if self.params is None:
            return np.array([]), np.array([])
        end = self.labels_needed if self.labels_needed is not None else 2 * self.labels_now
        end = min(max(end, self.labels_now * 1.05), self.labels_now * MAX_EXTRAPOLATION_FACTOR)
        n = np.linspace(self.labels_now, end, points)
        return n, power_law(n, *self.params)


@dataclass(frozen=True)
class CurveFit:
    """An inverse power-law fit of a learning curve: ``params`` = (c, a, b) with their
    covariance ``cov`` (3, 3) and the root-mean-square residual ``rmse``; ``reason``
    says why the fit is not to be used (then the numbers may be None)."""

    params: tuple[float, float, float] | None
    cov: np.ndarray | None
    rmse: float | None
    reason: str | None

    def at(self, labels: float) -> float:
        """The fitted accuracy at ``labels``."""
        assert self.params is not None
        return float(power_law(np.array([labels]), *self.params)[0])


def fit_curve(labels: Sequence[float], accuracy: Sequence[float]) -> CurveFit:
    """Fit ``accuracy = c - a * labels ** -b`` to (m,) label counts (> 0; others are
    dropped) and accuracies, with c in [0, 1], a >= 0, b in [0, 3]. ``reason`` is set
    below :data:`MIN_FIT_POINTS` distinct label counts, when the fit does not
    converge, when its parameters are undetermined (infinite covariance) or when
    its root-mean-square residual exceeds :data:`MAX_FIT_RMSE`."""
    from scipy.optimize import curve_fit

    n = np.asarray(labels, dtype=np.float64)
    y = np.asarray(accuracy, dtype=np.float64)
    if n.shape != y.shape:
        raise ValueError("a curve fit needs one accuracy per label count")
    keep = n > 0
    n, y = n[keep], y[keep]
    distinct = len(np.unique(n))
    if distinct < MIN_FIT_POINTS:
        return CurveFit(
            None,
            None,
            None,
            f"the fit needs at least {MIN_FIT_POINTS} points, the curve has {distinct}",
        )
    start_c = min(1.0, float(y.max()) + 0.02)
    start_a = max(1e-3, (start_c - float(y[np.argmin(n)])) * float(n.min()) ** 0.5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, cov = curve_fit(
                power_law,
                n,
                y,
                p0=(start_c, start_a, 0.5),
                bounds=([0.0, 0.0, 0.0], [1.0, np.inf, 3.0]),
                maxfev=20_000,
            )
    except (RuntimeError, ValueError) as exc:
        return CurveFit(None, None, None, f"the curve fit did not converge ({exc})")
    c, a, b = (float(p) for p in params)
    rmse = float(np.sqrt(np.mean((power_law(n, c, a, b) - y) ** 2)))
    reason = None
    if rmse > MAX_FIT_RMSE:
        reason = f"the fit is poor (residuals {rmse:.1%} rms, over {MAX_FIT_RMSE:.0%})"
    elif not np.all(np.isfinite(cov)):
        reason = "the fit's parameters are not determined by these points"
    return CurveFit((c, a, b), cov, rmse, reason)


def extrapolate(
    labels: Sequence[float],
    accuracy: Sequence[float],
    target: float,
    *,
    seed: int = 0,
) -> Extrapolation:
    """How many labels the curve's :func:`fit_curve` needs to reach ``target``.

    ``labels``, ``accuracy``: (m,) a learning curve. ``reached`` when its last point
    is already at the target. Refuses (``reason``) when the fit does (too few
    points, no convergence, poor fit), when the fitted plateau ``c`` lies at or
    below the target, or when the interval reaches beyond
    :data:`MAX_EXTRAPOLATION_FACTOR` times the labels so far. The interval:
    ``_DRAWS`` parameter vectors drawn from the fit's covariance (seeded), each
    solved for the target; their 2.5 and 97.5 percentiles (a draw whose plateau is
    below the target never gets there: infinite).

    Pure and deterministic, so it is kept for the last 256 curves (a page redraws the
    same advice many times between retrains): the result is shared, never mutate it.
    """
    return _extrapolate(
        tuple(float(v) for v in labels), tuple(float(v) for v in accuracy), target, seed
    )


@functools.lru_cache(maxsize=256)
def _extrapolate(
    labels: tuple[float, ...], accuracy: tuple[float, ...], target: float, seed: int
) -> Extrapolation:
    if not 0.0 < target <= 1.0:
        raise ValueError(f"the target accuracy lies in (0, 1], got {target}")
    n = np.asarray(labels, dtype=np.float64)
    y = np.asarray(accuracy, dtype=np.float64)
    if n.shape != y.shape:
        raise ValueError("extrapolate needs one accuracy per label count")
    labels_now = int(n.max()) if len(n) else 0
    if len(n) and y[np.argmax(n)] >= target:
        return Extrapolation(target, labels_now, reached=True)
    fit = fit_curve(n, y)
    refused = Extrapolation(target, labels_now, params=fit.params, rmse=fit.rmse)
    if fit.reason is not None:
        return dataclasses.replace(refused, reason=fit.reason)
    assert fit.params is not None and fit.cov is not None
    c, a, b = fit.params
    if c <= target:
        return dataclasses.replace(
            refused, reason=f"the fitted curve levels off at about {c:.1%}, below the target"
        )
    needed = float((a / (c - target)) ** (1 / b)) if a > 0 and b > 0 else float(labels_now)
    draws = np.random.default_rng(seed).multivariate_normal(fit.params, fit.cov, size=_DRAWS)
    dc, da, db = draws.T
    ok = (dc > target) & (da > 0) & (db > 0)
    solved = np.full(_DRAWS, np.inf)
    with np.errstate(all="ignore"):
        solved[ok] = (da[ok] / (dc[ok] - target)) ** (1 / db[ok])
    low, high = (float(v) for v in np.quantile(solved, [0.025, 0.975], method="inverted_cdf"))
    if not math.isinf(high) and high > MAX_EXTRAPOLATION_FACTOR * labels_now:
        return dataclasses.replace(
            refused,
            reason=f"the interval reaches {high:,.0f} labels, beyond "
            f"{MAX_EXTRAPOLATION_FACTOR:g} times the {labels_now:,} measured",
        )
    return dataclasses.replace(
        refused,
        labels_needed=max(needed, float(labels_now)),
        low=max(low, float(labels_now)),
        high=high,
    )


# --------------------------------------------------------------------- validation
def validation() -> dict[str, Any] | None:
    """What ``benchmarks/stopping.py`` measured (its JSON), or None before it ran."""
    if not VALIDATION_FILE.is_file():
        return None
    return json.loads(VALIDATION_FILE.read_text())


def validation_note() -> str:
    """What ``benchmarks/stopping.py`` measured, in one paragraph for the page (the
    numbers of ``al_core/stopping_validation.json``, nothing else): the advice is
    worded by what was measured, not by what the rules promise."""
    measured = validation()
    if measured is None:
        return "These rules have not been checked on stored runs here yet."
    rule = measured["rule"]
    models = sorted({c["model"] for c in measured["configs"].values()})
    parts = [
        f"Checked on stored simulated runs ({measured['measured']}, "
        f"`{measured['command']}`; model {', '.join(models)} retrained each round, "
        f"{' and '.join(measured['strategies'])}, {len(measured['seeds'])} seeds each)."
    ]
    summary = measured["summary"]
    for name in (k for k in summary if "/" not in k):
        s = summary[name]
        text = (
            f"On {name} (up to {s['final_labels']:,} labels), kappa ≥ {rule['threshold']:g} "
            f"over {rule['window']} retrains stopped {s['stopped']} of {s['runs']} runs"
        )
        if s["stopped"]:
            text += (
                f", {s['stopped_within_98pct']} of them at ≥ 98 % of the best accuracy "
                f"reached later (median gap {s['median_gap_points']:.1f} points)"
            )
        if s["stopped"] < s["runs"]:
            text += f"; {s['runs'] - s['stopped']} never stabilised that far"
        lower = [
            f"{threshold} → {other[name]['stopped_within_98pct']} of {other[name]['runs']}"
            for threshold, other in measured.get("other_thresholds", {}).items()
            if name in other
        ]
        if lower:
            text += (
                ". Runs stopped at ≥ 98 % of the best later with a lower threshold: "
                + ", ".join(lower)
            )
        if s["median_abs_error_points"] is not None:
            text += (
                f". The extrapolation from the first half of each curve missed the accuracy "
                f"at the full budget by {s['median_abs_error_points']:.1f} points (median; "
                f"worst {s['max_abs_error_points']:.1f}; {s['extrapolations_refused']} "
                "refused)."
            )
        else:
            text += ". The extrapolation from the first half of each curve was always refused."
        parts.append(text)
    return " ".join(parts)


# --------------------------------------------------------------------- experiments
def experiment_stopping(
    rounds: pd.DataFrame,
    target: float,
    window: int = KAPPA_WINDOW,
    threshold: float = KAPPA_THRESHOLD,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Extrapolation]]:
    """The two rules over an experiment's trials (a ``results.rounds_frame``: one row
    per round with experiment_id, trial_id, strategy, fraction, phase, labeled,
    test_accuracy, kappa), active rounds only.

    Returns ``(table, kappas, extrapolations)``. ``table``, one row per
    configuration: its label, trials, how many the kappa rule stopped, the median
    labels and accuracy where it stopped and the median best accuracy from there on.
    ``kappas``: the median kappa per label count (rows) and configuration (columns).
    ``extrapolations``: per configuration label, :func:`extrapolate` of its median
    curve (median accuracy per label count over its trials) to ``target``.
    """
    from al_core.results.display import config_label

    active = rounds[rounds["phase"] == "active"]
    if "kappa" not in active:
        active = active.assign(kappa=np.nan)
    rows, series, answers = [], {}, {}
    for (experiment_id, strategy, fraction), config in active.groupby(
        ["experiment_id", "strategy", "fraction"], sort=True
    ):
        label = config_label(strategy, float(fraction))
        if active["experiment_id"].nunique() > 1:
            label = f"exp {experiment_id} · {label}"
        stops = []
        for _, trial in config.groupby("trial_id"):
            trial = trial.sort_values("round")
            accuracy = trial["test_accuracy"].to_numpy(dtype=np.float64)
            kappas = [None if pd.isna(k) else float(k) for k in trial["kappa"]]
            at = stability(kappas, window, threshold).stable_at
            if at is not None:
                stops.append((int(trial["labeled"].iloc[at]), accuracy[at], accuracy[at:].max()))
        median = config.groupby("labeled")["test_accuracy"].median()
        answer = extrapolate(median.index.to_numpy(), median.to_numpy(), target)
        rows.append(
            {
                "configuration": label,
                "trials": config["trial_id"].nunique(),
                "kappa rule stopped": f"{len(stops)} of {config['trial_id'].nunique()}",
                "labels at the stop (median)": (
                    f"{np.median([s[0] for s in stops]):.0f}" if stops else "—"
                ),
                "accuracy there (median)": (
                    f"{np.median([s[1] for s in stops]):.1%}" if stops else "—"
                ),
                "best from there on (median)": (
                    f"{np.median([s[2] for s in stops]):.1%}" if stops else "—"
                ),
            }
        )
        answers[label] = answer
        series[label] = config.groupby("labeled")["kappa"].median()
    kappa_frame = pd.DataFrame(series).sort_index()
    kappa_frame.index.name = "labels"
    return pd.DataFrame(rows), kappa_frame, answers


#: How far a chart draws an extrapolated curve: up to this many times its labels so far.
EXTRAPOLATION_REACH = 3.0


def extrapolated_curves(
    extrapolations: dict[str, Extrapolation], reach: float = EXTRAPOLATION_REACH
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The fitted curves worth drawing, by configuration label: those that could tell
    (no ``reason``) and have not reached the target yet, each cut at ``reach`` times
    its labels so far so that a far target does not squeeze the measured part of a
    chart (the sentence beside it gives the whole figure). ``(labels, accuracy)``."""
    curves = {}
    for label, answer in extrapolations.items():
        if answer.reason is not None or answer.reached:
            continue
        labels, accuracy = answer.curve()
        kept = labels <= reach * answer.labels_now
        if kept.sum() >= 2:
            curves[label] = (labels[kept], accuracy[kept])
    return curves
