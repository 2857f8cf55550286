"""Labeled data sets uploaded from the browser (:mod:`al_core.user_datasets`): stored in
their own folder under the data root, loaded like any folder or npz source, refused
with nothing kept when hostile, deleted without touching stored results."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from al_core import user_datasets
from al_core.datasets import load_dataset
from al_core.errors import DatasetError
from al_core.loop import TrialConfig
from al_core.runner import submit_experiment
from al_core.store import Store
from tests.upload_files import hostile_uploads, npz_bytes, shapes_images, shapes_zip, zip_of


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("AL_DATA_DIR", str(data))
    return data.resolve()


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_a_zip_of_class_folders_is_stored_listed_and_loads(root: Path) -> None:
    data = shapes_zip(per_class=6, wrapper="shapes", extra={"shapes/discs/notes.txt": b"hi"})
    stored = user_datasets.save_upload(data, "shapes.zip", "My Shapes!")
    assert stored.slug == "my-shapes" and stored.name == "My Shapes!" and stored.kind == "folder"
    # the wrapping top folder is looked through: the classes are its subfolders
    assert stored.source == f"folder:{root}/datasets/my-shapes/images/shapes"
    assert user_datasets.list_uploaded() == [stored]
    assert stored.label() == "My Shapes! (uploaded image folder)"
    dataset = load_dataset(stored.source)
    assert dataset.class_names == ("bars", "columns", "discs")
    assert len(dataset.x_pool) + len(dataset.x_test) == 18
    assert dataset.image_shape == (16, 16, 3)
    assert dataset.skipped == ("discs/notes.txt: not an image Pillow can read",)
    assert user_datasets.uploaded_for_source(stored.source) == stored


def test_an_npz_is_stored_and_loads(root: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    y = np.arange(12) % 3
    data = npz_bytes(x_train=x, y_train=y, x_test=x[:6], y_test=y[:6])
    stored = user_datasets.save_upload(data, "arrays.NPZ", "arrays")
    assert stored.kind == "npz" and stored.source == f"npz:{root}/datasets/arrays/data.npz"
    dataset = load_dataset(stored.source)
    assert len(dataset.x_pool) == 12 and len(dataset.x_test) == 6
    np.testing.assert_array_equal(dataset.y_pool, y)


def test_names_are_made_safe_and_unique(root: Path) -> None:
    data = shapes_zip(per_class=3)
    stored = user_datasets.save_upload(data, "a.zip", "../../etc/passwd")
    assert stored.folder == root / "datasets" / "etc-passwd"  # inside datasets/, always
    with pytest.raises(DatasetError, match="already exists"):
        user_datasets.save_upload(data, "a.zip", "ETC passwd")
    for empty in ("", "  ", "../..", "***"):
        with pytest.raises(DatasetError, match="give the data set a name"):
            user_datasets.save_upload(data, "a.zip", empty)
    with pytest.raises(DatasetError, match="neither a .zip"):
        user_datasets.save_upload(data, "a.tar", "tarball")
    assert [s.slug for s in user_datasets.list_uploaded()] == ["etc-passwd"]


@pytest.mark.parametrize(("filename", "data", "message"), hostile_uploads())
def test_hostile_uploads_are_refused_and_nothing_is_kept(
    root: Path, tmp_path: Path, filename: str, data: bytes, message: str
) -> None:
    before = _tree(tmp_path)
    with pytest.raises(DatasetError, match=message):
        user_datasets.save_upload(data, filename, "hostile")
    after = _tree(tmp_path)
    assert after - before <= {"data/datasets"}  # at most the (empty) parent folder
    assert not any((root / "datasets").iterdir())
    assert not (tmp_path / "evil.png").exists() and not (root / "evil.png").exists()
    assert user_datasets.list_uploaded() == []


def test_refusals_name_the_upload_not_the_server_folder(root: Path) -> None:
    with pytest.raises(DatasetError) as refused:
        user_datasets.save_upload(zip_of({"a.png": b"x", "b.png": b"y"}), "flat.zip", "x")
    text = str(refused.value)
    assert "refused, nothing was kept" in text and "'flat.zip'" in text
    assert ".upload-" not in text and str(root) not in text
    one_class = {f"cats/{i}.png": v for i, v in enumerate(shapes_images(2).values())}
    with pytest.raises(DatasetError, match="1 class subfolder"):
        user_datasets.save_upload(zip_of(one_class), "cats.zip", "cats")
    assert not any((root / "datasets").iterdir())


def test_the_size_limit_is_the_label_pages(root: Path) -> None:
    data = shapes_zip(per_class=3)
    with pytest.raises(DatasetError, match="over the limit of"):
        user_datasets.save_upload(data, "a.zip", "big", max_bytes=len(data) - 1)
    assert not (root / "datasets").exists() or not any((root / "datasets").iterdir())


def test_delete_removes_the_files_and_keeps_the_results(root: Path) -> None:
    stored = user_datasets.save_upload(shapes_zip(per_class=4), "s.zip", "shapes")
    kept = user_datasets.save_upload(shapes_zip(per_class=3), "t.zip", "other")
    with Store(root / "al.sqlite3") as store:
        config = TrialConfig(dataset=stored.source, model="softmax", initial=3, batch=3)
        experiment_id = submit_experiment(store, config, ["margin"], [0.0, 1.0], 1)
        before = store.experiment(experiment_id)
    removed = user_datasets.delete_uploaded("shapes")
    assert removed.slug == "shapes" and not stored.folder.exists()
    assert user_datasets.list_uploaded() == [kept] and kept.folder.is_dir()
    with Store(root / "al.sqlite3") as store:
        assert store.experiment(experiment_id) == before
        assert len(store.trials(experiment_id)) == 2
    for bad in ("shapes", "..", "../al.sqlite3", "/etc", ""):
        with pytest.raises(DatasetError):
            user_datasets.delete_uploaded(bad)
    assert (root / "al.sqlite3").is_file()


def test_a_half_written_folder_is_not_listed(root: Path) -> None:
    (root / "datasets" / ".upload-abc" / "images").mkdir(parents=True)
    (root / "datasets" / "no-meta").mkdir()
    assert user_datasets.list_uploaded() == []
    assert os.listdir(root / "datasets")  # left alone, not deleted by listing
