"""What a trial or labeling session ran on: CPU model, threads, this engine's and the
libraries' versions.

The same config and seed give the same curve on one machine, but floating-point
kernels differ between CPU models and thread counts, so picks can differ on
another machine. :func:`capture` records what produced a result, so a
difference can be traced; it is stored as JSON in ``trials.environment`` and
``sessions.environment`` (see :meth:`al_core.store.Store.set_trial_environment`).

Call it in the process that trains (a sweep's worker), after TensorFlow's
thread pools are set (:func:`al_core.models.configure_runtime`).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

import al_core

__all__ = ["ENVIRONMENT_KEYS", "capture", "cpu_model"]

#: Keys of the dict :func:`capture` returns, in display order.
ENVIRONMENT_KEYS = (
    "cpu_model",
    "cpu_count",
    "intra_op_threads",
    "inter_op_threads",
    "al_core",
    "tensorflow",
    "keras",
    "numpy",
    "python",
    "platform",
    "host",
)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _version(package: str) -> str | None:
    module = sys.modules.get(package)
    if module is not None and getattr(module, "__version__", None):
        return str(module.__version__)
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tf_threads() -> tuple[int | None, int | None]:
    """TensorFlow's intra- and inter-op thread settings (0 = TensorFlow's default:
    one per core), or ``None`` when TensorFlow is not imported in this process."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None, None
    try:
        return (
            int(tf.config.threading.get_intra_op_parallelism_threads()),
            int(tf.config.threading.get_inter_op_parallelism_threads()),
        )
    except (AttributeError, RuntimeError):  # a stub or a half-initialised import
        return None, None


def capture() -> dict[str, Any]:
    """The environment of this process, as a JSON-ready dict with :data:`ENVIRONMENT_KEYS`.

    ``cpu_count`` is the cores this process may use; ``intra_op_threads`` /
    ``inter_op_threads`` are TensorFlow's settings (0 = its default, one per
    core; ``None`` when TensorFlow is not loaded here). ``al_core`` is this engine's
    version, raised when the same config and seed give other results. Library versions
    are ``None`` when the library is not installed.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    intra, inter = _tf_threads()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": cores,
        "intra_op_threads": intra,
        "inter_op_threads": inter,
        "al_core": al_core.__version__,
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": platform.node(),
    }
