"""Many viewers, one computation: the demo's wall time and the server's answers with
0, 1, 5 and 10 people watching, and key → next for 1, 3 and 5 annotators (issue 33).

Targets (2 cores): the demo with 5 viewers within 15 % of the demo alone, with 10
within 30 %; the health endpoint's median answer ≤ 10 ms with 5 viewers; key → next
with 5 annotators within 1.5× of one annotator's.

**Viewers.** For each count, a fresh Streamlit server (``streamlit run asgi.py``, as
``python -m al_core.serve`` starts the app) over an empty data folder. One headless
Chromium page (Debian's, through Playwright) opens the Overview and clicks "Run the
demo experiment": the shipped ``demo`` preset, as shipped. That page stays open (it
is the presenter's); right after the click ``N`` more pages, each its own browser
session, open the Overview and stay on it (the room following a shared link).
Measured:

- the demo's wall time: from the click until the store says the experiment finished;
- the health endpoint (``/_stcore/health``), asked every 0.25 s throughout: median,
  95th percentile and worst answer time;
- a page's time to its chart: 30 s into the run one more page opens the Overview,
  timed from ``goto`` until its chart holds measured curves;
- CPU seconds over the run (psutil): the machine's, the server process's own and all
  Chromiums' (the room's browsers run on the server's 2 cores here, not on their own
  laptops: this split tells their share from the server's).

**Annotators.** A fresh server and a labeling session (``--dataset``: the embedded
digits, or MNIST with a 1,000-image test split; batches of 10, its first batch queried
beforehand). ``N`` annotators, each a Chromium page in its own thread
and browser, name themselves and label with the digit keys (the true digit), each
looking ``--think`` seconds at an image before its key (1 s, a quick person's pace;
``--think 0`` presses as fast as the page allows, a stress test); each finished batch
makes the session's worker retrain and query the next one in the background, as in
real use. A sample is the time from a key press until the page has moved on (the
image answered is gone and the next image or the "batch done / with others" note is
shown), on the page's own clock (benchmarks/labeling_latency.py: five Playwright
clients in one process would otherwise add their own waits); waits for the next
batch are not samples. ``--answers`` presses per annotator, the first 2 left out
(warm-up). Also measured: CPU seconds per key press of the server's process, of its
retraining workers and of the annotators' Chromiums (psutil), which tells the
server's share of the machine from the browsers'.

**Idle pages** (``--idle N``): what open pages cost while nothing changes. N Chromium
pages on a live Overview that does not change (the page tests' running demo, no runner),
CPU seconds per page per minute over 30 s (psutil), and the server's.

``--repo DIR`` serves another checkout of the app (e.g. a ``git worktree`` of the
commit before a change) with this script, for a before/after on the same machine.

Usage: .venv/bin/python -m benchmarks.viewers [--viewers 0 1 5 10] [--annotators 1 3 5]
       [--answers 15] [--think 1.0] [--dataset digits] [--idle 3] [--repo DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

#: True once the Overview's chart holds at least one measured (not expected) curve.
MEASURED_CHART = """() => {
  const chart = document.querySelector('.js-plotly-plot');
  if (!chart || !chart.data) return false;
  return chart.data.some((t) => !(t.name || '').endsWith('not measured')
    && (t.x || []).length > 0);
}"""
#: True once the page no longer shows image ``old`` and shows the next step.
MOVED_ON = """([old]) => {
  const captions = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .map((node) => node.textContent.trim());
  if (captions.includes(old)) return false;
  const text = document.body.innerText;
  const moved = captions.some((c) => /^item \\d+$/.test(c))
    || text.includes('Batch done') || text.includes('The rest of this batch is with');
  if (moved) window.__latency.shown = performance.now();  // the page's clock
  return moved;
}"""
CURRENT_ITEM = """() => {
  const c = [...document.querySelectorAll('[data-testid="stImageCaption"]')]
    .map((node) => node.textContent.trim()).find((t) => /^item \\d+$/.test(t));
  return c || null;
}"""


class HealthProbe(threading.Thread):
    """Asks ``url``/_stcore/health every ``every`` seconds until stopped; keeps the
    answer times (ms)."""

    def __init__(self, url: str, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.url, self.every = f"{url}/_stcore/health", every
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    answer.read()
                self.samples.append((time.perf_counter() - start) * 1000)
            except OSError:
                pass
            self.halt.wait(max(0.0, self.every - (time.perf_counter() - start)))

    def summary(self) -> dict[str, float]:
        s = np.array(self.samples)
        return {
            "health_p50_ms": float(np.median(s)),
            "health_p95_ms": float(np.percentile(s, 95)),
            "health_max_ms": float(s.max()),
            "health_samples": len(s),
        }


def _serve(server: Any, repo: Path | None) -> None:
    """Start ``server`` (tests.browser.StreamlitServer) in ``repo`` when given: the
    harness runs ``streamlit run`` in its module's ``REPO`` folder."""
    import tests.browser as harness

    kept = harness.REPO
    harness.REPO = repo.resolve() if repo is not None else kept
    try:
        server.start()
    finally:
        harness.REPO = kept


def _experiment_finished(db: Path) -> bool:
    from al_core.store import Store

    if not db.exists():
        return False
    with Store(db) as store:
        experiments = store.experiments()
    return bool(experiments) and experiments[0]["status"] not in ("queued", "running")


def demo_run(viewers: int, repo: Path | None) -> dict[str, Any]:
    """The shipped demo launched from the Overview with ``viewers`` more pages open."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix=f"viewers-{viewers}-"))
    server = StreamlitServer(folder, log_name=f"viewers-{viewers}.log", script="asgi.py")
    _serve(server, repo)
    probe = HealthProbe(server.url)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            presenter = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            presenter.set_default_timeout(120_000)
            presenter.goto(server.url)
            button = presenter.get_by_role("button", name="Run the demo experiment")
            button.wait_for()
            probe.start()
            assert server.process is not None
            server_before = _tree_cpu_seconds(server.process.pid)[0]
            chromium_cpu, machine_before = ChromiumCpu(), _machine_busy_seconds()
            chromium_cpu.start()
            start = time.perf_counter()
            button.click()
            presenter.wait_for_function(MEASURED_CHART, polling=500, timeout=300_000)
            room = []
            for _ in range(viewers):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.goto(server.url)
                room.append(page)
            chart_s = None
            while not _experiment_finished(folder / "al.sqlite3"):
                if chart_s is None and time.perf_counter() - start > 30:
                    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    opened = time.perf_counter()
                    page.goto(server.url)
                    page.wait_for_function(MEASURED_CHART, polling="raf", timeout=120_000)
                    chart_s = time.perf_counter() - opened
                    page.context.close()
                time.sleep(0.5)
            wall = time.perf_counter() - start
            machine = _machine_busy_seconds() - machine_before
            server_cpu = _tree_cpu_seconds(server.process.pid)[0] - server_before
            chromium = chromium_cpu.seconds()
            browser.close()
    finally:
        probe.halt.set()
        server.stop()
    return {
        "viewers": viewers,
        "demo_s": wall,
        "chart_s": chart_s,
        **probe.summary(),
        # CPU seconds over the demo: the whole machine's, the server process's own
        # (its pages and polls), every Chromium's (presenter, room and the 30 s page);
        # the rest is the training and this script.
        "machine_cpu_s": machine,
        "server_cpu_s": server_cpu,
        "chromium_cpu_s": chromium,
    }


def _machine_busy_seconds() -> float:
    """CPU seconds the machine spent busy since boot, all cores (psutil)."""
    import psutil

    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _process_seconds(match: str) -> dict[int, float]:
    """User + system CPU seconds of every process whose name or command line holds
    ``match``, by process id."""
    import psutil

    seconds = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            words = f"{process.info['name']} {' '.join(process.info['cmdline'] or [])}"
            if match in words:
                times = process.cpu_times()
                seconds[process.pid] = times.user + times.system
        except psutil.Error:
            continue
    return seconds


def _cpu_seconds(match: str) -> float:
    """:func:`_process_seconds` summed over the processes running now."""
    return sum(_process_seconds(match).values())


class ChromiumCpu(threading.Thread):
    """CPU seconds of every Chromium process from start to stop, read every 0.5 s and
    kept per process, so a browser closed before the end still counts (up to its last
    reading)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.halt = threading.Event()
        self.at_start = _process_seconds("chrom")
        self.last = dict(self.at_start)

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.last.update(_process_seconds("chrom"))

    def seconds(self) -> float:
        """Stop; the seconds used since the start (a process started since: all its own)."""
        self.halt.set()
        self.join()
        self.last.update(_process_seconds("chrom"))
        return sum(t - self.at_start.get(pid, 0.0) for pid, t in self.last.items())


def _tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU seconds of process ``pid`` itself and of its descendants alive
    now (the labeling session's worker processes stay until idle)."""
    import psutil

    def seconds(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    root = psutil.Process(pid)
    children = 0.0
    for child in root.children(recursive=True):
        try:
            children += seconds(child)
        except psutil.Error:
            continue
    return seconds(root), children


def idle_run(pages: int, repo: Path | None, seconds: float = 30.0) -> dict[str, Any]:
    """What open pages cost while nothing changes: ``pages`` Chromium pages on a live
    Overview (the page tests' running demo: 4 of 6 trials finished, one running, no
    runner, so nothing changes), CPU per page per minute over ``seconds``, and the
    server's."""
    from playwright.sync_api import sync_playwright

    from tests.app_helpers import store_running_demo
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix=f"idle-{pages}-"))
    store_running_demo(folder / "al.sqlite3")
    server = StreamlitServer(folder, log_name=f"idle-{pages}.log", script="asgi.py")
    _serve(server, repo)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(pages):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.goto(server.url)
                page.get_by_text("trials done").first.wait_for(timeout=60_000)
            time.sleep(5)  # the first drawings' follow-ups settle
            chromium, streamlit = _cpu_seconds("chrom"), _cpu_seconds("streamlit")
            time.sleep(seconds)
            chromium = _cpu_seconds("chrom") - chromium
            streamlit = _cpu_seconds("streamlit") - streamlit
            browser.close()
    finally:
        server.stop()
    per_minute = 60.0 / seconds
    return {
        "pages": pages,
        "chromium_cpu_s_per_page_minute": chromium * per_minute / pages,
        "server_cpu_s_per_minute": streamlit * per_minute,
    }


def _labeling_session(folder: Path, dataset: str) -> tuple[int, np.ndarray]:
    from al_core import labeling
    from al_core.store import Store

    with Store(folder / "al.sqlite3") as store:
        extra = {"test_size": 1000} if dataset == "mnist" else {}
        created = labeling.create_session(store, "viewers", dataset=dataset, batch=10, **extra)
        session_id = created.session_id
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
    return session_id, truth


def _annotate(
    url: str, name: str, truth: np.ndarray, answers: int, think: float, out: list
) -> None:
    from playwright.sync_api import sync_playwright

    from benchmarks.labeling_latency import PAGE_CLOCK
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(180_000)
        page.add_init_script(PAGE_CLOCK)
        page.goto(url)
        page.get_by_label("Your name").fill(name)
        page.get_by_role("button", name="Save name").click()
        page.get_by_text(f"You label as {name}.").wait_for()
        page.get_by_text("answered").first.click()  # focus off the name box
        samples: list[float] = []
        while len(samples) < answers:
            # The next image: at once, or after a batch is retrained and queried.
            handle = page.wait_for_function(CURRENT_ITEM, polling="raf", timeout=300_000)
            caption = handle.json_value()
            time.sleep(think)  # a person looks at the image before answering
            pressed = page.evaluate("() => window.__latency.keys.length")
            page.keyboard.press(str(truth[int(caption.split()[1])]))
            page.wait_for_function(MOVED_ON, arg=[caption], polling="raf", timeout=120_000)
            clock = page.evaluate("() => window.__latency")
            samples.append(clock["shown"] - clock["keys"][pressed])
        browser.close()
    out.append(samples)


def annotators_run(
    annotators: int, answers: int, repo: Path | None, dataset: str = "digits", think: float = 1.0
) -> dict[str, Any]:
    """``annotators`` people labeling one session at once (see the docstring)."""
    from tests.browser import StreamlitServer

    folder = Path(tempfile.mkdtemp(prefix=f"annotators-{annotators}-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    session_id, truth = _labeling_session(folder, dataset)
    server = StreamlitServer(folder, log_name=f"annotators-{annotators}.log", script="asgi.py")
    _serve(server, repo)
    url = f"{server.url}/label?session={session_id}"
    results: list[list[float]] = []
    try:
        assert server.process is not None
        server_before, workers_before = _tree_cpu_seconds(server.process.pid)
        chromium_cpu = ChromiumCpu()
        chromium_cpu.start()
        threads = [
            threading.Thread(target=_annotate, args=(url, f"A{i}", truth, answers, think, results))
            for i in range(annotators)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server_after, workers_after = _tree_cpu_seconds(server.process.pid)
        chromium = chromium_cpu.seconds()
    finally:
        server.stop()
    measured = [s for samples in results for s in samples[2:]]
    presses = sum(len(samples) for samples in results)
    return {
        "dataset": dataset,
        "annotators": annotators,
        "think_s": think,
        "key_next_p50_ms": statistics.median(measured),
        "key_next_p95_ms": float(np.percentile(measured, 95)),
        "samples": len(measured),
        "finished": len(results),
        # CPU seconds per key press: the server's own process, its retraining workers
        # and the annotators' Chromiums
        "server_cpu_s_per_press": (server_after - server_before) / presses,
        "workers_cpu_s_per_press": (workers_after - workers_before) / presses,
        "chromium_cpu_s_per_press": chromium / presses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="*", default=[0, 1, 5, 10])
    parser.add_argument("--annotators", type=int, nargs="*", default=[1, 3, 5])
    parser.add_argument("--answers", type=int, default=15, help="presses per annotator")
    parser.add_argument("--dataset", default="digits", help="the labeling session's: digits, mnist")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds each annotator looks at an image before its key (1.0; 0: a stress test)",
    )
    parser.add_argument("--repo", type=Path, help="serve this checkout of the app instead")
    parser.add_argument(
        "--idle", type=int, nargs="*", default=[], help="pages on an unchanging live Overview"
    )
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"viewers": [], "annotators": [], "idle": []}
    figures["load"] = [os.getloadavg()]
    for count in args.idle:
        run = idle_run(count, args.repo)
        figures["idle"].append(run)
        print(
            f"{count} idle page(s): Chromium {run['chromium_cpu_s_per_page_minute']:.2f} "
            f"CPU-s per page per minute, server {run['server_cpu_s_per_minute']:.2f} CPU-s "
            "per minute",
            flush=True,
        )
    for count in args.viewers:
        run = demo_run(count, args.repo)
        figures["viewers"].append(run)
        print(
            f"{count:2d} viewers: demo {run['demo_s']:.1f} s, health p50 "
            f"{run['health_p50_ms']:.1f} ms (p95 {run['health_p95_ms']:.0f}, max "
            f"{run['health_max_ms']:.0f}), new page's chart "
            f"{run['chart_s'] if run['chart_s'] is None else round(run['chart_s'], 2)} s; "
            f"CPU-s: machine {run['machine_cpu_s']:.0f}, server {run['server_cpu_s']:.0f}, "
            f"Chromiums {run['chromium_cpu_s']:.0f}",
            flush=True,
        )
    for count in args.annotators:
        run = annotators_run(count, args.answers, args.repo, args.dataset, args.think)
        figures["annotators"].append(run)
        print(
            f"{count} annotator(s), {args.dataset}, {args.think:g} s per image: key -> next p50 "
            f"{run['key_next_p50_ms']:.0f} ms (p95 {run['key_next_p95_ms']:.0f}, "
            f"{run['samples']} samples); CPU-s per press: server "
            f"{run['server_cpu_s_per_press']:.3f}, retraining "
            f"{run['workers_cpu_s_per_press']:.3f}, the annotators' Chromiums "
            f"{run['chromium_cpu_s_per_press']:.3f}",
            flush=True,
        )
    figures["load"].append(os.getloadavg())
    alone = next((r for r in figures["viewers"] if r["viewers"] == 0), None)
    for run in figures["viewers"]:
        if alone is not None and run is not alone:
            print(f"{run['viewers']} viewers: {run['demo_s'] / alone['demo_s'] - 1:+.0%} vs alone")
    one = next((r for r in figures["annotators"] if r["annotators"] == 1), None)
    for run in figures["annotators"]:
        if one is not None and run is not one:
            ratio = run["key_next_p50_ms"] / one["key_next_p50_ms"]
            print(f"{run['annotators']} annotators: {ratio:.2f}x one annotator's key -> next")
    print(f"load average {figures['load'][0]} -> {figures['load'][1]}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
