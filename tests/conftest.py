"""Shared test set-up.

Keras reads its cache folder (``$KERAS_HOME/datasets``) when a loader runs, so
before anything imports Keras we point ``KERAS_HOME`` at a writable folder whose
``datasets`` entry links to the shared, offline copy of MNIST and Fashion-MNIST.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(
    os.environ.get(
        "AL_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "data" / "keras" / "datasets"
    )
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# A password in the shell would lock every server the tests start (al_core/access.py);
# the tests that want one set it themselves.
os.environ.pop("AL_PASSWORD", None)
os.environ.pop("AL_GENERATED_PASSWORD", None)


def _prepare_keras_home() -> Path:
    home = REPO_ROOT / ".cache" / "keras-home"
    home.mkdir(parents=True, exist_ok=True)
    link = home / "datasets"
    if SHARED_DATASETS.is_dir() and not link.exists():
        if link.is_symlink():  # dangling link from a moved checkout
            link.unlink()
        link.symlink_to(SHARED_DATASETS, target_is_directory=True)
    return home


if "KERAS_HOME" not in os.environ:
    os.environ["KERAS_HOME"] = str(_prepare_keras_home())

# Tests write only to temporary folders: whatever does not name its own database
# (a page, a CLI call without --db, a child process) gets this one, never the
# checkout's data/ nor a user's own AL_DATA_DIR. Tests that need their own folder
# set AL_DATA_DIR themselves (monkeypatch, or the env of a child process).
os.environ["AL_DATA_DIR"] = tempfile.mkdtemp(prefix="al-tests-data-")
atexit.register(shutil.rmtree, os.environ["AL_DATA_DIR"], ignore_errors=True)
CHECKOUT_DB = REPO_ROOT / "data" / "al.sqlite3"


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Put pytest's ``__main__`` back after every test.

    Streamlit's AppTest runs a page as the ``__main__`` module and leaves it in
    ``sys.modules``. A process started with the spawn method afterwards (the
    runner's pool, a Dask nanny's worker) re-runs the parent's main module first,
    here a page script, and dies before it starts (e.g. on the page's
    ``st.stop()``).
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _checkout_data_untouched() -> Iterator[None]:
    """Fail the test that creates a database in the checkout's data/ folder."""
    existed = CHECKOUT_DB.exists()
    yield
    if not existed and CHECKOUT_DB.exists():
        pytest.fail(f"this test created {CHECKOUT_DB}: tests must write only to temp folders")


def require_or_skip(condition: bool, what: str) -> None:
    """Skip on a user's machine when ``what`` is missing; fail in CI, where it must exist."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing in CI; .ci/run must provide it")
    pytest.skip(f"{what} is missing on this machine")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ``$AL_DATA_DIR`` for page tests; the label workers they started are
    stopped at the end (and leave by themselves after 20 idle seconds)."""
    from al_core import labeling

    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AL_LABEL_WORKER_IDLE_SECONDS", "20")
    yield tmp_path
    labeling.stop_workers()


@pytest.fixture
def data_store(data_dir: Path) -> Iterator[Any]:
    """The store of :func:`data_dir` (``$AL_DATA_DIR/al.sqlite3``), open."""
    from al_core.store import Store

    with Store(data_dir / "al.sqlite3") as store:
        yield store


@pytest.fixture(scope="session")
def keras_datasets_dir() -> Path:
    """The folder holding the official MNIST / Fashion-MNIST files (``mnist.npz`` …)."""
    path = Path(os.environ["KERAS_HOME"]) / "datasets"
    require_or_skip((path / "mnist.npz").is_file(), f"MNIST under {path}")
    return path


@pytest.fixture(scope="session")
def _shared_label_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One ``streamlit run app.py`` for every Label page browser test of the session,
    over one data folder: each test makes its own labeling sessions there and opens
    only those (``/label?session=ID``), so none needs a folder or server of its own,
    and the server's start and its first page (which imports TensorFlow) are paid once.
    """
    from tests.browser import streamlit_server

    folder = tmp_path_factory.mktemp("label-server")
    with streamlit_server(folder, log_name="streamlit-label.log", fresh_log=True) as server:
        yield server


@pytest.fixture
def label_server(_shared_label_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shared Label page server (a :class:`tests.browser.StreamlitServer`), running;
    ``$AL_DATA_DIR`` is its folder for the test's own store calls. A test may stop and
    start it (it is started again for the next test if one left it down); at the end
    the label workers the server started for this test's sessions are ended."""
    server = _shared_label_server
    monkeypatch.setenv("AL_DATA_DIR", str(server.data_dir))
    if server.process is None or server.process.poll() is not None:
        server.start()
    db = server.data_dir / "al.sqlite3"
    earlier = _session_workers(db)
    yield server
    _stop_label_workers({s: pid for s, pid in _session_workers(db).items() if s not in earlier})


def _session_workers(db: Path) -> dict[int, int | None]:
    """Every labeling session in ``db``: its id and its worker's pid (None: none yet)."""
    from al_core.store import Store

    if not db.exists():
        return {}
    with Store(db) as store:
        return {s["id"]: s["worker_pid"] for s in store.sessions()}


def _stop_label_workers(workers: dict[int, int | None]) -> None:
    """End these sessions' label workers (the server started them); a pid that is no
    longer a label worker is left alone."""
    import psutil

    for pid in workers.values():
        if not pid:
            continue
        try:
            process = psutil.Process(pid)
            if "label-worker" in " ".join(process.cmdline()):
                process.terminate()
        except psutil.NoSuchProcess:
            continue


@pytest.fixture(scope="session")
def _running_demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The running demo of :func:`tests.app_helpers.store_running_demo` (real training),
    trained once per session: (its database file, its experiment id). Tests copy it
    (:func:`running_demo`), never change it."""
    from tests.app_helpers import store_running_demo

    path = tmp_path_factory.mktemp("running-demo") / "al.sqlite3"
    return path, store_running_demo(path)


@pytest.fixture
def running_demo(_running_demo_store: tuple[Path, int]) -> Any:
    """A copy of the running demo's store for one test: ``copy(folder)`` writes it to
    ``folder/al.sqlite3`` (SQLite's backup, whole and consistent) and returns the
    experiment's id."""
    import sqlite3

    source, experiment_id = _running_demo_store

    def copy(folder: Path) -> int:
        folder.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(folder / "al.sqlite3") as dest:
            src.backup(dest)
        return experiment_id

    return copy
