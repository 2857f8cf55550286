"""The browser-test harness: a real ``streamlit run app.py`` on a loopback port and
Debian's headless Chromium driven through Playwright (no browser download).

Shared by the browser tests (``tests/test_*browser*.py`` and the others that open
Chromium) and the browser benchmarks (benchmarks/labeling_latency.py, label_wait.py,
first_look.py): :func:`streamlit_server` starts and stops a server, :func:`chromium`
launches a headless Chromium and :func:`chromium_page` opens a page in one, and
tests/conftest.py's ``label_server`` is one server that the Label page's browser
tests share. Logs and screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_or_skip

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("AL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


#: Streamlit's element containers that belong to the latest run: while a rerun draws,
#: the previous run's elements stay on the page marked ``data-stale="true"`` (one
#: text can then be on the page twice, old and new).
CURRENT = '[data-testid="stElementContainer"]:not([data-stale="true"])'


def require_browser() -> None:
    """Skip on a user's machine, fail in CI, when Playwright or Chromium is missing."""
    try:
        import playwright  # noqa: F401

        have_playwright = True
    except ImportError:
        have_playwright = False
    require_or_skip(have_playwright, "the playwright Python package")
    require_or_skip(Path(CHROMIUM).is_file() or bool(shutil.which(CHROMIUM)), "Chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    from playwright.sync_api import expect

    # Playwright's 5 s default for web-first assertions is less than a cold Streamlit
    # page can take to draw on 2 busy cores; what is asserted does not change.
    expect.set_options(timeout=30_000)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until Streamlit answers ``/_stcore/health`` with ``ok``; fail if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "streamlit exited; see its log under test-artifacts/"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {timeout:.0f} s")


class StreamlitServer:
    """``streamlit run app.py`` on one loopback port over one data folder; restartable.

    ``env`` adds environment variables (e.g. ``AL_DEMO_OVERRIDES``); the server's
    output is appended to ``test-artifacts/<log_name>``; ``port``: a free one unless
    given (a restart of a server at the same address). ``script``: ``app.py``, or
    ``asgi.py`` as ``python -m al_core.serve`` starts it.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        log_name: str,
        script: str = "app.py",
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.script = script
        self.env = dict(env or {})
        self.log_path = ARTIFACTS / log_name
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.env, "AL_DATA_DIR": str(self.data_dir)}
        command = [
            sys.executable, "-m", "streamlit", "run", self.script,
            "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={self.port}",
            "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
        ]  # fmt: skip
        self.log_path.parent.mkdir(exist_ok=True)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        wait_healthy(self.url, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def streamlit_server(
    data_dir: Path,
    *,
    log_name: str,
    env: Mapping[str, str] | None = None,
    script: str = "app.py",
    fresh_log: bool = False,
) -> Iterator[StreamlitServer]:
    """A started :class:`StreamlitServer` over ``data_dir``, stopped on leaving.

    Skips (fails in CI) without Playwright or Chromium, like :func:`require_browser`.
    ``fresh_log``: delete ``test-artifacts/<log_name>`` first, so the log holds this
    server's output only.
    """
    require_browser()
    server = StreamlitServer(data_dir, env=env, log_name=log_name, script=script)
    if fresh_log:
        server.log_path.unlink(missing_ok=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A freshly launched headless Chromium (Debian's, :data:`CHROMIUM`, through
    Playwright), closed on leaving; skips (fails in CI) without either."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(
    width: int = 1280, height: int = 1100, *, timeout_ms: float = 30_000, **options: Any
) -> Iterator[Any]:
    """A ``width`` x ``height`` page in a fresh :func:`chromium`, closed on leaving.

    ``timeout_ms`` is the page's default for actions and locators; ``options`` go to
    ``browser.new_page`` (e.g. ``accept_downloads=True``). ``page.context.browser`` is
    the browser, for more contexts or pages.
    """
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, **options)
        page.set_default_timeout(timeout_ms)
        yield page


def assert_accuracy_axis(axis: list[float], bands: Any, target: float | None) -> None:
    """The chart's accuracy axis ``[low, high]`` spans the drawn curves (``bands``: the
    plotted rows of :func:`al_core.results.curve_bands`, their ±1 std band within the
    budget, the random baseline's mean past it) and the target line, with no more
    than :func:`al_core.charts.accuracy_range`'s margin: not 0–100 %."""
    from al_core import charts

    within = bands[bands["phase"] != "baseline"]
    past = bands[bands["phase"] == "baseline"]["mean"]
    values = [*within["lower"], *within["upper"], *past]
    if target is not None:
        values.append(target)
    bottom, top = min(values), max(values)
    low, high = axis
    assert low <= max(bottom, 0.0) and high >= min(top, 1.02), (axis, bottom, top)
    span = max(top - bottom, charts.MIN_ACCURACY_SPAN)
    assert high - low <= span * (1 + 2 * charts.ACCURACY_PAD) + 1e-9, (axis, bottom, top)
    assert (low, high) != (0.0, 1.02)
