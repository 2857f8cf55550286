"""The lock, hardened (issue 28), in Chromium against a real server that listens
beyond loopback (``AL_HOST=0.0.0.0 ./scripts/app.sh``; the tests reach it on
127.0.0.1, the app decides "off loopback" from the address it listens on).

- A malformed cookie is no cookie: the prompt, no traceback, nothing in the log.
- Off loopback no visitor sees error details; the server's log keeps them.
- ``?token=`` never stays: not in the address bar (with or without a valid cookie),
  not behind Back, not in the ``Referer`` of any request.
- A session that has not unlocked cannot upload; ``/_stcore/metrics`` is closed.

Logic without a browser: tests/test_access_hardening.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from al_core import access
from tests.browser import ARTIFACTS, chromium, free_port, wait_healthy
from tests.test_server_config import _assert_app_open, _assert_only_the_prompt, _sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "Schlüssel-28 mit Leerzeichen"
SIGNATURE = "0" * 64
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Server:
    url: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``AL_HOST=0.0.0.0 AL_PASSWORD=… ./scripts/app.sh`` on a free port, one for the module."""
    from tests.browser import require_browser

    require_browser()
    data_dir = tmp_path_factory.mktemp("hardened-data")
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "access-hardening.log"
    env = {**os.environ, "AL_DATA_DIR": str(data_dir), "AL_PORT": str(port)}
    env.pop(access.GENERATED_ENV, None)
    env.update({"AL_HOST": "0.0.0.0", access.PASSWORD_ENV: PASSWORD})
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["./scripts/app.sh", "--server.fileWatcherType=none"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=120)
        yield Server(f"http://127.0.0.1:{port}", data_dir, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module: each test opens its own context (its own cookies)."""
    with chromium() as launched:
        yield launched


def _assert_no_error_details(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    html = page.content()
    for detail in ("Traceback", ".py", "ValueError", "OverflowError", 'File "'):
        assert detail not in html, detail


def test_a_malformed_cookie_gets_the_prompt_and_no_traceback(
    server: Server, browser: Browser
) -> None:
    """Issue times of Unicode digits and of 400 digits. (Chromium refuses to store a
    cookie over 4 kB, so the 5,000-digit one is tested on ``cookie_valid`` itself.)"""
    log_before = len(server.log())
    for issued in ("\u00b2", "9" * 400):
        value = f"{issued}.{SIGNATURE}"
        context = browser.new_context()
        context.add_cookies([{"name": access.COOKIE_NAME, "value": value, "url": server.url}])
        page = context.new_page()
        page.goto(f"{server.url}/results")
        _assert_only_the_prompt(page)
        page.wait_for_timeout(500)  # a script error would show by now
        _assert_no_error_details(page)
        assert {c["name"]: c["value"] for c in context.cookies()}[access.COOKIE_NAME] == value
        context.close()
    assert "Traceback" not in server.log()[log_before:]


def test_the_token_never_stays_in_the_address_history_or_referrers(
    server: Server, browser: Browser
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    seen: list[tuple[str, str]] = []  # (url, Referer) of every request
    page.on("request", lambda r: seen.append((r.url, r.headers.get("referer", ""))))
    token = urllib.parse.quote(PASSWORD)
    link = f"{server.url}/results?{access.TOKEN_PARAM}={token}"

    page.goto(link)  # a first visit with the printed link
    _assert_app_open(page)
    expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
    assert access.TOKEN_PARAM not in page.url and page.url.endswith("/results")
    later = seen[1:]  # the link itself was the first request
    assert len(later) > 5, seen
    leaks = [(u, r) for u, r in later if token in u or token in r or access.TOKEN_PARAM in r]
    assert leaks == [], leaks
    page.go_back()  # Back does not bring the token back
    assert access.TOKEN_PARAM not in page.url, page.url

    page = context.new_page()  # signed in (a valid cookie), the link again
    page.goto(link)
    _assert_app_open(page)
    expect(page).not_to_have_url(re.compile(access.TOKEN_PARAM))
    page.wait_for_timeout(1000)  # nothing puts it back
    assert access.TOKEN_PARAM not in page.url
    # The one-minute cookie that carried the token is gone once used.
    assert access.TOKEN_COOKIE not in {c["name"] for c in context.cookies()}
    context.close()


def _upload_statuses(page: Page, session_ids: list[str]) -> list[int]:
    """PUT one small file to Streamlit's upload endpoint for each candidate session id,
    from the page itself (its cookies, Streamlit's XSRF token); the HTTP statuses."""
    return page.evaluate(
        """async (ids) => {
            const xsrf = (document.cookie.match(/(?:^|; )_streamlit_xsrf=([^;]*)/) || [])[1];
            const statuses = [];
            for (const id of ids) {
                const form = new FormData();
                form.append("file", new Blob([new Uint8Array(4096)]), "probe.bin");
                const response = await fetch(`/_stcore/upload_file/${id}/probe-${statuses.length}`,
                    {method: "PUT", body: form, headers: {"X-Xsrftoken": xsrf || ""}});
                statuses.push(response.status);
            }
            return statuses;
        }""",
        session_ids,
    )


def test_a_locked_session_cannot_upload_and_metrics_are_closed(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    frames: list[bytes] = []

    def on_socket(socket: object) -> None:
        socket.on(  # type: ignore[attr-defined]
            "framereceived",
            lambda payload: frames.append(payload if isinstance(payload, bytes) else b""),
        )

    page.on("websocket", on_socket)
    page.goto(server.url)
    _assert_only_the_prompt(page)
    # The session's id travels to the browser in the first message (NewSession).
    candidates = sorted({m.decode() for frame in frames for m in UUID.findall(frame)})
    assert candidates, "no session id seen on the websocket"

    locked = _upload_statuses(page, candidates)
    assert set(locked) == {403}, locked

    _sign_in(page, PASSWORD)
    _assert_app_open(page)
    opened = _upload_statuses(page, candidates)  # the same session, now unlocked
    assert 204 in opened, opened  # the person with the password still uploads

    with pytest.raises(urllib.error.HTTPError) as closed:
        urllib.request.urlopen(f"{server.url}/_stcore/metrics", timeout=10)
    assert closed.value.code == 404
    with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=10) as response:
        assert response.read().strip() == b"ok"  # health probes still answer
    context.close()


def test_off_loopback_an_error_shows_no_details_the_log_keeps_them(
    server: Server, browser: Browser
) -> None:
    """A corrupt database: the signed-in visitor sees Streamlit's generic message, the
    server's log the exception with its traceback."""
    from playwright.sync_api import expect

    (server.data_dir / "al.sqlite3").write_bytes(b"not a database " * 300)
    page = browser.new_context().new_page()
    page.goto(server.url)
    _assert_only_the_prompt(page)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Open").click()
    shown = page.get_by_test_id("stException").first
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("This app has encountered an error")
    html = page.content()
    for detail in ("StoreError", "not a readable SQLite database", "al.sqlite3", "Traceback"):
        assert detail not in html, detail
    log = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", server.log()).split())  # rich's colours, wraps
    assert "StoreError:" in log and "is not a readable SQLite database" in log
    assert "Traceback (most recent call last)" in log
    page.context.close()  # the module's browser goes on to the next test


def test_without_the_launcher_the_gate_still_takes_the_token_out(
    tmp_path: Path, browser: Browser
) -> None:
    """``streamlit run app.py`` by hand (no HTTP guard): app.py itself takes the token
    out of the address bar on every path, a valid cookie's included, and out of the
    history entry (Back)."""
    from playwright.sync_api import expect

    port = free_port()
    log_path = ARTIFACTS / "access-hardening-by-hand.log"
    env = {**os.environ, "AL_DATA_DIR": str(tmp_path), access.PASSWORD_ENV: PASSWORD}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0",
        f"--server.port={port}", "--server.fileWatcherType=none", "--server.headless=true",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, timeout=120)
        link = f"{url}/results?{access.TOKEN_PARAM}={urllib.parse.quote(PASSWORD)}"
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/label")
        page.goto(link)  # a first visit with the link
        _assert_app_open(page)
        expect(page).not_to_have_url(re.compile(access.TOKEN_PARAM))
        page.go_back()
        expect(page).to_have_url(f"{url}/label")  # the entry before, not the link's
        page.goto(link)  # signed in: the cookie opens, the token leaves all the same
        _assert_app_open(page)
        expect(page).not_to_have_url(re.compile(access.TOKEN_PARAM))
        context.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
