"""The data check (:mod:`al_core.datacheck`) on real data: the embedded digits, an
image folder with mixed sizes, colours and a broken file, an npz; and the same
summary from ``python -m al_core data`` (text and ``--json``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from al_core.datacheck import (
    FLOOR_CAP,
    check_dataset,
    format_check,
    learning_floor,
    sample_grid,
)
from al_core.datasets import load_dataset
from al_core.errors import DatasetError
from tests.upload_files import shapes_images

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits_check():
    return check_dataset("digits")


def test_digits_counts_split_and_samples(digits_check) -> None:
    check = digits_check
    data = load_dataset("digits")
    assert check.class_names == tuple(str(i) for i in range(10))
    assert check.pool_counts == tuple(np.bincount(data.y_pool, minlength=10))
    assert check.test_counts == tuple(np.bincount(data.y_test, minlength=10))
    assert (check.pool_size, check.test_size) == (1437, 360)
    assert check.image_shape == (8, 8, 1)
    assert "grayscale" in check.colour and "no resizing" in check.size
    assert "360 images drawn from the 1,797 digits" in check.test_split
    assert check.skipped == ()
    for label, images in enumerate(check.samples):
        assert images.shape == (8, 8, 8, 1)
        # every sample is a pool image of its own class
        own = data.x_pool[data.y_pool == label].reshape(-1, 64)
        for image in images.reshape(len(images), 64):
            assert (np.abs(own - image).sum(axis=1) == 0).any()


def test_digits_floor_is_the_published_linear_floor(digits_check) -> None:
    floor = {p.labels: p.accuracy for p in digits_check.floor}
    assert list(floor) == [20, 50, 100, 200, 1437]  # all of the pool, under the cap
    # DESIGN.md: LogisticRegression on 8x8 digits, about 61 % / 80 % / 88 % / 93 %
    assert 0.5 < floor[20] < 0.75
    assert 0.72 < floor[50] < 0.88
    assert 0.82 < floor[100] < 0.93
    assert 0.88 < floor[200] < 0.96
    assert floor[1437] > 0.95
    for point in digits_check.floor:
        assert point.low <= point.accuracy <= point.high
    assert digits_check.floor_test_images == 360


def test_floor_caps_labels_and_test_images() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(3000) % 2
    x = rng.normal(size=(3000, 4, 4, 1)).astype(np.float32) + y[:, None, None, None]
    points, n_test = learning_floor(x, y, x[:2500], y[:2500], counts=(5, 20, 4000), seeds=1)
    assert [p.labels for p in points] == [5, 20, FLOOR_CAP]
    assert n_test == 2000
    assert points[-1].accuracy > 0.95  # the two classes are far apart
    with pytest.raises(DatasetError):
        learning_floor(x, y, x, y, seeds=0)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three classes of 16x16 RGB images, two of them 24x24 and one gray, a broken file."""
    root = tmp_path / "shapes"
    for name, data in shapes_images(per_class=10).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    Image.new("RGB", (24, 24), (200, 0, 0)).save(root / "bars" / "big.png")
    Image.new("RGB", (24, 24), (0, 200, 0)).save(root / "discs" / "big.png")
    Image.new("L", (16, 16), 128).save(root / "columns" / "gray.png")
    (root / "discs" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_image_folder_policies_and_skipped(folder: Path) -> None:
    check = check_dataset(f"folder:{folder}", extra_skipped=("zip/entry.png: corrupt",))
    assert check.class_names == ("bars", "columns", "discs")
    assert check.pool_counts == (8, 9, 9) and check.test_counts == (3, 2, 2)  # 20 % of 33
    assert check.image_shape == (16, 16, 3)
    assert check.colour.startswith("RGB") and "any grayscale image was repeated" in check.colour
    assert "16x16 pixels, the most frequent size" in check.size
    assert "2 of the 33 images were resized" in check.size
    assert "7 images drawn from the folder, stratified" in check.test_split
    assert check.skipped == (
        "zip/entry.png: corrupt",
        "discs/broken.png: not an image Pillow can read",
    )
    assert [p.labels for p in check.floor] == [20, 26]
    assert all(0.0 <= p.accuracy <= 1.0 for p in check.floor)
    assert [len(s) for s in check.samples] == [8, 8, 8]
    notes = check.warnings()
    assert any("fewer than 10 pool images" in n for n in notes)
    assert any("2 file(s) were skipped" in n for n in notes)
    text = format_check(check)
    assert "bars" in text and "discs/broken.png: not an image" in text
    assert "logistic-regression floor" in text


def test_npz_test_split_is_the_archives(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    y = np.arange(40) % 4
    path = tmp_path / "a.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:12], y_test=y[:12], class_names=list("abcd"))
    check = check_dataset(f"npz:{path}")
    assert check.class_names == ("a", "b", "c", "d")
    assert check.test_split == "the archive's x_test / y_test: all 12 images"
    assert check.size == "6x6 pixels, as stored (no resizing)"
    assert check.colour == "RGB (3 channels), as stored"
    assert check.pool_counts == (10, 10, 10, 10)
    check = check_dataset(f"npz:{path}", test_size=8)
    assert check.test_size == 8 and "stratified subset of 8 images" in check.test_split


def test_sample_grid_tiles_and_upscales() -> None:
    images = np.zeros((5, 8, 8, 1), np.float32)
    images[1] = 1.0
    grid = sample_grid(images, columns=3)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 48 + 2, 3 * 48 + 4, 3)
    assert (grid[:48, 50:98] == 255).all() and (grid[:48, :48] == 0).all()
    assert (grid[50:, 100:] == 255).all()  # the empty sixth cell stays white
    with pytest.raises(DatasetError):
        sample_grid(np.zeros((0, 8, 8, 1)))


def _al(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "al_core", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_data_text_and_json(folder: Path) -> None:
    text = _al("data", f"folder:{folder}")
    assert text.returncode == 0, text.stderr
    assert f"data set: folder:{folder}" in text.stdout
    assert "images: 26 pool / 7 test, 16x16x3, 3 classes" in text.stdout
    assert "1 file(s) skipped:\n  discs/broken.png: not an image Pillow can read" in text.stdout
    assert "logistic-regression floor" in text.stdout and "26 labels:" in text.stdout

    result = _al("data", f"folder:{folder}", "--json", "--test-size", "9")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["classes"] == [
        {"class": "bars", "pool": 8, "test": 3},
        {"class": "columns", "pool": 8, "test": 3},
        {"class": "discs", "pool": 8, "test": 3},
    ]
    assert report["image_shape"] == {"height": 16, "width": 16, "channels": 3}
    assert report["skipped"] == ["discs/broken.png: not an image Pillow can read"]
    assert [p["labels"] for p in report["floor"]["points"]] == [20, 24]
    assert report["floor"]["test_images"] == 9


def test_cli_data_refuses_a_bad_source(tmp_path: Path) -> None:
    result = _al("data", f"folder:{tmp_path / 'missing'}")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and result.stdout == ""


def test_cli_data_help_names_the_options() -> None:
    out = _al("data", "--help").stdout
    assert "usage: python -m al_core data" in out
    for option in ("--json", "--test-size", "--pool-size", "--data-seed"):
        assert option in out
