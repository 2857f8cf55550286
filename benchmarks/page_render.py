"""How long each app page takes to render with 50 experiments in the store.

Target: every page renders in under 2 s. The store is a fresh SQLite file in a
temporary folder (``AL_DATA_DIR``) filled through :class:`Store` methods with 50
finished benchmark-fixture experiments (named "benchmark fixture NN"), each 3
configurations × 3 trials × 11 rounds of made-up accuracies — fixtures for
timing only, never results. Each page is rendered by Streamlit's AppTest (the
script run, without a browser) once to warm imports, then ``--repeats`` times;
the median and the range are printed. The Results page shows one experiment by
default; here every render picks all of them in its "Experiments" selector
first (as a user would), and the timed run is the rerun that draws the curves and
tables of all ``--experiments`` experiments (checked after each run).

Usage: .venv/bin/python -m benchmarks.page_render [--experiments 50] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PAGES = (
    "pages/overview.py",
    "pages/experiments.py",
    "pages/results.py",
    "pages/label.py",  # with no labeling session: the session picker and form
    "app.py",
)
RESULTS_PAGE = "pages/results.py"
TARGET_SECONDS = 2.0


def fill_store(db_path: Path, experiments: int, seed: int = 0) -> int:
    """Write ``experiments`` finished benchmark-fixture experiments; returns rounds written."""
    from al_core.loop import TrialConfig
    from al_core.runner import plan_trials
    from al_core.store import Store

    rng = np.random.default_rng(seed)
    base = TrialConfig(dataset="digits", model="softmax", initial=20, batch=10, rounds=10)
    base = base.replace(target=0.8)
    written = 0
    with Store(db_path) as store:
        for number in range(experiments):
            specs = plan_trials(base, ["margin"], [0.0, 0.5, 1.0], 3)
            config = {
                "base": base.to_dict(),
                "strategies": ["margin"],
                "fractions": [0.0, 0.5, 1.0],
                "trials": 3,
                "baseline": True,
            }
            experiment_id = store.create_experiment(
                f"benchmark fixture {number:02d} (made-up accuracies)", config, specs
            )
            for trial in store.trials(experiment_id):
                rate = 0.15 + 0.05 * trial["fraction"] + rng.normal(0, 0.01)
                for r in range(11):
                    accuracy = 0.95 - 0.85 * np.exp(-rate * (r + 1))
                    store.add_round(
                        trial["id"],
                        {
                            "round": r,
                            "phase": "active",
                            "labeled": 20 + 10 * r,
                            "pseudo_labeled": 0,
                            "test_accuracy": float(accuracy),
                            "test_loss": float(1 - accuracy),
                            "epochs": 3,
                        },
                    )
                    written += 1
                store.set_trial_status(trial["id"], "done")
            store.set_experiment_status(experiment_id, "done")
    return written


def _experiments_picker(app: Any) -> Any:
    """The Results page's "Experiments" multiselect."""
    pickers = [m for m in app.multiselect if m.label == "Experiments"]
    if len(pickers) != 1:
        raise RuntimeError(f"expected one 'Experiments' selector on Results, found {len(pickers)}")
    return pickers[0]


def time_page(page: str, repeats: int, experiment_ids: list[int]) -> list[float]:
    """Seconds of ``repeats`` AppTest runs of ``page`` after one warm-up run.

    On the Results page the experiment selector is first set to all of
    ``experiment_ids``; the timed run is the rerun that renders them all.
    """
    from streamlit.testing.v1 import AppTest

    times = []
    for attempt in range(repeats + 1):
        app = AppTest.from_file(str(REPO / page), default_timeout=60)
        if page == RESULTS_PAGE:
            app.run()
            if app.exception:
                raise RuntimeError(f"{page} raised: {app.exception[0].message}")
            _experiments_picker(app).set_value(experiment_ids)
        start = time.perf_counter()
        app.run()
        elapsed = time.perf_counter() - start
        if app.exception:
            raise RuntimeError(f"{page} raised: {app.exception[0].message}")
        if page == RESULTS_PAGE and sorted(_experiments_picker(app).value) != experiment_ids:
            raise RuntimeError(f"Results did not keep all {len(experiment_ids)} experiments")
        if attempt:
            times.append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="al-bench-") as folder:
        os.environ["AL_DATA_DIR"] = folder
        db_path = Path(folder) / "al.sqlite3"
        started = time.perf_counter()
        rounds = fill_store(db_path, args.experiments)
        print(
            f"store: {args.experiments} experiments, {rounds} rounds "
            f"({time.perf_counter() - started:.1f} s to write)"
        )
        from al_core.store import Store

        with Store(db_path) as store:
            experiment_ids = sorted(e["id"] for e in store.experiments())
        print(f"{RESULTS_PAGE}: all {len(experiment_ids)} experiments selected")
        print(f"{'page':<22} {'median s':>9} {'min s':>7} {'max s':>7}  (n={args.repeats})")
        slow = []
        for page in PAGES:
            times = time_page(page, args.repeats, experiment_ids)
            median = statistics.median(times)
            print(f"{page:<22} {median:>9.3f} {min(times):>7.3f} {max(times):>7.3f}")
            if median >= TARGET_SECONDS:
                slow.append(page)
    print("all pages under 2 s" if not slow else f"OVER 2 s: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
