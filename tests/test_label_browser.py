"""The Label page in real headless Chromium against a real Streamlit server
(the harness in tests/browser.py; the server is tests/conftest.py's ``label_server``,
shared by the Label page's browser tests): label a batch with keyboard shortcuts,
reload the page and find the labels, then stop and restart the server and find
the session intact. In CI a missing Chromium or Playwright fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from al_core import labeling
from al_core.store import Store
from tests.browser import ARTIFACTS, CURRENT, StreamlitServer, chromium_page

BATCH = 5


def prepared_session(
    data_dir: Path, batch: int = BATCH, *, pipeline: bool = False
) -> tuple[int, list[str]]:
    """A digits session whose first batch is queried (by the worker's code, here);
    by default not pipelined, so the next batch is asked for when one is finished."""
    with Store(data_dir / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store,
            "browser",
            dataset="digits",
            batch=batch,
            epochs=5,
            min_steps=25,
            pipeline=pipeline,
        ).session_id
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        return session_id, store.latest_session_batch(session_id)["items"]


def test_label_with_keys_reload_and_restart(label_server: StreamlitServer) -> None:
    from playwright.sync_api import expect

    session_id, items = prepared_session(label_server.data_dir)
    with Store(label_server.data_dir / "al.sqlite3") as store:
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
    keys = [str(truth[int(item)]) for item in items]  # digits: key k labels class k
    page_url = f"{label_server.url}/label?session={session_id}"
    with chromium_page(1280, 1100) as page:
        page.goto(page_url)
        # Not the previous run's copy that a redraw leaves on the page for a moment.
        progress = page.locator(CURRENT).get_by_text(re.compile(r"Batch 1: \d of 5 answered"))
        # A fresh server's first page imports TensorFlow: more than 5 s when busy.
        expect(progress).to_have_text("Batch 1: 0 of 5 answered")
        expect(page.get_by_text(f"item {items[0]}", exact=True)).to_be_visible()
        page.screenshot(path=ARTIFACTS / "label-1-batch.png", full_page=True)
        # The digits' buttons read "0" … "9", each with its shortcut key beside it.
        for k in range(10):
            button = page.locator(f".st-key-class_{k} button")
            expect(button.get_by_test_id("stMarkdownContainer")).to_have_text(str(k))
            expect(button.locator("kbd")).to_have_text(str(k))
        for done, key in enumerate(keys[:-1], start=1):
            page.locator("body").press(key)
            expect(progress).to_have_text(f"Batch 1: {done} of 5 answered")
            expect(page.get_by_text(f"item {items[done]}", exact=True)).to_be_visible()
        page.locator("body").press("U")  # undo the fourth label …
        expect(progress).to_have_text("Batch 1: 3 of 5 answered")
        # The undone image is shown again once the undo's rerun has drawn the page;
        # a key pressed before that rerun settles can be lost (seen once in a
        # full-suite run), so wait for the image, as a person would look first.
        expect(page.get_by_text(f"item {items[3]}", exact=True)).to_be_visible()
        page.wait_for_timeout(500)
        page.locator("body").press(keys[3])  # … and give it again
        expect(progress).to_have_text("Batch 1: 4 of 5 answered")

        page.reload()
        expect(progress).to_have_text("Batch 1: 4 of 5 answered")
        expect(page.get_by_text(f"item {items[4]}", exact=True)).to_be_visible()
        page.locator("body").press(keys[4])
        expect(page.get_by_text("Batch done")).to_be_visible()
        # The worker retrains in the background and the next batch appears by itself.
        expect(page.get_by_text("Batch 2: 0 of 5 answered")).to_be_visible(timeout=150_000)
        page.screenshot(path=ARTIFACTS / "label-2-next-batch.png", full_page=True)

        label_server.stop()
        label_server.start()
        page.goto(page_url)
        # A fresh server's first run also loads the app's modules: allow for a busy machine.
        expect(page.get_by_text("Batch 2: 0 of 5 answered")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"5 labels, 0 not sure"))).to_be_visible()
        page.screenshot(path=ARTIFACTS / "label-3-after-restart.png", full_page=True)
    with Store(label_server.data_dir / "al.sqlite3") as store:
        stored = {r["item"]: r["label"] for r in store.labels(session_id)}
        curve = store.session_rounds(session_id)
    assert stored == {item: int(truth[int(item)]) for item in items}
    assert [point["labeled"] for point in curve] == [5]
