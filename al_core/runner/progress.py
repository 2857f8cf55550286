"""Where an experiment stands, and cancelling it.

:func:`planned_rounds` says how many rounds a trial config will record;
:func:`experiment_progress` summarises an experiment (trial counts, percent done,
time left, per-trial detail) from one query; :func:`cancel_experiment` stops it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from typing import Any

from al_core.runner.health import recover_orphans
from al_core.runner.trials import finish_experiment
from al_core.store import Store


def planned_rounds(config: dict[str, Any]) -> int | None:
    """Rounds (curve points) a trial config will record, or ``None`` when only the
    pool size (unknown without loading the data) bounds it."""
    initial = len(config.get("initial_indices") or []) or config["initial"]
    bounds = []
    if config.get("rounds") is not None:
        bounds.append(config["rounds"] + 1)
    if config.get("budget") is not None:
        bounds.append(math.ceil(max(config["budget"] - initial, 0) / config["batch"]) + 1)
    if config.get("pool_size") is not None:
        bounds.append(math.ceil(max(config["pool_size"] - initial, 0) / config["batch"]) + 1)
    if not bounds or config.get("stop_at_target"):
        return None
    return min(bounds) + int(config.get("auto_label_steps") or 0)


#: Trial statuses that still change; an experiment with none is finished.
OPEN_TRIAL_STATUSES = ("queued", "running")


def experiment_progress(store: Store, experiment_id: int) -> dict[str, Any]:
    """Where an experiment stands, from one query.

    Returns ``status``, trial counts (``trials``, ``done``, ``running``,
    ``failed``, ``queued``, ``cancelled``), ``finished`` (no trial queued or
    running: nothing will change), ``percent`` (finished trials count whole,
    running ones by rounds stored), ``eta_seconds`` and ``trials_detail``: per
    trial ``trial_id``, ``strategy``, ``fraction``, ``seed``, ``status``,
    ``round`` (index of its last stored round: 0 is the fit on the initial
    labels; ``None`` before it), ``rounds_total`` (index of its last planned
    round, ``None`` when unknown) and ``error``.

    A random trial queued again for the baseline extension (its config has a
    ``baseline_target``) has finished its share of the grid: it counts in ``done``
    and whole in ``percent``, and ``extending`` counts those still running on
    (their detail keeps the real status, so no verdict is drawn before they end).

    ``eta_seconds`` is ``None`` once finished, and while estimating: before any
    trial has finished, because the first rounds include starting workers and
    importing TensorFlow and later rounds train on more labels, so early round
    paces mislead (a 1.5-minute run once showed 5 minutes). Then it is the
    remaining work (queued trials whole, running ones by the share of rounds
    left) × the mean seconds a finished trial took (``finished_at -
    started_at``) ÷ the trials running at once (at least one).

    ``eta_rough_seconds`` fills the wait before that (a first trial can take half
    the run): once a running trial has stored at least half of its planned rounds,
    the same remaining work × the seconds such trials would take at their pace so
    far (time since they started ÷ their share of rounds done, the median over them)
    ÷ the trials running. Rough, and said so on the page: the start-up the first
    rounds include makes it high, the slower later rounds make it low. ``None`` once
    ``eta_seconds`` is known, and when no trial is half done.
    """
    experiment = store.experiment(experiment_id)
    rows = store.trial_progress(experiment_id)
    counts = Counter(row["status"] for row in rows)
    extending = sum(
        row["status"] in OPEN_TRIAL_STATUSES and row["config"].get("baseline_target") is not None
        for row in rows
    )
    finished_lengths = [r["rounds_done"] for r in rows if r["status"] == "done"]
    fallback_total = max(finished_lengths) if finished_lengths else None
    details, trial_seconds, paces = [], [], []
    now = time.time()
    work_done, work_left = 0.0, 0.0
    for row in rows:
        points = row["rounds_done"] if row["status"] == "done" else planned_rounds(row["config"])
        points = points if points is not None else fallback_total
        share = min(row["rounds_done"] / points, 0.99) if points else 0.0
        if row["status"] in ("done", "failed", "cancelled"):
            work_done += 1.0
        elif row["config"].get("baseline_target") is not None:
            work_done += 1.0  # its active rounds are done; the extension's length is open
        elif row["status"] == "running":
            work_done += share
            work_left += 1.0 - share
            if share >= 0.5 and row["started_at"]:
                paces.append((now - row["started_at"]) / share)
        else:
            work_left += 1.0
        if row["status"] == "done" and row["started_at"] and row["finished_at"]:
            trial_seconds.append(row["finished_at"] - row["started_at"])
        details.append(
            {
                "trial_id": row["id"],
                "strategy": row["strategy"],
                "fraction": row["fraction"],
                "seed": row["seed"],
                "status": row["status"],
                "round": row["rounds_done"] - 1 if row["rounds_done"] else None,
                "rounds_total": None if points is None else points - 1,
                "error": row["error"],
            }
        )
    open_trials = sum(counts[s] for s in OPEN_TRIAL_STATUSES)
    eta: float | None = None
    if open_trials and trial_seconds and work_left:
        per_trial = sum(trial_seconds) / len(trial_seconds)
        eta = work_left * per_trial / max(counts["running"], 1)
    rough: float | None = None
    if open_trials and eta is None and not trial_seconds and paces and work_left:
        rough = work_left * statistics.median(paces) / max(counts["running"], 1)
    running_extension = sum(
        row["status"] == "running" and row["config"].get("baseline_target") is not None
        for row in rows
    )
    return {
        "status": experiment["status"],
        "trials": len(rows),
        "done": counts["done"] + extending,
        "running": counts["running"] - running_extension,
        "failed": counts["failed"],
        "queued": counts["queued"] - (extending - running_extension),
        "extending": extending,
        "cancelled": counts["cancelled"],
        "finished": open_trials == 0,
        "percent": 100.0 * work_done / len(rows) if rows else 100.0,
        "eta_seconds": eta,
        "eta_rough_seconds": rough,
        "trials_detail": details,
    }


def time_left_text(progress: dict[str, Any], digits: int = 1) -> str:
    """How long an experiment still runs, as the monitors word it, from
    :func:`experiment_progress`'s ``eta_seconds`` (measured from finished trials) or,
    before one finished, ``eta_rough_seconds`` (the running trials' pace)."""
    eta, rough = progress["eta_seconds"], progress["eta_rough_seconds"]
    if eta is not None:
        return f"about {eta / 60:.{digits}f} min left"
    if rough is not None:
        return f"roughly {rough / 60:.{digits}f} min left (from the pace so far)"
    return "time left: estimated once a trial is half done"


def cancel_experiment(store: Store, experiment_id: int) -> None:
    """Cancel an experiment: queued trials never start, running ones stop at their
    next round boundary, rounds already stored are kept. Idempotent."""
    store.request_cancel(experiment_id)
    recover_orphans(store)  # trials of a dead runner end as cancelled now
    finish_experiment(store, experiment_id)
