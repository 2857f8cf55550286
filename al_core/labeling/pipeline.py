"""Never waiting: the next batch is prepared while the current one is labeled.

The rule (one loop, :class:`al_core.loop.ActiveLearner`, driven one step at a time):

- **The queue** is the two latest batches, in round order. The *current* batch is
  the earlier one while it still has an image nobody answered or skipped (in its
  round); after it, the latest. Images are handed out in queue order
  (:func:`queue_items`): the rest of the current batch first, then the prepared
  one, so two annotators never run dry when the current batch's last images are
  all claimed.
- **At most one batch ahead.** The worker prepares batch ``latest + 1`` only when
  the latest batch is the only one with open images
  (:func:`open_rounds`); until then a retrain request only refreshes the latest
  batch (below). It trains on every label given so far and queries the next batch
  from the pool *minus the latest batch's open images* (still to be answered).
- **When to prepare** (:func:`next_step`, asked after every answer through
  :func:`wants_next_batch`):
  the latest batch is finished (as before pipelining: a retrain is needed), or
  it is the only open batch and at most :func:`lead_answers` of its images are
  left, the number of answers the person gives while the worker retrains
  (the last retrain's train + score seconds plus :data:`OVERHEAD_SECONDS`, over
  the median seconds of the last answers, rounded up, plus one); half a batch
  while either is unknown. So a fast worker (digits) queries from nearly every
  label, and a slow one (MNIST) starts as soon as a batch is shown.
- **The prepared batch is refreshed** (``"refill"`` of :func:`next_step`, before
  any ``"next"``): a batch prepared early was queried by a model that had not seen
  the current batch's last answers.
  When those answers are in (the current batch finished), or on "Retrain now" while
  the prepared batch waits, the worker trains on every label and replaces the
  prepared batch's images nobody holds (:func:`free_items`: not answered, skipped
  or claimed) by the new model's picks; what an annotator already holds stays.
  So pipelining costs only the first image or two of each batch, not a batch's
  worth of answers (issue 20: the accuracy after 100 labels must not drop).
- The session setting ``pipeline`` (default on) turns the early request off:
  then a retrain is requested only when a batch is finished, as before.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from al_core.labeling.sessions import session_config
from al_core.store import Store

__all__ = [
    "OVERHEAD_SECONDS",
    "can_refill",
    "free_items",
    "is_stale",
    "lead_answers",
    "next_step",
    "open_items",
    "open_rounds",
    "queue",
    "queue_items",
    "wants_next_batch",
]

OVERHEAD_SECONDS = 1.5
"""Added to a retrain's measured train + score seconds: reading labels, writing the
batch's images, the page noticing it."""
_RECENT = 20  # answers whose median seconds estimate the pace


def open_items(
    batch: dict[str, Any], answered: set[str], skips: Sequence[dict[str, Any]]
) -> list[str]:
    """The images of ``batch`` nobody answered (``answered``: items with any answer)
    or skipped in its round (``skips``: rows with ``item`` and ``round``), in order."""
    skipped = {s["item"] for s in skips if int(s.get("round", batch["round"])) == batch["round"]}
    return [i for i in batch["items"] if i not in answered and i not in skipped]


def free_items(
    batch: dict[str, Any],
    labels: Sequence[dict[str, Any]],
    skips: Sequence[dict[str, Any]],
    claims: Sequence[dict[str, Any]],
) -> list[str]:
    """The images of ``batch`` nobody holds: not answered (``labels``), skipped in
    its round (``skips``) or claimed (``claims``, expired ones too: the image may
    still be on a screen); in order. Only these may be replaced by a refill."""
    held = {r["item"] for r in labels} | {c["item"] for c in claims}
    return open_items(batch, held, skips)


def is_stale(
    batch: dict[str, Any],
    labels: Sequence[dict[str, Any]],
    reviews: Sequence[dict[str, Any]] = (),
) -> bool:
    """Whether answers the model that queried ``batch`` did not see have come in since:
    a label of an image outside it, or a settled disagreement, newer than the batch."""
    items = set(batch["items"])
    since = float(batch["created_at"])
    return any(r["item"] not in items and r["created_at"] > since for r in labels) or any(
        r["created_at"] > since for r in reviews
    )


def queue_items(
    batch: dict[str, Any] | None, labels: Sequence[dict[str, Any]], skips: Sequence[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """The queue's images in the order they are handed out, and the skipped ones.

    ``batch`` is the latest batch, with its predecessor under ``"previous"`` (or
    None); ``skips`` carry their ``round``. Returns (the previous batch's open
    images followed by every image of the latest batch, the latest batch's skips).
    """
    if batch is None:
        return [], []
    answered = {r["item"] for r in labels}
    previous = batch.get("previous")
    head = [] if previous is None else open_items(previous, answered, skips)
    latest = [s["item"] for s in skips if int(s.get("round", batch["round"])) == batch["round"]]
    return head + [i for i in batch["items"] if i not in head], latest


def queue(store: Store, session_id: int) -> list[dict[str, Any]]:
    """The two latest batches of a session, in round order (fewer at the start)."""
    return store.session_batches(session_id, last=2)


def open_rounds(store: Store, session_id: int) -> list[int]:
    """Rounds of the queue's batches that still have an open image, in order."""
    batches = queue(store, session_id)
    items = [item for batch in batches for item in batch["items"]]
    answered = {r["item"] for r in store.labels(session_id, items=items)}
    rounds = []
    for batch in batches:
        skips = store.skips(session_id, int(batch["round"]))
        if open_items(batch, answered, skips):
            rounds.append(int(batch["round"]))
    return rounds


def lead_answers(
    batch_size: int, retrain_seconds: float | None, answer_seconds: float | None
) -> int:
    """How many open images are left when the next batch is requested: the answers
    given while the worker retrains, plus one (``ceil(half a batch)`` when a
    duration is unknown); at most ``batch_size``."""
    if retrain_seconds is None or not answer_seconds or answer_seconds <= 0:
        return math.ceil(batch_size / 2)
    lead = math.ceil((retrain_seconds + OVERHEAD_SECONDS) / answer_seconds) + 1
    return max(1, min(batch_size, lead))


def _pace(store: Store, session_id: int) -> tuple[float | None, float | None]:
    """The last retrain's seconds (train + score) and the median seconds per answer."""
    rounds = store.session_rounds(session_id)
    retrain = None
    if rounds:
        last = rounds[-1]
        retrain = float(last["train_seconds"] or 0.0) + float(last["score_seconds"] or 0.0)
    seconds = store.recent_answer_seconds(session_id, _RECENT)
    return retrain, (statistics.median(seconds) if seconds else None)


def can_refill(store: Store, session_id: int, batch: dict[str, Any]) -> bool:
    """Whether ``batch`` (the latest) was queried before answers it did not see and
    still has images nobody holds: a refill would change something."""
    # is_stale looks only at answers newer than the batch, free_items at its own
    newer = store.labels(session_id, since=float(batch["created_at"]))
    if not is_stale(batch, newer, store.reviews(session_id)):
        return False
    skips = store.skips(session_id, int(batch["round"]))
    labels = store.labels(session_id, items=batch["items"])
    return bool(free_items(batch, labels, skips, store.claims(session_id)))


def next_step(store: Store, session_id: int) -> str | None:
    """What the worker should do now, by the module's rule: ``"next"`` (query the
    next batch: none is open, or the latest is nearly done), ``"refill"`` (refresh
    the latest batch, prepared before the one before it was finished), or None."""
    batches = queue(store, session_id)
    if not batches:
        return None
    rounds = open_rounds(store, session_id)
    if not rounds:
        return "next"  # everything is answered: the next batch is needed now
    latest = batches[-1]
    if rounds != [int(latest["round"])] or not session_config(store, session_id).pipeline:
        return None  # a batch is prepared already, or the earlier one is still open
    if len(batches) == 2 and can_refill(store, session_id, latest):
        return "refill"  # first: the next batch is then queried from the fresh ranking
    answered = {r["item"] for r in store.labels(session_id, items=latest["items"])}
    left = len(open_items(latest, answered, store.skips(session_id, int(latest["round"]))))
    if left <= lead_answers(len(latest["items"]), *_pace(store, session_id)):
        return "next"
    return None


def wants_next_batch(store: Store, session_id: int) -> bool:
    """Whether the page should request a retrain now (:func:`next_step` says what)."""
    return next_step(store, session_id) is not None
