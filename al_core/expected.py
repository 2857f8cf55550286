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

Synthetic, never a measurement
------------------------------
An :class:`ExpectedCurve` is always ``synthetic=True`` (the constructor refuses
False) and its :attr:`ExpectedCurve.label` says "not measured". It encodes a
hope -- with ``gain > 0`` more uncertainty sampling always looks better -- and
must never be stored as a measured run or mixed into metrics of real runs.
Measured curves are the evidence; these are only a backdrop to compare with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from al_core.errors import ConfigError

__all__ = [
    "ExpectedCurve",
    "ExpectedParams",
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
        Parameters used.
    synthetic : bool
        Always True; passing False raises :class:`ConfigError`.

    The arrays are read-only copies.
    """

    labeled: np.ndarray
    accuracy: np.ndarray
    fraction: float
    params: ExpectedParams
    synthetic: bool = field(default=True)

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
