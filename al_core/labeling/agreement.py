"""How much annotators agree: Cohen's kappa per pair of annotators and per class,
raw agreement, and each annotator against the hidden labels of a built-in set.

Pure functions over the store's answer rows (:func:`agreement`), and
:func:`session_agreement` over a session. Only images both annotators of a pair
answered with a class count ("not sure" is left out of kappa).

Cohen's kappa is ``(p_o - p_e) / (1 - p_e)``: ``p_o`` the share of images the two
gave the same class, ``p_e`` the share expected by chance from each one's class
frequencies. It is computed as scikit-learn's ``cohen_kappa_score`` does
(``1 - sum(W * C) / sum(W * E)``, C the confusion matrix, E the outer product of
its margins over its total, W 1 off the diagonal), so the two agree to the last
digit; it is undefined (None) when chance agreement is 1 (both always gave the
same single class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from al_core.labeling.sessions import _TRUTH_FILE, session_config, session_dir
from al_core.store import Store


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two raters' labels of the same images (None when undefined:
    no images, or chance agreement 1)."""
    y1, y2 = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if y1.shape != y2.shape:
        raise ValueError(f"two raters need as many labels: {len(y1)} and {len(y2)}")
    if y1.size == 0:
        return None
    classes, codes = np.unique(np.concatenate([y1, y2]), return_inverse=True)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=np.float64)
    np.add.at(confusion, (codes[: y1.size], codes[y1.size :]), 1)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    weights = np.ones((k, k), dtype=np.float64) - np.eye(k)
    denominator = np.sum(weights * expected)
    if denominator == 0:
        return None
    return float(1 - np.sum(weights * confusion) / denominator)


@dataclass(frozen=True)
class Agreement:
    """A session's agreement figures (each list of rows is a table)."""

    pairs: list[dict[str, Any]]  # annotator_a, annotator_b, images, agreed, raw_agreement, kappa
    classes: list[dict[str, Any]]  # class, images, agreed, kappa (one class against the rest)
    annotators: list[dict[str, Any]]  # annotator, answers, not_sure, [vs truth: agreed, …]
    images_twice: int  # images answered with a class by at least two annotators
    raw_agreement: float | None  # over every pair's shared images
    kappa: float | None  # over every pair's shared images
    truth_known: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the exports)."""
        return {
            "pairs": self.pairs,
            "classes": self.classes,
            "annotators": self.annotators,
            "images_twice": self.images_twice,
            "raw_agreement": self.raw_agreement,
            "kappa": self.kappa,
            "truth_known": self.truth_known,
        }


def agreement(
    labels: Sequence[dict[str, Any]],
    class_names: Sequence[str],
    truth: np.ndarray | None = None,
) -> Agreement:
    """Agreement of the human answers in ``labels`` (rows with item, annotator, label,
    source): per pair of annotators, per class (pooled over pairs), over all; and per
    annotator against ``truth`` (the hidden label of each pool index) when given."""
    by_annotator: dict[str, dict[str, int]] = {}
    for row in labels:
        if row["source"] == "human":
            by_annotator.setdefault(row["annotator"], {})[row["item"]] = int(row["label"])
    names = sorted(by_annotator)
    pairs, pooled_a, pooled_b = [], [], []
    twice: set[str] = set()
    for a, b in combinations(names, 2):
        shared = [
            item
            for item, label in by_annotator[a].items()
            if label >= 0 and by_annotator[b].get(item, -1) >= 0
        ]
        if not shared:
            continue
        ya = [by_annotator[a][i] for i in shared]
        yb = [by_annotator[b][i] for i in shared]
        agreed = sum(x == y for x, y in zip(ya, yb, strict=True))
        pairs.append(
            {
                "annotator_a": a,
                "annotator_b": b,
                "images": len(shared),
                "agreed": agreed,
                "raw_agreement": agreed / len(shared),
                "kappa": cohen_kappa(ya, yb),
            }
        )
        pooled_a += ya
        pooled_b += yb
        twice.update(shared)
    classes = []
    if pooled_a:
        pa, pb = np.asarray(pooled_a), np.asarray(pooled_b)
        for k, name in enumerate(class_names):
            either = (pa == k) | (pb == k)
            classes.append(
                {
                    "class": name,
                    "images": int(either.sum()),
                    "agreed": int(((pa == k) & (pb == k)).sum()),
                    "kappa": cohen_kappa((pa == k).astype(int), (pb == k).astype(int))
                    if either.any()
                    else None,
                }
            )
    annotators = []
    for name in names:
        answers = by_annotator[name]
        given = {item: label for item, label in answers.items() if label >= 0}
        row: dict[str, Any] = {
            "annotator": name,
            "answers": len(given),
            "not_sure": len(answers) - len(given),
        }
        if truth is not None:
            items = [i for i in given if 0 <= int(i) < len(truth)]
            true = [int(truth[int(i)]) for i in items]
            mine = [given[i] for i in items]
            agreed = sum(x == y for x, y in zip(mine, true, strict=True))
            row.update(
                {
                    "agreed_with_truth": agreed,
                    "truth_agreement": agreed / len(items) if items else None,
                    "truth_kappa": cohen_kappa(mine, true),
                }
            )
        annotators.append(row)
    same = sum(x == y for x, y in zip(pooled_a, pooled_b, strict=True))
    return Agreement(
        pairs=pairs,
        classes=classes,
        annotators=annotators,
        images_twice=len(twice),
        raw_agreement=same / len(pooled_a) if pooled_a else None,
        kappa=cohen_kappa(pooled_a, pooled_b),
        truth_known=truth is not None,
    )


def _truth(store: Store, session_id: int, source: str) -> np.ndarray | None:
    path: Path = session_dir(store, session_id) / _TRUTH_FILE
    return np.load(path) if source == "builtin" and path.is_file() else None


def session_agreement(store: Store, session_id: int) -> Agreement:
    """:func:`agreement` of a session's answers; against the hidden labels on built-in sets."""
    config = session_config(store, session_id)
    return agreement(
        store.labels(session_id), config.class_names, _truth(store, session_id, config.source)
    )
