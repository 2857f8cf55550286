"""Tests of al_core.expected: the formula behind the dummy "expected" curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from al_core.errors import ConfigError
from al_core.expected import (
    ExpectedCurve,
    ExpectedParams,
    expected_accuracy,
    expected_curve,
    expected_curves,
    params_for,
)

PARAMS = ExpectedParams(floor=0.2, ceiling=0.8, base_rate=1.0, gain=1.0, scale=1000.0, n0=1000)
LABELED = np.arange(1000, 11000, 1000)
FRACTIONS = [0.0, 0.1, 0.3, 0.5, 1.0]


def test_formula_value() -> None:
    # n - n0 = 1000 = scale, u = 0.5 -> rate 1.5
    got = expected_accuracy([2000], 0.5, PARAMS)[0]
    assert got == pytest.approx(0.8 - 0.6 * math.exp(-1.5))


def test_starts_at_floor() -> None:
    for u in FRACTIONS:
        curve = expected_curve(LABELED, u, PARAMS)
        assert curve.accuracy[0] == pytest.approx(0.2)


def test_monotone_increasing_in_n() -> None:
    for u in FRACTIONS:
        acc = expected_curve(LABELED, u, PARAMS).accuracy
        assert np.all(np.diff(acc) > 0)


def test_higher_fraction_never_lower() -> None:
    curves = expected_curves(LABELED, FRACTIONS, PARAMS)
    for lo, hi in zip(curves, curves[1:], strict=False):
        assert np.all(hi.accuracy[1:] > lo.accuracy[1:])
        assert np.all(hi.accuracy >= lo.accuracy)


def test_zero_gain_makes_fractions_equal() -> None:
    p = ExpectedParams(gain=0.0)
    a = expected_curve(LABELED, 0.0, p).accuracy
    b = expected_curve(LABELED, 1.0, p).accuracy
    np.testing.assert_array_equal(a, b)


def test_bounded_by_floor_and_ceiling() -> None:
    x = np.array([0, 500, 1000, 1e4, 1e6, 1e9])
    for u in FRACTIONS:
        acc = expected_curve(x, u, PARAMS).accuracy
        assert np.all(acc >= 0.2) and np.all(acc <= 0.8)
    # held at the floor before n0, approaching the ceiling far out
    acc = expected_curve(x, 1.0, PARAMS).accuracy
    assert acc[0] == acc[1] == 0.2
    assert acc[-1] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"floor": 0.9, "ceiling": 0.8},
        {"floor": 0.5, "ceiling": 0.5},
        {"floor": -0.1},
        {"ceiling": 1.1},
        {"base_rate": 0.0},
        {"base_rate": -1.0},
        {"scale": 0.0},
        {"gain": -0.5},
        {"n0": -1},
        {"scale": float("nan")},
    ],
)
def test_params_validation(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ExpectedParams(**kwargs)


def test_fraction_validation() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        expected_curve(LABELED, 1.5, PARAMS)
    with pytest.raises(ConfigError, match="fraction"):
        expected_curve(LABELED, -0.1, PARAMS)


def test_synthetic_cannot_be_false() -> None:
    curve = expected_curve(LABELED, 0.3, PARAMS)
    assert curve.synthetic is True
    with pytest.raises(ConfigError, match="synthetic"):
        ExpectedCurve(
            labeled=curve.labeled,
            accuracy=curve.accuracy,
            fraction=0.3,
            params=PARAMS,
            synthetic=False,
        )
    with pytest.raises(AttributeError):
        curve.synthetic = False  # type: ignore[misc]


def test_label_says_not_measured() -> None:
    curve = expected_curve(LABELED, 0.3, PARAMS)
    assert "not measured" in curve.label
    assert "30 %" in curve.label
    assert "12.5 %" in expected_curve(LABELED, 0.125, PARAMS).label


def test_curve_arrays_are_read_only_copies() -> None:
    x = LABELED.copy()
    curve = expected_curve(x, 0.3, PARAMS)
    x[0] = 0
    assert curve.labeled[0] == 1000
    with pytest.raises(ValueError):
        curve.accuracy[0] = 1.0


def test_params_for_reaches_63_percent_at_end_of_budget() -> None:
    p = params_for(initial=1000, batch=1000, rounds=48, floor=0.1, ceiling=0.6)
    assert p.n0 == 1000 and p.scale == 48_000
    end = 1000 + 1000 * 48
    acc = expected_accuracy([1000, end], 0.0, p)
    assert acc[0] == pytest.approx(0.1)
    assert (acc[1] - 0.1) / (0.6 - 0.1) == pytest.approx(1 - math.exp(-1))
    # with another base rate the u = 0 curve still ends at 63 %
    p2 = params_for(10, 10, 39, base_rate=2.0)
    acc2 = expected_accuracy([10 + 390], 0.0, p2)[0]
    assert (acc2 - p2.floor) / (p2.ceiling - p2.floor) == pytest.approx(1 - math.exp(-1))
    with pytest.raises(ConfigError, match="rounds"):
        params_for(1000, 1000, 0)
    with pytest.raises(ConfigError, match="batch"):
        params_for(1000, 0, 5)
