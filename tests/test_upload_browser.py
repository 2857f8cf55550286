"""Your own images from the browser, in real headless Chromium against a real Streamlit
server (the harness in tests/browser.py): upload a zip of class folders on the
Experiments page, see its data check, launch a small sweep on it, find its curves on
Results; hostile uploads are refused on the same page with nothing written outside
the upload folder; deleting the set asks first and keeps the results.
Screenshots land in test-artifacts/upload-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from al_core.store import Store
from tests.app_helpers import stop_background_work
from tests.browser import ARTIFACTS, StreamlitServer, chromium_page, streamlit_server
from tests.upload_files import hostile_uploads, shapes_zip

SWEEP_TIMEOUT_S = 420
SET_NAME = "Shapes from my laptop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StreamlitServer]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    try:
        with streamlit_server(data_dir, log_name="streamlit-upload.log", fresh_log=True) as app:
            yield app
    finally:
        stop_background_work(data_dir / "al.sqlite3")


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` but the database's own (the monitor reads it),
    with size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.relative_to(folder).parts[0].startswith("al.sqlite3")
    }


def _upload(page, name: str, data: bytes, set_name: str) -> None:  # noqa: ANN001
    mime = "application/zip" if name.endswith(".zip") else "application/octet-stream"
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_text(name, exact=True).first.wait_for()
    page.get_by_label("Name of this data set", exact=True).fill(set_name)
    page.get_by_role("button", name="Upload and check").click()


def _number(page, label: str, value: str) -> None:  # noqa: ANN001
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")


def test_upload_check_sweep_results_and_hostile_uploads(server: StreamlitServer) -> None:
    from playwright.sync_api import expect

    data_dir = server.data_dir
    upload = shapes_zip(
        per_class=24,
        wrapper="shapes",
        extra={
            "shapes/discs/readme.txt": b"not an image",
            "shapes/bars/broken.png": b"\x89PNG\r\n\x1a\n broken",
        },
    )
    with chromium_page(1280, 1100) as page:
        page.goto(f"{server.url}/experiments")
        expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
        _upload(page, "shapes.zip", upload, SET_NAME)

        # The data check, at once: classes and counts, size and colour, test split,
        # samples, skipped files, the linear floor.
        expect(page.get_by_text(f"Uploaded {SET_NAME} (shapes.zip)")).to_be_visible()
        expect(page.get_by_text("Data check · 58 pool / 14 test images")).to_be_visible(
            timeout=60_000
        )
        page.get_by_text("Data check ·").scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.screenshot(path=ARTIFACTS / "upload-1a-check-top.png")
        main = page.get_by_test_id("stMain")
        expect(main).to_contain_text("16x16 pixels, the most frequent size")
        expect(main).to_contain_text("RGB (3 channels)")
        expect(main).to_contain_text("14 images drawn from the folder, stratified by class")
        expect(main).to_contain_text("The floor to clear")
        for name in ("bars", "columns", "discs"):
            expect(page.get_by_text(f"{name}: ", exact=False).first).to_be_visible()
        expect(page.get_by_test_id("stImage")).to_have_count(3)
        page.get_by_text("Skipped files (2), with the reason").click()
        expect(main).to_contain_text("discs/readme.txt: not an image Pillow can read")
        expect(main).to_contain_text("bars/broken.png")
        page.wait_for_timeout(1000)
        page.screenshot(path=ARTIFACTS / "upload-1-check.png", full_page=True)
        stored = data_dir / "datasets" / "shapes-from-my-laptop"
        assert (stored / "dataset.json").is_file()

        # Hostile uploads: refused with the reason, nothing written anywhere else.
        before = _files(data_dir)
        for name, data, words in hostile_uploads():
            _upload(page, name, data, f"hostile {name}")
            refusal = page.get_by_test_id("stAlertContentError").filter(
                has_text=f"Not uploaded ({name})"
            )
            expect(refusal).to_contain_text(words)
            if name == "huge.npz":
                page.screenshot(path=ARTIFACTS / "upload-2-refused.png", full_page=True)
        assert _files(data_dir) == before
        assert sorted(p.name for p in (data_dir / "datasets").iterdir()) == [stored.name]

        # A small sweep on it, launched from the form.
        dataset_box = page.get_by_role("combobox", name="Data set", exact=True)
        expect(dataset_box).to_have_value(f"{SET_NAME} (uploaded image folder)")
        page.get_by_label("Name (optional)", exact=True).fill("my shapes sweep")
        model_box = page.get_by_role("combobox", name="Model", exact=True)
        model_box.click()
        model_box.press_sequentially("softmax")
        model_box.press("Enter")
        expect(model_box).to_have_value("softmax")
        page.get_by_label("Uncertainty fractions (0 = random, 1 = all by uncertainty)").fill("0, 1")
        _number(page, "Trials (seeds) per configuration", "1")
        _number(page, "Initial labeled images", "10")
        _number(page, "Batch size (labels per round)", "10")
        _number(page, "Rounds (0 = until budget or pool ends)", "2")
        page.get_by_text("Random runs on past budget").click()
        page.get_by_text("Training, data and runner").click()
        _number(page, "Epochs per fit (empty: the model's default)", "5")
        _number(page, "Gradient steps per fit at least (empty: the model's default)", "50")
        _number(page, "Workers", "1")
        page.get_by_role("button", name="Launch").click()
        expect(page.get_by_text("queued; it runs in the background")).to_be_visible()
        with Store(data_dir / "al.sqlite3") as store:
            (experiment,) = store.experiments()
        source = f"folder:{stored.resolve()}/images/shapes"
        assert experiment["config"]["base"]["dataset"] == source
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while True:
            with Store(data_dir / "al.sqlite3") as store:
                status = store.experiment(experiment["id"])["status"]
            if status == "done":
                break
            assert status in ("queued", "running"), status
            assert time.monotonic() < deadline, f"the sweep did not finish: {status}"
            time.sleep(0.5)
        with Store(data_dir / "al.sqlite3") as store:
            rounds = store.experiment_rounds([experiment["id"]])
        assert {(r["fraction"], r["labeled"]) for r in rounds} >= {
            (0.0, 10),
            (0.0, 30),
            (1.0, 30),
        }

        page.get_by_role("link", name="Results").click()
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        expect(page.get_by_text("my shapes sweep (done)").first).to_be_visible()
        legend = page.locator(".js-plotly-plot .legend").first
        expect(legend).to_contain_text("random (baseline)")
        expect(legend).to_contain_text("margin")
        page.wait_for_timeout(1000)
        page.screenshot(path=ARTIFACTS / "upload-3-results.png", full_page=True)

        # Delete the set: asked first, then gone; the results stay.
        page.get_by_role("link", name="Experiments").click()
        page.get_by_role("button", name="Delete…").click()
        expect(page.get_by_text(f"Delete the data set {SET_NAME}?")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "upload-4-confirm-delete.png", full_page=True)
        assert stored.is_dir()  # nothing deleted before the confirmation
        page.get_by_role("button", name=f"Yes, delete {SET_NAME}").click()
        expect(page.get_by_text(f"Deleted the data set {SET_NAME}")).to_be_visible()
        assert not stored.exists()
        page.get_by_role("link", name="Results").click()
        expect(page.get_by_text("my shapes sweep (done)").first).to_be_visible()
        expect(page.locator(".js-plotly-plot .legend").first).to_contain_text("margin")
    with Store(data_dir / "al.sqlite3") as store:
        assert store.experiment_rounds([experiment["id"]]) == rounds
