"""The app's server settings: ``./scripts/app.sh`` with the project's
``.streamlit/config.toml`` listens on 127.0.0.1 only, never looks up the machine's
external address, and accepts uploads up to the app's own limit.

Starts the real script (which starts the real Streamlit server) on a free port and
reads the listening sockets of that process from the kernel (psutil).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from al_core import access, uploads
from tests.browser import ARTIFACTS, chromium, free_port, require_browser, wait_healthy

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".streamlit" / "config.toml"


def _config() -> dict:
    with open(CONFIG, "rb") as handle:
        return tomllib.load(handle)


def test_config_listens_on_loopback_without_usage_stats_or_ip_lookup() -> None:
    config = _config()
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    # Streamlit asks a checkip service for the external address unless this is set.
    assert config["browser"]["serverAddress"] == "localhost"
    assert config["server"]["maxUploadSize"] == uploads.DEFAULT_MAX_UPLOAD_MB


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process (and its children) listens on."""
    process = psutil.Process(pid)
    found = []
    for proc in [process, *process.children(recursive=True)]:
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                found.append((conn.laddr.ip, conn.laddr.port))
    return found


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


@pytest.fixture
def app_sh(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """``./scripts/app.sh`` on a free port; ``AL_HOST`` from the test's parameter, if any.

    The parameter is the host, or a dict of environment variables (``AL_HOST``,
    ``AL_PASSWORD``, ...) to set. ``AL_PASSWORD`` is never inherited from the shell.
    """
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "app-sh.log"
    env = {**os.environ, "AL_DATA_DIR": str(tmp_path), "AL_PORT": str(port)}
    for name in ("AL_HOST", access.PASSWORD_ENV, access.GENERATED_ENV):
        env.pop(name, None)
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        env.update(param)
    elif param is not None:
        env["AL_HOST"] = param
    with open(log_path, "w") as log:
        # app.sh execs streamlit, so this pid is the server's.
        process = subprocess.Popen(
            ["./scripts/app.sh", "--server.fileWatcherType=none"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=120)
        yield process, port, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_app_sh_listens_on_127_0_0_1_only(
    app_sh: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, log_path = app_sh
    sockets = [s for s in _listening(process.pid) if s[1] == port]
    assert sockets == [("127.0.0.1", port)], sockets
    other = _other_address()
    if other is not None:  # the same port on the machine's network address is closed
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((other, port)) != 0, f"{other}:{port} accepted a connection"
    log = log_path.read_text()
    assert f"URL: http://localhost:{port}" in log
    assert "External URL" not in log and "external IP" not in log, log


@pytest.mark.parametrize("app_sh", ["0.0.0.0"], indirect=True)
def test_al_host_exposes_every_interface(
    app_sh: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, log_path = app_sh
    sockets = [s for s in _listening(process.pid) if s[1] == port]
    assert sockets == [("0.0.0.0", port)], sockets
    log = log_path.read_text()
    assert "it asks for a password" in log
    assert "External URL" not in log and "external IP" not in log, log


# The lock (al_core/access.py): off loopback the app shows only a password prompt.

PAGE_TITLES = ("Overview", "Experiments", "Results", "Label")


def _generated_password(log: str) -> str:
    """The one password the launcher printed (with its link), checked to appear once."""
    found = re.findall(r"Password: (\S+)", log)
    assert len(found) == 1, log
    (password,) = found
    # Printed once: the "Password:" line and the link, nowhere else in the log.
    assert log.count(password) == 2, log
    assert f"?{access.TOKEN_PARAM}={password}" in log
    return password


def _stored(data_dir: Path) -> list[str]:
    """Everything the app has stored under ``data_dir``, as SQL (empty: no database)."""
    db = data_dir / "al.sqlite3"
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return list(conn.iterdump())


def _assert_only_the_prompt(page: Page) -> None:
    """The password prompt and nothing of the app: no page, no navigation, no sidebar."""
    from playwright.sync_api import expect

    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Open")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    body = page.locator("section.stMain, [data-testid=stMain]").first.inner_text()
    for title in PAGE_TITLES:
        assert title not in body, body
    assert "Results database" not in page.content()


def _sign_in(page: Page, password: str) -> float:
    """Type ``password`` into the prompt and press Open; seconds until the answer shows."""
    from playwright.sync_api import expect

    page.get_by_label("Password", exact=True).fill(password)
    started = time.monotonic()
    page.get_by_role("button", name="Open").click()
    wrong = page.get_by_text("Wrong password.")
    opened = page.get_by_test_id("stSidebarNav")
    expect(wrong.or_(opened)).to_be_visible()
    return time.monotonic() - started


def _assert_app_open(page: Page) -> None:
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible()
    for title in PAGE_TITLES:
        expect(nav.get_by_text(title, exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)


@pytest.mark.parametrize("app_sh", [{"AL_HOST": "0.0.0.0"}], indirect=True)
def test_non_loopback_without_password_shows_only_the_prompt(
    app_sh: tuple[subprocess.Popen[bytes], int, Path], tmp_path: Path
) -> None:
    require_browser()
    from playwright.sync_api import expect

    process, port, log_path = app_sh
    log = log_path.read_text()
    password = _generated_password(log)
    # It reaches the server through its environment, never its command line (ps).
    assert not any(password in arg for arg in psutil.Process(process.pid).cmdline())
    assert "it asks for a password" in log
    url = f"http://127.0.0.1:{port}"
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url)
        _assert_only_the_prompt(page)
        page.screenshot(path=ARTIFACTS / "lock-prompt.png")
        page.goto(f"{url}/results")  # a page's own address: the prompt again
        _assert_only_the_prompt(page)
        expect(page.get_by_text("Page not found")).to_have_count(0)

        waited = _sign_in(page, password + "x")
        expect(page.get_by_text(access.WRONG_PASSWORD_MESSAGE)).to_be_visible()
        assert waited >= access.WRONG_PASSWORD_DELAY_S, waited
        page.screenshot(path=ARTIFACTS / "lock-wrong-password.png")
        _assert_only_the_prompt(page)
        assert _stored(tmp_path) == []  # the app never even opened its database

        _sign_in(page, password)
        _assert_app_open(page)  # on the page the link named
        expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()
        page.screenshot(path=ARTIFACTS / "lock-opened.png")
        page.reload()  # the signed cookie keeps this browser in
        _assert_app_open(page)
        (cookie,) = [c for c in page.context.cookies() if c["name"] == access.COOKIE_NAME]
        assert password not in cookie["value"] and cookie["sameSite"] == "Strict"
        tab = context.new_page()  # another tab: a new Streamlit session
        tab.goto(url)
        _assert_app_open(tab)

        # A fresh browser: the printed link opens the app and leaves the address bar.
        other = browser.new_context().new_page()
        other.goto(f"{url}/?{access.TOKEN_PARAM}={password}")
        _assert_app_open(other)
        expect(other).not_to_have_url(re.compile(access.TOKEN_PARAM))
        stored = _stored(tmp_path)
        assert stored  # the app opened it: a wrong password must not change it
        # A wrong token: the prompt, with the message.
        third = browser.new_context().new_page()
        third.goto(f"{url}/?{access.TOKEN_PARAM}=not-it")
        expect(third.get_by_text(access.WRONG_PASSWORD_MESSAGE)).to_be_visible()
        _assert_only_the_prompt(third)
        # A forged cookie is not a key.
        forged = browser.new_context()
        forged.add_cookies([{"name": access.COOKIE_NAME, "url": url,
                             "value": access.access_cookie("guess")}])  # fmt: skip
        fourth = forged.new_page()
        fourth.goto(url)
        _assert_only_the_prompt(fourth)
        assert _sign_in(fourth, "") >= access.WRONG_PASSWORD_DELAY_S  # empty: wrong too
        expect(fourth.get_by_text(access.WRONG_PASSWORD_MESSAGE)).to_be_visible()
        assert _stored(tmp_path) == stored
    assert _generated_password(log_path.read_text()) == password  # never printed again


@pytest.mark.parametrize(
    "app_sh", [{"AL_HOST": "0.0.0.0", "AL_PASSWORD": "team-Passwort-42"}], indirect=True
)
def test_al_password_opens_a_non_loopback_server(
    app_sh: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    require_browser()

    process, port, log_path = app_sh
    log = log_path.read_text()
    assert "team-Passwort-42" not in log and "Password:" not in log, log
    assert "AL_PASSWORD" in log
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}")
        _assert_only_the_prompt(page)
        _sign_in(page, "team-Passwort-42")
        _assert_app_open(page)


def test_loopback_opens_directly(app_sh: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    require_browser()

    _process, port, log_path = app_sh
    assert "Password" not in log_path.read_text()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}")
        _assert_app_open(page)


def test_streamlit_run_by_hand_off_loopback_still_locks(tmp_path: Path) -> None:
    """Without the launcher (``streamlit run app.py --server.address=0.0.0.0``) the app
    generates its own password on the first visit and prints it then, once."""
    require_browser()

    port = free_port()
    log_path = ARTIFACTS / "streamlit-run-0.0.0.0.log"
    env = {**os.environ, "AL_DATA_DIR": str(tmp_path)}
    for name in (access.PASSWORD_ENV, access.GENERATED_ENV):
        env.pop(name, None)
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0",
        f"--server.port={port}", "--server.fileWatcherType=none",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=120)
        assert "Password:" not in log_path.read_text()
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}")
            _assert_only_the_prompt(page)
            other = browser.new_context().new_page()  # a second visitor
            other.goto(f"http://127.0.0.1:{port}/label")
            _assert_only_the_prompt(other)
            password = _generated_password(log_path.read_text())
            _sign_in(other, password)
            _assert_app_open(other)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
