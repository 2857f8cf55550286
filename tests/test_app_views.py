"""The app's pure helpers: curve bands, headline figure, expected frames, form
validation and figures (al_core.results / forms / charts; no Streamlit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from al_core import charts, results
from al_core.errors import ConfigError
from al_core.forms import check_against_pool, demo_overrides, parse_fractions, sweep_request
from al_core.loop import TrialConfig


def _rounds(
    curves: dict[tuple[str, float, int], list[float]], status: str = "done"
) -> pd.DataFrame:
    """A rounds frame: one trial per key (strategy, fraction, seed), labels 10, 20, …"""
    rows = []
    for trial_id, ((strategy, fraction, seed), accuracies) in enumerate(curves.items(), 1):
        for r, accuracy in enumerate(accuracies):
            rows.append(
                {
                    "experiment_id": 1,
                    "trial_id": trial_id,
                    "strategy": strategy,
                    "fraction": fraction,
                    "seed": seed,
                    "trial_status": status,
                    "round": r,
                    "phase": "active",
                    "labeled": 10 * (r + 1),
                    "test_accuracy": accuracy,
                }
            )
    return results.rounds_frame(rows)


# Random reaches 0.8 at 40 labels (both seeds); margin at 20 and 30: saves 37.5 %.
CURVES = {
    ("random", 0.0, 0): [0.5, 0.6, 0.7, 0.8],
    ("random", 0.0, 1): [0.5, 0.6, 0.7, 0.8],
    ("margin", 0.5, 0): [0.5, 0.8, 0.85, 0.9],
    ("margin", 0.5, 1): [0.5, 0.7, 0.8, 0.9],
}


def test_curve_bands_mean_and_std_across_trials() -> None:
    bands = results.curve_bands(_rounds(CURVES))
    margin = bands[bands["strategy"] == "margin"]
    assert margin["labeled"].tolist() == [10, 20, 30, 40]
    assert margin["mean"].tolist() == pytest.approx([0.5, 0.75, 0.825, 0.9])
    assert margin["std"].iloc[1] == pytest.approx(np.std([0.8, 0.7], ddof=1))
    assert (margin["upper"] - margin["lower"]).iloc[1] == pytest.approx(2 * margin["std"].iloc[1])
    assert set(bands["label"]) == {"random (baseline)", "margin · u = 50 %"}
    assert bands["trials"].eq(2).all()


def test_curve_bands_prefer_finished_trials_over_a_running_one() -> None:
    done = _rounds({("margin", 1.0, 0): [0.5, 0.6, 0.7]})
    running = _rounds({("margin", 1.0, 1): [0.4]}, status="running").assign(trial_id=2)
    bands = results.curve_bands(pd.concat([done, running], ignore_index=True))
    assert bands["labeled"].tolist() == [10, 20, 30]  # not cut back to the running trial's 1
    assert bands["trials"].eq(1).all()
    preview = results.curve_bands(running)  # nothing finished yet: live preview
    assert preview["mean"].tolist() == [0.4]


def test_curve_bands_empty() -> None:
    assert results.curve_bands(results.rounds_frame([])).empty


def test_headline_states_random_best_and_saving_with_spread() -> None:
    configs = results.config_table(results.trial_table(_rounds(CURVES), 0.8))
    best = results.headline(configs, 0.8)
    assert best is not None
    assert (best.strategy, best.fraction, best.trials) == ("margin", 0.5, 2)
    assert best.random_labels == pytest.approx(40.0)
    assert best.labels == pytest.approx(25.0)
    assert best.saved_fraction == pytest.approx(0.375)
    text = best.text()
    assert text.startswith(
        "Labels needed to reach 80%: random 40 ± 0, best fraction 50% (margin) 25 ± 7"
    )
    assert "saved 38% ± 18%" in text


def test_summary_columns_add_auto_labeling_accuracy_only_when_measured() -> None:
    rounds = _rounds(CURVES)
    configs = results.config_table(results.trial_table(rounds, 0.8))
    assert results.summary_columns(configs) == results.SUMMARY_COLUMNS

    auto_step = rounds[rounds["trial_id"] == 3].tail(1).assign(round=4, phase="auto")
    auto_step["test_accuracy"] = 0.93
    with_auto = results.config_table(results.trial_table(pd.concat([rounds, auto_step]), 0.8))
    assert results.summary_columns(with_auto) == [*results.SUMMARY_COLUMNS, "auto_accuracy"]
    margin = with_auto[with_auto["strategy"] == "margin"].iloc[0]
    assert margin["auto_accuracy"] == pytest.approx(0.93)  # mean over the trials that auto-labeled


def test_headline_none_when_random_never_reaches_target() -> None:
    configs = results.config_table(results.trial_table(_rounds(CURVES), 0.95))
    assert results.headline(configs, 0.95) is None
    assert results.headline(configs, None) is None


def test_headline_reports_a_loss_honestly() -> None:
    worse = {
        ("random", 0.0, 0): [0.5, 0.8, 0.9],
        ("margin", 1.0, 0): [0.5, 0.6, 0.8],
    }
    configs = results.config_table(results.trial_table(_rounds(worse), 0.8))
    best = results.headline(configs, 0.8)
    assert best is not None and best.saved_fraction < 0
    assert "NOT beat random" in results.verdict(configs, 0.8)


def test_expected_frame_is_synthetic_and_labelled() -> None:
    frame = results.expected_frame(20, 10, 5, [0.0, 0.5])
    assert len(frame) == 2 * 6
    assert frame["synthetic"].all()
    assert frame["label"].str.endswith("not measured").all()
    first = frame[frame["fraction"] == 0.5]
    assert first["labeled"].tolist() == [20, 30, 40, 50, 60, 70]
    assert np.all(np.diff(first["accuracy"]) > 0)


@pytest.mark.parametrize(
    ("base", "labeled_max", "plan"),
    [
        ({"initial": 20, "batch": 10, "rounds": 5}, None, (20, 10, 5)),
        ({"initial": 20, "batch": 10, "budget": 95}, None, (20, 10, 8)),
        ({"initial": 20, "batch": 10}, 120.0, (20, 10, 10)),
        ({"initial": 20, "batch": 10}, None, (20, 10, 10)),
    ],
)
def test_expected_plan(base: dict, labeled_max: float | None, plan: tuple) -> None:
    assert results.expected_plan(base, labeled_max) == plan


def test_overview_experiment_skips_runs_and_empty_failures() -> None:
    rows = [
        {"id": 3, "kind": "run", "status": "done", "trials_done": 1},
        {"id": 2, "kind": "sweep", "status": "failed", "trials_done": 0},
        {"id": 1, "kind": "sweep", "status": "done", "trials_done": 4},
    ]
    assert results.overview_experiment(rows)["id"] == 1
    assert results.overview_experiment(rows[:2]) is None


# --------------------------------------------------------------------------- the form


def _form(**changes: object) -> dict:
    values = dict(
        dataset="digits",
        model="softmax",
        strategies=["margin"],
        fractions="0, 0.5, 1",
        trials=2,
        initial=20,
        batch=10,
        rounds=3,
        budget=0,
        target=0.9,
        epochs=3,
        pool_size_of=lambda config: 100,
    )
    values.update(changes)
    return values


def test_sweep_request_accepts_good_values() -> None:
    request = sweep_request(**_form())
    assert request.fractions == [0.0, 0.5, 1.0]
    assert request.base.rounds == 3 and request.base.budget is None
    assert request.base.target == 0.9
    assert (request.workers, request.executor, request.scheduler) == (2, "local", None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": 0.0}, "target accuracy must be in (0, 1]"),
        ({"target": 1.5}, "target accuracy must be in (0, 1]"),
        ({"fractions": "0, 1.5"}, "fraction 1.5 is outside [0, 1]"),
        ({"fractions": "-0.1"}, "outside [0, 1]"),
        ({"fractions": "half"}, "fractions must be numbers"),
        ({"batch": 0}, "batch size must be >= 1"),
        ({"initial": 500}, "initial labeled set (500) is larger than the pool (100 images)"),
        ({"strategies": []}, "pick at least one uncertainty strategy"),
        ({"trials": 0}, "trials must be >= 1"),
        ({"executor": "dask"}, "needs a scheduler address"),
        ({"model": "resnet"}, "unknown model"),
    ],
)
def test_sweep_request_refuses_bad_values(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        sweep_request(**_form(**changes))
    assert message in str(info.value)


def test_sweep_request_measures_the_real_pool() -> None:
    values = _form(initial=5000)
    del values["pool_size_of"]
    with pytest.raises(ConfigError, match=r"larger than the pool \(1437 images\)"):
        sweep_request(**values)


def test_parse_fractions_and_pool_check() -> None:
    assert parse_fractions("0 0.5,0.5, 1") == [0.0, 0.5, 1.0]
    with pytest.raises(ConfigError, match="at least one"):
        parse_fractions(" , ")
    with pytest.raises(ConfigError, match="batch size"):
        check_against_pool(TrialConfig(initial=5, batch=50), 20)


def test_demo_overrides() -> None:
    assert demo_overrides(None) == {}
    assert demo_overrides('{"rounds": 2, "model": "softmax"}') == {"rounds": 2, "model": "softmax"}
    with pytest.raises(ConfigError, match="not valid JSON"):
        demo_overrides("{rounds: 2}")
    with pytest.raises(ConfigError, match="JSON object"):
        demo_overrides("[1]")


# --------------------------------------------------------------------------- figures


def test_curves_figure_marks_expected_curves_and_target() -> None:
    bands = results.curve_bands(_rounds(CURVES))
    expected = results.expected_frame(10, 10, 3, [0.0, 0.5])
    figure = charts.curves_figure(bands, expected, 0.8)
    names = [trace.name for trace in figure.data]
    assert names.count("random (baseline)") == 1
    assert "margin · u = 50 % band" in names
    dotted = [t for t in figure.data if t.line.dash == "dot"]
    assert [t.name for t in dotted] == [
        "expected (u = 0 %) — not measured",
        "expected (u = 50 %) — not measured",
    ]
    measured = next(t for t in figure.data if t.name == "margin · u = 50 %")
    assert list(measured.y) == pytest.approx([0.5, 0.75, 0.825, 0.9])
    assert figure.layout.shapes[0].y0 == 0.8


def test_fraction_figure_starts_each_strategy_at_the_baseline() -> None:
    configs = results.config_table(results.trial_table(_rounds(CURVES), 0.8))
    figure = charts.fraction_figure(configs)
    (line,) = figure.data
    assert list(line.x) == [0.0, 50.0]
    assert list(line.y) == pytest.approx([40.0, 25.0])
    assert not math.isnan(line.error_y.array[1])
