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


def grey_shapes(per_class: int = 20, side: int = 28, seed: int = 1) -> dict[str, np.ndarray]:
    """Three classes of grey pictures (a horizontal bar, a vertical bar, a disc, with
    noise and a random position and brightness): ``"<class>/<i>.png"`` -> ``(side,
    side)`` uint8 pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    pictures = {}
    for i in range(per_class):
        for name in ("bars", "columns", "discs"):
            image = rng.integers(0, 60, (side, side)).astype(np.float64)
            at = int(rng.integers(3, side - 3))
            if name == "bars":
                mask = np.abs(yy - at) <= 1
            elif name == "columns":
                mask = np.abs(xx - at) <= 1
            else:
                cy, cx = rng.integers(6, side - 6, 2)
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= 16
            image[mask] = int(rng.integers(150, 256))
            pictures[f"{name}/{i}.png"] = image.astype(np.uint8)
    return pictures


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """A grey ``(H, W)`` picture as ``(H, W, 3)`` with three equal channels (saved as RGB)."""
    return np.repeat(pixels[..., None], 3, axis=-1)


def bilevel_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG of ``width`` x ``height`` pixels: a few kB for 8,000 x 8,000."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


#: What :func:`messy_export` holds besides its clean pictures, for the checks of it.
MESSY = {
    "wrapper": "export",
    "loose": ("notes.txt", "loose-scan.png"),  # at the wrapper's top: in no class
    "duplicates": 8,  # 1 byte copy, 1 re-saved as RGB, 6 more copies of one picture
    "grey_saved_as_rgb": 6,  # 5 clean pictures and the RGB re-save
    "oversized": "discs/huge-scan.png",  # 8,000 x 8,000
    "large": "columns/photo-large.png",  # 400 x 400: shrunk to 28 x 28
    "resized": 4,  # 3 pictures at 32 x 32 and the large one
    "corrupt": "bars/broken.png",
    "images": 65,  # readable and unique: 60 + 3 at 32 x 32 + 1 near copy + the large one
}


def messy_export() -> dict[str, bytes]:
    """A zip's entries as a person exports their images (issue 32): a wrapping folder,
    three classes of grey pictures, some saved as RGB; a few at 32 x 32 among 28 x 28;
    byte-identical and re-saved duplicates (6 copies of one picture, so that without
    deduplication copies sit both in the pool and in the test split); a near copy; a
    corrupt file; an 8,000 x 8,000 scan and a 400 x 400 photo in class folders; a text
    file and an image lying loose at the top. :data:`MESSY` says what is where."""
    wrapper = MESSY["wrapper"]
    pictures = grey_shapes()
    files = {}
    for i, (name, pixels) in enumerate(pictures.items()):
        files[name] = png(as_rgb(pixels) if i % 12 == 5 else pixels)  # 5 saved as RGB
    rng = np.random.default_rng(7)
    for i in range(3):
        files[f"bars/scan-32-{i}.png"] = png(rng.integers(0, 255, (32, 32)).astype(np.uint8))
    files["bars/0-copy.png"] = files["bars/0.png"]  # the same bytes
    files["discs/3-resaved.png"] = png(as_rgb(pictures["discs/3.png"]))  # same pixels
    for k in range(6):
        files[f"columns/1-copy-{k}.png"] = files["columns/1.png"]
    near = pictures["bars/5.png"].astype(np.int16) + rng.integers(-2, 3, (28, 28))
    files["bars/5-near.png"] = png(np.clip(near, 0, 255).astype(np.uint8))
    files[MESSY["corrupt"]] = b"\x89PNG\r\n\x1a\n this file was cut short"
    files[MESSY["oversized"]] = bilevel_png(8000, 8000)
    large = np.kron(pictures["columns/2.png"], np.ones((15, 15), np.uint8))[:400, :400]
    files[MESSY["large"]] = png(np.pad(large, ((0, 400 - large.shape[0]),) * 2))
    files[MESSY["loose"][0]] = b"exported from my phone"
    files[MESSY["loose"][1]] = png(pictures["bars/7.png"])
    return {f"{wrapper}/{name}": data for name, data in files.items()}
