"""Where the time of a digits fit goes: the demo trial before and after issue 18's speed-up.

Four parts, each optional (all by default):

- ``calls``: one seed CNN on digits (the ``demo`` preset's training), each call
  timed ``--repeats`` times, *legacy* and *current* alternating: a fit of 25
  steps and of 300 (the difference gives the cost per step, the rest is the
  fixed cost of a fit), ``evaluate`` on the 360 test images, ``predict_proba``
  on 1,000 images (the stopping advice) and on the 1,437-image pool (scoring).
- ``trial``: one ``demo`` trial (fraction ``--fraction``, seed 0) through
  :func:`al_core.loop.run_loop`, legacy and current alternating ``--trials``
  times each: round wall time (callback to callback; round 0 includes building
  the classifier and tracing), the stored train / eval / score seconds (medians
  over rounds 1–8), and whether both give the same rounds bit for bit (every
  stored field but the timings).
- ``startup``: a fresh interpreter as a sweep worker starts: importing
  TensorFlow (``configure_runtime(1)``), loading digits, building the
  classifier, the first fit (tracing); the median of ``--startups`` runs.
- ``demo``: the Overview's click, :mod:`benchmarks.demo_preset` (queue the
  shipped preset, start the detached runner with 2 workers, poll the store):
  seconds to the first stored round and to the end.

*Legacy* is the code before the speed-up, restored for the run by patching
:mod:`al_core.models`: ``keras.utils.set_random_seed`` before every fit (it
empties TensorFlow's kernel cache, so each fit re-instantiates the training,
evaluation and prediction functions), a compiled model of its own for every
classifier (traced anew per trial) and Keras' ``predict`` / ``evaluate``
(a ``tf.data`` pipeline, an epoch iterator and callbacks per call, retraced per
new row count; ``predict`` of the embedding model too, for the redundancy
measure). *Current* is :mod:`al_core.models` as it is.

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.demo_speed
--out benchmarks/out/demo_speed.json``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

PARTS = ("calls", "trial", "startup", "demo")
MODES = ("legacy", "current")


@contextlib.contextmanager
def legacy_calls() -> Iterator[None]:
    """Patch :mod:`al_core.models` back to the calls it made before issue 18."""
    import keras

    from al_core import models
    from al_core.models import classifier

    def predict_proba(self: Any, x: np.ndarray, *, batch_size: int = models.PREDICT_BATCH):
        if len(x) == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), np.float32)

    def evaluate(self: Any, x: np.ndarray, y: np.ndarray, *, batch_size=models.PREDICT_BATCH):
        loss, accuracy = self.model.evaluate(x, y, batch_size=batch_size, verbose=0)
        return float(accuracy), float(loss)

    def embed(self: Any, x: np.ndarray, *, batch_size: int = models.PREDICT_BATCH):
        if getattr(self, "_legacy_embedder", None) is None:
            layer = self.model.get_layer("embedding")
            self._legacy_embedder = keras.Model(self.model.inputs, layer.output)
        features = self._legacy_embedder.predict(x, batch_size=batch_size, verbose=0)
        return np.asarray(features, np.float32).reshape(len(x), -1)

    class Nothing(dict):  # no compiled model kept for the next classifier
        def setdefault(self, key: Any, default: Any = None) -> Any:
            return default

    cls = models.Classifier
    saved = (classifier.seed_fit, classifier._IDLE, cls.predict_proba, cls.evaluate, cls.embed)
    classifier.seed_fit = keras.utils.set_random_seed  # the names Classifier looks up
    classifier._IDLE = Nothing()
    cls.predict_proba, cls.evaluate, cls.embed = predict_proba, evaluate, embed
    try:
        yield
    finally:
        classifier.seed_fit, classifier._IDLE, cls.predict_proba, cls.evaluate, cls.embed = saved


def _mode(name: str) -> contextlib.AbstractContextManager[None]:
    return legacy_calls() if name == "legacy" else contextlib.nullcontext()


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _config(fraction: float) -> Any:
    from al_core.runner.presets import PRESETS

    return dataclasses.replace(PRESETS["demo"].base, fraction=fraction, seed=0)


def part_calls(repeats: int) -> dict[str, Any]:
    """Median seconds of each Classifier call, legacy and current."""
    from al_core import models
    from al_core.runner.trials import dataset_for

    config = _config(0.4)
    data = dataset_for(config)
    shape, k = data.x_pool.shape[1:], data.num_classes
    short = models.Classifier("cnn", shape, k, training=models.TrainingConfig(min_steps=25), seed=0)
    full = models.Classifier("cnn", shape, k, training=models.TrainingConfig(), seed=0)
    x, y = data.x_pool[:50], data.y_pool[:50]
    calls: dict[str, Callable[[], object]] = {
        "fit 25 steps": lambda: short.fit(x, y, fit_seed=1),
        "fit 300 steps": lambda: full.fit(x, y, fit_seed=1),
        "evaluate 360": lambda: full.evaluate(data.x_test, data.y_test),
        "predict 1000": lambda: full.predict_proba(data.x_pool[:1000]),
        "predict pool 1437": lambda: full.predict_proba(data.x_pool),
    }
    times: dict[str, dict[str, list[float]]] = {m: {c: [] for c in calls} for m in MODES}
    for mode in MODES:  # warm-up: trace everything once in both modes
        with _mode(mode):
            for call in calls.values():
                call()
    for _ in range(repeats):
        for mode in MODES:
            with _mode(mode):
                for name, call in calls.items():
                    if not name.startswith("fit"):  # a fit precedes it, as in a round
                        full.fit(x, y, fit_seed=1)
                    start = time.perf_counter()
                    call()
                    times[mode][name].append(time.perf_counter() - start)
    medians = {m: {c: _median(t) for c, t in times[m].items()} for m in MODES}
    for mode in MODES:
        m = medians[mode]
        per_step = (m["fit 300 steps"] - m["fit 25 steps"]) / 275
        m["fit: seconds per step"] = per_step
        m["fit: fixed seconds"] = m["fit 25 steps"] - 25 * per_step
    return {"medians": medians, "times": times}


def _stable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith("_seconds")}


def part_trial(trials: int, fraction: float) -> dict[str, Any]:
    """One demo trial, legacy and current alternating; phases per round; bit-for-bit check."""
    from al_core.loop import run_loop
    from al_core.runner.trials import dataset_for

    config = _config(fraction)
    data = dataset_for(config)
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for _ in range(trials):
        for mode in MODES:
            stamps: list[float] = []
            with _mode(mode):
                start = time.perf_counter()
                result = run_loop(
                    data, config, on_round=lambda r, s=stamps: s.append(time.perf_counter())
                )
            total = time.perf_counter() - start
            walls = np.diff([start, *stamps]).tolist()
            rounds = [r.to_dict() for r in result.rounds]
            runs[mode].append({"seconds": total, "round_walls": walls, "rounds": rounds})
            print(f"  {mode} trial: {total:.1f} s", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {}
    for mode in MODES:
        later = [r for run in runs[mode] for r in run["rounds"][1:]]
        summary[mode] = {
            "trial seconds": _median([run["seconds"] for run in runs[mode]]),
            "round 0 wall": _median([run["round_walls"][0] for run in runs[mode]]),
            "round 0 wall, last trial": runs[mode][-1]["round_walls"][0],
            "round 0 train": _median([run["rounds"][0]["train_seconds"] for run in runs[mode]]),
            "rounds 1+ wall": _median([w for run in runs[mode] for w in run["round_walls"][1:]]),
            "rounds 1+ train": _median([r["train_seconds"] for r in later]),
            "rounds 1+ eval": _median([r["eval_seconds"] for r in later]),
            "rounds 1+ score": _median([r["score_seconds"] for r in later if r["queried"]]),
        }
    reference = [_stable(r) for r in runs["legacy"][0]["rounds"]]
    identical = all(
        [_stable(r) for r in run["rounds"]] == reference for m in MODES for run in runs[m]
    )
    curve = [
        (r["labeled"], r["test_accuracy"], r["test_loss"]) for r in runs["current"][0]["rounds"]
    ]
    return {"summary": summary, "identical": identical, "curve": curve, "runs": runs}


_STARTUP_CHILD = """
import time
start = time.perf_counter()
from al_core import models
models.configure_runtime(1)
import keras  # noqa: F401
imported = time.perf_counter()
from benchmarks.demo_speed import _config
from al_core.runner.trials import dataset_for
config = _config(0.4)
data = dataset_for(config)
loaded = time.perf_counter()
classifier = models.Classifier(
    "cnn", data.x_pool.shape[1:], data.num_classes, training=models.TrainingConfig(), seed=0
)
built = time.perf_counter()
classifier.fit(data.x_pool[:20], data.y_pool[:20])
classifier.evaluate(data.x_test, data.y_test)
classifier.predict_proba(data.x_pool)
first = time.perf_counter()
classifier.fit(data.x_pool[:20], data.y_pool[:20])
classifier.evaluate(data.x_test, data.y_test)
classifier.predict_proba(data.x_pool)
second = time.perf_counter()
del classifier  # a worker's next trial: a new classifier, same configuration
classifier = models.Classifier(
    "cnn", data.x_pool.shape[1:], data.num_classes, training=models.TrainingConfig(), seed=1
)
classifier.fit(data.x_pool[:20], data.y_pool[:20])
classifier.evaluate(data.x_test, data.y_test)
classifier.predict_proba(data.x_pool)
third = time.perf_counter()
print({"import TensorFlow + Keras": imported - start, "load digits": loaded - imported,
       "build classifier": built - loaded, "first round's calls": first - built,
       "a later round's calls": second - first,
       "next trial: build + first round's calls": third - second})
"""


def part_startup(startups: int) -> dict[str, Any]:
    """A worker's start in a fresh interpreter, median of ``startups`` runs."""
    import ast

    samples: list[dict[str, float]] = []
    for _ in range(startups):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP_CHILD],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        sample = ast.literal_eval(out.stdout.strip().splitlines()[-1])
        sample["process, end to end"] = time.perf_counter() - start
        samples.append(sample)
    return {"medians": {k: _median([s[k] for s in samples]) for k in samples[0]}, "runs": samples}


def part_demo(out: Path | None) -> dict[str, Any]:
    """The Overview's click through :mod:`benchmarks.demo_preset`."""
    from benchmarks import demo_preset

    target = (out.parent if out else Path("benchmarks/out")) / "demo_speed_preset.json"
    code = demo_preset.main(["--out", str(target)])
    payload = json.loads(target.read_text())
    return {
        "first_point_seconds": payload["first_point_seconds"],
        "total_seconds": payload["total_seconds"],
        "trials": payload.get("trials"),
        "checks": payload["checks"],
        "exit": code,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--repeats", type=int, default=7, help="timings per call (calls)")
    parser.add_argument("--trials", type=int, default=2, help="trials per mode (trial)")
    parser.add_argument("--fraction", type=float, default=0.4)
    parser.add_argument("--startups", type=int, default=3, help="fresh interpreters (startup)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (calls, trial)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    args = parser.parse_args(argv)

    from al_core import models

    models.configure_runtime(args.threads)
    report: dict[str, Any] = {"argv": sys.argv[1:], "threads": args.threads}
    if "calls" in args.parts:
        report["calls"] = part_calls(args.repeats)
        print("\n| call (median s) | legacy | current |\n|---|---:|---:|")
        medians = report["calls"]["medians"]
        for name in medians["legacy"]:
            print(f"| {name} | {medians['legacy'][name]:.4f} | {medians['current'][name]:.4f} |")
    if "trial" in args.parts:
        report["trial"] = part_trial(args.trials, args.fraction)
        summary = report["trial"]["summary"]
        print("\n| demo trial (median s) | legacy | current |\n|---|---:|---:|")
        for name in summary["legacy"]:
            print(f"| {name} | {summary['legacy'][name]:.3f} | {summary['current'][name]:.3f} |")
        print(f"same rounds bit for bit (legacy vs current): {report['trial']['identical']}")
        print("curve (labels, accuracy, loss):", report["trial"]["curve"])
    if "startup" in args.parts:
        report["startup"] = part_startup(args.startups)
        print("\n| worker start (median s) | seconds |\n|---|---:|")
        for name, value in report["startup"]["medians"].items():
            print(f"| {name} | {value:.2f} |")
    if "demo" in args.parts:
        report["demo"] = part_demo(args.out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    identical = report.get("trial", {}).get("identical", True)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
