"""The expected curves' kept anchors (al_core/expected_anchors.json): the numbers a
fresh measurement gives, used without fitting anything."""

from __future__ import annotations

import json

import pytest

from al_core import expected, expected_anchors, results
from al_core.runner import PRESETS


def test_kept_anchors_are_what_a_fresh_measurement_gives() -> None:
    """Measured again here (the same fits, ~4 s per preset): equal to the file to the
    last digit, so the file cannot go stale silently. A scikit-learn that fits
    differently fails this: rerun ``python -m al_core.expected_anchors``."""
    kept = json.loads(expected_anchors.ANCHORS_FILE.read_text())["anchors"]
    expected._lr_curve.cache_clear()
    fresh = expected_anchors.measure_presets()
    assert [e["preset"] for e in kept] == list(expected_anchors.STORED_PRESETS)
    assert kept == fresh


def test_the_empty_overviews_expected_curves_fit_nothing() -> None:
    base = PRESETS["demo"].base.to_dict()
    plan = results.expected_plan(base)
    expected._lr_curve.cache_clear()
    frame = results.expected_frame(*plan, [0.0, 0.5], base=base)
    assert expected._lr_curve.cache_info().misses == 0  # no logistic regression was fitted
    kept = expected_anchors.stored_anchor(base, *plan)
    assert kept is not None
    random = frame[frame["fraction"] == 0]
    assert random["accuracy"].tolist() == pytest.approx(
        kept.accuracy_at(random["labeled"].to_numpy()).tolist()
    )
    assert "logistic-regression curve on the digits pool" in frame.attrs["caption"]


def test_a_config_the_file_does_not_hold_is_measured() -> None:
    base = {**PRESETS["demo"].base.to_dict(), "pool_size": 300}
    plan = results.expected_plan(base)
    assert expected_anchors.stored_anchor(base, *plan) is None
    assert expected_anchors.stored_anchor({**base, "dataset": "npz:/nowhere.npz"}, *plan) is None
    measured = expected_anchors.anchor_for_config(base, *plan)
    assert measured is not None and measured.pool_size == 300
