"""Tests of al_core.metrics: labels to target, normalized AUC, savings, mean curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from al_core.errors import ConfigError
from al_core.metrics import (
    LabelsToTarget,
    Savings,
    censored_median,
    compare_with_random,
    labels_to_target,
    mean_curve,
    normalized_auc,
    savings_vs_random,
    summarize,
)

LABELED = np.array([1000, 2000, 3000, 4000])
ACC = np.array([0.30, 0.40, 0.50, 0.60])

# --------------------------------------------------------------------------- labels_to_target


def test_labels_to_target_exact_point() -> None:
    res = labels_to_target(LABELED, ACC, 0.5)
    assert res == LabelsToTarget(labels=3000.0, reached=True, interpolated=False)


def test_labels_to_target_interpolated() -> None:
    res = labels_to_target(LABELED, ACC, 0.45)
    assert res.reached and res.interpolated
    assert res.labels == pytest.approx(2500.0)
    res = labels_to_target(LABELED, ACC, 0.575)
    assert res.labels == pytest.approx(3750.0)


def test_labels_to_target_without_interpolation() -> None:
    res = labels_to_target(LABELED, ACC, 0.45, interpolate=False)
    assert res == LabelsToTarget(labels=3000.0, reached=True, interpolated=False)


def test_labels_to_target_never_reached() -> None:
    res = labels_to_target(LABELED, ACC, 0.61)
    assert res == LabelsToTarget(labels=None, reached=False, interpolated=False)


def test_labels_to_target_first_point() -> None:
    res = labels_to_target(LABELED, ACC, 0.2)
    assert res == LabelsToTarget(labels=1000.0, reached=True, interpolated=False)


def test_labels_to_target_first_crossing_counts() -> None:
    acc = np.array([0.4, 0.6, 0.45, 0.7])
    res = labels_to_target(LABELED, acc, 0.5)
    assert res.labels == pytest.approx(1500.0)


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01, 50, float("nan")])
def test_labels_to_target_bad_target(target: float) -> None:
    with pytest.raises(ConfigError, match="target"):
        labels_to_target(LABELED, ACC, target)


def test_labels_to_target_bad_arrays() -> None:
    with pytest.raises(ConfigError, match="4 points but accuracy has 3"):
        labels_to_target(LABELED, ACC[:3], 0.5)
    with pytest.raises(ConfigError, match="increasing"):
        labels_to_target([1000, 1000, 2000, 3000], ACC, 0.5)
    with pytest.raises(ConfigError, match="percent"):
        labels_to_target(LABELED, ACC * 100, 0.5)


# --------------------------------------------------------------------------- normalized_auc


def test_auc_constant_curve() -> None:
    assert normalized_auc(LABELED, np.full(4, 0.7)) == pytest.approx(0.7)


def test_auc_linear_ramp_is_midpoint() -> None:
    assert normalized_auc(LABELED, ACC) == pytest.approx(0.45)


def test_auc_single_point() -> None:
    assert normalized_auc([500], [0.42]) == pytest.approx(0.42)


def test_auc_holds_last_value_beyond_curve() -> None:
    # ramp 0.3 -> 0.6 over [1000, 4000] then 0.6 held until 7000:
    # (0.45 * 3000 + 0.6 * 3000) / 6000
    assert normalized_auc(LABELED, ACC, x_max=7000) == pytest.approx(0.525)


def test_auc_sub_range() -> None:
    # on [2000, 3000] the ramp goes 0.4 -> 0.5
    assert normalized_auc(LABELED, ACC, x_min=2000, x_max=3000) == pytest.approx(0.45)
    assert normalized_auc(LABELED, ACC, x_min=1500, x_max=2500) == pytest.approx(0.40)


def test_auc_errors() -> None:
    with pytest.raises(ConfigError, match="x_max"):
        normalized_auc(LABELED, ACC, x_min=3000, x_max=2000)
    with pytest.raises(ConfigError, match="empty"):
        normalized_auc([], [])


# --------------------------------------------------------------------------- summarize


def test_summarize() -> None:
    mean, std, n = summarize([1.0, 2.0, 3.0, np.nan])
    assert (mean, n) == (2.0, 3)
    assert std == pytest.approx(1.0)
    mean, std, n = summarize([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(std)  # one value: spread unknown, not 0
    mean, std, n = summarize([np.nan, np.nan])
    assert math.isnan(mean) and math.isnan(std) and n == 0


# --------------------------------------------------------------------------- savings_vs_random


def test_savings_paired_by_seed() -> None:
    s = np.array([700.0, 800.0, 900.0])
    r = np.array([1000.0, 1000.0, 1000.0, 1200.0])
    res = savings_vs_random(
        s, r, strategy_seeds=np.array([2, 0, 1]), random_seeds=np.array([0, 1, 2, 3])
    )
    # pairs by seed: seed 0 (800 vs 1000), 1 (900 vs 1000), 2 (700 vs 1000)
    assert res.paired and res.n_pairs == 3 and res.censored == 0
    assert res.mean_fraction == pytest.approx(0.2)
    assert res.std_fraction == pytest.approx(0.1)
    assert res.labels_saved == pytest.approx(200.0)


def test_savings_unpaired() -> None:
    s = np.array([600.0, 800.0])
    r = np.array([900.0, 1100.0])
    res = savings_vs_random(s, r)
    assert not res.paired and res.n_pairs == 2
    assert res.mean_fraction == pytest.approx(0.3)  # 1 - 700 / 1000
    assert res.std_fraction == pytest.approx(np.std([600, 800], ddof=1) / 1000)
    assert res.labels_saved == pytest.approx(300.0)


def test_savings_seeds_without_overlap_fall_back_to_unpaired() -> None:
    res = savings_vs_random(
        [500.0], [1000.0], strategy_seeds=np.array([1]), random_seeds=np.array([2])
    )
    assert not res.paired
    assert res.mean_fraction == pytest.approx(0.5) and math.isnan(res.std_fraction)


def test_savings_negative_when_worse_than_random() -> None:
    res = savings_vs_random(
        [1200.0, 1300.0], [1000.0, 1000.0], strategy_seeds=[0, 1], random_seeds=[0, 1]
    )
    assert res.mean_fraction == pytest.approx(-0.25)
    assert res.labels_saved == pytest.approx(-250.0)


def test_savings_censored_trials_excluded() -> None:
    res = savings_vs_random(
        [800.0, np.nan, 600.0],
        [1000.0, 1000.0, np.nan],
        strategy_seeds=[0, 1, 2],
        random_seeds=[0, 1, 2],
    )
    assert res.paired and res.n_pairs == 1
    assert res.censored == 2 and res.censored_strategy == 1 and res.censored_random == 1
    assert res.mean_fraction == pytest.approx(0.2) and math.isnan(res.std_fraction)
    unpaired = savings_vs_random([800.0, np.nan], [1000.0, np.nan, 1000.0])
    assert unpaired.n_pairs == 1 and unpaired.censored == 2
    assert unpaired.mean_fraction == pytest.approx(0.2)


def test_savings_all_nan_is_nan_not_an_error() -> None:
    res = savings_vs_random([np.nan, np.nan], [1000.0, 900.0])
    assert isinstance(res, Savings)
    assert math.isnan(res.mean_fraction) and math.isnan(res.labels_saved)
    assert res.n_pairs == 0 and res.censored == 2 and res.censored_strategy == 2
    paired = savings_vs_random([np.nan], [1000.0], strategy_seeds=[0], random_seeds=[0])
    assert paired.paired and paired.n_pairs == 0 and math.isnan(paired.mean_fraction)


def test_savings_errors() -> None:
    with pytest.raises(ConfigError, match="positive"):
        savings_vs_random([0.0], [100.0])
    with pytest.raises(ConfigError, match="one seed per trial"):
        savings_vs_random([1.0, 2.0], [3.0], strategy_seeds=[0], random_seeds=[0])
    with pytest.raises(ConfigError, match="duplicate"):
        savings_vs_random([1.0, 2.0], [3.0], strategy_seeds=[0, 0], random_seeds=[0])


# --------------------------------------------------------------------------- censored statistics

NAN = math.nan


@pytest.mark.parametrize(
    ("labels", "median"),
    [
        ([86.0, 90.0, 120.0], 90.0),  # all reached: the plain median
        ([86.0, 90.0, NAN], 90.0),  # one of three never reached: counted as the largest
        ([60.0, NAN, NAN], NAN),  # two of three never reached: "not reached"
        ([60.0, 70.0, 80.0, NAN], 75.0),  # even count: mean of the two middle (reached) ones
        ([60.0, 70.0, NAN, NAN], NAN),  # half never reached: "not reached"
        ([NAN], NAN),
        ([], NAN),
        ([50.0], 50.0),
    ],
)
def test_censored_median_counts_trials_that_never_reached(labels: list, median: float) -> None:
    result = censored_median(labels)
    if math.isnan(median):
        assert math.isnan(result)
    else:
        assert result == median


def test_censored_median_is_not_the_mean_of_the_reaching_trials() -> None:
    # The case: two of three trials reached at 80 and 92, one never did. Dropping
    # the third gives 86, cheaper than a configuration whose three trials all took 88.
    assert censored_median([80.0, 92.0, NAN]) == 92.0
    assert censored_median([88.0, 88.0, 88.0]) == 88.0


def test_compare_saving_comes_from_the_two_medians() -> None:
    result = compare_with_random(
        [60.0, 70.0, NAN], [100.0, 90.0, 80.0], strategy_seeds=[0, 1, 2], random_seeds=[0, 1, 2]
    )
    assert (result.labels, result.random_labels) == (70.0, 90.0)
    assert result.saved_fraction == pytest.approx(1 - 70 / 90)
    # spread: the two seed pairs where both reached (0: 60 vs 100, 1: 70 vs 90)
    assert result.pair_savings == pytest.approx((0.4, 1 - 70 / 90))
    assert result.saved_std == pytest.approx(np.std([0.4, 1 - 70 / 90], ddof=1))
    assert result.outcome == "fewer"  # 22 % saved > 12 % spread


def test_compare_one_pair_is_not_conclusive() -> None:
    result = compare_with_random([50.0], [100.0], strategy_seeds=[0], random_seeds=[0])
    assert result.saved_fraction == pytest.approx(0.5)
    assert math.isnan(result.saved_std) and result.n_pairs == 1
    assert result.outcome == "not conclusive"


def test_compare_seeds_without_overlap_fall_back_to_unpaired() -> None:
    """No seed shared by the two arms: the spread is that of each reaching trial of the
    configuration against random's median (docs/results.md: a verdict needs a spread)."""
    result = compare_with_random(
        [60.0, 80.0, NAN], [100.0, 100.0, 90.0], strategy_seeds=[0, 1, 2], random_seeds=[3, 4, 5]
    )
    assert (result.labels, result.random_labels) == (80.0, 100.0)
    assert result.pair_savings == pytest.approx((0.4, 0.2))  # 1 - 60/100, 1 - 80/100
    assert result.saved_std == pytest.approx(np.std([0.4, 0.2], ddof=1))
    assert result.outcome == "fewer"  # 20 % saved > 14 % spread


def test_compare_within_noise_when_the_saving_is_inside_the_spread() -> None:
    # pairs save +40 %, -30 %, +10 %: std 35 %; medians 90 vs 100 save 10 %
    result = compare_with_random(
        [60.0, 130.0, 90.0], [100.0, 100.0, 100.0], strategy_seeds=[0, 1, 2], random_seeds=[0, 1, 2]
    )
    assert result.saved_fraction == pytest.approx(0.1)
    assert result.saved_std == pytest.approx(np.std([0.4, -0.3, 0.1], ddof=1))
    assert result.outcome == "within noise"


def test_compare_tie_is_within_noise_even_with_zero_spread() -> None:
    result = compare_with_random(
        [100.0, 80.0], [100.0, 80.0], strategy_seeds=[0, 1], random_seeds=[0, 1]
    )
    assert result.saved_fraction == 0.0 and result.saved_std == 0.0
    assert result.outcome == "within noise"


def test_compare_more_labels_beyond_the_spread() -> None:
    result = compare_with_random(
        [150.0, 160.0, 140.0],
        [100.0, 100.0, 100.0],
        strategy_seeds=[0, 1, 2],
        random_seeds=[0, 1, 2],
    )
    assert result.saved_fraction == pytest.approx(-0.5)
    assert result.outcome == "more"


def test_compare_not_comparable_when_a_median_is_not_reached() -> None:
    result = compare_with_random(
        [60.0, NAN, NAN], [100.0, 90.0, 80.0], strategy_seeds=[0, 1, 2], random_seeds=[0, 1, 2]
    )
    assert math.isnan(result.labels) and math.isnan(result.saved_fraction)
    assert result.outcome == "not comparable"
    flipped = compare_with_random([60.0, 70.0], [NAN, NAN])
    assert math.isnan(flipped.random_labels) and flipped.outcome == "not comparable"


def test_compare_unpaired_uses_the_random_median() -> None:
    result = compare_with_random([50.0, 70.0], [100.0, 80.0, 120.0])
    assert result.saved_fraction == pytest.approx(0.4)
    assert result.pair_savings == pytest.approx((0.5, 0.3))
    assert result.outcome == "fewer"  # 40 % > 14 % spread


# --------------------------------------------------------------------------- mean_curve


def test_mean_curve_uses_common_labeled_counts() -> None:
    curves = [
        ([100, 200, 300], [0.2, 0.4, 0.6]),
        ([100, 200, 300, 400], [0.4, 0.6, 0.8, 0.9]),
        ([100, 150, 200, 300], [0.3, 0.35, 0.5, 0.7]),
    ]
    grid, mean, std, n = mean_curve(curves)
    assert n == 3
    assert grid.tolist() == [100, 200, 300]
    np.testing.assert_allclose(mean, [0.3, 0.5, 0.7])
    np.testing.assert_allclose(std, [0.1, 0.1, 0.1])


def test_mean_curve_single_and_empty() -> None:
    grid, mean, std, n = mean_curve([([1, 2], [0.5, 0.6])])
    assert n == 1 and grid.tolist() == [1, 2]
    np.testing.assert_allclose(mean, [0.5, 0.6])
    np.testing.assert_array_equal(std, [0.0, 0.0])
    grid, mean, std, n = mean_curve([])
    assert n == 0 and grid.size == mean.size == std.size == 0


def test_compare_rounds_the_medians_a_table_shows_before_the_saving() -> None:
    # Medians 30.45 and 30.8 show as "30" and "31": the saving must be 1 - 30/31,
    # not 1 - 30.45/30.8 (1 %), or a reader cannot recompute it from the table.
    shown = compare_with_random([30.45], [30.8], decimals=0)
    assert (shown.labels, shown.random_labels) == (30.0, 31.0)
    assert shown.saved_fraction == pytest.approx(1 - 30 / 31)
    exact = compare_with_random([30.45], [30.8])
    assert exact.saved_fraction == pytest.approx(1 - 30.45 / 30.8)
