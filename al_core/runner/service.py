"""The background runner: claims queued trials and serves them on executors.

:class:`Runner` (``python -m al_core runner``) registers itself, heartbeats every
:data:`HEARTBEAT_SECONDS`, re-queues orphans every :data:`RECOVERY_SECONDS`,
fills free worker slots with claimed trials (:func:`execute_trial` on the slot's
executor), stores new rounds from the spool files as they appear, finishes or
retries each trial when its future completes, and hands unfinished trials back
when it stops. See :mod:`al_core.runner` for the design.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from al_core.errors import ALError, ConfigError, StoreError
from al_core.runner.executors import (
    _shutdown_executor,
    available_cores,
    check_runner_options,
    connect_dask,
)
from al_core.runner.health import recover_orphans, spool_dir
from al_core.runner.trials import extension_replay, finish_experiment
from al_core.runner.worker import TrialOutcome, TrialTask, _start_worker, execute_trial
from al_core.store import Store

log = logging.getLogger(__name__)


#: Seconds between a runner's heartbeats.
HEARTBEAT_SECONDS = 2.0
#: Seconds between two searches for trials left ``running`` by dead runners.
RECOVERY_SECONDS = 10.0


@dataclass
class _Job:
    """A claimed trial submitted to an executor, and how far its spool was read."""

    trial_id: int
    experiment_id: int
    attempt: int
    future: Future
    spool: Path
    offset: int = 0
    next_round: int = 0
    claim_lost: bool = False


@dataclass
class _Slot:
    """One worker slot: an executor and the job it runs, if any."""

    executor: Executor
    job: _Job | None = None


class Runner:
    """Claims queued trials from the store and runs them on executors.

    Parameters
    ----------
    store : the open store; only this process writes results to it.
    workers : trials run at once (slots).
    executor : ``"local"`` (a spawn process pool of one per slot) or ``"dask"``.
    scheduler : the Dask scheduler address (``tcp://HOST:PORT``), dask only.
        Start Dask workers with one thread each (``--nthreads 1``): TensorFlow's
        seeding is per process.
    threads : TensorFlow threads per worker; default usable cores ÷ workers.
    max_attempts : starts per trial before a failing trial stays ``failed``.
    exit_when_idle : stop when no trial is queued (else run until interrupted).
    poll_seconds : how often the spool is read and free slots filled.
    """

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 2,
        executor: str = "local",
        scheduler: str | None = None,
        threads: int | None = None,
        max_attempts: int = 3,
        exit_when_idle: bool = False,
        poll_seconds: float = 0.2,
    ) -> None:
        check_runner_options(workers, executor, scheduler)
        if max_attempts < 1:
            raise ConfigError(f"max attempts must be >= 1, got {max_attempts}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        self.store = store
        self.db_path = store.path.resolve()
        self.workers = workers
        self.executor_kind = executor
        self.threads = threads or max(1, available_cores() // workers)
        self.max_attempts = max_attempts
        self.experiment_id: int | None = None
        self.exit_when_idle = exit_when_idle
        self.poll_seconds = poll_seconds
        self.id = uuid.uuid4().hex[:12]
        self.spool = spool_dir(self.db_path)
        #: Outcomes of the trials this runner finished, by trial id.
        self.outcomes: dict[int, TrialOutcome] = {}
        self._dask = connect_dask(scheduler) if executor == "dask" else None  # type: ignore[arg-type]

    def close(self) -> None:
        """Disconnect from Dask (local pools are shut down by :meth:`run`)."""
        if self._dask is not None:
            self._dask.close()
            self._dask = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_executor(self) -> Executor:
        if self._dask is not None:
            return self._dask.get_executor(pure=False)  # retries must not be deduplicated
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # TensorFlow is not fork-safe
            initializer=_start_worker,
            initargs=(self.threads, os.getpid()),
        )

    def run(
        self,
        *,
        experiment_id: int | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Serve queued trials until the exit condition.

        ``experiment_id``: run only that experiment's trials and return once it
        has none queued or running (else see ``exit_when_idle``). ``on_tick`` is
        called after every poll (progress bars).
        """
        self.experiment_id = experiment_id
        self.store.register_runner(
            self.id,
            pid=os.getpid(),
            host=socket.gethostname(),
            executor=self.executor_kind,
            workers=self.workers,
        )
        log.info(
            "runner %s: %d %s worker(s), %d thread(s) each, db %s",
            self.id, self.workers, self.executor_kind, self.threads, self.db_path,
        )  # fmt: skip
        self.spool.mkdir(parents=True, exist_ok=True)
        slots = [_Slot(self._new_executor()) for _ in range(self.workers)]
        next_heartbeat = next_recovery = 0.0
        try:
            while True:
                now = time.monotonic()
                if now >= next_heartbeat:
                    self.store.heartbeat(self.id)
                    next_heartbeat = now + HEARTBEAT_SECONDS
                if now >= next_recovery:
                    recover_orphans(self.store)
                    next_recovery = now + RECOVERY_SECONDS
                for slot in slots:
                    if slot.job is not None:
                        self._ingest(slot.job)
                        if slot.job.future.done():
                            self._finish(slot)
                for slot in slots:
                    if slot.job is None and not self._start_next(slot):
                        break
                if on_tick is not None:
                    on_tick()
                if all(slot.job is None for slot in slots) and self._done():
                    return
                time.sleep(self.poll_seconds)
        finally:
            self._shutdown(slots)

    def _done(self) -> bool:
        if self.experiment_id is not None:
            return sum(self.store.count_open_trials(self.experiment_id).values()) == 0
        if not self.exit_when_idle:
            return False
        recover_orphans(self.store)
        if self.store.count_open_trials()["queued"]:
            return False
        # Mark stopped *before* the last look: a client that queues work after
        # that look sees this runner stopped and starts another one.
        self.store.mark_runner_stopped(self.id)
        return self.store.count_open_trials()["queued"] == 0

    def _start_next(self, slot: _Slot) -> bool:
        trial = self.store.claim_trial(self.id, self.experiment_id)
        if trial is None:
            return False
        attempt = int(trial["attempts"])
        spool = self.spool / f"trial-{trial['id']}-{self.id}-{attempt}.jsonl"
        # A baseline extension goes on from the active rounds the claim kept.
        replay = tuple(r.to_dict() for r in extension_replay(self.store, trial))
        task = TrialTask(
            trial_id=trial["id"],
            attempt=attempt,
            runner_id=self.id,
            config=trial["config"],
            db_path=str(self.db_path),
            spool_path=str(spool),
            threads=self.threads,
            replay=replay,
        )
        try:
            future = slot.executor.submit(execute_trial, task)
        except BrokenExecutor:  # the pool broke while idle: replace it and retry once
            slot.executor = self._new_executor()
            future = slot.executor.submit(execute_trial, task)
        slot.job = _Job(trial["id"], trial["experiment_id"], attempt, future, spool)
        slot.job.next_round = replay[-1]["round"] + 1 if replay else 0
        log.info(
            "trial %d (experiment %d: %s u=%g seed %d) started, attempt %d",
            trial["id"], trial["experiment_id"], trial["strategy"], trial["fraction"],
            trial["seed"], attempt,
        )  # fmt: skip
        return True

    def _ingest(self, job: _Job, extra: Sequence[dict[str, Any]] = ()) -> None:
        """Store the job's new rounds: complete spool lines, then ``extra`` ones."""
        records = []
        if job.spool.exists():
            with job.spool.open("rb") as spool:
                spool.seek(job.offset)
                data = spool.read()
            complete = data[: data.rfind(b"\n") + 1]
            job.offset += len(complete)
            records = [json.loads(line) for line in complete.splitlines()]
        fresh = []
        for record in [*records, *extra]:
            if record["round"] == job.next_round:  # earlier ones are stored already
                fresh.append(record)
                job.next_round += 1
        if (
            fresh
            and not job.claim_lost
            and not self.store.add_claimed_rounds(job.trial_id, self.id, job.attempt, fresh)
        ):
            job.claim_lost = True
            log.warning("trial %d was re-queued elsewhere; dropping its rounds", job.trial_id)

    def _finish(self, slot: _Slot) -> None:
        job, slot.job = slot.job, None
        assert job is not None
        error, retry, stop_reason = None, False, None
        try:
            outcome = job.future.result()
        except BrokenExecutor:
            error = (
                f"attempt {job.attempt}: the worker process died while running this trial "
                "(killed by a signal, or out of memory)"
            )
            retry = True
            _shutdown_executor(slot.executor)
            slot.executor = self._new_executor()
        except ALError as exc:  # a bad config or data set: no retry fixes it
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            error = f"attempt {job.attempt}: " + "".join(traceback.format_exception(exc))
            retry = True
        if error is None:
            self._ingest(job, outcome.rounds)
            self.outcomes[job.trial_id] = outcome
            stop_reason = outcome.stop_reason
            if outcome.environment is not None and not job.claim_lost:
                self.store.set_trial_environment(job.trial_id, outcome.environment)
            if outcome.stopped_because is None:
                status = "done"
            elif outcome.stopped_because == "cancelled":
                status = "cancelled"
            else:  # our heartbeat was late, or the claim moved: give the trial back
                status, error = "queued", f"stopped early ({outcome.stopped_because}); re-queued"
            log.info(
                "trial %d %s: %d rounds in %.1f s, worker peak RSS %.0f MiB",
                job.trial_id, status, job.next_round, outcome.seconds,
                outcome.peak_rss_bytes / 2**20,
            )  # fmt: skip
        else:
            self._ingest(job)  # rounds done before the failure stay visible
            status = "queued" if retry and job.attempt < self.max_attempts else "failed"
            log.error("trial %d attempt %d failed (%s): %s", job.trial_id, job.attempt,
                      "retrying" if status == "queued" else "giving up",
                      error.strip().splitlines()[-1])  # fmt: skip
        if not job.claim_lost:
            self.store.finish_claimed_trial(
                job.trial_id, self.id, job.attempt, status, error=error, stop_reason=stop_reason
            )
            finish_experiment(self.store, job.experiment_id)
        job.spool.unlink(missing_ok=True)

    def _shutdown(self, slots: list[_Slot]) -> None:
        """Give back unfinished trials (their workers stop at the next round) and stop."""
        try:
            if any(slot.job is not None for slot in slots):
                self.store.requeue_runner_trials(
                    [self.id], f"runner {self.id} stopped before the trial finished; re-queued"
                )
            else:
                self.store.mark_runner_stopped(self.id)
        except StoreError as exc:  # the next runner re-queues them from the stale heartbeat
            log.error("could not hand back running trials: %s", exc)
        for slot in slots:
            if slot.job is not None:
                slot.job.spool.unlink(missing_ok=True)
            _shutdown_executor(slot.executor)
