"""The executors trials run on: their kinds, settings, and connecting / stopping them.

A runner runs trials on a ``concurrent.futures.Executor``: a one-process
``ProcessPoolExecutor`` (spawn start method) per worker slot (``"local"``,
created by :meth:`al_core.runner.service.Runner._new_executor`), or Dask
distributed's client executor (``"dask"``, :func:`connect_dask`).
:func:`check_runner_options` refuses bad worker settings, :func:`available_cores`
counts the cores this process may use, and :func:`_shutdown_executor` stops
either kind without waiting for running work.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from al_core.errors import ConfigError

EXECUTORS: tuple[str, ...] = ("local", "dask")
#: How long to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT = 5.0


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, e.g. under ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_runner_options(workers: int, executor: str, scheduler: str | None) -> None:
    """Refuse bad worker settings with a :class:`ConfigError` naming the fix."""
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise ConfigError(
            "the dask executor needs --scheduler tcp://HOST:PORT (start one with `dask scheduler`)"
        )


def connect_dask(scheduler: str, *, timeout: float = DASK_CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` on ``scheduler``; :class:`ConfigError` if unreachable."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
            "check the address, start one (`dask scheduler`, then `dask worker ADDRESS "
            "--nthreads 1`), or use --executor local"
        ) from exc


def _shutdown_executor(executor: Executor) -> None:
    """Stop an executor without waiting for running work (Dask's has no cancel flag)."""
    if isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=False, cancel_futures=True)
    else:
        executor.shutdown(wait=False)
