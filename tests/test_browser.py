"""The app in a real browser: ``streamlit run app.py`` on a loopback port, driven by
Debian's headless Chromium through Playwright (no browser download).

Opens the overview on an empty store, launches the demo as shipped (the preset's
30 trials, then the random baseline run on past the budget), watches progress
advance and measured points appear, reads the saving at the default target and at
the preset's, moves the slider, then opens Results and downloads the rounds CSV and the
report (opened offline: its figures are the store's), then opens the presentation view
at 1024×768. Screenshots, the server log, the CSV and the report are kept under
``test-artifacts/`` (git-ignored).
In CI a missing Chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from al_core import results
from al_core.runner import PRESETS
from al_core.store import Store
from tests.app_helpers import stop_background_work
from tests.browser import (
    ARTIFACTS,
    REPO,
    assert_accuracy_axis,
    chromium_page,
    require_browser,
    streamlit_server,
)

DEMO = PRESETS["demo"]
#: The preset's own target (85 %): every trial reaches it within the budget.
DEMO_TARGET = DEMO.target
#: The demo's active budget: 20 labels, then 8 rounds of 10.
DEMO_BUDGET = DEMO.base.initial + DEMO.base.rounds * DEMO.base.batch
#: The shipped demo on 2 busy CI cores (about 3 minutes on a quiet machine).
DEMO_TIMEOUT_S = 900
#: The overview's sentence where the verdict goes while any trial is queued or running.
NO_VERDICT_YET = "No verdict until every trial of the comparison has finished."


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real Streamlit server on a free loopback port over an empty data folder."""
    # The demo as shipped: no overrides, whatever the calling environment holds.
    try:
        with streamlit_server(
            tmp_path, env={"AL_DEMO_OVERRIDES": ""}, log_name="streamlit.log", fresh_log=True
        ) as app:
            yield app.url, tmp_path
    finally:
        stop_background_work(tmp_path / "al.sqlite3")


def _experiment_status(data_dir: Path) -> str:
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
    return experiment["status"]


def _done_count(text: str) -> int | None:
    found = re.search(r"(\d+) of (\d+) trials done", text)
    return int(found.group(1)) if found else None


def _expected_figures(data_dir: Path, target: float | None = None) -> dict:
    """What the pages must show at ``target`` (default: the page's starting target, the
    best median final accuracy rounded down), computed from the stored rounds."""
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        rounds = results.rounds_frame(store.experiment_rounds([experiment["id"]]))
        statuses = [t["status"] for t in store.trials(experiment["id"])]
    done = results.completion(statuses)
    start = results.starting_target(rounds, results.experiment_target(experiment), done)
    target = start if target is None else target
    configs = results.config_table(results.trial_table(rounds, target))
    best = results.headline(configs, target, done)
    view = results.savings_view(rounds, configs, target, fraction=best and best.fraction)
    return {
        "bands": results.curve_bands(rounds),
        "configs": configs,
        "verdict": results.verdict(configs, target, done),
        "headline": best,
        "sentence": None if best is None else results.headline_sentence(best, configs),
        "start": start,
        "savings": None if view is None else view.table,
        "savings_name": None if view is None else view.name,
    }


#: Every cell of the page's static tables, row by row (the last ``n`` cells of a row:
#: an index column, if drawn, comes first).
_TABLE_CELLS = """(el, n) => [...el.querySelectorAll('tbody tr')].map(
    r => [...r.querySelectorAll('th, td')].map(c => c.innerText.trim()).slice(-n)
)"""


#: The text of the main area's elements that belong to the page's current run (stale
#: ones, left from the previous run until they are replaced, are left out), and how
#: many headline cards are among them: one snapshot, taken in the browser at once.
_LIVE_SNAPSHOT = """() => {
    const live = [...document.querySelectorAll(
        '[data-testid="stMain"] [data-testid="stElementContainer"]'
    )].filter(e => !e.closest('[data-stale="true"]'));
    return {
        text: live.map(e => e.innerText).join("\\n"),
        metrics: live.filter(e => e.querySelector('[data-testid="stMetric"]')).length,
    };
}"""


def test_demo_end_to_end_in_chromium(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect

    url, data_dir = server
    with chromium_page(1280, 1100, accept_downloads=True) as page:
        browser = page.context.browser
        page.goto(url)
        expect(
            page.get_by_role("heading", name="Does active learning save labels?")
        ).to_be_visible()
        expect(page.get_by_text("Expected — not measured.")).to_be_visible()
        # Plotly's bundle loads lazily: on a busy machine it takes more than 5 s.
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        page.screenshot(path=ARTIFACTS / "1-overview-empty.png", full_page=True)

        page.get_by_role("button", name="Run the demo experiment").click()
        progress = page.get_by_text(re.compile(r"\d+ of \d+ trials done"))
        expect(progress).to_be_visible(timeout=30_000)
        first = _done_count(progress.inner_text())
        assert first is not None
        # Progress advances while the background runner trains, with no reload; and
        # while any trial runs the page draws no headline and no verdict.
        deadline = time.monotonic() + DEMO_TIMEOUT_S
        seen = [first]
        running_views = 0
        while time.monotonic() < deadline:
            if _experiment_status(data_dir) == "done" and not progress.count():
                break  # finished, and the page dropped its progress bar
            view = page.evaluate(_LIVE_SNAPSHOT)
            shown = re.search(r"(\d+) of (\d+) trials done", view["text"])
            if shown is not None:  # a view of the running experiment
                assert view["metrics"] == 0, f"a headline card while trials run: {view}"
                assert "Labels needed to reach" not in view["text"], view["text"]
                assert "Labels needed across targets" not in view["text"], view["text"]
                # Once the run has drawn the caption under the verdict, the verdict's
                # place (just above it) says there is none yet.
                if "Markers: measured mean over trials" in view["text"]:
                    assert NO_VERDICT_YET in view["text"], view["text"]
                    running_views += 1
                count = int(shown.group(1))
                if count != seen[-1]:
                    seen.append(count)
                    if len(seen) == 2:
                        page.screenshot(path=ARTIFACTS / "2-overview-running.png")
            time.sleep(1)
        else:
            pytest.fail(f"the demo did not finish in {DEMO_TIMEOUT_S} s; done counts {seen}")
        # The page showed the done count rise at least once, and never fall.
        assert len(seen) >= 2 and seen == sorted(seen), f"done counts shown: {seen}"
        assert seen[-1] > seen[0] and running_views > 0, (seen, running_views)

        chart = page.locator(".js-plotly-plot").first
        points = chart.locator(".scatterlayer .trace .points path")
        expect(points.first).to_be_attached()
        assert points.count() >= 2  # measured rounds drawn as markers
        assert "not measured" not in chart.inner_text()
        expected = _expected_figures(data_dir)
        # The plotted values are the stored means, read from the chart in the browser.
        plotted = chart.evaluate(
            "el => el.data.filter(t => t.mode === 'lines+markers')"
            ".map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))"
        )
        assert plotted, "no measured curve plotted"
        bands = expected["bands"]
        for trace in plotted:
            if trace["name"].endswith("run on past the budget"):  # the extension
                stored = bands[bands["phase"] == "baseline"]
                assert trace["x"][1:] == stored["labeled"].tolist(), trace["name"]
                continue
            stored = bands[(bands["label"] == trace["name"]) & (bands["phase"] == "active")]
            assert trace["x"] == stored["labeled"].tolist(), trace["name"]
            assert trace["y"] == pytest.approx(stored["mean"].tolist()), trace["name"]
        # The accuracy axis spans the drawn curves and the target line, not 0-100 %.
        axis = chart.evaluate("el => Array.from(el.layout.yaxis.range)")
        drawn = bands[bands["label"].isin([t["name"] for t in plotted])]
        assert_accuracy_axis(axis, drawn, expected["start"])
        # The target starts at the best median final accuracy, rounded down: the
        # accuracy that matters. Random got there only past the active budget (the
        # extension), or not at all: the page says which, word for word.
        target_input = page.get_by_label("Target accuracy (%)", exact=True)
        expect(target_input).to_have_value(str(round(expected["start"] * 100)))
        expect(page.get_by_text(expected["verdict"], exact=True)).to_be_visible()
        at_start = expected["headline"]
        random_row = expected["configs"][expected["configs"]["fraction"] == 0].iloc[0]
        assert random_row["extended_labeled"] > DEMO_BUDGET, "random was not run on"
        if at_start is not None:  # a saving with its spread, random's labels past 100
            assert at_start.random_labels > DEMO_BUDGET, at_start
            expect(page.get_by_text(expected["sentence"], exact=True)).to_be_visible()
            expect(page.get_by_test_id("stMetricValue")).to_have_text(at_start.claim)
        else:  # random did not get there in half its trials, even run on: said so
            expect(page.get_by_test_id("stMetric")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "3-overview-default-target.png", full_page=True)
        # Typed back to the preset's target (every trial reaches it) the headline
        # is there, its card's label and value those of the headline figure.
        target_input.fill(str(round(DEMO_TARGET * 100)))
        target_input.press("Enter")
        expected = _expected_figures(data_dir, DEMO_TARGET)
        best = expected["headline"]
        assert best is not None, expected["verdict"]
        expect(page.get_by_text(expected["sentence"], exact=True)).to_be_visible()
        # Labels needed across targets: every cell of the table, exactly.
        assert expected["savings"] is not None
        # The new target moved the slider to the best fraction there: wait for the
        # section of that configuration (the previous one's table may still be up).
        section = f"Labels needed across targets: {expected['savings_name']} vs random"
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
        savings_table = page.get_by_test_id("stTable").last
        want = expected["savings"].values.tolist()
        deadline = time.monotonic() + 30
        while True:  # the table is redrawn in place: read it until it settles
            cells = savings_table.evaluate(_TABLE_CELLS, len(expected["savings"].columns))
            if cells == want or time.monotonic() > deadline:
                break
            page.wait_for_timeout(500)
        assert cells == want
        card = page.get_by_test_id("stMetric")
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("stMetricLabel")).to_have_text(
            f"Labels saved vs random to reach {best.target:.0%} (best fraction)"
        )
        expect(card.get_by_test_id("stMetricValue")).to_have_text(best.claim)
        expect(page.get_by_text(expected["verdict"], exact=True)).to_be_visible()
        page.screenshot(path=ARTIFACTS / "3-overview-measured.png", full_page=True)
        page.get_by_text(expected["verdict"], exact=True).scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "3b-overview-verdict.png")

        slider = page.get_by_role("slider")
        before = slider.get_attribute("aria-valuenow")
        slider.focus()
        page.keyboard.press("Home")
        expect(slider).not_to_have_attribute("aria-valuenow", before or "")
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        legend = page.locator(".js-plotly-plot .legend").first
        expect(legend).to_contain_text("random (baseline)")
        expect(legend).not_to_contain_text("margin")
        page.screenshot(path=ARTIFACTS / "4-overview-slider-at-0.png", full_page=True)

        page.get_by_role("link", name="Results").click()
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        expect(page.get_by_test_id("stTable").first).to_be_visible()
        results_target = page.get_by_label("Target test accuracy (%)", exact=True)
        expect(results_target).to_have_value(str(round(expected["start"] * 100)))
        results_target.fill(str(round(DEMO_TARGET * 100)))
        results_target.press("Enter")
        # The verdict the store's numbers give, word for word (whatever it concludes).
        expect(page.get_by_text(expected["verdict"], exact=True)).to_be_visible()
        page.wait_for_timeout(1000)  # let the table's canvas paint
        page.screenshot(path=ARTIFACTS / "5-results.png", full_page=True)
        page.get_by_test_id("stTable").first.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / "5b-results-table.png")
        page.get_by_text("Every trial: status, labels to target").click()
        expect(page.get_by_text("Environment each trial ran in")).to_be_visible()
        page.wait_for_timeout(1000)
        page.screenshot(path=ARTIFACTS / "6-results-trials.png", full_page=True)
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download rounds (CSV)").click()
        download = download_info.value
        target = ARTIFACTS / "rounds.csv"
        download.save_as(target)

        # The report at this target, as a file: every figure the store's.
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download report").click()
        report_file = ARTIFACTS / "report.html"
        download_info.value.save_as(report_file)
        _check_report_offline(browser, report_file, expected)

        _check_presentation_view(browser, url, data_dir)

    with open(target, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        stored = store.experiment_rounds([experiment["id"]])
    assert experiment["status"] == "done"
    assert len(rows) == len(stored) > 0
    assert {"strategy", "fraction", "seed", "labeled", "test_accuracy"} <= set(rows[0])


def _check_report_offline(browser: Any, report_file: Path, expected: dict) -> None:
    """Open the downloaded report with every request but the file itself refused: it
    asks nothing of any host, draws its charts, and says the store's headline, verdict,
    savings table and per-configuration table, cell for cell."""
    from playwright.sync_api import expect

    from al_core.results import report

    requested: list[str] = []

    def offline(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        context.route("**/*", offline)
        page = context.new_page()
        page.goto(report_file.as_uri())
        # plotly.js is inlined: the charts draw with the network blocked.
        for chart in (report.CURVES_ID, report.SAVINGS_CHART_ID):
            expect(page.locator(f"#{chart} .scatterlayer .trace").first).to_be_attached()
        expect(page.locator(f"#{report.HEADLINE_ID}")).to_have_text(expected["sentence"])
        expect(page.locator(f"#{report.VERDICT_ID}")).to_have_text(expected["verdict"])
        savings = page.locator(f"#{report.SAVINGS_TABLE_ID}")
        want = expected["savings"].astype(str).values.tolist()
        assert savings.evaluate(_TABLE_CELLS, len(expected["savings"].columns)) == want
        table = results.display_table(expected["configs"]).astype(str)
        cells = page.locator(f"#{report.CONFIG_TABLE_ID}").evaluate(_TABLE_CELLS, table.shape[1])
        assert cells == table.values.tolist()
        assert page.get_by_text("Preliminary").count() == 0
        page.screenshot(path=ARTIFACTS / "7-report-first-screen.png")
        page.screenshot(path=ARTIFACTS / "7-report.png", full_page=True)
    finally:
        context.close()
    outside = [u for u in requested if not u.startswith(("file:", "data:", "blob:"))]
    assert outside == [], f"the report asked other hosts: {outside}"
    assert requested[0] == report_file.as_uri()


def _check_presentation_view(browser: Any, url: str, data_dir: Path) -> None:
    """``?present=1`` at 1024×768: no sidebar and none of the controls a room does not
    need; the story's chart, slider and headline (or the verdict) on the first screen,
    the chart's accuracy axis spanning its curves."""
    from playwright.sync_api import expect

    expected = _expected_figures(data_dir)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{url}/?present=1")
        heading = page.get_by_role("heading", name="Does active learning save labels?")
        expect(heading).to_be_visible()
        chart = page.locator(".js-plotly-plot").first
        expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
        expect(page.get_by_role("slider")).to_be_visible()
        expect(page.get_by_test_id("stSidebar")).to_have_count(0)
        for control in ("Experiment", "Target accuracy (%)", "Show expected curves (not measured)"):
            expect(page.get_by_label(control, exact=True)).to_have_count(0)
        for button in ("Download report", "Run the demo again"):
            expect(page.get_by_role("button", name=button)).to_have_count(0)
        if expected["headline"] is not None:
            shown = page.get_by_test_id("stMetric")
            expect(shown.get_by_test_id("stMetricValue")).to_have_text(expected["headline"].claim)
        else:
            shown = page.get_by_text(expected["verdict"], exact=True)
            expect(shown).to_be_visible()
        page.wait_for_timeout(1000)  # let the chart settle before measuring and the picture
        for element in (chart, page.get_by_role("slider"), shown):
            box = element.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768, box
        plotted = chart.evaluate("el => el.data.map(t => t.name)")
        bands = expected["bands"]
        drawn = bands[bands["label"].isin(plotted)]
        axis = chart.evaluate("el => Array.from(el.layout.yaxis.range)")
        assert_accuracy_axis(axis, drawn, expected["start"])
        page.screenshot(path=ARTIFACTS / "8-presentation-1024x768.png")
        page.get_by_role("button", name="Leave the presentation view").click()
        expect(page.get_by_test_id("stSidebar")).to_be_visible()
    finally:
        page.close()


NAV_LINKS = ["Overview", "Experiments", "Results", "Label"]


def test_four_pages_from_pages_folder_and_nothing_fetched_from_outside(tmp_path: Path) -> None:
    """``st.navigation`` over ``pages/``: exactly four links on a fresh server's very
    first visit straight to a deep link (/label: Streamlit would serve the folder the
    legacy way until some session ran st.navigation; pages/__init__.py turns that
    off), then on the root and after a reload; the page icon is the bundled file and
    the browser asks nothing of any other host (no external font or favicon)."""
    from playwright.sync_api import expect

    require_browser()
    assert sorted(p.name for p in (REPO / "pages").glob("*.py")) == [
        "__init__.py", "experiments.py", "label.py", "overview.py", "results.py",
    ]  # fmt: skip
    assert not (REPO / "app_pages").exists()
    requested: list[str] = []
    with (
        streamlit_server(tmp_path, log_name="streamlit-pages.log") as app,
        chromium_page(1280, 900) as page,
    ):
        page.on("request", lambda request: requested.append(request.url))
        nav = page.get_by_test_id("stSidebarNav")
        for url, heading in [
            (f"{app.url}/label", "Label"),  # first visit of a fresh server: deep link
            (app.url, "Does active learning save labels?"),
            (None, "Does active learning save labels?"),  # reload
            (f"{app.url}/label", "Label"),  # deep link again
        ]:
            if url is None:
                page.reload()
            else:
                page.goto(url)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            links = nav.get_by_role("link")
            expect(links).to_have_count(len(NAV_LINKS))
            # Each link's text is its icon's ligature name, then its title.
            titles = [t.strip().splitlines()[-1] for t in links.all_inner_texts()]
            assert titles == NAV_LINKS
        expect(page.get_by_role("button", name="Create session")).to_be_visible()
        # client.toolbarMode = "viewer": no "Deploy" button (Streamlit Cloud) on
        # localhost, where "auto" would show it.
        expect(page.get_by_test_id("stMainMenu")).to_be_visible()
        expect(page.get_by_test_id("stAppDeployButton")).to_have_count(0)
        page.wait_for_timeout(1000)  # let the form's widgets replace their skeletons
        page.screenshot(path=ARTIFACTS / "pages-deep-link-label.png", full_page=True)
        icon = page.locator("link[rel='shortcut icon']").get_attribute("href") or ""
        assert icon.startswith(f"{app.url}/media/") and icon.endswith(".png"), icon
    outside = [u for u in requested if not u.startswith((app.url, "data:", "blob:"))]
    assert outside == [], f"requests to other hosts: {outside}"


def test_experiments_form_keeps_what_was_sent_across_pages(tmp_path: Path) -> None:
    """Values sent with Launch (here refused for a bad fraction) are still in the form
    after a visit to another page, so a person fixes one field instead of retyping all."""
    from playwright.sync_api import expect

    with (
        streamlit_server(tmp_path, log_name="streamlit-form-kept.log") as app,
        chromium_page(1280, 1400) as page,
    ):
        page.goto(f"{app.url}/experiments")
        name = page.get_by_label("Name (optional)")
        batch = page.get_by_label("Batch size (labels per round)")
        fractions = page.get_by_label("Uncertainty fractions (0 = random, 1 = all by")
        name.fill("kept")
        batch.fill("25")
        fractions.fill("0, 1.2")
        page.get_by_role("button", name="Launch").click()
        expect(page.get_by_text("fraction 1.2 is outside [0, 1]")).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_role("link", name="Results").click()
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        nav.get_by_role("link", name="Experiments").click()
        expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
        expect(name).to_have_value("kept")
        expect(batch).to_have_value("25")
        expect(fractions).to_have_value("0, 1.2")
        page.screenshot(path=ARTIFACTS / "experiments-form-kept.png", full_page=True)
    with Store(tmp_path / "al.sqlite3") as store:
        assert store.experiments() == []
