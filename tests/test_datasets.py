"""Tests of al_core.datasets with the real loaders (scikit-learn, Keras, NumPy, Pillow)."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from al_core.datasets import BUILTIN_DATASETS, Dataset, load_dataset, load_images
from al_core.errors import DatasetError
from tests.conftest import REPO_ROOT, require_or_skip

CIFAR_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def _assert_well_formed(ds: Dataset) -> None:
    for x, y in ((ds.x_pool, ds.y_pool), (ds.x_test, ds.y_test), (ds.x_val, ds.y_val)):
        if x is None:
            assert y is None
            continue
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.flags.c_contiguous and y.flags.c_contiguous
        assert x.ndim == 4 and x.shape[1:] == ds.image_shape and y.shape == (len(x),)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert y.min() >= 0 and y.max() < ds.num_classes


def _assert_same(a: Dataset, b: Dataset) -> None:
    np.testing.assert_array_equal(a.x_pool, b.x_pool)
    np.testing.assert_array_equal(a.y_pool, b.y_pool)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_test, b.y_test)


# ------------------------------------------------------------------- digits


def _all_digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)


def test_digits_default_split_shapes_and_ranges():
    ds = load_dataset("digits")
    _assert_well_formed(ds)
    assert ds.name == "digits" and ds.class_names == tuple("0123456789")
    assert ds.x_pool.shape == (1437, 8, 8, 1) and ds.x_test.shape == (360, 8, 8, 1)
    assert ds.image_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.x_val is None and ds.y_val is None and ds.skipped == ()
    assert ds.x_pool.max() == 1.0  # 16 / 16
    assert set(np.bincount(ds.y_test, minlength=10)) <= {35, 36, 37}  # stratified
    # pool and test partition the 1,797 images (digits has no duplicate image)
    assert _rows(ds.x_pool) | _rows(ds.x_test) == _rows(_all_digits())
    assert not _rows(ds.x_pool) & _rows(ds.x_test)
    assert ds.describe() == "digits: 1437 pool / 360 test images, 8x8x1, 10 classes"


def test_digits_is_deterministic_by_seed():
    a, b, c = (load_dataset("digits", seed=s) for s in (7, 7, 8))
    _assert_same(a, b)
    assert _rows(a.x_test) != _rows(c.x_test)


def test_digits_pool_test_val_options_are_disjoint():
    ds = load_dataset("digits", pool_size=500, test_size=300, val_size=200, seed=3)
    _assert_well_formed(ds)
    assert (len(ds.x_pool), len(ds.x_val), len(ds.x_test)) == (500, 200, 300)
    pool, val, test = _rows(ds.x_pool), _rows(ds.x_val), _rows(ds.x_test)
    assert len(pool) == 500 and len(val) == 200 and len(test) == 300
    assert not pool & val and not pool & test and not val & test
    assert pool | val | test <= _rows(_all_digits())
    assert "500 pool / 200 val / 300 test images" in ds.describe()
    # the test split does not move when only pool_size / val_size change
    other = load_dataset("digits", pool_size=100, test_size=300, seed=3)
    np.testing.assert_array_equal(other.x_test, ds.x_test)


def test_bare_builtin_names_are_case_insensitive():
    assert load_dataset(" Digits ", pool_size=50).x_pool.shape == (50, 8, 8, 1)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"pool_size": 5000}, ["pool_size=5000", "1437", "pool_size <= 1437"]),
        ({"pool_size": 0}, ["pool_size=0", "pool_size >= 1"]),
        ({"pool_size": -3}, ["pool_size=-3"]),
        ({"pool_size": 2.5}, ["whole number"]),
        ({"pool_size": True}, ["whole number"]),
        ({"test_size": 1797}, ["test_size=1797", "1787"]),
        ({"test_size": 0}, ["test_size=0"]),
        ({"val_size": -1}, ["val_size=-1", "val_size >= 0"]),
        ({"val_size": 1000, "pool_size": 1000}, ["pool_size=1000", "437", "val_size=1000"]),
        ({"seed": -1}, ["seed=-1"]),
        ({"image_size": (8, 8)}, ["image_size", "folder:PATH"]),
    ],
)
def test_out_of_range_options_are_refused(options, words):
    with pytest.raises(DatasetError) as info:
        load_dataset("digits", **options)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("source", ["imagenet", "npz:", "/no/such/file.npz", ""])
def test_unknown_source_lists_the_valid_choices(source):
    with pytest.raises(DatasetError) as info:
        load_dataset(source)
    if source != "npz:":
        message = str(info.value)
        assert repr(source.strip()) in message
        for name in (*BUILTIN_DATASETS, "npz:PATH", "folder:PATH"):
            assert name in message


# --------------------------------------------------------- MNIST, Fashion-MNIST


@pytest.fixture(scope="module")
def mnist_official(keras_datasets_dir):
    with np.load(keras_datasets_dir / "mnist.npz", allow_pickle=False) as f:
        return {key: f[key] for key in ("x_train", "y_train", "x_test", "y_test")}


def _lookup(x_raw: np.ndarray, y_raw: np.ndarray) -> dict[bytes, set[int]]:
    table: dict[bytes, set[int]] = {}
    for row, label in zip(x_raw.reshape(len(x_raw), -1), y_raw, strict=True):
        table.setdefault(row.tobytes(), set()).add(int(label))
    return table


def test_mnist_protocol_with_the_real_keras_loader(mnist_official):
    ds = load_dataset("mnist", pool_size=4000, test_size=400)
    _assert_well_formed(ds)
    assert ds.x_pool.shape == (4000, 28, 28, 1) and ds.x_test.shape == (400, 28, 28, 1)
    assert ds.class_names == tuple("0123456789")
    for y, official in (
        (ds.y_pool, mnist_official["y_train"]),
        (ds.y_test, mnist_official["y_test"]),
    ):
        share = np.bincount(official, minlength=10) / len(official)  # stratified subsets
        assert np.abs(np.bincount(y, minlength=10) - share * len(y)).max() <= 1
    # every image comes from the right official split, with its own label
    for x, y, split in ((ds.x_pool, ds.y_pool, "train"), (ds.x_test, ds.y_test, "test")):
        table = _lookup(mnist_official[f"x_{split}"], mnist_official[f"y_{split}"])
        raw = np.rint(x * 255).astype(np.uint8).reshape(len(x), -1)
        assert all(int(label) in table[row.tobytes()] for row, label in zip(raw, y, strict=True))


def test_mnist_is_deterministic_by_seed(keras_datasets_dir):
    a = load_dataset("mnist", pool_size=4000, test_size=400, seed=0)
    b = load_dataset("mnist", pool_size=4000, test_size=400, seed=0)
    c = load_dataset("mnist", pool_size=4000, test_size=400, seed=1)
    _assert_same(a, b)
    assert not np.array_equal(a.x_pool, c.x_pool)
    assert not np.array_equal(a.y_test, c.y_test) or not np.array_equal(a.x_test, c.x_test)


def test_mnist_pool_size_larger_than_training_set(keras_datasets_dir):
    with pytest.raises(DatasetError, match="pool_size=60001.*only 60000 available"):
        load_dataset("mnist", pool_size=60_001)


def test_fashion_mnist_small(keras_datasets_dir):
    folder = keras_datasets_dir / "fashion-mnist"
    require_or_skip((folder / "train-images-idx3-ubyte.gz").is_file(), f"Fashion-MNIST in {folder}")
    ds = load_dataset("fashion_mnist", pool_size=300, test_size=100, val_size=50, seed=2)
    _assert_well_formed(ds)
    assert (ds.x_pool.shape, ds.x_val.shape, ds.x_test.shape) == (
        (300, 28, 28, 1),
        (50, 28, 28, 1),
        (100, 28, 28, 1),
    )
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert ds.name == "fashion_mnist"


# ------------------------------------------------------------------- CIFAR-10

# keras.datasets.cifar10.load_data() hard-codes 5 training batches of exactly
# 10,000 rows (np.empty((50000, 3, 32, 32)) filled in 10,000-row slices), so the
# stand-in archive has full-size training batches; its pixels are nearly constant
# so the tar.gz stays around 1 MB. The test batch is read as it is: 200 images.
CIFAR_PER_BATCH, CIFAR_TEST = 10_000, 200

# Runs in a fresh interpreter: Keras reads KERAS_HOME once, at import time.
_CIFAR_SCRIPT = r"""
import json, shutil, sys
from pathlib import Path
import numpy as np
from al_core.datasets import load_dataset
from al_core.errors import DatasetError

archive, keras_home, out = map(Path, sys.argv[1:4])
result = {}
try:  # no archive yet: Keras tries to download it, through a proxy that refuses
    load_dataset("cifar10")
except DatasetError as exc:
    result["missing_error"] = str(exc)
# Keras' get_file(fname="cifar-10-batches-py-target", extract=True) looks for the
# tarball at datasets/cifar-10-batches-py-target_archive and extracts it (again, on
# every call) into datasets/cifar-10-batches-py-target/.
shutil.copy(archive, keras_home / "datasets" / "cifar-10-batches-py-target_archive")
# The one stand-in: a test archive cannot have the official SHA-256, and get_file
# would "re-download" on a mismatch, so the hash check accepts it. Everything else
# (cache lookup, extraction, pickle reading, reshaping) is Keras' own code.
import keras.src.utils.file_utils as file_utils
file_utils.validate_file = lambda *args, **kwargs: True
ds = load_dataset("cifar10", pool_size=1000, seed=5)
np.savez(out, x_pool=ds.x_pool, y_pool=ds.y_pool, x_test=ds.x_test, y_test=ds.y_test,
         class_names=np.array(ds.class_names), dtypes=np.array([str(ds.x_pool.dtype),
         str(ds.y_pool.dtype)]))
result["describe"] = ds.describe()
(keras_home / "result.json").write_text(json.dumps(result))
"""


def _cifar_batch(labels: np.ndarray, first: int) -> bytes:
    """One batch in the official format: a pickled dict with bytes keys.

    Protocol 3, not 2: Python 3 writes protocol-2 bytes through ``_codecs.encode``,
    which Keras' RestrictedUnpickler refuses (the official files are Python 2
    pickles, whose byte strings need no such call).
    """
    data = np.empty((len(labels), 3, 32, 32), dtype=np.uint8)
    data[:, 0] = (labels * 20).astype(np.uint8)[:, None, None]  # red encodes the label
    data[:, 1], data[:, 2] = 100, 200
    data[:, 0, 0, 1] = 255  # marker at row 0, column 1 of the red plane
    batch = {
        b"batch_label": b"fake batch",
        b"labels": [int(v) for v in labels],
        b"data": data.reshape(len(labels), 3072),
        b"filenames": [f"img_{first + i}.png".encode() for i in range(len(labels))],
    }
    return pickle.dumps(batch, protocol=3)


@pytest.fixture(scope="module")
def cifar_archive(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """``cifar-10-python.tar.gz`` look-alike and the labels of its test batch."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz"
    meta = {
        b"num_cases_per_batch": CIFAR_PER_BATCH,
        b"num_vis": 3072,
        b"label_names": [n.encode() for n in CIFAR_NAMES],
    }
    test_labels = rng.integers(0, 10, CIFAR_TEST)
    members = {
        "batches.meta": pickle.dumps(meta, protocol=3),
        "test_batch": _cifar_batch(test_labels, 0),
    }
    for i in range(1, 6):
        labels = rng.integers(0, 10, CIFAR_PER_BATCH)
        members[f"data_batch_{i}"] = _cifar_batch(labels, i * CIFAR_PER_BATCH)
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path, test_labels


def test_cifar10_through_the_real_keras_loader(cifar_archive, tmp_path):
    archive, test_labels = cifar_archive
    keras_home = tmp_path / "keras-home"
    (keras_home / "datasets").mkdir(parents=True)
    out = tmp_path / "cifar.npz"
    env = dict(
        os.environ,
        KERAS_HOME=str(keras_home),
        TF_CPP_MIN_LOG_LEVEL="3",
        https_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        no_proxy="",
        NO_PROXY="",
    )  # so that no download can happen anywhere
    done = subprocess.run(
        [sys.executable, "-c", _CIFAR_SCRIPT, str(archive), str(keras_home), str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Keras extracted ~150 MB next to the archive: do not leave it in pytest's tmp dirs
    shutil.rmtree(keras_home / "datasets", ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((keras_home / "result.json").read_text())

    missing = result["missing_error"]
    assert "cifar-10-batches-py-target_archive" in missing and str(keras_home) in missing
    assert "cannot download" in missing and "KERAS_HOME" in missing

    with np.load(out, allow_pickle=False) as f:
        got = {key: f[key] for key in f.files}
    assert tuple(got["dtypes"]) == ("float32", "int64")
    assert got["x_pool"].shape == (1000, 32, 32, 3) and got["y_pool"].shape == (1000,)
    assert got["x_test"].shape == (CIFAR_TEST, 32, 32, 3)
    np.testing.assert_array_equal(got["y_test"], test_labels)  # (N, 1) flattened, in order
    assert tuple(got["class_names"]) == CIFAR_NAMES
    for x, y in ((got["x_pool"], got["y_pool"]), (got["x_test"], got["y_test"])):
        red = np.float32(20) * y.astype(np.float32) / np.float32(255)
        np.testing.assert_allclose(x[:, 1, 0, 0], red, atol=1e-6)  # channels last
        np.testing.assert_allclose(x[:, 0, 1, 0], 1.0)  # (row, column) kept
        np.testing.assert_allclose(x[..., 1], 100 / 255, atol=1e-6)
        np.testing.assert_allclose(x[..., 2], 200 / 255, atol=1e-6)
    assert np.bincount(got["y_pool"], minlength=10).min() >= 80  # stratified
    assert result["describe"].startswith("cifar10: 1000 pool / 200 test images, 32x32x3")


# ------------------------------------------------------------------------ npz


def _save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _good_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "x_train": rng.integers(0, 256, (30, 6, 5), dtype=np.uint8),
        "y_train": np.arange(30) % 3,
        "x_test": rng.integers(0, 256, (9, 6, 5), dtype=np.uint8),
        "y_test": (np.arange(9) % 3).reshape(9, 1),
    }


def test_npz_round_trip(tmp_path):
    arrays = _good_arrays(np.random.default_rng(0))
    path = _save_npz(tmp_path / "data.npz", **arrays, class_names=np.array(["ant", "bee", "cow"]))
    ds = load_dataset(f"npz:{path}", val_size=3, seed=1)
    _assert_well_formed(ds)
    assert ds.name == f"npz:{path.resolve()}" and ds.class_names == ("ant", "bee", "cow")
    assert (ds.x_pool.shape, ds.x_val.shape, ds.x_test.shape) == (
        (27, 6, 5, 1),
        (3, 6, 5, 1),
        (9, 6, 5, 1),
    )
    np.testing.assert_array_equal(ds.x_test[..., 0], arrays["x_test"] / np.float32(255))
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"].ravel())
    train = _lookup(arrays["x_train"].astype(np.float32) / np.float32(255), arrays["y_train"])
    for x, y in ((ds.x_pool, ds.y_pool), (ds.x_val, ds.y_val)):
        assert all(int(v) in train[row.tobytes()] for row, v in zip(x[..., 0], y, strict=True))
    assert not _rows(ds.x_pool) & _rows(ds.x_val)
    bare = load_dataset(str(path), val_size=3, seed=1)  # bare path, same result
    _assert_same(ds, bare)


def test_npz_float_rgb_and_default_class_names(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((12, 4, 4, 3))
    path = _save_npz(
        tmp_path / "rgb.npz",
        x_train=x,
        y_train=np.arange(12) % 4,
        x_test=x[:4],
        y_test=np.arange(4),
    )
    ds = load_dataset(f"npz:{path}", test_size=2)
    _assert_well_formed(ds)
    assert ds.class_names == ("0", "1", "2", "3") and ds.image_shape == (4, 4, 3)
    np.testing.assert_allclose(np.sort(ds.x_pool.ravel()), np.sort(x.ravel()).astype(np.float32))


def test_npz_with_object_array_is_refused(tmp_path):
    arrays = _good_arrays(np.random.default_rng(0))
    arrays["y_train"] = np.array([1, "two", None] * 10, dtype=object)
    path = _save_npz(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(
        DatasetError,
        match=r"contains object arrays \(pickled data\), refused "
        "for safety; save plain numeric arrays",
    ):
        load_dataset(f"npz:{path}")


def test_npz_missing_keys_are_named(tmp_path):
    rng = np.random.default_rng(0)
    path = _save_npz(tmp_path / "partial.npz", x_train=rng.random((4, 3, 3)), labels=np.arange(4))
    with pytest.raises(DatasetError) as info:
        load_dataset(f"npz:{path}")
    message = str(info.value)
    assert "y_train, x_test, y_test" in message and "it has: x_train, labels" in message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"y_train": np.arange(29) % 3}, ["30 images", "(29,)"]),
        ({"y_train": (np.arange(30) % 3).astype(float)}, ["float64", "integer"]),
        ({"y_test": -(np.arange(9) % 3)}, ["negative label"]),
        ({"x_train": np.zeros((30, 36), np.uint8)}, ["(30, 36)", "(N, H, W)"]),
        ({"x_train": np.zeros((30, 6, 5, 2), np.uint8)}, ["C = 1", "or 3"]),
        ({"x_test": np.zeros((9, 5, 5), np.uint8)}, ["same (H, W, C)"]),
        ({"x_train": np.full((30, 6, 5), 2.0)}, ["[0, 1]", "divide"]),
        ({"x_train": np.full((30, 6, 5), 300, np.int64)}, ["0..255"]),
        ({"class_names": np.array(["a", "b"])}, ["class_names has only 2"]),
        ({"y_train": np.zeros(30, int), "y_test": np.zeros(9, int)}, ["single class"]),
    ],
)
def test_npz_bad_shapes_and_values_are_refused(tmp_path, change, words):
    arrays = {**_good_arrays(np.random.default_rng(0)), **change}
    path = _save_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError) as info:
        load_dataset(f"npz:{path}")
    for word in words:
        assert word in str(info.value)


def test_corrupt_npz_files_are_refused(tmp_path):
    not_zip = tmp_path / "noise.npz"
    not_zip.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(DatasetError, match="not an .npz archive"):
        load_dataset(str(not_zip))
    good = _save_npz(tmp_path / "good.npz", **_good_arrays(np.random.default_rng(0)))
    damaged = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:  # overwrite the middle of the first member's data
        start = zf.infolist()[0].header_offset + 100
    damaged[start : start + 64] = b"\xff" * 64
    broken = tmp_path / "broken.npz"
    broken.write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match=r"broken\.npz"):
        load_dataset(f"npz:{broken}")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")


# -------------------------------------------------------------- image folders


def _png(path: Path, image: Image.Image, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)


def _mixed_folder(root: Path) -> None:
    """cat: L, RGB, RGBA, P (other size); dog: L, JPEG RGB (other size), P + bad files."""
    rng = np.random.default_rng(0)
    _png(root / "cat" / "a_gray.png", Image.new("L", (10, 12), 90))
    _png(root / "cat" / "b_rgb.png", Image.fromarray(rng.integers(0, 256, (12, 10, 3), np.uint8)))
    rgba = np.zeros((12, 10, 4), np.uint8)
    rgba[..., 0], rgba[6:, :, 3] = 200, 255  # top half fully transparent
    _png(root / "cat" / "c_alpha.png", Image.fromarray(rgba, "RGBA"))
    _png(root / "cat" / "d_palette.gif", Image.new("RGB", (20, 24), (0, 0, 255)).convert("P"))
    _png(root / "dog" / "e_gray.png", Image.new("L", (10, 12), 30))
    _png(root / "dog" / "f_photo.jpg", Image.new("RGB", (30, 30), (10, 200, 10)))
    _png(root / "dog" / "g_palette.png", Image.new("L", (10, 12), 60).convert("P"))
    (root / "dog" / "notes.txt").write_text("not an image")
    whole = (root / "cat" / "b_rgb.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    _png(root / "dog" / "bomb_warning.png", Image.new("L", (120, 100)))  # 12,000 pixels
    _png(root / "dog" / "bomb_error.png", Image.new("L", (200, 200)))  # 40,000 > 2 x limit
    (root / "dog" / ".DS_Store").write_bytes(b"\x00\x01junk")
    _png(root / "cat" / ".ipynb_checkpoints" / "old.png", Image.new("L", (10, 12)))
    (root / "README.txt").write_text("one folder per class")


@pytest.fixture
def low_bomb_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)


def test_image_folder_with_mixed_files(tmp_path, low_bomb_limit):
    _mixed_folder(tmp_path / "pets")
    ds = load_dataset(f"folder:{tmp_path / 'pets'}", seed=0)
    _assert_well_formed(ds)
    assert ds.class_names == ("cat", "dog") and ds.name == f"folder:{(tmp_path / 'pets').resolve()}"
    assert ds.image_shape == (12, 10, 3)  # most common (W, H) = (10, 12); colour present -> RGB
    assert (len(ds.x_pool), len(ds.x_test)) == (5, 2)  # 7 images, 1 test image per class
    assert sorted(np.concatenate([ds.y_pool, ds.y_test]).tolist()) == [0, 0, 0, 0, 1, 1, 1]
    skipped = dict(entry.split(": ", 1) for entry in ds.skipped)
    assert set(skipped) == {
        "README.txt",
        "dog/notes.txt",
        "dog/truncated.png",
        "dog/bomb_warning.png",
        "dog/bomb_error.png",
    }
    assert skipped["dog/notes.txt"] == "not an image Pillow can read"
    assert skipped["dog/truncated.png"].startswith("truncated")
    assert skipped["dog/bomb_warning.png"] == "decompression bomb (12000 pixels > limit of 10000)"
    assert skipped["dog/bomb_error.png"] == "decompression bomb (40000 pixels > limit of 10000)"
    assert "5 files skipped" in ds.describe()
    images = np.concatenate([ds.x_pool, ds.x_test])
    transparent = [
        x for x in images if np.allclose(x[:6], 1.0) and np.allclose(x[6:, :, 0], 200 / 255)
    ]
    assert len(transparent) == 1  # alpha flattened onto white
    gray = [x for x in images if np.allclose(x, 90 / 255)]
    assert len(gray) == 1  # the L image, copied into 3 equal channels


def test_image_folder_is_deterministic_and_resizable(tmp_path, low_bomb_limit):
    _mixed_folder(tmp_path / "pets")
    a = load_dataset(str(tmp_path / "pets"), seed=4)
    b = load_dataset(f"folder:{tmp_path / 'pets'}", seed=4)
    _assert_same(a, b)
    resized = load_dataset(f"folder:{tmp_path / 'pets'}", image_size=(8, 16), test_size=3)
    assert resized.image_shape == (8, 16, 3) and len(resized.x_test) == 3
    with pytest.raises(DatasetError, match="test_size=6 is too large: only 5"):
        load_dataset(f"folder:{tmp_path / 'pets'}", test_size=6)
    with pytest.raises(DatasetError, match=r"\(height, width\)"):
        load_dataset(f"folder:{tmp_path / 'pets'}", image_size=(0, 5))


def test_grayscale_folder_stays_single_channel(tmp_path):
    root = tmp_path / "shapes"
    _png(root / "a" / "one.png", Image.new("1", (6, 6), 1))
    _png(root / "a" / "two.png", Image.new("L", (6, 6), 128))
    _png(root / "b" / "three.gif", Image.new("L", (8, 8), 50).convert("P"))
    _png(root / "b" / "four.png", Image.new("LA", (6, 6), (0, 0)))  # transparent -> white
    ds = load_dataset(f"folder:{root}")
    _assert_well_formed(ds)
    assert ds.image_shape == (6, 6, 1) and ds.skipped == ()
    values = {round(float(x.mean()), 3) for x in np.concatenate([ds.x_pool, ds.x_test])}
    assert {1.0, round(128 / 255, 3), round(50 / 255, 3)} <= values


def test_load_images_helper(tmp_path):
    _png(tmp_path / "x.png", Image.new("RGB", (4, 3), (255, 0, 0)))
    _png(tmp_path / "y.png", Image.new("L", (8, 6), 255))
    (tmp_path / "z.png").write_text("nope")
    paths = [tmp_path / "x.png", tmp_path / "z.png", tmp_path / "y.png"]
    x, kept, skipped = load_images(paths, image_size=(5, 7), mode="L")
    assert x.shape == (2, 5, 7, 1) and x.dtype == np.float32
    assert kept == ["x.png", "y.png"] and skipped == ["z.png: not an image Pillow can read"]
    x, kept, _ = load_images(paths)
    assert x.shape == (2, 6, 8, 3)  # ties go to the larger size; colour -> RGB
    np.testing.assert_allclose(x[0, ..., 0], 1.0)
    empty, kept, skipped = load_images([tmp_path / "z.png"], image_size=(5, 7), mode="RGB")
    assert empty.shape == (0, 5, 7, 3) and kept == [] and len(skipped) == 1


def test_bad_image_folders_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'absent'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="0 class subfolder"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    _png(tmp_path / "single" / "only" / "a.png", Image.new("L", (4, 4)))
    with pytest.raises(DatasetError, match=r"1 class subfolder\(s\) \(only\)"):
        load_dataset(f"folder:{tmp_path / 'single'}")
    (tmp_path / "unreadable" / "a").mkdir(parents=True)
    (tmp_path / "unreadable" / "b").mkdir()
    (tmp_path / "unreadable" / "a" / "x.png").write_text("text")
    with pytest.raises(DatasetError, match="no readable image"):
        load_dataset(f"folder:{tmp_path / 'unreadable'}")
    _png(tmp_path / "unreadable" / "a" / "ok.png", Image.new("L", (4, 4)))
    with pytest.raises(DatasetError, match="class folder.* b .*no readable image"):
        load_dataset(f"folder:{tmp_path / 'unreadable'}")
