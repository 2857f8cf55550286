"""Labeling as a team (al_core.labeling.team, .agreement; al_core.store.annotations)
over real SQLite files: the schema migration of a store written before teams, names
and overlaps refused with their reason (nothing stored changes), claims and their
expiry, the overlap share, training labels of images answered twice, the review
list, Cohen's kappa against scikit-learn's, and the exports.

No model is trained here: batches are written into the store directly, as the
worker would.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from al_core import labeling
from al_core.errors import ConfigError
from al_core.labeling.pipeline import queue_items
from al_core.labeling.team import choose_item
from al_core.labeling.worker import _nothing_new, _split_labels
from al_core.store import MIGRATIONS, SCHEMA_VERSION, Store
from al_core.store.schema import _split_sql

ANON = labeling.DEFAULT_ANNOTATOR


@pytest.fixture
def store(data_store: Store) -> Store:
    return data_store


def _session(store: Store, items: list[str], *, overlap: float = 0.1, batch: int = 10) -> int:
    """A digits session (config only) whose current batch is ``items``."""
    sid = labeling.create_session(
        store, "team", dataset="digits", batch=batch, overlap=overlap
    ).session_id
    store.add_session_batch(sid, 0, "cold start", items, [None] * len(items), [[]] * len(items))
    return sid


def _overlap_items(seed: int, overlap: float, n: int = 400) -> list[str]:
    return [str(i) for i in range(n) if labeling.is_overlap(seed, str(i), overlap)]


# --------------------------------------------------------------------------- schema


def _old_store(path: Path) -> None:
    """A store file as schema version 4 wrote it (before annotators), with answers."""
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:4]:
        for statement in _split_sql(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute(
        "INSERT INTO sessions (id, name, config, created_at) VALUES (1, 'old', ?, 1.0)",
        (
            json.dumps(
                {"source": "builtin", "dataset": "digits", "class_names": list("0123456789")}
            ),
        ),
    )
    rows = [
        (7, 1, "12", 3, "human", 1.25, 100.0),
        (8, 1, "40", -1, "human", None, 101.0),
        (9, 1, "41", 5, "pseudo", None, 102.0),
    ]
    conn.executemany(
        "INSERT INTO labels (id, session_id, item, label, source, seconds, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("INSERT INTO session_skips VALUES (1, 0, '13', 103.0)")
    conn.close()


def test_a_store_from_before_teams_is_migrated_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "al.sqlite3"
    _old_store(path)
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        rows = store.labels(1)
        assert [
            (r["id"], r["item"], r["annotator"], r["label"], r["source"], r["seconds"])
            for r in rows
        ] == [
            (7, "12", ANON, 3, "human", 1.25),
            (8, "40", ANON, -1, "human", None),
            (9, "41", ANON, 5, "pseudo", None),
        ]
        assert [r["created_at"] for r in rows] == [100.0, 101.0, 102.0]
        assert store.skips(1, 0) == [{"item": "13", "annotator": ANON, "created_at": 103.0}]
        # The old person carries on as the default annotator: a duplicate is still refused …
        assert not store.add_label(1, "12", 4, "human")
        # … and a second, named annotator may now answer the same image.
        assert store.add_label(1, "12", 4, "human", annotator="bea")
        assert [(r["annotator"], r["label"]) for r in store.labels(1) if r["item"] == "12"] == [
            (ANON, 3),
            ("bea", 4),
        ]
        assert store.claims(1) == [] and store.reviews(1) == []
    with Store(path) as again:  # opening a migrated store again changes nothing
        assert len(again.labels(1)) == 4


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "at least one character"),
        ("   ", "at least one character"),
        ("x" * (labeling.MAX_NAME_LENGTH + 1), "at most 40 characters; this one has 41"),
        ("ann\nbob", "control characters"),
        (None, "is text"),
    ],
)
def test_a_bad_name_is_refused_and_nothing_is_stored(store: Store, name, reason) -> None:
    sid = _session(store, ["1", "2"])
    with pytest.raises(ConfigError, match=reason):
        labeling.check_annotator(name)
    with pytest.raises(ConfigError, match=reason):
        labeling.answer(store, sid, "1", 3, annotator=name)
    with pytest.raises(ConfigError, match=reason):
        labeling.next_item(store, sid, name)
    with pytest.raises(ConfigError, match=reason):
        labeling.skip(store, sid, "1", name)
    assert store.labels(sid) == [] and store.claims(sid) == [] and store.skips(sid, 0) == []


def test_a_good_name_is_trimmed() -> None:
    assert labeling.check_annotator("  Ada Lovelace ") == "Ada Lovelace"
    assert labeling.check_annotator("x" * labeling.MAX_NAME_LENGTH) == "x" * 40


@pytest.mark.parametrize("overlap", [-0.1, 1, 1.0, 1.5, math.nan, math.inf, "0.1", True, None])
def test_an_overlap_outside_0_1_is_refused_and_nothing_changes(store: Store, overlap) -> None:
    sid = _session(store, ["1"], overlap=0.2)
    before = store.session(sid)["config"]
    with pytest.raises(ConfigError, match=r"overlap"):
        labeling.set_overlap(store, sid, overlap)
    assert store.session(sid)["config"] == before
    with pytest.raises(ConfigError, match=r"overlap"):
        labeling.create_session(store, "bad", dataset="digits", overlap=overlap)
    assert len(store.sessions()) == 1


def test_overlap_is_set_per_session_and_defaults_to_ten_percent(store: Store) -> None:
    sid = _session(store, ["1"])
    assert labeling.session_config(store, sid).overlap == 0.1
    assert labeling.set_overlap(store, sid, 0) == 0.0
    assert labeling.session_config(store, sid).overlap == 0.0
    assert labeling.set_overlap(store, sid, 0.99) == 0.99
    # A session stored before the setting existed reads the default.
    config = store.session(sid)["config"]
    del config["overlap"]
    store.set_session_config(sid, config)
    assert labeling.session_config(store, sid).overlap == labeling.DEFAULT_OVERLAP


# --------------------------------------------------------------------------- claims


def test_is_overlap_is_stable_and_takes_the_share() -> None:
    items = [str(i) for i in range(20_000)]
    chosen = [i for i in items if labeling.is_overlap(3, i, 0.1)]
    assert abs(len(chosen) / len(items) - 0.1) < 0.01
    assert chosen == [i for i in items if labeling.is_overlap(3, i, 0.1)]
    # A larger share keeps the images of a smaller one; 0 picks none.
    assert set(chosen) <= {i for i in items if labeling.is_overlap(3, i, 0.3)}
    assert not any(labeling.is_overlap(3, i, 0.0) for i in items)
    assert chosen != [i for i in items if labeling.is_overlap(4, i, 0.1)]


def _answer(item: str, who: str, label: int, i: int, source: str = "human") -> dict:
    return {"id": i, "item": item, "annotator": who, "label": label, "source": source}


def test_choose_item_order_claims_and_second_opinions() -> None:
    overlap_item = _overlap_items(0, 0.1)[0]
    plain = next(str(i) for i in range(400) if not labeling.is_overlap(0, str(i), 0.1))
    common = dict(overlap=0.1, seed=0, now=1000.0, ttl=120.0, skipped=[])
    batch = ["a", "b", "c"]
    assert labeling.choose_item(
        annotator="ann", batch_items=batch, labels=[], claims=[], **common
    ) == ("a", False)
    live = [{"annotator": "bob", "item": "a", "claimed_at": 990.0}]
    assert labeling.choose_item(
        annotator="ann", batch_items=batch, labels=[], claims=live, **common
    ) == ("b", False)
    # An expired claim (older than the ttl) holds nothing; one's own claim never blocks.
    expired = [{"annotator": "bob", "item": "a", "claimed_at": 800.0}]
    for claims in (expired, [{"annotator": "ann", "item": "a", "claimed_at": 999.0}]):
        assert labeling.choose_item(
            annotator="ann", batch_items=batch, labels=[], claims=claims, **common
        ) == ("a", False)
    labels = [_answer("a", "bob", 1, 1), _answer("b", "bob", 2, 2)]
    assert (
        labeling.choose_item(
            annotator="ann",
            batch_items=batch,
            labels=labels,
            claims=[],
            **{**common, "skipped": ["c"]},
        )
        is None
    )
    # The batch done: an overlap image someone else answered comes as a second opinion,
    # never a plain image, never to the one who answered it, never a third time.
    labels = [_answer(plain, "bob", 1, 1), _answer(overlap_item, "bob", 2, 2)]
    assert labeling.choose_item(
        annotator="ann", batch_items=[], labels=labels, claims=[], **common
    ) == (overlap_item, True)
    assert (
        labeling.choose_item(annotator="bob", batch_items=[], labels=labels, claims=[], **common)
        is None
    )
    labels.append(_answer(overlap_item, "cy", 2, 3))
    assert (
        labeling.choose_item(annotator="ann", batch_items=[], labels=labels, claims=[], **common)
        is None
    )
    pseudo = [_answer(overlap_item, "bob", 2, 1, "pseudo")]
    assert (
        labeling.choose_item(annotator="ann", batch_items=[], labels=pseudo, claims=[], **common)
        is None
    )
    no_overlap = {**common, "overlap": 0.0}
    assert (
        labeling.choose_item(
            annotator="ann", batch_items=[], labels=labels[:2], claims=[], **no_overlap
        )
        is None
    )


def test_one_annotator_alone_labels_the_batch_in_order_as_before(store: Store) -> None:
    items = [str(i) for i in range(100, 110)]
    sid = _session(store, items)
    for expected in items[:3]:
        assignment = labeling.next_item(store, sid)
        assert assignment == labeling.Assignment(expected, False)
        assert labeling.next_item(store, sid).item == expected  # a second tab: the same image
        assert labeling.answer(store, sid, expected, 1).stored
    assert labeling.undo(store, sid) == items[2]
    assert labeling.next_item(store, sid).item == items[2]  # the undone image comes back
    assert {r["annotator"] for r in store.labels(sid)} == {ANON}


def test_two_annotators_get_different_images_and_claims_expire(tmp_path: Path) -> None:
    path = tmp_path / "al.sqlite3"
    items = [str(i) for i in range(200, 206)]
    with Store(path) as ann_store, Store(path) as bob_store:  # two browsers, two connections
        sid = _session(ann_store, items, overlap=0.0)
        ann = labeling.next_item(ann_store, sid, "ann")
        bob = labeling.next_item(bob_store, sid, "bob")
        assert (ann.item, bob.item) == (items[0], items[1])
        # Bob cannot answer the image Ann holds: nothing is stored, and he is told who.
        result = labeling.answer(bob_store, sid, ann.item, 3, annotator="bob")
        assert not result.stored and result.taken_by == "ann"
        assert labeling.answer(ann_store, sid, ann.item, 3, annotator="ann").stored
        # Once answered, a plain image is never answered again by someone else.
        result = labeling.answer(bob_store, sid, ann.item, 4, annotator="bob")
        assert not result.stored and result.taken_by == "ann"
        assert [(r["item"], r["annotator"]) for r in bob_store.labels(sid)] == [(items[0], "ann")]
        # A browser that went away: Cy's claim lapses and the image goes to the next one.
        old = time.time() - labeling.claim_seconds() - 1
        assert labeling.next_item(ann_store, sid, "cy", now=old).item == items[2]
        assert labeling.next_item(ann_store, sid, "ann").item == items[2]
        assert labeling.keep_claim(bob_store, sid, "bob")
        assert labeling.held_by_others(ann_store, sid, "ann") == {items[1]: "bob"}
        assert not labeling.keep_claim(bob_store, sid, "nobody")


def test_a_plain_image_takes_one_answer_also_after_the_first_claim_lapsed(store: Store) -> None:
    """The team rule: an image that is not an overlap image "is answered by one person
    only; the store refuses a second answer" -- also once the first annotator's claim
    has lapsed, so no live claim is what refuses the second."""
    seed = 0
    plain = next(str(i) for i in range(400) if not labeling.is_overlap(seed, str(i), 0.1))
    sid = _session(store, [plain, "999"])
    assert labeling.session_config(store, sid).seed == seed
    old = time.time() - labeling.claim_seconds() - 1
    assert labeling.next_item(store, sid, "ann", now=old).item == plain  # lapsed at once
    assert labeling.answer(store, sid, plain, 3, annotator="ann").stored
    assert labeling.held_by_others(store, sid, "bob") == {}
    result = labeling.answer(store, sid, plain, 4, annotator="bob")
    assert not result.stored and result.taken_by == "ann"
    assert [(r["item"], r["annotator"], r["label"]) for r in store.labels(sid)] == [
        (plain, "ann", 3)
    ]


def test_claim_seconds_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AL_CLAIM_SECONDS", "5")
    assert labeling.claim_seconds() == 5.0
    for bad in ("", "soon", "-1", "nan"):
        monkeypatch.setenv("AL_CLAIM_SECONDS", bad)
        assert labeling.claim_seconds() == labeling.CLAIM_SECONDS


def test_two_annotators_share_only_the_overlap_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "al.sqlite3"
    items = [str(i) for i in range(300, 340)]
    rng = np.random.default_rng(1)
    with Store(path) as a_store, Store(path) as b_store:
        sid = _session(a_store, items, overlap=0.3, batch=40)
        seed = labeling.session_config(a_store, sid).seed
        people = [("ann", a_store), ("bob", b_store)]
        for step in range(200):
            who, store = people[step % 2]
            assignment = labeling.next_item(store, sid, who)
            if assignment is None:
                continue
            result = labeling.answer(store, sid, assignment.item, int(rng.integers(0, 3)),
                                     annotator=who)  # fmt: skip
            assert result.stored
        rows = a_store.labels(sid)
        assert labeling.next_item(a_store, sid, "ann") is None
        assert labeling.next_item(b_store, sid, "bob") is None
    by_item: dict[str, list[str]] = {}
    for r in rows:
        by_item.setdefault(r["item"], []).append(r["annotator"])
    assert set(by_item) == set(items)  # none lost
    twice = {item for item, who in by_item.items() if len(who) == 2}
    overlap = {item for item in items if labeling.is_overlap(seed, item, 0.3)}
    assert twice == overlap and 0 < len(twice) < len(items)
    assert all(len(set(who)) == len(who) for who in by_item.values())


def test_the_image_handed_out_is_the_one_chosen_over_every_answer(store: Store) -> None:
    """The store reads only the answers a choice can depend on (the queue's images, the
    claimed ones, the images with a single answer), not all of them: at every step of a
    team's session, with batches arriving, pseudo-labels and skips, it hands out what
    choose_item picks over every answer, second opinions from older batches included."""
    rng = np.random.default_rng(3)
    sid = _session(store, [str(i) for i in range(10)], overlap=0.5)
    seed = labeling.session_config(store, sid).seed
    people, from_older_batches = ("ann", "bob", "cy"), 0
    for step in range(150):
        if step in (8, 16, 24, 32):  # batches of 10 come faster than the answers, then
            # none: the older batches' single answers become second opinions
            items = [str(i) for i in range(100 * (step // 8), 100 * (step // 8) + 10)]
            store.add_session_batch(sid, step // 8, "least_confidence", items,
                                    [0.5] * 10, [[]] * 10)  # fmt: skip
        if step % 23 == 5:
            store.add_label(sid, str(9000 + step), 1, "pseudo")
        who, now = people[step % 3], time.time()
        batch, skips = store.session_queue(sid)
        every_answer = store.labels(sid)
        queued, skipped = queue_items(batch, every_answer, skips)
        expected = choose_item(
            annotator=who, batch_items=queued, labels=every_answer, skipped=skipped,
            claims=store.claims(sid), overlap=0.5, seed=seed, now=now,
            ttl=labeling.claim_seconds(),
        )  # fmt: skip
        handed = labeling.next_item(store, sid, who, now=now)
        assert (None if handed is None else (handed.item, handed.second_opinion)) == expected
        if handed is None:
            continue
        from_older_batches += handed.second_opinion and handed.item not in queued
        if rng.random() < 0.1 and not handed.second_opinion:
            labeling.skip(store, sid, handed.item, who)
        elif rng.random() < 0.7:
            labeling.answer(store, sid, handed.item, int(rng.integers(0, 3)), annotator=who)
    assert from_older_batches > 0  # second opinions from outside the queue were checked


def test_a_second_opinion_outside_the_batch_is_answered_and_undone(store: Store) -> None:
    overlap_item = _overlap_items(0, 0.1)[0]
    sid = _session(store, [overlap_item])
    assert labeling.answer(store, sid, overlap_item, 2, annotator="ann").stored
    store.add_session_batch(sid, 1, "least_confidence", ["7"], [0.5], [[[1, 0.5]]])
    assert labeling.next_item(store, sid, "bob").item == "7"
    assert labeling.answer(store, sid, "7", 1, annotator="bob").stored
    assignment = labeling.next_item(store, sid, "bob")
    assert assignment == labeling.Assignment(overlap_item, True)
    assert labeling.find_item(store, sid, overlap_item).score is None
    with pytest.raises(ConfigError, match="not in the current batch"):
        labeling.skip(store, sid, overlap_item, "bob")
    assert labeling.answer(store, sid, overlap_item, 5, annotator="bob").stored
    assert labeling.undo(store, sid, "bob") == overlap_item
    assert labeling.undo(store, sid, "bob") == "7"
    assert labeling.undo(store, sid, "bob") is None
    assert [(r["item"], r["annotator"]) for r in store.labels(sid)] == [(overlap_item, "ann")]
    # A plain image of an old batch is no second opinion: refused, nothing stored.
    with pytest.raises(ConfigError, match="not in the current batch"):
        labeling.answer(store, sid, "999", 1, annotator="bob")


# --------------------------------------------------------------------------- training, review


def test_agreed_images_train_disputed_ones_wait_for_review(store: Store) -> None:
    overlap = _overlap_items(0, 0.5)[:3]
    sid = _session(store, overlap, overlap=0.5)
    agreed, disputed, unsure = overlap
    for item, ann, bob in ((agreed, 4, 4), (disputed, 4, 7), (unsure, 2, -1)):
        assert labeling.answer(store, sid, item, ann, annotator="ann").stored
        assert labeling.answer(store, sid, item, bob, annotator="bob").stored
    # A third person is refused: two answers at most, even on an overlap image.
    result = labeling.answer(store, sid, agreed, 4, annotator="cy")
    assert not result.stored and result.taken_by in {"ann", "bob"}
    labels = labeling.item_labels(store.labels(sid), store.reviews(sid))
    assert [(e.item, e.label, e.status) for e in labels.values()] == [
        (agreed, 4, "agreed"),
        (disputed, None, "disputed"),
        (unsure, None, "disputed"),
    ]
    split = _split_labels(store.labels(sid), hold_out=False, reviews=store.reviews(sid))
    assert split.train == [int(agreed)] and split.train_y == [4]
    assert sorted(split.aside) == sorted([int(disputed), int(unsure)])
    assert [e.item for e in labeling.review_list(store, sid)] == [disputed, unsure]

    with pytest.raises(ConfigError, match="out of range"):
        labeling.settle(store, sid, disputed, 10, "cy")
    with pytest.raises(ConfigError, match="nothing to settle"):
        labeling.settle(store, sid, "12345", 1, "cy")
    with pytest.raises(ConfigError, match="at least one character"):
        labeling.settle(store, sid, disputed, 1, "")
    assert store.reviews(sid) == []
    # Nothing new after the next batch was queried … until someone settles a dispute.
    store.add_session_batch(sid, 1, "least_confidence", ["5"], [0.5], [[[1, 0.5]]])
    batch = store.latest_session_batch(sid)
    rows = store.labels(sid)
    assert _nothing_new(store, sid, batch, rows, split, True, store.reviews(sid))
    labeling.settle(store, sid, disputed, 7, "cy")
    assert not _nothing_new(store, sid, batch, rows, split, True, store.reviews(sid))
    assert [e.item for e in labeling.review_list(store, sid)] == [unsure]
    split = _split_labels(store.labels(sid), hold_out=False, reviews=store.reviews(sid))
    assert dict(zip(split.train, split.train_y, strict=True)) == {int(agreed): 4, int(disputed): 7}
    # The export: each answer with its annotator, then the settled label.
    rows = list(csv.DictReader(io.StringIO(labeling.export_csv(store, sid).decode())))
    assert list(rows[0]) == list(labeling.EXPORT_COLUMNS) and labeling.EXPORT_COLUMNS[-1] == (
        "annotator"
    )
    assert [(r["item"], r["annotator"], r["label"], r["source"]) for r in rows] == [
        (agreed, "ann", "4", "human"),
        (agreed, "bob", "4", "human"),
        (disputed, "ann", "4", "human"),
        (disputed, "bob", "7", "human"),
        (unsure, "ann", "2", "human"),
        (unsure, "bob", "-1", "human"),
        (disputed, "cy", "7", "review"),
    ]


def test_an_image_answered_once_is_not_disputed_and_cannot_be_settled(store: Store) -> None:
    """Only images whose answers differ are disputed and settled on the review list; an
    image one annotator answered trains with that answer."""
    overlap_item = _overlap_items(0, 0.5)[0]
    plain = next(str(i) for i in range(400) if not labeling.is_overlap(0, str(i), 0.5))
    sid = _session(store, [overlap_item, plain], overlap=0.5)
    for item in (overlap_item, plain):
        assert labeling.answer(store, sid, item, 6, annotator="ann").stored
        with pytest.raises(ConfigError, match="nothing to settle"):
            labeling.settle(store, sid, item, 2, "cy")
    labels = labeling.item_labels(store.labels(sid), store.reviews(sid))
    assert [(e.item, e.label, e.status) for e in labels.values()] == [
        (overlap_item, 6, "single"),
        (plain, 6, "single"),
    ]
    assert labeling.review_list(store, sid) == [] and store.reviews(sid) == []


# --------------------------------------------------------------------------- agreement


def test_cohen_kappa_equals_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    for n, k in ((5, 2), (30, 3), (200, 10)):
        a = rng.integers(0, k, n)
        b = np.where(rng.random(n) < 0.6, a, rng.integers(0, k, n))
        assert labeling.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert labeling.cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # chance agreement 1
    assert labeling.cohen_kappa([], []) is None
    assert labeling.cohen_kappa([0, 1], [1, 0]) == pytest.approx(cohen_kappa_score([0, 1], [1, 0]))
    with pytest.raises(ValueError, match="as many labels"):
        labeling.cohen_kappa([1], [1, 2])


def test_agreement_per_pair_per_class_and_against_the_truth() -> None:
    rng = np.random.default_rng(2)
    names = [str(k) for k in range(4)]
    truth = rng.integers(0, 4, 60)
    rows, i = [], 0
    given: dict[str, dict[str, int]] = {"ann": {}, "bob": {}, "cy": {}}
    for who, items in (("ann", range(0, 40)), ("bob", range(20, 60)), ("cy", range(30, 50))):
        for item in items:
            label = int(truth[item]) if rng.random() < 0.8 else int(rng.integers(0, 4))
            if who == "cy" and item == 30:
                label = -1  # not sure: left out of kappa
            rows.append(_answer(str(item), who, label, i))
            given[who][str(item)] = label
            i += 1
    rows.append(_answer("59", "model", 1, i, "pseudo"))
    result = labeling.agreement(rows, names, truth)
    assert [(p["annotator_a"], p["annotator_b"]) for p in result.pairs] == [
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    ]
    pooled_a, pooled_b = [], []
    for pair in result.pairs:
        a, b = given[pair["annotator_a"]], given[pair["annotator_b"]]
        shared = [x for x in a if x in b and a[x] >= 0 and b[x] >= 0]
        ya, yb = [a[x] for x in shared], [b[x] for x in shared]
        assert pair["images"] == len(shared)
        assert pair["raw_agreement"] == pytest.approx(np.mean(np.equal(ya, yb)))
        assert f"{pair['kappa']:.3f}" == f"{cohen_kappa_score(ya, yb):.3f}"
        pooled_a += ya
        pooled_b += yb
    assert result.kappa == pytest.approx(cohen_kappa_score(pooled_a, pooled_b))
    for k, row in enumerate(result.classes):
        ya, yb = np.equal(pooled_a, k), np.equal(pooled_b, k)
        assert row["images"] == int((ya | yb).sum())
        assert row["kappa"] == pytest.approx(cohen_kappa_score(ya, yb))
    for row in result.annotators:
        mine = {x: y for x, y in given[row["annotator"]].items() if y >= 0}
        true = [int(truth[int(x)]) for x in mine]
        assert row["answers"] == len(mine)
        assert row["truth_agreement"] == pytest.approx(np.mean(np.equal(list(mine.values()), true)))
        assert row["truth_kappa"] == pytest.approx(cohen_kappa_score(list(mine.values()), true))
    assert [r["annotator"] for r in result.annotators] == ["ann", "bob", "cy"]  # no "model"
    alone = labeling.agreement(rows[:40], names)
    assert alone.pairs == [] and alone.kappa is None and alone.raw_agreement is None
    assert "truth_agreement" not in alone.annotators[0]


def test_not_sure_is_left_out_of_kappa_whichever_annotator_said_it() -> None:
    """A "not sure" is no class: an image either annotator of a pair (here the first, ann,
    on image 1; the second, bob, on image 5) was not sure of is left out of the pair."""
    ann = {"1": -1, "2": 0, "3": 1, "4": 0, "5": 1}
    bob = {"1": 2, "2": 0, "3": 1, "4": 1, "5": -1}
    rows = [_answer(item, "ann", label, i) for i, (item, label) in enumerate(ann.items())]
    rows += [_answer(item, "bob", label, 10 + i) for i, (item, label) in enumerate(bob.items())]
    result = labeling.agreement(rows, ["0", "1", "2"])
    (pair,) = result.pairs
    assert (pair["annotator_a"], pair["annotator_b"]) == ("ann", "bob")
    assert (pair["images"], pair["agreed"]) == (3, 2)  # images 2, 3 and 4
    assert pair["kappa"] == pytest.approx(cohen_kappa_score([0, 1, 0], [0, 1, 1]))
    assert result.images_twice == 3
    assert [(c["class"], c["images"]) for c in result.classes] == [("0", 2), ("1", 2), ("2", 0)]
    assert [(a["answers"], a["not_sure"]) for a in result.annotators] == [(4, 1), (4, 1)]


def test_exports_carry_the_annotator_and_the_agreement(store: Store) -> None:
    overlap = _overlap_items(0, 0.5)[:4]
    sid = _session(store, overlap, overlap=0.5)
    truth = np.zeros(2000, dtype=np.int64)
    folder = labeling.session_dir(store, sid)
    (folder / "items").mkdir(parents=True)
    np.save(folder / "truth.npy", truth)
    from PIL import Image

    for item in overlap:
        Image.new("L", (8, 8), 128).save(folder / "items" / f"{item}.png")
    for item, ann, bob in zip(overlap, (0, 1, 0, 2), (0, 1, 1, 2), strict=True):
        labeling.answer(store, sid, item, ann, annotator="ann")
        labeling.answer(store, sid, item, bob, annotator="bob")
    document = json.loads(labeling.export_json(store, sid))
    assert {r["annotator"] for r in document["labels"]} == {"ann", "bob"}
    (pair,) = document["agreement"]["pairs"]
    assert pair["kappa"] == pytest.approx(cohen_kappa_score([0, 1, 0, 2], [0, 1, 1, 2]))
    assert pair["raw_agreement"] == 0.75
    ann = document["agreement"]["annotators"][0]
    assert (ann["annotator"], ann["agreed_with_truth"]) == ("ann", 2)
    with zipfile.ZipFile(io.BytesIO(labeling.export_zip(store, sid))) as archive:
        names = sorted(archive.namelist())
    # One image per item with its agreed label; the disputed one is left out.
    assert names == sorted([f"0/{overlap[0]}.png", f"1/{overlap[1]}.png", f"2/{overlap[3]}.png"])
