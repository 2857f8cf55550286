"""Labeling as a team: claims (which annotator holds which image now) and reviews
(the label a person settled for an image two annotators disagree on).

:class:`AnnotationsMixin` stores what :mod:`al_core.labeling.team` decides; the
decision itself (which image an annotator gets) is a pure function handed to
:meth:`AnnotationsMixin.claim_next_item`, which runs it inside the write
transaction so that two annotators asking at the same moment never get one image.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from al_core.store.schema import StoreBase

#: What a chooser reads: the latest batch (or None; the one before it under
#: ``"previous"``), the answers a choice can depend on (see
#: :meth:`AnnotationsMixin.claim_next_item`), the skips of those two batches (each with
#: its ``round``), every claim of the session; it returns an item or None.
Chooser = Callable[
    [dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]],
    str | None,
]


def queue_items(batch: dict[str, Any] | None) -> list[str]:
    """The images of a queue as :meth:`AnnotationsMixin.session_queue` returns it: the
    latest batch's, then the previous batch's ([] before the first batch)."""
    if batch is None:
        return []
    previous = batch.get("previous")
    return [*batch["items"], *(previous["items"] if previous else ())]


class AnnotationsMixin(StoreBase):
    """Claims and reviews of labeling sessions (part of :class:`~al_core.store.Store`)."""

    # -- claims ----------------------------------------------------------------
    def claim_next_item(
        self,
        session_id: int,
        annotator: str,
        choose: Chooser,
        *,
        now: float | None = None,
        may_ask_again: Callable[[str], bool] = lambda item: True,
    ) -> str | None:
        """Give ``annotator`` the item ``choose`` picks, in one write transaction: the
        annotator's claim (one per session) is set to it, or dropped when it picks
        none. Returns the item.

        ``choose`` is given the answers of the queue's images, of the images claimed and
        of the images answered once by someone else for which ``may_ask_again`` holds
        (a second opinion's candidates), not every answer of the session."""
        now = time.time() if now is None else now
        with self.transaction() as conn:
            batch, skips = self.session_queue(session_id)
            claims = self.claims(session_id)
            # The answers a choice can depend on: of the queue's images, of the images
            # claimed, and of those a second opinion may come from; not all of them
            # (a read inside a transaction is never kept: Store.labels).
            asked_once = self.single_answer_items(session_id, other_than=annotator)
            relevant = {c["item"] for c in claims} | set(filter(may_ask_again, asked_once))
            relevant.update(queue_items(batch))
            labels = self.labels(session_id, items=relevant)
            item = choose(batch, labels, skips, claims)
            if item is None:
                conn.execute(
                    "DELETE FROM label_claims WHERE session_id = ? AND annotator = ?",
                    (session_id, annotator),
                )
            else:
                conn.execute(
                    "INSERT INTO label_claims (session_id, annotator, item, claimed_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (session_id, annotator) "
                    "DO UPDATE SET item = excluded.item, claimed_at = excluded.claimed_at",
                    (session_id, annotator, item, now),
                )
        return item

    def session_queue(self, session_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The latest batch with the one before it under ``"previous"`` (None at the
        start), and the skips of both, each with its ``round``."""
        batches = self.session_batches(session_id, last=2)
        if not batches:
            return None, []
        skips = [
            {**s, "round": int(b["round"])}
            for b in batches
            for s in self.skips(session_id, int(b["round"]))
        ]
        return {**batches[-1], "previous": batches[0] if len(batches) == 2 else None}, skips

    def touch_claim(self, session_id: int, annotator: str, *, now: float | None = None) -> bool:
        """Renew ``annotator``'s claim (the browser is still there); False when none."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE label_claims SET claimed_at = ? WHERE session_id = ? AND annotator = ?",
                (time.time() if now is None else now, session_id, annotator),
            )
        return cursor.rowcount == 1

    def release_claim(self, session_id: int, annotator: str) -> None:
        """Drop ``annotator``'s claim."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM label_claims WHERE session_id = ? AND annotator = ?",
                (session_id, annotator),
            )

    def claims(self, session_id: int) -> list[dict[str, Any]]:
        """Every claim of a session (expired ones too): annotator, item, claimed_at."""
        rows = self.conn.execute(
            "SELECT annotator, item, claimed_at FROM label_claims WHERE session_id = ? "
            "ORDER BY claimed_at",
            (session_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    # -- reviews -----------------------------------------------------------------
    def set_review(self, session_id: int, item: str, label: int, annotator: str) -> None:
        """``annotator`` settles ``item`` as ``label`` (a later review replaces it)."""
        with self.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO label_reviews (session_id, item, label, annotator, created_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, item) DO UPDATE SET "
                    "label = excluded.label, annotator = excluded.annotator, "
                    "created_at = excluded.created_at",
                    (session_id, item, int(label), annotator, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                raise self._explain(exc) from exc

    def remove_review(self, session_id: int, item: str) -> None:
        """Forget how ``item`` was settled (it is a disagreement again)."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM label_reviews WHERE session_id = ? AND item = ?", (session_id, item)
            )

    def reviews(self, session_id: int) -> list[dict[str, Any]]:
        """Every settled item of a session: item, label, annotator, created_at."""
        rows = self.conn.execute(
            "SELECT item, label, annotator, created_at FROM label_reviews WHERE session_id = ? "
            "ORDER BY created_at",
            (session_id,),
        ).fetchall()
        return [dict(r) for r in rows]
