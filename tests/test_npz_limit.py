"""``.npz`` archives are sized from their headers before anything is loaded.

A small compressed archive can declare arrays of gigabytes (zeros compress about
1000:1); :func:`al_core.datasets.load_dataset` must refuse it, naming the limit and
how to raise it, without the memory ever growing by the declared size.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import psutil
import pytest

from al_core.datasets import (
    DEFAULT_MAX_NPZ_MB,
    load_dataset,
    npz_declared_arrays,
    npz_size_limit,
)
from al_core.errors import DatasetError

HUGE_SHAPE = (20_000, 256, 256)  # 1,250 MiB of uint8, over the 1,024 MiB default
_CHUNK = 2**24


def _write_npy_member(
    archive: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: str
) -> None:
    """Stream a real .npy member of zeros (header + every byte of data), compressed."""
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        left = int(np.prod(shape)) * np.dtype(dtype).itemsize
        zeros = bytes(_CHUNK)
        while left > 0:
            member.write(zeros[: min(left, _CHUNK)])
            left -= _CHUNK


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("npz") / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        _write_npy_member(archive, "x_train", HUGE_SHAPE, "uint8")
        _write_npy_member(archive, "y_train", (HUGE_SHAPE[0],), "int64")
        _write_npy_member(archive, "x_test", (10, 256, 256), "uint8")
        _write_npy_member(archive, "y_test", (10,), "int64")
    return path


def test_headers_are_read_without_loading(bomb: Path) -> None:
    assert bomb.stat().st_size < 5 * 2**20  # a few MB on disk
    declared = npz_declared_arrays(bomb)
    assert declared["x_train"] == (HUGE_SHAPE, np.dtype("uint8"))
    assert declared["y_train"] == ((HUGE_SHAPE[0],), np.dtype("int64"))


def test_a_small_file_declaring_a_huge_array_is_refused(
    bomb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AL_MAX_NPZ_MB", raising=False)
    assert npz_size_limit() == DEFAULT_MAX_NPZ_MB * 2**20
    process = psutil.Process()
    before = process.memory_info().rss
    with pytest.raises(DatasetError) as refused:
        load_dataset(f"npz:{bomb}")
    grown = process.memory_info().rss - before
    message = str(refused.value)
    assert f"over the limit of {DEFAULT_MAX_NPZ_MB:,} MiB" in message
    assert "declares 1,251 MiB" in message and "x_train: (20000, 256, 256) uint8" in message
    assert "AL_MAX_NPZ_MB" in message and "nothing was loaded" in message
    assert grown < 100 * 2**20, f"memory grew by {grown / 2**20:.0f} MiB"


def test_the_limit_is_adjustable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "small.npz"
    np.savez_compressed(
        path,
        x_train=rng.integers(0, 256, (600, 32, 32), dtype=np.uint8),  # 600 KiB
        y_train=np.arange(600) % 3,
        x_test=rng.integers(0, 256, (30, 32, 32), dtype=np.uint8),
        y_test=np.arange(30) % 3,
    )
    assert len(load_dataset(f"npz:{path}").x_pool) == 600  # under the default
    monkeypatch.setenv("AL_MAX_NPZ_MB", "0.5")
    with pytest.raises(DatasetError, match="over the limit of 0.5 MiB"):
        load_dataset(f"npz:{path}")
    monkeypatch.setenv("AL_MAX_NPZ_MB", "1")
    assert len(load_dataset(f"npz:{path}").x_pool) == 600
    for bad in ("0", "-3", "lots"):
        monkeypatch.setenv("AL_MAX_NPZ_MB", bad)
        with pytest.raises(DatasetError, match="AL_MAX_NPZ_MB must be a number"):
            load_dataset(f"npz:{path}")
