"""The app's server: ``streamlit run asgi.py`` serves ``app.py`` through Streamlit's
``st.App`` with the lock's HTTP guard (al_core/http_guard.py): no referrer, no token
left in a page address, no uploads into a session that has not unlocked, no metrics
off loopback. ``python -m al_core.serve`` (``./scripts/app.sh``, the Docker image)
starts the app this way; ``streamlit run app.py`` still works, without the guard.
"""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware

# The first view's engine imports (results, charts, the runner's presets), done at
# server start instead of on the first visitor's clock: the first look is instant
# (benchmarks/first_look.py). Its expected curves' anchor is kept on disk.
import al_core.charts  # noqa: F401
import al_core.forms  # noqa: F401
import al_core.results  # noqa: F401
import al_core.runner  # noqa: F401
from al_core import access
from al_core.http_guard import HttpGuard


def _address() -> str | None:
    return st.get_option("server.address")


def _url() -> str:
    return access.server_url(st.get_option("browser.serverAddress"), st.get_option("server.port"))


app = st.App("app.py", middleware=[Middleware(HttpGuard, address=_address, url=_url)])
