"""Two people label one built-in session (digits) at the same time, from two
Playwright browser contexts in real headless Chromium against a real Streamlit
server (the harness in tests/browser.py): each names themselves in the page, they
click through the batch side by side, the server is killed with SIGKILL half-way
and started again, and in the end

- no image is answered by both except the overlap share (every overlap image of
  the batch, and only those, has two answers);
- no image is lost: every image of the batch is answered, and every answer a page
  moved on from is stored (the kill included);
- the Cohen's kappa the page shows is scikit-learn's ``cohen_kappa_score`` on the
  stored answers, to the digit shown.

The test's own stand-in for the session's worker keeps the first batch the only
one (no retrain interleaves a second batch). In CI a missing Chromium or
Playwright fails the test.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
from sklearn.metrics import cohen_kappa_score

from al_core import labeling
from al_core.store import Store
from tests.browser import ARTIFACTS, StreamlitServer, chromium
from tests.test_label_browser import prepared_session

BATCH = 20
OVERLAP = 0.3
NAMES = ("Ann", "Bob")
ITEM = re.compile(r"^item \d+$")


def test_two_annotators_label_one_session_side_by_side(
    label_server: StreamlitServer,
) -> None:
    from playwright.sync_api import Page, expect

    data_dir = label_server.data_dir
    session_id, items = prepared_session(data_dir, batch=BATCH)
    # A stand-in worker ("label-worker" in its command line, so the app counts it as
    # alive): the finished batch's retrain stays queued and no second batch comes.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(900)", "label-worker"]
    )
    with Store(data_dir / "al.sqlite3") as store:
        labeling.set_overlap(store, session_id, OVERLAP)
        store.register_session_worker(session_id, stand_in.pid)
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
        seed = labeling.session_config(store, session_id).seed
    overlap = {i for i in items if labeling.is_overlap(seed, i, OVERLAP)}
    assert len(overlap) >= 3, "the batch has too few overlap images for this test"
    # Ann gives the true label; Bob too, except on every other overlap image.
    bob_differs = set(sorted(overlap, key=int)[::2])

    def label_of(name: str, item: str) -> int:
        true = int(truth[int(item)])
        return (true + 1) % 10 if name == "Bob" and item in bob_differs else true

    acknowledged: list[tuple[str, str, int]] = []
    seen_second_opinion: list[str] = []
    page_url = f"{label_server.url}/label?session={session_id}"

    def name_yourself(page: Page, name: str) -> None:
        page.goto(page_url)
        # The first run of a fresh server imports TensorFlow: slow on busy cores.
        expect(page.get_by_label("Your name")).to_be_visible(timeout=120_000)
        page.get_by_label("Your name").fill(name)
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_text(f"You label as {name}.")).to_be_visible()
        # Focus off the name box (in the sidebar): digit keys label.
        page.get_by_text(re.compile(r"Batch \d+: \d+ of \d+ answered")).first.click()

    def stored(name: str, item: str) -> bool:
        with Store(data_dir / "al.sqlite3") as store:
            return store.label_of(session_id, item, name) is not None

    def step(page: Page, name: str) -> bool:
        """Answer the image the page shows, if any; True when one was answered."""
        caption = page.get_by_text(ITEM)
        if caption.count() == 0:
            return False
        item = caption.first.inner_text().split()[1]
        label = label_of(name, item)
        # The digit's key labels it (as a person would type); a key pressed while the
        # page redraws can be lost (issue 20, item 4): then it is pressed again.
        for _ in range(3):
            page.locator("body").press(str(label))
            try:
                expect(page.get_by_text(f"item {item}", exact=True)).to_have_count(0, timeout=8000)
                break
            except AssertionError:
                if stored(name, item):  # taken: the page is slow to redraw (busy cores)
                    page.screenshot(path=ARTIFACTS / "label-team-slow-redraw.png")
                    expect(page.get_by_text(f"item {item}", exact=True)).to_have_count(
                        0, timeout=60_000
                    )
                    break
        else:
            raise AssertionError(f"{name}'s answer to item {item} was not taken in 3 presses")
        assert page.get_by_text(re.compile(r"your answer was not stored")).count() == 0
        acknowledged.append((name, item, label))
        if (
            name == "Bob"
            and not seen_second_opinion
            and page.get_by_text("Second opinion.").count()
        ):
            seen_second_opinion.append(item)
            page.screenshot(path=ARTIFACTS / "label-team-3-second-opinion.png", full_page=True)
        return True

    def nothing_left() -> bool:
        with Store(data_dir / "al.sqlite3") as store:
            batch = labeling.current_batch(store, session_id)
            return batch.finished and all(
                labeling.peek_item(store, session_id, n) is None for n in NAMES
            )

    with chromium() as browser:
        contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in NAMES]
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(30_000)
        try:
            for page, name in zip(pages, NAMES, strict=True):
                name_yourself(page, name)
            expect(pages[0].get_by_text(ITEM)).to_have_count(1)
            expect(pages[1].get_by_text(ITEM)).to_have_count(1)
            shown = [page.get_by_text(ITEM).first.inner_text() for page in pages]
            assert shown[0] != shown[1], "two annotators were shown the same image"
            pages[0].screenshot(path=ARTIFACTS / "label-team-1-ann.png", full_page=True)
            pages[1].screenshot(path=ARTIFACTS / "label-team-1-bob.png", full_page=True)

            killed = False
            deadline = time.monotonic() + 420
            while time.monotonic() < deadline:
                progressed = False
                for page, name in zip(pages, NAMES, strict=True):
                    progressed |= step(page, name)
                if not killed and len(acknowledged) >= BATCH // 2:
                    # SIGKILL: no shutdown at all. Every answer a page moved on from is kept.
                    with Store(data_dir / "al.sqlite3") as store:
                        before = {(r["annotator"], r["item"]) for r in store.labels(session_id)}
                    assert {(n, i) for n, i, _ in acknowledged} <= before
                    label_server.process.kill()
                    label_server.process.wait()
                    label_server.start()
                    for page, name in zip(pages, NAMES, strict=True):
                        page.goto(page.url)  # the address keeps the name: no need to retype
                        expect(page.get_by_text(f"You label as {name}.")).to_be_visible(
                            timeout=60_000
                        )
                    with Store(data_dir / "al.sqlite3") as store:
                        after = {(r["annotator"], r["item"]) for r in store.labels(session_id)}
                    assert before <= after
                    killed = True
                    continue
                if not progressed:
                    if nothing_left():
                        break
                    pages[0].wait_for_timeout(1000)
            else:
                raise AssertionError(f"labeling did not finish; answered {acknowledged}")
            assert killed

            with Store(data_dir / "al.sqlite3") as store:
                rows = store.labels(session_id)
            given: dict[str, dict[str, int]] = {n: {} for n in NAMES}
            for row in rows:
                given[row["annotator"]][row["item"]] = row["label"]
            twice = set(given["Ann"]) & set(given["Bob"])
            assert twice == overlap  # only the overlap share is answered by both
            assert set(given["Ann"]) | set(given["Bob"]) == set(items)  # none lost
            assert {(n, i, k) for n, i, k in acknowledged} <= {
                (r["annotator"], r["item"], r["label"]) for r in rows
            }
            assert len(rows) == len(items) + len(overlap)
            shared = sorted(twice, key=int)
            kappa = cohen_kappa_score(
                [given["Ann"][i] for i in shared], [given["Bob"][i] for i in shared]
            )
            agreed = sum(given["Ann"][i] == given["Bob"][i] for i in shared)

            page = pages[0]
            page.reload()
            headline = page.get_by_text(re.compile(r"^Raw agreement"))
            expect(headline).to_have_text(
                f"Raw agreement {agreed / len(shared):.1%}, Cohen's kappa {kappa:.3f} on "
                f"{len(shared)} images answered by two annotators (Not sure left out)."
            )
            expect(
                page.get_by_text(f"Review list ({len(shared) - agreed} disagreements)")
            ).to_be_visible()
            page.set_viewport_size({"width": 1280, "height": 2800})  # the page scrolls inside
            page.get_by_text("Team", exact=True).scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "label-team-2-agreement.png", full_page=True)
        finally:
            stand_in.kill()
            stand_in.wait()
