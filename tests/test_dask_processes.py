"""Scale-out as the README shows it: a real ``dask scheduler`` and ``dask worker``
started as separate processes on loopback from the project's environment (not from
the checkout: the console scripts do not put the working folder on the import path,
so ``al_core`` must be installed, as ``./scripts/setup.sh`` does), then a small sweep
through them. Its curves must equal the same sweep's on the local process pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from al_core.store import Store
from tests.conftest import REPO_ROOT, require_or_skip

BIN = Path(sys.executable).parent
# The README's Dask section runs exactly these flags.
SWEEP = [
    "sweep", "--dataset", "digits", "--model", "softmax", "--epochs", "3", "--min-steps", "25",
    "--learning-rate", "0.02", "--strategies", "margin", "--fractions", "0,1",
    "--trials", "1", "--rounds", "2", "--workers", "2",
]  # fmt: skip
TIMING = {"id", "trial_id", "created_at", "train_seconds", "eval_seconds", "score_seconds"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the dask scheduler exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"the dask scheduler did not listen on port {port} within {timeout:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the whole process group: a ``dask worker``'s nanny
    processes must not outlive the test and rejoin a later test's cluster."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _outside_env() -> dict[str, str]:
    """The environment of a user's shell: nothing puts the checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` + ``dask worker --nthreads 1 --nworkers 2`` on 127.0.0.1,
    started in a folder outside the checkout."""
    require_or_skip((BIN / "dask").is_file(), "the dask command in the virtualenv")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    logs = [open(tmp_path / name, "w") for name in ("scheduler.log", "worker.log")]  # noqa: SIM115
    scheduler = subprocess.Popen(
        ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        cwd=elsewhere, env=_outside_env(), stdout=logs[0], stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    worker = None
    try:
        _wait_listening(port, scheduler, timeout=60)
        worker = subprocess.Popen(
            ["dask", "worker", address, "--nthreads", "1", "--nworkers", "2", "--no-dashboard"],
            cwd=elsewhere, env=_outside_env(), stdout=logs[1], stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
        for log in logs:
            log.close()


def _curves(db: Path) -> dict[tuple, list[dict]]:
    with Store(db) as store:
        (experiment,) = store.experiments()
        assert experiment["status"] == "done"
        return {
            (t["strategy"], t["fraction"], t["seed"]): [
                {k: v for k, v in r.items() if k not in TIMING} for r in store.rounds(t["id"])
            ]
            for t in store.trials(experiment["id"])
        }


def _environments(db: Path) -> dict[tuple, dict | None]:
    with Store(db) as store:
        return {(t["strategy"], t["fraction"]): t.get("environment") for t in store.trials(1)}


def _sweep(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "python"), "-m", "al_core", *SWEEP, *extra, "--db", str(db)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_sweep_on_separate_dask_processes_matches_the_process_pool(
    cluster: str, tmp_path: Path
) -> None:
    on_dask = _sweep(tmp_path / "dask.sqlite3", "--executor", "dask", "--scheduler", cluster)
    assert on_dask.returncode == 0, on_dask.stderr + (tmp_path / "worker.log").read_text()
    assert "No module named" not in on_dask.stderr
    local = _sweep(tmp_path / "local.sqlite3")
    assert local.returncode == 0, local.stderr
    dask_curves, local_curves = (
        _curves(tmp_path / "dask.sqlite3"),
        _curves(tmp_path / "local.sqlite3"),
    )
    assert sorted(dask_curves) == [("margin", 1.0, 0), ("random", 0.0, 0)]
    # round 0 + 2 rounds (then random's own rounds past the budget, if it ran on)
    assert all(sum(r["phase"] == "active" for r in c) == 3 for c in dask_curves.values())
    assert dask_curves == local_curves, (
        "curves differ between Dask and the process pool; environments: "
        f"{_environments(tmp_path / 'dask.sqlite3')} vs {_environments(tmp_path / 'local.sqlite3')}"
    )
    with Store(tmp_path / "dask.sqlite3") as store:
        trials = store.trials(1)
    assert {t["status"] for t in trials} == {"done"}
