"""Labeled data sets a person uploads from the browser, kept under ``$AL_DATA_DIR``.

An upload is a zip of one folder per class (images inside) or an ``.npz`` archive
with ``x_train, y_train, x_test, y_test`` (optionally ``class_names``). Each is
stored in its own folder, ``$AL_DATA_DIR/datasets/<slug>/``, named after what the
person typed (:func:`slug_for`), with a ``dataset.json`` describing it:

- a zip is unpacked into ``images/`` (a single wrapping top folder is looked
  through), and read as ``folder:…/images`` by the image-folder policy of
  :mod:`al_core.datasets`;
- an ``.npz`` is kept as ``data.npz`` and read as ``npz:…/data.npz``.

The refusals are the Label page's (:mod:`al_core.uploads`): over the upload size
limit, not a zip, entries with ``..`` or absolute paths, symbolic links, bomb-like
compression; for ``.npz``, object (pickled) arrays and arrays declaring more than
the ``AL_MAX_NPZ_MB`` limit (read from the headers before anything is loaded).
Everything is written into a temporary folder inside ``datasets/`` and checked by
loading it; a refused upload removes that folder, so nothing stays behind and
nothing is ever written outside ``datasets/``. Unreadable files in an accepted zip
(not images, truncated, corrupt entries) are skipped and listed.

Deleting a set (:func:`delete_uploaded`) removes only its folder: experiments run
on it keep their stored rounds and results.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from al_core.errors import DatasetError
from al_core.paths import confine_path, data_root

DATASETS_DIR = "datasets"
"""Folder under the data root that holds one folder per uploaded set."""
META_FILE = "dataset.json"
IMAGES_DIR = "images"
NPZ_FILE = "data.npz"
MAX_NAME_LENGTH = 60


@dataclass(frozen=True)
class UploadedSet:
    """An uploaded data set as stored.

    ``source`` is what :func:`al_core.datasets.load_dataset` and a trial config take
    (``"folder:/abs/…/images"`` or ``"npz:/abs/…/data.npz"``); ``skipped`` lists
    zip entries that could not be unpacked (``"name: reason"``; files that unpacked
    but are not readable images are listed by the loader itself).
    """

    slug: str
    name: str
    kind: str  # "folder" or "npz"
    source: str
    folder: Path
    uploaded_file: str
    created: float
    skipped: tuple[str, ...] = ()

    def label(self) -> str:
        """How a choice list shows it, e.g. ``"my cats (uploaded image folder)"``."""
        what = "image folder" if self.kind == "folder" else ".npz"
        return f"{self.name} (uploaded {what})"


def datasets_dir(root: Path | None = None) -> Path:
    """``<data root>/datasets``: where uploaded sets live (not created here)."""
    return (root or data_root()).resolve() / DATASETS_DIR


def slug_for(name: str) -> str:
    """A folder name for a typed data set name: lower case ``a-z0-9``, ``-`` and ``_``.

    Raises
    ------
    DatasetError
        Nothing usable is left (empty, or only punctuation).
    """
    slug = re.sub(r"[^a-z0-9_]+", "-", str(name).strip().lower()).strip("-_")
    slug = slug[:MAX_NAME_LENGTH].strip("-_")
    if not slug:
        raise DatasetError(
            f"give the data set a name with letters or digits (got {name!r}), e.g. my-cats"
        )
    return slug


def _kind_of(filename: str, data: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix == ".zip":
        return "folder"
    raise DatasetError(
        f"{filename!r} is neither a .zip of class folders nor an .npz archive; upload one of those"
    )


def _class_root(base: Path) -> Path:
    """The folder holding the class subfolders: ``base``, or its single top folder
    when the zip wrapped everything in one (``images.zip`` → ``images/cat/…``)."""
    visible = [p for p in base.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(visible) == 1 and visible[0].is_dir():
        inner = [p for p in visible[0].iterdir() if not p.name.startswith(".")]
        if sum(p.is_dir() for p in inner) >= 2:
            return visible[0]
    return base


def save_upload(
    data: bytes,
    filename: str,
    name: str,
    *,
    root: Path | None = None,
    max_bytes: int | None = None,
) -> UploadedSet:
    """Check and store an uploaded data set; refuse it with nothing kept.

    Parameters
    ----------
    data : bytes
        The uploaded file's content.
    filename : str
        Its name as uploaded: ``.zip`` (one folder per class) or ``.npz``.
    name : str
        The name the person gives; its :func:`slug_for` names the folder.
    root : Path, optional
        The data root (default ``$AL_DATA_DIR``).
    max_bytes : int, optional
        Upload size limit (default :data:`al_core.uploads.MAX_UPLOAD_BYTES`).

    Raises
    ------
    DatasetError
        A set of that name exists, or the upload is refused (the message names the
        problem and the fix); nothing is written.
    """
    from al_core import uploads
    from al_core.datasets import load_dataset

    slug = slug_for(name)
    kind = _kind_of(filename, data)
    uploads.check_upload_size(data, max_bytes)
    parent = datasets_dir(root)
    final = parent / slug
    if final.exists():
        raise DatasetError(
            f"a data set named {slug!r} already exists: give another name, or delete it first"
        )
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))
    try:
        skipped: list[str] = []
        if kind == "folder":
            _, skipped = uploads.unpack_zip(data, work / IMAGES_DIR, max_bytes=max_bytes)
            data_path = _class_root(work / IMAGES_DIR).relative_to(work)
        else:
            if not data.startswith(b"PK"):
                raise DatasetError(
                    f"{filename!r} is not an .npz archive (not a zip file): save it with "
                    "numpy.savez"
                )
            (work / NPZ_FILE).write_bytes(data)
            data_path = Path(NPZ_FILE)
        try:
            # The loader's own checks: class folders, readable images, npz sizes declared
            # in the headers, object arrays refused.
            load_dataset(f"{kind}:{work / data_path}")
        except DatasetError as exc:
            text = str(exc).replace(str(work / data_path), repr(filename))
            raise DatasetError(f"the upload is refused, nothing was kept: {text}") from None
        meta = {
            "name": str(name).strip(),
            "kind": kind,
            "path": data_path.as_posix(),
            "uploaded_file": Path(filename).name,
            "created": time.time(),
            "skipped": skipped,
        }
        (work / META_FILE).write_text(json.dumps(meta, indent=2))
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _read_set(final)


def _read_set(folder: Path) -> UploadedSet:
    meta = json.loads((folder / META_FILE).read_text())
    kind = "npz" if meta.get("kind") == "npz" else "folder"
    target = confine_path(folder / str(meta["path"]), folder)  # stays inside its folder
    return UploadedSet(
        slug=folder.name,
        name=str(meta.get("name") or folder.name),
        kind=kind,
        source=f"{kind}:{target}",
        folder=folder,
        uploaded_file=str(meta.get("uploaded_file", "")),
        created=float(meta.get("created", 0.0)),
        skipped=tuple(str(s) for s in meta.get("skipped", ())),
    )


def list_uploaded(root: Path | None = None) -> list[UploadedSet]:
    """Uploaded sets, by name; folders without a readable ``dataset.json`` (a refused
    upload still being written) are left out."""
    parent = datasets_dir(root)
    if not parent.is_dir():
        return []
    found = []
    for folder in sorted(parent.iterdir()):
        if folder.name.startswith(".") or not (folder / META_FILE).is_file():
            continue
        try:
            found.append(_read_set(folder))
        except (OSError, ValueError, KeyError, DatasetError):
            continue
    return sorted(found, key=lambda s: s.name.lower())


def uploaded_for_source(source: str, root: Path | None = None) -> UploadedSet | None:
    """The uploaded set whose ``source`` is ``source``, or None."""
    return next((s for s in list_uploaded(root) if s.source == source), None)


def uploaded_folder(slug: str, root: Path | None = None) -> str:
    """The image folder of the uploaded set ``slug`` (for a labeling pool).

    Raises
    ------
    DatasetError
        No uploaded image folder has that name.
    """
    found = next((s for s in list_uploaded(root) if s.slug == slug), None)
    if found is None or found.kind != "folder":
        raise DatasetError(f"no uploaded image folder named {slug!r}; upload it again")
    return found.source.partition(":")[2]


def delete_uploaded(slug: str, root: Path | None = None) -> UploadedSet:
    """Delete an uploaded set's folder (its files only: stored results stay).

    Raises
    ------
    DatasetError
        No uploaded set has that name.
    """
    parent = datasets_dir(root)
    folder = confine_path(str(slug), parent)
    if folder.parent != parent or not (folder / META_FILE).is_file():
        raise DatasetError(f"no uploaded data set named {slug!r}")
    stored = _read_set(folder)
    shutil.rmtree(folder)
    return stored
