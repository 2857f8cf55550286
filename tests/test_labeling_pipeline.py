"""Never waiting (al_core.labeling.pipeline and .keys): the next batch is prepared
while the current one is labeled, by the session worker's own code (a real
ActiveLearner on digits, a real SQLite store), and keyboard answers are applied in
the order pressed."""

from __future__ import annotations

import pytest

from al_core import labeling
from al_core.labeling.pipeline import lead_answers, next_step, queue_items
from al_core.store import Store
from tests.app_helpers import retrain_session, session_truth

FAST = {"batch": 10, "epochs": 5, "model": "mlp"}


@pytest.fixture
def store(data_store: Store) -> Store:
    return data_store


def test_lead_answers_covers_the_retrain_and_falls_back_to_half_a_batch() -> None:
    assert lead_answers(10, None, 2.0) == 5 and lead_answers(5, 3.0, None) == 3
    # 1 s of retrain + 1.5 s overhead at 1 s per answer: 3 answers, plus one.
    assert lead_answers(10, 1.0, 1.0) == 4
    assert lead_answers(10, 20.0, 1.0) == 10  # a slow worker starts at once
    assert lead_answers(10, 0.0, 100.0) == 2  # a slow person: with two images left


def test_queue_hands_out_the_rest_of_the_earlier_batch_first() -> None:
    previous = {"round": 0, "items": ["a", "b", "c"]}
    latest = {"round": 1, "items": ["d", "e"], "previous": previous}
    labels = [{"item": "a"}]
    skips = [{"item": "b", "round": 0}, {"item": "e", "round": 1}]
    assert queue_items(latest, labels, skips) == (["c", "d", "e"], ["e"])
    assert queue_items(None, labels, skips) == ([], [])


def test_the_next_batch_is_prepared_before_this_one_is_finished(store: Store) -> None:
    sid = labeling.create_session(store, "pipelined", dataset="digits", **FAST).session_id
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)  # the cold start
    truth = session_truth(store, sid)
    first = [item.item for item in labeling.current_batch(store, sid).items]
    results = []
    for item in first[:5]:
        assignment = labeling.next_item(store, sid)
        assert assignment is not None and assignment.item == item
        results.append(labeling.answer(store, sid, item, int(truth[int(item)])))
    # No retrain measured yet: half a batch (5 of 10) left is the moment to ask.
    assert [r.prepare_next for r in results] == [False] * 4 + [True]
    retrain_session(store, sid, worker)
    batches = store.session_batches(sid)
    assert [b["round"] for b in batches] == [0, 1]
    second = batches[1]["items"]
    assert len(second) == 10 and not set(second) & set(first)  # open images not asked twice
    (point,) = labeling.learning_curve(store, sid)
    assert point["round"] == 0 and point["labeled"] == 5  # trained on the labels so far
    # The batch being labeled is still the first; one batch ahead is the limit.
    assert labeling.current_batch(store, sid).round == 0
    assert labeling.open_rounds(store, sid) == [0, 1]
    assert not labeling.wants_next_batch(store, sid)
    retrain_session(store, sid, worker)  # e.g. "Retrain now": nothing until the first is done
    assert len(store.session_batches(sid)) == 2

    # Two annotators: when the rest of the first batch is held, the prepared batch is
    # handed out, so nobody waits.
    held = {}
    for name in ("ann", "bob", "cat", "dan", "eve"):
        held[name] = labeling.next_item(store, sid, name).item
    assert list(held.values()) == first[5:]
    assert labeling.next_item(store, sid, "fay").item == second[0]
    for name, item in held.items():
        result = labeling.answer(store, sid, item, int(truth[int(item)]), annotator=name)
        assert result.stored
    # The first batch is finished with no wait: the prepared one is the current batch,
    # and it is not finished (nothing to wait for).
    assert not result.batch_finished
    assert labeling.current_batch(store, sid).round == 1
    assert labeling.next_item(store, sid, "ann").item == second[1]  # fay holds second[0]

    # Undo across the boundary gives the last answer of the first batch back first.
    assert labeling.undo(store, sid, "eve") == first[9]
    assert labeling.current_batch(store, sid).round == 0
    assert labeling.next_item(store, sid, "eve").item == first[9]
    labeling.answer(store, sid, first[9], int(truth[int(first[9])]), annotator="eve")

    # Once the first batch is done, the second (prepared before its last 5 answers) is
    # refreshed: a model trained on every label re-picks the images nobody holds; the
    # answered ones and the one "gus" holds now stay.
    for name, item in (("fay", second[0]), ("ann", second[1])):
        labeling.answer(store, sid, item, int(truth[int(item)]), annotator=name)
    assert labeling.next_item(store, sid, "gus").item == second[2]
    assert next_step(store, sid) == "refill" and labeling.wants_next_batch(store, sid)
    before = store.session_batches(sid)[1]
    retrain_session(store, sid, worker)
    batches = store.session_batches(sid)
    assert [b["round"] for b in batches] == [0, 1]
    refreshed = batches[1]
    assert refreshed["items"][:3] == second[:3] and len(refreshed["items"]) == 10
    assert not set(refreshed["items"]) & set(first)
    assert refreshed["created_at"] > before["created_at"]
    kept = {i: (before["scores"][k], before["top3"][k]) for k, i in enumerate(second[:3])}
    assert {
        i: (refreshed["scores"][k], refreshed["top3"][k]) for k, i in enumerate(second[:3])
    } == kept
    (point,) = labeling.learning_curve(store, sid)
    assert point["round"] == 0 and point["labeled"] == 12  # the refreshing model's point
    assert next_step(store, sid) is None  # refreshed: nothing it has not seen

    # Near the end of the second batch the worker prepares the third, from every label
    # so far, leaving out the second batch's open images.
    for item in refreshed["items"][2:7]:
        labeling.answer(store, sid, item, int(truth[int(item)]), annotator="gus")
    assert next_step(store, sid) == "next"
    retrain_session(store, sid, worker)
    batches = store.session_batches(sid)
    assert [b["round"] for b in batches] == [0, 1, 2]
    third = batches[2]["items"]
    assert not set(third) & (set(first) | set(refreshed["items"]))
    curve = labeling.learning_curve(store, sid)
    assert [p["labeled"] for p in curve] == [12, 17]


def test_retrain_now_while_a_prepared_batch_waits_refreshes_it(store: Store) -> None:
    sid = labeling.create_session(store, "retrain now", dataset="digits", **FAST).session_id
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)
    truth = session_truth(store, sid)
    first = [item.item for item in labeling.current_batch(store, sid).items]
    for item in first[:6]:
        labeling.answer(store, sid, item, int(truth[int(item)]))
        if labeling.wants_next_batch(store, sid):
            retrain_session(store, sid, worker)  # after the fifth: the second batch
    prepared = store.session_batches(sid)[1]
    assert labeling.learning_curve(store, sid)[0]["labeled"] == 5
    assert labeling.open_rounds(store, sid) == [0, 1] and next_step(store, sid) is None
    retrain_session(store, sid, worker)  # "Retrain now": the sixth label is new to it
    refreshed = store.session_batches(sid)[1]
    assert refreshed["created_at"] > prepared["created_at"] and len(refreshed["items"]) == 10
    assert not set(refreshed["items"]) & set(first)
    (point,) = labeling.learning_curve(store, sid)
    assert point["round"] == 0 and point["labeled"] == 6
    retrain_session(store, sid, worker)  # nothing new since: nothing done
    assert store.session_batches(sid)[1]["created_at"] == refreshed["created_at"]


def test_an_undo_into_the_batch_before_while_the_next_is_queried_keeps_its_image(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eve's undo reopens the first batch while the worker queries the third: the third
    is not stored (it would push the first batch, and eve's image, out of the queue);
    it is once eve has answered again."""
    sid = labeling.create_session(store, "undo race", dataset="digits", **FAST).session_id
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)
    truth = session_truth(store, sid)
    first = [item.item for item in labeling.current_batch(store, sid).items]

    def give(name: str) -> labeling.AnswerResult:
        item = labeling.next_item(store, sid, name).item
        return labeling.answer(store, sid, item, int(truth[int(item)]), annotator=name)

    for _ in range(5):
        give("ann")
    retrain_session(store, sid, worker)  # the second batch, prepared early
    for _ in range(5):
        give("eve")  # eve finishes the first batch
    retrain_session(store, sid, worker)  # … which refreshes the second
    while next_step(store, sid) != "next":
        give("ann")
    second_db = Store(store.path)  # eve's page: another connection

    class UndoWhileQuerying(labeling.worker.ActiveLearner):
        def query(self, *args, **kwargs):
            assert labeling.undo(second_db, sid, "eve") == first[9]
            return super().query(*args, **kwargs)

    monkeypatch.setattr(labeling.worker, "ActiveLearner", UndoWhileQuerying)
    retrain_session(store, sid, worker)
    monkeypatch.undo()
    second_db.close()
    assert [b["round"] for b in store.session_batches(sid)] == [0, 1]  # not stored
    assert labeling.open_rounds(store, sid) == [0, 1]
    assert labeling.next_item(store, sid, "eve").item == first[9]  # still queued
    assert give("eve").prepare_next
    assert next_step(store, sid) == "refill"  # eve's answer is new to the second batch
    retrain_session(store, sid, worker)
    assert next_step(store, sid) == "next"
    retrain_session(store, sid, worker)
    assert [b["round"] for b in store.session_batches(sid)] == [0, 1, 2]
    assert first[9] in {r["item"] for r in store.labels(sid)}


def test_without_the_pipeline_the_next_batch_is_asked_for_when_one_is_done(
    store: Store,
) -> None:
    sid = labeling.create_session(
        store, "as before", dataset="digits", pipeline=False, **FAST
    ).session_id
    retrain_session(store, sid, labeling.SessionWorker(sid))
    truth = session_truth(store, sid)
    items = [item.item for item in labeling.current_batch(store, sid).items]
    wanted = [labeling.answer(store, sid, i, int(truth[int(i)])).prepare_next for i in items]
    assert wanted == [False] * 9 + [True]


def test_keys_apply_in_order_to_the_image_held_then_and_after_an_undo(store: Store) -> None:
    sid = labeling.create_session(store, "keys", dataset="digits", **FAST).session_id
    retrain_session(store, sid, labeling.SessionWorker(sid))
    items = [item.item for item in labeling.current_batch(store, sid).items]
    # The first key was pressed on a drawn page (it carries the image shown), the rest
    # before the page redrew (none: the image held when applied).
    events = [{"seq": n, "key": k, "item": None} for n, k in enumerate("123u45", start=1)]
    events[0]["item"] = items[0]
    # The browser sends every press not yet applied, again and again: each once, in order.
    pending = labeling.pending_keys([*events[3:], *events, {"seq": "x"}], 0)
    assert pending == [(n, e["key"], e["item"]) for n, e in enumerate(events, start=1)]
    assert labeling.pending_keys(events, 4) == [(5, "4", None), (6, "5", None)]
    done = [
        labeling.apply_key(store, sid, key, item=item, seconds=lambda item: 0.25)
        for _, key, item in pending
    ]
    assert [d.item for d in done] == [items[0], items[1], items[2], items[2], items[2], items[3]]
    rows = store.labels(sid)
    assert [(r["item"], r["label"]) for r in rows] == [
        (items[0], 1),
        (items[1], 2),
        (items[2], 4),
        (items[3], 5),
    ]
    assert all(r["seconds"] == 0.25 for r in rows)
    assert labeling.apply_key(store, sid, "x").action is None  # not a key of this page
    assert labeling.apply_key(store, sid, "s").item == items[4]
    assert labeling.current_batch(store, sid).items[4].skipped
    assert labeling.apply_key(store, sid, "N").answer.stored
    assert store.label_of(sid, items[5])["label"] == labeling.NOT_SURE
    # A key pressed on a drawn page answers the image shown, whatever is handed out now.
    assert labeling.apply_key(store, sid, "7", item=items[8]).item == items[8]
    assert store.label_of(sid, items[8])["label"] == 7
    assert labeling.next_item(store, sid).item == items[6]


def test_a_second_opinion_being_looked_at_is_not_swapped_for_a_new_batch() -> None:
    overlap_item = next(str(i) for i in range(400) if labeling.is_overlap(0, str(i), 0.1))
    common = dict(overlap=0.1, seed=0, now=1000.0, ttl=120.0, skipped=[])
    labels = [{"item": overlap_item, "annotator": "bob", "label": 2, "source": "human", "id": 1}]
    mine = [{"annotator": "ann", "item": overlap_item, "claimed_at": 999.0}]
    # A new batch arrived while ann looks at a second opinion: she keeps it …
    assert labeling.choose_item(
        annotator="ann", batch_items=["x", "y"], labels=labels, claims=mine, **common
    ) == (overlap_item, True)
    # … and gets the batch once it is answered (or without that claim).
    assert labeling.choose_item(
        annotator="ann", batch_items=["x", "y"], labels=labels, claims=[], **common
    ) == ("x", False)
