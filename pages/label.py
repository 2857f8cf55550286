"""Label: hand-label the images the model is least sure about.

A thin page over :mod:`al_core.labeling`, in two halves: the labeler's view first
(:mod:`pages.label_parts.view`: the image, its buttons with their keys, the batch
progress, why this image; it fits one screen), the session's administration below
it and in the sidebar (:mod:`pages.label_parts.admin`). The chosen session is kept
in the URL (``?session=ID``), so a reload comes back to it.
"""

from __future__ import annotations

import streamlit as st

from al_core import labeling
from al_core.store import Store
from pages import require_app_navigation
from pages.label_parts import admin, view

require_app_navigation()

with Store() as store:
    sessions = labeling.list_sessions(store)
ids = [s["id"] for s in sessions]
param = st.query_params.get("session", "")
session_id = int(param) if param.isdigit() and int(param) in ids else None

if not sessions:
    st.title("Label")
    with st.expander("New labeling session", expanded=True):
        admin.new_session_form()
    admin.import_report()
    st.info("No labeling session yet: create one above.")
    st.stop()

# The labeler's screen comes first and fits one screen (1280 x 800): the image, its
# class buttons with their keys, skip / not sure / undo, the batch progress and why
# this image. Choosing the session and one's name live in the sidebar; the curve,
# team, audit, review, exports and new sessions below.
task = st.container()
by_id = {s["id"]: s for s in sessions}
session_id = session_id if session_id is not None else ids[0]
with st.sidebar:
    st.selectbox(
        "Labeling session",
        ids,
        index=ids.index(session_id),
        format_func=lambda i: f"{i} · {by_id[i]['name']} · {by_id[i]['pool']}",
        key="session_choice",
        on_change=admin.select_session,
    )
    admin.import_report()
    admin.annotator_box(session_id)

with Store() as store:
    row = store.session(session_id)
    config = labeling.SessionConfig.from_dict(row["config"])
    curve = labeling.learning_curve(store, session_id)
    audit = labeling.audit(store, session_id) if config.source == "builtin" else None
    proposals = labeling.proposals(store, session_id)

with task:
    st.caption(
        f"**{by_id[session_id]['name']}** · {config.dataset or config.source} · model "
        f"{config.model} · {config.strategy.replace('_', ' ')} · batches of {config.batch}"
    )
    view.labeling_view(session_id, config)
    view.status_view(session_id)

st.subheader("Learning curve · when can I stop?")
st.caption(labeling.evaluation_note(config))
if curve:
    admin.stopping_section(session_id, config, audit)
else:
    st.caption("The first point appears after the first batch is labeled and the model retrained.")
st.button("Retrain now", on_click=admin.retrain, args=(session_id,), help="with the labels so far")
if audit is not None:
    admin.audit_section(session_id, audit)
admin.team_section(session_id, config)
admin.proposals_section(session_id, config, bool(row["use_pseudo"]), proposals)
admin.export_section(session_id)

st.subheader("Sessions")
with admin.lazy_expander("New labeling session", "new_session_open") as new_session:
    if new_session.open:
        admin.new_session_form()
