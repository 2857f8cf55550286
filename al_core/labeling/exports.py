"""A session's images as shown on the page, and its labels exported as CSV, JSON
or a zip of images in one folder per class.

Every answer is exported with its annotator; a disagreement a person settled is a
row of its own (source ``review``, annotator: who settled it). The JSON also
carries the agreement figures (:mod:`al_core.labeling.agreement`); the zip has one
image per item with the label it trains with (disputed ones are left out)."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import DatasetError
from al_core.labeling.agreement import session_agreement
from al_core.labeling.sessions import (
    _FILES_DIR,
    _ITEMS_DIR,
    _POOL_FILE,
    SessionConfig,
    session_config,
    session_dir,
)
from al_core.labeling.team import item_labels
from al_core.store import Store

if TYPE_CHECKING:  # pragma: no cover - typing only
    from PIL.Image import Image as PILImage


DISPLAY_SIDE = 256
"""Small images are shown at least this many pixels wide (nearest-neighbour upscaling)."""


# --------------------------------------------------------------------------- images


def _original_path(store: Store, session_id: int, config: SessionConfig, name: str) -> Path:
    if config.source == "upload":
        return session_dir(store, session_id) / _FILES_DIR / name
    return Path(config.folder or "") / name


def item_names(store: Store, session_id: int) -> tuple[str, ...]:
    """File names of a user pool, by pool index (empty for built-in sets)."""
    path = session_dir(store, session_id) / _POOL_FILE
    if not path.is_file():
        return ()
    with np.load(path, allow_pickle=False) as archive:
        return tuple(str(n) for n in archive["names"])


def item_image(
    store: Store,
    session_id: int,
    item: str,
    *,
    side: int = DISPLAY_SIDE,
    names: Sequence[str] | None = None,
) -> PILImage:
    """An item's image to show: small ones upscaled by a whole factor with
    nearest-neighbour (sharp pixels, no blur) to at least ``side`` px, large
    ones reduced to at most ``2 * side``."""
    from PIL import Image, ImageOps

    config = session_config(store, session_id)
    if config.source == "builtin":
        path = session_dir(store, session_id) / _ITEMS_DIR / f"{int(item)}.png"
    else:
        names = names if names is not None else item_names(store, session_id)
        path = _original_path(store, session_id, config, names[int(item)])
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except OSError as exc:
        raise DatasetError(
            f"the image of item {item} cannot be read ({exc}); was it moved or deleted?"
        ) from exc
    longest = max(image.size)
    if longest < side:
        factor = -(-side // longest)
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    image.thumbnail((2 * side, 2 * side))
    return image


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "item",
    "file",
    "label",
    "label_name",
    "source",
    "labeled_at",
    "seconds",
    "annotator",  # last: the columns before it are those of exports made before teams
)


def export_rows(store: Store, session_id: int) -> list[dict[str, Any]]:
    """Every stored answer in the order given: item (pool index), file (user data),
    label (``-1`` = not sure), label name, source, UTC time, seconds spent and
    annotator; then each settled disagreement (source ``review``)."""
    config = session_config(store, session_id)
    names = item_names(store, session_id)
    answers = store.labels(session_id)
    reviews = [{**r, "source": "review", "seconds": None} for r in store.reviews(session_id)]
    rows = []
    for r in [*answers, *reviews]:
        label = int(r["label"])
        rows.append(
            {
                "item": r["item"],
                "file": names[int(r["item"])] if names else "",
                "label": label,
                "label_name": config.class_names[label] if label >= 0 else "not sure",
                "source": r["source"],
                "labeled_at": _dt.datetime.fromtimestamp(r["created_at"], _dt.UTC).isoformat(),
                "seconds": None if r["seconds"] is None else round(r["seconds"], 3),
                "annotator": r["annotator"],
            }
        )
    return rows


def export_csv(store: Store, session_id: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(store, session_id))
    return buffer.getvalue().encode()


def export_json(store: Store, session_id: int) -> bytes:
    session = store.session(session_id)
    document = {
        "session": {
            "id": session["id"],
            "name": session["name"],
            "config": session["config"],
        },
        "labels": export_rows(store, session_id),
        "agreement": session_agreement(store, session_id).to_dict(),
    }
    return json.dumps(document, indent=1).encode()


def _safe_folder_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip(" .")
    return cleaned or "class"


def export_zip(
    store: Store, session_id: int, *, sources: Sequence[str] = ("human", "pseudo")
) -> bytes:
    """A zip of the labeled images, one folder per class (original files for user
    data, PNGs of the pool images for built-in sets), each image once with the label it
    trains with. "Not sure" and disputed items are left out."""
    config = session_config(store, session_id)
    names = item_names(store, session_id)
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = item_labels(store.labels(session_id), store.reviews(session_id)).values()
        for entry in entries:
            row = {"item": entry.item, "label": entry.label}
            source = entry.status if entry.status in ("pseudo", "oracle") else "human"
            if entry.label is None or entry.label < 0 or source not in sources:
                continue
            folder = _safe_folder_name(config.class_names[row["label"]])
            if config.source == "builtin":
                path = session_dir(store, session_id) / _ITEMS_DIR / f"{int(row['item'])}.png"
                file_name = path.name
            else:
                path = _original_path(store, session_id, config, names[int(row["item"])])
                file_name = PurePosixPath(names[int(row["item"])]).name
            if not path.is_file():
                continue
            arcname = f"{folder}/{file_name}"
            if arcname in used:
                arcname = f"{folder}/{row['item']}-{file_name}"
            used.add(arcname)
            archive.write(path, arcname)
    return buffer.getvalue()
