"""What a person does in a session: the current batch, answers (label, not sure,
skip, undo), auto-label review, and the progress and audit read back.

Each call takes the ``annotator`` who acts (default :data:`DEFAULT_ANNOTATOR`,
one person alone); :mod:`al_core.labeling.team` says who is handed which image."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from al_core.errors import ConfigError
from al_core.labeling import pipeline, team
from al_core.labeling.sessions import (
    _TRUTH_FILE,
    NOT_SURE,
    SessionConfig,
    session_config,
    session_dir,
)
from al_core.store import DEFAULT_ANNOTATOR, Store
from al_core.store.annotations import queue_items

# --------------------------------------------------------------------------- batch state


@dataclass(frozen=True)
class BatchItem:
    """One queried item and why it was picked."""

    item: str  # pool index, as stored
    score: float | None  # uncertainty score (None for a cold-start pick)
    top3: tuple[tuple[int, float], ...]  # (class index, probability), best first
    label: int | None = None  # the answer given, NOT_SURE, or None
    skipped: bool = False

    @property
    def answered(self) -> bool:
        return self.label is not None or self.skipped


@dataclass(frozen=True)
class BatchView:
    """The batch being labeled now."""

    round: int
    kind: str
    items: tuple[BatchItem, ...]

    @property
    def done(self) -> int:
        return sum(item.answered for item in self.items)

    @property
    def current(self) -> BatchItem | None:
        """The first item without an answer, or None when the batch is finished."""
        return next((item for item in self.items if not item.answered), None)

    @property
    def finished(self) -> bool:
        return self.current is None


def current_batch(store: Store, session_id: int, annotator: str | None = None) -> BatchView | None:
    """The batch being labeled with each item's answer, or None before the first: the
    earlier of the queue's two batches while it has an open image, else the latest
    (:mod:`al_core.labeling.pipeline`).

    An item is answered when anyone answered or skipped it; its ``label`` is
    ``annotator``'s answer when they gave one, else the first answer given."""
    latest, all_skips = store.session_queue(session_id)
    if latest is None:
        return None
    previous = latest["previous"]
    rows = store.labels(session_id, items=queue_items(latest))
    answered = {r["item"] for r in rows}
    batch = latest
    if previous is not None and pipeline.open_items(previous, answered, all_skips):
        batch = previous
    labels: dict[str, int] = {}
    for r in rows:
        if r["item"] not in labels or r["annotator"] == annotator:
            labels[r["item"]] = r["label"]
    skipped = {r["item"] for r in all_skips if r["round"] == batch["round"]}
    items = tuple(
        BatchItem(
            item=item,
            score=score,
            top3=tuple((int(k), float(p)) for k, p in top3 or ()),
            label=labels.get(item),
            skipped=item in skipped and item not in labels,
        )
        for item, score, top3 in zip(batch["items"], batch["scores"], batch["top3"], strict=True)
    )
    return BatchView(round=batch["round"], kind=batch["kind"], items=items)


def find_item(store: Store, session_id: int, item: str) -> BatchItem | None:
    """An item as queried in the latest batch that holds it (a second opinion may be
    from an earlier batch), with why it was picked; None when never queried."""
    for batch in reversed(store.session_batches(session_id)):
        if item in batch["items"]:
            i = batch["items"].index(item)
            top3 = batch["top3"][i] or ()
            return BatchItem(
                item=item,
                score=batch["scores"][i],
                top3=tuple((int(k), float(p)) for k, p in top3),
            )
    return None


@dataclass(frozen=True)
class AnswerResult:
    stored: bool  # False: another tab already labeled the item (not overwritten)
    existing: int | None  # the label already stored when not stored
    batch_finished: bool
    # Not stored because another annotator answered the item, or holds it now: who.
    taken_by: str | None = None
    # Request a retrain now: the next batch is wanted (al_core.labeling.pipeline).
    prepare_next: bool = False


def _check_item(
    store: Store,
    session_id: int,
    item: str,
    annotator: str | None = None,
    config: SessionConfig | None = None,
) -> int | None:
    """The round of the queue's batch that holds ``item`` (the latest, or the one
    before while ``item`` is open in it); None when it is a second opinion
    ``annotator`` may give (an overlap image someone else answered)."""
    batch, skips = store.session_queue(session_id)
    if batch is not None and item in batch["items"]:
        return int(batch["round"])
    previous = None if batch is None else batch["previous"]
    if previous is not None and item in previous["items"]:
        answered = {r["item"] for r in store.labels(session_id) if r["item"] == item}
        if item in pipeline.open_items(previous, answered, skips):  # still to be answered
            return int(previous["round"])
    if annotator is not None and config is not None and config.overlap > 0:
        others = [
            r
            for r in store.labels(session_id)
            if r["item"] == item and r["source"] == "human" and r["annotator"] != annotator
        ]
        if others and team.is_overlap(config.seed, item, config.overlap):
            return None
    raise ConfigError(
        f"item {item} is not in the current batch of session {session_id}; reload the page"
    )


def answer(
    store: Store,
    session_id: int,
    item: str,
    label: int,
    *,
    annotator: str = DEFAULT_ANNOTATOR,
    seconds: float | None = None,
    relabel: bool = False,
) -> AnswerResult:
    """Store ``annotator``'s label (``0..K-1``, or :data:`NOT_SURE`) for a batch item
    (or a second opinion, :func:`al_core.labeling.team.choose_item`), now.

    Their label already stored (e.g. from another tab) is kept unless ``relabel``.
    Nothing is stored when another annotator holds the item now, or answered it
    (two may answer an overlap image): ``taken_by`` says who.
    """
    annotator = team.check_annotator(annotator)
    config = session_config(store, session_id)
    if not NOT_SURE <= int(label) < len(config.class_names):
        raise ConfigError(
            f"label {label} is out of range: 0..{len(config.class_names) - 1} or -1 (not sure)"
        )
    round_index = _check_item(store, session_id, item, annotator, config)
    stored = store.add_label(
        session_id,
        item,
        int(label),
        "human",
        annotator=annotator,
        seconds=seconds,
        relabel=relabel,
        max_annotators=2 if team.is_overlap(config.seed, item, config.overlap) else 1,
        claims_after=time.time() - team.claim_seconds(),
    )
    existing, taken_by = None, None
    if stored:
        if round_index is not None:
            store.remove_skip(session_id, round_index, item)
    elif (own := store.label_of(session_id, item, annotator)) is not None:
        existing = own["label"]
    else:
        holders = team.held_by_others(store, session_id, annotator)
        other = store.label_of(session_id, item, None)
        taken_by = holders.get(item) or (other["annotator"] if other else "another annotator")
    batch = current_batch(store, session_id, annotator)
    return AnswerResult(
        stored,
        existing,
        batch is not None and batch.finished,
        taken_by,
        stored and pipeline.wants_next_batch(store, session_id),
    )


def skip(store: Store, session_id: int, item: str, annotator: str = DEFAULT_ANNOTATOR) -> bool:
    """``annotator`` skips a batch item (it stays in the pool); True when the batch is
    now finished."""
    annotator = team.check_annotator(annotator)
    round_index = _check_item(store, session_id, item)
    assert round_index is not None
    if store.label_of(session_id, item, None) is None:
        store.add_skip(session_id, round_index, item, annotator)
    batch = current_batch(store, session_id)
    return batch is not None and batch.finished


def undo(store: Store, session_id: int, annotator: str = DEFAULT_ANNOTATOR) -> str | None:
    """Take back ``annotator``'s latest answer (label, not sure or skip) in the queue's
    two batches (the latest and the one before: an undo reaches back across a batch
    boundary, also after the latest was refreshed), or a second opinion they gave
    since the earlier of them was queried.

    Returns the item whose answer was removed, or None when there is none.
    """
    annotator = team.check_annotator(annotator)
    latest, skips = store.session_queue(session_id)
    if latest is None:
        return None
    previous = latest["previous"]
    rows = store.labels(session_id)
    # The queue's batches: the latest, and the one before (open or not).
    batches = [latest] if previous is None else [previous, latest]
    in_batch = set(queue_items(latest))
    rounds = {int(b["round"]) for b in batches}
    since = batches[0]["created_at"]
    actions = [
        (r["created_at"], "label", r["item"], None)
        for r in rows
        if r["source"] == "human"
        and r["annotator"] == annotator
        and (r["item"] in in_batch or r["created_at"] >= since)
    ]
    actions += [
        (r["created_at"], "skip", r["item"], r["round"])
        for r in skips
        if r["annotator"] == annotator and r["round"] in rounds
    ]
    if not actions:
        return None
    _, kind, item, round_index = max(actions)
    if kind == "label":
        store.remove_label(session_id, item, annotator)
    else:
        store.remove_skip(session_id, round_index, item)
    return item


def shortcut_keys(class_names: Sequence[str]) -> list[str | None]:
    """Keyboard key of each class button: the digit itself when the classes are the
    digits 0-9 (MNIST, digits), else 1-9 then 0 by position; None past the tenth."""
    if list(class_names) == [str(i) for i in range(10)]:
        return list(class_names)
    keys = [*"123456789", "0"]
    return [keys[i] if i < len(keys) else None for i in range(len(class_names))]


def why_picked(item: BatchItem, config: SessionConfig) -> str:
    """One line saying why an item is in the batch."""
    if item.score is None:
        how = (
            "as the most typical image of a k-means region of the pool"
            if config.cold_start == "clusters"
            else "at random"
        )
        return f"Picked {how}: there is no trained model yet (cold start)."
    return f"Uncertainty ({config.strategy.replace('_', ' ')}): {item.score:.3f}."


# --------------------------------------------------------------------------- auto-labeling


def proposals(store: Store, session_id: int) -> list[dict[str, Any]]:
    """Unreviewed auto-label proposals of the current batch's model: item, label,
    confidence; items labeled since are left out."""
    batch = store.latest_session_batch(session_id)
    if batch is None or batch["proposals_reviewed_at"] is not None:
        return []
    labeled = {r["item"] for r in store.labels(session_id)}
    return [p for p in batch["proposals"] if p["item"] not in labeled]


def review_proposals(
    store: Store,
    session_id: int,
    accepted: Sequence[str],
    annotator: str = DEFAULT_ANNOTATOR,
) -> int:
    """Store the ``accepted`` proposals as ``pseudo`` labels (the rest are rejected),
    as reviewed by ``annotator``; returns how many were stored. Items labeled
    meanwhile keep their label."""
    annotator = team.check_annotator(annotator)
    batch = store.latest_session_batch(session_id)
    if batch is None:
        return 0
    wanted = set(accepted)
    stored = 0
    for proposal in proposals(store, session_id):
        if proposal["item"] in wanted:
            stored += store.add_label(
                session_id,
                proposal["item"],
                proposal["label"],
                "pseudo",
                annotator=annotator,
                max_annotators=1,
            )
    store.mark_proposals_reviewed(session_id, batch["round"])
    return stored


def set_use_pseudo(store: Store, session_id: int, use: bool) -> None:
    """Include (True) or exclude pseudo-labels from training at the next retrain."""
    store.session(session_id)
    store.set_session_use_pseudo(session_id, use)


# --------------------------------------------------------------------------- progress, audit


def counts(store: Store, session_id: int) -> dict[str, int]:
    """Labels of the session by kind: human, not_sure, pseudo."""
    return store.label_counts(session_id)


def learning_curve(store: Store, session_id: int) -> list[dict[str, Any]]:
    """The session's points: round, labeled (human labels trained on), pseudo_labeled,
    held_out, test_accuracy, …"""
    return store.session_rounds(session_id)


@dataclass(frozen=True)
class Audit:
    """Human labels against the hidden truth (built-in sets)."""

    per_class: list[dict[str, Any]]  # class, labeled, agreed, agreement
    agreement: float | None
    labeled: int
    simulated: list[dict[str, Any]]  # rounds of the simulated run (labeled, test_accuracy)
    simulation_status: str | None


def audit(store: Store, session_id: int) -> Audit:
    """Agreement of the human labels with the hidden truth, per true class, and the
    simulated curve of the same configuration when it was run."""
    config = session_config(store, session_id)
    if config.source != "builtin":
        raise ConfigError("the audit needs hidden ground truth: it exists for built-in sets only")
    truth_path = session_dir(store, session_id) / _TRUTH_FILE
    rows = [r for r in store.labels(session_id) if r["source"] == "human" and r["label"] >= 0]
    per_class, agreed_total = [], 0
    if rows and truth_path.is_file():
        truth = np.load(truth_path)
        items = np.array([int(r["item"]) for r in rows])
        given = np.array([r["label"] for r in rows])
        true = truth[items]
        for k, name in enumerate(config.class_names):
            mask = true == k
            n = int(mask.sum())
            agreed = int((given[mask] == k).sum())
            agreed_total += agreed
            per_class.append(
                {
                    "class": name,
                    "labeled": n,
                    "agreed": agreed,
                    "agreement": agreed / n if n else None,
                }
            )
    session = store.session(session_id)
    simulated, status = [], None
    if session["audit_experiment_id"] is not None:
        trials = store.trials(session["audit_experiment_id"])
        if trials:
            simulated = store.rounds(trials[0]["id"])
            status = trials[0]["status"]
    return Audit(
        per_class=per_class,
        agreement=agreed_total / len(rows) if per_class else None,
        labeled=len(rows),
        simulated=simulated,
        simulation_status=status,
    )
