"""Image folders (one subfolder per class) and image files, read with the
image-folder policy of :mod:`al_core.datasets`."""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from al_core.datasets.splits import _to_float
from al_core.errors import DatasetError
from al_core.paths import LINK_FIX, confining_root, leaves_root

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


def load_images(
    paths: Sequence[Path],
    image_size: tuple[int, int] | None = None,
    mode: str | None = None,
    *,
    root: Path | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Read image files with the image-folder policy (see the module docstring).

    Parameters
    ----------
    paths : sequence of Path
        Files to read, in order. Unreadable files are skipped, not raised.
    image_size : tuple of int, optional
        ``(height, width)``; default: the most frequent size (ties: the larger).
    mode : {"L", "RGB"}, optional
        Force 1 or 3 channels; default: ``"L"`` when every image is grayscale.
    root : Path, optional
        Name files relative to this folder instead of by their file name.

    Returns
    -------
    images : np.ndarray
        ``(N, H, W, C)`` float32 in ``[0, 1]`` for the ``N`` readable files
        (``N`` may be 0).
    kept : list of str
        Names of the ``N`` readable files, in the order of ``images``.
    skipped : list of str
        ``"name: reason"`` for every file that could not be read.

    Raises
    ------
    DatasetError
        ``image_size`` or ``mode`` is not valid (unreadable files never raise).
    """
    images, kept_index, skipped, _ = _read_images(paths, image_size, mode, root)
    names = [_display_name(Path(paths[i]), root) for i in kept_index]
    return images, names, skipped


# --------------------------------------------------------------- image folders


def _class_files(folder: Path) -> list[Path]:
    """Visible files under ``folder``, recursively, sorted; symlinked folders not followed."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(parent, f) for f in files if not f.startswith(".")]
    return sorted(found)


def _load_folder(
    root: Path,
    image_size: tuple[int, int] | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str], list[str], list[Original]]:
    """Read an image folder: ``(x (N,H,W,C), y (N,), class_names, skipped, duplicates,
    originals)``; exact duplicates (:func:`exact_duplicates`) are kept once; ``originals``
    are the ``N`` files as stored (:data:`Original`)."""
    if not root.is_dir():
        state = "is not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"image folder {root} {state}: check the path")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p.name for p in entries if p.is_file()]
    if len(class_dirs) < 2:
        found = (
            f"; the file(s) at its top level belong to no class: {_some(loose)}" if loose else ""
        )
        raise DatasetError(
            f"image folder {root} has {len(class_dirs)} class subfolder(s) "
            f"({', '.join(p.name for p in class_dirs) or 'none'}){found}. It needs one "
            "subfolder per class, at least 2, each holding that class's images: move each "
            "image into the folder named after its class"
        )
    stray = [f"{name}: not inside a class subfolder" for name in loose]
    paths, labels, outside = [], [], []
    allowed = confining_root(root)
    for label, folder in enumerate(class_dirs):
        if allowed is not None and leaves_root(folder, allowed):
            outside.append(f"{folder.name}/: a link to a folder outside the data root")
            continue  # not read, not even listed
        files = _class_files(folder)
        if allowed is not None:
            outside += [
                f"{_display_name(path, root)}: a link to a file outside the data root"
                for path in files
                if leaves_root(path, allowed)
            ]
        paths += files
        labels += [label] * len(files)
    if outside:
        raise DatasetError(
            f"image folder {root} is refused: symbolic links in it lead outside the allowed "
            f"data root {allowed}, and the app reads files only under it:\n"
            + format_skipped(outside)
            + f"\nFix: {LINK_FIX}."
        )
    x, kept, skipped, stored = _read_images(paths, image_size, None, root, progress)
    y = np.asarray(labels, dtype=np.int64)[kept]
    names = [_display_name(Path(paths[i]), root) for i in kept]
    unique, duplicates = exact_duplicates(x, names, y, tuple(p.name for p in class_dirs))
    x, y = x[unique], y[unique]
    originals = [(names[i], *stored[i]) for i in unique]
    _check_classes(root, class_dirs, y, len(paths), skipped)
    return x, y, tuple(p.name for p in class_dirs), stray + skipped, duplicates, originals


def exact_duplicates(
    x: np.ndarray,
    names: Sequence[str],
    y: np.ndarray | None = None,
    class_names: Sequence[str] = (),
) -> tuple[np.ndarray, list[str]]:
    """Keep the first of images with the same converted pixels; name the others.

    ``x`` is ``(N, H, W, C)`` (the images as converted, so two files of the same
    picture match whatever their bytes: a PNG and its re-save, a grey image saved
    as RGB), ``names`` the ``N`` file names, ``y`` ``(N,)`` class ids or None.
    Returns the indices kept ``(M,)`` in order, and ``"name: same image as first"``
    for every dropped one (with both classes when they disagree). Dropping them
    before the split is what keeps one picture out of both the pool and the test
    split.
    """
    first: dict[bytes, int] = {}
    kept, duplicates = [], []
    for i in range(len(x)):
        j = first.setdefault(image_digest(x[i]), i)
        if j == i:
            kept.append(i)
            continue
        text = f"{names[i]}: same image as {names[j]}, kept once"
        if y is not None and y[i] != y[j] and class_names:
            text += (
                f" (in class {class_names[int(y[j])]}, not {class_names[int(y[i])]}: "
                "check its label)"
            )
        duplicates.append(text)
    return np.asarray(kept, dtype=np.int64), duplicates


def image_digest(image: np.ndarray) -> bytes:
    """A 16-byte hash of one image's pixels ``(H, W, C)``: equal for equal pixels."""
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def _some(names: Sequence[str], limit: int = 5) -> str:
    """``"a.png, b.png"`` (``", … and N more"`` past ``limit``)."""
    text = ", ".join(names[:limit])
    return text + (f", … and {len(names) - limit} more" if len(names) > limit else "")


def _check_classes(
    root: Path, class_dirs: list[Path], y: np.ndarray, n_files: int, skipped: list[str]
) -> None:
    if len(y) == 0:
        reasons = "; ".join(skipped[:3]) or "no files"
        raise DatasetError(
            f"no readable image in {root} ({n_files} files; {reasons}); put PNG/JPEG/... "
            "images in one subfolder per class"
        )
    counts = np.bincount(y, minlength=len(class_dirs))
    empty = [class_dirs[i].name for i in np.flatnonzero(counts == 0)]
    if empty:
        theirs = [s for s in skipped if s.split("/", 1)[0] in empty]
        raise DatasetError(
            f"class folder(s) {', '.join(empty)} in {root} hold no readable image; add "
            "images or remove the folder. Skipped there:\n" + format_skipped(theirs)
        )


_PROGRESS_EVERY = 250  # files read between two progress reports

Original = tuple[str, int, int, str]
"""An image-folder file as stored: relative name, width, height, Pillow mode."""

SKIPPED_SHOWN = 10
"""How many skipped files a message lists before "and N more"."""


def format_skipped(skipped: Sequence[str], limit: int = SKIPPED_SHOWN) -> str:
    """Skipped files (``"path: reason"``), one per indented line; past ``limit`` of
    them, a last line ``"  … and N more"``."""
    lines = [f"  {entry}" for entry in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  … and {len(skipped) - limit} more")
    return "\n".join(lines)


def _display_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def _read_images(
    paths: Sequence[Path],
    image_size: tuple[int, int] | None,
    mode: str | None,
    root: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[int], list[str], list[tuple[int, int, str]]]:
    """Images ``(N, H, W, C)``, indices of the kept paths, skipped ``"name: reason"``,
    and ``(width, height, Pillow mode)`` of each kept file as stored;
    ``progress(read, total)`` every :data:`_PROGRESS_EVERY` files."""
    if mode not in (None, "L", "RGB"):
        raise DatasetError(f"mode must be None, 'L' or 'RGB', got {mode!r}")
    target = _target_size(image_size)
    images, kept, skipped, stored = [], [], [], []
    for i, path in enumerate(paths):
        read = _read_one(Path(path))
        if isinstance(read, str):
            skipped.append(f"{_display_name(Path(path), root)}: {read}")
        else:
            image, (width, height), file_mode = read
            images.append(image)
            kept.append(i)
            stored.append((width, height, file_mode))
        if progress is not None and ((i + 1) % _PROGRESS_EVERY == 0 or i + 1 == len(paths)):
            progress(i + 1, len(paths))
    return _stack(images, target, mode), kept, skipped, stored


def _target_size(image_size: object) -> tuple[int, int] | None:
    """``(height, width)`` -> Pillow's ``(width, height)``, checked."""
    if image_size is None:
        return None
    ok = (
        isinstance(image_size, tuple | list)
        and len(image_size) == 2
        and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0
            for v in image_size
        )
    )
    if not ok:
        raise DatasetError(
            f"image_size must be (height, width) with two positive whole numbers, "
            f"got {image_size!r}"
        )
    return int(image_size[1]), int(image_size[0])


def _read_one(path: Path) -> tuple[PILImage, tuple[int, int], str] | str:
    """A fully decoded image in mode L or RGB with the file's ``(width, height)`` and
    Pillow mode, or the reason it cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # lazy: reads the header only
                too_big = _over_pixel_limit(img.size)
                if too_big:
                    return too_big
                img.load()
                # Only files that can carry an EXIF orientation pay for reading it.
                oriented = (
                    ImageOps.exif_transpose(img)
                    if "exif" in img.info or img.format == "TIFF"
                    else img
                )
                return _normalise_mode(oriented), oriented.size, img.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return _bomb_reason(exc)
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Exception as exc:  # noqa: BLE001 - untrusted files make Pillow raise many types
        text = str(exc)
        if "truncated" in text:
            return f"truncated image file ({text})"
        return f"unreadable image ({type(exc).__name__}: {text})"


MAX_DECODED_PIXELS = 40_000_000
"""Images with more pixels are skipped before decoding: one 8,000x8,000 PNG decodes to
183 MiB as RGB and took the server to about 700 MB while being converted. 40 million
pixels keeps a 48-megapixel-class phone photo (8,000x6,000 is 48 M) out too; shrink
such photos before uploading. Pillow's own decompression-bomb limit is higher."""


def _over_pixel_limit(size: tuple[int, int]) -> str | None:
    """The reason a ``(width, height)`` image is not decoded, or None when it may be."""
    width, height = size
    if width * height <= MAX_DECODED_PIXELS:
        return None
    return (
        f"{width}x{height} pixels ({width * height / 1e6:.0f} megapixels) is over the limit of "
        f"{MAX_DECODED_PIXELS / 1e6:.0f} megapixels, not decoded (it would take "
        f"{width * height * 3 / 2**20:.0f} MiB of memory as RGB): shrink it first, e.g. to "
        "2,000 pixels on its longest side"
    )


def _bomb_reason(exc: Exception) -> str:
    """Reason text for a file over Pillow's ``MAX_IMAGE_PIXELS`` (warning or error)."""
    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = found.group(1) if found else "too many"
    return f"decompression bomb ({pixels} pixels > limit of {Image.MAX_IMAGE_PIXELS})"


def _normalise_mode(img: PILImage) -> PILImage:
    """Return a new image in mode ``L`` (grayscale sources) or ``RGB``, alpha on white."""
    mode = img.mode
    if mode in ("1", "L"):
        return img.convert("L")
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _deep_gray_to_l(img)
    if mode in ("LA", "La"):
        return _flatten_alpha(img.convert("LA"))
    if mode in ("P", "PA"):
        flat = _flatten_alpha(img.convert("RGBA"))
        return flat.convert("L") if _is_gray(flat) else flat
    if "A" in img.getbands() or "transparency" in img.info:
        flat = _flatten_alpha(img.convert("RGBA"))
    else:
        flat = img.convert("RGB")
    # Colour by content, not by file mode: a grey picture saved as RGB is grey.
    return flat.convert("L") if _is_gray(flat) else flat


def _deep_gray_to_l(img: PILImage) -> PILImage:
    """16-bit / 32-bit int or float grayscale -> 8-bit ``L``."""
    from PIL import Image

    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F" and values.size and values.max() <= 1.0:
        values = values * 255.0
    elif img.mode != "F" and (img.mode.startswith("I;16") or values.max(initial=0) > 255):
        values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def _flatten_alpha(img: PILImage) -> PILImage:
    """``LA``/``RGBA`` -> ``L``/``RGB`` composited onto white."""
    from PIL import Image

    base_mode = "L" if img.mode == "LA" else "RGB"
    background = Image.new(base_mode, img.size, 255 if base_mode == "L" else (255, 255, 255))
    background.paste(img.convert(base_mode), mask=img.getchannel("A"))
    return background


def _is_gray(rgb: PILImage) -> bool:
    arr = np.asarray(rgb)
    return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())


def common_image_size(paths: Sequence[Path]) -> tuple[int, int] | None:
    """``(height, width)`` the image-folder policy converts ``paths`` to: the most
    frequent size (ties: the larger), read from the headers only (nothing is
    decoded; files that cannot be read or are over :data:`MAX_DECODED_PIXELS` do not
    count). ``None`` when no file is readable. The Label page's pools read a chunk
    at a time use it, so that they get the size an experiment on the same folder gets.
    """
    from PIL import Image

    counts: Counter[tuple[int, int]] = Counter()
    for path in paths:
        try:
            with Image.open(path) as img:
                size = img.size
        except Exception:  # noqa: BLE001 - unreadable files are skipped by the reader
            continue
        if not _over_pixel_limit(size):
            counts[size] += 1
    if not counts:
        return None
    width, height = _most_frequent(counts)
    return height, width


def _most_frequent(counts: Counter[tuple[int, int]]) -> tuple[int, int]:
    """The most frequent Pillow ``(width, height)``; ties go to the larger image."""
    return max(counts, key=lambda size: (counts[size], size[0] * size[1], size))


def _common_size(images: Sequence[PILImage]) -> tuple[int, int]:
    """Most frequent Pillow ``(width, height)``; ties go to the larger image."""
    return _most_frequent(Counter(img.size for img in images))


def _stack(
    images: Sequence[PILImage], target: tuple[int, int] | None, mode: str | None
) -> np.ndarray:
    """Resize and stack PIL images into ``(N, H, W, C)`` float32 in [0, 1]."""
    from PIL import Image

    channels = 3 if mode == "RGB" else 1
    if not images:
        height, width = (target[1], target[0]) if target else (0, 0)
        return np.zeros((0, height, width, channels), dtype=np.float32)
    size = target or _common_size(images)
    mode = mode or ("L" if all(img.mode == "L" for img in images) else "RGB")
    arrays = []
    for img in images:
        if img.size != size:
            shrink = size[0] * size[1] < img.size[0] * img.size[1]
            method = Image.Resampling.LANCZOS if shrink else Image.Resampling.BILINEAR
            img = img.resize(size, resample=method)
        arrays.append(np.asarray(img.convert(mode), dtype=np.uint8))
    return _to_float(np.stack(arrays))
