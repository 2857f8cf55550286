"""Helpers shared by the app's page and browser tests."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from al_core.runner import cancel_experiment, runner_health
from al_core.store import Store


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
