"""The app's server settings: ``./scripts/app.sh`` with the project's
``.streamlit/config.toml`` listens on 127.0.0.1 only, never looks up the machine's
external address, and accepts uploads up to the app's own limit.

Starts the real script (which starts the real Streamlit server) on a free port and
reads the listening sockets of that process from the kernel (psutil).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from al_core import uploads
from tests.browser import ARTIFACTS, free_port, wait_healthy

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
    """``./scripts/app.sh`` on a free port; ``AL_HOST`` from the test's parameter, if any."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "app-sh.log"
    env = {**os.environ, "AL_DATA_DIR": str(tmp_path), "AL_PORT": str(port)}
    env.pop("AL_HOST", None)
    host = getattr(request, "param", None)
    if host is not None:
        env["AL_HOST"] = host
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
    assert "warning: listening on 0.0.0.0" in log
    assert "External URL" not in log and "external IP" not in log, log
