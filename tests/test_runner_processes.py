"""Background sweeps with real processes: spawn pools, kill -9, a second runner, Dask.

Every run here trains real (tiny) Keras models on the embedded digits: softmax
regression, 3 epochs, a few rounds. Runners are ``python -m al_core`` child
processes, as users start them; Dask runs a ``LocalCluster`` of 2 worker
processes on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from al_core import runner
from al_core.loop import TrialConfig
from al_core.store import Store
from tests.conftest import REPO_ROOT

ROUNDS = 6
# Enough optimizer steps that a round takes a few tenths of a second: with the
# defaults a softmax round on digits takes ~15 ms, and a trial is over before a
# test can see it running.
MIN_STEPS = 600
BASE = TrialConfig(
    dataset="digits",
    model="softmax",
    epochs=3,
    min_steps=MIN_STEPS,
    learning_rate=0.02,
    rounds=ROUNDS,
    seed=0,
)
GRID_FLAGS = [
    "--strategies", "margin", "--fractions", "0,1", "--trials", "1", "--rounds", str(ROUNDS),
    "--model", "softmax", "--epochs", "3", "--min-steps", str(MIN_STEPS), "--learning-rate", "0.02",
]  # fmt: skip
TIMING = {"id", "trial_id", "created_at", "train_seconds", "eval_seconds", "score_seconds"}


def al(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "al_core", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def curves(db: Path, experiment_id: int) -> dict[tuple, list[dict]]:
    """Rounds per (strategy, fraction, seed), without ids and timing columns."""
    with Store(db) as store:
        return {
            (t["strategy"], t["fraction"], t["seed"]): [
                {k: v for k, v in r.items() if k not in TIMING} for r in store.rounds(t["id"])
            ]
            for t in store.trials(experiment_id)
        }


def environments(db: Path, experiment_id: int) -> dict[tuple, dict | None]:
    """What each trial ran on (CPU, threads, versions): shown when curves differ."""
    with Store(db) as store:
        return {
            (t["strategy"], t["fraction"], t["seed"]): t.get("environment")
            for t in store.trials(experiment_id)
        }


def assert_same_curves(db: Path, reference_db: Path, experiment_id: int = 1) -> None:
    """The two databases hold bit-identical rounds; if not, say what each ran on."""
    got, want = curves(db, experiment_id), curves(reference_db, experiment_id)
    assert got == want, (
        f"curves differ from the process pool's; environments: "
        f"{environments(db, experiment_id)} vs {environments(reference_db, experiment_id)}"
    )


def trials(db: Path, experiment_id: int) -> list[dict]:
    with Store(db) as store:
        return store.trials(experiment_id)


def submit(
    db: Path,
    base: TrialConfig = BASE,
    fractions=(0.0, 1.0),
    n_trials: int = 1,
    *,
    extend_baseline: bool = True,
) -> int:
    with Store(db) as store:
        return runner.submit_experiment(
            store, base, ["margin"], fractions, n_trials, extend_baseline=extend_baseline
        )


def extensions(trial: dict) -> int:
    """1 when the random baseline's extension ran the trial once more, else 0."""
    return int(trial["config"].get("baseline_target") is not None)


def active_rounds(curve: list[dict]) -> int:
    return sum(r["phase"] == "active" for r in curve)


def rounds_stored(db: Path, trial_id: int) -> int:
    with Store(db) as store:
        return len(store.rounds(trial_id))


@pytest.fixture
def processes():
    """Started runner processes; at teardown they and their workers are killed."""
    started: list[psutil.Process] = []
    yield started
    for process in started:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()


def start_runner(db: Path, log: Path, *args: str) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "al_core", "runner", "--db", str(db), "--exit-when-idle", *args],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def worker_processes(runner_pid: int) -> list[psutil.Process]:
    """The runner's pool workers (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process(runner_pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:  # exited (or a zombie) since children() listed it
            continue
    return found


def spool_of_worker(worker: psutil.Process) -> tuple[int, Path] | None:
    """The trial a worker runs and its spool file: the worker holds that file open."""
    for handle in worker.open_files():
        path = Path(handle.path)
        if path.name.startswith("trial-") and path.name.endswith(".jsonl"):
            return int(path.name.split("-")[1]), path
    return None


def spooled_rounds(db: Path, trial_id: int) -> int:
    """Rounds a trial's workers have written: stored ones plus those still in a spool.

    The runner stores spooled rounds every 0.2 s; a round can take less, so the
    database alone lags behind what the worker has done.
    """
    in_spool = 0
    for path in runner.spool_dir(db).glob(f"trial-{trial_id}-*.jsonl"):
        with contextlib.suppress(FileNotFoundError):  # stored and removed meanwhile
            in_spool = max(in_spool, path.read_bytes().count(b"\n"))
    return max(in_spool, rounds_stored(db, trial_id))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    """An uninterrupted foreground sweep with 2 workers: the curves to reproduce."""
    db = tmp_path_factory.mktemp("reference") / "al.sqlite3"
    proc = al("sweep", *GRID_FLAGS, "--workers", "2", "--db", str(db))
    assert "experiment 1: done" in proc.stderr
    return db, curves(db, 1)


def test_foreground_sweep_with_two_workers_completes(reference):
    db, reference_curves = reference
    rows = trials(db, 1)
    assert [(t["strategy"], t["status"], t["attempts"] - extensions(t)) for t in rows] == [
        ("random", "done", 1),
        ("margin", "done", 1),
    ]
    assert all(active_rounds(c) == ROUNDS + 1 for c in reference_curves.values())
    assert reference_curves[("margin", 1.0, 0)] != reference_curves[("random", 0.0, 0)]
    with Store(db) as store:
        health = runner.runner_health(store)
        assert health["alive"] is False and health["workers"] == 2
        assert runner.experiment_progress(store, 1)["percent"] == 100.0
        config = store.trials(1)[0]["config"]
        target = config["baseline_target"]  # None unless random ran on past the budget
        assert (
            config
            == BASE.replace(
                strategy="random", baseline_cap=BASE.default_baseline_cap(), baseline_target=target
            ).to_dict()
        )
    assert not list(runner.spool_dir(db).iterdir())  # spool files are removed once stored
    status = json.loads(al("status", "1", "--json", "--db", str(db)).stdout)
    assert status["experiments"]["1"]["done"] == 2


def test_killed_worker_fails_only_its_trial_which_is_retried(tmp_path, reference, processes):
    db, log = tmp_path / "al.sqlite3", tmp_path / "runner.log"
    experiment_id = submit(db)
    proc = start_runner(db, log, "--workers", "2")
    processes.append(psutil.Process(proc.pid))

    def stopped_mid_trial():
        """A worker frozen (SIGSTOP) after its trial's first round and before its last."""
        for worker in worker_processes(proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                held = spool_of_worker(worker)
                if held is None:
                    continue
                # Frozen, the worker cannot finish the trial while we look at it.
                worker.suspend()
                held = spool_of_worker(worker)
                if held and 1 <= held[1].read_bytes().count(b"\n") <= ROUNDS - 1:
                    return held[0], worker
                worker.resume()
        return None

    victim_trial, victim_worker = wait_for(stopped_mid_trial, 120, "a worker mid-trial")
    victim_worker.kill()  # SIGKILL, as the OOM killer would
    assert proc.wait(timeout=180) == 0, log.read_text()

    by_id = {t["id"]: t for t in trials(db, experiment_id)}
    assert all(t["status"] == "done" for t in by_id.values()), log.read_text()
    victim = by_id.pop(victim_trial)
    assert victim["attempts"] - extensions(victim) == 2
    assert "worker process died" in victim["error"]
    # The other trial ran on, once (and once more if it was random's extension).
    assert [t["attempts"] - extensions(t) for t in by_id.values()] == [1]
    assert curves(db, experiment_id) == reference[1]  # the retry reproduces the curve


def test_killed_runner_then_new_runner_gives_identical_rounds(tmp_path, reference, processes):
    db = tmp_path / "al.sqlite3"
    experiment_id = submit(db)
    with Store(db) as store:  # detached, as the app starts it
        health = runner.ensure_runner(store.path, workers=2)
    first = psutil.Process(health["pid"])
    processes.append(first)
    assert health["alive"] and runner.runner_log_path(db).is_file()
    wait_for(
        lambda: any(rounds_stored(db, t["id"]) >= 2 for t in trials(db, experiment_id)),
        120,
        "two rounds of a trial",
    )
    orphans = worker_processes(first.pid)
    processes.extend(orphans)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    interrupted = [t["id"] for t in trials(db, experiment_id) if t["status"] == "running"]
    assert interrupted, "no trial was running when the runner died"

    log = tmp_path / "second.log"
    second = start_runner(db, log, "--workers", "2")
    processes.append(psutil.Process(second.pid))
    assert second.wait(timeout=180) == 0, log.read_text()

    rows = {t["id"]: t for t in trials(db, experiment_id)}
    assert all(t["status"] == "done" for t in rows.values())
    for trial_id in interrupted:
        assert rows[trial_id]["attempts"] - extensions(rows[trial_id]) == 2
        assert "died" in rows[trial_id]["error"]
    assert curves(db, experiment_id) == reference[1]
    assert not list(runner.spool_dir(db).iterdir())  # the dead runner's spool is cleared
    # Pool workers orphaned by the kill exit by themselves: no CPU is left burning.
    wait_for(lambda: not any(p.is_running() for p in orphans), 30, "orphaned workers to exit")


def test_cancel_stops_within_a_round_keeps_rounds_and_starts_nothing(tmp_path, processes):
    db, log = tmp_path / "al.sqlite3", tmp_path / "runner.log"
    experiment_id = submit(db, BASE.replace(rounds=60), fractions=(1.0,), n_trials=2)
    proc = start_runner(db, log, "--workers", "1")
    processes.append(psutil.Process(proc.pid))
    first = trials(db, experiment_id)[0]["id"]
    wait_for(lambda: rounds_stored(db, first) >= 2, 120, "two rounds")

    out = al("cancel", str(experiment_id), "--db", str(db)).stdout
    at_cancel = spooled_rounds(db, first)
    assert f"experiment {experiment_id}: running (3 trials cancelled, 1 stopping" in out
    assert proc.wait(timeout=60) == 0, log.read_text()

    rows = trials(db, experiment_id)
    assert [t["status"] for t in rows] == ["cancelled"] * 4
    assert rows[0]["stop_reason"] == "cancelled"
    assert [t["attempts"] for t in rows[1:]] == [0, 0, 0]  # queued trials never started
    kept = rounds_stored(db, first)
    # At most the round in flight when the cancel was read is added; every round
    # written before it is kept.
    assert at_cancel <= kept <= at_cancel + 1 < 61
    with Store(db) as store:
        assert [r["round"] for r in store.rounds(first)] == list(range(kept))
        assert store.experiment(experiment_id)["status"] == "cancelled"


def test_two_runners_on_one_database_never_run_the_same_trial(tmp_path, processes):
    db = tmp_path / "al.sqlite3"
    # Without the baseline extension: its second claim of a random trial would
    # overwrite which runner ran the trial first.
    experiment_id = submit(
        db, BASE.replace(rounds=2), fractions=(0.5, 1.0), n_trials=2, extend_baseline=False
    )
    procs = [start_runner(db, tmp_path / f"runner{i}.log", "--workers", "1") for i in range(2)]
    processes.extend(psutil.Process(p.pid) for p in procs)
    for i, proc in enumerate(procs):
        assert proc.wait(timeout=180) == 0, (tmp_path / f"runner{i}.log").read_text()
    rows = trials(db, experiment_id)
    assert len(rows) == 6
    assert all(t["status"] == "done" and t["attempts"] == 1 for t in rows)
    assert len({t["runner_id"] for t in rows}) == 2  # both runners took a share
    with Store(db) as store:
        assert all(active_rounds(store.rounds(t["id"])) == 3 for t in rows)


def test_dask_local_cluster_gives_the_same_rounds_as_the_process_pool(tmp_path, reference):
    from distributed import LocalCluster

    db = tmp_path / "al.sqlite3"
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        proc = al(
            "sweep",
            *GRID_FLAGS,
            "--executor", "dask",
            "--scheduler", cluster.scheduler_address,
            "--workers", "2",
            "--db", str(db),
        )  # fmt: skip
    assert "experiment 1: done" in proc.stderr
    assert_same_curves(db, reference[0])
    with Store(db) as store:
        assert runner.runner_health(store)["executor"] == "dask"


def _snapshot(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT e.id, e.status, t.id, t.status, t.attempts FROM experiments e "
            "JOIN trials t ON t.experiment_id = e.id ORDER BY t.id"
        ).fetchall()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "--preset", "nope"], "unknown preset 'nope'; choose one of: demo"),
        (["sweep", "--strategies", ","], "the grid is empty"),
        (["sweep", "--workers", "0"], "workers must be >= 1"),
        (["runner", "--workers", "0"], "workers must be >= 1"),
        (["sweep", "--executor", "spark"], "unknown executor 'spark'"),
        (["sweep", "--executor", "dask"], "needs --scheduler tcp://HOST:PORT"),
        (
            ["sweep", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--detach"],
            "cannot reach the Dask scheduler at tcp://127.0.0.1:9",
        ),
        (
            ["runner", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler",
        ),
        (["cancel", "42"], "no experiment with id 42"),
        (["status", "42"], "no experiment with id 42"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored_is_lost(tmp_path, args, message):
    db = tmp_path / "al.sqlite3"
    submit(db)
    before = _snapshot(db)
    proc = al(*args, "--db", str(db), check=False, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _snapshot(db) == before


def test_a_database_locked_by_another_process_is_refused_and_kept(tmp_path):
    db = tmp_path / "al.sqlite3"
    submit(db)
    before = _snapshot(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        for args in (["sweep", *GRID_FLAGS], ["cancel", "1"], ["runner"]):
            proc = al(*args, "--db", str(db), "--lock-timeout", "0.5", check=False)
            assert proc.returncode == 2, proc.stderr
            assert "is locked by another process" in proc.stderr
            assert "Traceback" not in proc.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _snapshot(db) == before
    assert os.path.getsize(db) > 0


@pytest.mark.parametrize("command", ["runner", "status", "cancel"])
def test_new_commands_have_help(command):
    out = al(command, "--help").stdout
    assert "usage: python -m al_core " + command in out
    assert "--db" in out
