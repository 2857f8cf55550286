"""Keyboard answers, applied in the order pressed.

The Label page numbers every key press in the browser and sends the whole list of
presses not yet applied each time (so a press made while the page redraws is
never lost). The page applies them here, in order of their number. A key pressed
on a page that has drawn every earlier key carries the image shown, and answers
that image. A key pressed before the page redrew (a burst) carries none and
answers the image the annotator holds *when it is applied*: after a class key the
next image is handed out, so a burst answers consecutive images; after ``U``
(undo) the undone image is handed back, so the key after it answers that image. Keys:
the class keys of :func:`~al_core.labeling.answers.shortcut_keys`, ``S`` skip,
``N`` not sure, ``U`` undo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from al_core.labeling import answers, team
from al_core.labeling.pipeline import wants_next_batch
from al_core.labeling.sessions import NOT_SURE, session_config
from al_core.store import DEFAULT_ANNOTATOR, Store

__all__ = ["KeyResult", "action_keys", "apply_key", "pending_keys"]

SKIP, NOT_SURE_KEY, UNDO = "S", "N", "U"


def action_keys(class_names: Sequence[str]) -> dict[str, int | str]:
    """Key (upper case) -> a class index, or ``"skip"``, ``"not sure"``, ``"undo"``."""
    keys: dict[str, int | str] = {
        k.upper(): i for i, k in enumerate(answers.shortcut_keys(class_names)) if k is not None
    }
    keys.update({SKIP: "skip", NOT_SURE_KEY: "not sure", UNDO: "undo"})
    return keys


def pending_keys(
    events: Sequence[dict[str, Any]], applied: int
) -> list[tuple[int, str, str | None]]:
    """The presses numbered above ``applied``, as (number, key, item shown or None),
    in order, each once."""
    seen: dict[int, tuple[str, str | None]] = {}
    for event in events:
        try:
            seq, key = int(event["seq"]), str(event["key"])
        except (KeyError, TypeError, ValueError):
            continue
        item = event.get("item")
        if seq > applied:
            seen.setdefault(seq, (key, None if item is None else str(item)))
    return [(seq, key, item) for seq, (key, item) in sorted(seen.items())]


@dataclass(frozen=True)
class KeyResult:
    """What one key press did: ``action`` (a class index, "skip", "not sure", "undo"
    or None for a key that means nothing here), the ``item`` it applied to (None:
    there was no image to answer, or nothing to undo), the stored answer's
    :class:`~al_core.labeling.answers.AnswerResult`, and whether the next batch is
    wanted now (request a retrain)."""

    action: int | str | None
    item: str | None
    answer: answers.AnswerResult | None = None
    prepare_next: bool = False


def apply_key(
    store: Store,
    session_id: int,
    key: str,
    annotator: str = DEFAULT_ANNOTATOR,
    *,
    item: str | None = None,
    seconds: Callable[[str], float | None] | None = None,
) -> KeyResult:
    """Apply one key press of ``annotator``: to ``item``, the image the page showed
    when the key was pressed on a page that had drawn every earlier key; else (None:
    pressed before the page redrew) to the image they hold now (claimed here,
    :func:`~al_core.labeling.team.next_item`). ``seconds(item)`` says how long it
    was shown (stored with the answer)."""
    config = session_config(store, session_id)
    action = action_keys(config.class_names).get(key.upper())
    if action is None:
        return KeyResult(None, None)
    if action == "undo":
        undone = answers.undo(store, session_id, annotator)
        return KeyResult(action, undone)
    second_opinion = False
    if item is None:
        assignment = team.next_item(store, session_id, annotator)
        if assignment is None:
            return KeyResult(action, None)
        item, second_opinion = assignment.item, assignment.second_opinion
    if action == "skip":
        if second_opinion:  # a second opinion is not skipped
            return KeyResult(action, None)
        finished = answers.skip(store, session_id, item, annotator)
        return KeyResult(action, item, None, finished or wants_next_batch(store, session_id))
    label = NOT_SURE if action == "not sure" else int(action)
    result = answers.answer(
        store,
        session_id,
        item,
        label,
        annotator=annotator,
        seconds=None if seconds is None else seconds(item),
    )
    return KeyResult(action, item, result, result.batch_finished or result.prepare_next)
