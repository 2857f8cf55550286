"""Seconds waited for the next image per 100 labels, in real headless Chromium (issue 20).

A real Streamlit server (``streamlit run app.py``) serves the Label page of a new
built-in session (digits or MNIST, the page's defaults: ``mlp``, least
confidence, batches of 10, cluster-diverse cold start, 1,000 test images). One or
two annotators (one Chromium each, two browser contexts' worth of separate
processes, each named in the address) answer ``--labels`` images in all by the
hidden truth, pressing the class's key ``--think`` seconds after the image is
shown (a person looking at it; if the page shows another image by then, e.g. a
second opinion replaced by a new batch's image, they look at that one instead).
The first batch is queried by the session's real ``label-worker`` process before
the clock starts (as the page's "Create session" does, which leaves that worker
up and warm); every later batch comes from it.

What is measured, per answer: the time from the key press until the next image's
caption is on the page *and* its image has loaded (checked on every animation
frame). That is the page's normal redraw plus any wait for a batch. *Waited*:
for each answer after which the page showed no image to answer ("Batch done",
or "Your next image appears here" while the rest is with the other annotator;
watched on the same frames), its time minus the median of all answers' times in
that run (the normal redraw: most answers wait for nothing); reported per 100
labels. Beside it: the same excess of the answers that did not wait (slower
redraws: a busy machine, a rerun of the whole page) and the raw total.

The same runs are made with the session's ``pipeline`` switch off (today's
behaviour before issue 20: the next batch is asked for only when a batch is
finished) with ``--compare``. *Accuracy after 100 labels*: the session's first 100
labels (in the order given) trained on in this process exactly as the worker
trains (the session's config through :class:`al_core.loop.ActiveLearner`),
evaluated on the session's test split; so both arms differ only in which images
were asked.

``--accuracy-seeds 0 1 2``: instead, the accuracy after 100 labels with the pipeline
on and off over several seeds, in process (:func:`accuracy_in_process`).

Usage: .venv/bin/python -m benchmarks.label_wait [--datasets digits mnist]
       [--annotators 1 2] [--labels 100] [--think 1.0] [--compare] [--out FILE]
       [--accuracy-seeds 0 1 2 3 4]
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
  // A wait for a batch: the page says so instead of showing an image.
  for (const node of document.querySelectorAll('[data-testid="stAlert"]')) {
    const text = node.textContent;
    if (text.includes("Batch done") || text.includes("Your next image appears here")) {
      window.__alWaited = true;
    }
  }
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


class _Tally:
    """Answers given by all the annotators of one run, shared by their threads."""

    def __init__(self, labels: int, annotators: int) -> None:
        self.labels, self.given, self.lock = labels, 0, threading.Lock()
        self.annotators, self.finished = annotators, 0

    def take(self) -> bool:
        """Whether one more measured answer is wanted (and counts it)."""
        with self.lock:
            if self.given >= self.labels:
                return False
            self.given += 1
            return True

    def finish(self) -> None:
        """This annotator has given its last measured answer."""
        with self.lock:
            self.finished += 1

    def all_finished(self) -> bool:
        with self.lock:
            return self.finished >= self.annotators


def _annotate(
    url: str, name: str | None, truth: np.ndarray, tally: _Tally, think: float, out: dict
) -> None:
    """One person: answer images by the truth until the run's annotators together have
    given ``tally.labels`` measured answers, recording each one's delay; then go on
    answering, unmeasured, until every annotator is done. Nobody stops while the
    others may wait for the image they hold (a claim outlives a closed browser by 2
    minutes: the first version of this benchmark stopped each annotator after its
    half and measured that as a 2-minute wait)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    delays: list[float] = []
    waited: list[bool] = []

    def shown_after(page: Any, last: str, measured: bool) -> str | None:
        """The next image's caption; None when unmeasured and everyone is done."""
        while True:
            try:
                return page.wait_for_function(
                    SHOWN, arg=[last], polling="raf", timeout=300_000 if measured else 1000
                ).json_value()
            except PlaywrightTimeout:
                if measured:
                    raise
                if tally.all_finished():
                    return None

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(300_000)
        try:
            page.goto(url + (f"&annotator={name}" if name else ""))
            page.wait_for_function("() => window.__alLabelKeys && window.__alLabelKeys.listening")
            caption: str | None = shown_after(page, "", True)
            finished = False
            while True:
                measured = tally.take()
                if not measured and not finished:
                    tally.finish()
                    finished = True
                if not measured and tally.all_finished():
                    break
                while True:  # look, think, and look again: the page may have moved on
                    page.wait_for_timeout(think * 1000)
                    now = page.evaluate(SHOWN, [""])
                    if now == caption:
                        break
                    caption = now or shown_after(page, "", measured)
                    if caption is None:
                        break
                if caption is None:
                    break
                item = int(ITEM.match(caption).group(1))
                page.evaluate("() => { window.__alWaited = false; }")
                start = time.perf_counter()
                page.keyboard.press(str(int(truth[item])))
                caption = shown_after(page, caption, measured)
                if measured:
                    delays.append(time.perf_counter() - start)
                    waited.append(bool(page.evaluate("() => window.__alWaited")))
                elif caption is None:
                    break
        finally:
            browser.close()
    out[name or "anonymous"] = list(zip(delays, waited, strict=True))


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
        # As the page's "Create session" does: the session's worker queries the first
        # batch (and stays up, warm, for the retrains).
        labeling.request_retrain(store, session_id)
        deadline = time.monotonic() + 300
        while store.latest_session_batch(session_id) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the worker wrote no first batch in 300 s")
            time.sleep(0.2)
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
    names = [None] if annotators == 1 else [f"annotator{i + 1}" for i in range(annotators)]
    tally = _Tally(labels, annotators)
    out: dict[str, list[float]] = {}
    url = f"{server_url}/label?session={session_id}"
    start = time.monotonic()
    threads = [
        threading.Thread(target=_annotate, args=(url, n, truth, tally, think, out)) for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    samples = [s for n in out.values() for s in n]
    delays = [d for d, _ in samples]
    if len(delays) != labels:
        raise RuntimeError(f"an annotator stopped early: {[len(v) for v in out.values()]}")
    redraw = statistics.median(delays)
    jitter = sum(max(0.0, d - redraw) for d, w in samples if not w)
    waited = sum(max(0.0, d - redraw) for d, w in samples if w)
    labeling.stop_workers()
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
        "waits": sum(w for _, w in samples),
        "slow_redraws_per_100_s": round(jitter * per_100, 2),
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


def accuracy_in_process(dataset: str, seed: int, pipeline: bool, pace: float) -> float:
    """Accuracy after 100 labels of a session answered by the truth in this process,
    through the page's calls (``next_item``, ``answer`` with ``pace`` seconds each),
    the worker's job run whenever the page would request it, after the page has
    handed out the next image: the queried images of the pipelined rule, without
    the browser (for several seeds)."""
    from al_core import labeling
    from al_core.store import Store

    folder = Path(tempfile.mkdtemp(prefix="label-wait-acc-"))
    with Store(folder / "al.sqlite3") as store:
        sid = labeling.create_session(
            store, "accuracy", dataset=dataset, test_size=1000, seed=seed, pipeline=pipeline
        ).session_id
        worker = labeling.SessionWorker(sid)

        def retrain() -> None:
            store.request_session_job(sid, "train")
            labeling.process_jobs(store, sid, worker)

        retrain()
        truth = np.load(labeling.session_dir(store, sid) / "truth.npy")
        while len(store.labels(sid)) < 100:
            assignment = labeling.next_item(store, sid)
            if assignment is None:  # nothing prepared: the person would wait here
                retrain()
                continue
            item = assignment.item
            result = labeling.answer(store, sid, item, int(truth[int(item)]), seconds=pace)
            if result.batch_finished or result.prepare_next:
                # The page hands out the next image (claimed) while the worker retrains:
                # a refill of a prepared batch cannot replace that one.
                labeling.next_item(store, sid)
                retrain()
        return _accuracy_after(store, sid, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    parser.add_argument("--annotators", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--labels", type=int, default=100, help="labels per run, in all (100)")
    parser.add_argument("--think", type=float, default=1.0, help="seconds before each key (1)")
    parser.add_argument("--compare", action="store_true", help="also run with pipeline off")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--accuracy-seeds", nargs="+", type=int,
        help="instead: accuracy after 100 labels in process, pipeline on vs off, these seeds",
    )  # fmt: skip
    args = parser.parse_args()
    if args.accuracy_seeds:
        rows = []
        for dataset in args.datasets:
            for seed in args.accuracy_seeds:
                on, off = (
                    accuracy_in_process(dataset, seed, p, args.think + 0.2) for p in (True, False)
                )
                rows.append({"dataset": dataset, "seed": seed, "on": on, "off": off})
                print(f"{dataset:6s} seed {seed}: pipeline on {on:.1%}, off {off:.1%}", flush=True)
        for dataset in args.datasets:
            on = [r["on"] for r in rows if r["dataset"] == dataset]
            off = [r["off"] for r in rows if r["dataset"] == dataset]
            print(
                f"{dataset:6s} mean over {len(on)} seeds: on {statistics.mean(on):.1%}, off "
                f"{statistics.mean(off):.1%}; median on {statistics.median(on):.1%}, off "
                f"{statistics.median(off):.1%}"
            )
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(rows, indent=1))
        return

    from tests.browser import StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix="label-wait-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    os.environ["AL_LABEL_WORKER_IDLE_SECONDS"] = "120"
    server = StreamlitServer(folder, log_name="streamlit-label-wait.log")
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
                        f" s per 100 labels ({result['waits']} waits; slower redraws "
                        f"{result['slow_redraws_per_100_s']:.2f} s; raw "
                        f"{result['raw_per_100_s']:.1f} s, median redraw "
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
