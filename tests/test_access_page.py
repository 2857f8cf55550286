"""The lock as ``app.py`` draws it, under Streamlit's AppTest (no browser).

``$AL_PASSWORD`` set on a loopback server applies there too (al_core/access.py): the
app shows only the prompt, a wrong password gets the message after the delay and
changes nothing, the right one opens the pages; without it, the app opens directly.
Browser checks against a real non-loopback server: tests/test_server_config.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from al_core import access

APP = str(Path(__file__).resolve().parent.parent / "app.py")
OVERVIEW_TITLE = "Does active learning save labels?"


def _texts(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "error", "caption") for e in app.get(kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def locked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(access.PASSWORD_ENV, "Kennwort 1")
    return AppTest.from_file(APP, default_timeout=60).run()


def test_al_password_locks_even_loopback(locked: AppTest, tmp_path: Path) -> None:
    app = locked
    assert not app.exception
    assert [t.value for t in app.title] == ["Active Learning Lab"]
    assert len(app.text_input) == 1 and app.text_input[0].label == "Password"
    assert OVERVIEW_TITLE not in _texts(app)
    assert len(app.sidebar.children) == 0  # no runner line, no database path
    assert "Results database" not in _texts(app)
    assert list(tmp_path.iterdir()) == []  # the database was not even opened

    app.text_input[0].input("kennwort 1")
    started = time.monotonic()
    app.button[0].click().run()
    assert time.monotonic() - started >= access.WRONG_PASSWORD_DELAY_S
    assert [e.value for e in app.error] == [access.WRONG_PASSWORD_MESSAGE]
    assert OVERVIEW_TITLE not in _texts(app)
    assert list(tmp_path.iterdir()) == []

    app.text_input[0].input("Kennwort 1")
    app.button[0].click().run()
    assert not app.exception
    assert app.title[0].value == OVERVIEW_TITLE
    assert "Results database" in _texts(app)
    assert len(app.sidebar.children) > 0
    app.run()  # the session stays unlocked
    assert app.title[0].value == OVERVIEW_TITLE


def test_token_in_the_url_opens_and_leaves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(access.PASSWORD_ENV, "Kennwort 1")
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params[access.TOKEN_PARAM] = "Kennwort 1"
    app.run()
    assert not app.exception
    assert app.title[0].value == OVERVIEW_TITLE
    assert access.TOKEN_PARAM not in app.query_params


def test_loopback_without_password_opens_directly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == OVERVIEW_TITLE
    assert not app.text_input or all(t.label != "Password" for t in app.text_input)
