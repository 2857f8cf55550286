"""Labeling as a team: annotators, claims, the overlap share and the label an image
trains with when two people answered it.

Pure rules first (no store: :func:`check_annotator`, :func:`is_overlap`,
:func:`choose_item`, :func:`item_labels`; the overlap's own check,
:func:`~al_core.labeling.sessions.check_overlap`, is a session setting's and lives with
the others), then the calls the page makes over a session (:func:`next_item`,
:func:`keep_claim`, :func:`review_list`, :func:`settle`, :func:`set_overlap`).

- **Annotators.** Every answer stores who gave it: a name of 1 to
  :data:`MAX_NAME_LENGTH` printable characters, or :data:`DEFAULT_ANNOTATOR` when
  nobody named themselves (one person alone works as before, and every answer
  stored before schema version 5 is theirs).
- **Claims.** An annotator is handed the first image of the queue (the rest of
  the current batch, then the batch prepared after it:
  :mod:`al_core.labeling.pipeline`) that nobody answered, skipped or holds;
  that *claim* lasts :func:`claim_seconds` (120 s, ``AL_CLAIM_SECONDS``) after its
  last renewal (each draw of the image, and every :func:`claim_renewal_seconds`, a
  quarter of that, while the page is open), so a browser that goes away frees its
  image soon. Two tabs of one annotator
  share the claim (and see one image).
- **Overlap.** A share of the images (the session's ``overlap``, default 10 %,
  in [0, 1)) is deliberately shown to a second annotator: an image is an overlap
  image when a hash of (session seed, item) falls below the share, so the choice
  never changes and needs no state. When the current batch has no image left
  for an annotator, they get the overlap images someone else answered (oldest
  first) as *second opinions*. Any other image is answered by one person only;
  the store refuses a second answer.
- **Training label.** An image's human answers agree: that label (one answer: that
  answer). They differ ("not sure" differs from a class): the image is *disputed*,
  kept out of training (and out of the pool) until a person settles it on the
  review list; the settled label wins.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from al_core.errors import ConfigError
from al_core.labeling.pipeline import queue_items
from al_core.labeling.sessions import DEFAULT_OVERLAP, check_overlap
from al_core.store import DEFAULT_ANNOTATOR, Store
from al_core.store.annotations import Chooser

__all__ = [
    "CLAIM_SECONDS",
    "claim_renewal_seconds",
    "DEFAULT_ANNOTATOR",
    "MAX_NAME_LENGTH",
    "Assignment",
    "ItemLabel",
    "check_annotator",
    "choose_item",
    "claim_seconds",
    "held_by_others",
    "is_overlap",
    "item_labels",
    "keep_claim",
    "next_item",
    "peek_item",
    "release_claim",
    "review_list",
    "set_overlap",
    "settle",
]

MAX_NAME_LENGTH = 40
"""Longest annotator name, in characters."""
CLAIM_SECONDS = 120.0
"""A claim lapses this long after its last renewal (``AL_CLAIM_SECONDS``)."""


# --------------------------------------------------------------------------- checks


def check_annotator(name: object) -> str:
    """The annotator name to store (surrounding spaces removed); :class:`ConfigError`
    with the reason for an empty, overlong or unprintable name."""
    if not isinstance(name, str):
        raise ConfigError(f"an annotator name is text, got {type(name).__name__}")
    cleaned = name.strip()
    if not cleaned:
        raise ConfigError("type your name (at least one character) before saving it")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"a name has at most {MAX_NAME_LENGTH} characters; this one has {len(cleaned)}"
        )
    if any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise ConfigError("a name cannot contain control characters (tabs, line breaks, …)")
    return cleaned


def claim_seconds() -> float:
    """How long a claim lasts without renewal: ``AL_CLAIM_SECONDS`` or :data:`CLAIM_SECONDS`."""
    text = os.environ.get("AL_CLAIM_SECONDS", "")
    try:
        value = float(text)
    except ValueError:
        return CLAIM_SECONDS
    return value if value > 0 and math.isfinite(value) else CLAIM_SECONDS


def claim_renewal_seconds() -> float:
    """How often an open Label page renews its claim: a quarter of :func:`claim_seconds`
    (one small write; a claim outlives three missed renewals)."""
    return claim_seconds() / 4


def is_overlap(seed: int, item: str, overlap: float) -> bool:
    """Whether ``item`` is one of the images shown to a second annotator: a hash of
    (seed, item), read as a number in [0, 1), is below ``overlap``."""
    if overlap <= 0:
        return False
    digest = hashlib.sha256(f"{int(seed)}:{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < overlap


# --------------------------------------------------------------------------- who gets which image


def choose_item(
    *,
    annotator: str,
    batch_items: Sequence[str],
    labels: Sequence[dict[str, Any]],
    skipped: Sequence[str],
    claims: Sequence[dict[str, Any]],
    overlap: float,
    seed: int,
    now: float,
    ttl: float,
) -> tuple[str, bool] | None:
    """The image ``annotator`` labels next, and whether it is a second opinion; None
    when there is nothing for them now.

    First the current batch in its order: an image nobody answered or skipped and
    no other annotator holds (a claim renewed within ``ttl`` seconds of ``now``).
    Then second opinions, oldest first: an overlap image (:func:`is_overlap`) with
    exactly one human answer, by someone else, not pseudo-labeled, that no other
    annotator holds. A second opinion ``annotator`` holds comes before all of these
    while it still is one.
    """
    held = {
        c["item"]
        for c in claims
        if c["annotator"] != annotator and float(c["claimed_at"]) > now - ttl
    }
    answered = {r["item"] for r in labels}
    done = answered | set(skipped)
    humans: dict[str, list[str]] = {}
    pseudo: set[str] = set()
    for row in labels:  # in the order given
        if row["source"] == "human":
            humans.setdefault(row["item"], []).append(row["annotator"])
        else:
            pseudo.add(row["item"])

    def second_opinion(item: str) -> bool:
        who = humans.get(item, [])
        return (
            overlap > 0
            and len(who) == 1
            and who[0] != annotator
            and item not in pseudo
            and item not in held
            and is_overlap(seed, item, overlap)
        )

    # A second opinion being looked at stays while it is one (a new batch arriving
    # does not swap the image under a key about to be pressed).
    mine = [c["item"] for c in claims if c["annotator"] == annotator]
    if mine and second_opinion(mine[0]):
        return mine[0], True
    for item in batch_items:
        if item not in done and item not in held:
            return item, False
    for item in humans:
        if second_opinion(item):
            return item, True
    return None


# --------------------------------------------------------------------------- training labels


@dataclass(frozen=True)
class ItemLabel:
    """What one image trains with, and why."""

    item: str
    label: int | None  # the class (or -1, not sure) it trains with; None while disputed
    status: str  # single | agreed | disputed | settled | pseudo | oracle
    answers: dict[str, int]  # annotator -> label, the human answers
    first_id: int  # id of its first answer: the order images were labeled in


def item_labels(
    labels: Sequence[dict[str, Any]], reviews: Sequence[dict[str, Any]] = ()
) -> dict[str, ItemLabel]:
    """One :class:`ItemLabel` per answered image, in the order first answered.

    ``labels``: the store's answer rows (item, annotator, label, source, id);
    ``reviews``: settled items (item, label). An image with one human answer
    trains with it, with several equal ones with that label (``agreed``), with
    differing ones with none (``disputed``) until a review settles it.
    """
    settled = {r["item"]: int(r["label"]) for r in reviews}
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(labels, key=lambda r: r["id"]):
        rows.setdefault(row["item"], []).append(row)
    result: dict[str, ItemLabel] = {}
    for item, given in rows.items():
        answers = {r["annotator"]: int(r["label"]) for r in given if r["source"] == "human"}
        first_id = int(given[0]["id"])
        if item in settled:
            label, status = settled[item], "settled"
        elif not answers:  # pseudo (or oracle) labels only
            label, status = int(given[0]["label"]), str(given[0]["source"])
        elif len(set(answers.values())) == 1:
            label = next(iter(answers.values()))
            status = "single" if len(answers) == 1 else "agreed"
        else:
            label, status = None, "disputed"
        result[item] = ItemLabel(item, label, status, answers, first_id)
    return result


# --------------------------------------------------------------------------- over a session


@dataclass(frozen=True)
class Assignment:
    """The image handed to an annotator: which, and whether as a second opinion."""

    item: str
    second_opinion: bool


def _session(store: Store, session_id: int) -> tuple[int, float]:
    config = store.session(session_id)["config"]
    return int(config.get("seed", 0)), float(config.get("overlap", DEFAULT_OVERLAP))


def _chooser(annotator: str, seed: int, overlap: float, now: float, picked: list[bool]) -> Chooser:
    def choose(
        batch: dict[str, Any] | None,
        labels: list[dict[str, Any]],
        skips: list[dict[str, Any]],
        claims: list[dict[str, Any]],
    ) -> str | None:
        items, skipped = queue_items(batch, labels, skips)
        choice = choose_item(
            annotator=annotator,
            batch_items=items,
            labels=labels,
            skipped=skipped,
            claims=claims,
            overlap=overlap,
            seed=seed,
            now=now,
            ttl=claim_seconds(),
        )
        picked.append(choice is not None and choice[1])
        return None if choice is None else choice[0]

    return choose


def next_item(
    store: Store, session_id: int, annotator: str = DEFAULT_ANNOTATOR, *, now: float | None = None
) -> Assignment | None:
    """Claim the image ``annotator`` labels next (see :func:`choose_item`), or None
    when the batch is finished or the rest of it is held by others."""
    annotator = check_annotator(annotator)
    seed, overlap = _session(store, session_id)
    picked: list[bool] = []
    now = time.time() if now is None else now
    choose = _chooser(annotator, seed, overlap, now, picked)
    item = store.claim_next_item(
        session_id,
        annotator,
        choose,
        now=now,
        may_ask_again=lambda item: overlap > 0 and is_overlap(seed, item, overlap),
    )
    return None if item is None else Assignment(item, picked[-1])


def peek_item(
    store: Store, session_id: int, annotator: str = DEFAULT_ANNOTATOR, *, now: float | None = None
) -> str | None:
    """The image :func:`next_item` would hand ``annotator`` now, without claiming it
    (the page asks this while it waits for others)."""
    seed, overlap = _session(store, session_id)
    batch, skips = store.session_queue(session_id)
    choose = _chooser(annotator, seed, overlap, time.time() if now is None else now, [])
    return choose(batch, store.labels(session_id), skips, store.claims(session_id))


def keep_claim(store: Store, session_id: int, annotator: str = DEFAULT_ANNOTATOR) -> bool:
    """Renew ``annotator``'s claim: their browser is still open. False when none."""
    return store.touch_claim(session_id, annotator)


def release_claim(store: Store, session_id: int, annotator: str = DEFAULT_ANNOTATOR) -> None:
    """Give back the image ``annotator`` holds (e.g. when a browser changes its name)."""
    store.release_claim(session_id, annotator)


def held_by_others(
    store: Store, session_id: int, annotator: str, *, now: float | None = None
) -> dict[str, str]:
    """Images other annotators hold now: item -> annotator."""
    now = time.time() if now is None else now
    limit = now - claim_seconds()
    return {
        c["item"]: c["annotator"]
        for c in store.claims(session_id)
        if c["annotator"] != annotator and c["claimed_at"] > limit
    }


def review_list(store: Store, session_id: int) -> list[ItemLabel]:
    """The disputed images (answers that differ, not settled yet), oldest first."""
    labels = item_labels(store.labels(session_id), store.reviews(session_id))
    return [entry for entry in labels.values() if entry.status == "disputed"]


def settle(
    store: Store, session_id: int, item: str, label: int, annotator: str = DEFAULT_ANNOTATOR
) -> None:
    """``annotator`` settles a disputed image as ``label`` (a class, or -1: not sure);
    it trains with that label from the next retrain on."""
    annotator = check_annotator(annotator)
    classes = len(store.session(session_id)["config"]["class_names"])
    if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < classes:
        raise ConfigError(f"label {label!r} is out of range: 0..{classes - 1} or -1 (not sure)")
    entry = item_labels(store.labels(session_id), store.reviews(session_id)).get(item)
    if entry is None or len(entry.answers) < 2:
        raise ConfigError(
            f"item {item} was not answered by two annotators: there is nothing to settle"
        )
    store.set_review(session_id, item, label, annotator)


def set_overlap(store: Store, session_id: int, overlap: object) -> float:
    """Change a session's overlap share (checked first: a bad value changes nothing)."""
    share = check_overlap(overlap)
    config = dict(store.session(session_id)["config"])
    config["overlap"] = share
    store.set_session_config(session_id, config)
    return share
