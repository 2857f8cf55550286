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

from collections.abc import Callable, Mapping


def require_app_navigation() -> None:
    """Rerun through ``app.py`` when Streamlit ran this page as a v1 multipage page."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    # The flag Streamlit itself clears the first time st.navigation runs
    # (streamlit/commands/navigation.py); set while it still serves pages/ the v1 way.
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# Keys typed on the Label page, queued in the browser (see :func:`answer_keys`).
_COMPONENT: list = []
_KEYS_JS = """
export default function (component) {
  const { data, setStateValue } = component;
  const state = (window.__alLabelKeys = window.__alLabelKeys || { seq: 0, events: [] });
  state.send = setStateValue;
  state.allowed = new Set(data.keys || []);
  if (data.epoch !== state.epoch) {  // a new browser session: numbering restarts
    state.epoch = data.epoch;
    state.seq = data.applied || 0;
    state.events = [];
  }
  state.events = state.events.filter((e) => e.seq > (data.applied || 0));
  state.item = data.item;  // the image this drawing of the page shows
  state.drawn = Date.now();
  if (!state.listening) {
    state.listening = true;
    // Window, capture phase: before Streamlit's own button shortcuts, which are then
    // not run for these keys; every key press is kept and numbered, also while the
    // page redraws, and the whole list not yet applied is sent each time.
    window.addEventListener("keydown", (event) => {
      const t = event.target;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
      const key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
      if (!state.allowed.has(key)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      state.seq += 1;
      // On a page that has drawn every earlier key: the image shown. Pressed before
      // it redrew: none (the image held when it is applied, al_core.labeling.keys).
      const item = state.events.length ? null : state.item;
      state.events.push({ seq: state.seq, key: key, item: item });
      state.send("events", state.events.slice());
      state.drawn = Date.now();
    }, true);
    // Presses not applied a second after the last drawing: sent again (a marker with
    // the time makes the value new), so a send lost in a redraw is not lost for good.
    window.setInterval(() => {
      if (state.events.length && Date.now() - state.drawn > 1000) {
        state.send("events", [...state.events, { seq: 0, key: "", at: Date.now() }]);
        state.drawn = Date.now();
      }
    }, 500);
  }
}
"""


def answer_keys(
    keys: list[str],
    applied: int,
    epoch: str,
    item: str | None,
    on_keys: Callable[[], None],
    key: str = "label_keys",
) -> None:
    """Mount the Label page's keyboard queue.

    Each press of one of ``keys`` (upper case) is numbered in the browser, with the
    image shown (``item``) when the page had drawn every earlier press, and kept
    until the page says it was applied (``applied``: the highest number applied);
    the browser sends the whole list each time, so a press made while the page
    redraws is never lost. ``on_keys`` runs when the list changes (before the
    rerun): read it with :func:`queued_keys`.
    """
    import streamlit as st

    if not _COMPONENT:  # registered once per process (Streamlit warns on a second one)
        _COMPONENT.append(st.components.v2.component("al_label_keys", js=_KEYS_JS))
    _COMPONENT[0](
        key=key,
        data={"keys": keys, "applied": applied, "epoch": epoch, "item": item},
        on_events_change=on_keys,
    )


def queued_keys(key: str = "label_keys") -> list[dict[str, object]]:
    """The key presses the browser sent last (see :func:`answer_keys`)."""
    import streamlit as st

    state = st.session_state.get(key)
    events = state.get("events") if isinstance(state, Mapping) else getattr(state, "events", None)
    return [e for e in events or [] if isinstance(e, dict)]


#: ``?present=1`` opens the Overview as a presentation view (no sidebar, no controls
#: a room does not need).
PRESENT_PARAM = "present"


def presenting() -> bool:
    """Whether this page was opened (or switched) into the presentation view."""
    import streamlit as st

    return st.query_params.get(PRESENT_PARAM, "").lower() in ("1", "true", "yes")


def report_button(experiment_id: int, target: float | None, key: str) -> None:
    """The "Download report" button: the experiment's self-contained HTML report at ``target``
    (:func:`al_core.results.report.report_html`), built when clicked."""
    import streamlit as st

    from al_core.results.report import report_file_name, report_html
    from al_core.store import Store

    def build() -> str:
        with Store() as store:
            return report_html(store, experiment_id, target)

    st.download_button(
        "Download report",
        data=build,
        file_name=report_file_name(experiment_id),
        mime="text/html",
        on_click="ignore",
        key=key,
        icon=":material/download:",
        help="One HTML file that opens offline in any browser: the headline and verdict at "
        "this target, the curves, savings across targets, the tables, what was compared, "
        "how to rerun it and the caveats.",
    )
