"""Live views: an experiment's version and the snapshots shared by every viewer
(:mod:`al_core.live`), on a real SQLite store written as a runner writes it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from al_core import results, runner
from al_core.live import LiveExperiments, experiment_snapshot
from al_core.store import Store
from pages import frame_digest

DEMO = {"model": "softmax", "strategies": ["margin"], "fractions": [0, 1], "trials": 2}


def _round(n: int, accuracy: float) -> dict:
    return {
        "round": n,
        "phase": "active",
        "labeled": 20 + 10 * n,
        "pseudo_labeled": 0,
        "test_accuracy": accuracy,
    }


@pytest.fixture
def experiment(tmp_path: Path) -> tuple[Path, int]:
    db = tmp_path / "al.sqlite3"
    with Store(db) as store:
        experiment_id = runner.submit_preset(store, "demo", **DEMO)
        first = store.trials(experiment_id)[0]["id"]
        store.set_trial_status(first, "running")
        store.add_round(first, _round(0, 0.5))
    return db, experiment_id


def test_version_changes_with_every_round_status_and_rewrite(experiment) -> None:
    db, experiment_id = experiment
    with Store(db) as store:
        trial = store.trials(experiment_id)[0]["id"]
        seen = [store.experiment_version(experiment_id)]
        assert store.experiment_version(experiment_id) == seen[0]  # nothing changed
        store.add_round(trial, _round(1, 0.6))
        seen.append(store.experiment_version(experiment_id))
        store.set_trial_status(store.trials(experiment_id)[1]["id"], "running")
        seen.append(store.experiment_version(experiment_id))
        # A restarted trial's rounds deleted and written again, as many as before.
        store.delete_rounds(trial)
        store.add_round(trial, _round(0, 0.5))
        store.add_round(trial, _round(1, 0.6))
        seen.append(store.experiment_version(experiment_id))
        store.set_experiment_status(experiment_id, "cancelled")
        seen.append(store.experiment_version(experiment_id))
        assert len(set(seen)) == len(seen), seen
        assert store.experiment_version(experiment_id + 99) is None


def test_snapshot_is_what_the_pages_computed_before(experiment) -> None:
    db, experiment_id = experiment
    with Store(db) as store:
        snapshot = experiment_snapshot(store, experiment_id)
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
        assert snapshot.rounds.equals(rounds)
        assert snapshot.bands.equals(results.curve_bands(rounds))
        assert snapshot.version == store.experiment_version(experiment_id)
        assert snapshot.progress["running"] == 1 and snapshot.done.preliminary


def test_viewers_share_one_computation_per_change(experiment) -> None:
    db, experiment_id = experiment
    live = LiveExperiments()
    calls: list[float | None] = []

    def configs(snapshot, target):
        calls.append(target)
        time.sleep(0.05)  # long enough for the other viewers to arrive meanwhile
        return results.config_table(results.trial_table(snapshot.rounds, target))

    def viewer(out: list) -> None:
        snapshot = live.snapshot(db, experiment_id)
        out.append((snapshot, live.derived(db, snapshot, "configs", configs, 0.6)))

    seen: list = []
    threads = [threading.Thread(target=viewer, args=(seen,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(s) for s, _ in seen}) == 1  # one snapshot, shared
    assert len({id(c) for _, c in seen}) == 1 and calls == [0.6]
    assert live.computations == 2  # the snapshot and the table, once each

    # Unchanged: the next redraws compute nothing.
    again = live.snapshot(db, experiment_id)
    assert again is seen[0][0] and live.computations == 2
    # Another target is its own entry; the same one is not computed again.
    live.derived(db, again, "configs", configs, 0.7)
    live.derived(db, again, "configs", configs, 0.6)
    assert calls == [0.6, 0.7]

    # A new round: a new snapshot for the first viewer, then shared again.
    with Store(db) as store:
        store.add_round(store.trials(experiment_id)[0]["id"], _round(1, 0.7))
    fresh = live.snapshot(db, experiment_id)
    assert fresh is not again and len(fresh.rounds) == len(again.rounds) + 1
    assert live.snapshot(db, experiment_id) is fresh


def test_a_timer_redraw_may_share_a_snapshot_a_second_old(experiment) -> None:
    db, experiment_id = experiment
    live = LiveExperiments()
    first = live.snapshot(db, experiment_id)
    with Store(db) as store:
        store.add_round(store.trials(experiment_id)[0]["id"], _round(1, 0.7))
    # Within max_age the shared snapshot stands (the viewers redrawing in that second
    # share it); a person's own drawing (max_age 0) reads the new round at once.
    assert live.snapshot(db, experiment_id, max_age=60.0) is first
    now = live.snapshot(db, experiment_id, max_age=0.0)
    assert now is not first and len(now.rounds) == len(first.rounds) + 1
    # Older snapshots still held by a session are computed for it, never cached.
    live.derived(db, first, "n", lambda s: len(s.rounds))
    assert live.derived(db, now, "n", lambda s: len(s.rounds)) == len(now.rounds)


def test_old_experiments_make_way(tmp_path: Path) -> None:
    db = tmp_path / "al.sqlite3"
    with Store(db) as store:
        ids = [runner.submit_preset(store, "demo", **DEMO) for _ in range(3)]
    live = LiveExperiments(max_experiments=2)
    snapshots = [live.snapshot(db, i) for i in ids]
    assert live.snapshot(db, ids[-1]) is snapshots[-1]
    assert live.snapshot(db, ids[0]) is not snapshots[0]  # dropped, read again


def test_streamlit_reads_no_collection_after_each_run() -> None:
    """The project's config as Streamlit itself parses it (a misspelt key would be
    ignored): no forced full garbage collection after every script run, which cost
    tens of milliseconds per poll of every open page."""
    import subprocess
    import sys

    code = (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print(config.get_option('runner.postScriptGC'))"
    )
    repo = Path(__file__).resolve().parent.parent
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip().splitlines()[-1] == "False"


def test_overview_of_a_run_before_any_trial_finished(
    experiment: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Just launched: one trial running with one round, none finished. The live view
    draws (no comparison yet, no exception: it raised a KeyError on the empty
    configuration table) and records what it shows for its poll."""
    from streamlit.testing.v1 import AppTest

    db, experiment_id = experiment
    monkeypatch.setenv("AL_DATA_DIR", str(db.parent))
    repo = Path(__file__).resolve().parent.parent
    app = AppTest.from_file(str(repo / "pages" / "overview.py"), default_timeout=60).run()
    assert not app.exception, app.exception
    with Store(db) as store:
        snapshot = experiment_snapshot(store, experiment_id)
    # What its poll compares: the trials' statuses and the drawn curves (a preview of
    # the running trial's round), not the progress bar.
    statuses, curves = app.session_state["overview_shown_view"][0]
    details = snapshot.progress["trials_detail"]
    assert statuses == (snapshot.experiment["status"], tuple(t["status"] for t in details))
    assert "running" in statuses[1]
    assert curves == frame_digest(snapshot.bands) != 0
    assert "Preliminary: 0 of 4 trials finished." in " ".join(i.value for i in app.info)
