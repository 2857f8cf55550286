"""Reading commands work on a database in a read-only folder: ``report``, ``status``
and the Results page; a writing command is refused with a clear message and the
file is left byte for byte as it was.

The tests run as root here, and root writes through any permission bit (its
capability ``CAP_DAC_OVERRIDE``), so as root the readers run in real subprocesses
that have dropped that capability and ``CAP_DAC_READ_SEARCH`` (``prctl``): the
permission bits then bind them as they bind an ordinary user, who needs no drop.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from al_core.store import Store
from tests.conftest import REPO_ROOT, require_or_skip

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
RESULTS_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
print(json.dumps({
    "exception": [str(e.value) for e in app.exception],
    "errors": [e.value for e in app.error],
    "tables": len(app.dataframe),
    "charts": len(app.get("plotly_chart")),
}))
"""


def _drop_root_file_rights() -> None:
    """In the child, before exec: leave the capabilities that bypass permission bits."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _as_reader() -> dict:
    """subprocess options under which permission bits bind (nothing to do for a user)."""
    return {"preexec_fn": _drop_root_file_rights} if os.geteuid() == 0 else {}


@pytest.fixture(scope="module")
def read_only_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database with one finished real run, in a folder this user may not write to."""
    folder = tmp_path_factory.mktemp("read-only")
    db = folder / "al.sqlite3"
    run = subprocess.run(
        [sys.executable, "-m", "al_core", "run", "--dataset", "digits", "--model", "softmax",
         "--epochs", "3", "--min-steps", "25", "--learning-rate", "0.05", "--rounds", "2",
         "--target", "0.5",
         "--db", str(db)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not Path(f"{db}-wal").exists()  # closed cleanly: the WAL was folded in
    db.chmod(0o444)
    folder.chmod(0o555)
    probe = subprocess.run(
        [sys.executable, "-c", f"import os; print(os.access({str(folder)!r}, os.W_OK))"],
        capture_output=True, text=True, **_as_reader(),
    )  # fmt: skip
    require_or_skip(probe.stdout.strip() == "False", "a reader for whom the folder is read-only")
    try:
        yield db
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _al(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(db.parent)}
    return subprocess.run(
        [sys.executable, "-m", "al_core", *args, "--db", str(db)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, **_as_reader(),
    )  # fmt: skip


def test_report_and_status_read_a_read_only_database(read_only_db: Path) -> None:
    before = _digest(read_only_db)
    listing = _al(read_only_db, "report")
    assert listing.returncode == 0, listing.stderr
    assert "done" in listing.stdout and "run · digits · margin" in listing.stdout
    table = _al(read_only_db, "report", "1", "--json")
    assert table.returncode == 0, table.stderr
    shown = json.loads(table.stdout)
    # The table alone, or inside an object with the verdict.
    (row,) = shown["configurations"] if isinstance(shown, dict) else shown
    assert row["strategy"] == "margin" and row["trials"] == 1
    status = _al(read_only_db, "status", "1", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["experiments"]["1"]["done"] == 1
    assert _digest(read_only_db) == before
    assert sorted(p.name for p in read_only_db.parent.iterdir()) == ["al.sqlite3"]


def test_a_write_on_a_read_only_database_is_refused(read_only_db: Path) -> None:
    before = _digest(read_only_db)
    cancel = _al(read_only_db, "cancel", "1")
    assert cancel.returncode == 2
    assert "is read-only here" in cancel.stderr and "Nothing was changed" in cancel.stderr
    assert "Traceback" not in cancel.stderr
    assert _digest(read_only_db) == before


def test_results_page_reads_a_read_only_database(read_only_db: Path) -> None:
    env = {
        **os.environ,
        "AL_DATA_DIR": str(read_only_db.parent),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(read_only_db.parent),
    }
    page = subprocess.run(
        [sys.executable, "-c", RESULTS_PAGE, str(REPO_ROOT / "pages" / "results.py")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, **_as_reader(),
    )  # fmt: skip
    assert page.returncode == 0, page.stderr
    shown = json.loads(page.stdout.strip().splitlines()[-1])
    assert shown["exception"] == [] and shown["errors"] == []
    assert shown["tables"] >= 1 and shown["charts"] >= 1


def test_the_same_database_opens_read_write_when_writable(read_only_db: Path) -> None:
    """Where it may write (root here, or after chmod), the store opens read-write."""
    read_only_db.parent.chmod(0o755)
    read_only_db.chmod(0o644)
    try:
        with Store(read_only_db) as store:
            assert not store.read_only
            assert store.experiments()[0]["status"] == "done"
    finally:
        read_only_db.chmod(0o444)
        read_only_db.parent.chmod(0o555)
