"""The random baseline runs on past the active budget until it reaches the best active
configuration's median final accuracy (or its cap), so that labels-to-target can be
measured where random needs more labels than the budget.

Real Keras training on the embedded digits (softmax regression, a few rounds), a real
SQLite store and the real runner with a process pool.
"""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from al_core import metrics, results, runner
from al_core.errors import ConfigError
from al_core.forms import sweep_request
from al_core.loop import BASELINE_GROWTH, RoundRecord, TrialConfig, run_loop
from al_core.store import Store, TrialSpec
from tests.conftest import REPO_ROOT

RANDOM = TrialConfig(
    dataset="digits",
    model="softmax",
    epochs=3,
    min_steps=25,
    learning_rate=0.02,
    strategy="random",
    initial=20,
    batch=10,
    rounds=2,
    seed=0,
)
TIMING = {"train_seconds", "eval_seconds", "score_seconds"}


def _points(records: list[RoundRecord]) -> list[dict]:
    """Rounds without their timings; a random pick's score (NaN) as None, as stored."""
    points = [{k: v for k, v in r.to_dict().items() if k not in TIMING} for r in records]
    for point in points:
        point["queried_scores"] = [None if s != s else s for s in point["queried_scores"]]
    return points


@pytest.fixture(scope="module")
def digits():
    return runner.dataset_for(RANDOM)


@pytest.fixture(scope="module")
def to_cap(digits):
    """A random trial run on to its cap of 70 labels (a target no model reaches)."""
    config = RANDOM.replace(baseline_cap=70, baseline_target=1.0)
    return config, run_loop(digits, config)


def test_the_baseline_runs_on_a_geometric_grid_to_its_cap(to_cap):
    config, result = to_cap
    phases = [(r.phase, r.labeled) for r in result.rounds]
    # 20 + 2 rounds of 10 = the 40-label budget, then x1.25 per step, the last one capped.
    assert BASELINE_GROWTH == 1.25
    assert phases == [
        ("active", 20), ("active", 30), ("active", 40),
        ("baseline", 50), ("baseline", 63), ("baseline", 70),
    ]  # fmt: skip
    assert result.stop_reason == "baseline cap"
    extension = result.rounds[3:]
    assert [len(r.queried) for r in extension] == [10, 13, 7]
    taught = [i for r in result.rounds for i in r.queried]
    assert len(set(taught)) == len(taught)  # never the same image twice
    assert all(r.agreement is None and r.queried_accuracy is None for r in extension)


def test_replaying_the_active_rounds_gives_the_same_extension(digits, to_cap):
    """The runner goes on from the stored active rounds (no retraining): the rounds must
    be those of one uninterrupted run, so the same config and seed give the same curve."""
    config, uninterrupted = to_cap
    active = [r for r in uninterrupted.rounds if r.phase == "active"]
    replayed = run_loop(digits, config, replay=active)
    assert _points(replayed.rounds) == _points(uninterrupted.rounds)
    assert replayed.stop_reason == uninterrupted.stop_reason
    # The active phase alone (no target yet) is the same as the extension's first part.
    alone = run_loop(digits, dataclasses.replace(config, baseline_target=None))
    assert alone.stop_reason == "rounds"
    assert _points(alone.rounds) == _points(active)


def test_the_extension_stops_at_the_first_point_that_reaches_the_target(digits, to_cap):
    config, full = to_cap
    extension = [r for r in full.rounds if r.phase == "baseline"]
    target = max(r.test_accuracy for r in extension)
    first = next(
        i
        for i, r in enumerate(full.rounds)
        if r.phase == "baseline" and (r.test_accuracy >= target)
    )
    stopped = run_loop(digits, config.replace(baseline_target=target))
    assert stopped.stop_reason == "baseline reached"
    assert _points(stopped.rounds) == _points(full.rounds[: first + 1])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"baseline_cap": 39}, "baseline cap 39 is below the active budget of 40 labels"),
        ({"baseline_cap": 100, "rounds": None}, "set --rounds or --budget"),
        ({"baseline_cap": 100, "baseline_target": 1.5}, "baseline_target must be in (0, 1]"),
        ({"baseline_target": 0.9}, "baseline_target needs a baseline_cap"),
        ({"baseline_cap": 100, "auto_label_steps": 2}, "do not combine"),
    ],
)
def test_bad_extension_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RANDOM.replace(**changes)


#: The sweep form's fields: a 100-label budget (20 + 8 rounds of 10), pool of 1,000.
FORM = {
    "dataset": "digits", "model": "softmax", "strategies": ["margin"], "fractions": "0, 1",
    "trials": 2, "initial": 20, "batch": 10, "rounds": 8, "budget": None, "target": 0.9,
    "pool_size_of": lambda config: 1000,
}  # fmt: skip


def test_the_form_refuses_a_cap_below_the_budget_and_fills_in_the_default():
    with pytest.raises(ConfigError, match="baseline cap 50 is below the active budget of 100"):
        sweep_request(**FORM, baseline_cap=50)
    request = sweep_request(**FORM)
    assert request.extend_baseline and request.base.baseline_cap == 1000  # 10 x 100 labels
    off = sweep_request(**FORM, extend_baseline=False)
    assert not off.extend_baseline and off.base.baseline_cap is None


def _sweep(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "al_core", "sweep", "--db", str(db), "--dataset", "digits",
            "--model", "softmax", "--epochs", "3", "--min-steps", "25", "--learning-rate",
            "0.02", "--strategies", "margin", "--fractions", "0,1", "--trials", "2",
            "--rounds", "2", "--workers", "2", *extra,
        ],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--baseline-cap", "30"], "baseline cap 30 is below the active budget of 40 labels"),
        (["--baseline-cap", "400", "--no-extend-baseline"], "the baseline extension is off"),
    ],
)
def test_the_command_line_refuses_bad_caps_and_queues_nothing(tmp_path, flags, message):
    db = tmp_path / "al.sqlite3"
    done = _sweep(db, *flags)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert not db.exists()


def test_a_sweep_measures_random_past_the_budget_at_the_best_active_accuracy(tmp_path):
    """Random stops at 40 labels below the margin trials' accuracy; the runner runs it on
    until it gets there, and labels-to-target at that accuracy is measured, not censored."""
    db = tmp_path / "al.sqlite3"
    done = _sweep(db)
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        (experiment,) = store.experiments()
        trials = store.trials(experiment["id"])
        rounds = {t["id"]: store.rounds(t["id"]) for t in trials}
    assert experiment["status"] == "done" and experiment["config"]["extend_baseline"]
    # The target, computed here from the stored rounds: the best median final accuracy
    # (last active round) over the active configurations (one here: margin at 100 %).
    finals = [
        [r for r in rounds[t["id"]] if r["phase"] == "active"][-1]["test_accuracy"]
        for t in trials
        if t["fraction"] > 0
    ]
    target = statistics.median(finals)
    assert experiment["config"]["baseline_target"] == pytest.approx(target, abs=0)
    randoms = [t for t in trials if t["fraction"] == 0]
    assert [t["config"]["baseline_cap"] for t in randoms] == [400, 400]  # 10 x 40 labels
    assert all(t["config"]["baseline_cap"] is None for t in trials if t["fraction"] > 0)
    extended = 0
    for trial in randoms:
        points = rounds[trial["id"]]
        active = [r for r in points if r["phase"] == "active"]
        past = [r for r in points if r["phase"] == "baseline"]
        assert [r["labeled"] for r in active] == [20, 30, 40]
        if active[-1]["test_accuracy"] >= target:
            assert not past and trial["config"]["baseline_target"] is None
            continue
        extended += 1
        assert trial["config"]["baseline_target"] == target
        assert [r["round"] for r in points] == list(range(len(points)))
        labeled = [r["labeled"] for r in past]
        want, grid = 40, []
        for _ in labeled:
            want = min(400, max(want + 1, int(np.ceil(want * BASELINE_GROWTH))))
            grid.append(want)
        assert labeled == grid
        assert past[-1]["test_accuracy"] >= target or labeled[-1] == 400
        assert all(r["test_accuracy"] < target for r in past[:-1])
        stop = "baseline reached" if past[-1]["test_accuracy"] >= target else "baseline cap"
        assert trial["stop_reason"] == stop
        # Labels-to-target counts the extension: measured past the budget.
        table = results.trial_table(results.rounds_frame(_with_keys(trial, points)), target)
        row = table.iloc[0]
        curve = [(r["labeled"], r["test_accuracy"]) for r in points]
        expected = metrics.labels_to_target(*map(np.array, zip(*curve, strict=True)), target)
        if expected.reached:
            assert row["reached"] and row["labels_to_target"] == expected.labels > 40
    assert extended >= 1, "no random trial needed the extension; pick a harder setting"


def _with_keys(trial: dict, points: list[dict]) -> list[dict]:
    keys = {
        "experiment_id": trial["experiment_id"],
        "trial_id": trial["id"],
        "strategy": trial["strategy"],
        "fraction": trial["fraction"],
        "seed": trial["seed"],
    }
    return [{**keys, **point} for point in points]


def test_without_the_extension_random_stops_at_the_budget(tmp_path):
    db = tmp_path / "al.sqlite3"
    done = _sweep(db, "--no-extend-baseline", "--trials", "1")
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        (experiment,) = store.experiments()
        trials = store.trials(experiment["id"])
        phases = {r["phase"] for t in trials for r in store.rounds(t["id"])}
    assert experiment["config"]["extend_baseline"] is False
    assert "baseline_target" not in experiment["config"]
    assert all(t["config"]["baseline_cap"] is None for t in trials)
    assert phases == {"active"}


def test_the_shipped_demo_extends_its_random_baseline_to_ten_times_the_budget(tmp_path):
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = runner.submit_preset(store, "demo")
        experiment = store.experiment(experiment_id)
        trials = store.trials(experiment_id)
    demo = runner.PRESETS["demo"]
    assert experiment["config"]["extend_baseline"] is True
    assert len(trials) == 5 * len(demo.fractions)
    caps = {(t["fraction"], t["config"]["baseline_cap"]) for t in trials}
    budget = demo.base.initial + demo.base.rounds * demo.base.batch  # 100 labels
    assert caps == {(0.0, 10 * budget)} | {(f, None) for f in demo.fractions if f > 0}


def _finished_round(round_index: int, labeled: int, accuracy: float) -> dict:
    return {
        "round": round_index, "phase": "active", "labeled": labeled, "pseudo_labeled": 0,
        "test_accuracy": accuracy, "test_loss": 1.0, "train_seconds": 0.1,
        "eval_seconds": 0.1, "score_seconds": 0.0, "epochs": 3,
    }  # fmt: skip


def test_planning_queues_only_random_trials_below_the_best_median_and_progress_stays_whole(
    tmp_path,
):
    """Two seeds of margin at 50 % and 100 % and of random; final accuracies given here,
    so the target (the best configuration's median) is known: 0.9 (100 %: 0.88, 0.92)."""
    finals = {(0.0, 0): 0.80, (0.0, 1): 0.95, (0.5, 0): 0.85, (0.5, 1): 0.86,
              (1.0, 0): 0.88, (1.0, 1): 0.92}  # fmt: skip
    base = RANDOM.replace(strategy="margin")
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = runner.create_experiment(store, base, ["margin"], [0, 0.5, 1], 2)
        trials = store.trials(experiment_id)
        for trial in trials:
            store.set_trial_status(trial["id"], "running")
            for r, labeled in enumerate((20, 30, 40)):
                accuracy = finals[(trial["fraction"], trial["seed"])] - 0.1 * (2 - r)
                store.add_round(trial["id"], _finished_round(r, labeled, accuracy))
            if trial["id"] != trials[-1]["id"]:
                store.set_trial_status(trial["id"], "done", stop_reason="rounds")
        # Not every trial is done: nothing planned yet.
        assert runner.plan_baseline_extension(store, experiment_id) == []
        store.set_trial_status(trials[-1]["id"], "done", stop_reason="rounds")
        assert runner.finish_experiment(store, experiment_id) == "running"
        experiment = store.experiment(experiment_id)
        assert experiment["config"]["baseline_target"] == pytest.approx(0.90)
        after = {(t["fraction"], t["seed"]): t for t in store.trials(experiment_id)}
        # Random seed 0 ended at 0.80 < 0.90: queued with the target; seed 1 (0.95) is not.
        assert after[(0.0, 0)]["status"] == "queued"
        assert after[(0.0, 0)]["config"]["baseline_target"] == pytest.approx(0.90)
        assert after[(0.0, 1)]["status"] == "done"
        assert after[(0.0, 1)]["config"]["baseline_target"] is None
        assert {t["status"] for k, t in after.items() if k[0] > 0} == {"done"}
        # The kept active rounds stay through the claim that runs the extension.
        claimed = store.claim_trial("runner-x", experiment_id)
        assert claimed["id"] == after[(0.0, 0)]["id"]
        assert [r["labeled"] for r in store.rounds(claimed["id"])] == [20, 30, 40]
        progress = runner.experiment_progress(store, experiment_id)
        # Planned once: a second look changes nothing.
        assert runner.plan_baseline_extension(store, experiment_id) == []
    assert (progress["done"], progress["trials"], progress["extending"]) == (6, 6, 1)
    assert (progress["running"], progress["queued"], progress["percent"]) == (0, 0, 100.0)
    assert not progress["finished"]
    statuses = [t["status"] for t in progress["trials_detail"]]
    assert results.completion(statuses).preliminary  # no verdict until it has run on


def test_a_random_trial_stopped_by_its_budget_runs_on_as_one_stopped_by_its_rounds(digits, to_cap):
    """The README's stopping rule is "the first of --rounds, --budget …": a random
    baseline whose active phase ended at its label budget runs on past it too."""
    config, by_rounds = to_cap
    by_budget = config.replace(rounds=None, budget=40)
    result = run_loop(digits, by_budget)
    assert [(r.phase, r.labeled) for r in result.rounds] == [
        ("active", 20), ("active", 30), ("active", 40),
        ("baseline", 50), ("baseline", 63), ("baseline", 70),
    ]  # fmt: skip
    assert result.stop_reason == "baseline cap"
    assert _points(result.rounds) == _points(by_rounds.rounds)


def test_an_interrupted_extension_run_again_goes_on_from_the_active_rounds(tmp_path, to_cap):
    """An earlier attempt of the extension stored its first round past the budget, then
    stopped; running the trial again replays only the active rounds and gives the curve
    of one uninterrupted run (same config and seed, same curve)."""
    config, uninterrupted = to_cap
    first_attempt = [r for r in uninterrupted.rounds if r.phase == "active"]
    first_attempt.append(next(r for r in uninterrupted.rounds if r.phase == "baseline"))
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = store.create_experiment(
            "extension", config.to_dict(), [TrialSpec("random", 0.0, 0, config.to_dict())]
        )
        (trial,) = store.trials(experiment_id)
        for record in first_attempt:
            store.add_round(trial["id"], record.to_dict())
        result = runner.run_trial(store, trial["id"])
        stored = store.rounds(trial["id"])
        status = store.trial(trial["id"])["status"]
    assert result.stop_reason == "baseline cap" and status == "done"
    assert [r["round"] for r in stored] == list(range(6))
    assert _points([RoundRecord.from_stored(r) for r in stored]) == _points(uninterrupted.rounds)


def test_planning_passes_over_a_random_trial_that_ended_at_its_cap(tmp_path):
    """The README: a random trial is queued again to run on "until it reaches that
    accuracy or --baseline-cap labels". With the cap at the budget (40 labels, the
    lowest cap allowed) a random trial below the target has reached its cap already:
    nothing is queued and the experiment is done."""
    finals = {0.0: 0.80, 1.0: 0.90}
    base = RANDOM.replace(strategy="margin", baseline_cap=40)
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = runner.create_experiment(store, base, ["margin"], [0, 1], 1)
        for trial in store.trials(experiment_id):
            store.set_trial_status(trial["id"], "running")
            for r, labeled in enumerate((20, 30, 40)):
                accuracy = finals[trial["fraction"]] - 0.1 * (2 - r)
                store.add_round(trial["id"], _finished_round(r, labeled, accuracy))
            store.set_trial_status(trial["id"], "done", stop_reason="rounds")
        assert runner.finish_experiment(store, experiment_id) == "done"
        (random_trial,) = [t for t in store.trials(experiment_id) if t["fraction"] == 0]
    assert random_trial["config"]["baseline_cap"] == 40
    assert random_trial["status"] == "done"
    assert random_trial["config"]["baseline_target"] is None


def test_an_explicit_cap_is_kept_not_replaced_by_the_default(tmp_path):
    """The README: the extension runs to "--baseline-cap labels (default 10 x the
    budget …)": a cap given (500, not the default 400 of a 40-label budget) is the one
    stored in the experiment's and the random trials' configs."""
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = runner.create_experiment(
            store, RANDOM.replace(strategy="margin", baseline_cap=500), ["margin"], [0, 1], 2
        )
        experiment = store.experiment(experiment_id)
        trials = store.trials(experiment_id)
    assert experiment["config"]["base"]["baseline_cap"] == 500
    assert [t["config"]["baseline_cap"] for t in trials if t["fraction"] == 0] == [500, 500]
    assert sweep_request(**FORM, baseline_cap=500).base.baseline_cap == 500  # default: 1000
