"""No verdict while trials run, where people read it: the Overview and Results pages
(AppTest and real Chromium) and ``python -m al_core report`` on a real SQLite store
holding a demo experiment caught mid-run (:func:`tests.app_helpers.store_running_demo`):
4 of its 6 trials finished, one running with rounds stored, one queued.

Its finished trials alone already make a comparison with a verdict and a headline
(checked first), so a page or command that forgot the completion would show them:
each view must instead say how many trials have finished and show no figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from al_core import results
from al_core.store import Store
from tests.app_helpers import RUNNING_DEMO, page_texts

REPO = Path(__file__).resolve().parent.parent
OVERVIEW, RESULTS = (str(REPO / "pages" / f"{name}.py") for name in ("overview", "results"))
PRELIMINARY = (
    "Preliminary: 4 of 6 trials finished. "
    "No verdict until every trial of the comparison has finished."
)


@dataclass(frozen=True)
class Running:
    folder: Path
    experiment_id: int
    configs: pd.DataFrame  # the finished trials' table, as every view computes it
    final_verdict: str  # what the finished trials would conclude, were nothing open
    final_headline: str  # the headline they would give


@pytest.fixture
def running(tmp_path: Path, running_demo: Any) -> Running:
    folder = tmp_path / "running"
    experiment_id = running_demo(folder)
    with Store(folder / "al.sqlite3") as store:
        experiment = store.experiment(experiment_id)
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
        statuses = [t["status"] for t in store.trials(experiment_id)]
    target = results.experiment_target(experiment)
    assert target == 0.85
    configs = results.config_table(results.trial_table(rounds, target))
    done = results.completion(statuses)
    assert (done.total, done.finished, done.open, done.stopped) == (6, 4, 2, 0)
    assert results.verdict(configs, target, done) == PRELIMINARY
    assert results.headline(configs, target, done) is None
    # Without the completion, the finished trials would give a verdict and a headline:
    # what a view that dropped it would show.
    final_verdict = results.verdict(configs, target)
    final_headline = results.headline(configs, target)
    assert not final_verdict.startswith(("Preliminary", "No finished")), final_verdict
    assert final_headline is not None, final_verdict
    assert configs["trials"].tolist() == [2, 2]  # finished trials only
    return Running(folder, experiment_id, configs, final_verdict, final_headline.text())


@pytest.fixture
def running_app_data(running: Running, monkeypatch: pytest.MonkeyPatch) -> Running:
    monkeypatch.setenv("AL_DATA_DIR", str(running.folder))
    return running


def _markdown(app: AppTest) -> list[str]:
    return [str(m.value) for m in app.markdown]


# --------------------------------------------------------------------------- pages


@pytest.mark.slow
def test_overview_shows_no_headline_or_verdict_while_trials_run(running_app_data: Running) -> None:
    running = running_app_data
    app = AppTest.from_file(OVERVIEW, default_timeout=60).run()
    assert not app.exception
    assert app.selectbox(key="overview_experiment").value == running.experiment_id
    (progress,) = app.get("progress")
    assert progress.proto.text.startswith("running: 4 of 6 trials done, 1 running, ")
    assert (
        "**Preliminary: 4 of 6 trials finished.** The curves are a live preview; "
        "the figures and the verdict appear when every trial has finished."
    ) in [i.value for i in app.info]
    # The verdict's place says there is none yet, word for word.
    assert PRELIMINARY in _markdown(app)
    text = page_texts(app)
    assert running.final_verdict not in text
    # No headline: neither its card nor its sentence.
    assert len(app.metric) == 0
    assert running.final_headline not in text
    assert "Labels needed to reach" not in text
    # The curves are drawn (a live preview of the finished trials).
    curves = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = [t.get("name", "") for t in curves["data"] if not t.get("name", "").endswith("band")]
    assert sorted(names) == ["margin · u = 100 %", "random (baseline)"]


@pytest.mark.slow
def test_results_page_draws_no_verdict_while_trials_run(running_app_data: Running) -> None:
    running = running_app_data
    app = AppTest.from_file(RESULTS, default_timeout=60).run()
    assert not app.exception
    assert app.multiselect[0].value == [running.experiment_id]
    assert (
        "**Preliminary: 4 of 6 trials finished.** The curves are a live preview; the "
        "table counts finished trials only and no verdict is drawn until every trial has "
        "finished."
    ) in [i.value for i in app.info]
    assert f"**{PRELIMINARY}**" in _markdown(app)
    assert running.final_verdict not in page_texts(app)
    shown = app.table[0].value
    table = results.display_table(running.configs)
    assert shown.astype(str).values.tolist() == table.astype(str).values.tolist()
    # Margin: its 2 finished trials counted, the running one named apart.
    assert shown["trials"].tolist() == ["2 (+1 partial)", "2"]
    trials = app.table[1].value
    assert sorted(trials["status"]) == ["done"] * 4 + ["running (partial)"]
    # With the partial trials counted, the figures change but there is still no verdict.
    (partial,) = [t for t in app.toggle if t.label == "Include partial trials"]
    partial.set_value(True).run()
    assert not app.exception
    assert app.table[0].value["trials"].tolist() == ["3", "2"]  # margin's running trial too
    assert f"**{PRELIMINARY}**" in _markdown(app)
    assert running.final_verdict not in page_texts(app)


# --------------------------------------------------------------------------- command line


@pytest.mark.slow
def test_report_prints_no_verdict_while_trials_run(running: Running) -> None:
    db = str(running.folder / "al.sqlite3")
    report = [sys.executable, "-m", "al_core", "report", "--db", db]
    shown = subprocess.run(
        [*report, str(running.experiment_id)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = shown.stdout.strip().splitlines()
    assert lines[-1] == PRELIMINARY
    assert running.final_verdict not in shown.stdout
    data = subprocess.run(
        [*report, str(running.experiment_id), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    output = json.loads(data.stdout)
    assert output["verdict"] == PRELIMINARY
    assert (output["trials_total"], output["trials_finished"], output["trials_open"]) == (6, 4, 2)
    assert output["preliminary"] is True
    assert [c["trials"] for c in output["configurations"]] == [2, 2]
    listing = subprocess.run(
        [*report, "--json"], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    (row,) = json.loads(listing.stdout)
    assert (row["name"], row["status"], row["trials_done"]) == (
        RUNNING_DEMO["name"],
        "running",
        4,
    )


# --------------------------------------------------------------------------- in Chromium


@pytest.mark.slow
def test_running_experiment_in_chromium(running: Running) -> None:
    """The Overview and Results as a person opens them while the demo still runs: the
    preliminary line where the verdict goes, no headline card, no verdict.
    Screenshots: test-artifacts/running-*.png."""
    from playwright.sync_api import expect

    from tests.browser import ARTIFACTS, chromium_page, streamlit_server

    with (
        streamlit_server(running.folder, log_name="streamlit-running.log") as server,
        chromium_page(1280, 1100) as page,
    ):
        page.goto(server.url)
        expect(page.get_by_text("running: 4 of 6 trials done, 1 running")).to_be_visible(
            timeout=60_000
        )
        expect(page.get_by_text(PRELIMINARY, exact=True)).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        main = page.get_by_test_id("stMain")
        expect(main).not_to_contain_text(running.final_verdict)
        expect(main).not_to_contain_text("Labels needed to reach")
        expect(page.get_by_test_id("stMetric")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "running-1-overview.png", full_page=True)
        page.get_by_text(PRELIMINARY, exact=True).scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "running-1b-overview-verdict.png")

        page.get_by_role("link", name="Results").click()
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        expect(page.get_by_text(PRELIMINARY, exact=True)).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("stTable").first).to_be_visible()
        expect(main).not_to_contain_text(running.final_verdict)
        page.wait_for_timeout(1000)  # let the table paint
        page.screenshot(path=ARTIFACTS / "running-2-results.png", full_page=True)
