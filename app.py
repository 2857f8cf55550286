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
from pathlib import Path

import streamlit as st

from al_core import access
from al_core.runner import runner_health
from al_core.store import Store

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# A bundled file: Streamlit serves it itself (a ":material/…:" page icon would make the
# browser fetch the favicon from an external font server).
PAGE_ICON = Path(__file__).resolve().parent / "assets" / "page_icon.png"

st.set_page_config(page_title="Active Learning Lab", page_icon=str(PAGE_ICON), layout="wide")

# The lock (al_core/access.py): a server listening beyond loopback, or one given
# AL_PASSWORD, shows nothing but the password prompt until this browser session has
# given the password (typed, as ?token= in the URL, or earlier: a signed cookie).
UNLOCKED = "_al_unlocked"
COOKIE_TO_SET = "_al_access_cookie"


def _server_url() -> str:
    """The app's address as the server announces it (for the printed link)."""
    host = st.get_option("browser.serverAddress") or "localhost"
    return f"http://{host}:{st.get_option('server.port')}"


def _unlock(password: str) -> None:
    st.session_state[UNLOCKED] = True
    st.session_state[COOKIE_TO_SET] = access.access_cookie(password)


def _unlocked(password: str) -> bool:
    """Whether this browser session has shown the password (a token is used up here)."""
    if st.session_state.get(UNLOCKED):
        return True
    if access.cookie_valid(st.context.cookies.get(access.COOKIE_NAME), password):
        st.session_state[UNLOCKED] = True
        return True
    token = st.query_params.get(access.TOKEN_PARAM)
    if token is not None:
        del st.query_params[access.TOKEN_PARAM]  # out of the address bar and history
        if access.check_password(token, password):
            _unlock(password)
            return True
        st.session_state["_al_wrong_token"] = True
    return False


def _password_prompt(password: str) -> None:
    st.title("Active Learning Lab")
    st.write("This server is open to the network: enter its password to continue.")
    if st.session_state.pop("_al_wrong_token", False):
        st.error(access.WRONG_PASSWORD_MESSAGE)
    with st.form("al_password", clear_on_submit=True):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Open", type="primary")
    if submitted:
        if access.check_password(given, password):  # waits a moment when wrong
            _unlock(password)
            st.rerun()
        st.error(access.WRONG_PASSWORD_MESSAGE)


pages = [
    st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page(PAGES_DIR / "experiments.py", title="Experiments", icon=":material/play_circle:"),
    st.Page(PAGES_DIR / "results.py", title="Results", icon=":material/table_chart:"),
    st.Page(PAGES_DIR / "label.py", title="Label", icon=":material/edit:"),
]

_password = access.expected_password(st.get_option("server.address"), _server_url(), os.environ)
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
        st.html(f"<script>document.cookie = {json.dumps(header)};</script>",
                unsafe_allow_javascript=True)  # fmt: skip

page = st.navigation(pages)


@st.fragment(run_every=2.0)
def runner_status() -> None:
    """The sidebar's runner line, refreshed on the same 2 s timer as the monitor."""
    with Store() as store:
        st.caption(f"Results database: `{store.path}`")
        health = runner_health(store)
    if health is not None and health["alive"]:
        st.caption(
            f":green[●] runner alive: {health['workers']} {health['executor']} worker(s), "
            f"heartbeat {health['heartbeat_age']:.0f} s ago"
        )
    else:
        st.caption(":gray[○] no runner: one starts when you launch an experiment")


with st.sidebar:
    runner_status()

page.run()
