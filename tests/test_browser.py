"""The app in a real browser: ``streamlit run app.py`` on a loopback port, driven by
Debian's headless Chromium through Playwright (no browser download).

Opens the overview on an empty store, launches the demo (kept small through
``AL_DEMO_OVERRIDES``), watches progress advance and measured points appear,
moves the slider, then opens Results and downloads the rounds CSV. Screenshots,
the server log and the CSV are kept under ``test-artifacts/`` (git-ignored).
In CI a missing Chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from al_core.store import Store
from tests.app_helpers import stop_background_work
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, StreamlitServer, require_browser

DEMO_OVERRIDES = {
    "rounds": 3,
    "epochs": 10,
    "learning_rate": 0.05,
    "model": "softmax",
    "fractions": [0, 0.5, 1],
    "trials": 2,
}
DEMO_TIMEOUT_S = 240


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real Streamlit server on a free loopback port over an empty data folder."""
    require_browser()
    app = StreamlitServer(
        tmp_path, env={"AL_DEMO_OVERRIDES": json.dumps(DEMO_OVERRIDES)}, log_name="streamlit.log"
    )
    (ARTIFACTS / "streamlit.log").unlink(missing_ok=True)
    try:
        app.start()
        yield app.url, tmp_path
    finally:
        app.stop()
        stop_background_work(tmp_path / "al.sqlite3")


def _experiment_status(data_dir: Path) -> str:
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
    return experiment["status"]


def _done_count(text: str) -> int | None:
    found = re.search(r"(\d+) of (\d+) trials done", text)
    return int(found.group(1)) if found else None


def test_demo_end_to_end_in_chromium(server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, data_dir = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(30_000)
        try:
            page.goto(url)
            expect(
                page.get_by_role("heading", name="Does active learning save labels?")
            ).to_be_visible()
            expect(page.get_by_text("Expected — not measured.")).to_be_visible()
            expect(page.locator(".js-plotly-plot").first).to_be_visible()
            page.screenshot(path=ARTIFACTS / "1-overview-empty.png", full_page=True)

            page.get_by_role("button", name="Run the demo experiment").click()
            progress = page.get_by_text(re.compile(r"\d+ of \d+ trials done"))
            expect(progress).to_be_visible(timeout=30_000)
            first = _done_count(progress.inner_text())
            # Progress advances while the background runner trains, with no reload.
            deadline = time.monotonic() + DEMO_TIMEOUT_S
            seen = [first]
            while time.monotonic() < deadline:
                if _experiment_status(data_dir) == "done" and not progress.count():
                    break  # finished, and the page dropped its progress bar
                if progress.count():
                    count = _done_count(progress.inner_text())
                    if count is not None and count != seen[-1]:
                        seen.append(count)
                        if len(seen) == 2:
                            page.screenshot(path=ARTIFACTS / "2-overview-running.png")
                time.sleep(1)
            else:
                pytest.fail(f"the demo did not finish in {DEMO_TIMEOUT_S} s; done counts {seen}")
            assert len(seen) >= 2 or first == 0, f"no progress seen: {seen}"

            chart = page.locator(".js-plotly-plot").first
            points = chart.locator(".scatterlayer .trace .points path")
            expect(points.first).to_be_attached()
            assert points.count() >= 2  # measured rounds drawn as markers
            assert "not measured" not in chart.inner_text()
            page.screenshot(path=ARTIFACTS / "3-overview-measured.png", full_page=True)

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
            expect(page.get_by_test_id("stDataFrame")).to_be_visible()
            verdict = page.get_by_text(re.compile(r"^(Best:|Active learning did NOT)"))
            expect(verdict).to_be_visible()
            page.wait_for_timeout(1000)  # let the table's canvas paint
            page.screenshot(path=ARTIFACTS / "5-results.png", full_page=True)
            with page.expect_download() as download_info:
                page.get_by_role("button", name="Download rounds (CSV)").click()
            download = download_info.value
            target = ARTIFACTS / "rounds.csv"
            download.save_as(target)
        finally:
            browser.close()

    with open(target, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
        stored = store.experiment_rounds([experiment["id"]])
    assert experiment["status"] == "done"
    assert len(rows) == len(stored) > 0
    assert {"strategy", "fraction", "seed", "labeled", "test_accuracy"} <= set(rows[0])
