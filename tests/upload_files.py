"""Files a person might upload, good and hostile, made in the test (shared by the
uploaded-data-set unit tests and the Experiments page's browser test)."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
from PIL import Image


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def shapes_images(per_class: int = 30, side: int = 16, seed: int = 0) -> dict[str, bytes]:
    """Three classes of real small RGB images, told apart by what they show: a
    horizontal bar, a vertical bar, a filled disc, each with noise and a random
    position and colour. ``"<class>/<i>.png"`` -> PNG bytes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    files = {}
    for i in range(per_class):
        for name in ("bars", "columns", "discs"):
            image = rng.integers(0, 60, (side, side, 3)).astype(np.float64)
            colour = rng.integers(150, 256, 3)
            at = int(rng.integers(3, side - 3))
            if name == "bars":
                mask = np.abs(yy - at) <= 1
            elif name == "columns":
                mask = np.abs(xx - at) <= 1
            else:
                cy, cx = rng.integers(5, side - 5, 2)
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= 12
            image[mask] = colour
            files[f"{name}/{i}.png"] = png(image.astype(np.uint8))
    return files


def shapes_zip(per_class: int = 30, wrapper: str = "", extra: dict[str, bytes] | None = None):
    """A zip of :func:`shapes_images` (inside ``wrapper/`` when given) plus ``extra``."""
    files = {f"{wrapper}/{k}" if wrapper else k: v for k, v in shapes_images(per_class).items()}
    return zip_of({**files, **(extra or {})})


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat/a.png", png(np.zeros((8, 8), np.uint8)))
        archive.writestr("dog/a.png", png(np.full((8, 8), 255, np.uint8)))
        info = zipfile.ZipInfo("cat/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def zip_bomb() -> bytes:
    return zip_of(
        {"cat/a.png": png(np.zeros((8, 8), np.uint8)), "cat/bomb.png": b"\0" * (20 * 2**20)}
    )


def npz_declaring_gigabytes() -> bytes:
    """An .npz of a few hundred bytes whose x_train header declares 3.7 GiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, shape, dtype in (
            ("x_train", (20_000, 256, 256, 3), "uint8"),
            ("y_train", (20_000,), "int64"),
            ("x_test", (10, 256, 256, 3), "uint8"),
            ("y_test", (10,), "int64"),
        ):
            header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array_header_1_0(member, header)
                member.write(bytes(64))  # the data is never read
    return buffer.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_with_objects() -> bytes:
    x = np.zeros((4, 8, 8), np.uint8)
    y = np.array([0, 1, 0, 1])
    return npz_bytes(x_train=x, y_train=np.array([{"a": 1}] * 4, dtype=object), x_test=x, y_test=y)


def hostile_uploads() -> list[tuple[str, bytes, str]]:
    """``(file name, bytes, words of the refusal)``: the Label page's cases, plus an npz
    declaring gigabytes and one with object arrays."""
    one = png(np.zeros((8, 8), np.uint8))
    return [
        ("dotdot.zip", zip_of({"../evil.png": one, "cat/a.png": one}), "'..' path"),
        ("absolute.zip", zip_of({"/abs/evil.png": one}), "absolute path"),
        ("drive.zip", zip_of({"C:/evil.png": one}), "absolute path"),
        ("link.zip", zip_with_symlink(), "symbolic link"),
        ("bomb.zip", zip_bomb(), "zip bomb"),
        ("empty.zip", zip_of({}), "holds no file"),
        ("fake.zip", b"PK\x03\x04 this is not really a zip", "not a zip file"),
        ("huge.npz", npz_declaring_gigabytes(), "over the limit of"),
        ("objects.npz", npz_with_objects(), "object arrays"),
        ("fake.npz", b"this is no archive", "not an .npz archive"),
    ]
