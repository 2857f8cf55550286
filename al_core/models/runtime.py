"""TensorFlow's thread pools and op determinism, set once per process before any model."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from al_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    pass

_threads_configured = False


def configure_runtime(threads: int | None = None, *, deterministic: bool = True) -> None:
    """Set TensorFlow's thread pools and op determinism, before any model exists.

    Parameters
    ----------
    threads : int or None
        Intra-op threads (``None`` keeps TensorFlow's default, one per core).
        Worker processes of a sweep pass ``cores // workers`` so that
        workers × threads ≈ cores. Inter-op parallelism is set to the same value.
    deterministic : bool
        Ask TensorFlow for deterministic kernels so that the same config and
        seed give the same learning curve.
    """
    global _threads_configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads is not None and not _threads_configured:
        if threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            # TensorFlow was already initialised in this process; thread pools
            # can no longer change. Harmless: results do not depend on them.
            pass
    _threads_configured = True
    if deterministic:
        tf.config.experimental.enable_op_determinism()
