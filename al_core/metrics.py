"""Label-efficiency metrics over learning curves (accuracy vs labeled count).

Pure NumPy. A *curve* is two aligned 1-D arrays: ``labeled`` (shape ``(r,)``,
strictly increasing labeled-set sizes, one per round) and ``accuracy`` (shape
``(r,)``, test accuracy as a fraction in ``[0, 1]`` after that round).

- :func:`labels_to_target` -- how many labels a curve needs to first reach a
  target accuracy (linearly interpolated between rounds by default).
- :func:`normalized_auc` -- area under the curve divided by its labeled range:
  the mean accuracy over the budget, in ``[0, 1]``.
- :func:`savings_vs_random` -- fraction of labels a strategy saves against the
  random baseline, over several trials, paired by seed when possible.
- :func:`censored_median` -- the labels-to-target of a configuration over its
  trials, counting the trials that never reached the target.
- :func:`compare_with_random` -- the saving of a configuration against random
  from those medians, its spread across seed pairs, and whether it is beyond
  that spread ("within noise" otherwise).
- :func:`summarize`, :func:`mean_curve` -- NaN-aware mean / std helpers for
  tables and for plotting bands across trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from al_core.errors import ConfigError

__all__ = [
    "Comparison",
    "LabelsToTarget",
    "Savings",
    "censored_median",
    "compare_with_random",
    "labels_to_target",
    "mean_curve",
    "normalized_auc",
    "savings_vs_random",
    "summarize",
]

_ACC_TOL = 1e-9


def _curve(labeled: object, accuracy: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a curve; return float64 ``(labeled, accuracy)`` arrays of shape ``(r,)``."""
    try:
        x = np.asarray(labeled, dtype=np.float64)
        y = np.asarray(accuracy, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"labeled and accuracy must be numeric 1-D arrays: {exc}") from None
    if x.ndim != 1 or y.ndim != 1:
        raise ConfigError(f"labeled and accuracy must be 1-D; got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ConfigError(
            f"labeled has {x.shape[0]} points but accuracy has {y.shape[0]}; "
            "they must be aligned, one value per round"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ConfigError("labeled and accuracy must be finite (no NaN or inf)")
    if x.size > 1 and not (np.diff(x) > 0).all():
        raise ConfigError("labeled must be strictly increasing (one point per labeled count)")
    if y.size and (y.min() < -_ACC_TOL or y.max() > 1 + _ACC_TOL):
        raise ConfigError(
            f"accuracy must be a fraction in [0, 1]; got values in "
            f"[{y.min():g}, {y.max():g}] (percentages? divide by 100)"
        )
    return x, y


# --------------------------------------------------------------------------- labels to target


@dataclass(frozen=True)
class LabelsToTarget:
    """Labels a curve needs to reach a target accuracy.

    Attributes
    ----------
    labels : float or None
        Labeled count at which the curve first reaches the target; None when it
        never does.
    reached : bool
        Whether the target was reached within the curve.
    interpolated : bool
        True when ``labels`` was linearly interpolated between the last point
        below the target and the first point at or above it; False when it is a
        measured point (the first point already meets the target, a point hits
        the target exactly, or interpolation was switched off).
    """

    labels: float | None
    reached: bool
    interpolated: bool


def labels_to_target(
    labeled: np.ndarray,
    accuracy: np.ndarray,
    target: float,
    *,
    interpolate: bool = True,
) -> LabelsToTarget:
    """Labeled count at which ``accuracy`` first reaches ``target``.

    The *first* crossing counts: later dips below the target are ignored.

    Parameters
    ----------
    labeled : array of shape (r,)
        Strictly increasing labeled counts.
    accuracy : array of shape (r,)
        Accuracy (fraction in ``[0, 1]``) at each labeled count.
    target : float
        Target accuracy in ``(0, 1]``.
    interpolate : bool, default True
        Interpolate linearly between the last point below and the first point
        at/above the target; if False, report the first point at/above it.

    Returns
    -------
    LabelsToTarget

    Raises
    ------
    ConfigError
        Target outside ``(0, 1]``; mismatched, non-finite or non-increasing arrays.
    """
    try:
        t = float(target)
    except (TypeError, ValueError):
        raise ConfigError(f"target must be a number in (0, 1]; got {target!r}") from None
    if not (0.0 < t <= 1.0):
        raise ConfigError(
            f"target = {target!r} is out of range: it must be in (0, 1] "
            "(an accuracy fraction, e.g. 0.5 for 50 %)"
        )
    x, y = _curve(labeled, accuracy)
    hits = np.flatnonzero(y >= t)
    if hits.size == 0:
        return LabelsToTarget(labels=None, reached=False, interpolated=False)
    i = int(hits[0])
    if i == 0 or not interpolate or y[i] == t:
        return LabelsToTarget(labels=float(x[i]), reached=True, interpolated=False)
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]  # y0 < t < y1
    labels = x0 + (t - y0) * (x1 - x0) / (y1 - y0)
    return LabelsToTarget(labels=float(labels), reached=True, interpolated=True)


# --------------------------------------------------------------------------- area under the curve


def normalized_auc(
    labeled: np.ndarray,
    accuracy: np.ndarray,
    *,
    x_min: float | None = None,
    x_max: float | None = None,
) -> float:
    """Trapezoidal area under accuracy vs labeled, divided by the labeled range.

    The result is the mean accuracy over ``[x_min, x_max]``, in ``[0, 1]``, so
    curves over the same range compare directly. Between points the curve is
    linear; outside the measured range it is held constant (the first value
    before the first point, the last value after the last point), so an
    ``x_max`` beyond a curve that stopped early credits it with its final
    accuracy.

    Parameters
    ----------
    labeled, accuracy : arrays of shape (r,)
        The curve; ``r >= 1``.
    x_min, x_max : float, optional
        Range to average over; default the curve's first and last labeled count.

    Returns
    -------
    float
        Mean accuracy over the range. A single point (or ``x_min == x_max``)
        gives the accuracy there.

    Raises
    ------
    ConfigError
        Empty or invalid curve, or ``x_max < x_min``.
    """
    x, y = _curve(labeled, accuracy)
    if x.size == 0:
        raise ConfigError("the curve is empty; need at least one (labeled, accuracy) point")
    lo = float(x[0]) if x_min is None else float(x_min)
    hi = float(x[-1]) if x_max is None else float(x_max)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"x_min and x_max must be finite; got {lo} and {hi}")
    if hi < lo:
        raise ConfigError(f"x_max = {hi:g} is below x_min = {lo:g}")
    if hi == lo:
        return float(np.interp(lo, x, y))
    inside = x[(x > lo) & (x < hi)]
    xs = np.concatenate([[lo], inside, [hi]])
    ys = np.interp(xs, x, y)  # np.interp holds the end values outside [x[0], x[-1]]
    return float(np.trapezoid(ys, xs) / (hi - lo))


# --------------------------------------------------------------------------- summaries


def summarize(values: object) -> tuple[float, float, int]:
    """Mean, sample standard deviation and count of the non-NaN values.

    Parameters
    ----------
    values : array-like of shape (m,)
        NaN entries (e.g. trials that never reached the target) are ignored.

    Returns
    -------
    (mean, std, n) : tuple of (float, float, int)
        ``std`` uses ``ddof=1``; it is NaN when ``n < 2`` (one value has no
        spread to measure, which is not the same as no spread). With ``n == 0``
        the mean is NaN too.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, 0
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    return float(v.mean()), std, n


@dataclass(frozen=True)
class Savings:
    """Labels a strategy saves against the random baseline to reach a target.

    Attributes
    ----------
    mean_fraction : float
        Mean of ``1 - L_strategy / L_random``: 0.3 means 30 % fewer labels than
        random; negative when the strategy needs more labels. NaN when nothing
        could be compared.
    std_fraction : float
        Spread of that fraction across trials (sample std, ``ddof=1``; NaN with
        fewer than two: one pair says nothing about the spread).
    labels_saved : float
        Mean ``L_random`` minus mean ``L_strategy`` over the trials compared
        (negative when worse than random).
    n_pairs : int
        Trials compared: seed pairs when ``paired``, otherwise strategy trials
        that reached the target (each compared with the random mean; 0 when no
        random trial reached it).
    paired : bool
        True when trials were paired by seed.
    censored : int
        Trials (strategy plus random) that never reached the target (NaN);
        they are excluded, see :func:`savings_vs_random`.
    censored_strategy : int
        Of those, strategy trials.
    censored_random : int
        Of those, random trials.
    """

    mean_fraction: float
    std_fraction: float
    labels_saved: float
    n_pairs: int
    paired: bool
    censored: int
    censored_strategy: int = 0
    censored_random: int = 0


def _trials(values: object, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ConfigError(f"{what} must be 1-D, one value per trial; got shape {v.shape}")
    ok = v[~np.isnan(v)]
    if ok.size and not (np.isfinite(ok).all() and (ok > 0).all()):
        raise ConfigError(f"{what} must be positive label counts (NaN = target not reached)")
    return v


def _seeds(seeds: object, n: int, what: str) -> np.ndarray:
    s = np.asarray(seeds)
    if s.ndim != 1 or s.shape[0] != n:
        raise ConfigError(f"{what} must be 1-D with one seed per trial ({n}); got shape {s.shape}")
    if np.unique(s).size != n:
        raise ConfigError(f"{what} holds duplicate seeds; each trial needs its own seed")
    return s


def savings_vs_random(
    strategy_labels: np.ndarray,
    random_labels: np.ndarray,
    *,
    strategy_seeds: np.ndarray | None = None,
    random_seeds: np.ndarray | None = None,
) -> Savings:
    """Fraction of labels a strategy saves against random to reach the same target.

    Inputs are per-trial labels-to-target (e.g. ``LabelsToTarget.labels``),
    NaN for a trial that never reached the target.

    **Paired** (both seed arrays given and they share at least one seed): trials
    with the same seed are compared, ``f_i = 1 - s_i / r_i`` and
    ``saved_i = r_i - s_i``; the result is the mean and sample std of ``f_i``
    and the mean of ``saved_i``. Seeds present on one side only are ignored.

    **Unpaired** (otherwise): each strategy trial is compared with the mean of
    the random trials, ``f_i = 1 - s_i / mean(r)``; the mean of ``f_i`` is
    ``1 - mean(s) / mean(r)`` and its std is ``std(s, ddof=1) / mean(r)`` -- the
    spread of the strategy's trials on the random scale (the random baseline's
    own spread is not propagated).

    **Censoring**: trials that never reached the target are excluded (in the
    paired case, the whole pair), and counted in ``censored``. This is the
    simple choice, and it flatters whichever side fails more often, so show
    ``censored`` next to the savings; a strategy whose every trial is censored
    gives NaN, never a number.

    Parameters
    ----------
    strategy_labels : array of shape (m,)
        Labels to target of the strategy's trials (NaN = not reached).
    random_labels : array of shape (q,)
        Labels to target of the random baseline's trials (NaN = not reached).
    strategy_seeds : array of shape (m,), optional
        Seed of each strategy trial (distinct).
    random_seeds : array of shape (q,), optional
        Seed of each random trial (distinct).

    Returns
    -------
    Savings
        All-NaN or empty inputs give NaN fields and ``n_pairs == 0``; no exception.

    Raises
    ------
    ConfigError
        Arrays not 1-D, non-positive label counts, seed arrays of the wrong
        length or with duplicates.
    """
    s = _trials(strategy_labels, "strategy_labels")
    r = _trials(random_labels, "random_labels")
    cs = int(np.count_nonzero(np.isnan(s)))
    cr = int(np.count_nonzero(np.isnan(r)))
    censored = {"censored": cs + cr, "censored_strategy": cs, "censored_random": cr}

    if strategy_seeds is not None and random_seeds is not None:
        ss = _seeds(strategy_seeds, s.size, "strategy_seeds")
        rs = _seeds(random_seeds, r.size, "random_seeds")
        common, i_s, i_r = np.intersect1d(ss, rs, assume_unique=True, return_indices=True)
        if common.size:
            sv, rv = s[i_s], r[i_r]
            ok = ~(np.isnan(sv) | np.isnan(rv))
            sv, rv = sv[ok], rv[ok]
            mean_f, std_f, n = summarize(1.0 - sv / rv)
            saved = float(np.mean(rv - sv)) if n else math.nan
            return Savings(mean_f, std_f, saved, n, True, **censored)

    sv = s[~np.isnan(s)]
    rv = r[~np.isnan(r)]
    if sv.size == 0 or rv.size == 0:
        return Savings(math.nan, math.nan, math.nan, 0, False, **censored)
    r_mean = float(rv.mean())
    mean_f, std_f, n = summarize(1.0 - sv / r_mean)
    return Savings(mean_f, std_f, r_mean - float(sv.mean()), n, False, **censored)


# --------------------------------------------------------------------------- censored statistics


def censored_median(labels: object) -> float:
    """Median labels-to-target over a configuration's trials, never-reached trials included.

    A trial that never reached the target (NaN) ran out of labels first: it
    needed *more* labels than it ran, so it counts as larger than every trial
    that reached the target (the trials of one configuration run the same
    plan). Dropping such trials instead would make a configuration that fails
    more often look cheaper.

    Parameters
    ----------
    labels : array-like of shape (m,)
        Labels to target per trial; NaN = not reached.

    Returns
    -------
    float
        The median; NaN ("not reached") when half or more of the trials did not
        reach the target, or ``m == 0``. With an even ``m`` it is the mean of the
        two middle values, both of which are then reached trials.

    Raises
    ------
    ConfigError
        Not 1-D, or non-positive label counts.
    """
    v = _trials(np.asarray(labels, dtype=np.float64).ravel(), "labels")
    if v.size == 0:
        return math.nan
    ordered = np.sort(np.where(np.isnan(v), np.inf, v))
    middle = v.size // 2
    median = ordered[middle] if v.size % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return float(median) if np.isfinite(median) else math.nan


#: :attr:`Comparison.outcome` values, from the most to the least informative.
OUTCOMES = ("fewer", "more", "within noise", "not conclusive", "not comparable")


@dataclass(frozen=True)
class Comparison:
    """A configuration against the random baseline at one target accuracy.

    Attributes
    ----------
    labels : float
        :func:`censored_median` of the configuration's trials (NaN: not reached).
    random_labels : float
        :func:`censored_median` of the random trials (NaN: not reached).
    saved_fraction : float
        ``1 - labels / random_labels``, from exactly those two medians: 0.3 means
        30 % fewer labels than random, negative means more. NaN when either
        median is "not reached".
    pair_savings : tuple of float
        ``1 - s_i / r_i`` per seed pair where both trials reached the target
        (without seeds: each reaching trial against the random median).
    saved_std : float
        Sample std (``ddof=1``) of ``pair_savings``; NaN with fewer than two.
    outcome : str
        ``"fewer"`` / ``"more"`` labels than random, beyond the spread;
        ``"within noise"`` when ``|saved_fraction| <= saved_std``;
        ``"not conclusive"`` when the spread is unknown (fewer than two pairs);
        ``"not comparable"`` when ``saved_fraction`` is NaN.
    """

    labels: float
    random_labels: float
    saved_fraction: float
    pair_savings: tuple[float, ...]
    saved_std: float
    outcome: str

    @property
    def n_pairs(self) -> int:
        """Seed pairs (or reaching trials, unpaired) behind :attr:`saved_std`."""
        return len(self.pair_savings)


def compare_with_random(
    strategy_labels: np.ndarray,
    random_labels: np.ndarray,
    *,
    strategy_seeds: np.ndarray | None = None,
    random_seeds: np.ndarray | None = None,
    decimals: int | None = None,
) -> Comparison:
    """Compare a configuration's labels-to-target with the random baseline's.

    The saving is computed from the two :func:`censored_median` values, the
    numbers a results table shows; its spread is that of the per-seed savings
    ``1 - s_i / r_i`` (trials paired by seed, pairs where both reached the
    target; unpaired, each reaching strategy trial against the random median).
    A saving no larger than that spread is "within noise"; with fewer than two
    pairs the spread is unknown and the comparison "not conclusive". This is a
    rule of thumb for a handful of seeds, not a significance test.

    Parameters
    ----------
    strategy_labels : array of shape (m,)
        Labels to target of the configuration's trials (NaN = not reached).
    random_labels : array of shape (q,)
        Labels to target of the random trials (NaN = not reached).
    strategy_seeds, random_seeds : arrays of shape (m,) and (q,), optional
        Seeds of those trials (distinct on each side); pairs share a seed.
    decimals : int, optional
        Round both medians to this many decimals first (``0``: whole labels, as a
        table shows them), so that the saving is the one a reader computes from
        the table.

    Returns
    -------
    Comparison

    Raises
    ------
    ConfigError
        Arrays not 1-D, non-positive label counts, seed arrays of the wrong
        length or with duplicates.
    """
    s = _trials(strategy_labels, "strategy_labels")
    r = _trials(random_labels, "random_labels")
    labels, baseline = censored_median(s), censored_median(r)
    if decimals is not None:
        labels, baseline = float(np.round(labels, decimals)), float(np.round(baseline, decimals))
    saved = (
        1.0 - labels / baseline if math.isfinite(labels) and math.isfinite(baseline) else math.nan
    )
    pairs = np.empty(0)
    if strategy_seeds is not None and random_seeds is not None:
        ss = _seeds(strategy_seeds, s.size, "strategy_seeds")
        rs = _seeds(random_seeds, r.size, "random_seeds")
        common, i_s, i_r = np.intersect1d(ss, rs, assume_unique=True, return_indices=True)
        if common.size:
            sv, rv = s[i_s], r[i_r]
            ok = ~(np.isnan(sv) | np.isnan(rv))
            pairs = 1.0 - sv[ok] / rv[ok]
        elif math.isfinite(baseline):
            pairs = 1.0 - s[~np.isnan(s)] / baseline
    elif math.isfinite(baseline):
        pairs = 1.0 - s[~np.isnan(s)] / baseline
    _, spread, _ = summarize(pairs)
    if not math.isfinite(saved):
        outcome = "not comparable"
    elif not math.isfinite(spread):
        outcome = "not conclusive"
    elif abs(saved) <= spread:
        outcome = "within noise"
    else:
        outcome = "fewer" if saved > 0 else "more"
    return Comparison(
        labels=labels,
        random_labels=baseline,
        saved_fraction=saved,
        pair_savings=tuple(float(f) for f in pairs),
        saved_std=spread,
        outcome=outcome,
    )


# --------------------------------------------------------------------------- mean curve


def mean_curve(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Average several trial curves point by point, for plotting a mean and a band.

    Only labeled counts present in **every** curve are kept (the intersection
    of their labeled counts): no interpolation, so every plotted point is a
    mean of measured values from all ``n`` curves. Counts that only some trials
    reached (e.g. a trial cut short) are dropped.

    Parameters
    ----------
    curves : sequence of (labeled, accuracy) pairs
        Each a curve of shape ``(r_i,)``, strictly increasing ``labeled``.

    Returns
    -------
    labeled : ndarray of float64, shape (g,)
        Labeled counts common to all curves, increasing.
    mean : ndarray of float64, shape (g,)
        Mean accuracy at each count.
    std : ndarray of float64, shape (g,)
        Sample std (``ddof=1``) at each count; zeros when ``n == 1``.
    n : int
        Number of curves averaged. With no curves: empty arrays and 0.
    """
    parsed = [_curve(x, y) for x, y in curves]
    if not parsed:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy(), empty.copy(), 0
    grid = parsed[0][0]
    for x, _ in parsed[1:]:
        grid = np.intersect1d(grid, x, assume_unique=True)
    stack = np.empty((len(parsed), grid.size), dtype=np.float64)
    for row, (x, y) in enumerate(parsed):
        stack[row] = y[np.searchsorted(x, grid)]
    n = len(parsed)
    std = stack.std(axis=0, ddof=1) if n > 1 else np.zeros(grid.size)
    return grid, stack.mean(axis=0), std, n
