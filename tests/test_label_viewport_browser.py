"""The labeler's screen fits one screen (issue 29): at 1280 x 800, in real headless
Chromium against a real Streamlit server, the image, every class button, skip / not
sure / undo, the batch progress and "why this image" lie inside the viewport without
scrolling, for a digits session and for an uploaded 32 x 32 RGB set of 12 classes.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from al_core import labeling
from al_core.store import Store
from tests.browser import ARTIFACTS, CURRENT, StreamlitServer, chromium_page

WIDTH, HEIGHT = 1280, 800


def _rgb_zip(classes: int = 12, per_class: int = 6) -> bytes:
    """32 x 32 RGB PNGs, one folder per class, each class its own colour and noise."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k in range(classes):
            colour = rng.integers(0, 256, 3)
            for i in range(per_class):
                noise = rng.integers(-30, 30, (32, 32, 3))
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                png = io.BytesIO()
                Image.fromarray(pixels, "RGB").save(png, "PNG")
                archive.writestr(f"class{k:02d}/{i}.png", png.getvalue())
    return buffer.getvalue()


def _session(data_dir: Path, **source: object) -> tuple[int, int]:
    """A session whose first batch is queried here; (session id, classes)."""
    with Store(data_dir / "al.sqlite3") as store:
        created = labeling.create_session(
            store, "viewport", batch=5, epochs=5, min_steps=25, **source
        )
        session_id = created.session_id
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        return session_id, len(labeling.session_config(store, session_id).class_names)


def _inside(page, locator, what: str) -> None:  # noqa: ANN001 (Playwright objects)
    box = locator.bounding_box()
    assert box is not None, f"{what} is not drawn"
    assert box["y"] >= 0 and box["x"] >= 0, f"{what} starts off the screen: {box}"
    assert box["y"] + box["height"] <= HEIGHT, f"{what} ends below the fold: {box}"
    assert box["x"] + box["width"] <= WIDTH, f"{what} ends right of the screen: {box}"


def test_the_task_fits_1280_by_800(label_server: StreamlitServer) -> None:
    from playwright.sync_api import expect

    sessions = {
        "digits": _session(label_server.data_dir, dataset="digits"),
        "rgb12": _session(label_server.data_dir, upload=_rgb_zip(), image_size=(32, 32)),
    }
    with chromium_page(WIDTH, HEIGHT, timeout_ms=60_000) as page:
        for name, (session_id, classes) in sessions.items():
            page.goto(f"{label_server.url}/label?session={session_id}")
            progress = page.locator(CURRENT).get_by_text(re.compile(r"Batch 1: \d of 5 answered"))
            expect(progress).to_be_visible(timeout=120_000)
            image = page.locator(CURRENT).get_by_test_id("stImage").first
            expect(image).to_be_visible()
            page.wait_for_timeout(1000)  # the page settles (fonts, fragments)
            page.screenshot(path=ARTIFACTS / f"label-viewport-{name}.png")
            _inside(page, progress, "the batch progress")
            _inside(page, image, "the image")
            _inside(page, page.get_by_text("Why this image?"), "why this image")
            for k in range(classes):
                _inside(page, page.locator(f".st-key-class_{k} button"), f"class {k}")
            for label in ("Skip", "Not sure", "Undo"):
                named = re.compile(f"^{label}")
                button = page.locator(CURRENT).get_by_role("button", name=named)
                _inside(page, button.first, label)
