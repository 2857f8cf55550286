"""Helpers shared by the app's page and browser tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from al_core import results
from al_core.runner import cancel_experiment, runner_health
from al_core.store import Store


def rounds_from_curves(
    curves: dict[tuple[str, float, int], list[float]], status: str = "done", **columns: Any
) -> pd.DataFrame:
    """A rounds frame (:func:`al_core.results.rounds_frame`): one trial per key
    (strategy, fraction, seed) with the given test accuracies at labels 10, 20, …;
    ``columns`` adds the same value to every row (e.g. ``redundant=2``)."""
    rows = []
    for trial_id, (key, accuracies) in enumerate(curves.items(), 1):
        points = [("active", 10 * (r + 1), a) for r, a in enumerate(accuracies)]
        rows += trial_rows(trial_id, key, points, status, **columns)
    return results.rounds_frame(rows)


def trial_rows(
    trial_id: int,
    key: tuple[str, float, int],
    points: list[tuple[str, int, float]],
    status: str = "done",
    **columns: Any,
) -> list[dict[str, Any]]:
    """Stored-round rows (experiment 1) of one trial, ``key`` (strategy, fraction, seed),
    from its ``(phase, labeled, test accuracy)`` points in round order; ``columns`` adds
    the same value to every row."""
    strategy, fraction, seed = key
    return [
        {
            "experiment_id": 1,
            "trial_id": trial_id,
            "strategy": strategy,
            "fraction": fraction,
            "seed": seed,
            "trial_status": status,
            "round": r,
            "phase": phase,
            "labeled": labeled,
            "test_accuracy": accuracy,
            **columns,
        }
        for r, (phase, labeled, accuracy) in enumerate(points)
    ]


def stop_background_work(db_path: Path, timeout: float = 60.0) -> None:
    """Cancel every open experiment in ``db_path`` and wait for its runner to exit.

    Cancelled trials stop at their next round boundary and an idle runner exits
    by itself; one still alive after ``timeout`` is terminated with its workers.
    """
    if not db_path.exists():
        return
    with Store(db_path) as store:
        for experiment in store.experiments():
            if experiment["status"] in ("queued", "running"):
                cancel_experiment(store, experiment["id"])
        health = runner_health(store)
    if health is None or not health["alive"]:
        return
    try:
        runner = psutil.Process(health["pid"])
        processes = [runner, *runner.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        process.terminate()
    _, alive = psutil.wait_procs(alive, timeout=10)
    for process in alive:
        process.kill()
    time.sleep(0.1)


#: The demo preset made small (softmax on the embedded digits, 4 rounds of 20): the
#: settings of the page tests' finished sweep, so its finished trials reach 85 %.
RUNNING_DEMO = {
    "model": "softmax",
    "initial": 20,
    "batch": 20,
    "rounds": 4,
    "epochs": 10,
    "min_steps": 25,
    "learning_rate": 0.05,
    "strategies": ["margin"],
    "fractions": [0, 1],
    "trials": 3,
    "name": "running demo",
}
#: Rounds the running trial of :func:`store_running_demo` has stored so far.
RUNNING_ROUNDS = 2


def store_running_demo(db_path: Path) -> int:
    """Store, in ``db_path``, a demo experiment caught mid-run; returns its id.

    Queued from the demo preset (:data:`RUNNING_DEMO`: random and margin at 100 %,
    seeds 0-2), its seed 0 and 1 trials were run to the end by the runner's own trial
    function (real training, real store), so they alone already make a full
    comparison with a verdict. Seed 2's margin trial is ``running`` with its first
    :data:`RUNNING_ROUNDS` rounds stored (written one by one, as a runner does), and
    seed 2's random trial is still ``queued``: 4 of 6 trials finished.
    No runner is alive, so nothing changes while a test reads it.
    """
    from al_core import runner
    from al_core.loop import TrialConfig, run_loop

    with Store(db_path) as store:
        experiment_id = runner.submit_preset(store, "demo", **RUNNING_DEMO)
        trials = store.trials(experiment_id)
        for trial in trials:
            if trial["seed"] < 2:
                runner.run_trial(store, trial["id"])
        (running,) = [t for t in trials if t["seed"] == 2 and t["fraction"] == 1.0]
        store.set_trial_status(running["id"], "running")
        config = TrialConfig.from_dict(running["config"])
        run_loop(
            runner.dataset_for(config),
            config,
            on_round=lambda r: store.add_round(running["id"], r.to_dict()),
            should_stop=lambda: len(store.rounds(running["id"])) >= RUNNING_ROUNDS,
        )
        assert runner.finish_experiment(store, experiment_id) == "running"
        statuses = sorted(t["status"] for t in store.trials(experiment_id))
        assert statuses == ["done"] * 4 + ["queued", "running"], statuses
        assert len(store.rounds(running["id"])) == RUNNING_ROUNDS
    return experiment_id


# --------------------------------------------------------------------------- page runs


def page_texts(app: Any) -> str:
    """All markdown, captions, alerts and subheaders of an ``AppTest`` run, as one string."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader"):
        parts += [element.value for element in app.get(kind)]
    return "\n".join(str(p) for p in parts)


def button(app: Any, label: str) -> Any:
    """The ``AppTest`` run's button labelled ``label``."""
    return next(b for b in app.button if b.label == label)


# --------------------------------------------------------------------------- labeling


def retrain_session(store: Store, session_id: int, worker: Any) -> None:
    """Queue a session's retrain and run it here with ``worker`` (a SessionWorker)."""
    from al_core import labeling

    store.request_session_job(session_id, "train")
    assert labeling.process_jobs(store, session_id, worker)
    row = store.session(session_id)
    assert row["train_status"] == "idle", row["train_error"]


def session_truth(store: Store, session_id: int) -> Any:
    """A built-in session's hidden labels, (n_pool,) int."""
    import numpy as np

    from al_core import labeling

    return np.load(labeling.session_dir(store, session_id) / "truth.npy")
