"""Runner liveness: who is alive, orphaned trials, and starting a detached runner.

A runner registers in the store and heartbeats; one whose heartbeat is older than
:data:`STALE_SECONDS` (or whose pid on this host is gone) is taken for dead.
:func:`runner_health` reports the newest runner; :func:`recover_orphans`
re-queues trials left ``running`` by dead runners and removes their spool files;
:func:`ensure_runner` starts a detached ``python -m al_core runner`` unless a live
one serves the database. :func:`spool_dir` and :func:`runner_log_path` name the
files that sit beside the database.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from al_core.errors import StoreError
from al_core.processes import start_background
from al_core.runner.executors import check_runner_options
from al_core.store import Store

log = logging.getLogger(__name__)


#: A runner whose last heartbeat is older than this is taken for dead.
STALE_SECONDS = 30.0


def _pid_alive(pid: int, registered_at: float) -> bool:
    """Is ``pid`` a live (non-zombie) process that existed at ``registered_at``?"""
    try:
        process = psutil.Process(pid)
        return (
            process.status() != psutil.STATUS_ZOMBIE
            and process.create_time() <= registered_at + 1.0  # not a reused pid
        )
    except psutil.Error:
        return False


def _runner_alive(row: dict[str, Any]) -> bool:
    if row["stopped_at"] is not None or time.time() - row["heartbeat_at"] > STALE_SECONDS:
        return False
    return row["host"] != socket.gethostname() or _pid_alive(row["pid"], row["started_at"])


def runner_health(store: Store) -> dict[str, Any] | None:
    """The newest runner: ``id``, ``pid``, ``host``, ``alive``, ``heartbeat_age``
    (seconds), ``workers``, ``executor``; ``None`` when no runner ever ran."""
    row = store.newest_runner()
    if row is None:
        return None
    return {
        "id": row["id"],
        "pid": row["pid"],
        "host": row["host"],
        "alive": _runner_alive(row),
        "heartbeat_age": max(time.time() - row["heartbeat_at"], 0.0),
        "workers": row["workers"],
        "executor": row["executor"],
    }


def recover_orphans(store: Store) -> list[int]:
    """Re-queue trials left ``running`` by dead runners; returns their ids."""
    recovered = []
    for row in store.runners_holding_trials():
        if not _runner_alive(row):
            trial_ids = store.requeue_runner_trials(
                [row["id"]],
                f"runner {row['id']} (pid {row['pid']} on {row['host']}) died while the "
                "trial ran; re-queued",
            )
            for trial_id in trial_ids:  # spool files of its attempts will never be read
                for path in spool_dir(store.path).glob(f"trial-{trial_id}-{row['id']}-*.jsonl"):
                    path.unlink(missing_ok=True)
            recovered += trial_ids
    if recovered:
        log.warning("re-queued trials %s left running by dead runners", recovered)
    return recovered


def spool_dir(db_path: str | os.PathLike[str]) -> Path:
    """Folder where workers append the rounds of the trials they run."""
    db = Path(db_path).resolve()
    return db.with_name(db.name + ".spool")


def runner_log_path(db_path: str | os.PathLike[str]) -> Path:
    """Log file of runners started by :func:`ensure_runner`."""
    db = Path(db_path).resolve()
    return db.with_name(db.name + ".runner.log")


def ensure_runner(
    db_path: str | os.PathLike[str],
    *,
    workers: int = 2,
    executor: str = "local",
    scheduler: str | None = None,
    wait_seconds: float = 20.0,
) -> dict[str, Any]:
    """Start a detached runner unless a live one already serves ``db_path``.

    The runner (``python -m al_core runner --exit-when-idle``) is a new session
    (it outlives Streamlit reruns and restarts) logging to
    :func:`runner_log_path`; it exits once the queue is empty. Waits up to
    ``wait_seconds`` for its first heartbeat. Returns :func:`runner_health`.
    """
    check_runner_options(workers, executor, scheduler)
    with Store(db_path) as store:
        health = runner_health(store)
    if health is not None and health["alive"]:
        return health
    arguments = [
        "runner", "--exit-when-idle", "--db", str(Path(db_path).resolve()),
        "--workers", str(workers), "--executor", executor,
    ]  # fmt: skip
    if scheduler:
        arguments += ["--scheduler", scheduler]
    log_path = runner_log_path(db_path)
    # The runner outlives pages and needs no password: the app's stays with the server.
    process: subprocess.Popen[bytes] = start_background(arguments, log_path)
    deadline = time.monotonic() + wait_seconds
    with Store(db_path) as store:
        while time.monotonic() < deadline:
            health = runner_health(store)
            if health is not None and health["pid"] == process.pid:
                return health
            if process.poll() not in (None, 0):
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise StoreError(
                    f"the runner exited with status {process.returncode}: "
                    + " / ".join(tail)
                    + f" (log: {log_path})"
                )
            time.sleep(0.1)
    raise StoreError(f"the runner did not report within {wait_seconds:g} s; see {log_path}")
