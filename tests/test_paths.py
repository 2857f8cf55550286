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

from al_core.datasets.sources import confine_dataset_source
from al_core.errors import DatasetError
from al_core.paths import confine_path, data_root
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


# --------------------------------------------------------------------------- links inside


def _images(folder: Path, n: int, shade: int) -> None:
    """``n`` distinct small grayscale PNGs in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("L", (8, 8), shade + i).save(folder / f"{i}.png")


@pytest.fixture
def image_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A data root holding ``imgs/`` (classes cat and dog, 6 real PNGs each) and, beside
    the root, a folder ``outside`` with a class folder and a file of its own."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    _images(root / "imgs" / "cat", 6, 20)
    _images(root / "imgs" / "dog", 6, 200)
    _images(outside / "payroll", 6, 120)
    _images(outside, 1, 90)  # outside/0.png
    monkeypatch.setenv("AL_DATA_DIR", str(root))
    return root, outside


def _refusal(source: str) -> str:
    from al_core.datasets import load_dataset

    with pytest.raises(DatasetError) as refused:
        load_dataset(confine_dataset_source(source))
    return str(refused.value)


def _says_problem_and_fix(message: str, root: Path, outside: Path) -> None:
    assert message.startswith(f"image folder {root.resolve() / 'imgs'} is refused: ")
    assert f"lead outside the allowed data root {root.resolve()}" in message
    assert message.endswith(
        "Fix: replace each link by a copy of what it points to (e.g. `cp -RL`), or start "
        "the app with AL_DATA_DIR set to a folder that holds the files."
    )
    # Nothing about what lies outside: neither its path nor its names.
    assert str(outside) not in message and "payroll" not in message


def test_typed_folder_with_a_class_folder_linking_outside_is_refused(
    image_folders: tuple[Path, Path],
) -> None:
    root, outside = image_folders
    (root / "imgs" / "bird").symlink_to(outside / "payroll", target_is_directory=True)
    message = _refusal("folder:imgs")
    _says_problem_and_fix(message, root, outside)
    assert "\n  bird/: a link to a folder outside the data root\n" in message


def test_typed_folder_with_a_file_linking_outside_is_refused(
    image_folders: tuple[Path, Path],
) -> None:
    root, outside = image_folders
    (root / "imgs" / "dog" / "extra.png").symlink_to(outside / "0.png")
    (root / "imgs" / "cat" / "deep").mkdir()
    (root / "imgs" / "cat" / "deep" / "more.png").symlink_to(outside / "payroll" / "1.png")
    message = _refusal("folder:imgs")
    _says_problem_and_fix(message, root, outside)
    lines = message.splitlines()
    assert lines[1:3] == [
        "  cat/deep/more.png: a link to a file outside the data root",
        "  dog/extra.png: a link to a file outside the data root",
    ]


def test_links_that_stay_inside_the_root_are_read(image_folders: tuple[Path, Path]) -> None:
    from al_core.datasets import load_dataset

    root, _ = image_folders
    _images(root / "shared" / "bird", 6, 120)
    (root / "imgs" / "bird").symlink_to(root / "shared" / "bird", target_is_directory=True)
    # A linked image of its own (a link to a bird image would be a duplicate, kept once).
    _images(root / "shared" / "dog", 1, 250)
    (root / "imgs" / "dog" / "extra.png").symlink_to(root / "shared" / "dog" / "0.png")
    data = load_dataset(confine_dataset_source("folder:imgs"), test_size=3)
    assert data.class_names == ("bird", "cat", "dog")
    assert len(data.x_pool) + len(data.x_test) == 6 + 6 + 7


def test_the_command_line_may_read_a_folder_outside_the_root_with_its_links(
    image_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    """Not confined (its user has a shell): a folder outside the data root is read as
    it is, links and all."""
    from al_core.datasets import load_dataset

    _, outside = image_folders
    elsewhere = tmp_path / "elsewhere"
    _images(elsewhere / "cat", 6, 20)
    (elsewhere / "bird").symlink_to(outside / "payroll", target_is_directory=True)
    data = load_dataset(f"folder:{elsewhere}", test_size=3)
    assert data.class_names == ("bird", "cat")
    assert len(data.x_pool) + len(data.x_test) == 12


def test_experiments_page_refuses_a_folder_linking_outside(
    image_folders: tuple[Path, Path],
) -> None:
    root, outside = image_folders
    (root / "imgs" / "bird").symlink_to(outside / "payroll", target_is_directory=True)
    app = AppTest.from_file(EXPERIMENTS, default_timeout=60).run()
    app.selectbox(key="dataset").set_value(OTHER).run()
    app.text_input(key="dataset_path").set_value("folder:imgs").run()
    app.button(key="launch").click().run()
    assert not app.exception
    (error,) = [e.value for e in app.error]
    assert error.startswith("Not launched: ")
    _says_problem_and_fix(error.removeprefix("Not launched: "), root, outside)
    assert "bird/: a link to a folder outside the data root" in error
    with Store(root / "al.sqlite3") as store:
        assert store.experiments() == []
