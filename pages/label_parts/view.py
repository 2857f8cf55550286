"""The labeler's view of the Label page (pages/label.py): the screen a person labels
in. The image, its class buttons with their keys, skip / not sure / undo, the batch
progress and why this image; the keyboard queue; the fragment that polls the
background retraining. Every answer is written to the store in the button's
callback (or the key's, :mod:`al_core.labeling.keys`)."""

from __future__ import annotations

import contextlib
import functools
import time
import uuid

import streamlit as st

from al_core import labeling
from al_core.errors import ALError
from al_core.store import Store
from pages import answer_keys, queued_keys
from pages.label_parts.admin import label_name, me, retrain


def _seconds_on(item: str) -> float | None:
    shown = st.session_state.get("shown_at")
    if shown and shown[0] == item:
        return time.monotonic() - shown[1]
    return None


def _answer(session_id: int, item: str, label: int, relabel: bool = False) -> None:
    with Store() as store:
        try:
            result = labeling.answer(
                store,
                session_id,
                item,
                label,
                annotator=me(),
                seconds=_seconds_on(item),
                relabel=relabel,
            )
        except ALError as exc:
            st.session_state["label_error"] = str(exc)
            return
        st.session_state.pop("conflict", None)
        if result.taken_by is not None:
            st.session_state["taken"] = (item, result.taken_by)
        elif not result.stored:
            st.session_state["conflict"] = (item, label, result.existing)
        if result.batch_finished or result.prepare_next:
            labeling.request_retrain(store, session_id)


def _skip(session_id: int, item: str) -> None:
    with Store() as store:
        finished = labeling.skip(store, session_id, item, me())
        if finished or labeling.wants_next_batch(store, session_id):
            labeling.request_retrain(store, session_id)


def _apply_keys(session_id: int, config: labeling.SessionConfig) -> None:
    """Apply the key presses the browser queued, in order (al_core.labeling.keys)."""
    applied = int(st.session_state.get("keys_applied", 0))
    pending = labeling.pending_keys(queued_keys(), applied)
    if not pending:
        return
    annotator, actions = me(), labeling.action_keys(config.class_names)
    with Store() as store:
        for seq, key, item in pending:
            undoing = actions.get(key.upper()) == "undo"
            before = _answers_of(store, session_id, annotator) if undoing else {}
            try:
                done = labeling.apply_key(
                    store, session_id, key, annotator, item=item, seconds=_seconds_on
                )
            except ALError as exc:
                st.session_state["label_error"] = str(exc)
                done = None
            st.session_state["keys_applied"] = seq
            if done is None:
                continue
            if done.action == "undo":
                st.session_state["undone"] = _undone_message(config, before, done.item)
            elif done.answer is not None and done.answer.taken_by is not None:
                st.session_state["taken"] = (done.item, done.answer.taken_by)
            if done.prepare_next:
                labeling.request_retrain(store, session_id)


def _answers_of(store: Store, session_id: int, annotator: str) -> dict[str, int]:
    """``annotator``'s answers, item -> label: what an undo's message names."""
    rows = store.labels(session_id)
    return {r["item"]: r["label"] for r in rows if r["annotator"] == annotator}


def _undone_message(
    config: labeling.SessionConfig, before: dict[str, int], undone: str | None
) -> str:
    """What an undo took back (``before``: the answers before it, :func:`_answers_of`)."""
    if undone is None:
        return "Nothing to undo in this batch."
    if undone in before:
        return f"Undid your answer **{label_name(config, before[undone])}** for item {undone}."
    return f"Undid the skip of item {undone}."


def _undo(session_id: int) -> None:
    annotator = me()
    with Store() as store:
        config = labeling.SessionConfig.from_dict(store.session(session_id)["config"])
        before = _answers_of(store, session_id, annotator)
        undone = labeling.undo(store, session_id, annotator)
    st.session_state["undone"] = _undone_message(config, before, undone)


@st.fragment
def labeling_view(session_id: int, config: labeling.SessionConfig) -> None:
    shown: list[str] = []
    keys_slot = st.container()  # first on the page, filled last
    _labeling_body(session_id, config, shown)
    # The keyboard queue, told what this drawing shows (al_core.labeling.keys).
    if "keys_epoch" not in st.session_state:
        st.session_state["keys_epoch"] = uuid.uuid4().hex
    with keys_slot:
        answer_keys(
            list(labeling.action_keys(config.class_names)),
            int(st.session_state.get("keys_applied", 0)),
            st.session_state["keys_epoch"],
            shown[0] if shown else None,
            functools.partial(_apply_keys, session_id, config),
        )


def _labeling_body(session_id: int, config: labeling.SessionConfig, shown: list[str]) -> None:
    image, image_error, current, assignment, held = None, None, None, None, {}
    with Store() as store:
        batch = labeling.current_batch(store, session_id, me())
        if batch is not None:
            try:  # claims the image: nobody else is handed it while this browser is here
                assignment = labeling.next_item(store, session_id, me())
            except ALError:  # a store this server cannot write: show the batch as it is
                first = batch.current
                assignment = None if first is None else labeling.Assignment(first.item, False)
            held = labeling.held_by_others(store, session_id, me())
        if assignment is not None:
            current = labeling.find_item(store, session_id, assignment.item)
            try:
                image = labeling.item_image(store, session_id, assignment.item)
            except ALError as exc:
                image_error = str(exc)
        counts = labeling.counts(store, session_id)
    st.session_state["shown_round"] = None if batch is None else batch.round
    # Nothing to label now: the status fragment reruns the page when something comes.
    st.session_state["waiting"] = batch is not None and current is None
    # Inside the fragment, so the counts follow every answer (not only page reruns).
    st.caption(
        f"{counts['human']} labels, {counts['not_sure']} not sure, {counts['pseudo']} pseudo"
    )
    if undone := st.session_state.pop("undone", None):
        st.info(undone, icon=":material/undo:")
    if batch is None:
        st.info("Preparing the first batch in the background…")
        return
    if error := st.session_state.pop("label_error", None):
        st.error(error)
    if taken := st.session_state.pop("taken", None):
        st.warning(
            f"Item {taken[0]} is with **{taken[1]}** (answered, or handed to them after this "
            "browser was idle); your answer was not stored. Here is your next image."
        )
    if conflict := st.session_state.get("conflict"):
        item, label, existing = conflict
        st.warning(
            f"Item {item} was already labeled "
            f"**{label_name(config, existing)}** (in another tab?); nothing was changed."
        )
        st.button(
            f"Relabel item {item} as {label_name(config, label)}",
            on_click=_answer,
            args=(session_id, item, label, True),
        )
    answered, total = batch.done, len(batch.items)
    st.progress(answered / total, text=f"Batch {batch.round + 1}: {answered} of {total} answered")
    if current is None:
        if batch.finished:
            st.success(
                "Batch done. The model retrains in the background; the next batch appears here."
            )
        else:
            others = sorted(set(held.values()))
            st.info(
                f"The rest of this batch is with {', '.join(others) or 'other annotators'}. "
                "Your next image appears here when there is one."
            )
        st.button("Undo the last answer", on_click=_undo, args=(session_id,), shortcut="U")
        return
    # Always one element here (empty unless a second opinion), so that the widgets
    # below keep their places and Streamlit does not show stale copies while it redraws.
    note = st.empty()
    if assignment is not None and assignment.second_opinion:
        note.info(
            f"**Second opinion.** Another annotator labeled this image; it is one of the "
            f"{config.overlap:.0%} shown to two people to measure agreement (their answer "
            "is hidden). Answer as you see it, or Not sure.",
            icon=":material/group:",
        )
    if st.session_state.get("shown_at", (None,))[0] != current.item:
        st.session_state["shown_at"] = (current.item, time.monotonic())
    shown.append(current.item)
    left, right = st.columns([3, 2])
    if image is None:
        left.error(f"{image_error} Skip it, or label it from its file name: item {current.item}.")
    else:
        left.image(image, caption=f"item {current.item}", width="content")
    with right:
        st.markdown(f"**Why this image?** {labeling.why_picked(current, config)}")
        if current.top3:
            # Plain text, not a data frame: this part redraws on every answer.
            st.markdown(
                "The model's top 3:\n"
                + "\n".join(
                    f"{rank}. **{config.class_names[k]}** — {p:.0%}"
                    for rank, (k, p) in enumerate(current.top3, start=1)
                )
            )
    # Each button reads its class name as the session has it ("0" … "9" for the digits);
    # Streamlit shows the button's shortcut key beside it. One horizontal container
    # that wraps, not a grid of columns: this part redraws on every answer, and each
    # column is one more message and element to draw (key -> next, issue 29).
    keys = labeling.shortcut_keys(config.class_names)
    with st.container(horizontal=True, gap="small"):
        for k, name in enumerate(config.class_names):
            st.button(
                name,
                key=f"class_{k}",
                on_click=_answer,
                args=(session_id, current.item, k),
                shortcut=keys[k],
                width="stretch",
            )
    with st.container(horizontal=True, gap="small"):
        if assignment is None or not assignment.second_opinion:  # a second opinion is not skipped
            st.button("Skip", on_click=_skip, args=(session_id, current.item), shortcut="S")
        st.button(
            "Not sure",
            on_click=_answer,
            args=(session_id, current.item, labeling.NOT_SURE),
            shortcut="N",
        )
        st.button("Undo", on_click=_undo, args=(session_id,), shortcut="U")


@st.fragment(run_every=1.0)
def status_view(session_id: int) -> None:
    """Every second: the retraining line, and a rerun of the page when the batch to
    label changed or a waited-for image was freed. Cheap while nothing changes: the
    batch is looked at again only when the session's answers, skips or batches did
    (:meth:`~al_core.store.Store.session_version`), and the claim on the image shown is
    renewed every :func:`~al_core.labeling.claim_renewal_seconds`, not every second."""
    with Store() as store:
        state = labeling.job_state(store, session_id)
        version = (session_id, me(), *store.session_version(session_id))
        changed = version != st.session_state.get("status_version")
        if changed:
            st.session_state["status_version"] = version
            latest = labeling.current_batch(store, session_id, me())
        renewed = st.session_state.get("claim_renewed_at", 0.0)
        if time.monotonic() - renewed >= labeling.claim_renewal_seconds():
            st.session_state["claim_renewed_at"] = time.monotonic()
            with contextlib.suppress(ALError):  # (a read-only store holds no claims)
                labeling.keep_claim(store, session_id, me())  # this browser is still here
        ready = st.session_state.get("waiting") and labeling.peek_item(store, session_id, me())
    if changed and (None if latest is None else latest.round) != st.session_state.get(
        "shown_round"
    ):
        st.rerun()  # the batch being labeled changed (a new one arrived): show it
    if ready:
        st.rerun()  # an image was freed (or a second opinion came) while this one waited
    if state.status in ("queued", "running"):
        st.info(f"Retraining in the background ({state.status})… you can keep labeling.")
    elif state.status == "failed":
        st.error(f"Retraining failed: {state.error}")
        st.button("Retry", on_click=retrain, args=(session_id,))
    else:
        st.caption("Background retraining: idle.")
