"""The lock's logic (al_core/access.py) and the launcher's decision (al_core/serve.py),
without a server: which addresses are loopback, where the password comes from, the
constant-time comparison and its delay, the signed cookie, what is printed once.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from al_core import access, serve


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "localhost.",
     "::ffff:127.0.0.1"],
)  # fmt: skip
def test_loopback_addresses(address: str) -> None:
    assert access.is_loopback(address)


@pytest.mark.parametrize(
    "address", [None, "", "0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "fe80::1%eth0",
                "myhost", "localhost.example.com", "128.0.0.1", "::ffff:10.0.0.1"],
)  # fmt: skip
def test_other_addresses_are_not_loopback(address: str | None) -> None:
    assert not access.is_loopback(address)


def test_loopback_without_password_opens_directly() -> None:
    assert access.expected_password("127.0.0.1", "http://localhost:8501", {}) is None
    assert access.expected_password("localhost", "http://x:1", {access.PASSWORD_ENV: ""}) is None
    # A generated password (from the launcher) never locks a loopback server.
    env = {access.GENERATED_ENV: "from-launcher"}
    assert access.expected_password("::1", "http://x:1", env) is None


def test_al_password_applies_on_every_address() -> None:
    env = {access.PASSWORD_ENV: "s3cret", access.GENERATED_ENV: "ignored"}
    assert access.expected_password("127.0.0.1", "http://x:1", env) == "s3cret"
    assert access.expected_password("0.0.0.0", "http://x:1", env) == "s3cret"


def test_off_loopback_the_launchers_password_then_one_generated_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {access.GENERATED_ENV: "from-launcher"}
    assert access.expected_password("0.0.0.0", "http://x:1", env) == "from-launcher"
    monkeypatch.setattr(access, "_generated", None)
    said: list[str] = []
    first = access.expected_password(None, "http://host:8501", {}, announce=said.append)
    again = access.expected_password("10.0.0.1", "http://host:8501", {}, announce=said.append)
    assert first == again and len(first) >= 20
    assert len(said) == 1  # printed once, with the link
    assert f"Password: {first}" in said[0]
    assert f"http://host:8501/?token={first}" in said[0]


def test_new_passwords_are_random_and_url_safe() -> None:
    passwords = {access.new_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) >= 22  # 16 random bytes
        assert set(password) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_password_matches_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert access.password_matches("pässwörd", "pässwörd")
    assert not access.password_matches("pässword", "pässwörd")
    assert not access.password_matches("", "x")
    assert not access.password_matches("x" * 10_000, "x")
    # Both sides hashed to 32 bytes: the time says nothing about the length either.
    assert calls and all(len(a) == len(b) == 32 for a, b in calls)
    assert calls[0][1] == hashlib.sha256("pässwörd".encode()).digest()


def test_a_wrong_password_waits_a_right_one_does_not() -> None:
    slept: list[float] = []
    assert access.check_password("right", "right", sleep=slept.append)
    assert slept == []
    assert not access.check_password("wrong", "right", sleep=slept.append)
    assert slept == [access.WRONG_PASSWORD_DELAY_S]
    assert 0.2 <= access.WRONG_PASSWORD_DELAY_S <= 3
    # The message names no user and says nothing about the password given.
    assert "Wrong password" in access.WRONG_PASSWORD_MESSAGE
    assert "user" not in access.WRONG_PASSWORD_MESSAGE.lower()


def test_cookie_is_signed_by_the_password_and_expires() -> None:
    cookie = access.access_cookie("pw", now=1_000_000)
    assert len(cookie.split(".")[1]) == 64 and "pw" not in cookie  # HMAC-SHA256, hex
    assert access.cookie_valid(cookie, "pw", now=1_000_000)
    assert access.cookie_valid(cookie, "pw", now=1_000_000 + access.COOKIE_MAX_AGE_S)
    assert not access.cookie_valid(cookie, "pw", now=1_000_001 + access.COOKIE_MAX_AGE_S)
    assert not access.cookie_valid(cookie, "pw", now=999_000)  # issued in the future
    assert not access.cookie_valid(cookie, "other password", now=1_000_000)
    issued, signature = cookie.split(".")
    forged = f"{int(issued) + 1}.{signature}"
    for bad in [None, "", "garbage", ".", f"{issued}.", f"x.{signature}", forged,
                f"{issued}.{signature[:-1]}ö"]:  # fmt: skip
        assert not access.cookie_valid(bad, "pw", now=1_000_000)
    header = access.cookie_header(cookie)
    assert header.startswith(f"{access.COOKIE_NAME}={cookie};")
    assert "SameSite=Strict" in header and "Path=/" in header


def test_serve_reads_the_address_as_streamlit_does() -> None:
    config = {"server": {"address": "127.0.0.1", "port": 8501}}
    assert serve.option([], "server.address", {}, config) == "127.0.0.1"
    env = {"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}
    assert serve.option([], "server.address", env, config) == "0.0.0.0"
    args = ["--server.address=10.0.0.2", "--server.address", "::"]
    assert serve.option(args, "server.address", env, config) == "::"
    assert serve.option([], "server.address", {}, {}) is None
    env = {"STREAMLIT_BROWSER_SERVER_ADDRESS": "box"}
    assert serve.option([], "browser.serverAddress", env, {}) == "box"


def test_serve_generates_a_password_off_loopback_only() -> None:
    config = {"server": {"address": "127.0.0.1"}, "browser": {"serverAddress": "localhost"}}
    stale = {access.GENERATED_ENV: "stale", "HOME": "/home/x"}
    env, message = serve.prepare([], stale, config)
    assert message is None and access.GENERATED_ENV not in env and env["HOME"] == "/home/x"

    args = ["--server.address=0.0.0.0", "--server.port=9000", "--browser.serverAddress=box"]
    env, message = serve.prepare(args, stale, config)
    password = env[access.GENERATED_ENV]
    assert password != "stale" and len(password) >= 22
    assert message is not None and f"http://box:9000/?token={password}" in message

    env, message = serve.prepare(args, {access.PASSWORD_ENV: "mine"}, config)
    assert access.GENERATED_ENV not in env and env[access.PASSWORD_ENV] == "mine"
    assert message is not None and "mine" not in message and "AL_PASSWORD" in message

    env, message = serve.prepare([], {access.PASSWORD_ENV: "mine"}, config)  # loopback
    assert message is not None and "mine" not in message
    # No address anywhere: Streamlit listens on every interface.
    env, message = serve.prepare([], {}, {})
    assert access.GENERATED_ENV in env


def test_background_runner_gets_no_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The runner the pages start (a detached process) inherits no password variable."""
    from al_core.errors import StoreError
    from al_core.runner import health

    seen: dict[str, str] = {}

    class NoProcess:
        pid = -1
        returncode = 1

        def __init__(self, command: list[str], **kwargs: object) -> None:
            seen.update(kwargs["env"])  # type: ignore[arg-type]

        def poll(self) -> int:
            return 1

    monkeypatch.setattr(health.subprocess, "Popen", NoProcess)
    monkeypatch.setenv(access.PASSWORD_ENV, "chosen")
    monkeypatch.setenv(access.GENERATED_ENV, "generated")
    with pytest.raises(StoreError):
        health.ensure_runner(tmp_path / "al.sqlite3", wait_seconds=1)
    assert seen and "PYTHONPATH" in seen
    assert access.PASSWORD_ENV not in seen and access.GENERATED_ENV not in seen
