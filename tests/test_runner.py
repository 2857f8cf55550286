"""Background-sweep machinery without training: presets, claims, recovery, progress.

Real SQLite files and real processes (claim races, dead runner pids); the
process-pool and Dask runs with real training are in ``test_runner_processes.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time

import pytest

from al_core import runner
from al_core.errors import ConfigError, StoreError
from al_core.loop import TrialConfig
from al_core.models import MODEL_DEFAULTS
from al_core.store import Store, claim_stop_reason

BASE = TrialConfig(
    dataset="digits", model="softmax", epochs=2, min_steps=25, initial=20, batch=10, rounds=3
)


def _round(index: int) -> dict:
    return {
        "round": index,
        "phase": "active",
        "labeled": 20 + 10 * index,
        "pseudo_labeled": 0,
        "test_accuracy": 0.5 + 0.01 * index,
        "test_loss": 1.0,
        "train_seconds": 0.1,
        "eval_seconds": 0.01,
        "score_seconds": 0.01,
        "epochs": 2,
        "queried": [index],
        "queried_scores": [0.1],
    }


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _register(store: Store, runner_id: str, pid: int, *, workers: int = 1) -> None:
    store.register_runner(
        runner_id, pid=pid, host=socket.gethostname(), executor="local", workers=workers
    )


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "al.sqlite3") as s:
        yield s


def test_presets_match_the_documented_protocols():
    assert set(runner.PRESETS) == {
        "demo",
        "cold-start",
        "cifar10-fraction",
        "mnist-400",
        "repeated-digits",
        "repeated-mnist",
    }
    demo = runner.PRESETS["demo"]
    assert demo.base.dataset == "digits" and demo.trials == 5
    assert demo.fractions[0] == 0.0 and demo.fractions[-1] == 1.0  # random … all uncertainty
    assert demo.base.epochs == MODEL_DEFAULTS["cnn"].epochs  # trained by the default rule
    specs = runner.plan_trials(demo.base, demo.strategies, demo.fractions, demo.trials)
    # fraction 0 is the random baseline; every fraction gets 5 seeds …
    assert len(specs) == 5 * len(demo.fractions)
    # … started round-robin: every fraction's first seed before any second seed.
    first_pass = specs[: len(demo.fractions)]
    assert [s.seed for s in first_pass] == [0] * len(demo.fractions)
    assert [s.fraction for s in first_pass] == list(demo.fractions)
    assert [s.seed for s in specs] == sorted(s.seed for s in specs)
    cifar = runner.PRESETS["cifar10-fraction"]
    assert (cifar.base.initial, cifar.base.batch, cifar.base.val_size) == (1000, 1000, 1000)
    assert cifar.target == 0.5 and cifar.base.model == "cnn" and cifar.base.rounds is None
    mnist = runner.PRESETS["mnist-400"]
    assert (mnist.base.pool_size, mnist.base.test_size, mnist.base.budget) == (4000, 400, 400)
    assert mnist.base.model == "softmax" and mnist.strategies == ("least_confidence",)
    assert runner.planned_rounds(mnist.base.to_dict()) == 40  # 10 then 39 batches of 10
    # Repeated MNIST: the paper's noise, N(0, 0.1) after normalising by MNIST's std
    # 0.3081, is 0.031 on [0, 1] pixels; the digits story keeps 0.1.
    for name, dataset, noise in (
        ("repeated-digits", "digits", 0.1),
        ("repeated-mnist", "mnist", 0.031),
    ):
        repeated = runner.PRESETS[name]
        assert repeated.base.dataset == dataset
        assert (repeated.base.repeat, repeated.base.repeat_noise) == (3, noise)
        assert abs(0.1 * 0.3081 - 0.031) < 1e-3
        assert repeated.base.model == "bayesian_cnn" and repeated.base.test_measure == "mc_mean"
        assert (repeated.base.initial, repeated.base.initial_mode, repeated.base.batch) == (
            20,
            "balanced",
            10,
        )
        # The whole pool is scored every round: copies meet in the candidates.
        assert repeated.base.candidates is None and repeated.base.mc_samples == 20
        specs = runner.plan_trials(
            repeated.base, repeated.strategies, repeated.fractions, repeated.trials
        )
        assert {(s.strategy, s.fraction) for s in specs} == {
            ("random", 0.0),
            ("bald", 1.0),
            ("batchbald", 1.0),
        }


def test_submit_preset_applies_overrides_and_refuses_unknown_ones(store):
    experiment_id = runner.submit_preset(
        store, "demo", epochs=2, min_steps=25, trials=1, fractions=[0, 1]
    )
    trials = store.trials(experiment_id)
    assert [(t["strategy"], t["fraction"]) for t in trials] == [("random", 0.0), ("margin", 1.0)]
    assert all(t["config"]["epochs"] == 2 and t["status"] == "queued" for t in trials)
    assert store.experiment(experiment_id)["config"]["preset"] == "demo"
    with pytest.raises(ConfigError, match="unknown preset 'fast'; choose one of: demo"):
        runner.submit_preset(store, "fast")
    with pytest.raises(ConfigError, match="unknown preset override"):
        runner.submit_preset(store, "demo", epochz=2)
    with pytest.raises(ConfigError, match="grid is empty"):
        runner.submit_experiment(store, BASE, [], [0.5], 1)
    assert len(store.experiments()) == 1  # refused submissions store nothing


def _claim_all(db_path: str, runner_id: str, results) -> None:
    with Store(db_path) as store:
        claimed = []
        while (trial := store.claim_trial(runner_id)) is not None:
            claimed.append(trial["id"])
    results.put((runner_id, claimed))


def test_concurrent_claims_never_give_one_trial_twice(tmp_path):
    db = tmp_path / "al.sqlite3"
    with Store(db) as store:
        experiment_id = runner.submit_experiment(store, BASE, ["margin", "entropy"], [0.5, 1], 20)
        expected = {t["id"] for t in store.trials(experiment_id)}
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    claimers = [
        context.Process(target=_claim_all, args=(str(db), f"r{i}", results)) for i in range(4)
    ]
    for process in claimers:
        process.start()
    claims = dict(results.get(timeout=120) for _ in claimers)
    for process in claimers:
        process.join(timeout=30)
    every = [t for ids in claims.values() for t in ids]
    assert len(every) == len(set(every)) == len(expected) == 100
    assert set(every) == expected
    with Store(db) as store:
        assert {t["attempts"] for t in store.trials(experiment_id)} == {1}


def test_trials_of_a_dead_runner_are_requeued_and_their_rounds_replaced(store):
    runner.submit_experiment(store, BASE, ["margin"], [1.0], 1, name="x")
    _register(store, "dead", _dead_pid(), workers=1)
    trial = store.claim_trial("dead")
    assert store.add_claimed_rounds(trial["id"], "dead", 1, [_round(0), _round(1)])
    assert runner.runner_health(store)["alive"] is False

    assert runner.recover_orphans(store) == [trial["id"]]
    requeued = store.trial(trial["id"])
    assert requeued["status"] == "queued" and "died" in requeued["error"]
    assert len(store.rounds(trial["id"])) == 2  # kept until the trial runs again
    # The dead runner's claim is void: it can no longer write.
    assert not store.add_claimed_rounds(trial["id"], "dead", 1, [_round(2)])
    assert not store.finish_claimed_trial(trial["id"], "dead", 1, "done")

    _register(store, "live", os.getpid(), workers=1)
    again = store.claim_trial("live")
    assert again["id"] == trial["id"] and again["attempts"] == 2
    assert store.rounds(trial["id"]) == []  # one execution's rounds only
    assert runner.recover_orphans(store) == []  # a live runner keeps its trials
    assert store.add_claimed_rounds(trial["id"], "live", 2, [_round(0)])
    with pytest.raises(Exception, match="UNIQUE"):  # a round is never stored twice
        store.add_claimed_rounds(trial["id"], "live", 2, [_round(0)])


def test_a_stale_heartbeat_counts_as_dead_even_on_another_host(store):
    store.register_runner("far", pid=1, host="elsewhere", executor="dask", workers=4)
    assert runner.runner_health(store)["alive"] is True  # remote pid cannot be checked
    store.conn.execute(
        "UPDATE runners SET heartbeat_at = ? WHERE id = 'far'",
        (time.time() - runner.STALE_SECONDS - 1,),
    )
    health = runner.runner_health(store)
    assert health["alive"] is False and health["heartbeat_age"] > runner.STALE_SECONDS
    assert (health["executor"], health["workers"]) == ("dask", 4)


def test_worker_stop_reasons_come_from_the_store(store):
    experiment_id = runner.submit_experiment(store, BASE, ["margin"], [1.0], 2)
    _register(store, "me", os.getpid(), workers=1)
    trial = store.claim_trial("me")
    path = store.path
    assert claim_stop_reason(path, trial["id"], "me", 1, 30.0) is None
    assert claim_stop_reason(path, trial["id"], "me", 2, 30.0) == "claim lost"
    assert claim_stop_reason(path, trial["id"], "other", 1, 30.0) == "claim lost"
    assert claim_stop_reason(path, trial["id"], "me", 1, -1.0) == "runner gone"
    runner.cancel_experiment(store, experiment_id)
    assert claim_stop_reason(path, trial["id"], "me", 1, 30.0) == "cancelled"
    assert claim_stop_reason(store.path.with_name("missing.sqlite3"), 1, "me", 1, 30.0) is None


def test_cancel_stops_queued_trials_at_once_and_keeps_running_ones_to_their_runner(store):
    experiment_id = runner.submit_experiment(store, BASE, ["margin"], [0.5, 1.0], 2)
    _register(store, "me", os.getpid(), workers=1)
    running = store.claim_trial("me")
    store.add_claimed_rounds(running["id"], "me", 1, [_round(0)])
    runner.cancel_experiment(store, experiment_id)
    progress = runner.experiment_progress(store, experiment_id)
    assert (progress["running"], progress["cancelled"], progress["queued"]) == (1, 5, 0)
    assert progress["status"] == "running"
    assert store.claim_trial("me") is None  # nothing of a cancelled experiment starts
    assert store.finish_claimed_trial(running["id"], "me", 1, "cancelled", stop_reason="cancelled")
    runner.finish_experiment(store, experiment_id)
    assert runner.experiment_progress(store, experiment_id)["status"] == "cancelled"
    assert len(store.rounds(running["id"])) == 1  # done rounds are kept
    with pytest.raises(StoreError, match="no experiment with id 99"):
        runner.cancel_experiment(store, 99)


def _set_times(store: Store, trial_id: int, started: float, finished: float | None) -> None:
    """Inject a trial's start / finish times (epoch seconds) for an exact ETA."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE trials SET started_at = ?, finished_at = ? WHERE id = ?",
            (started, finished, trial_id),
        )


def test_progress_counts_rounds_and_estimates_the_time_left(store):
    experiment_id = runner.submit_experiment(store, BASE, ["margin"], [1.0], 2)  # 4 trials
    progress = runner.experiment_progress(store, experiment_id)
    assert progress["percent"] == 0 and progress["eta_seconds"] is None
    assert not progress["finished"]
    # rounds=3: rounds 0 (the initial fit) to 3, so the last round's index is 3
    assert progress["trials_detail"][0]["rounds_total"] == 3
    assert progress["trials_detail"][0]["round"] is None  # nothing stored yet
    _register(store, "me", os.getpid(), workers=2)
    first = store.claim_trial("me")
    second = store.claim_trial("me")
    store.add_claimed_rounds(first["id"], "me", 1, [_round(0), _round(1)])
    progress = runner.experiment_progress(store, experiment_id)
    detail = {t["trial_id"]: t for t in progress["trials_detail"]}[first["id"]]
    assert (detail["status"], detail["round"], detail["rounds_total"]) == ("running", 1, 3)
    assert progress["percent"] == pytest.approx(100 * 0.5 / 4)
    assert progress["eta_seconds"] is None  # estimating: no trial has finished yet
    store.add_claimed_rounds(first["id"], "me", 1, [_round(2), _round(3)])
    store.finish_claimed_trial(first["id"], "me", 1, "done", stop_reason="rounds")
    _set_times(store, first["id"], 1000.0, 1060.0)  # a finished trial took 60 s
    store.add_claimed_rounds(second["id"], "me", 1, [_round(0)])  # 1 of 4 points
    progress = runner.experiment_progress(store, experiment_id)
    # work left: the second trial's 3/4 + two queued trials = 2.75 trials at 60 s each,
    # on the one trial running now
    assert progress["eta_seconds"] == pytest.approx(2.75 * 60.0)
    third = store.claim_trial("me")
    progress = runner.experiment_progress(store, experiment_id)
    assert progress["eta_seconds"] == pytest.approx(2.75 * 60.0 / 2)  # two running now
    store.request_cancel(experiment_id)
    for trial in (second, third):
        store.finish_claimed_trial(trial["id"], "me", 1, "cancelled", stop_reason="cancelled")
    runner.finish_experiment(store, experiment_id)
    progress = runner.experiment_progress(store, experiment_id)
    assert (progress["done"], progress["cancelled"], progress["percent"]) == (1, 3, 100.0)
    assert progress["finished"] and progress["status"] == "cancelled"
    assert progress["eta_seconds"] is None  # no ETA once finished


def test_planned_rounds_follow_the_stopping_rule():
    assert runner.planned_rounds(BASE.to_dict()) == 4
    assert runner.planned_rounds(BASE.replace(rounds=None, budget=100).to_dict()) == 9
    assert runner.planned_rounds(BASE.replace(rounds=None, pool_size=45).to_dict()) == 4
    assert runner.planned_rounds(BASE.replace(auto_label_steps=2).to_dict()) == 6
    assert runner.planned_rounds(BASE.replace(rounds=None).to_dict()) is None  # pool size


def test_runner_refuses_bad_worker_settings(store):
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        runner.Runner(store, workers=0)
    with pytest.raises(ConfigError, match="unknown executor 'spark'"):
        runner.Runner(store, executor="spark")
    with pytest.raises(ConfigError, match="needs --scheduler"):
        runner.Runner(store, executor="dask")
    with pytest.raises(ConfigError, match="max attempts must be >= 1"):
        runner.Runner(store, max_attempts=0)
    assert runner.runner_health(store) is None  # nothing registered


def test_a_rough_time_left_before_any_trial_has_finished(store):
    """Issue 32: "estimating time left…" stayed 250 s of an 8.5-minute run; once a
    running trial is half done its pace gives a rough figure until one finishes."""
    experiment_id = runner.submit_experiment(store, BASE, ["margin"], [1.0], 2)  # 4 trials
    _register(store, "me", os.getpid(), workers=2)
    first = store.claim_trial("me")
    store.add_claimed_rounds(first["id"], "me", 1, [_round(0)])  # 1 of 4 rounds
    assert runner.experiment_progress(store, experiment_id)["eta_rough_seconds"] is None
    store.add_claimed_rounds(first["id"], "me", 1, [_round(1), _round(2)])  # 3 of 4
    _set_times(store, first["id"], time.time() - 30.0, None)  # 30 s for 3/4: 40 s a trial
    progress = runner.experiment_progress(store, experiment_id)
    assert progress["eta_seconds"] is None
    # work left: 1/4 of the running trial and 3 queued ones, at 40 s each, one running
    assert progress["eta_rough_seconds"] == pytest.approx(3.25 * 40.0, rel=0.05)
    store.add_claimed_rounds(first["id"], "me", 1, [_round(3)])
    store.finish_claimed_trial(first["id"], "me", 1, "done", stop_reason="rounds")
    _set_times(store, first["id"], 1000.0, 1040.0)
    store.claim_trial("me")
    progress = runner.experiment_progress(store, experiment_id)
    assert progress["eta_seconds"] == pytest.approx(3 * 40.0)
    assert progress["eta_rough_seconds"] is None  # the measured figure takes over
