"""Background sweeps: the ``demo`` preset with 1 worker, then 2, in one run.

Each run queues the preset's whole grid (the demo: digits, seed CNN, uncertainty
fraction 0–100 % by 20 × 3 trials = 18 trials) in a fresh SQLite store and serves
it with an :class:`al_core.runner.Runner` in this process: spawn-started pool
workers, ``cores ÷ workers`` TensorFlow threads each, rounds flowing back through
the spool. The **baseline** is the run with the fewest workers — the 1-worker run
by default (``--workers`` is run in increasing order); every speed-up is that
run's wall time divided by another's. Before the timed runs, a throwaway warm-up
run (one trial of one round, 1 worker, in its own store, not timed) loads
TensorFlow, the data set and the worker code from disk once, so the baseline does
not pay for a cold file cache that the later runs would not. It prints the wall
time of each run (from queueing to the last trial stored, worker start-up
included), the speed-up 1 → 2 workers (target ≥ 1.7 on 2 cores), and per trial
the peak resident memory of the worker that ran it (psutil RSS sampled at each
round boundary), and the workers' busy share (time inside trials ÷ workers ×
wall time). It also checks that both runs stored the same curves: the same
labeled counts, accuracies and queried items in every round. Float model outputs
(losses, scores) may differ in the last bits, since TensorFlow sums in a
different order with 1 thread than with 2; their largest gap is printed.

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.sweep_workers
--out benchmarks/out/sweep_workers.json``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from al_core import runner
from al_core.store import Store

TARGET_SPEEDUP = 1.7
TIMING_COLUMNS = {"id", "trial_id", "created_at", "train_seconds", "eval_seconds", "score_seconds"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sweep_workers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--preset", default="demo", choices=sorted(runner.PRESETS))
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts to time (1 2)"
    )
    parser.add_argument("--trials", type=int, help="override the preset's trials per config")
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--rounds", type=int, help="override the preset's rounds")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.workers) or len(set(args.workers)) != len(args.workers):
        parser.error("--workers takes distinct counts >= 1, e.g. 1 2")
    args.workers = sorted(args.workers)  # the first, fewest workers, is the baseline
    return args


def warm_up(preset: str, folder: Path) -> float:
    """A throwaway run of one trial of one round with 1 worker (not timed in the
    comparison): TensorFlow, the data set and the worker code come off the disk
    once, before the baseline. Returns its wall seconds."""
    started = time.perf_counter()
    run_once(preset, 1, {"trials": 1, "rounds": 1, "fractions": (1.0,)}, folder / "warm-up")
    return time.perf_counter() - started


def run_once(preset: str, workers: int, overrides: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Queue the preset in a fresh store and serve it with ``workers`` workers."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"workers-{workers}.sqlite3"
    with Store(db) as store:
        started = time.perf_counter()
        experiment_id = runner.submit_preset(store, preset, **overrides)
        with runner.Runner(store, workers=workers) as sweep_runner:
            sweep_runner.run(experiment_id=experiment_id)
        wall = time.perf_counter() - started
        progress = runner.experiment_progress(store, experiment_id)
        curves = {
            f"{t['strategy']} {t['fraction']:g} {t['seed']}": [
                {k: v for k, v in r.items() if k not in TIMING_COLUMNS}
                for r in store.rounds(t["id"])
            ]
            for t in store.trials(experiment_id)
        }
    outcomes = list(sweep_runner.outcomes.values())
    peaks = [o.peak_rss_bytes / 2**20 for o in outcomes]
    return {
        "workers": workers,
        "threads_per_worker": sweep_runner.threads,
        "trials": progress["trials"],
        "done": progress["done"],
        "wall_seconds": wall,
        "trial_seconds_median": statistics.median(o.seconds for o in outcomes),
        # Share of the workers' wall time spent inside trials; the rest is worker
        # start-up, hand-over between trials and the last trial running alone.
        "busy_share": sum(o.seconds for o in outcomes) / (workers * wall),
        "peak_rss_mib_median": statistics.median(peaks),
        "peak_rss_mib_max": max(peaks),
        "worker_pids": sorted({o.pid for o in outcomes}),
        "curves": curves,
    }


#: Round fields that hold floating-point model outputs. A worker with 1 TensorFlow
#: thread sums in a different order than one with 2, so these may differ in the
#: last bits between the two runs; every decision (which items are queried, the
#: accuracy reached) must still be identical.
FLOAT_OUTPUT_COLUMNS = {"test_loss", "queried_scores", "agreement"}


def _max_float_gap(a: Any, b: Any) -> float:
    a_values = np.asarray(json.loads(a) if isinstance(a, str) else a, dtype=float)
    b_values = np.asarray(json.loads(b) if isinstance(b, str) else b, dtype=float)
    if a_values.shape != b_values.shape:
        return float("inf")
    return float(np.max(np.abs(a_values - b_values), initial=0.0))


def compare_curves(
    base: dict[str, list[dict[str, Any]]], other: dict[str, list[dict[str, Any]]]
) -> tuple[list[str], float]:
    """Compare two runs' stored rounds.

    Returns the differences in decisions and measurements (``"trial round N:
    field a != b"``; none expected) and the largest absolute gap in the float
    model outputs of :data:`FLOAT_OUTPUT_COLUMNS`.
    """
    differences: list[str] = []
    float_gap = 0.0
    for trial in sorted(set(base) | set(other)):
        rounds_a, rounds_b = base.get(trial, []), other.get(trial, [])
        if len(rounds_a) != len(rounds_b):
            differences.append(f"{trial}: {len(rounds_a)} rounds != {len(rounds_b)}")
            continue
        for a, b in zip(rounds_a, rounds_b, strict=True):
            for field in sorted(set(a) | set(b)):
                if a.get(field) == b.get(field):
                    continue
                if field in FLOAT_OUTPUT_COLUMNS and None not in (a.get(field), b.get(field)):
                    float_gap = max(float_gap, _max_float_gap(a[field], b[field]))
                else:
                    where = f"{trial} round {a.get('round')}: {field}"
                    differences.append(f"{where} {a.get(field)!r} != {b.get(field)!r}")
    return differences, float_gap


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("trials", args.trials),
            ("epochs", args.epochs),
            ("rounds", args.rounds),
        )
        if value is not None
    }
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sweep-workers-") as folder:
        print("warm-up: one trial of one round with 1 worker (not timed)…", file=sys.stderr)
        warm_up_seconds = warm_up(args.preset, Path(folder))
        print(f"warm-up took {warm_up_seconds:.1f} s", file=sys.stderr)
        results = []
        for workers in args.workers:
            print(f"running preset {args.preset!r} with {workers} worker(s)…", file=sys.stderr)
            results.append(run_once(args.preset, workers, overrides, Path(folder)))
    load_after = os.getloadavg()

    base = results[0]
    print(f"preset {args.preset} ({results[0]['trials']} trials), {runner.available_cores()} cores")
    print(
        f"baseline: the {base['workers']}-worker run (speed-ups are its wall time ÷ another "
        f"run's); warm-up run before it, not timed: {warm_up_seconds:.1f} s"
    )
    print(
        f"{'workers':>7} {'threads':>7} {'done':>5} {'wall s':>8} {'trial s (median)':>16} "
        f"{'peak RSS MiB median / max':>26} {'busy':>5}"
    )
    for r in results:
        print(
            f"{r['workers']:>7} {r['threads_per_worker']:>7} {r['done']:>5} "
            f"{r['wall_seconds']:>8.1f} {r['trial_seconds_median']:>16.2f} "
            f"{r['peak_rss_mib_median']:>15.0f} / {r['peak_rss_mib_max']:<8.0f} "
            f"{r['busy_share']:>5.0%}" + ("  (baseline)" if r is base else "")
        )
    for r in results[1:]:
        speedup = base["wall_seconds"] / r["wall_seconds"]
        verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
        print(
            f"speed-up {base['workers']} (baseline) → {r['workers']} workers: {speedup:.2f}× "
            f"({verdict} the {TARGET_SPEEDUP}× target)"
        )
        differences, float_gap = compare_curves(base["curves"], r["curves"])
        print(
            f"same curves as the {base['workers']}-worker run (labeled counts, accuracies, "
            f"queried items): {not differences}; largest gap in float outputs "
            f"(losses, scores): {float_gap:.1e}"
        )
        for line in differences[:20]:
            print(f"  {line[:200]}")
        r["curve_differences"] = differences
        r["float_output_gap"] = float_gap
    print(
        f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}",
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = [{k: v for k, v in r.items() if k != "curves"} for r in results]
        args.out.write_text(
            json.dumps(
                {"preset": args.preset, "overrides": overrides, "runs": summary,
                 "baseline_workers": base["workers"], "warm_up_seconds": warm_up_seconds,
                 "load_before": load_before, "load_after": load_after},
                indent=2,
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
