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
    for trial_id, ((strategy, fraction, seed), accuracies) in enumerate(curves.items(), 1):
        for r, accuracy in enumerate(accuracies):
            rows.append(
                {
                    "experiment_id": 1,
                    "trial_id": trial_id,
                    "strategy": strategy,
                    "fraction": fraction,
                    "seed": seed,
                    "trial_status": status,
                    "round": r,
                    "phase": "active",
                    "labeled": 10 * (r + 1),
                    "test_accuracy": accuracy,
                    **columns,
                }
            )
    return results.rounds_frame(rows)


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
