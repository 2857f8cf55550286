"""Server paths typed into the app: confined to the data root (``$AL_DATA_DIR``).

The app has no login and reads files on the server, so every path a person types
into a page (an image folder on the Label page, an ``npz:``/``folder:`` data set on
the Experiments page) goes through :func:`confine_path` first. The path is resolved
(``~`` expanded, relative paths read from the root, symbolic links followed) and
refused unless it lies inside the root. The refusal names only the typed path and
the allowed root: it never says whether the path exists or what a folder outside
the root holds. Inside an accepted folder, links may not lead out either
(:func:`leaves_root`): an image folder for experiments is refused, a labeling pool
skips and lists them. The command line is not confined: its user already has a shell.
"""

from __future__ import annotations

import os
from pathlib import Path

from al_core.errors import DatasetError
from al_core.store import default_db_path

_PATH_SOURCES = ("npz", "folder")


def data_root() -> Path:
    """The folder under which paths typed into the app must lie: ``$AL_DATA_DIR``
    (default ``data/`` in the repository), resolved."""
    return default_db_path().parent.resolve()


def confine_path(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """``path`` resolved inside ``root`` (default :func:`data_root`); refuse anything else.

    A relative ``path`` is read relative to the root. Symbolic links are resolved
    before the check, so a link inside the root that points outside is refused too.
    Whether the resolved path exists is left to the caller.

    Raises
    ------
    DatasetError
        The path is empty or outside the root; the message names the root and how to
        change it, and nothing about the path beyond what was typed.
    """
    root = (root or data_root()).resolve()
    text = str(path).strip()
    if not text:
        raise DatasetError(f"no path given: type a path inside the data root {root}")
    given = Path(text).expanduser()
    resolved = (given if given.is_absolute() else root / given).resolve()
    if not resolved.is_relative_to(root):
        raise DatasetError(
            f"{text} is outside the allowed data root {root}; the app reads files only under it. "
            "Copy the files there, or start the app with AL_DATA_DIR set to a folder that "
            "holds them."
        )
    return resolved


LINK_FIX = (
    "replace each link by a copy of what it points to (e.g. `cp -RL`), or start the app "
    "with AL_DATA_DIR set to a folder that holds the files"
)
"""How to mend a folder whose symbolic links lead outside the data root."""


def leaves_root(path: str | os.PathLike[str], root: Path) -> bool:
    """Whether ``path``, its symbolic links followed, lies outside ``root`` (resolved).

    A folder :func:`confine_path` accepted can still hold links to files or folders
    elsewhere; its readers check each entry with this before they read it.
    """
    return not Path(path).resolve().is_relative_to(root.resolve())


def confining_root(folder: Path) -> Path | None:
    """The data root when ``folder`` lies inside it, else ``None``.

    Every folder the app reads lies inside the root (:func:`confine_path`), and what
    it holds must too; the command line is not confined and may name a folder
    elsewhere, whose links are then followed as its user set them up.
    """
    root = data_root()
    return None if leaves_root(folder, root) else root


def confine_dataset_source(source: str, root: Path | None = None) -> str:
    """A data set source with its path confined: ``"npz:PATH"``/``"folder:PATH"`` (or a
    bare path) becomes ``"npz:/resolved/path"``; built-in names pass unchanged.

    Raises
    ------
    DatasetError
        As :func:`confine_path`, or when a source names no path.
    """
    from al_core.datasets import BUILTIN_DATASETS

    text = str(source).strip()
    if text.lower().replace("-", "_") in BUILTIN_DATASETS:
        return text
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in _PATH_SOURCES:
        if not rest.strip():
            raise DatasetError(f"{text!r} names no path: write {prefix.lower()}:PATH")
        return f"{prefix.lower()}:{confine_path(rest, root)}"
    if not text:
        raise DatasetError("no data set given: write npz:PATH or folder:PATH")
    resolved = confine_path(text, root)
    kind = "npz" if resolved.suffix.lower() == ".npz" else "folder"
    return f"{kind}:{resolved}"
