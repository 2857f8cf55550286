"""A session's answer to "when can I stop?": its curve with 95 % intervals, the
stabilizing-predictions rule over its retrains and the extrapolation to a target
(:mod:`al_core.stopping`), gathered for the Label page."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from al_core import stopping
from al_core.labeling.sessions import HELD_OUT_EVERY, SessionConfig
from al_core.store import Store


@dataclass(frozen=True)
class StoppingAdvice:
    """``points``: the curve's rows (``labeled``, ``test_accuracy``, ``low``, ``high``,
    ``evaluated``, ``kappa``, …) in round order; ``interval_note`` says what the band
    is measured on; ``rule`` the kappa rule; ``extrapolation`` to the target."""

    points: list[dict[str, Any]]
    interval_note: str
    rule: stopping.Stability
    extrapolation: stopping.Extrapolation | None

    def table(self) -> pd.DataFrame:
        """One row per retrain, as the page shows it (percent strings, "—" for none)."""

        def percent(value: float | None) -> str:
            return "—" if value is None else f"{value:.1%}"

        return pd.DataFrame(
            {
                "retrain": [p["round"] + 1 for p in self.points],
                "labels": [p["labeled"] for p in self.points],
                "accuracy": [percent(p["test_accuracy"]) for p in self.points],
                "95 % interval": [
                    "—" if p["low"] is None else f"{p['low']:.1%} – {p['high']:.1%}"
                    for p in self.points
                ],
                "measured on": [
                    f"{p['evaluated']} images" if p["evaluated"] else "—" for p in self.points
                ],
                "kappa vs previous model": [
                    "—" if p["kappa"] is None else f"{p['kappa']:.3f}" for p in self.points
                ],
            }
        )


def _evaluated(point: dict[str, Any], config: SessionConfig) -> int | None:
    """Images a point was measured on (stored since schema 7; before: the held-out
    count of own data, the test size of a built-in set)."""
    if point.get("evaluated"):
        return int(point["evaluated"])
    if config.source != "builtin":
        return point.get("held_out") or None
    return config.test_size


def stopping_advice(
    store: Store,
    session_id: int,
    config: SessionConfig,
    *,
    window: int = stopping.KAPPA_WINDOW,
    threshold: float = stopping.KAPPA_THRESHOLD,
    target: float | None = None,
) -> StoppingAdvice:
    """The session's curve with intervals, the kappa rule and (with a ``target``
    accuracy in (0, 1]) the extrapolation to it."""
    points = []
    for point in store.session_rounds(session_id):
        if point["test_accuracy"] is None:
            continue
        n = _evaluated(point, config)
        low, high = stopping.accuracy_interval(point["test_accuracy"], n) if n else (None, None)
        points.append({**point, "evaluated": n, "low": low, "high": high})
    sizes = [p["evaluated"] for p in points if p["evaluated"]]
    if config.source == "builtin":
        note = (
            f"The band is the 95 % interval of each accuracy (Wilson), measured on the "
            f"{config.dataset} test split ({sizes[-1] if sizes else '?'} images)."
        )
    else:
        last = sizes[-1] if sizes else 0
        now = (
            f" ({last} images now: at 50 % that is about "
            f"±{100 * stopping.Z_95 * math.sqrt(0.25 / last):.0f} points)"
            if last
            else ""
        )
        note = (
            "The band is the 95 % interval of each accuracy (Wilson). It is wide: the "
            f"accuracy is measured only on every {HELD_OUT_EVERY}th of your own labels, "
            f"held out from training{now}. More labels narrow it."
        )
    rule = stopping.stability([p["kappa"] for p in points], window, threshold)
    extrapolation = None
    if target is not None:
        extrapolation = stopping.extrapolate(
            [p["labeled"] for p in points], [p["test_accuracy"] for p in points], target
        )
    return StoppingAdvice(points, note, rule, extrapolation)
