"""The Overview's "Why batches need diversity" story (the ``repeated-digits`` preset,
and ``repeated-mnist`` as the second data set).

Pure helpers (al_core.results / charts / forms) on small hand-made tables; then the
page under Streamlit's AppTest on a real, tiny repeated-digits experiment stored by
the real trial runner (the shipped default preset: embedded digits, real Keras
training with consistent MC dropout, real SQLite): the figures on the page must be
the tables' cells. The launch button queues the preset tagged ``repeated-digits``
and starts a runner; with MNIST chosen and missing (an empty Keras cache, no
network) it shows the loader's error and queues nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from al_core import charts, diversity_story, results, runner
from al_core.errors import ConfigError
from al_core.forms import check_preset_data, overrides_variable, preset_overrides
from al_core.runner import runner_health
from al_core.store import Store
from tests.app_helpers import page_texts, rounds_from_curves, stop_background_work

REPO = Path(__file__).resolve().parent.parent
OVERVIEW = str(REPO / "pages" / "overview.py")
PRESET = diversity_story.DIVERSITY_PRESET
MNIST_PRESET = "repeated-mnist"
# The real preset, shrunk to seconds per trial: 60 images x 3 copies, 2 rounds of 10.
TINY = {
    "pool_size": 60,
    "test_size": 100,
    "rounds": 2,
    "mc_samples": 4,
    "candidates": None,
    "min_steps": 150,  # enough steps for 20-40 labels to train: curves a reader can trust
    "epochs": 1,
    "trials": 2,
}
TINY_TARGET = 0.8  # reachable by some trials of so small a run, so the verdict has figures


# --------------------------------------------------------------------------- pure helpers


def _rounds(curves: dict, status: str = "done", redundant: int | None = None) -> pd.DataFrame:
    """A rounds frame: one trial per key (strategy, fraction, seed), labels 10, 20, …,
    10 queried images per round of which ``redundant`` were near-copies."""
    return rounds_from_curves(
        curves, status, queried=json.dumps(list(range(10))), redundant=redundant
    )


def _verdict(curves: dict, target: float = 0.8, status: str = "done"):
    rounds = _rounds(curves, status)
    trials = results.trial_table(rounds, target)
    configs = results.config_table(trials)
    done = results.completion(list(trials["status"]))
    return diversity_story.diversity_verdict(trials, configs, target, done), configs


def test_overrides_variable_per_preset_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert overrides_variable("demo") == "AL_DEMO_OVERRIDES"  # the documented demo variable
    assert overrides_variable("repeated-mnist") == "AL_REPEATED_MNIST_OVERRIDES"
    environ = {"AL_REPEATED_MNIST_OVERRIDES": '{"rounds": 2}', "AL_DEMO_OVERRIDES": '{"x": 1}'}
    assert preset_overrides("repeated-mnist", environ) == {"rounds": 2}
    assert preset_overrides("mnist-400", environ) == {}
    with pytest.raises(ConfigError, match="AL_REPEATED_MNIST_OVERRIDES is not valid JSON"):
        preset_overrides("repeated-mnist", {"AL_REPEATED_MNIST_OVERRIDES": "{rounds: 2}"})
    with pytest.raises(ConfigError, match="AL_REPEATED_MNIST_OVERRIDES must be a JSON object"):
        preset_overrides("repeated-mnist", {"AL_REPEATED_MNIST_OVERRIDES": "[2]"})


def test_check_preset_data_refuses_bad_overrides_before_loading() -> None:
    def pool_of(size: int):
        return lambda config: size

    assert PRESET == "repeated-digits"  # the story opens on data that need no download
    base = check_preset_data(PRESET, {"rounds": 2, "trials": 1}, pool_size_of=pool_of(4311))
    assert (base.dataset, base.repeat, base.rounds) == ("digits", 3, 2)  # grid keys left out
    base = check_preset_data(MNIST_PRESET, {"rounds": 2}, pool_size_of=pool_of(6000))
    assert (base.dataset, base.repeat, base.candidates) == ("mnist", 3, None)
    with pytest.raises(ConfigError, match="unknown preset override"):
        check_preset_data(PRESET, {"roundz": 2}, pool_size_of=pool_of(6000))
    with pytest.raises(ConfigError, match="larger than the pool"):
        check_preset_data(PRESET, {}, pool_size_of=pool_of(15))


def test_story_choices_follow_the_preset_tag() -> None:
    def experiment(id_: int, preset: str | None) -> dict:
        config = {"base": {}} | ({"preset": preset} if preset else {})
        return {"id": id_, "kind": "sweep", "trials_done": 1, "status": "done", "config": config}

    stored = [
        experiment(4, MNIST_PRESET),
        experiment(3, PRESET),
        experiment(2, None),
        experiment(1, "demo"),
    ]
    assert [results.experiment_preset(e) for e in stored] == [MNIST_PRESET, PRESET, None, "demo"]
    diversity = results.overview_choices(stored, presets=(PRESET,))
    assert [e["id"] for e in diversity] == [3]
    both = results.overview_choices(stored, presets=tuple(diversity_story.DIVERSITY_PRESETS))
    assert [e["id"] for e in both] == [4, 3]
    exclude = tuple(diversity_story.DIVERSITY_PRESETS)
    demo = results.overview_choices(stored, exclude=exclude)
    assert [e["id"] for e in demo] == [2, 1]  # custom sweeps stay in the demo story
    assert results.overview_experiment(stored, exclude=exclude)["id"] == 2
    assert results.overview_experiment(stored[2:], presets=(PRESET,)) is None


def test_story_names_and_order() -> None:
    curves = {
        ("batchbald", 1.0, 0): [0.5, 0.7],
        ("bald", 1.0, 0): [0.5, 0.6],
        ("random", 0.0, 0): [0.5, 0.55],
    }
    bands = diversity_story.story_bands(results.curve_bands(_rounds(curves)))
    assert list(dict.fromkeys(bands["label"])) == ["random (baseline)", "BALD top-k", "BatchBALD"]
    assert diversity_story.story_label("bald", 0.5) == "BALD top-k · u = 50 %"
    figure = charts.curves_figure(bands, colors=charts.STORY_COLORS)
    lines = {t.name: t for t in figure.data if not t.name.endswith("band")}
    assert lines["BALD top-k"].line.color != lines["BatchBALD"].line.color  # same fraction
    assert lines["random (baseline)"].line.dash == "dash"


def test_story_redundancy_table_and_figure_show_the_same_numbers() -> None:
    rounds = _rounds(
        {("random", 0.0, 0): [0.5, 0.6, 0.7], ("bald", 1.0, 0): [0.5, 0.6, 0.7]}, redundant=3
    )
    rounds["redundant"] = rounds["redundant"].astype(float)
    rounds.loc[rounds["strategy"] == "bald", "redundant"] = [6, 5, float("nan")]  # last: none
    raw = results.redundancy_table(rounds)
    table = diversity_story.story_redundancy_table(raw)
    assert table["strategy"].tolist() == ["random (baseline)", "BALD top-k"]
    assert table["batches"].tolist() == [3, 2]
    assert table["near-copies"].tolist() == [9, 11]
    assert table["near-copies per batch"].tolist() == ["3.0", "5.5"]
    figure = charts.redundancy_figure(table, batch=10)
    (bars,) = figure.data
    assert list(bars.x) == table["strategy"].tolist()
    assert list(bars.text) == table["near-copies per batch"].tolist()
    assert list(bars.y) == [3.0, 5.5]
    assert figure.layout.yaxis.range == (0, 10.8)


def test_diversity_verdict_yes_when_batchbald_beats_both() -> None:
    verdict, configs = _verdict(
        {
            ("random", 0.0, 0): [0.5, 0.6, 0.7, 0.8],
            ("random", 0.0, 1): [0.5, 0.6, 0.7, 0.8],
            ("bald", 1.0, 0): [0.5, 0.6, 0.8, 0.9],
            ("bald", 1.0, 1): [0.5, 0.7, 0.8, 0.9],
            ("batchbald", 1.0, 0): [0.5, 0.8, 0.85, 0.9],
            ("batchbald", 1.0, 1): [0.5, 0.8, 0.9, 0.9],
        }
    )
    assert verdict.bottom_line == (
        "Yes — here BatchBALD needed fewer labels than BALD top-k and random to reach 80%."
    )
    table = diversity_story.story_labels_table(configs)
    assert table["labels to target"].tolist() == ["40", "30", "20"]
    assert verdict.details[0].startswith(
        "**Fewer labels than BALD top-k:** BatchBALD reached 80% with a median of 20 labels "
        "against BALD top-k's 30 (33% fewer; ± 0% across seed pairs)."
    )
    assert [rival for rival, _ in verdict.against] == ["BALD top-k", "random"]


def test_diversity_verdict_says_when_batchbald_loses() -> None:
    verdict, _ = _verdict(
        {
            ("random", 0.0, 0): [0.5, 0.6, 0.7, 0.8],
            ("random", 0.0, 1): [0.5, 0.6, 0.8, 0.8],
            ("bald", 1.0, 0): [0.5, 0.8, 0.9, 0.9],
            ("bald", 1.0, 1): [0.5, 0.8, 0.9, 0.9],
            ("batchbald", 1.0, 0): [0.5, 0.6, 0.7, 0.8],
            ("batchbald", 1.0, 1): [0.5, 0.6, 0.7, 0.8],
        }
    )
    assert verdict.bottom_line == (
        "No — here BatchBALD needed more labels than BALD top-k to reach 80%."
    )
    assert "BatchBALD did not win here." in verdict.details[0]
    assert verdict.details[1].startswith("**Within noise against random:**")


def test_diversity_verdict_never_reached_and_preliminary() -> None:
    verdict, _ = _verdict(
        {
            ("random", 0.0, 0): [0.5, 0.6],
            ("bald", 1.0, 0): [0.5, 0.9],
            ("batchbald", 1.0, 0): [0.5, 0.6],
        }
    )
    assert verdict.bottom_line == (
        "No — here BatchBALD did not reach 80% where BALD top-k did (in half or more of the "
        "trials)."
    )
    assert verdict.details[0].startswith("**BatchBALD did not reach 80%**")
    assert "not reached (> 20)" in verdict.details[0]
    assert verdict.details[1].startswith("**Neither BatchBALD nor random reached 80%**")
    open_verdict, _ = _verdict(
        {("random", 0.0, 0): [0.5, 0.9], ("batchbald", 1.0, 0): [0.5, 0.9]}, status="running"
    )
    assert open_verdict.bottom_line == (
        "Preliminary: 0 of 2 trials finished. No verdict until every trial of the comparison "
        "has finished."
    )
    assert open_verdict.details == ()
    missing, _ = _verdict({("random", 0.0, 0): [0.5, 0.9], ("batchbald", 1.0, 0): [0.5, 0.9]})
    assert "no finished BALD top-k trials" in missing.bottom_line


# --------------------------------------------------------------------------- the page


def _figure(app: AppTest, key: str) -> dict:
    (chart,) = [c for c in app.get("plotly_chart") if c.proto.id and key in c.proto.id]
    return json.loads(chart.proto.spec)


def _table(app: AppTest, column: str) -> pd.DataFrame:
    """The one table on the page with ``column``."""
    tables = [t.value for t in [*app.dataframe, *app.table] if column in t.value.columns]
    (table,) = tables
    return table


def _diversity_page() -> AppTest:
    app = AppTest.from_file(OVERVIEW, default_timeout=120).run()
    assert not app.exception
    app.get("button_group")[0].set_value("diversity").run()
    assert not app.exception
    return app


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A finished tiny repeated-digits experiment: queued from the preset, every trial
    run to completion by the runner's own trial function (real training, real store)."""
    folder = tmp_path_factory.mktemp("diversity")
    with Store(folder / "al.sqlite3") as store:
        experiment_id = runner.submit_preset(store, PRESET, target=TINY_TARGET, **TINY)
        for trial in store.trials(experiment_id):
            runner.run_trial(store, trial["id"])
        # Then the random baseline's extension, as the runner would run it.
        while runner.finish_experiment(store, experiment_id) == "running":
            for trial in store.trials(experiment_id):
                if trial["status"] == "queued":
                    runner.run_trial(store, trial["id"])
        assert runner.finish_experiment(store, experiment_id) == "done"
    return folder, experiment_id


@pytest.mark.slow
def test_diversity_story_shows_the_tables_figures(
    tiny_experiment: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, experiment_id = tiny_experiment
    monkeypatch.setenv("AL_DATA_DIR", str(folder))
    with Store(folder / "al.sqlite3") as store:
        experiment = store.experiment(experiment_id)
        raw = store.experiment_rounds([experiment_id])
    assert results.experiment_preset(experiment) == PRESET
    rounds = results.rounds_frame(raw)
    trials = results.trial_table(rounds, TINY_TARGET)
    configs = results.config_table(trials)
    labels_table = diversity_story.story_labels_table(configs)
    redundancy = diversity_story.story_redundancy_table(results.redundancy_table(rounds))

    app = _diversity_page()
    text = page_texts(app)
    assert "Why batches need diversity" in [t.value for t in app.title]
    assert "every image appears 3 times" in text
    assert app.selectbox(key="diversity_experiment").value == experiment_id

    # Curves: one per strategy, named plainly, the plotted means those of the stored rounds.
    curves = _figure(app, "diversity_chart")
    lines = [t for t in curves["data"] if not t["name"].endswith("band")]
    bands = diversity_story.story_bands(results.curve_bands(rounds))
    past = bands[bands["phase"] == "baseline"]
    # The random baseline run on past the budget (if it needed to) comes last.
    extension = [charts.EXTENSION_NAME] if len(past) else []
    names = ["random (baseline)", "BALD top-k", "BatchBALD", *extension]
    assert [t["name"] for t in lines] == names
    within = bands[bands["phase"] == "active"]
    for line in lines[:3]:
        assert line["y"] == pytest.approx(within[within["label"] == line["name"]]["mean"].tolist())
    if extension:  # from random's last point within the budget on
        last = within[within["label"] == "random (baseline)"]["mean"].iloc[-1]
        assert lines[3]["y"] == pytest.approx([last, *past["mean"].tolist()])

    # Near-copies per batch: the bars are the table's cells, and the cells are the
    # stored per-round counts (summed over both trials' rounds, over the batches).
    bars = _figure(app, "redundancy_chart")["data"][0]
    shown = _table(app, "near-copies per batch")
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), redundancy, check_dtype=False)
    assert bars["x"] == shown["strategy"].tolist()
    assert bars["text"] == shown["near-copies per batch"].tolist()
    assert bars["y"] == [float(cell) for cell in shown["near-copies per batch"]]
    for (strategy, fraction), group in rounds[rounds["redundant"].notna()].groupby(
        ["strategy", "fraction"]
    ):
        row = shown[shown["strategy"] == diversity_story.story_label(strategy, fraction)].iloc[0]
        assert row["near-copies"] == int(group["redundant"].sum())
        assert row["batches"] == len(group) == 2 * TINY["rounds"]  # 2 trials x 2 queried
        assert row["near-copies per batch"] == f"{group['redundant'].sum() / len(group):.1f}"

    # Labels to target: each card is the table's cell, with how many trials reached it.
    # ("not reached (> 40)" shows "not reached" on the card, "> 40 labels" under it).
    metrics = {m.label: m.value for m in app.metric}
    assert list(metrics) == labels_table["strategy"].tolist()
    captions = [c.value for c in app.caption if "trials reached it" in c.value]
    for (_, row), value, caption in zip(
        labels_table.iterrows(), metrics.values(), captions, strict=True
    ):
        cell = row["labels to target"]
        if cell.startswith("not reached (> "):
            assert value == "not reached"
            assert caption.startswith(f"not within the {cell[15:-1]} labels run")
        else:
            assert value == cell and float(cell) > 0
        assert caption.endswith(f" · {row['reaching target']} trials reached it")
    # A count like "34" is between two rounds of 10: the page says how it was computed.
    assert any(
        "interpolated between the two measured rounds around the target" in c.value
        for c in app.caption
    )
    pd.testing.assert_frame_equal(  # a static table: every cell comes back as text
        _table(app, "labels to target").reset_index(drop=True), labels_table.astype(str)
    )
    verdict = diversity_story.diversity_verdict(
        trials, configs, TINY_TARGET, results.completion(list(trials["status"]))
    )
    assert f"**{verdict.bottom_line}**" in text
    assert len(verdict.details) == 2
    for sentence in verdict.details:
        assert f"- {sentence}" in text

    # The demo story does not list the diversity experiment: with nothing else stored it
    # shows its expected curves.
    app.get("button_group")[0].set_value("labels").run()
    assert "Expected — not measured" in page_texts(app)


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data folder; any runner a test starts there is stopped afterwards."""
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AL_REPEATED_DIGITS_OVERRIDES", json.dumps(TINY))
    yield tmp_path
    stop_background_work(tmp_path / "al.sqlite3")


def test_diversity_button_queues_the_tagged_preset_and_starts_a_runner(empty: Path) -> None:
    app = _diversity_page()
    assert "No results on Digits (embedded, 8×8) yet" in page_texts(app)
    assert "No download needed." in page_texts(app)
    app.button(key="run_diversity").click().run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    with Store(empty / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        health = runner_health(store)
        specs = {(t["strategy"], t["fraction"]) for t in store.trials(experiment["id"])}
    assert results.experiment_preset(experiment) == PRESET
    assert experiment["config"]["base"]["pool_size"] == TINY["pool_size"]  # the override
    assert experiment["config"]["base"]["repeat"] == 3
    assert specs == {("random", 0.0), ("bald", 1.0), ("batchbald", 1.0)}
    assert experiment["trials"] == 3 * TINY["trials"]
    assert health is not None and health["alive"]
    assert f"Experiment {experiment['id']}" in page_texts(app)  # the story now follows it


# Runs the page in a fresh interpreter whose Keras cache is empty and whose downloads
# go to a closed port, as on an offline machine without MNIST.
_OFFLINE_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
from al_core.store import Store
app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
app.get("button_group")[0].set_value("diversity").run()
app.get("button_group")[1].set_value("repeated-mnist").run()
app.button(key="run_diversity").click().run()
from al_core.runner import runner_health
with Store() as store:
    experiments = store.experiments()
    health = runner_health(store)
print(json.dumps({"errors": [e.value for e in app.error], "experiments": len(experiments),
                  "runner": health, "exception": [str(e.value) for e in app.exception]}))
"""


def test_without_mnist_the_button_shows_the_fix_and_queues_nothing(tmp_path: Path) -> None:
    keras_home = tmp_path / "keras-home"
    (keras_home / "datasets").mkdir(parents=True)
    data = tmp_path / "data"
    data.mkdir()
    env = dict(
        os.environ,
        KERAS_HOME=str(keras_home),
        AL_DATA_DIR=str(data),
        AL_REPEATED_MNIST_OVERRIDES=json.dumps(TINY),
        PYTHONPATH=str(REPO),
        https_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PAGE, OVERVIEW],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["exception"] == []
    (error,) = outcome["errors"]
    assert error.startswith("The MNIST (28×28, the paper's) experiment could not start: mnist:")
    assert str(keras_home / "datasets" / "mnist.npz") in error
    assert "is not in the Keras cache" in error and "Fix:" in error
    assert outcome["experiments"] == 0  # nothing queued
    assert outcome["runner"] is None  # and no runner started


# --------------------------------------------------------------------------- in Chromium


@pytest.mark.slow
def test_diversity_story_in_chromium(tiny_experiment: tuple[Path, int], tmp_path: Path) -> None:
    """The story as a stakeholder opens it (its link, ``?story=`` its title): empty, then on the
    tiny experiment; the bars and curves the browser draws are the tables' values.
    Screenshots: test-artifacts/diversity-*.png."""
    from playwright.sync_api import expect

    from tests.browser import ARTIFACTS, assert_accuracy_axis, chromium_page, streamlit_server

    folder, experiment_id = tiny_experiment
    with Store(folder / "al.sqlite3") as store:
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
    redundancy = diversity_story.story_redundancy_table(results.redundancy_table(rounds))
    configs = results.config_table(results.trial_table(rounds, TINY_TARGET))
    labels_table = diversity_story.story_labels_table(configs)
    with chromium_page(1280, 1100) as page:
        with streamlit_server(tmp_path, log_name="streamlit-diversity-empty.log") as empty:
            page.goto(f"{empty.url}/?story=Why+batches+need+diversity")
            expect(page.get_by_role("heading", name="Why batches need diversity")).to_be_visible()
            expect(page.get_by_role("button", name="Run the experiment")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "diversity-1-empty.png", full_page=True)

        with streamlit_server(folder, log_name="streamlit-diversity.log") as server:
            page.goto(f"{server.url}/?story=Why+batches+need+diversity")
            expect(page.get_by_role("heading", name="Why batches need diversity")).to_be_visible()
            charts_drawn = page.locator(".js-plotly-plot")
            # Plotly's bundle loads lazily: on a busy machine it takes more than 5 s.
            expect(charts_drawn.nth(1)).to_be_visible()
            curves = charts_drawn.nth(0).evaluate(
                "el => el.data.filter(t => t.mode === 'lines+markers').map(t => t.name)"
            )
            bands = diversity_story.story_bands(results.curve_bands(rounds))
            extension = [charts.EXTENSION_NAME] if (bands["phase"] == "baseline").any() else []
            assert curves == ["random (baseline)", "BALD top-k", "BatchBALD", *extension]
            # The accuracy axis spans the curves, their bands and the target, not 0-100 %.
            axis = charts_drawn.nth(0).evaluate("el => Array.from(el.layout.yaxis.range)")
            assert_accuracy_axis(axis, bands, TINY_TARGET)
            bars = charts_drawn.nth(1).evaluate(
                "el => ({x: Array.from(el.data[0].x), text: Array.from(el.data[0].text)})"
            )
            assert bars["x"] == redundancy["strategy"].tolist()
            assert bars["text"] == redundancy["near-copies per batch"].tolist()
            legend = charts_drawn.nth(0).locator(".legend")
            for name in ("random (baseline)", "BALD top-k", "BatchBALD"):
                expect(legend).to_contain_text(name)
            # One card per row of the labels table, in its order: label and value exactly
            # the row's strategy and cell ("34", never "340"; "not reached" for
            # "not reached (> 40)", whose "> 40" is said under the card).
            cards = page.get_by_test_id("stMetric")
            expect(cards).to_have_count(len(labels_table))
            for position, (_, row) in enumerate(labels_table.iterrows()):
                card = cards.nth(position)
                expect(card.get_by_test_id("stMetricLabel")).to_have_text(row["strategy"])
                value = row["labels to target"].partition(" (> ")[0]
                assert value in ("not reached", str(row["labels to target"]))
                expect(card.get_by_test_id("stMetricValue")).to_have_text(value)
            page.wait_for_timeout(1000)  # let the tables' canvases paint
            page.screenshot(path=ARTIFACTS / "diversity-2-measured.png", full_page=True)
            page.get_by_role(
                "heading", name="Near-copies per batch of 10"
            ).scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "diversity-3-redundancy.png")
            page.get_by_role("heading", name="Labels needed to reach").scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "diversity-4-verdict.png")
