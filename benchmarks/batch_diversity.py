"""Batches that are diverse where it matters: Repeated MNIST vs plain MNIST.

The BatchBALD paper's situation (Kirsch, van Amersfoort & Gal, 2019), through the
one loop (``al_core.loop.run_loop``):

- data: ``plain`` is MNIST with a ``--pool-size`` stratified pool (10,000 by
  default); ``repeated`` is a pool of ``--pool-size / 3`` images, each repeated 3
  times with Gaussian pixel noise of standard deviation 0.1, clipped to [0, 1]
  (``TrialConfig(repeat=3, repeat_noise=0.1)``), so both pools have the same
  number of rows; test accuracy on a fixed stratified ``--test-size`` subset;
- 20 class-balanced initial labels, batches of 10, stop at 95 % test accuracy or
  at ``--max-labels``;
- model: the 2-conv CNN with dropout 0.5, ``--epochs`` per round from the same
  initial weights; every strategy scores the same kind of random candidate subset
  (``--candidates``; 0 scores the whole unlabeled pool);
- strategies: random, margin (top-k), BALD top-k, BatchBALD and the hybrid
  (margin short-list of 100, k-center on the penultimate layer); BALD and
  BatchBALD use ``--mc-samples`` Monte-Carlo dropout passes;
- per round: the redundancy (queried images that are near-copies of a labeled or
  earlier-queried one: same source image, or embedding cosine >= 0.99) and the
  selection time (``score_seconds``: predicting / MC passes plus the choice), and
  a logistic regression's test accuracy on the same labeled set (the table gives
  the network's gap to it at each trial's last round: below 0, it is undertrained).

``--timing`` measures the BatchBALD selection goal on its own: a CNN trained on 20
labels, ``--mc-samples`` passes over a 10,000-image pool, then a batch of 10,
timed separately (MC passes, BatchBALD's choice, BALD top-k for reference). The
consistent MC passes (one network per pass, the layers before the first dropout run
once) are timed beside Keras' per-example dropout (``training=True``, every layer
every pass), the way the passes were computed before.

``--dataset digits`` runs the same protocol on the embedded 8x8 digits (whole pool
of 1,437 images, x3 when repeated; the 360-image test split), as the app's
``repeated-digits`` preset does; give it its own ``--out``.

Results are appended trial by trial to ``--out`` (JSON), so an interrupted run
resumes; ``--report`` prints the tables from that file without training.
Labels-to-target is interpolated between the last round below and the first
at/above the target; a trial that hit the cap first counts as "more than the cap".

Run (hours on 2 cores): ``source scripts/setup.sh && .venv/bin/python -m
benchmarks.batch_diversity --seeds 0 1 2 --jobs 2
--out benchmarks/out/batch_diversity.json``; the selection-time goal:
``.venv/bin/python -m benchmarks.batch_diversity --timing``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.label_efficiency import (
    add_training_arguments,
    checkpoint_table,
    load_results,
    run_trials,
)

if TYPE_CHECKING:
    from al_core.datasets import Dataset
    from al_core.loop import LoopResult, TrialConfig

TARGETS: tuple[float, ...] = (0.90, 0.95)
STRATEGIES: tuple[str, ...] = ("random", "margin", "bald", "batchbald", "hybrid")
POOLS: tuple[str, ...] = ("repeated", "plain")
REPEATS, REPEAT_NOISE = 3, 0.1
HYBRID_TOP_M = 100


def trial_config(
    pool: str,
    strategy: str,
    seed: int,
    *,
    dataset: str = "mnist",
    pool_size: int,
    test_size: int | None,
    max_labels: int,
    candidates: int | None,
    mc_samples: int,
    epochs: int | None,
    min_steps: int | None = None,
):  # -> TrialConfig
    """The loop config of one (pool, strategy, seed) trial. The embedded digits use
    their whole pool (1,437 images) and test split (360): ``pool_size`` and
    ``test_size`` are for MNIST."""
    from al_core.loop import TrialConfig

    repeated = pool == "repeated"
    digits = dataset == "digits"
    return TrialConfig(
        dataset=dataset,
        pool_size=None if digits else pool_size // REPEATS if repeated else pool_size,
        test_size=None if digits else test_size,
        repeat=REPEATS if repeated else 1,
        repeat_noise=REPEAT_NOISE if repeated else 0.0,
        model="cnn",
        dropout=0.5,
        strategy=strategy,
        fraction=1.0,
        initial=20,
        initial_mode="balanced",
        batch=10,
        budget=max_labels,
        target=max(TARGETS),
        stop_at_target=True,
        epochs=epochs,
        min_steps=min_steps,
        candidates=candidates,
        mc_samples=mc_samples,
        hybrid_top_m=HYBRID_TOP_M,
        agreement_size=0,
        seed=seed,
    )


def _run_trial(config_dict: dict[str, Any], threads: int) -> dict[str, Any]:
    """Worker: run one trial; return its curve, redundancy and timings per round."""
    from al_core import metrics, models
    from al_core.loop import TrialConfig, run_loop
    from al_core.runner import dataset_for

    models.configure_runtime(threads)
    config = TrialConfig.from_dict(config_dict)
    start = time.perf_counter()
    dataset = dataset_for(config)
    result = run_loop(dataset, config)
    seconds = time.perf_counter() - start
    labeled, accuracy = result.curve()
    queried = [r for r in result.rounds if r.queried]
    return {
        "pool": "repeated" if config.repeat > 1 else "plain",
        "strategy": config.strategy,
        "seed": config.seed,
        "config": config.to_dict(),
        "labeled": labeled.tolist(),
        "accuracy": accuracy.tolist(),
        "stop_reason": result.stop_reason,
        "labels_to_target": {
            f"{t:.2f}": (
                lt.labels
                if (lt := metrics.labels_to_target(labeled, accuracy, t)).reached
                else None
            )
            for t in TARGETS
        },  # fmt: skip
        "redundant": [r.redundant for r in queried],
        "score_seconds": [r.score_seconds for r in queried],
        "logreg_accuracy": logistic_curve(dataset, config, result),
        "seconds": seconds,
    }


def logistic_curve(dataset: Dataset, config: TrialConfig, result: LoopResult) -> list[float]:
    """Test accuracy of a logistic regression on each active round's labeled set.

    The same labels the network trained on (the initial set, then each round's
    queried images), one value per point of ``result.curve()``: a network below it
    is undertrained, and the curve says more about training than about the strategy.
    """
    from al_core.loop import initial_indices
    from benchmarks.training_sanity import logistic_accuracy

    labeled = list(initial_indices(config, dataset.y_pool, dataset.x_pool))
    accuracies = []
    for record in result.rounds:
        if record.phase != "active":
            continue
        if len(labeled) != record.labeled:  # the loop labels exactly what it queried
            raise RuntimeError(f"round {record.round}: {len(labeled)} != {record.labeled} labels")
        x, y = dataset.x_pool[labeled], dataset.y_pool[labeled]
        accuracies.append(logistic_accuracy(x, y, dataset.x_test, dataset.y_test))
        labeled.extend(record.queried)
    return accuracies


def summarize(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (pool, strategy): median labels to each target (None: a median
    seed never reached it within the cap), redundancy, selection time and the
    network's median gap to a logistic regression on its last labeled set (points;
    None for results recorded before the baseline was)."""
    rows = []
    for pool in POOLS:
        for strategy in STRATEGIES:
            mine = [t for t in trials if t["pool"] == pool and t["strategy"] == strategy]
            if not mine:
                continue
            cap = max(t["config"]["budget"] for t in mine)
            medians = {}
            for target in TARGETS:
                values = [t["labels_to_target"][f"{target:.2f}"] for t in mine]
                median = float(np.median([np.inf if v is None else v for v in values]))
                medians[target] = None if np.isinf(median) else median
            redundant = [v for t in mine for v in t["redundant"]]
            queried = sum(len(t["redundant"]) for t in mine) * mine[0]["config"]["batch"]
            times = [s for t in mine for s in t["score_seconds"]]
            # The network against a logistic regression on its final labeled set (points).
            gaps = [
                100 * (t["accuracy"][-1] - t["logreg_accuracy"][-1])
                for t in mine
                if t.get("logreg_accuracy")
            ]
            rows.append(
                {
                    "pool": pool,
                    "strategy": strategy,
                    "seeds": sorted(t["seed"] for t in mine),
                    "cap": cap,
                    "medians": medians,
                    "redundant_per_round": float(np.mean(redundant)) if redundant else None,
                    "redundant_share": sum(redundant) / queried if queried else None,
                    "select_median_s": float(np.median(times)) if times else None,
                    "gap_to_logreg": float(np.median(gaps)) if gaps else None,
                }
            )
    return rows


def report(data: dict[str, Any]) -> None:
    """Print the markdown table of ``data`` (a ``--out`` file's content)."""
    rows = summarize(list(data["trials"].values()))
    heads = " | ".join(f"labels to {t:.0%}" for t in TARGETS)
    print(
        f"| pool | strategy | seeds | {heads} | redundant / round | share | select s "
        "| net − logreg, final labels (pts) |"
    )
    print("|---|---|---|" + "---|" * len(TARGETS) + "---|---|---|---|")
    for row in rows:
        cells = [
            f"> {row['cap']}" if row["medians"][t] is None else f"{row['medians'][t]:.0f}"
            for t in TARGETS
        ]
        per_round = row["redundant_per_round"]
        share = row["redundant_share"]
        seconds = row["select_median_s"]
        gap = row["gap_to_logreg"]
        print(
            f"| {row['pool']} | {row['strategy']} | {len(row['seeds'])} | {' | '.join(cells)} | "
            f"{'—' if per_round is None else f'{per_round:.2f}'} | "
            f"{'—' if share is None else f'{share:.0%}'} | "
            f"{'—' if seconds is None else f'{seconds:.1f}'} | "
            f"{'—' if gap is None else f'{gap:+.1f}'} |"
        )
    for pool in POOLS:
        trials = [t for t in data["trials"].values() if t["pool"] == pool]
        if not trials:
            continue
        points = list(range(20, 1 + max(max(t["labeled"]) for t in trials), 40))
        table = checkpoint_table(trials, points, STRATEGIES)
        print(f"\n{pool} pool, median test accuracy over seeds:\n")
        print("| labels | " + " | ".join(table) + " |")
        print("|---|" + "---|" * len(table))
        for i, point in enumerate(points):
            cells = ["—" if v[i] is None else f"{v[i]:.3f}" for v in table.values()]
            print(f"| {point} | " + " | ".join(cells) + " |")


def _per_example_mc_seconds(classifier: Any, x: np.ndarray, passes: int) -> float:
    """Seconds for ``passes`` Keras forward passes with ``training=True`` over ``x``: the
    per-example-mask Monte-Carlo dropout the app used before (the reference)."""
    import tensorflow as tf

    from al_core.models import PREDICT_BATCH

    forward = tf.function(
        lambda batch: classifier.model(batch, training=True), reduce_retracing=True
    )
    forward(x[:PREDICT_BATCH])  # trace outside the timing
    start = time.perf_counter()
    for _ in range(passes):
        for first in range(0, len(x), PREDICT_BATCH):
            forward(x[first : first + PREDICT_BATCH]).numpy()
    return time.perf_counter() - start


def timing(pool_size: int, mc_samples: int, epochs: int, threads: int) -> dict[str, float]:
    """The selection-time goal: a batch of 10 from ``pool_size`` images, ``mc_samples``
    MC passes, a CNN trained on 20 balanced labels. Returns seconds per step."""
    from al_core import models, strategies
    from al_core.datasets import load_dataset
    from al_core.loop import TrialConfig, initial_indices

    models.configure_runtime(threads)
    data = load_dataset("mnist", pool_size=pool_size, test_size=1000, seed=0)
    config = TrialConfig(dataset="mnist", model="cnn", dropout=0.5, initial=20,
                         initial_mode="balanced", epochs=epochs, seed=0)  # fmt: skip
    first = initial_indices(config, data.y_pool)
    classifier = models.Classifier("cnn", data.image_shape, data.num_classes,
                                   training=config.training(), seed=0)  # fmt: skip
    classifier.fit(data.x_pool[first], data.y_pool[first], fit_seed=0)
    rest = np.setdiff1d(np.arange(len(data.x_pool)), first)
    classifier.predict_mc(data.x_pool[rest[:256]], mc_samples)  # trace outside the timing
    start = time.perf_counter()
    mc = classifier.predict_mc(data.x_pool[rest], mc_samples)
    mc_seconds = time.perf_counter() - start
    per_example_seconds = _per_example_mc_seconds(classifier, data.x_pool[rest], mc_samples)
    start = time.perf_counter()
    picks, gains = strategies.batchbald(mc, 10, rng=np.random.default_rng(0))
    batchbald_seconds = time.perf_counter() - start
    start = time.perf_counter()
    strategies.top_k(strategies.bald(mc), 10)
    bald_seconds = time.perf_counter() - start
    return {
        "pool": float(len(rest)),
        "mc_passes_s": mc_seconds,
        "mc_passes_per_example_masks_s": per_example_seconds,
        "batchbald_select_s": batchbald_seconds,
        "bald_topk_s": bald_seconds,
        "batch_information_nats": float(gains.sum()),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pools", nargs="+", default=list(POOLS), choices=POOLS)
    parser.add_argument(
        "--dataset",
        default="mnist",
        choices=("mnist", "digits"),
        help="mnist (default) or the embedded 8x8 digits (whole pool and test split)",
    )
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--pool-size", type=int, default=10_000, help="pool rows (10,000)")
    parser.add_argument("--test-size", type=int, default=2000, help="0: all 10,000")
    parser.add_argument("--max-labels", type=int, default=600, help="label cap per trial")
    parser.add_argument("--candidates", type=int, default=2000, help="0: the whole pool")
    parser.add_argument("--mc-samples", type=int, default=20)
    add_training_arguments(parser)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/batch_diversity.json"))
    parser.add_argument("--report", action="store_true", help="only report --out")
    parser.add_argument("--timing", action="store_true", help="only the selection-time goal")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds must be distinct")
    if args.pool_size < 3 * 20 or args.max_labels <= 20 or args.jobs < 1:
        parser.error("--pool-size must be >= 60, --max-labels > 20 and --jobs >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.timing:
        result = timing(args.pool_size, args.mc_samples, args.epochs, os.cpu_count() or 1)
        print(json.dumps(result, indent=1))
        return 0
    data = load_results(args.out)
    if not args.report:
        todo = []
        for seed in args.seeds:  # seed-major: every configuration gets seed 0 first
            for pool in args.pools:
                for strategy in args.strategies:
                    config = trial_config(
                        pool,
                        strategy,
                        seed,
                        dataset=args.dataset,
                        pool_size=args.pool_size,
                        test_size=args.test_size or None,
                        max_labels=args.max_labels,
                        candidates=args.candidates or None,
                        mc_samples=args.mc_samples,
                        epochs=args.epochs,
                        min_steps=args.min_steps,
                    )
                    key = f"{pool}/{strategy}/{seed}"
                    done = data["trials"].get(key)
                    if done is None or done["config"] != config.to_dict():
                        todo.append((key, config.to_dict()))
        run_trials(
            todo, _run_trial, jobs=args.jobs, data=data, out=args.out,
            describe=lambda r: f"labels to target {r['labels_to_target']}, redundant "
            f"{r['redundant']} ({r['stop_reason']}, {r['seconds']:.0f} s)",
        )  # fmt: skip
    if data["trials"]:
        report(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
