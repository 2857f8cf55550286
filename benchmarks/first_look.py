"""The first look: a fresh server's empty Overview, time until its expected chart is drawn.

Target: at most 1 s from opening the page to the expected curves on the chart.

Each run starts a fresh Streamlit server (``streamlit run asgi.py``, as ``python -m
al_core.serve`` starts the app; ``--script app.py`` for the plain app) over an
empty data folder, waits until it answers its health
check, then has headless Chromium (Debian's, through Playwright) open the
Overview. Timed from ``page.goto`` to:

- the page: the story's heading on the screen;
- the chart: the expected curves drawn (both dotted traces of the Plotly chart in
  the page, read in the page on every animation frame).

``--floor`` times, the same way and in the same run, a bare Streamlit page holding only
the heading and a two-trace Plotly chart: what Streamlit and Plotly cost before any
of the app's own work.

Also printed: the page's own work for that view (a new store, the expected curves
from the kept anchor, the figure and its JSON) timed in a fresh process, the
server's share of the wait; the rest is the browser loading Streamlit's and
Plotly's JavaScript.

A fresh Chromium each run, so nothing is cached in the browser either: the first
visit ever. ``--returning`` times what a returning user sees after the app restarts:
a Chromium profile that opened the app once on an earlier server (its HTTP cache
kept, as a browser keeps it), opening a fresh server at the same address. The
expected curves' data anchor (a logistic-regression curve on the digits, ~4 s of
fits) is kept in ``al_core/expected_anchors.json`` (``python -m
al_core.expected_anchors``); ``--measure-anchor`` also times measuring it in a
fresh process, what the first view used to wait for.

Usage: .venv/bin/python -m benchmarks.first_look [--runs 5] [--returning] [--floor]
       [--measure-anchor]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0
#: True once the Plotly chart in the page holds both expected curves and has drawn them.
DRAWN = """() => {
  const chart = document.querySelector('.js-plotly-plot');
  if (!chart || !chart.data) return false;
  const expected = chart.data.filter((t) => (t.name || '').endsWith('not measured'));
  return expected.length >= 2
    && chart.querySelectorAll('.scatterlayer .trace').length >= expected.length;
}"""


def _time_first_look(page, url: str) -> dict[str, float]:
    """Open ``url`` in ``page``; seconds to the story's heading and to the drawn chart."""
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name="Does active learning save labels?").wait_for(timeout=60_000)
    heading = time.perf_counter() - start
    page.wait_for_function(DRAWN, polling="raf", timeout=60_000)
    return {"heading_s": heading, "chart_s": time.perf_counter() - start}


def one_run(log_name: str, script: str) -> dict[str, float]:
    """A fresh server and a fresh Chromium (nothing cached): the first visit ever."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    with tempfile.TemporaryDirectory() as folder:
        server = StreamlitServer(Path(folder), log_name=log_name, script=script)
        server.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                try:
                    return _time_first_look(page, server.url)
                finally:
                    browser.close()
        finally:
            server.stop()


def one_warm_run(log_name: str, script: str) -> dict[str, float]:
    """A fresh server and a browser that has opened the app before (its HTTP cache kept).

    What a returning user sees after the app restarts: a first server on the port is
    visited once with a persistent Chromium profile and stopped; a second, fresh server
    (a new process over a new empty data folder, same address) is then opened in that
    profile and timed. Nothing of the first server survives but the browser's cache.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, StreamlitServer

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            port = None
            for visit in ("earlier", "timed"):
                with tempfile.TemporaryDirectory() as folder:
                    log = log_name.replace(".log", f"-{visit}.log")
                    # The timed server at the earlier one's address: the cache applies.
                    server = StreamlitServer(Path(folder), log_name=log, script=script, port=port)
                    port = server.port
                    server.start()
                    try:
                        page = context.new_page()
                        run = _time_first_look(page, server.url)
                        page.close()
                    finally:
                        server.stop()
            return run
        finally:
            context.close()


ENGINE = """
import os, tempfile, time
os.environ["AL_DATA_DIR"] = tempfile.mkdtemp()
import plotly.io
from al_core import charts, results
from al_core.runner import PRESETS
from al_core.store import Store
start = time.perf_counter()
with Store() as store:
    store.experiments()
base = PRESETS["demo"].base.to_dict()
initial, batch, rounds = results.expected_plan(base)
frame = results.expected_frame(initial, batch, rounds, [0.0, 0.5], base=base)
figure = charts.curves_figure(None, frame, labeled_range=(initial, initial + batch * rounds))
plotly.io.to_json(figure)
print(time.perf_counter() - start)
"""


#: The floor: a Streamlit page holding only the story's heading and a two-trace Plotly
#: chart of "not measured" curves, nothing of the app. What Streamlit and Plotly cost
#: the first look on this machine before any of the app's own work.
FLOOR_SCRIPT = """
import plotly.graph_objects as go
import streamlit as st

st.title("Does active learning save labels?")
dotted = {"dash": "dot"}
st.plotly_chart(go.Figure([
    go.Scatter(x=[20, 60, 100], y=[0.6, 0.8, 0.9], name="a - not measured", line=dotted),
    go.Scatter(x=[20, 60, 100], y=[0.6, 0.85, 0.95], name="b - not measured", line=dotted),
]))
"""


def engine_seconds() -> float:
    """The empty Overview's own work in a fresh process, imports done: a new store, the
    expected curves (kept anchor), the figure and its JSON: the server's share."""
    done = subprocess.run(
        [sys.executable, "-c", ENGINE], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure_anchor() -> float:
    """Seconds to measure the demo's anchor in a fresh process (what the kept file saves)."""
    code = (
        "import time; from al_core import expected; from al_core.results import expected_plan;"
        "from al_core.runner import PRESETS; b = PRESETS['demo'].base.to_dict();"
        "t = time.perf_counter(); expected.anchor_for_config(b, *expected_plan(b));"
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh servers (5)")
    parser.add_argument("--script", default="asgi.py", choices=["asgi.py", "app.py"])
    parser.add_argument("--measure-anchor", action="store_true")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time a bare Streamlit page (heading and a Plotly chart) the same way",
    )
    parser.add_argument(
        "--returning",
        action="store_true",
        help="time a browser that opened the app before (its cache kept) on a fresh server",
    )
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    visit = one_warm_run if args.returning else one_run
    runs, floor = [], []
    with tempfile.TemporaryDirectory() as folder:
        floor_script = Path(folder) / "floor.py"
        floor_script.write_text(FLOOR_SCRIPT)
        for i in range(args.runs):  # the app and the floor taking turns: the same load
            runs.append(visit(f"first-look-{i}.log", args.script))
            if args.floor:
                floor.append(visit(f"first-look-floor-{i}.log", str(floor_script)))
    for i, run in enumerate(runs):
        print(f"run {i}: heading {run['heading_s']:.2f} s, expected chart {run['chart_s']:.2f} s")
    chart = statistics.median(r["chart_s"] for r in runs)
    heading = statistics.median(r["heading_s"] for r in runs)
    figures = {
        "browser": "returning (cache kept)" if args.returning else "fresh (nothing cached)",
        "runs": runs,
        "median_heading_s": heading,
        "median_chart_s": chart,
        "max_chart_s": max(r["chart_s"] for r in runs),
    }
    print(
        f"median over {len(runs)} fresh servers: heading {heading:.2f} s, expected chart "
        f"{chart:.2f} s (max {figures['max_chart_s']:.2f} s); target <= {TARGET_S:.0f} s: "
        + ("met" if chart <= TARGET_S else "NOT met")
    )
    if floor:
        figures["floor_runs"] = floor
        figures["floor_median_heading_s"] = statistics.median(r["heading_s"] for r in floor)
        figures["floor_median_chart_s"] = statistics.median(r["chart_s"] for r in floor)
        print(
            "the floor, a bare Streamlit page with a heading and a Plotly chart: heading "
            f"{figures['floor_median_heading_s']:.2f} s, "
            f"chart {figures['floor_median_chart_s']:.2f} s"
        )
    figures["engine_s"] = engine_seconds()
    print(
        f"the page's own work (store, expected curves, figure; fresh process): "
        f"{figures['engine_s']:.3f} s"
    )
    if args.measure_anchor:
        figures["anchor_measured_s"] = measure_anchor()
        took = figures["anchor_measured_s"]
        print(f"measuring the anchor instead, in a fresh process: {took:.2f} s")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0 if chart <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
