"""Validation of the "when can I stop?" advice on stored simulated runs.

Two rules from :mod:`al_core.stopping`, checked where the truth is known:

- **Stabilizing predictions** (Bloodgood & Vijay-Shanker 2009): where would the rule
  "kappa between consecutive models on the never-queried stop set stays >= 0.99 over
  3 retrains" have stopped each run, and what test accuracy did the model have there
  against the best it reached at that point or later (goal: >= 98 % of it in >= 80 %
  of runs)?
- **Inverse power-law extrapolation**: fitted to the first half of each curve (the
  points up to half the final label count), how far off is its accuracy at the full
  budget from the accuracy measured there (goal: median absolute error <= 2 points)?

The runs are ordinary simulated trials (:func:`al_core.runner.run_trial`) stored in
their own database (``--db``): the first call runs what is missing, every call
replays what is stored. Configurations (small on purpose: 2 shared CPU cores):

- ``digits``: scikit-learn's 8x8 digits (1,437-image pool, 360 test), the ``mlp``,
  20 random initial labels, batches of 10 to 400 labels (39 retrains), a 500-image
  stop set;
- ``mnist``: a 4,000-image MNIST pool and 1,000 test images, the ``mlp``, 20 initial
  labels, batches of 20 to 1,000 labels (49 retrains), a 1,000-image stop set;

each with ``margin`` and ``random``, seeds 0-4 (``--seeds``).

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.stopping --write``
(``--write`` stores the summary in ``al_core/stopping_validation.json``, which the
Label and Results pages quote).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from al_core import stopping

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO / "benchmarks" / "out" / "stopping.sqlite3"
STRATEGIES = ("margin", "random")
#: Per data set: the base trial configuration (every trial: one seed, one strategy).
CONFIGS: dict[str, dict[str, Any]] = {
    "digits": {
        "dataset": "digits",
        "model": "mlp",
        "initial": 20,
        "batch": 10,
        "budget": 400,
        "agreement_size": 500,
    },
    "mnist": {
        "dataset": "mnist",
        "pool_size": 4000,
        "test_size": 1000,
        "model": "mlp",
        "initial": 20,
        "batch": 20,
        "budget": 1000,
        "agreement_size": 1000,
    },
}
#: The goals of the validation (issue 29).
STOP_SHARE_GOAL = 0.98  # of the best later accuracy ...
STOP_RUNS_GOAL = 0.80  # ... in this share of runs
EXTRAPOLATION_ERROR_GOAL = 0.02  # median absolute error at the full budget
#: Lower thresholds replayed beside the rule's own (the page lets a person set one).
OTHER_THRESHOLDS = (0.98, 0.97, 0.95)


def run_missing(db: Path, datasets: Sequence[str], seeds: Sequence[int]) -> None:
    """Run every (data set, strategy, seed) trial not yet stored as done."""
    from al_core import runner
    from al_core.loop import TrialConfig
    from al_core.store import Store

    with Store(db) as store:
        done = {
            (e["name"], t["strategy"], t["seed"], t["config"].get("budget"))
            for e in store.experiments()
            for t in store.trials(e["id"])
            if t["status"] == "done"
        }
        for name in datasets:
            for strategy in STRATEGIES:
                for seed in seeds:
                    if (f"stopping {name}", strategy, seed, CONFIGS[name]["budget"]) in done:
                        continue
                    config = TrialConfig(**CONFIGS[name], strategy=strategy, seed=seed)
                    start = time.perf_counter()
                    experiment_id, trial_id = runner.create_single_trial(
                        store, config, "stopping-validation", f"stopping {name}"
                    )
                    try:
                        runner.run_trial(store, trial_id)
                    finally:
                        runner.finish_experiment(store, experiment_id)
                    print(
                        f"ran {name} {strategy} seed {seed}: {time.perf_counter() - start:.0f} s",
                        flush=True,
                    )


def replay_run(
    labels: np.ndarray,
    accuracy: np.ndarray,
    kappas: Sequence[float | None],
    window: int = stopping.KAPPA_WINDOW,
    threshold: float = stopping.KAPPA_THRESHOLD,
) -> dict[str, Any]:
    """What the two rules say on one stored curve: (r,) labels, accuracies and kappas.

    ``stop_labels`` / ``stop_accuracy``: where the kappa rule stops (None: never);
    ``best_later``: the best accuracy from that round on; ``extrapolation_error``: the
    first-half fit's accuracy at the last label count minus the accuracy measured
    there (None when the fit is refused: ``extrapolation_refused`` says why).
    """
    rule = stopping.stability(kappas, window, threshold)
    out: dict[str, Any] = {"stop_labels": None, "stop_accuracy": None, "best_later": None}
    if rule.stable_at is not None:
        at = rule.stable_at
        out.update(
            stop_labels=int(labels[at]),
            stop_accuracy=float(accuracy[at]),
            best_later=float(accuracy[at:].max()),
        )
    full = labels[-1]
    half = labels <= full / 2
    fit = stopping.fit_curve(labels[half], accuracy[half])
    out["extrapolation_refused"] = fit.reason
    out["extrapolation_error"] = (
        None if fit.reason is not None else fit.at(float(full)) - float(accuracy[-1])
    )
    out["final_labels"] = int(full)
    out["final_accuracy"] = float(accuracy[-1])
    return out


def replay(
    db: Path, datasets: Sequence[str], threshold: float = stopping.KAPPA_THRESHOLD
) -> dict[str, list[dict[str, Any]]]:
    """Every stored run of ``datasets``, replayed with the kappa rule at ``threshold``
    (window :data:`al_core.stopping.KAPPA_WINDOW`): ``{"digits/margin": [run, ...]}``."""
    from al_core.store import Store

    runs: dict[str, list[dict[str, Any]]] = {}
    with Store(db) as store:
        for experiment in store.experiments():
            name = experiment["name"].removeprefix("stopping ")
            if name not in datasets:
                continue
            for trial in store.trials(experiment["id"]):
                # Only the runs of the configuration as it stands (an older budget's stay).
                if (
                    trial["status"] != "done"
                    or trial["config"].get("budget") != (CONFIGS[name]["budget"])
                ):
                    continue
                rounds = [r for r in store.rounds(trial["id"]) if r["phase"] == "active"]
                labels = np.array([r["labeled"] for r in rounds], dtype=np.float64)
                accuracy = np.array([r["test_accuracy"] for r in rounds], dtype=np.float64)
                kappas = [r["kappa"] for r in rounds]
                result = replay_run(labels, accuracy, kappas, threshold=threshold)
                result["seed"] = trial["seed"]
                runs.setdefault(f"{name}/{trial['strategy']}", []).append(result)
    return runs


#: The figures of the kappa rule alone (the lower thresholds' summary).
STOP_KEYS = ("runs", "stopped", "stopped_within_98pct", "median_stop_labels", "median_gap_points")


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The validation's figures over runs (see :func:`replay_run`)."""
    stopped = [r for r in runs if r["stop_labels"] is not None]
    good = [r for r in stopped if r["stop_accuracy"] >= STOP_SHARE_GOAL * r["best_later"]]
    gaps = [r["best_later"] - r["stop_accuracy"] for r in stopped]
    errors = [abs(r["extrapolation_error"]) for r in runs if r["extrapolation_error"] is not None]
    return {
        "runs": len(runs),
        "stopped": len(stopped),
        "stopped_within_98pct": len(good),
        "share_within_98pct": len(good) / len(runs) if runs else None,
        "median_stop_labels": float(np.median([r["stop_labels"] for r in stopped]))
        if stopped
        else None,
        "final_labels": max((r["final_labels"] for r in runs), default=None),
        "median_gap_points": 100 * float(np.median(gaps)) if gaps else None,
        "max_gap_points": 100 * float(np.max(gaps)) if gaps else None,
        "extrapolations": len(errors),
        "extrapolations_refused": len(runs) - len(errors),
        "median_abs_error_points": 100 * float(np.median(errors)) if errors else None,
        "max_abs_error_points": 100 * float(np.max(errors)) if errors else None,
    }


def report(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Print the table and return the summary: per data set / strategy and per data set."""
    groups: dict[str, list[dict[str, Any]]] = dict(runs)
    for name in sorted({key.split("/")[0] for key in runs}):
        groups[name] = [r for key, rs in runs.items() if key.startswith(f"{name}/") for r in rs]
    summary = {key: summarise(rs) for key, rs in sorted(groups.items())}
    print(
        f"{'runs':<16} {'n':>3} {'stopped':>7} {'≥98% of best later':>19} {'median stop':>11} "
        f"{'median gap':>10} {'extrap. n':>9} {'median |err|':>12} {'max |err|':>9}"
    )
    for key, s in summary.items():

        def number(value: float | None, unit: str = "") -> str:
            return "—" if value is None else f"{value:.1f}{unit}"

        print(
            f"{key:<16} {s['runs']:>3} {s['stopped']:>7} "
            f"{s['stopped_within_98pct']:>10} ({s['share_within_98pct'] or 0:>4.0%}) "
            f"{number(s['median_stop_labels']):>11} {number(s['median_gap_points'], ' pt'):>10} "
            f"{s['extrapolations']:>9} {number(s['median_abs_error_points'], ' pt'):>12} "
            f"{number(s['max_abs_error_points'], ' pt'):>9}"
        )
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--datasets", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--replay-only", action="store_true", help="run nothing new")
    parser.add_argument("--write", action="store_true", help=f"write {stopping.VALIDATION_FILE}")
    args = parser.parse_args(argv)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if not args.replay_only:
        run_missing(args.db, args.datasets, args.seeds)
    summary = report(replay(args.db, args.datasets))
    thresholds = {}
    for threshold in OTHER_THRESHOLDS:
        print(f"\nthe kappa rule at {threshold} (window {stopping.KAPPA_WINDOW}):")
        other = report(replay(args.db, args.datasets, threshold))
        thresholds[str(threshold)] = {
            name: {key: other[name][key] for key in STOP_KEYS} for name in other if "/" not in name
        }
    if args.write:
        payload = {
            "measured": dt.date.today().isoformat(),
            "command": "python -m benchmarks.stopping --write",
            "rule": {"window": stopping.KAPPA_WINDOW, "threshold": stopping.KAPPA_THRESHOLD},
            "configs": {name: CONFIGS[name] for name in args.datasets},
            "strategies": list(STRATEGIES),
            "seeds": list(args.seeds),
            "summary": summary,
            "other_thresholds": thresholds,
        }
        stopping.VALIDATION_FILE.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {stopping.VALIDATION_FILE}")


if __name__ == "__main__":
    main()
