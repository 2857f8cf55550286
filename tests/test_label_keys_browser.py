"""No key press is lost: in real headless Chromium against a real Streamlit server
(the harness in tests/browser.py), a burst of answer keys typed faster than the
Label page redraws (with an undo in the middle, and keys right after it) is
stored entirely, in order, against the right images (al_core.labeling.keys).
In CI a missing Chromium or Playwright fails the test.
"""

from __future__ import annotations

import time

import numpy as np

from al_core import labeling
from al_core.store import Store
from tests.browser import ARTIFACTS, StreamlitServer, chromium_page
from tests.test_label_browser import prepared_session

BATCH = 10


def test_a_burst_of_keys_faster_than_the_redraw_is_stored_in_order(
    label_server: StreamlitServer,
) -> None:
    from playwright.sync_api import expect

    session_id, items = prepared_session(label_server.data_dir, batch=BATCH)
    with Store(label_server.data_dir / "al.sqlite3") as store:
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
    answer = [str(int(truth[int(item)])) for item in items]
    wrong = str((int(answer[2]) + 1) % 10)
    # Items 0, 1, a wrong answer for item 2, undo it and give the right one, item 3,
    # skip item 4, not sure for item 5, items 6 to 8; item 9 stays open.
    burst = [answer[0], answer[1], wrong, "u", answer[2], answer[3], "s", "n", *answer[6:9]]
    with chromium_page(1280, 1100, timeout_ms=60_000) as page:
        page.goto(f"{label_server.url}/label?session={session_id}")
        expect(page.get_by_text(f"item {items[0]}", exact=True)).to_be_visible()
        expect(page.get_by_text(f"Batch 1: 0 of {BATCH} answered")).to_be_visible()
        page.wait_for_function("() => window.__alLabelKeys && window.__alLabelKeys.listening")
        start = time.perf_counter()
        for key in burst:
            page.keyboard.press(key)
        typed = time.perf_counter() - start
        # The whole burst is typed before the page has drawn its answer to the first key.
        assert page.get_by_text(f"Batch 1: {BATCH - 1} of {BATCH} answered").count() == 0
        expect(page.get_by_text(f"Batch 1: {BATCH - 1} of {BATCH} answered")).to_be_visible()
        expect(page.get_by_text(f"item {items[9]}", exact=True)).to_be_visible()
        page.screenshot(path=ARTIFACTS / "label-keys-burst.png", full_page=True)
    with Store(label_server.data_dir / "al.sqlite3") as store:
        rows = store.labels(session_id)
        skipped = [s["item"] for s in store.skips(session_id, 0)]
    expected = [(items[i], int(answer[i])) for i in (0, 1, 2, 3)]
    expected += [(items[5], labeling.NOT_SURE)] + [(items[i], int(answer[i])) for i in (6, 7, 8)]
    assert [(r["item"], r["label"]) for r in rows] == expected, f"burst typed in {typed:.2f} s"
    assert skipped == [items[4]]


#: Runs the keyboard queue's own script (pages._KEYS_JS) in the page, as Streamlit
#: would, with ``data``; what it sends is collected in ``window.sent``.
_MOUNT = """async ([js, data]) => {
  const url = URL.createObjectURL(new Blob([js], { type: "text/javascript" }));
  const component = (await import(url)).default;
  window.sent = window.sent || [];
  component({ data, setStateValue: (name, value) => window.sent.push(value) });
}"""


def test_a_key_right_after_a_redraw_is_for_the_image_on_the_screen() -> None:
    """The Label page draws the next image before its keyboard queue hears of it (a
    click, or Streamlit's own shortcut before the queue is mounted, redraws the page
    too). A key pressed in that moment is for the image on the screen. Found with
    benchmarks/labeling_latency.py: such a key was stamped with the image just
    answered, was not stored, and the labeler's page waited for nothing."""
    from pages import _KEYS_JS

    data = {"keys": ["4", "U"], "applied": 0, "epoch": "e1", "item": "476"}
    with chromium_page() as page:
        page.set_content(
            '<p data-testid="stImageCaption">item 389</p>'
            '<p data-testid="stImageCaption">item 7 (disputed)</p>'  # the review list's
        )
        page.evaluate(_MOUNT, [_KEYS_JS, data])  # its data still names the image before
        page.keyboard.press("4")
        page.keyboard.press("4")  # before the page redrew: the image held when applied
        first, second = page.evaluate("window.sent")
        assert first == [{"seq": 1, "key": "4", "item": "389"}]
        assert second[-1] == {"seq": 2, "key": "4", "item": None}
        # Nothing on the screen to label (an error in place of the image): the image
        # the drawing names.
        page.evaluate("document.body.innerHTML = ''")
        page.evaluate(_MOUNT, [_KEYS_JS, {**data, "applied": 2, "item": "12"}])
        page.keyboard.press("4")
        assert page.evaluate("window.sent")[-1] == [{"seq": 3, "key": "4", "item": "12"}]
