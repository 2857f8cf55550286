"""The worker-process side: what runs one claimed trial inside an executor.

:func:`execute_trial` runs in a pool process or on a Dask worker (pickled by
reference as ``al_core.runner.worker.execute_trial``, so this module must stay
importable there). It receives a :class:`TrialTask`, appends each round as a JSON
line to the claim's spool file, never writes to SQLite (it only reads it at round
boundaries to stop on cancellation or a lost claim), and returns a
:class:`TrialOutcome`. :func:`_start_worker` is the pool initializer: TensorFlow
is imported here, in the worker, never in the runner.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from al_core import environment
from al_core.loop import RoundRecord, TrialConfig, run_loop
from al_core.runner.health import STALE_SECONDS
from al_core.runner.trials import dataset_for
from al_core.store import claim_stop_reason


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one claimed trial (picklable, paths absolute)."""

    trial_id: int
    attempt: int
    runner_id: str
    config: dict[str, Any]
    db_path: str
    spool_path: str
    threads: int | None
    #: Stored active rounds a baseline extension goes on from (RoundRecord dicts).
    replay: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker returns: the loop's stop reason, why it stopped early (a
    :func:`claim_stop_reason` value, or ``None``), every round (dicts), the
    largest resident memory sampled at round boundaries, and wall seconds."""

    trial_id: int
    stop_reason: str
    stopped_because: str | None
    rounds: list[dict[str, Any]]
    peak_rss_bytes: int
    seconds: float
    pid: int
    #: :func:`al_core.environment.capture` in the worker: CPU, threads, versions.
    environment: dict[str, Any] | None = None


def _start_worker(threads: int | None, runner_pid: int | None = None) -> None:
    """Pool initializer: import TensorFlow here, with this worker's thread count.

    With ``runner_pid``, a watcher thread ends this process as soon as the runner
    is gone (killed): an idle pool worker would otherwise wait forever on its
    call queue, and a busy one would finish a trial nobody collects.
    """
    from al_core import models

    if runner_pid is not None:
        threading.Thread(target=_exit_with, args=(runner_pid,), daemon=True).start()
    # Keras' retracing warnings (a new configuration's model, a new row count): not news.
    # A trial takes over the compiled model of the worker's previous one of the same
    # configuration (al_core.models.Classifier), so the demo traces once per worker.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    models.configure_runtime(threads)


def _exit_with(runner_pid: int) -> None:
    while os.getppid() == runner_pid:
        time.sleep(1.0)
    os._exit(0)


def execute_trial(task: TrialTask) -> TrialOutcome:
    """Run one claimed trial in a worker process; rounds go to the spool file.

    Never writes to SQLite; reads it (read-only) at each round boundary to stop
    on cancellation or when the claim is no longer this runner's.
    """
    _start_worker(task.threads)  # no-op when the pool initializer already did it
    started = time.perf_counter()
    process = psutil.Process()
    peak = process.memory_info().rss
    config = TrialConfig.from_dict(task.config)
    dataset = dataset_for(config)
    stopped_because: str | None = None

    def should_stop() -> bool:
        nonlocal stopped_because
        stopped_because = claim_stop_reason(
            task.db_path, task.trial_id, task.runner_id, task.attempt, STALE_SECONDS
        )
        return stopped_because is not None

    spool = Path(task.spool_path)
    spool.parent.mkdir(parents=True, exist_ok=True)
    with spool.open("a", encoding="utf-8") as out:

        def record(r: RoundRecord) -> None:
            nonlocal peak
            out.write(json.dumps(r.to_dict()) + "\n")
            out.flush()
            peak = max(peak, process.memory_info().rss)

        result = run_loop(
            dataset,
            config,
            on_round=record,
            should_stop=should_stop,
            replay=[RoundRecord.from_stored(r) for r in task.replay],
        )
    return TrialOutcome(
        trial_id=task.trial_id,
        stop_reason=result.stop_reason,
        stopped_because=stopped_because,
        rounds=[r.to_dict() for r in result.rounds],
        peak_rss_bytes=max(peak, process.memory_info().rss),
        seconds=time.perf_counter() - started,
        pid=os.getpid(),
        environment=environment.capture(),
    )
