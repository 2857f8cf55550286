"""Active Learning Lab: the Streamlit entry point (``streamlit run app.py``).

Routes with ``st.navigation`` over the thin pages in ``pages/`` and draws the
shared sidebar: where the results live and whether a background runner is alive.
The database is ``$AL_DATA_DIR/al.sqlite3`` (default ``data/al.sqlite3``).

Before any page runs, the lock of :mod:`al_core.access`: a server listening beyond
loopback (or given ``$AL_PASSWORD``) shows only a password prompt, at every page's
address, until this browser has given the password.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import unquote

import streamlit as st

from al_core import access
from al_core.store import default_db_path
from pages import presenting, shared_runner_health

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# A bundled file: Streamlit serves it itself (a ":material/…:" page icon would make the
# browser fetch the favicon from an external font server).
PAGE_ICON = Path(__file__).resolve().parent / "assets" / "page_icon.png"

st.set_page_config(page_title="Active Learning Lab", page_icon=str(PAGE_ICON), layout="wide")
if not access.is_loopback(st.get_option("server.address")):
    # Strangers may reach this server: an error shows its generic message only; the
    # type, message and traceback go to the server's log (Streamlit's own option).
    st.set_option("client.showErrorDetails", "none")

# The lock (al_core/access.py): a server listening beyond loopback, or one given
# AL_PASSWORD, shows nothing but the password prompt until this browser session has
# given the password (typed, as ?token= in the URL, or earlier: a signed cookie).
UNLOCKED = "_al_unlocked"
COOKIE_TO_SET = "_al_access_cookie"
REFUSAL = "_al_refusal"
TOKEN_COOKIE_USED = "_al_token_cookie_used"
# Seconds the page gets to run a script before the server changes its URL (only
# where ?token= reaches the app: a server started without al_core/http_guard.py).
TOKEN_SCRIPT_HEAD_START_S = 0.5
# Runs in the page (st.html is not iframed): the token leaves the address bar by
# replacing the current history entry, so that Back does not bring it back.
_TOKEN_OUT_OF_HISTORY = (
    "<script>(() => {const url = new URL(window.location.href);"
    f"if (url.searchParams.has({json.dumps(access.TOKEN_PARAM)})) {{"
    f"url.searchParams.delete({json.dumps(access.TOKEN_PARAM)});"
    "window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);"
    "}})();</script>"
)
_TOKEN_COOKIE_DELETED = "<script>document.cookie = {};</script>".format(
    json.dumps(f"{access.TOKEN_COOKIE}=; Max-Age=0; Path=/; SameSite=Strict")
)


def _run_in_page(script: str) -> None:
    st.html(script, unsafe_allow_javascript=True)


def _client() -> str | None:
    """The visitor's address, which wrong passwords are counted by (``None``: loopback)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def _cookie(name: str) -> str | None:
    """A cookie this browser sent when the session began (text only, else ``None``)."""
    value = st.context.cookies.get(name)
    return value if isinstance(value, str) else None


def _unlock(password: str) -> None:
    st.session_state[UNLOCKED] = True
    st.session_state[COOKIE_TO_SET] = access.access_cookie(password)


def _given_token() -> str | None:
    """The token this visit brought, used up: ``?token=`` (taken out of the URL and the
    history entry) or the one-minute cookie the launcher's redirect moved it into
    (al_core/http_guard.py), read once per session."""
    token = st.query_params.get(access.TOKEN_PARAM)
    if token is not None:
        # The page replaces its history entry first: Streamlit's own removal below
        # pushes a new entry, which would leave this one, token and all, behind Back.
        _run_in_page(_TOKEN_OUT_OF_HISTORY)
        time.sleep(TOKEN_SCRIPT_HEAD_START_S)
        del st.query_params[access.TOKEN_PARAM]
        return token
    moved = _cookie(access.TOKEN_COOKIE)
    if moved is not None and not st.session_state.get(TOKEN_COOKIE_USED):
        st.session_state[TOKEN_COOKIE_USED] = True
        return unquote(moved)
    return None


def _unlocked(password: str) -> bool:
    """Whether this browser session has shown the password (a token is used up here,
    whatever else opens the app: it never stays in the address bar)."""
    token = _given_token()
    if st.session_state.get(UNLOCKED):
        return True
    if access.cookie_valid(_cookie(access.COOKIE_NAME), password):
        st.session_state[UNLOCKED] = True
        return True
    if token is not None:
        refusal = access.password_refusal(token, password, _client())
        if refusal is None:
            _unlock(password)
            return True
        st.session_state[REFUSAL] = refusal
    return False


def _password_prompt(password: str) -> None:
    st.title("Active Learning Lab")
    st.write("This server is open to the network: enter its password to continue.")
    if _cookie(access.TOKEN_COOKIE) is not None:
        _run_in_page(_TOKEN_COOKIE_DELETED)
    refusal = st.session_state.pop(REFUSAL, None)
    if refusal:
        st.error(refusal)
    with st.form("al_password", clear_on_submit=True):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Open", type="primary")
    if submitted:
        # Counted per address and per server; a wrong password waits a moment.
        refusal = access.password_refusal(given, password, _client())
        if refusal is None:
            _unlock(password)
            st.rerun()
        st.error(refusal)


pages = [
    st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page(PAGES_DIR / "experiments.py", title="Experiments", icon=":material/play_circle:"),
    st.Page(PAGES_DIR / "results.py", title="Results", icon=":material/table_chart:"),
    st.Page(PAGES_DIR / "label.py", title="Label", icon=":material/edit:"),
]

_url = access.server_url(st.get_option("browser.serverAddress"), st.get_option("server.port"))
_password = access.expected_password(st.get_option("server.address"), _url, os.environ)
if _password is not None and not _unlocked(_password):

    def sign_in() -> None:
        """What a locked app shows at every address: the prompt, no navigation, no data."""
        _password_prompt(_password)

    # The pages' own addresses, all drawing the prompt: a deep link (/label?session=3)
    # asks for the password, then opens that page (no "page not found" on the way).
    st.navigation(
        [st.Page(sign_in, title="Sign in", url_path=p.url_path or "sign-in", default=not p.url_path)
         for p in pages],
        position="hidden",
    ).run()  # fmt: skip
    st.stop()
if st.session_state.get(COOKIE_TO_SET):  # keeps this browser signed in across reloads
    with st.sidebar:
        header = access.cookie_header(st.session_state[COOKIE_TO_SET])
        _run_in_page(f"<script>document.cookie = {json.dumps(header)};</script>")
if _cookie(access.TOKEN_COOKIE) is not None:  # used up, whatever opened the app
    with st.sidebar:
        _run_in_page(_TOKEN_COOKIE_DELETED)

# The presentation view (?present=1, the Overview's switch): no navigation, no sidebar.
present = presenting()
page = st.navigation(pages, position="hidden" if present else "sidebar")


@st.fragment(run_every=5.0)
def runner_status() -> None:
    """The sidebar's runner line, refreshed every 5 s (each refresh costs every open
    page's browser a script run: al_core.live.POLL_SECONDS); the runner's health is read
    once for every open page (:func:`pages.shared_runner_health`)."""
    health = shared_runner_health()  # first: a store that cannot be opened shows no path
    st.caption(f"Results database: `{default_db_path()}`")
    if health is not None and health["alive"]:
        st.caption(
            f":green[●] runner alive: {health['workers']} {health['executor']} worker(s), "
            f"heartbeat {health['heartbeat_age']:.0f} s ago"
        )
    else:
        st.caption(":gray[○] no runner: one starts when you launch an experiment")


if not present:
    with st.sidebar:
        runner_status()

page.run()
