"""The one way the app starts a background process: :func:`start_background`.

The runner (:func:`al_core.runner.health.ensure_runner`) and each labeling session's
worker (:mod:`al_core.labeling.worker`) start through it: a fresh interpreter
(``python -m al_core …``: never a fork, TensorFlow is not fork-safe) in a session of
its own (it outlives Streamlit reruns), run from the project root, its output
appended to a log file, and an environment without the app's password
(:func:`child_environment`): the password stays with the server. What those
processes start in turn (the runner's spawn pool, a Dask cluster) inherits that
environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from al_core import access
from al_core.store import REPO_ROOT

__all__ = ["child_environment", "start_background"]


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without the password variables
    (:data:`al_core.access.SECRET_ENV`), with the project root on ``PYTHONPATH``."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k not in access.SECRET_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def start_background(arguments: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m al_core <arguments>`` detached, logging to ``log_path`` (appended)."""
    command = [sys.executable, "-m", "al_core", *arguments]
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
