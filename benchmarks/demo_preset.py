"""The one-click demo, timed and read as a stakeholder would read it.

Does what the Overview page's button does, in a fresh data folder: queue the
``demo`` preset (:func:`al_core.runner.submit_preset`) and start the detached
background runner (:func:`al_core.runner.ensure_runner`, 2 workers). Then it
polls the store and reports:

- seconds from the click to the first measured round (goal ≤ 15 s) and to the
  last trial stored (goal ≤ 3 min on 2 cores; issue 18);
- per uncertainty fraction, the mean ± std test accuracy over trials at each
  labeled-set size (a learning curve should rise), and the random baseline at
  100 labels (goal ≥ 88 %, mean over trials);
- labels to the preset's target and the saving against random, from
  :func:`al_core.results.config_table` — the same table the Results page shows.

Whether uncertainty sampling beats random here is a measurement, not a tuning
target: the report gives it with its spread.

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.demo_preset
--out benchmarks/out/demo_preset.json``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FIRST_POINT_GOAL = 15.0
TOTAL_GOAL = 180.0
RANDOM_AT_100_GOAL = 0.88


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--out", type=Path, help="write the figures and curves as JSON")
    args = parser.parse_args(argv)

    from al_core.runner import PRESETS, ensure_runner, experiment_progress, submit_preset
    from al_core.store import Store

    folder = Path(tempfile.mkdtemp(prefix="demo-preset-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    db = folder / "al.sqlite3"
    preset = PRESETS["demo"]
    print(f"demo preset: {preset.description}\nbase config: {preset.base.to_dict()}")
    click = time.perf_counter()
    with Store(db) as store:
        experiment_id = submit_preset(store, "demo")
    ensure_runner(db)
    first_point = None
    while True:
        with Store(db) as store:
            progress = experiment_progress(store, experiment_id)
            stored = store.experiment_rounds([experiment_id])
        now = time.perf_counter() - click
        if first_point is None and stored:
            first_point = now
            print(f"first measured round after {first_point:.1f} s", flush=True)
        if progress["status"] in ("done", "failed", "cancelled"):
            break
        if now > args.timeout:
            print(f"timed out after {now:.0f} s: {progress['status']}")
            return 1
        time.sleep(0.5)
    total = time.perf_counter() - click
    print(f"experiment {progress['status']} after {total:.1f} s ({progress['trials']} trials)")

    curves: dict[float, dict[int, list[float]]] = {}
    for row in stored:
        if row["phase"] == "active":
            curves.setdefault(row["fraction"], {}).setdefault(row["labeled"], []).append(
                row["test_accuracy"]
            )
    sizes = sorted({n for curve in curves.values() for n in curve})
    print("\n| fraction | " + " | ".join(str(n) for n in sizes) + " |")
    print("|---:|" + "---:|" * len(sizes))
    for fraction in sorted(curves):
        cells = [
            f"{100 * np.mean(curves[fraction][n]):.1f} ± {100 * np.std(curves[fraction][n]):.1f}"
            for n in sizes
        ]
        print(f"| {100 * fraction:.0f} % | " + " | ".join(cells) + " |")
    random_at_100 = float(np.mean(curves[0.0][100])) if 100 in curves.get(0.0, {}) else None

    from al_core import results

    trials = results.trial_table(results.rounds_frame(stored), preset.target)
    configs = results.config_table(trials)
    table = results.display_table(configs)
    print(f"\nlabels to {100 * preset.target:.0f} % (the Results page's table):")
    print(table.to_string(index=False))
    print("verdict:", results.verdict(configs, preset.target))

    checks = {
        f"first point <= {FIRST_POINT_GOAL:.0f} s": first_point is not None
        and first_point <= FIRST_POINT_GOAL,
        f"whole demo <= {TOTAL_GOAL:.0f} s": total <= TOTAL_GOAL,
        f"random at 100 labels >= {100 * RANDOM_AT_100_GOAL:.0f} %": random_at_100 is not None
        and random_at_100 >= RANDOM_AT_100_GOAL,
    }
    print(f"\nrandom baseline at 100 labels: {random_at_100}")
    for name, ok in checks.items():
        print(f"{name}: {'met' if ok else 'MISSED'}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = {
            "first_point_seconds": first_point,
            "total_seconds": total,
            "trials": progress["trials"],
            "random_at_100": random_at_100,
            "curves": {str(f): {str(n): v for n, v in c.items()} for f, c in curves.items()},
            "summary": json.loads(table.to_json(orient="records", force_ascii=False)),
            "verdict": results.verdict(configs, preset.target),
            "checks": checks,
        }
        args.out.write_text(json.dumps(payload, indent=1))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
