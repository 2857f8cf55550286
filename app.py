"""Active Learning Lab: the Streamlit entry point (``streamlit run app.py``).

Routes with ``st.navigation`` over the thin pages in ``pages/`` and draws the
shared sidebar: where the results live and whether a background runner is alive.
The database is ``$AL_DATA_DIR/al.sqlite3`` (default ``data/al.sqlite3``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from al_core.runner import runner_health
from al_core.store import Store

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# A bundled file: Streamlit serves it itself (a ":material/…:" page icon would make the
# browser fetch the favicon from an external font server).
PAGE_ICON = Path(__file__).resolve().parent / "assets" / "page_icon.png"

st.set_page_config(page_title="Active Learning Lab", page_icon=str(PAGE_ICON), layout="wide")

pages = [
    st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page(PAGES_DIR / "experiments.py", title="Experiments", icon=":material/play_circle:"),
    st.Page(PAGES_DIR / "results.py", title="Results", icon=":material/table_chart:"),
    st.Page(PAGES_DIR / "label.py", title="Label", icon=":material/edit:"),
]
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
