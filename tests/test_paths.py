"""Paths typed into the app stay inside the data root (``$AL_DATA_DIR``).

The helper (:mod:`al_core.paths`) on real folders and symbolic links, and the
Experiments page under AppTest: its path box appears only when "other" is picked,
and a path outside the root is refused without a word about what lies there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from al_core.errors import DatasetError
from al_core.paths import confine_dataset_source, confine_path, data_root
from al_core.store import Store

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = str(REPO / "pages" / "experiments.py")
OTHER = "other (npz:PATH or folder:PATH)"


@pytest.fixture
def root_and_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A data root and, beside it, a folder outside it with recognisable subfolders."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sets").mkdir(parents=True)
    for name in ("secret-project", "payroll"):
        (outside / name).mkdir(parents=True)
    (outside / "x.npz").write_bytes(b"PK")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "sets" / "link.npz").symlink_to(outside / "x.npz")
    monkeypatch.setenv("AL_DATA_DIR", str(root))
    return root, outside


def test_paths_inside_the_root_resolve(root_and_outside: tuple[Path, Path]) -> None:
    root, _ = root_and_outside
    assert data_root() == root.resolve()
    assert confine_path("sets") == (root / "sets").resolve()
    assert confine_path(root / "sets" / ".." / "sets") == (root / "sets").resolve()
    assert confine_path("missing.npz") == root.resolve() / "missing.npz"  # existence: caller's
    assert confine_dataset_source("digits") == "digits"
    assert confine_dataset_source(" npz:sets/a.npz ") == f"npz:{root.resolve()}/sets/a.npz"
    assert confine_dataset_source("folder:sets") == f"folder:{root.resolve()}/sets"
    assert confine_dataset_source("sets") == f"folder:{root.resolve()}/sets"


@pytest.mark.parametrize(
    "typed",
    ["{outside}", "../outside", "escape", "escape/payroll", "sets/link.npz", "/etc", "~"],
)
def test_paths_outside_the_root_are_refused(
    root_and_outside: tuple[Path, Path], typed: str
) -> None:
    root, outside = root_and_outside
    typed = typed.format(outside=outside)
    for attempt in (typed, f"npz:{typed}", f"folder:{typed}"):
        with pytest.raises(DatasetError) as refused:
            if attempt == typed:
                confine_path(typed)
            else:
                confine_dataset_source(attempt)
        message = str(refused.value)
        assert f"outside the allowed data root {root.resolve()}" in message
        assert "AL_DATA_DIR" in message
        assert "payroll" not in message.replace(typed, "") and "secret" not in message


def test_empty_paths_are_refused(root_and_outside: tuple[Path, Path]) -> None:
    for typed in ("", "  ", "npz:", "folder: "):
        with pytest.raises(DatasetError, match="no (path|data set) given|names no path"):
            confine_dataset_source(typed)


def _texts(app: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("error", "success") for e in app.get(kind))


def test_experiments_page_path_box_only_for_other_and_confined(
    root_and_outside: tuple[Path, Path],
) -> None:
    root, outside = root_and_outside
    app = AppTest.from_file(EXPERIMENTS, default_timeout=60).run()
    assert not app.exception
    assert not [t for t in app.text_input if t.key == "dataset_path"]  # digits: no path box
    app.selectbox(key="dataset").set_value(OTHER).run()
    box = app.text_input(key="dataset_path")
    assert str(root.resolve()) in box.label  # says where paths may point

    box.set_value(f"folder:{outside}").run()
    app.button(key="launch").click().run()
    assert not app.exception
    (error,) = [e.value for e in app.error]
    assert error.startswith("Not launched: ")
    assert f"outside the allowed data root {root.resolve()}" in error
    assert "payroll" not in error and "secret-project" not in error  # nothing listed
    with Store(root / "al.sqlite3") as store:
        assert store.experiments() == []


def test_experiments_page_reads_an_npz_inside_the_root(
    root_and_outside: tuple[Path, Path],
) -> None:
    """A path inside the root passes confinement and reaches the data set checks."""
    root, _ = root_and_outside
    rng = np.random.default_rng(0)
    np.savez(
        root / "sets" / "small.npz",
        x_train=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        y_train=np.arange(30) % 3,
        x_test=rng.integers(0, 256, (9, 8, 8), dtype=np.uint8),
        y_test=np.arange(9) % 3,
    )
    app = AppTest.from_file(EXPERIMENTS, default_timeout=60).run()
    app.selectbox(key="dataset").set_value(OTHER).run()
    app.text_input(key="dataset_path").set_value("npz:sets/small.npz").run()
    app.number_input(key="initial").set_value(500)
    app.button(key="launch").click().run()
    assert not app.exception
    (error,) = [e.value for e in app.error]
    # Past the confinement: the pool of the npz (30 images) was read and checked.
    assert "initial labeled set (500) is larger than the pool (30 images)" in error
