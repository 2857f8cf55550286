"""The lock, hardened (issue 28), without a browser: the cookie needs the server's
secret, a malformed cookie is no cookie, wrong passwords are limited per address
and per server, no child process inherits the password, a path the OS refuses gets
the project's own error, and a zip that expands too much as a whole is refused.

Browser checks against a real server off loopback: tests/test_access_hardening_browser.py.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import io
import re
import stat
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from al_core import access, uploads
from al_core.errors import DatasetError
from al_core.paths import confine_path

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
EXPERIMENTS = str(REPO / "pages" / "experiments.py")
OVERVIEW_TITLE = "Does active learning save labels?"


@pytest.fixture(autouse=True)
def _fresh_guess_limit() -> Iterator[None]:
    """Wrong passwords are counted per server process: each test starts from none and
    leaves none behind for the other lock tests of this process."""
    access.GUESSES.reset()
    yield
    access.GUESSES.reset()


# 1. Offline guessing from one cookie ------------------------------------------------


def test_a_cookie_cannot_be_checked_against_guesses_without_the_server_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, attacker = tmp_path / "server-data", tmp_path / "attacker-data"
    monkeypatch.setenv("AL_DATA_DIR", str(server))
    cookie = access.access_cookie("summer2024", now=1_000_000)
    assert access.cookie_valid(cookie, "summer2024", now=1_000_000)

    # Whoever holds the cookie and the code, but not the server's data folder, tries
    # the right password among guesses: none of them validates the cookie.
    monkeypatch.setenv("AL_DATA_DIR", str(attacker))
    guesses = ["123456", "password", "summer2023", "summer2024", "winter2024"]
    assert not any(access.cookie_valid(cookie, g, now=1_000_000) for g in guesses)
    assert not (attacker / access.SECRET_FILE).exists()  # checking creates no secret
    # Nor does the old scheme, a key derived from the password alone.
    issued, signature = cookie.split(".")
    for guess in guesses:
        key = hmac.new(guess.encode(), b"al_core.access cookie v1", hashlib.sha256).digest()
        assert hmac.new(key, issued.encode(), hashlib.sha256).hexdigest() != signature

    secret_file = server / access.SECRET_FILE
    assert secret_file.is_file()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_bytes()) == 32
    monkeypatch.setenv("AL_DATA_DIR", str(server))
    assert access.cookie_valid(cookie, "summer2024", now=1_000_000)
    # A changed password still signs every browser out.
    assert not access.cookie_valid(cookie, "summer2025", now=1_000_000)
    # Another server (another data folder) has another secret.
    other = access.server_secret(attacker, create=True)
    assert other is not None and other != secret_file.read_bytes()
    assert not access.cookie_valid(cookie, "summer2024", now=1_000_000, secret=other)


# 2. A malformed cookie is no cookie -------------------------------------------------

SIGNATURE = "0" * 64


@pytest.mark.parametrize(
    "value",
    [
        f"\u00b2.{SIGNATURE}",  # '²': str.isdigit() says yes, int() says no
        f"\u0661\u0662\u0663.{SIGNATURE}",  # Arabic-Indic digits
        f"{'9' * 400}.{SIGNATURE}",  # int() works, the age in seconds overflows a float
        f"{'9' * 5000}.{SIGNATURE}",  # over int()'s 4,300-digit limit
        f"1.{SIGNATURE}.{SIGNATURE}",
        f" 1.{SIGNATURE}",
        f"1.{SIGNATURE.upper()}",
        "1." + "é" * 64,
        "\x00",
    ],
)
def test_a_malformed_cookie_is_no_cookie(value: str) -> None:
    assert access.cookie_valid(value, "pw") is False


# 4. Parallel guessing ---------------------------------------------------------------


def test_wrong_passwords_are_limited_per_address_and_per_server() -> None:
    now = [0.0]
    limit = access.GuessLimit(per_client=3, per_server=5, window_s=60, clock=lambda: now[0])

    def attempt(password: str, client: str) -> str | None:
        return access.password_refusal(password, "right", client, limit=limit, sleep=lambda s: None)

    for _ in range(3):
        assert attempt("wrong", "10.0.0.1") == access.WRONG_PASSWORD_MESSAGE
    refused = attempt("right", "10.0.0.1")  # over its address' limit: not even compared
    assert refused is not None and "try again in 60 s" in refused
    assert attempt("right", "10.0.0.2") is None  # a right password is not counted
    assert attempt("wrong", "10.0.0.2") == access.WRONG_PASSWORD_MESSAGE
    assert attempt("wrong", "10.0.0.3") == access.WRONG_PASSWORD_MESSAGE
    # Five wrong on the server within the window: every address waits.
    now[0] = 20.0
    refused = attempt("right", "10.0.0.4")
    assert refused is not None and "try again in 40 s" in refused
    now[0] = 60.5  # the first three left the window
    assert attempt("right", "10.0.0.1") is None
    assert access.wait_message(61).startswith("Too many wrong passwords: try again in 61 s.")
    assert "try again in 10 min" in access.wait_message(599.2)


def test_sessions_guessing_side_by_side_are_counted_before_they_wait() -> None:
    """20 sessions at once from one address: only the address' allowance is compared,
    each of those waiting its delay; the rest are refused at once."""
    limit = access.GuessLimit(per_client=5, per_server=20, window_s=600)
    compared: list[str] = []
    answers: list[str | None] = []
    lock = threading.Lock()

    def slow(seconds: float) -> None:
        with lock:
            compared.append("x")
        threading.Event().wait(0.2)

    def guess(i: int) -> None:
        answer = access.password_refusal(f"guess{i}", "right", "10.0.0.9", limit=limit, sleep=slow)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(compared) == 5
    assert answers.count(access.WRONG_PASSWORD_MESSAGE) == 5
    assert sum(1 for a in answers if a and a.startswith("Too many wrong passwords")) == 15


def _texts(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "error") for e in app.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_the_prompt_says_how_long_to_wait_across_sessions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each wrong password in its own session (a fresh browser tab each time): past the
    address' allowance even the right password waits, and the prompt says how long."""
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(access.PASSWORD_ENV, "Kennwort 1")
    for i in range(access.GUESSES_PER_CLIENT):
        app = AppTest.from_file(APP, default_timeout=60).run()
        app.text_input[0].input(f"guess {i}")
        app.button[0].click().run()
        assert [e.value for e in app.error] == [access.WRONG_PASSWORD_MESSAGE]
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input("Kennwort 1")
    app.button[0].click().run()
    assert not app.exception
    (message,) = [e.value for e in app.error]
    wait = re.search(r"try again in (\d+) (s|min)", message)
    assert wait is not None, message
    assert 9 <= int(wait.group(1)) <= 10 and wait.group(2) == "min"  # the 600 s window
    assert OVERVIEW_TITLE not in _texts(app)
    access.GUESSES.reset()  # the window passed: the same password opens
    app.text_input[0].input("Kennwort 1")
    app.button[0].click().run()
    assert app.title[0].value == OVERVIEW_TITLE


# 5. A child process inherits no password --------------------------------------------


def test_the_label_worker_gets_no_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    from al_core.labeling import worker
    from al_core.store import Store

    started: list[dict[str, object]] = []

    class NoProcess:
        pid = -1

        def __init__(self, command: list[str], **kwargs: object) -> None:
            started.append({"command": command, **kwargs})

        def poll(self) -> int:
            return 1

    monkeypatch.setattr(subprocess, "Popen", NoProcess)
    monkeypatch.setenv(access.PASSWORD_ENV, "chosen")
    monkeypatch.setenv(access.GENERATED_ENV, "generated")
    monkeypatch.setenv("AL_SOMETHING_ELSE", "kept")
    with Store(tmp_path / "al.sqlite3") as store:
        worker._start_worker(store, 7)
    (call,) = started
    assert "label-worker" in call["command"]  # type: ignore[operator]
    env = call.get("env")
    assert isinstance(env, dict), "the worker inherited the whole environment"
    assert access.PASSWORD_ENV not in env and access.GENERATED_ENV not in env
    assert env["AL_SOMETHING_ELSE"] == "kept"


def test_one_function_starts_every_child_process() -> None:
    """``subprocess.Popen`` (and its shortcuts) appear in al_core/processes.py only."""
    starters = {"Popen", "run", "call", "check_call", "check_output"}
    found = []
    for path in sorted((REPO / "al_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in starters
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found and all(f.startswith("al_core/processes.py:") for f in found), found


# 6. A path the OS refuses -----------------------------------------------------------


@pytest.mark.parametrize("typed", ["pool\x00/../../etc", "x" * 5000, "a/" + "b" * 300])
def test_a_path_the_os_refuses_gets_the_projects_error(tmp_path: Path, typed: str) -> None:
    (tmp_path / "a").mkdir()  # so that the OS reaches the 300-character name
    with pytest.raises(DatasetError) as refused:
        confine_path(typed, tmp_path)
    message = str(refused.value)
    assert str(tmp_path.resolve()) in message
    if "\x00" in typed:
        assert "NUL byte" in message and "\\x00" in message


def test_a_nul_byte_in_a_folder_field_gets_an_error_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    app = AppTest.from_file(EXPERIMENTS, default_timeout=60).run()
    app.selectbox(key="dataset").set_value("other (npz:PATH or folder:PATH)").run()
    app.text_input(key="dataset_path").set_value("folder:pool\x00/../../etc").run()
    app.button(key="launch").click().run()
    assert not app.exception
    (error,) = [e.value for e in app.error]
    assert error.startswith("Not launched: ") and "NUL byte" in error


# 7. Zip expansion under 1 MiB per entry ---------------------------------------------


def test_a_zip_of_many_small_bombs_is_refused_as_a_whole(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for i in range(20):
            archive.writestr(f"img{i:02d}.png", bytes(2**20))  # exactly 1 MiB of zeros
    data = buffer.getvalue()
    assert len(data) < 30_000  # about 950:1 as a whole
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # each entry passes the old check
        assert all(info.file_size <= 2**20 for info in archive.infolist())
    dest = tmp_path / "unpacked"
    dest.mkdir()
    with pytest.raises(DatasetError) as refused:
        uploads.unpack_zip(data, dest)
    message = str(refused.value)
    assert f"its {len(data)} bytes unpack to {20 * 2**20} bytes" in message
    assert f"compression ratio over {uploads.MAX_COMPRESSION_RATIO}" in message
    assert list(dest.iterdir()) == []  # nothing written


def test_a_zip_of_ordinary_images_still_unpacks(tmp_path: Path) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(30):
            image = io.BytesIO()
            Image.effect_noise((64, 64), 40 + i).save(image, format="PNG")
            archive.writestr(f"cat/{i}.png", image.getvalue())
    written, skipped = uploads.unpack_zip(buffer.getvalue(), tmp_path)
    assert len(written) == 30 and skipped == []
