"""Every app page under Streamlit's AppTest: empty store, a store filled by a real
sweep, launching from the form, cancelling, and bad form input refused.

The populated store comes from a real ``python -m al_core sweep`` (digits,
softmax, a few epochs) run once per session. Tests that launch start a real
background runner; it is stopped (by its pid) when the test ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from al_core import charts, results
from al_core.runner import PRESETS, experiment_progress, runner_health
from al_core.store import Store
from tests.app_helpers import page_texts, stop_background_work

REPO = Path(__file__).resolve().parent.parent
OVERVIEW, EXPERIMENTS, RESULTS = (
    str(REPO / "pages" / f"{name}.py") for name in ("overview", "experiments", "results")
)
SWEEP_TARGET = 0.85
# A demo small enough to finish in seconds when a test's runner picks it up.
TINY_DEMO = {
    "rounds": 1,
    "epochs": 2,
    "min_steps": 25,
    "model": "softmax",
    "fractions": [0, 1],
    "trials": 1,
}


def _page(path: str) -> AppTest:
    return AppTest.from_file(path, default_timeout=60)


def _figure(app: AppTest, index: int = 0) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def _trace_names(app: AppTest, index: int = 0) -> list[str]:
    return [trace.get("name", "") for trace in _figure(app, index)["data"]]


@pytest.fixture(scope="session")
def swept_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose store holds one finished real sweep (2 configs × 2 trials)."""
    folder = tmp_path_factory.mktemp("swept")
    command = [
        sys.executable, "-m", "al_core", "sweep", "--db", str(folder / "al.sqlite3"),
        "--dataset", "digits", "--model", "softmax", "--strategies", "margin",
        "--fractions", "0,1", "--trials", "2", "--initial", "20", "--batch", "20",
        "--rounds", "4", "--epochs", "10", "--min-steps", "25", "--learning-rate", "0.05",
        "--target", str(SWEEP_TARGET), "--name", "page-test sweep", "--threads", "2",
    ]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=240)
    return folder


@pytest.fixture
def swept(swept_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AL_DATA_DIR", str(swept_data_dir))
    return swept_data_dir


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data folder; any runner a test starts there is stopped afterwards."""
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AL_DEMO_OVERRIDES", json.dumps(TINY_DEMO))
    yield tmp_path
    stop_background_work(tmp_path / "al.sqlite3")


def _experiments(folder: Path) -> list[dict]:
    with Store(folder / "al.sqlite3") as store:
        return store.experiments()


# --------------------------------------------------------------------------- overview


def test_overview_empty_shows_expected_curves_marked_not_measured(empty: Path) -> None:
    app = _page(OVERVIEW).run()
    assert not app.exception
    assert "Expected — not measured" in page_texts(app)
    names = _trace_names(app)
    assert names == ["expected (u = 0 %) — not measured", "expected (u = 50 %) — not measured"]
    app.select_slider[0].set_value(80).run()
    assert _trace_names(app)[1] == "expected (u = 80 %) — not measured"
    assert _experiments(empty) == []  # nothing is stored just by looking


def test_overview_demo_button_queues_the_demo_and_starts_a_runner(empty: Path) -> None:
    app = _page(OVERVIEW).run()
    app.button(key="run_demo").click().run()
    assert not app.exception
    (experiment,) = _experiments(empty)
    assert experiment["trials"] > 0
    assert experiment["config"]["base"]["rounds"] == TINY_DEMO["rounds"]
    with Store(empty / "al.sqlite3") as store:
        health = runner_health(store)
    assert health is not None and health["alive"]
    # The page now follows the demo instead of the expected curves.
    assert f"Experiment {experiment['id']}" in page_texts(app)


def _summary(folder: Path, target: float) -> tuple:
    """The numbers the pages must show, computed here from the stored rounds."""
    with Store(folder / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        rounds = results.rounds_frame(store.experiment_rounds([experiment["id"]]))
    configs = results.config_table(results.trial_table(rounds, target))
    return experiment, configs, results.display_table(configs)


def _starting_percent(folder: Path) -> int:
    """The target control's start: the best median final accuracy, rounded down."""
    with Store(folder / "al.sqlite3") as store:
        rounds = results.rounds_frame(store.experiment_rounds([1]))
    return round(results.starting_target(rounds, SWEEP_TARGET) * 100)


def test_overview_populated_shows_measured_curves_and_headline(swept: Path) -> None:
    app = _page(OVERVIEW).run()
    assert not app.exception
    experiment, configs, table = _summary(swept, SWEEP_TARGET)
    assert "page-test sweep" in page_texts(app)
    assert app.selectbox(key="overview_experiment").value == experiment["id"]
    control = app.number_input(key=f"overview_target_{experiment['id']}")
    start = _starting_percent(swept)
    assert control.value == start
    _, at_start, _ = _summary(swept, start / 100)
    assert results.verdict(at_start, start / 100) in page_texts(app)
    control.set_value(round(SWEEP_TARGET * 100)).run()
    assert not app.exception
    text = page_texts(app)
    random_row = table[table["uncertainty"] == "0%"].iloc[0]
    margin_row = table[table["uncertainty"] == "100%"].iloc[0]
    # The headline quotes the table: medians, trials reaching, saving and its spread.
    assert (
        f"To reach 85 % random needed {random_row['labels to target']} labels (median of 2 "
        f"trials; {random_row['reaching target']} reached it), margin at 100 % needed "
        f"{margin_row['labels to target']} ({margin_row['reaching target']}): "
    ) in text, text
    assert results.verdict(configs, SWEEP_TARGET) in text
    names = _trace_names(app)
    assert "random (baseline)" in names and "margin · u = 100 %" in names
    assert not any("not measured" in n for n in names)
    measured = next(t for t in _figure(app)["data"] if t.get("name") == "margin · u = 100 %")
    assert len(measured["x"]) == 5  # initial set + 4 rounds, all measured
    with Store(swept / "al.sqlite3") as store:
        stored = results.curve_bands(results.rounds_frame(store.experiment_rounds([1])))
    plotted = stored[stored["fraction"] == 1.0]
    assert measured["y"] == pytest.approx(plotted["mean"].tolist())  # the plotted values
    # The accuracy axis spans the drawn curves, their bands and the target, not 0-100 %.
    low, high = _figure(app)["layout"]["yaxis"]["range"]
    drawn = stored[stored["fraction"].isin([0.0, 1.0])]
    bands = drawn[drawn["phase"] == "active"]
    past = drawn[drawn["phase"] == "baseline"]["mean"]  # the extension: its line only
    top = max(bands["upper"].max(), past.max() if len(past) else 0.0, SWEEP_TARGET)
    bottom = min(bands["lower"].min(), past.min() if len(past) else 1.0, SWEEP_TARGET)
    assert low <= bottom and high >= top
    assert (
        high - low
        <= max(top - bottom, charts.MIN_ACCURACY_SPAN) * (1 + 2 * charts.ACCURACY_PAD) + 1e-9
    )
    assert low > 0.0 or high < 1.0
    app.select_slider(key=f"overview_fraction_{experiment['id']}").set_value(0).run()
    # Random alone (and, when it ran on past the budget, that part of it).
    shown = [n for n in _trace_names(app) if not n.endswith("band")]
    assert [n for n in shown if n != "random — run on past the budget"] == ["random (baseline)"]
    assert _figure(app)["layout"]["showlegend"] is True
    app.toggle[0].set_value(True).run()
    assert "expected (u = 0 %) — not measured" in _trace_names(app)


@pytest.mark.slow
def test_overview_plots_a_trial_of_the_shipped_demo_unmodified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's own training, not a stand-in: one trial (margin, u = 100 %, seed 0)
    of the shipped preset clears the linear floor and the page plots exactly it."""
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    command = [
        sys.executable, "-m", "al_core", "sweep", "--db", str(tmp_path / "al.sqlite3"),
        "--preset", "demo", "--fractions", "1", "--trials", "1", "--no-baseline",
        "--workers", "1",
    ]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=300)
    demo = PRESETS["demo"].base
    with Store(tmp_path / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        (trial,) = store.trials(experiment["id"])
        rounds = store.rounds(trial["id"])
        bands = results.curve_bands(results.rounds_frame(store.experiment_rounds([1])))
    assert trial["config"] == demo.replace(fraction=1.0, seed=0).to_dict()  # as shipped
    assert [r["labeled"] for r in rounds] == list(range(20, 101, 10))
    assert all(r["steps"] == demo.training().steps_for(r["labeled"]) for r in rounds)
    # Above scikit-learn's LogisticRegression on random digits labels (about 61 % at 20,
    # 80 % at 50, 88 % at 100), the line under which a curve is about training.
    accuracy = {r["labeled"]: r["test_accuracy"] for r in rounds}
    assert accuracy[20] >= 0.55 and accuracy[50] >= 0.80 and accuracy[100] >= 0.88, accuracy
    app = _page(OVERVIEW).run()
    assert not app.exception
    (measured,) = [t for t in _figure(app)["data"] if t.get("name") == "margin · u = 100 %"]
    assert measured["x"] == [r["labeled"] for r in rounds]
    assert measured["y"] == pytest.approx(bands["mean"].tolist())
    assert measured["y"] == pytest.approx([r["test_accuracy"] for r in rounds])


# --------------------------------------------------------------------------- experiments


def test_experiments_empty(empty: Path) -> None:
    app = _page(EXPERIMENTS).run()
    assert not app.exception
    assert "No experiments yet" in page_texts(app)


def _fill_form(app: AppTest, **values: object) -> AppTest:
    defaults = {"epochs": 2, "min_steps": 25, "rounds": 1, "trials": 1, "fractions": "0, 1"}
    for key, value in {**defaults, **values}.items():
        app.get_by_key(key).set_value(value)
    return app


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"target": 1.5}, "target accuracy must be in (0, 1]"),
        ({"target": 0.0}, "target accuracy must be in (0, 1]"),
        ({"fractions": "0, 1.2"}, "fraction 1.2 is outside [0, 1]"),
        ({"batch": 0}, "batch size must be >= 1"),
        ({"initial": 5000}, "initial labeled set (5000) is larger than the pool (1437 images)"),
    ],
)
def test_experiments_form_refuses_bad_input(empty: Path, values: dict, message: str) -> None:
    app = _fill_form(_page(EXPERIMENTS).run(), **values)
    app.button(key="launch").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any(message in e and e.startswith("Not launched") for e in errors), errors
    assert _experiments(empty) == []
    with Store(empty / "al.sqlite3") as store:
        assert runner_health(store) is None


def test_experiments_form_launches_then_cancel(empty: Path) -> None:
    app = _fill_form(_page(EXPERIMENTS).run(), name="from the form", trials=2, rounds=30)
    app.button(key="launch").click().run()
    assert not app.exception
    (experiment,) = _experiments(empty)
    assert experiment["name"] == "from the form"
    assert experiment["trials"] == 2 * 2  # fractions 0 and 1, two seeds each
    assert experiment["config"]["base"]["rounds"] == 30
    assert f"Experiment {experiment['id']} queued" in page_texts(app)
    with Store(empty / "al.sqlite3") as store:
        assert runner_health(store)["alive"]
    cancel = app.button(key=f"cancel_{experiment['id']}")
    cancel.click().run()
    assert not app.exception
    deadline = time.monotonic() + 60
    with Store(empty / "al.sqlite3") as store:
        while experiment_progress(store, experiment["id"])["status"] != "cancelled":
            assert time.monotonic() < deadline, experiment_progress(store, experiment["id"])
            time.sleep(0.5)
        progress = experiment_progress(store, experiment["id"])
    assert progress["queued"] == 0 and progress["running"] == 0
    app.run()
    assert f"{experiment['id']} · from the form** — cancelled" in page_texts(app)


def test_experiments_populated_lists_the_sweep(swept: Path) -> None:
    app = _page(EXPERIMENTS).run()
    assert not app.exception
    text = page_texts(app)
    assert "page-test sweep** — done" in text
    assert "Finished: 4 of 4 trials done." in text
    assert not app.get("progress")  # no bar and no ETA once finished
    assert "ETA" not in text and "min left" not in text
    assert not [b for b in app.button if b.label == "Start the runner"]  # nothing queued


# --------------------------------------------------------------------------- results


def test_results_empty(empty: Path) -> None:
    app = _page(RESULTS).run()
    assert not app.exception
    assert "No experiments yet" in page_texts(app)


def test_results_populated_curves_table_verdict_and_csv(swept: Path) -> None:
    app = _page(RESULTS).run()
    assert not app.exception
    start = _starting_percent(swept)
    assert app.number_input[0].value == start
    app.number_input[0].set_value(round(SWEEP_TARGET * 100)).run()
    names = _trace_names(app, 0)
    assert {"random (baseline)", "margin · u = 100 %"} <= set(names)
    assert not any("not measured" in n for n in names)
    shown = app.table[0].value
    _, configs, table = _summary(swept, SWEEP_TARGET)
    assert shown.astype(str).values.tolist() == table.astype(str).values.tolist()
    assert shown["trials"].tolist() == ["2", "2"]
    assert "None" not in shown.to_string() and "nan" not in shown.to_string()
    assert results.verdict(configs, SWEEP_TARGET) in page_texts(app)
    assert "interpolated linearly between the two measured rounds" in page_texts(app)
    # curves + fraction vs labels-to-target + labels needed across targets
    assert len(app.get("plotly_chart")) == 3
    curve = next(t for t in _figure(app, 0)["data"] if t.get("name") == "margin · u = 100 %")
    compared = next(t for t in _figure(app, 2)["data"] if t.get("name") == "margin · u = 100 %")
    assert compared["line"]["color"] == curve["line"]["color"]  # one colour in both charts
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == [
        "Download report",
        "Download rounds (CSV)",
        "Download the summary table (CSV)",
    ]
    app.toggle[0].set_value(True).run()
    assert "expected (u = 100 %) — not measured" in _trace_names(app, 0)
    app.number_input[0].set_value(99).run()
    _, high, high_table = _summary(swept, 0.99)
    assert results.verdict(high, 0.99) in page_texts(app)
    # "> N": the most labels run (random's rounds past the budget included).
    ran = high_table.set_index("uncertainty")["labels to target"]
    assert ran["100%"] == "not reached (> 100)"
    assert ran["0%"].startswith("not reached (> ")
    assert "No configuration reached 99%" in page_texts(app)
    # The labels-to-target chart draws each censored median as "> N", the most labels
    # its trials ran (the table's figure); the chart across targets stays.
    assert len(app.get("plotly_chart")) == 3
    drawn = {
        text
        for trace in _figure(app, 1)["data"]
        if trace.get("name", "").endswith("not reached")
        for text in trace["text"]
    }
    assert drawn == {
        value.removeprefix("not reached (").removesuffix(")") for value in (ran["100%"], ran["0%"])
    }


def test_app_navigation_reaches_every_page(swept: Path) -> None:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "Does active learning save labels?"
    for page, title in (
        ("pages/experiments.py", "Experiments"),
        ("pages/results.py", "Results"),
    ):
        app.switch_page(page).run()
        assert not app.exception
        assert app.title[0].value == title
