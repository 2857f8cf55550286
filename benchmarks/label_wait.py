"""Seconds waited for the next image per 100 labels, in real headless Chromium (issue 20).

A real Streamlit server (``streamlit run app.py``) serves the Label page of a new
built-in session (digits or MNIST, the page's defaults: ``mlp``, least
confidence, batches of 10, cluster-diverse cold start, 1,000 test images). One or
two annotators (one Chromium each, two browser contexts' worth of separate
processes, each named in the address) answer ``--labels`` images in all by the
hidden truth, pressing the class's key ``--think`` seconds after the image is
shown (a person looking at it). The first batch is queried before the clock
starts; every later batch comes from the session's real ``label-worker`` process
started by the page, as in use.

What is measured, per answer: the time from the key press until the next image's
caption is on the page *and* its image has loaded (checked on every animation
frame). That is the page's normal redraw plus any wait for a batch. *Waited* is
the part above the normal redraw: each answer's time minus the median of all
answers' times in that run (most answers wait for nothing), counted when
positive; reported per 100 labels, with the raw total beside it.

The same runs are made with the session's ``pipeline`` switch off (today's
behaviour before issue 20: the next batch is asked for only when a batch is
finished) with ``--compare``. *Accuracy after 100 labels*: the session's first 100
labels (in the order given) trained on in this process exactly as the worker
trains (the session's config through :class:`al_core.loop.ActiveLearner`),
evaluated on the session's test split; so both arms differ only in which images
were asked.

Usage: .venv/bin/python -m benchmarks.label_wait [--datasets digits mnist]
       [--annotators 1 2] [--labels 100] [--think 1.0] [--compare] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

SHOWN = """([last]) => {
  for (const node of document.querySelectorAll('[data-testid="stImageCaption"]')) {
    const text = node.textContent.trim();
    if (!/^item \\d+$/.test(text) || text === last) continue;
    let box = node;
    while (box && !box.querySelector('img')) box = box.parentElement;
    const img = box && box.querySelector('img');
    if (img && img.complete && img.naturalWidth > 0) return text;
  }
  return false;
}"""
ITEM = re.compile(r"^item (\d+)$")


def _annotate(
    url: str, name: str | None, truth: np.ndarray, quota: int, think: float, out: dict
) -> None:
    """One person: answer ``quota`` images by the truth; record each answer's delay."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    delays: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(300_000)
        try:
            page.goto(url + (f"&annotator={name}" if name else ""))
            page.wait_for_function("() => window.__alLabelKeys && window.__alLabelKeys.listening")
            caption = page.wait_for_function(SHOWN, arg=[""], polling="raf").json_value()
            for _ in range(quota):
                item = int(ITEM.match(caption).group(1))
                page.wait_for_timeout(think * 1000)
                start = time.perf_counter()
                page.keyboard.press(str(int(truth[item])))
                caption = page.wait_for_function(SHOWN, arg=[caption], polling="raf").json_value()
                delays.append(time.perf_counter() - start)
        finally:
            browser.close()
    out[name or "anonymous"] = delays


def _accuracy_after(store: Any, session_id: int, n: int) -> float:
    """Test accuracy of the session's model trained on its first ``n`` labels."""
    from al_core import labeling
    from al_core.labeling.worker import _split_labels
    from al_core.loop import ActiveLearner

    config = labeling.session_config(store, session_id)
    worker = labeling.SessionWorker(session_id)
    pool = worker.pool(store, config)
    rows = sorted(store.labels(session_id), key=lambda r: r["id"])[:n]
    split = _split_labels(rows, False, [])
    dataset = worker._dataset(config, pool, split)
    learner = ActiveLearner(
        dataset, config.trial_config(), classifier=worker._classifier_for(config, dataset)
    )
    learner.teach(split.train, split.train_y, "human")
    learner.teach(split.aside, [labeling.NOT_SURE] * len(split.aside))
    return float(learner.train_and_evaluate()["test_accuracy"])


def run_one(
    folder: Path, server_url: str, dataset: str, annotators: int, labels: int, think: float,
    pipeline: bool,
) -> dict[str, Any]:  # fmt: skip
    """One session, one arm: the delays and the accuracy after 100 labels."""
    from al_core import labeling
    from al_core.store import Store

    with Store(folder / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, f"wait {dataset} x{annotators}", dataset=dataset, test_size=1000,
            pipeline=pipeline,
        ).session_id  # fmt: skip
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
    names = [None] if annotators == 1 else [f"annotator{i + 1}" for i in range(annotators)]
    quota = labels // annotators
    out: dict[str, list[float]] = {}
    url = f"{server_url}/label?session={session_id}"
    start = time.monotonic()
    threads = [
        threading.Thread(target=_annotate, args=(url, n, truth, quota, think, out)) for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    delays = [d for n in out.values() for d in n]
    if len(delays) != quota * annotators:
        raise RuntimeError(f"an annotator stopped early: {[len(v) for v in out.values()]}")
    redraw = statistics.median(delays)
    waited = sum(max(0.0, d - redraw) for d in delays)
    with Store(folder / "al.sqlite3") as store:
        accuracy = _accuracy_after(store, session_id, 100)
        rounds = store.session_rounds(session_id)
    per_100 = 100.0 / len(delays)
    return {
        "dataset": dataset,
        "annotators": annotators,
        "pipeline": pipeline,
        "labels": len(delays),
        "think_s": think,
        "wall_s": round(wall, 1),
        "median_redraw_s": round(redraw, 3),
        "waited_per_100_s": round(waited * per_100, 2),
        "raw_per_100_s": round(sum(delays) * per_100, 2),
        "max_delay_s": round(max(delays), 2),
        "accuracy_after_100": round(accuracy, 4),
        "retrains": len(rounds),
        "mean_retrain_s": round(
            statistics.mean((r["train_seconds"] or 0) + (r["score_seconds"] or 0) for r in rounds),
            2,
        )
        if rounds
        else None,
        "delays_s": [round(d, 3) for d in delays],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    parser.add_argument("--annotators", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--labels", type=int, default=100, help="labels per run, in all (100)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds before each key (1)")
    parser.add_argument("--compare", action="store_true", help="also run with pipeline off")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    from tests.browser import StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix="label-wait-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    server = StreamlitServer(
        folder, env={"AL_LABEL_WORKER_IDLE_SECONDS": "15"}, log_name="streamlit-label-wait.log"
    )
    server.start()
    results = []
    try:
        for dataset in args.datasets:
            for annotators in args.annotators:
                for pipeline in [True, False] if args.compare else [True]:
                    result = run_one(
                        folder, server.url, dataset, annotators, args.labels, args.think, pipeline
                    )
                    results.append(result)
                    print(
                        f"{dataset:6s} {annotators} annotator(s) pipeline "
                        f"{'on ' if pipeline else 'off'}: waited {result['waited_per_100_s']:6.2f}"
                        f" s per 100 labels (raw {result['raw_per_100_s']:.1f} s, median redraw "
                        f"{result['median_redraw_s'] * 1000:.0f} ms, max "
                        f"{result['max_delay_s']:.2f} s), accuracy after 100 labels "
                        f"{result['accuracy_after_100']:.1%}, {result['retrains']} retrains of "
                        f"{result['mean_retrain_s']} s, wall {result['wall_s']:.0f} s",
                        flush=True,
                    )
                    if args.out:
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        args.out.write_text(json.dumps(results, indent=1))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
