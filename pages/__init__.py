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
from typing import Any


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
    // The image on the screen now, read from its caption ("item 389", the Label
    // view's). The page draws the image before this component hears of it (a click
    // or Streamlit's own shortcut redraws the page too), and a key is meant for the
    // image the labeler sees, not the one the last data named.
    const onScreen = () => {
      for (const node of document.querySelectorAll('[data-testid="stImageCaption"]')) {
        const match = /^item (\\S+)$/.exec(node.textContent.trim());
        if (match) return match[1];
      }
      return null;
    };
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
      const item = state.events.length ? null : onScreen() ?? state.item;
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


# ------------------------------------------------------------------ live experiment views

#: Set by :func:`watch_experiment` before the rerun it asks for: that drawing may use a
#: snapshot up to :data:`al_core.live.LIVE_MAX_AGE` old (shared with the other viewers).
_LIVE_REDRAW = "_live_redraw"


def live_experiments() -> Any:
    """The server's one :class:`al_core.live.LiveExperiments`, shared by every session."""
    import streamlit as st

    from al_core.live import LiveExperiments

    @st.cache_resource(show_spinner=False)
    def _shared() -> LiveExperiments:
        return LiveExperiments()

    return _shared()


def live_snapshot(experiment_id: int, live: bool) -> Any:
    """The experiment as the page draws it now (:meth:`al_core.live.LiveExperiments.snapshot`).

    A redraw the live timer asked for (:func:`watch_experiment`) shares a snapshot up
    to a second old with the other viewers; a first drawing, a person's own action or a
    finished experiment reads what is stored now."""
    import streamlit as st

    from al_core.live import LIVE_MAX_AGE
    from al_core.store import default_db_path

    max_age = LIVE_MAX_AGE if st.session_state.pop(_LIVE_REDRAW, False) and live else 0.0
    return live_experiments().snapshot(default_db_path(), experiment_id, max_age)


def live_derived(snapshot: Any, name: str, compute: Callable[..., Any], *args: Any) -> Any:
    """``compute(snapshot, *args)`` once per version for every viewer (never mutate it)."""
    from al_core.store import default_db_path

    return live_experiments().derived(default_db_path(), snapshot, name, compute, *args)


def frame_digest(frame: Any) -> int:
    """A digest of a DataFrame's values (index ignored): equal frames, equal digests."""
    import pandas as pd

    return int(pd.util.hash_pandas_object(frame, index=False).sum()) if len(frame) else 0


def watch_experiment(
    snapshot: Any,
    key: str,
    view_key: Callable[[Any], Any],
    draw_progress: Callable[[Any], None],
) -> None:
    """Keep a running experiment's view current at little cost, in place of its progress
    bar. ``snapshot`` is what the view was just drawn from; ``view_key(snapshot)`` is a
    hashable of everything the view shows *except* the progress bar (its curves, which
    trials finished, …), computed once per version for every viewer; ``draw_progress``
    draws the bar from a snapshot.

    A fragment reruns every :data:`al_core.live.POLL_SECONDS`. It takes the shared
    snapshot (at most :data:`~al_core.live.LIVE_MAX_AGE` old: one small query per second
    for all viewers) and draws the progress bar from it, a message of a few hundred
    bytes, so each new round moves the bar within a poll. The page reruns,
    chart and all, only when ``view_key`` changed, and no sooner than
    :data:`~al_core.live.MIN_REDRAW_SECONDS` after its last drawing. A round of a
    trial whose configuration already shows finished trials (their preview ended)
    therefore costs a viewer's browser one small update, not a redrawn page.
    """
    import time

    import streamlit as st

    from al_core.live import LIVE_MAX_AGE, MIN_REDRAW_SECONDS, POLL_SECONDS
    from al_core.store import default_db_path

    name = f"view_key/{view_key.__qualname__}"
    st.session_state[key] = (live_derived(snapshot, name, view_key), time.monotonic())
    experiment_id = snapshot.experiment_id

    def poll() -> None:
        now = live_experiments().snapshot(default_db_path(), experiment_id, LIVE_MAX_AGE)
        shown, drawn_at = st.session_state.get(key, (None, 0.0))
        changed = live_derived(now, name, view_key) != shown
        if changed and time.monotonic() - drawn_at >= MIN_REDRAW_SECONDS:
            st.session_state[_LIVE_REDRAW] = True
            st.rerun()
        draw_progress(now)

    st.fragment(poll, run_every=POLL_SECONDS)()


#: How long the runner's health is shared between sessions (seconds): every open page's
#: sidebar asks every 5 s and the Experiments monitor every 2 s; the store answers once
#: per second. (The monitor's progress is kept per version of the experiments instead:
#: pages/experiments.py.)
SHARED_SECONDS = 1.0


def _runner_health_cache() -> Any:
    import streamlit as st

    from al_core.runner import runner_health
    from al_core.store import Store

    @st.cache_data(ttl=SHARED_SECONDS, show_spinner=False)
    def _health(db_path: str) -> dict[str, Any] | None:
        with Store(db_path) as store:
            return runner_health(store)

    return _health


def shared_runner_health(*, fresh: bool = False) -> dict[str, Any] | None:
    """:func:`al_core.runner.runner_health` of this app's store, read at most once per
    :data:`SHARED_SECONDS` for all sessions (the sidebar's line and the monitor);
    ``fresh`` reads it now (after a person started a runner)."""
    from al_core.store import default_db_path

    cache = _runner_health_cache()
    if fresh:
        cache.clear()
    return cache(str(default_db_path()))  # type: ignore[no-any-return]
