"""Learning curve of a default labeling session on digits, answered by the hidden truth.

A session over the embedded digits set is created with the defaults a person
gets on the Label page (model, strategy, batch size, cold start: everything
from :class:`al_core.labeling.SessionConfig`), and driven through the same code
the page uses: each batch is answered item by item with the hidden true labels
(:func:`al_core.labeling.answer`), then :func:`al_core.labeling.request_retrain`
hands the retrain to the real ``label-worker`` background process, and the
next batch is awaited in the store. The session's learning curve (test
accuracy per number of labels) is what this prints.

Goal (issue 10): at least 75 % test accuracy after 30 labels and 88 % after 100.
``tests/test_labeling_quality.py`` holds the same line (median of 3 seeds).

Usage: .venv/bin/python -m benchmarks.labeling_session [--seeds 0 1 2] [--labels 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: (labels, test accuracy at least) of issue 10.
GOALS: tuple[tuple[int, float], ...] = ((30, 0.75), (100, 0.88))


def answer_with_truth(store: Any, session_id: int, truth: np.ndarray) -> int:
    """Answer the session's current batch with the hidden labels ``truth`` (n_pool,),
    as a labeler clicking the right class would (1 s each); returns how many."""
    from al_core import labeling

    items = labeling.current_batch(store, session_id).items
    for item in items:
        labeling.answer(store, session_id, item.item, int(truth[int(item.item)]), seconds=1.0)
    return len(items)


def run_truth_session(
    store: Any, *, seed: int = 0, labels: int = 100, timeout: float = 300.0, **settings: Any
) -> list[dict[str, Any]]:
    """Label a default digits session with the truth through the background worker.

    Returns the session's learning curve (``al_core.labeling.learning_curve``),
    one point per retrain, the last one trained on ``labels`` labels.
    ``settings`` change session settings (none: the page's defaults).
    """
    from al_core import labeling

    created = labeling.create_session(
        store, f"truth {seed}", dataset="digits", seed=seed, **settings
    )
    session_id = created.session_id
    deadline = time.monotonic() + timeout
    labeling.request_retrain(store, session_id)  # the cold-start batch
    expected_round = 0
    while True:
        while True:
            batch = labeling.current_batch(store, session_id)
            if batch is not None and batch.round == expected_round:
                break
            state = labeling.job_state(store, session_id)
            if state.status == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"no batch {expected_round}: {state}")
            time.sleep(0.1)
        # The worker writes the hidden labels with the pool, before the first batch.
        truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
        answer_with_truth(store, session_id, truth)
        done = labeling.counts(store, session_id)["human"]
        labeling.request_retrain(store, session_id)
        expected_round += 1
        if done >= labels:
            break
    while not any(p["labeled"] >= labels for p in labeling.learning_curve(store, session_id)):
        state = labeling.job_state(store, session_id)
        if state.status == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"the last retrain did not finish: {state}")
        time.sleep(0.1)
    return labeling.learning_curve(store, session_id)


def accuracy_at(curve: list[dict[str, Any]], labels: int) -> float:
    """Test accuracy of the point trained on exactly ``labels`` labels."""
    (point,) = [p for p in curve if p["labeled"] == labels]
    return float(point["test_accuracy"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--cold-start", help="override the default cold start")
    parser.add_argument("--out", type=Path, help="write the curves as JSON")
    args = parser.parse_args(argv)

    import os

    from al_core import labeling
    from al_core.labeling import SessionConfig
    from al_core.store import Store

    folder = Path(tempfile.mkdtemp(prefix="labeling-session-"))
    os.environ["AL_DATA_DIR"] = str(folder)
    settings = {"cold_start": args.cold_start} if args.cold_start else {}
    defaults = SessionConfig(
        source="builtin", dataset="digits", class_names=tuple("0123456789"), **settings
    )
    print(f"session defaults: {defaults.to_dict()}")
    curves = {}
    start = time.perf_counter()
    with Store(folder / "al.sqlite3") as store:
        try:
            for seed in args.seeds:
                curves[seed] = run_truth_session(store, seed=seed, labels=args.labels, **settings)
                points = ", ".join(
                    f"{p['labeled']}: {100 * p['test_accuracy']:.1f}" for p in curves[seed]
                )
                print(f"seed {seed}: {points}", flush=True)
        finally:
            labeling.stop_workers()
    met = True
    for labels, goal in GOALS:
        values = [accuracy_at(curve, labels) for curve in curves.values()]
        median = statistics.median(values)
        ok = median >= goal
        met &= ok
        print(
            f"{labels} labels: median {100 * median:.1f} %, min {100 * min(values):.1f} %, "
            f"max {100 * max(values):.1f} % (goal: median >= {100 * goal:.0f} %: "
            f"{'met' if ok else 'MISSED'})"
        )
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"defaults": defaults.to_dict(), "curves": curves}))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
