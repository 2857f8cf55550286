"""Which experiments the Overview shows, and what their stored config says.

Experiments are the rows of :meth:`al_core.store.Store.experiments` (newest
first), with their config parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def experiment_target(experiment: dict[str, Any]) -> float | None:
    """The target accuracy stored in an experiment's base config (``None`` if unset)."""
    return experiment["config"].get("base", {}).get("target")


def overview_experiment(
    experiments: Sequence[dict[str, Any]],
    *,
    presets: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The experiment the overview shows first: the newest sweep with measured
    (finished) trials, else the newest queued / running one (from
    :meth:`Store.experiments`, newest first); ``presets`` / ``exclude`` as in
    :func:`overview_choices`."""
    candidates = overview_choices(experiments, presets=presets, exclude=exclude)
    with_data = [e for e in candidates if (e["trials_done"] or 0) > 0]
    return (with_data or candidates or [None])[0]


def experiment_preset(experiment: dict[str, Any]) -> str | None:
    """The preset an experiment was queued from (``submit_preset`` stores it in the
    config as ``preset``), ``None`` for a sweep from the form or the command line."""
    return (experiment.get("config") or {}).get("preset")


def overview_choices(
    experiments: Sequence[dict[str, Any]],
    *,
    presets: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Sweeps the overview can show (newest first): with finished trials, or still open.

    ``presets`` keeps only the experiments queued from one of these presets;
    ``exclude`` drops those queued from any of these (another story shows them).
    """
    return [
        e
        for e in experiments
        if e["kind"] == "sweep"
        and ((e["trials_done"] or 0) > 0 or e["status"] in ("queued", "running"))
        and (presets is None or experiment_preset(e) in presets)
        and experiment_preset(e) not in exclude
    ]
