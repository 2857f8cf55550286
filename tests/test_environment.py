"""al_core.environment: what a trial or labeling session ran on, stored with it."""

from __future__ import annotations

import os
import platform

import numpy as np

import al_core
from al_core import environment
from al_core.loop import TrialConfig
from al_core.runner import create_experiment
from al_core.store import Store


def test_capture_names_cpu_threads_and_versions() -> None:
    captured = environment.capture()
    assert tuple(captured) == environment.ENVIRONMENT_KEYS
    assert captured["numpy"] == np.__version__
    assert captured["al_core"] == al_core.__version__
    assert captured["python"] == platform.python_version()
    assert captured["cpu_model"] and captured["cpu_model"] == environment.cpu_model()
    assert 1 <= captured["cpu_count"] <= (os.cpu_count() or 1)


def test_trial_and_session_environment_round_trip(tmp_path) -> None:
    captured = environment.capture()
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = create_experiment(
            store, TrialConfig(rounds=1), ["margin"], [0.0, 1.0], 1, name="env"
        )
        first, second = store.trials(experiment_id)
        store.set_trial_environment(first["id"], captured)
        session_id = store.create_session("s", {"dataset": "digits"})
        store.set_session_environment(session_id, captured)
        first, second = store.trials(experiment_id)
        assert first["environment"] == captured  # parsed back from JSON
        assert second["environment"] is None  # not run yet: nothing claimed
        assert store.session(session_id)["environment"] == captured
