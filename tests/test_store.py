"""The SQLite store: schema version, round trips, refusals, corrupt files."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from al_core.errors import StoreError
from al_core.store import SCHEMA_VERSION, Store, TrialSpec


def _round(i: int, **extra) -> dict:
    return {
        "round": i,
        "phase": "active",
        "labeled": 20 + 10 * i,
        "pseudo_labeled": 0,
        "test_accuracy": 0.5 + i / 100,
        "test_loss": 1.0 / (i + 1),
        "train_seconds": 0.1,
        "eval_seconds": 0.01,
        "score_seconds": 0.02,
        "epochs": 5,
        "queried": [i, i + 1],
        "queried_scores": [0.9, float("nan")],
        "queried_accuracy": 0.5,
        **extra,
    }


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "al.sqlite3") as s:
        yield s


def _experiment(store: Store) -> int:
    specs = [TrialSpec("margin", 1.0, seed, {"seed": seed}) for seed in (0, 1)]
    return store.create_experiment("e", {"target": 0.9}, specs)


def test_new_database_has_current_schema_and_wal(store):
    assert store.schema_version == SCHEMA_VERSION >= 1
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_experiment_trials_rounds_round_trip(store, tmp_path):
    experiment_id = _experiment(store)
    trials = store.trials(experiment_id)
    assert [(t["strategy"], t["seed"], t["status"]) for t in trials] == [
        ("margin", 0, "queued"),
        ("margin", 1, "queued"),
    ]
    assert trials[1]["config"] == {"seed": 1}
    store.set_trial_status(trials[0]["id"], "running")
    for i in range(3):
        store.add_round(trials[0]["id"], _round(i))
    store.set_trial_status(trials[0]["id"], "done", stop_reason="rounds")
    store.close()
    with Store(tmp_path / "al.sqlite3") as reopened:
        rounds = reopened.rounds(trials[0]["id"])
        assert [r["labeled"] for r in rounds] == [20, 30, 40]
        assert rounds[1]["queried"] == [1, 2]
        assert rounds[1]["queried_scores"] == [0.9, None]  # NaN is stored as null
        trial = reopened.trial(trials[0]["id"])
        assert (trial["status"], trial["attempts"], trial["stop_reason"]) == ("done", 1, "rounds")
        joined = reopened.experiment_rounds([experiment_id])
        assert {r["seed"] for r in joined} == {0} and len(joined) == 3
        listed = reopened.experiments()[0]
        assert (listed["trials"], listed["trials_done"]) == (2, 1)


def test_a_round_is_never_stored_twice(store):
    trial_id = store.trials(_experiment(store))[0]["id"]
    store.add_round(trial_id, _round(0))
    with pytest.raises(StoreError, match="already stored"):
        store.add_round(trial_id, _round(0, test_accuracy=0.99))
    assert [r["test_accuracy"] for r in store.rounds(trial_id)] == [0.5]


def test_synthetic_curves_are_refused(store):
    trial_id = store.trials(_experiment(store))[0]["id"]
    with pytest.raises(StoreError, match="synthetic"):
        store.add_round(trial_id, _round(0, synthetic=True))


def test_empty_grid_is_refused(store):
    with pytest.raises(StoreError, match="grid is empty"):
        store.create_experiment("e", {}, [])
    assert store.experiments() == []


def test_unknown_experiment_names_the_id(store):
    with pytest.raises(StoreError, match="no experiment with id 42"):
        store.experiment(42)


def test_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "al.sqlite3"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="not a readable SQLite database.*move it aside"):
        Store(path)
    assert path.read_bytes() == garbage


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "al.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        Store(path)


def test_locked_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "al.sqlite3"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with Store(path, timeout=0.2) as store, pytest.raises(StoreError, match="locked"):
            store.create_experiment("e", {}, [TrialSpec("random", 0.0, 0, {})])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(path) as store:
        assert store.experiments() == []


def test_labels_keep_one_label_per_item_unless_relabel(store):
    session = store.create_session("s", {"dataset": "digits"})
    assert store.add_label(session, "17", 3, "human", seconds=1.5)
    assert not store.add_label(session, "17", 4, "human")  # a second tab's duplicate
    assert [r["label"] for r in store.labels(session)] == [3]
    assert store.add_label(session, "17", 4, "human", relabel=True)
    assert [r["label"] for r in store.labels(session)] == [4]
    store.add_label(session, "18", 1, "pseudo")
    store.remove_label(session, "17")
    assert [(r["item"], r["source"]) for r in store.labels(session)] == [("18", "pseudo")]
    with pytest.raises(StoreError, match="unknown label source"):
        store.add_label(session, "19", 1, "guess")
    assert store.sessions()[0]["labels"] == 1


def test_the_narrow_answer_reads_equal_the_same_filters_over_every_answer(store):
    """What a key press reads instead of every answer (items, since, the images with a
    single person's answer, the last answers' seconds) equals the same filter in Python."""
    session = store.create_session("s", {"dataset": "digits"})
    rng = np.random.default_rng(0)
    for step in range(60):
        item, who = str(rng.integers(0, 25)), ("ann", "bob", "cy")[step % 3]
        seconds = None if step % 7 == 0 else float(step)
        store.add_label(session, item, int(rng.integers(-1, 3)), "pseudo" if step % 11 == 0
                        else "human", annotator=who, seconds=seconds)  # fmt: skip
    every = store.labels(session)
    middle = every[len(every) // 2]["created_at"]
    assert store.labels(session, since=middle) == [r for r in every if r["created_at"] > middle]
    assert store.labels(session, items={"3", "4"}, since=middle) == [
        r for r in every if r["created_at"] > middle and r["item"] in {"3", "4"}
    ]
    rows_of = {i: [r for r in every if r["item"] == i] for i in {r["item"] for r in every}}
    for me in ("ann", "bob", "nobody"):
        single = {
            i
            for i, rows in rows_of.items()
            if len(rows) == 1 and rows[0]["source"] == "human" and rows[0]["annotator"] != me
        }
        assert set(store.single_answer_items(session, other_than=me)) == single and single
    timed = [r["seconds"] for r in every if r["source"] == "human" and r["seconds"] is not None]
    assert store.recent_answer_seconds(session, 20) == timed[-20:]


def test_answers_are_read_once_while_unchanged_and_never_stale(store, tmp_path):
    """A session's answers are read from SQLite once while nothing changed, and read
    again after any write: this connection's, another process's, or one rolled back."""
    session = store.create_session("s", {"dataset": "digits"})
    store.add_label(session, "1", 3, "human")
    reads: list[str] = []
    store.conn.set_trace_callback(
        lambda sql: reads.append(sql) if sql.lstrip().startswith("SELECT id, item") else None
    )
    first = store.labels(session)
    assert store.labels(session) == first and len(reads) == 1  # kept

    store.add_label(session, "2", 4, "human")  # this connection writes
    assert [r["item"] for r in store.labels(session)] == ["1", "2"] and len(reads) == 2

    script = (
        "import sys; from al_core.store import Store\n"
        "with Store(sys.argv[1]) as s: s.add_label(int(sys.argv[2]), '3', 5, 'human')"
    )
    subprocess.run(  # another process writes (another annotator's server)
        [sys.executable, "-c", script, str(tmp_path / "al.sqlite3"), str(session)], check=True
    )
    assert [r["item"] for r in store.labels(session)] == ["1", "2", "3"] and len(reads) == 3

    with contextlib.suppress(RuntimeError), store.transaction() as conn:
        conn.execute("DELETE FROM labels WHERE session_id = ?", (session,))
        assert store.labels(session) == [] and len(reads) == 4
        raise RuntimeError("undo the transaction")
    assert [r["item"] for r in store.labels(session)] == ["1", "2", "3"] and len(reads) == 5
    assert store.labels(session) is not store.labels(session)  # a caller's own list


def test_default_path_follows_al_data_dir(tmp_path, monkeypatch):
    from al_core.store import default_db_path

    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    assert default_db_path() == tmp_path / "al.sqlite3"


def test_runners_never_claim_or_count_other_kinds_of_experiment(store):
    audit = store.create_experiment(
        "audit", {}, [TrialSpec("margin", 1.0, 0, {})], kind="label-audit"
    )
    assert store.claim_trial("runner-a") is None
    assert store.count_open_trials() == {"queued": 0, "running": 0}
    assert store.count_open_trials(audit) == {"queued": 1, "running": 0}
    sweep = _experiment(store)
    assert store.claim_trial("runner-a")["experiment_id"] == sweep
