"""Click → next image shown on the Label page, in real headless Chromium.

Target: median at most 200 ms.

A real Streamlit server (``streamlit run app.py``) serves the Label page of a
session over MNIST (or the embedded digits with ``--dataset digits``) whose
second batch of ``--batch`` images is queried (the first one is labeled with the
hidden truth and the model retrained, so each image shows its uncertainty and
the model's top-3, as in real use). Chromium (Debian's, through
Playwright) presses the class's shortcut key for each image; a sample is the
time from the key press until the next item's caption is on the page *and* its
image has loaded (checked in the page on every animation frame). The last item
is not answered, so no retrain runs during the measurement. The first
``--warmup`` presses are left out (first-run imports and caches). Also printed:
the engine's share of a click (the same calls the page makes, timed in this
process on a second session of the same data set).

Usage: .venv/bin/python -m benchmarks.labeling_latency [--batch 40] [--dataset mnist]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_MS = 200.0
SHOWN = """([caption]) => {
  const label = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .find((node) => node.textContent.trim() === caption);
  let box = label;
  while (box && !box.querySelector('img')) box = box.parentElement;
  const img = box && box.querySelector('img');
  return Boolean(img && img.complete && img.naturalWidth > 0);
}"""


def _engine_per_click(folder: Path, dataset: str, batch: int) -> list[float]:
    """The page's own work per answer, without Streamlit: open the store, store the
    label, read the batch, load and upscale the next image (ms, on a second session)."""
    from al_core import labeling
    from al_core.store import Store

    with Store(folder / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, "engine", dataset=dataset, batch=batch, test_size=1000
        ).session_id
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        items = store.latest_session_batch(session_id)["items"]
    timings = []
    for item in items[:-1]:
        start = time.perf_counter()
        with Store(folder / "al.sqlite3") as store:
            labeling.answer(store, session_id, item, 0, seconds=1.0)
            batch = labeling.current_batch(store, session_id)
            labeling.item_image(store, session_id, batch.current.item)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=40, help="images in the batch (40)")
    parser.add_argument("--dataset", default="mnist", help="mnist (default) or digits")
    parser.add_argument("--warmup", type=int, default=3, help="presses left out (3)")
    parser.add_argument("--out", type=Path, help="write the samples as JSON here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from al_core import labeling
    from al_core.store import Store
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix="labeling-latency-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    with Store(folder / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, "latency", dataset=args.dataset, batch=args.batch, test_size=1000
        ).session_id
        worker = labeling.SessionWorker(session_id)
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, worker)  # the cold-start batch
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
        for item in store.latest_session_batch(session_id)["items"]:
            labeling.answer(store, session_id, item, int(truth[int(item)]))
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, worker)  # a queried batch, with top-3
        items = store.latest_session_batch(session_id)["items"]
    engine_ms = _engine_per_click(folder, args.dataset, args.batch)
    server = StreamlitServer(folder, log_name="streamlit-latency.log")
    load = os.getloadavg()
    server.start()
    samples = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(f"{server.url}/label?session={session_id}")
            page.wait_for_function(SHOWN, arg=[f"item {items[0]}"], polling="raf")
            for index, item in enumerate(items[:-1]):
                start = time.perf_counter()
                page.keyboard.press(str(truth[int(item)]))
                page.wait_for_function(SHOWN, arg=[f"item {items[index + 1]}"], polling="raf")
                samples.append((time.perf_counter() - start) * 1000)
            browser.close()
    finally:
        server.stop()
    measured = samples[args.warmup :]
    p95 = float(np.percentile(measured, 95))
    median = statistics.median(measured)
    print(
        f"click -> next image ({args.dataset}, {len(measured)} presses after {args.warmup} "
        f"warm-up): median {median:.0f} ms, p95 {p95:.0f} ms, min {min(measured):.0f} ms, "
        f"max {max(measured):.0f} ms"
    )
    print(
        f"of which the engine (store the label, read the batch, load the image): median "
        f"{statistics.median(engine_ms):.1f} ms over {len(engine_ms)} answers"
    )
    verdict = "meets" if median <= TARGET_MS else "MISSES"
    print(f"{verdict} the target of {TARGET_MS:.0f} ms; load average {load} -> {os.getloadavg()}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "samples_ms": samples,
                    "median_ms": median,
                    "p95_ms": p95,
                    "engine_ms": engine_ms,
                    "load": load,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
