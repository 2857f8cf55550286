"""The app's pages, one file each, thin: widgets and calls into ``al_core``.

``app.py`` routes them with ``st.navigation``. Streamlit also knows the older
way of a ``pages/`` folder next to the main script (a "v1" multipage app) and
uses it until some session has run ``st.navigation``: the first visit after a
server start straight to a deep link such as ``/label`` would run that page
alone, without ``app.py``'s sidebar, under a navigation listing the file names
("app", "experiments", "label", …). Each page calls
:func:`require_app_navigation` first to turn that mode off and rerun through
``app.py``. (This file is not a page: the v1 mode skips ``__init__.py``.)
"""

from __future__ import annotations


def require_app_navigation() -> None:
    """Rerun through ``app.py`` when Streamlit ran this page as a v1 multipage page."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    # The flag Streamlit itself clears the first time st.navigation runs
    # (streamlit/commands/navigation.py); set while it still serves pages/ the v1 way.
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
