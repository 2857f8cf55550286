"""Images a person brings to a labeling session: a zip upload or a server folder.

Upload safety: an upload over :data:`MAX_UPLOAD_BYTES`, a file that is not a
zip, an empty zip, entries with absolute or ``..`` paths, symbolic links, and
zip bombs (an entry over 1 MiB, or the whole zip, with a compression ratio over
:data:`MAX_COMPRESSION_RATIO`, more than :data:`MAX_UNPACKED_BYTES` unpacked,
or an entry larger than its header says) are refused with a
:class:`~al_core.errors.DatasetError` before anything is kept. A server folder
must lie inside the data root (``$AL_DATA_DIR``); symbolic links are resolved
first, so one pointing outside is refused (the folder typed) or skipped and listed
(a file or subfolder in it).

Inside an accepted zip or folder, files that are not images, corrupt or
truncated images and images over Pillow's pixel limit (decompression bombs) are
skipped and listed; files with the same bytes as an earlier one are kept once
and listed as duplicates. Images are converted by the image-folder policy of
:mod:`al_core.datasets` (:func:`~al_core.datasets.load_images`) to one size,
a chunk at a time so that memory stays bounded on uploads of large photos.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from al_core.datasets import common_image_size, format_skipped, load_images
from al_core.errors import DatasetError
from al_core.paths import confine_path, leaves_root
from al_core.paths import data_root as data_root  # re-exported: the Label page shows it

DEFAULT_MAX_UPLOAD_MB = 200
"""The default upload limit in MB; ``.streamlit/config.toml``'s ``maxUploadSize`` equals it."""
MAX_UPLOAD_BYTES = int(
    float(os.environ.get("AL_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))) * 2**20
)
"""Largest zip upload accepted (``AL_MAX_UPLOAD_MB``, default 200 MB)."""
MAX_UNPACKED_BYTES = 2 * 2**30
"""Largest total size of the files inside an upload, once unpacked."""
MAX_COMPRESSION_RATIO = 100
"""A zip entry over 1 MiB, or a whole zip unpacking to over 1 MiB, that unpacks to
more than 100x its packed size is a bomb."""
_LOAD_CHUNK = 256  # images decoded at a time: bounds memory on uploads of large photos


@dataclass(frozen=True)
class ImportReport:
    """What became of the files of an upload or folder."""

    images: int
    image_size: tuple[int, int]
    channels: int
    class_names_from: str  # "typed" or "subfolders"
    skipped: tuple[str, ...] = ()  # "name: reason"
    duplicates: tuple[str, ...] = ()  # "name: same bytes as other"

    def describe(self) -> str:
        height, width = self.image_size
        text = f"{self.images} images, converted to {height}x{width}x{self.channels}"
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped"
        if self.duplicates:
            text += f"; {len(self.duplicates)} duplicate(s) kept once"
        return text


def resolve_data_folder(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """An image folder inside the allowed data root, resolved; refuse anything else.

    The path is confined by :func:`al_core.paths.confine_path` (relative paths read
    from the root, symbolic links followed first, so a link pointing outside is
    refused too).
    """
    resolved = confine_path(path, root)
    if not resolved.is_dir():
        state = "is not a folder" if resolved.exists() else "does not exist"
        raise DatasetError(f"folder {resolved} {state}: check the path")
    return resolved


def _refuse_entry(name: str, why: str) -> DatasetError:
    return DatasetError(
        f"the zip is refused, nothing was imported: entry {name!r} {why}. Re-create the zip "
        "from a folder of plain image files (e.g. `zip -r images.zip folder/`)."
    )


def _hidden(parts: Sequence[str]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def check_upload_size(data: bytes, max_bytes: int | None = None) -> None:
    """Refuse an upload over ``max_bytes`` (default :data:`MAX_UPLOAD_BYTES`)."""
    limit = MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    if len(data) > limit:
        raise DatasetError(
            f"the upload is {len(data) / 2**20:.1f} MB, over the limit of "
            f"{limit / 2**20:.0f} MB: split it into smaller zips, or put the images in a "
            "folder under the data root and give its path"
        )


def unpack_zip(
    data: bytes, dest: Path, *, max_bytes: int | None = None
) -> tuple[list[Path], list[str]]:
    """Check and unpack an uploaded zip into ``dest``.

    Returns the files written (sorted) and ``"name: reason"`` for entries that
    could not be unpacked (corrupt data). Refused with a :class:`DatasetError`,
    nothing written: over ``max_bytes``, not a zip, no file in it, an absolute or
    ``..`` path, a symbolic link, a zip bomb.
    Hidden files and ``__MACOSX`` folders are ignored.
    """
    check_upload_size(data, max_bytes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DatasetError(
            f"the upload is not a zip file ({exc}); upload a .zip of image files"
        ) from exc
    with archive:
        entries = []
        for info in archive.infolist():
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
                raise _refuse_entry(name, "has an absolute path")
            if ".." in parts:
                raise _refuse_entry(name, "has a '..' path that would write outside its folder")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse_entry(name, "is a symbolic link")
            if info.is_dir() or _hidden(parts):
                continue
            if info.file_size > 2**20 and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1
            ):
                raise _refuse_entry(
                    name,
                    f"unpacks from {info.compress_size} to {info.file_size} bytes, a "
                    f"compression ratio over {MAX_COMPRESSION_RATIO} (a zip bomb)",
                )
            entries.append((info, parts))
        if not entries:
            raise DatasetError(
                "the zip holds no file (it is empty, or only folders and hidden files); "
                "zip the images themselves"
            )
        total = sum(info.file_size for info, _ in entries)
        # Many entries of 1 MiB or less each pass the check above (20 of 1 MiB of
        # zeros: a 22 kB zip), so the whole archive's ratio is checked as well.
        if total > 2**20 and total > MAX_COMPRESSION_RATIO * len(data):
            raise DatasetError(
                f"the zip is refused, nothing was imported: its {len(data)} bytes unpack to "
                f"{total} bytes, a compression ratio over {MAX_COMPRESSION_RATIO} (a zip "
                "bomb). Re-create the zip from a folder of plain image files (e.g. "
                "`zip -r images.zip folder/`)."
            )
        if total > MAX_UNPACKED_BYTES:
            raise DatasetError(
                f"the zip unpacks to {total / 2**30:.1f} GiB, over the limit of "
                f"{MAX_UNPACKED_BYTES / 2**30:.0f} GiB (a zip bomb?); upload fewer images"
            )
        written, skipped = [], []
        for info, parts in entries:
            try:
                with archive.open(info) as source:
                    content = source.read(info.file_size + 1)
                if len(content) > info.file_size:
                    raise _refuse_entry(
                        info.filename, "is larger than its header says (a zip bomb)"
                    )
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                skipped.append(f"{info.filename}: corrupt zip entry ({exc})")
                continue
            written.append(target)
    return sorted(written), skipped


def folder_files(folder: Path, root: Path) -> tuple[list[Path], list[str]]:
    """Visible regular files under ``folder`` (symlinked folders not followed).

    A symbolic link to a file or a folder outside ``root`` is skipped, not read, and
    listed with the reason and the fix (never with what it points to).
    """
    files, skipped = [], []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in dirs:
            path = Path(parent, name)
            if path.is_symlink() and leaves_root(path, root):
                skipped.append(
                    f"{path.relative_to(folder).as_posix()}/: symbolic link to a folder "
                    "outside the data root, not read (copy its images here instead)"
                )
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(parent, name)
            if path.is_symlink() and leaves_root(path, root):
                skipped.append(
                    f"{path.relative_to(folder).as_posix()}: symbolic link to a file "
                    "outside the data root, not read (copy the file here instead)"
                )
                continue
            files.append(path)
    return sorted(files), skipped


def _dedupe(files: Sequence[Path], base: Path) -> tuple[list[Path], list[str]]:
    """Keep the first of files with the same bytes; list the others."""
    seen: dict[str, str] = {}
    kept, duplicates = [], []
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        name = path.relative_to(base).as_posix()
        if digest in seen:
            duplicates.append(f"{name}: same bytes as {seen[digest]}")
        else:
            seen[digest] = name
            kept.append(path)
    return kept, duplicates


def _subfolder_classes(files: Sequence[Path], base: Path) -> list[str]:
    """Class names from subfolders when every image sits in one of >= 2 subfolders
    (a single wrapping top folder is looked through), else ``[]``."""
    rel = [f.relative_to(base).parts for f in files]
    tops = {p[0] for p in rel if len(p) > 1}
    if len(tops) == 1 and all(len(p) > 2 for p in rel):
        return _subfolder_classes(files, base / tops.pop())
    if len(tops) >= 2 and all(len(p) > 1 for p in rel):
        return sorted(tops)
    return []


def _load_pool_images(
    files: Sequence[Path], base: Path, image_size: tuple[int, int] | None
) -> tuple[np.ndarray, list[str], list[str]]:
    """Decode ``files`` by the data set policy, a chunk at a time (bounded memory);
    ``image_size`` None: the most frequent size of all of them (as an experiment's).

    Returns ``(x (N, H, W, C) uint8, names, skipped)``. A chunk that came out
    grayscale is repeated into 3 channels when another chunk is in colour,
    which is what the policy does for a grayscale image among colour ones.
    """
    chunks, names, skipped = [], [], []
    image_size = image_size or common_image_size(files)
    for start in range(0, len(files), _LOAD_CHUNK):
        x, kept, bad = load_images(files[start : start + _LOAD_CHUNK], image_size, root=base)
        chunks.append(np.rint(x * 255).astype(np.uint8))
        names += kept
        skipped += bad
    channels = max(c.shape[-1] for c in chunks)
    chunks = [np.repeat(c, channels, axis=-1) if c.shape[-1] != channels else c for c in chunks]
    return np.concatenate(chunks), names, skipped


@dataclass(frozen=True)
class ImportedImages:
    """Images read from an upload or a folder, unlabeled.

    ``x`` is (N, H, W, C) uint8; ``names`` the N file names (relative paths),
    in the order of ``x``; ``class_names`` typed in or from the subfolders.
    """

    x: np.ndarray
    names: tuple[str, ...]
    class_names: tuple[str, ...]
    report: ImportReport


def read_images(
    files: Sequence[Path],
    base: Path,
    class_names: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    pre_skipped: Sequence[str] = (),
) -> ImportedImages:
    """Shared by uploads and folders: dedupe, pick the class names, decode.

    Raises :class:`DatasetError` when there are no class names or no readable image.
    """
    if not files and pre_skipped:  # e.g. a folder whose every entry links outside the root
        raise DatasetError(
            "no file could be read, nothing was imported:\n" + format_skipped(pre_skipped)
        )
    kept, duplicates = _dedupe(files, base)
    typed = [n.strip() for n in (class_names or []) if n.strip()]
    folders = _subfolder_classes(kept, base)  # they name the classes; images stay unlabeled
    if typed:
        names, origin = typed, "typed"
    elif folders:
        names, origin = folders, "subfolders"
    else:
        raise DatasetError(
            "no class names: type them (separated by commas), or put the images in one "
            "subfolder per class"
        )
    if not kept:
        raise DatasetError("no image file found; add PNG/JPEG/... images")
    x, item_names, skipped = _load_pool_images(kept, base, image_size)
    skipped = [*pre_skipped, *skipped]
    if len(x) == 0:
        raise DatasetError(
            f"none of the {len(files)} files is a readable image ({'; '.join(skipped[:3])}); "
            "nothing was imported"
        )
    report = ImportReport(
        images=len(x),
        image_size=(int(x.shape[1]), int(x.shape[2])),
        channels=int(x.shape[3]),
        class_names_from=origin,
        skipped=tuple(skipped),
        duplicates=tuple(duplicates),
    )
    return ImportedImages(x, tuple(item_names), tuple(names), report)
