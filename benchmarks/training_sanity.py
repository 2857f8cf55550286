"""Training sanity: every network against scikit-learn's LogisticRegression on the same labels.

A learning curve is only as good as the model behind it. For each data set,
labeled-set size and seed, the same random labels (uniform over the pool,
drawn with the seed) train

- each network (``cnn``, ``mlp``, ``softmax``) with its default training
  (``al_core.models.TrainingConfig()``: the rule and per-model defaults the
  loop and labeling sessions use), through :class:`al_core.models.Classifier`;
- ``LogisticRegression(C=10, max_iter=5000)`` on the flattened pixels,

and both are scored on the same test set. Goal (issue 10): every network within
2 points of the logistic regression or above it at every size from 50 labels,
and the CNN clearly above it on MNIST and Fashion-MNIST from 100 labels.

Prints one markdown table per data set (mean ± std over seeds, the network's
gap to the logistic regression, gradient steps and fit seconds) and a goal
check; ``--out`` writes every measurement as JSON.

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.training_sanity
--out benchmarks/out/training_sanity.json``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATASETS = ("digits", "mnist", "fashion_mnist")
MODELS = ("cnn", "mlp", "softmax")
SIZES = (20, 50, 100, 200, 500)
#: MNIST and Fashion-MNIST pools are subsampled to this many images (stratified).
POOL_SIZE = 10_000
#: A network this many points below the logistic regression fails the goal.
TOLERANCE = 0.02
#: From this many labels on, networks are held to the goal.
GOAL_FROM = 50
#: From this many labels on, the CNN must beat the logistic regression on 28×28 sets.
CNN_ABOVE_FROM = 100


def logistic_accuracy(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Test accuracy of ``LogisticRegression(C=10)`` on the flattened pixels: the
    linear baseline a network on the same labels ``(n, H, W, C)`` / ``(n,)`` must beat."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0, max_iter=5000)
    model.fit(x.reshape(len(x), -1), y)
    return float(model.score(x_test.reshape(len(x_test), -1), y_test))


def measure(
    dataset_name: str,
    models: tuple[str, ...],
    sizes: tuple[int, ...],
    seeds: tuple[int, ...],
    test_size: int | None,
) -> list[dict[str, Any]]:
    """One row per (model or "logreg", size, seed): accuracy, steps, seconds."""
    from al_core.datasets import load_dataset
    from al_core.models import Classifier, TrainingConfig

    pool_size = None if dataset_name == "digits" else POOL_SIZE
    dataset = load_dataset(dataset_name, pool_size=pool_size, test_size=test_size)
    print(dataset.describe(), file=sys.stderr, flush=True)
    classifiers = {
        name: Classifier(
            name, dataset.image_shape, dataset.num_classes, training=TrainingConfig(), seed=0
        )
        for name in models
    }
    rows = []
    for size in sizes:
        for seed in seeds:
            rng = np.random.default_rng(np.random.SeedSequence([seed, size]))
            chosen = rng.choice(len(dataset.x_pool), size=size, replace=False)
            x, y = dataset.x_pool[chosen], dataset.y_pool[chosen]
            start = time.perf_counter()
            accuracy = logistic_accuracy(x, y, dataset.x_test, dataset.y_test)
            rows.append(
                {
                    "dataset": dataset_name,
                    "model": "logreg",
                    "size": size,
                    "seed": seed,
                    "accuracy": accuracy,
                    "steps": None,
                    "seconds": time.perf_counter() - start,
                }
            )
            for name, classifier in classifiers.items():
                fit = classifier.fit(x, y, fit_seed=seed)
                accuracy, _ = classifier.evaluate(dataset.x_test, dataset.y_test)
                rows.append(
                    {
                        "dataset": dataset_name,
                        "model": name,
                        "size": size,
                        "seed": seed,
                        "accuracy": accuracy,
                        "steps": fit.steps,
                        "seconds": fit.seconds,
                    }
                )
            print(
                f"{dataset_name} n={size} seed={seed}: "
                + ", ".join(f"{r['model']} {r['accuracy']:.3f}" for r in rows[-len(models) - 1 :]),
                file=sys.stderr,
                flush=True,
            )
    return rows


def _accuracies(rows: list[dict[str, Any]], model: str, size: int) -> np.ndarray:
    return np.array([r["accuracy"] for r in rows if r["model"] == model and r["size"] == size])


def summarize(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """A markdown table per data set and the list of goal failures (empty: goal met)."""
    lines, failures = [], []
    for dataset_name in dict.fromkeys(r["dataset"] for r in rows):
        subset = [r for r in rows if r["dataset"] == dataset_name]
        models = [m for m in dict.fromkeys(r["model"] for r in subset) if m != "logreg"]
        sizes = sorted({r["size"] for r in subset})
        lines += [
            f"\n**{dataset_name}** (test accuracy %, mean ± std over seeds; Δ vs logistic "
            "regression in points; steps per fit; median fit seconds)\n",
            "| labels | logreg | " + " | ".join(models) + " |",
            "|---:|---:|" + "---:|" * len(models),
        ]
        for size in sizes:
            base = _accuracies(subset, "logreg", size)
            cells = [f"{100 * base.mean():.1f} ± {100 * base.std():.1f}"]
            for model in models:
                acc = _accuracies(subset, model, size)
                gap = 100 * (acc.mean() - base.mean())
                picked = [r for r in subset if r["model"] == model and r["size"] == size]
                seconds = float(np.median([r["seconds"] for r in picked]))
                cells.append(
                    f"{100 * acc.mean():.1f} ± {100 * acc.std():.1f} (Δ {gap:+.1f}; "
                    f"{picked[0]['steps']} steps, {seconds:.1f} s)"
                )
                if size >= GOAL_FROM and gap < -100 * TOLERANCE:
                    failures.append(f"{dataset_name} {model} at {size}: {gap:+.1f} points")
                if (
                    model == "cnn"
                    and dataset_name != "digits"
                    and size >= CNN_ABOVE_FROM
                    and gap <= 0
                ):
                    failures.append(f"{dataset_name} cnn at {size} not above logreg ({gap:+.1f})")
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--test-size", type=int, help="stratified test subset (default: the whole test split)"
    )
    parser.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    parser.add_argument("--out", type=Path, help="write every measurement as JSON")
    args = parser.parse_args(argv)

    from al_core.models import MODEL_DEFAULTS, configure_runtime

    configure_runtime(args.threads)
    start = time.perf_counter()
    rows = []
    for name in args.datasets:
        rows += measure(name, tuple(args.models), tuple(args.sizes), tuple(args.seeds),
                        args.test_size)  # fmt: skip
    table, failures = summarize(rows)
    print(table)
    defaults = {name: vars(d) for name, d in MODEL_DEFAULTS.items()}
    print(f"\ntraining defaults: {defaults}")
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    print("goal met" if not failures else "goal missed: " + "; ".join(failures))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"rows": rows, "defaults": defaults, "failures": failures}
        args.out.write_text(json.dumps(payload, indent=1))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
