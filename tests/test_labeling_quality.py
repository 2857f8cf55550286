"""A default labeling session learns: digits answered by the hidden truth, driven
through the session API and the real ``label-worker`` process, as the Label page
drives it (benchmarks/labeling_session.py runs the same over several seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from al_core import labeling
from al_core.store import Store
from benchmarks.labeling_session import GOALS, accuracy_at, run_truth_session


@pytest.mark.slow
def test_default_digits_sessions_answered_by_the_truth_clear_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    seeds = (0, 1, 2)
    with Store(tmp_path / "al.sqlite3") as store:
        try:
            curves = [run_truth_session(store, seed=seed, labels=100) for seed in seeds]
        finally:
            labeling.stop_workers()
        config = labeling.session_config(store, 1)
    # The stored config says how each fit was sized; every point ran the rule's steps.
    assert config.epochs is not None and config.min_steps is not None
    for curve in curves:
        assert all(p["steps"] >= config.min_steps for p in curve)
        assert [p["labeled"] for p in curve] == list(range(10, 101, 10))
    # The line holds for the median session (single seeds vary by several points).
    for labels, goal in GOALS:
        accuracies = sorted(accuracy_at(curve, labels) for curve in curves)
        assert accuracies[1] >= goal, (labels, accuracies)
