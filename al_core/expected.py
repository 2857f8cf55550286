"""The documented formula behind "expected" (dummy) learning curves.

Why this exists
---------------
The author of the original uncertainty-fraction sweep (CIFAR-10, 1,000 labels
to start, 1,000 more per round, u = 0 %, 10 %, ... 100 % of each batch picked by
smallest margin) drew dummy "expected" curves from a formula so the charts
could be built while 1,600+ CNN trainings ran, then compared them with what
was measured -- and uncertainty sampling did not beat random there. Their
formula is not known; this module is a documented stand-in with every
parameter explicit, so the app can show the same kind of hoped-for curve and
label it for what it is.

The formula
-----------
In words: accuracy starts at a floor when the initial labels are in, and climbs
towards a ceiling, closing the remaining gap at an exponential rate; a larger
uncertainty fraction is *assumed* to make the climb faster.

.. math::

    \\mathrm{acc}(n) = c - (c - f)\\,
        \\exp\\!\\Big(-r(u)\\,\\frac{n - n_0}{s}\\Big),
    \\qquad r(u) = r_0\\,(1 + g\\,u)

with floor ``f``, ceiling ``c``, base rate ``r_0``, gain ``g``, scale ``s``
(labels), initial labeled count ``n_0`` and uncertainty fraction ``u`` in
``[0, 1]``. ``acc(n_0) = f``; ``acc -> c`` as ``n`` grows; for ``n < n_0`` the
curve is held at ``f``. After ``s / r(u)`` labels beyond ``n_0`` the curve has
covered ``1 - 1/e`` (about 63 %) of the way from floor to ceiling.

Anchored on data
----------------
:func:`anchor_from_data` fits scikit-learn's ``LogisticRegression`` (flattened
pixels) on random labeled subsets of a data set's pool -- a few random label
orders, each growing like a random-sampling run -- and scores it on the test
split: a :class:`DataAnchor`, the mean curve plus its plateau (the largest
subset fitted). :func:`anchored_curves` then draws the random baseline (``u =
0``) along that curve, so it starts and levels off where the data say, and keeps
the formula's *assumed* uplift for uncertainty sampling: since
``r(u) = r_0 (1 + g u)``, the formula is the same as counting each label beyond
``n_0`` as ``1 + g u`` random ones,

.. math::

    \\mathrm{acc}_u(n) = \\mathrm{acc}_0\\big(n_0 + (1 + g\\,u)\\,(n - n_0)\\big),

which applied to the logistic-regression curve starts every fraction at the same
point and levels every one off at the data's plateau. The uplift is an
assumption, not evidence. Data sets that cannot be loaded quickly (anything but
the embedded ``digits`` and the Keras built-ins already in the Keras cache) get
no anchor; callers then fall back to :func:`params_for`'s generic formula and
should say so (:func:`describe_expected`).

Synthetic, never a measurement
------------------------------
An :class:`ExpectedCurve` is always ``synthetic=True`` (the constructor refuses
False) and its :attr:`ExpectedCurve.label` says "not measured". It encodes a
hope -- with ``gain > 0`` more uncertainty sampling always looks better -- and
must never be stored as a measured run or mixed into metrics of real runs.
Measured curves are the evidence; these are only a backdrop to compare with.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from al_core.errors import ALError, ConfigError

__all__ = [
    "DataAnchor",
    "ExpectedCurve",
    "ExpectedParams",
    "anchor_counts",
    "anchor_for_config",
    "anchor_from_data",
    "anchored_curves",
    "describe_expected",
    "expected_accuracy",
    "expected_curve",
    "expected_curves",
    "params_for",
]


def _finite(value: object, name: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite; got {value!r}")
    return v


@dataclass(frozen=True)
class ExpectedParams:
    """Parameters of the expected-curve formula (see the module docstring).

    Attributes
    ----------
    floor : float, default 0.1
        Accuracy at ``n0`` labels (0.1 = chance on 10 classes). ``0 <= floor < ceiling``.
    ceiling : float, default 0.95
        Accuracy approached with unlimited labels. ``ceiling <= 1``.
    base_rate : float, default 1.0
        Rate of the climb at ``u = 0`` (the random baseline), per ``scale``
        labels. ``> 0``.
    gain : float, default 1.0
        Relative speed-up at ``u = 1``: the rate is ``base_rate * (1 + gain * u)``.
        ``>= 0``; 0 makes every fraction look like random.
    scale : float, default 1000.0
        Labels per unit of rate: at ``u = 0`` the curve covers about 63 % of
        the floor-to-ceiling gap after ``scale / base_rate`` labels beyond ``n0``.
        ``> 0``.
    n0 : float, default 0
        Initial labeled count, where the curve starts at ``floor``. ``>= 0``.

    Raises
    ------
    ConfigError
        Any value non-finite or out of its range.
    """

    floor: float = 0.1
    ceiling: float = 0.95
    base_rate: float = 1.0
    gain: float = 1.0
    scale: float = 1000.0
    n0: float = 0

    def __post_init__(self) -> None:
        for name in ("floor", "ceiling", "base_rate", "gain", "scale", "n0"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        if not (0.0 <= self.floor < self.ceiling <= 1.0):
            raise ConfigError(
                f"need 0 <= floor < ceiling <= 1; got floor = {self.floor}, "
                f"ceiling = {self.ceiling}"
            )
        if self.base_rate <= 0:
            raise ConfigError(f"base_rate must be > 0; got {self.base_rate}")
        if self.scale <= 0:
            raise ConfigError(f"scale must be > 0 (labels); got {self.scale}")
        if self.gain < 0:
            raise ConfigError(f"gain must be >= 0; got {self.gain}")
        if self.n0 < 0:
            raise ConfigError(f"n0 must be >= 0 (the initial labeled count); got {self.n0}")

    def rate(self, fraction: float) -> float:
        """Rate ``base_rate * (1 + gain * u)`` for uncertainty fraction ``u``."""
        return self.base_rate * (1.0 + self.gain * _fraction(fraction))


def _fraction(fraction: object) -> float:
    u = _finite(fraction, "fraction")
    if not (0.0 <= u <= 1.0):
        raise ConfigError(f"fraction = {fraction!r} is out of range: it must be in [0, 1]")
    return u


def _labeled(labeled: object) -> np.ndarray:
    try:
        x = np.asarray(labeled, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError("labeled must be a numeric 1-D array of labeled counts") from None
    if x.ndim != 1:
        raise ConfigError(f"labeled must be 1-D; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("labeled must be finite")
    return x


def expected_accuracy(
    labeled: np.ndarray, fraction: float, params: ExpectedParams | None = None
) -> np.ndarray:
    """Evaluate the formula: expected accuracy at each labeled count.

    Parameters
    ----------
    labeled : array of shape (r,)
        Labeled counts.
    fraction : float
        Uncertainty fraction ``u`` in ``[0, 1]``.
    params : ExpectedParams, optional
        Defaults to ``ExpectedParams()``.

    Returns
    -------
    ndarray of float64, shape (r,)
        In ``[floor, ceiling]``; ``floor`` at and below ``n0``.
    """
    p = ExpectedParams() if params is None else params
    x = _labeled(labeled)
    steps = np.maximum(x - p.n0, 0.0) / p.scale
    acc = p.ceiling - (p.ceiling - p.floor) * np.exp(-p.rate(fraction) * steps)
    return np.clip(acc, p.floor, p.ceiling)


@dataclass(frozen=True)
class ExpectedCurve:
    """A synthetic, hoped-for learning curve -- never a measurement.

    Attributes
    ----------
    labeled : ndarray of float64, shape (r,)
        Labeled counts.
    accuracy : ndarray of float64, shape (r,)
        Formula accuracy at each count.
    fraction : float
        Uncertainty fraction ``u`` the curve was drawn for.
    params : ExpectedParams
        Parameters used (with an ``anchor``: its start as floor, its plateau as
        ceiling, and the assumed ``gain`` and ``n0`` of the uplift).
    synthetic : bool
        Always True; passing False raises :class:`ConfigError`.
    anchor : DataAnchor or None
        The logistic-regression curve the accuracy follows
        (:func:`anchored_curves`); None for the generic formula.

    The arrays are read-only copies.
    """

    labeled: np.ndarray
    accuracy: np.ndarray
    fraction: float
    params: ExpectedParams
    synthetic: bool = field(default=True)
    anchor: DataAnchor | None = None

    def __post_init__(self) -> None:
        if self.synthetic is not True:
            raise ConfigError(
                "an ExpectedCurve is synthetic by definition (synthetic=True); "
                "measured curves come from runs in the store"
            )
        x = np.array(self.labeled, dtype=np.float64, copy=True)
        y = np.array(self.accuracy, dtype=np.float64, copy=True)
        if x.ndim != 1 or x.shape != y.shape:
            raise ConfigError(
                f"labeled and accuracy must be aligned 1-D arrays; got {x.shape} and {y.shape}"
            )
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "labeled", x)
        object.__setattr__(self, "accuracy", y)
        object.__setattr__(self, "fraction", _fraction(self.fraction))

    @property
    def label(self) -> str:
        """Legend text, e.g. ``"expected (u = 30 %) — not measured"``."""
        pct = round(self.fraction * 100, 1)
        return f"expected (u = {pct:g} %) — not measured"


def expected_curve(
    labeled: np.ndarray, fraction: float, params: ExpectedParams | None = None
) -> ExpectedCurve:
    """Expected (dummy) curve for one uncertainty fraction.

    Parameters
    ----------
    labeled : array of shape (r,)
        Labeled counts at which to evaluate (e.g. the sweep's rounds).
    fraction : float
        Uncertainty fraction ``u`` in ``[0, 1]``.
    params : ExpectedParams, optional
        Defaults to ``ExpectedParams()``.

    Returns
    -------
    ExpectedCurve
        ``synthetic`` is True.
    """
    p = ExpectedParams() if params is None else params
    u = _fraction(fraction)
    return ExpectedCurve(
        labeled=_labeled(labeled),
        accuracy=expected_accuracy(labeled, u, p),
        fraction=u,
        params=p,
    )


def expected_curves(
    labeled: np.ndarray,
    fractions: Iterable[float],
    params: ExpectedParams | None = None,
) -> list[ExpectedCurve]:
    """One :func:`expected_curve` per fraction, in the order given."""
    return [expected_curve(labeled, u, params) for u in fractions]


def params_for(
    initial: int,
    batch: int,
    rounds: int,
    floor: float = 0.1,
    ceiling: float = 0.95,
    *,
    base_rate: float = 1.0,
    gain: float = 1.0,
) -> ExpectedParams:
    """Parameters fitted to a budget: start at ``initial`` labels, add ``rounds`` batches.

    Sets ``n0 = initial`` and ``scale = base_rate * batch * rounds``, so the
    ``u = 0`` curve covers ``1 - 1/e`` (about 63 %) of the way from ``floor`` to
    ``ceiling`` exactly at the end of the budget, ``initial + batch * rounds``
    labels; larger fractions get there sooner (by ``gain``). The curves are
    then visibly curved over the plotted range instead of flat or saturated.

    Parameters
    ----------
    initial : int
        Initial labeled count (``>= 0``).
    batch : int
        Labels added per round (``>= 1``).
    rounds : int
        Rounds after the initial set (``>= 1``).
    floor, ceiling : float
        See :class:`ExpectedParams`.
    base_rate, gain : float
        See :class:`ExpectedParams`.

    Returns
    -------
    ExpectedParams
    """
    for name, value, low in (("initial", initial, 0), ("batch", batch, 1), ("rounds", rounds, 1)):
        v = _finite(value, name)
        if v < low:
            raise ConfigError(f"{name} = {value!r} is out of range: it must be >= {low}")
    return ExpectedParams(
        floor=floor,
        ceiling=ceiling,
        base_rate=base_rate,
        gain=gain,
        scale=_finite(base_rate, "base_rate") * float(batch) * float(rounds),
        n0=float(initial),
    )


# ------------------------------------------------------------ anchored on data

#: Largest labeled subset the logistic regression is fitted on (the plateau), and
#: the most test images it is scored on: keeps an anchor to seconds.
ANCHOR_MAX_TRAIN = 2000
ANCHOR_MAX_TEST = 2000
#: Random label orders averaged into an anchor.
ANCHOR_SEEDS = 5
#: Points fitted beyond the plan's last count, up to where the largest assumed
#: uplift reads the curve (``n0 + (1 + gain) * batch * rounds``).
_EXTRA_POINTS = 6


@dataclass(frozen=True)
class DataAnchor:
    """A logistic-regression learning curve measured on a data set's pool and test split.

    Attributes
    ----------
    dataset : str
        The data set's name (e.g. ``"digits"``).
    labeled : ndarray of float64, shape (k,)
        Labeled counts fitted, ascending; the last one is the plateau.
    accuracy : ndarray of float64, shape (k,)
        Mean test accuracy at each count over ``seeds`` random label orders, made
        non-decreasing (running maximum) so the drawn curve never dips.
    seeds : int
        Random label orders averaged.
    test_size : int
        Test images scored.
    pool_size : int
        Images in the pool the subsets were drawn from.
    """

    dataset: str
    labeled: np.ndarray
    accuracy: np.ndarray
    seeds: int
    test_size: int
    pool_size: int

    def __post_init__(self) -> None:
        x = np.array(self.labeled, dtype=np.float64, copy=True)
        y = np.array(self.accuracy, dtype=np.float64, copy=True)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise ConfigError("a DataAnchor needs aligned 1-D labeled and accuracy, 2+ points")
        if np.any(np.diff(x) <= 0) or x[0] < 1 or np.any(np.diff(y) < 0):
            raise ConfigError("a DataAnchor's counts (>= 1) and accuracies must be ascending")
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "labeled", x)
        object.__setattr__(self, "accuracy", y)

    @property
    def start(self) -> float:
        """Accuracy at the smallest count fitted (the plan's initial labels)."""
        return float(self.accuracy[0])

    @property
    def ceiling(self) -> float:
        """Accuracy at the plateau (the largest count fitted)."""
        return float(self.accuracy[-1])

    @property
    def plateau(self) -> int:
        """Labeled count of the plateau fit."""
        return int(self.labeled[-1])

    def accuracy_at(self, labeled: np.ndarray) -> np.ndarray:
        """The curve at any labeled counts: linear in ``log(n)`` between fitted counts,
        held at the first value below them and at the plateau above them."""
        x = np.maximum(_labeled(labeled), 1.0)
        return np.interp(np.log(x), np.log(self.labeled), self.accuracy)


def anchor_counts(initial: int, batch: int, rounds: int, gain: float = 1.0) -> tuple[int, ...]:
    """Labeled counts to fit an anchor at for a plan (without the plateau).

    The plan's counts ``initial + batch * r`` (``r = 0 .. rounds``), then a few
    geometrically spaced counts up to ``initial + (1 + gain) * batch * rounds``,
    where the ``u = 1`` curve reads the random curve (see the module docstring).
    """
    for name, value, low in (("initial", initial, 0), ("batch", batch, 1), ("rounds", rounds, 1)):
        if _finite(value, name) < low:
            raise ConfigError(f"{name} = {value!r} is out of range: it must be >= {low}")
    g = _finite(gain, "gain")
    if g < 0:
        raise ConfigError(f"gain must be >= 0; got {gain}")
    plan = [int(initial) + int(batch) * r for r in range(int(rounds) + 1)]
    far = int(initial) + (1.0 + g) * int(batch) * int(rounds)
    extra = np.geomspace(plan[-1], far, _EXTRA_POINTS + 1)[1:] if far > plan[-1] else []
    return tuple(sorted({*plan, *(int(round(n)) for n in extra)}))


def _builtin_key(dataset: object) -> str | None:
    """The built-in data set ``dataset`` names if it loads quickly here, else None.

    Quick: the embedded ``digits``, or a Keras built-in whose files are already in
    the Keras cache (no download is ever started). Files, folders, uploads: None.
    """
    from al_core.datasets.builtin import _KERAS_FILES, _keras_cache_dir

    if not isinstance(dataset, str):
        return None
    key = dataset.strip().lower().replace("-", "_")
    if key == "digits":
        return key
    if key in _KERAS_FILES:
        try:
            cache = _keras_cache_dir()
        except OSError:  # pragma: no cover - unreadable home
            return None
        if all(Path(cache, name).is_file() for name in _KERAS_FILES[key][0]):
            return key
    return None


def _fit_score(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, max_iter: int = 300
) -> float:
    """Test accuracy of a logistic regression fitted on ``(x, y)`` (``x`` ``(m, D)``),
    L-BFGS stopped after ``max_iter`` iterations at most."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    if len(classes) < 2:  # nothing to fit: predict the one class seen
        return float(np.mean(y_test == classes[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(max_iter=max_iter).fit(x, y)
    return float(model.score(x_test, y_test))


@functools.lru_cache(maxsize=16)
def _lr_curve(
    key: str,
    pool_size: int | None,
    test_size: int | None,
    val_size: int,
    data_seed: int,
    repeat: int,
    repeat_noise: float,
    counts: tuple[int, ...],
    seeds: int,
) -> tuple[tuple[int, ...], tuple[float, ...], int, int] | None:
    """(counts, mean accuracies, test images, pool images), or None if it cannot load."""
    from threadpoolctl import threadpool_limits

    from al_core.datasets import load_dataset, repeat_pool

    try:
        data = load_dataset(
            key, pool_size=pool_size, test_size=test_size, val_size=val_size, seed=data_seed
        )
        data = repeat_pool(data, repeat, repeat_noise, data_seed)
    except (ALError, ImportError, OSError, ValueError):
        return None
    x = data.x_pool.reshape(len(data.x_pool), -1)
    y = data.y_pool
    x_test = data.x_test.reshape(len(data.x_test), -1)
    y_test = data.y_test
    if len(x_test) > ANCHOR_MAX_TEST:
        keep = np.random.default_rng([data_seed, 9173]).choice(
            len(x_test), ANCHOR_MAX_TEST, replace=False
        )
        x_test, y_test = x_test[keep], y_test[keep]
    plateau = min(len(x), ANCHOR_MAX_TRAIN)
    fitted = tuple(sorted({*(min(int(n), plateau) for n in counts if n >= 1), plateau}))
    scores = np.zeros((seeds, len(fitted)))
    # One thread: BLAS threads oversubscribe a small machine and make this 50x slower.
    with threadpool_limits(limits=1):
        for s in range(seeds):
            # One random label order per seed, grown like a random-sampling run.
            order = np.random.default_rng([data_seed, 7919, s]).permutation(len(x))
            for j, n in enumerate(fitted):
                idx = order[:n]
                scores[s, j] = _fit_score(x[idx], y[idx], x_test, y_test)
    mean = np.maximum.accumulate(scores.mean(axis=0))
    return fitted, tuple(float(a) for a in mean), len(x_test), len(x)


def anchor_from_data(
    dataset: str,
    labeled_counts: Sequence[int],
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    val_size: int = 0,
    data_seed: int = 0,
    repeat: int = 1,
    repeat_noise: float = 0.0,
    seeds: int = ANCHOR_SEEDS,
) -> DataAnchor | None:
    """Measure a logistic-regression learning curve on a data set, for expected curves.

    For each of ``seeds`` random orders of the pool, fits scikit-learn's
    ``LogisticRegression`` (flattened pixels, default regularisation) on the first
    ``n`` images for each ``n`` in ``labeled_counts`` and on the plateau
    ``min(pool, ANCHOR_MAX_TRAIN)``, and scores it on the test split (at most
    ``ANCHOR_MAX_TEST`` images). Results are cached per process by every argument.

    Parameters
    ----------
    dataset : str
        Data set source as in a trial config (``"digits"``, ``"mnist"``, ...).
    labeled_counts : sequence of int
        Counts to fit at (e.g. :func:`anchor_counts`); counts above the plateau are
        clipped to it.
    pool_size, test_size, val_size, data_seed, repeat, repeat_noise
        As in the trial config, so the pool and test split are the trials' own.
    seeds : int
        Random label orders to average.

    Returns
    -------
    DataAnchor or None
        None when the data set cannot be loaded quickly here (not built in, Keras
        files missing, a load error) or gives no climb (start not below plateau):
        fall back to the generic formula (:func:`params_for`).
    """
    key = _builtin_key(dataset)
    if key is None:
        return None
    counts = tuple(sorted({int(n) for n in _labeled(list(labeled_counts))}))
    if not counts or int(seeds) < 1:
        raise ConfigError("anchor_from_data needs labeled counts and seeds >= 1")
    curve = _lr_curve(
        key,
        None if pool_size is None else int(pool_size),
        None if test_size is None else int(test_size),
        int(val_size or 0),
        int(data_seed or 0),
        int(repeat or 1),
        float(repeat_noise or 0.0),
        counts,
        int(seeds),
    )
    if curve is None:
        return None
    fitted, mean, n_test, n_pool = curve
    if len(fitted) < 2 or not mean[0] < mean[-1]:
        return None
    return DataAnchor(
        dataset=key,
        labeled=np.array(fitted, dtype=np.float64),
        accuracy=np.array(mean, dtype=np.float64),
        seeds=int(seeds),
        test_size=n_test,
        pool_size=n_pool,
    )


def anchor_for_config(
    base: dict, initial: int, batch: int, rounds: int, gain: float = 1.0
) -> DataAnchor | None:
    """:func:`anchor_from_data` for a stored base trial config (a dict) and a plan."""
    return anchor_from_data(
        base.get("dataset", ""),
        anchor_counts(initial, batch, rounds, gain),
        pool_size=base.get("pool_size"),
        test_size=base.get("test_size"),
        val_size=base.get("val_size") or 0,
        data_seed=base.get("data_seed") or 0,
        repeat=base.get("repeat") or 1,
        repeat_noise=base.get("repeat_noise") or 0.0,
    )


def anchored_curves(
    labeled: np.ndarray,
    fractions: Iterable[float],
    anchor: DataAnchor,
    *,
    initial: float | None = None,
    gain: float = 1.0,
) -> list[ExpectedCurve]:
    """Expected curves that follow a data anchor: random along it, the rest an assumed uplift.

    ``acc_u(n) = anchor(n0 + (1 + gain * u) * (n - n0))`` with ``n0 = initial``
    (default: the smallest of ``labeled``): every fraction starts at
    ``anchor(n0)`` and levels off at the anchor's plateau; ``u = 0`` is the
    logistic-regression curve itself. Each curve is ``synthetic`` and says "not
    measured"; ``gain`` is an assumption, as in :class:`ExpectedParams`.
    """
    x = _labeled(labeled)
    n0 = float(x.min()) if initial is None and len(x) else _finite(initial or 0, "initial")
    params = ExpectedParams(
        floor=anchor.start,
        ceiling=anchor.ceiling,
        gain=gain,
        scale=max(float(x.max()) - n0, 1.0) if len(x) else 1.0,
        n0=max(n0, 0.0),
    )
    curves = []
    for fraction in fractions:
        u = _fraction(fraction)
        warped = n0 + params.rate(u) * np.maximum(x - n0, 0.0)
        warped = np.where(x < n0, x, warped)
        curves.append(
            ExpectedCurve(
                labeled=x,
                accuracy=anchor.accuracy_at(warped),
                fraction=u,
                params=params,
                anchor=anchor,
            )
        )
    return curves


def describe_expected(anchor: DataAnchor | None, dataset: str | None = None) -> str:
    """Caption text saying what expected curves rest on (always "not measured").

    Parameters
    ----------
    anchor : DataAnchor or None
        The anchor used, or None for the generic formula.
    dataset : str, optional
        The data set asked for, named when there is no anchor.
    """
    uplift = "uncertainty sampling an assumed uplift (each label counted as 1 + u random ones)"
    if anchor is None:
        what = f" ({dataset} cannot be loaded quickly here)" if dataset else ""
        return f"expected — not measured: a generic formula, not anchored on data{what}; {uplift}"
    return (
        f"expected — not measured: random from a logistic-regression curve on the "
        f"{anchor.dataset} pool (mean of {anchor.seeds} random label orders, scored on "
        f"{anchor.test_size} test images; {anchor.ceiling:.0%} with {anchor.plateau} labels), "
        f"{uplift}"
    )
