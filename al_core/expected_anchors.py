"""Expected curves' data anchors measured ahead of time, so the first look is instant.

The expected (dummy) curves of the empty Overview rest on a logistic-regression
learning curve of the demo's data (:func:`al_core.expected.anchor_from_data`):
about 4 s of scikit-learn fits on 2 cores, which a fresh server used to spend on
its first view. Those fits are deterministic (fixed label orders, fixed test
subset, L-BFGS), so they are measured once, by
``python -m al_core.expected_anchors``, for every preset on the embedded digits,
and kept in ``expected_anchors.json`` beside this file (committed: a few hundred
bytes, the same on every machine, nothing to compute at server start and nothing
to race on a cold first view). A config the file does not hold is measured as
before (:func:`anchor_for_config`). ``tests/test_expected_anchors.py`` measures
them again and checks the file holds exactly those numbers, so it cannot go stale
silently (a scikit-learn that fits differently fails it: rerun the command).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from al_core import expected

ANCHORS_FILE = Path(__file__).with_name("expected_anchors.json")
#: The presets whose anchors are kept: those on the embedded digits (no download, so
#: the same numbers everywhere).
STORED_PRESETS: tuple[str, ...] = ("demo", "cold-start", "repeated-digits")


def anchor_key(
    base: dict[str, Any], initial: int, batch: int, rounds: int, gain: float = 1.0
) -> dict[str, Any] | None:
    """What an anchor of ``base`` and the plan depends on (the arguments of
    :func:`al_core.expected.anchor_for_config`'s fits), JSON-ready; None for a data
    set that is not built in here."""
    key = expected._builtin_key(base.get("dataset", ""))
    if key is None:
        return None
    return {
        "dataset": key,
        "pool_size": base.get("pool_size"),
        "test_size": base.get("test_size"),
        "val_size": int(base.get("val_size") or 0),
        "data_seed": int(base.get("data_seed") or 0),
        "repeat": int(base.get("repeat") or 1),
        "repeat_noise": float(base.get("repeat_noise") or 0.0),
        "counts": [int(n) for n in expected.anchor_counts(initial, batch, rounds, gain)],
        "seeds": int(expected.ANCHOR_SEEDS),
    }


def _stored() -> list[dict[str, Any]]:
    try:
        return list(json.loads(ANCHORS_FILE.read_text())["anchors"])
    except (OSError, ValueError, KeyError):
        return []


def stored_anchor(
    base: dict[str, Any], initial: int, batch: int, rounds: int
) -> expected.DataAnchor | None:
    """The kept anchor of ``base`` and the plan, or None when the file holds none."""
    key = anchor_key(base, initial, batch, rounds)
    if key is None:
        return None
    for entry in _stored():
        if entry["key"] == key:
            return expected.DataAnchor(
                dataset=key["dataset"],
                labeled=np.array(entry["labeled"], dtype=np.float64),
                accuracy=np.array(entry["accuracy"], dtype=np.float64),
                seeds=key["seeds"],
                test_size=int(entry["test_size"]),
                pool_size=int(entry["pool_size"]),
            )
    return None


def anchor_for_config(
    base: dict[str, Any], initial: int, batch: int, rounds: int
) -> expected.DataAnchor | None:
    """:func:`stored_anchor`, else :func:`al_core.expected.anchor_for_config` (measured)."""
    kept = stored_anchor(base, initial, batch, rounds)
    if kept is not None:
        return kept
    return expected.anchor_for_config(base, initial, batch, rounds)


def measure_presets(presets: tuple[str, ...] = STORED_PRESETS) -> list[dict[str, Any]]:
    """Measure the anchors of ``presets`` (their base config and plan), as kept in the file."""
    from al_core.results.curves import expected_plan
    from al_core.runner import PRESETS

    entries = []
    for name in presets:
        base = PRESETS[name].base.to_dict()
        plan = expected_plan(base)
        key = anchor_key(base, *plan)
        anchor = expected.anchor_for_config(base, *plan)
        if key is None or anchor is None:
            continue
        entries.append(
            {
                "preset": name,
                "key": key,
                "labeled": [float(v) for v in anchor.labeled],
                "accuracy": [float(v) for v in anchor.accuracy],
                "test_size": anchor.test_size,
                "pool_size": anchor.pool_size,
            }
        )
    return entries


def main(argv: list[str] | None = None) -> int:
    """``python -m al_core.expected_anchors``: measure and write the file."""
    import sklearn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ANCHORS_FILE)
    args = parser.parse_args(argv)
    document = {
        "about": "Logistic-regression anchors of the expected curves, measured by "
        "`python -m al_core.expected_anchors` (al_core/expected_anchors.py).",
        "scikit_learn": sklearn.__version__,
        "anchors": measure_presets(),
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(document['anchors'])} anchors to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
