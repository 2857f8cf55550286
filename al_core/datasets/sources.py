"""A data set source typed into the app, its path confined to the data root.

A source is a built-in name (:data:`~al_core.datasets.dataset.BUILTIN_DATASETS`),
``npz:PATH``, ``folder:PATH`` or a bare path; the names belong to the data sets, the
confinement to :mod:`al_core.paths` (which imports nothing from here).
"""

from __future__ import annotations

from pathlib import Path

from al_core.datasets.dataset import BUILTIN_DATASETS
from al_core.errors import DatasetError
from al_core.paths import confine_path

__all__ = ["PATH_SOURCES", "confine_dataset_source"]

PATH_SOURCES = ("npz", "folder")
"""Prefixes of the sources that name a path: ``npz:PATH`` and ``folder:PATH``."""


def confine_dataset_source(source: str, root: Path | None = None) -> str:
    """A data set source with its path confined: ``"npz:PATH"``/``"folder:PATH"`` (or a
    bare path) becomes ``"npz:/resolved/path"``; built-in names pass unchanged.

    Raises
    ------
    DatasetError
        As :func:`~al_core.paths.confine_path`, or when a source names no path.
    """
    text = str(source).strip()
    if text.lower().replace("-", "_") in BUILTIN_DATASETS:
        return text
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in PATH_SOURCES:
        if not rest.strip():
            raise DatasetError(f"{text!r} names no path: write {prefix.lower()}:PATH")
        return f"{prefix.lower()}:{confine_path(rest, root)}"
    if not text:
        raise DatasetError("no data set given: write npz:PATH or folder:PATH")
    resolved = confine_path(text, root)
    kind = "npz" if resolved.suffix.lower() == ".npz" else "folder"
    return f"{kind}:{resolved}"
