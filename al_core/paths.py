"""Server paths typed into the app: confined to the data root (``$AL_DATA_DIR``).

The app has no login and reads files on the server, so every path a person types
into a page (an image folder on the Label page, an ``npz:``/``folder:`` data set on
the Experiments page, through :func:`al_core.datasets.sources.confine_dataset_source`)
goes through :func:`confine_path` first. This module knows paths only, no data set
names: the data set loaders import it, never the other way round. The path is resolved
(``~`` expanded, relative paths read from the root, symbolic links followed) and
refused unless it lies inside the root. The refusal names only the typed path and
the allowed root: it never says whether the path exists or what a folder outside
the root holds; a path the OS refuses (a NUL byte, a name too long) gets a
:class:`DatasetError` too. Inside an accepted folder, links may not lead out either
(:func:`leaves_root`): an image folder for experiments is refused, a labeling pool
skips and lists them. The command line is not confined: its user already has a shell.
"""

from __future__ import annotations

import os
from pathlib import Path

from al_core.errors import DatasetError
from al_core.store import default_db_path


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
    if "\x00" in text:  # the OS refuses it (ValueError: embedded null byte)
        raise DatasetError(
            f"{_shown(text)} contains a NUL byte (\\x00), which no path may hold: type the "
            f"path again without it, inside the data root {root}"
        )
    try:
        given = Path(text).expanduser()
        resolved = (given if given.is_absolute() else root / given).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a link loop, no home folder, ...
        raise _refused_by_os(text, root, exc) from exc
    if not resolved.is_relative_to(root):
        raise DatasetError(
            f"{text} is outside the allowed data root {root}; the app reads files only under it. "
            "Copy the files there, or start the app with AL_DATA_DIR set to a folder that "
            "holds them."
        )
    try:  # inside the root: what the OS says of it may be told
        resolved.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass  # whether it exists is the caller's business
    except OSError as exc:  # a name too long, a link loop, no permission
        raise _refused_by_os(text, root, exc) from exc
    return resolved


def _shown(text: str, limit: int = 80) -> str:
    """``text`` as Python writes it (``\\x00`` visible), cut to ``limit`` characters."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 5] + "…" + shown[-4:]


def _refused_by_os(text: str, root: Path, exc: BaseException) -> DatasetError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return DatasetError(
        f"{_shown(text)} is not a path this system accepts ({reason}): type a path inside "
        f"the data root {root}"
    )


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
