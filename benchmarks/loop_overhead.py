"""The loop's own overhead per round on MNIST (60k pool, seed CNN), measured in one run.

``run_loop`` runs a seed-CNN trial on the full MNIST pool (60,000 images, the
official 10,000-image test set), ``--initial`` labels plus ``--rounds`` batches
of ``--batch`` by margin, each fit sized by the training rule
(:func:`al_core.models.fit_steps`: ``max(--epochs passes, --min-steps)``
gradient steps of batch 32, rounded up to a multiple of
``STEPS_PER_EXECUTION``). From its ``on_round`` callback — so loop and bare
rounds alternate and share the same machine state — a *bare* round does the
same work with plain Keras calls on a separately built model of the same
architecture, as :meth:`al_core.models.Classifier.fit` does it: restore the
model's and the optimizer's initial variables (so every bare round, like every
loop round, trains from the same initial weights), reseed, then ``model.fit``
on a ``tf.data`` stream of as many random pool images as the loop had labels
(shuffled each pass, repeated, batches of 32) for the same number of steps in
one Keras epoch, compiled with the same ``steps_per_execution``;
``model.evaluate`` on the test set; and, where the loop scored the pool,
``model.predict`` on the whole pool (batch 2048, as the loop) plus an
``argpartition`` top-k of the margin.

A loop round's wall time runs from the end of the previous callback (or the
call of ``run_loop``) to its own callback, so it covers everything the loop
does — weight reset, labeled-set gathering, training, evaluation, the
stopping-advice prediction, pool scoring, selection, the oracle, the
queried-set accuracy, the redundancy measure, bookkeeping. Two figures:

- the ratio of the median loop round to the median bare round (target: ≤ 1.10);
- the loop's time *outside Keras*: the round's wall time minus the time spent
  inside the calls of ``al_core.models.Classifier`` (construction, ``fit``,
  ``evaluate``, ``predict_proba``, ``predict_mc``, ``embed`` — every Keras /
  TensorFlow call the loop makes), per round in seconds and as a share of the
  round. The calls are timed by wrapping those methods for the run (the real
  methods run); this figure does not depend on the bare reference.

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.loop_overhead
--out benchmarks/out/loop_overhead.json``
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TARGET_RATIO = 1.10
#: The methods of ``al_core.models.Classifier`` that run Keras / TensorFlow work.
CLASSIFIER_KERAS_METHODS = ("__init__", "fit", "evaluate", "predict_proba", "predict_mc", "embed")


def _margin_top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``probs`` (n, K) with the smallest top-2 margin."""
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    return np.argpartition(margin, k)[:k]


@contextlib.contextmanager
def timed_classifier_calls() -> Iterator[list[float]]:
    """Add up the wall time of every ``Classifier`` Keras call while the block runs.

    Yields a one-element list whose value grows by each call's seconds. The
    methods of :data:`CLASSIFIER_KERAS_METHODS` are wrapped (they still run)
    and restored on exit; none of them calls another, so nothing is counted twice.
    """
    from al_core.models import Classifier

    spent = [0.0]

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    originals = {name: Classifier.__dict__[name] for name in CLASSIFIER_KERAS_METHODS}
    for name, method in originals.items():
        setattr(Classifier, name, timed(method))
    try:
        yield spent
    finally:
        for name, method in originals.items():
            setattr(Classifier, name, method)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the interleaved loop / bare rounds; returns per-round timings (seconds)."""
    import keras

    from al_core.datasets import load_dataset
    from al_core.loop import RoundRecord, TrialConfig, run_loop
    from al_core.models import (
        PREDICT_BATCH,
        build_model,
        configure_runtime,
        repeated_batches,
    )

    configure_runtime(args.threads)
    dataset = load_dataset("mnist", pool_size=args.pool_size, seed=0)
    config = TrialConfig(
        dataset="mnist",
        pool_size=args.pool_size,
        model="cnn",
        strategy="margin",
        initial=args.initial,
        batch=args.batch,
        rounds=args.rounds,
        epochs=args.epochs,
        min_steps=args.min_steps,
        seed=0,
    )
    training = config.training()  # the loop's Classifier trains with exactly this
    bare_model = build_model(
        "cnn",
        dataset.image_shape,
        dataset.num_classes,
        seed=0,
        dropout=training.dropout,
        learning_rate=training.learning_rate,
        steps_per_execution=training.steps_per_execution,
    )
    bare_model.optimizer.build(bare_model.trainable_variables)
    initial_weights = [v.numpy() for v in bare_model.variables]
    initial_optimizer = [v.numpy() for v in bare_model.optimizer.variables]
    rng = np.random.default_rng(0)
    rounds: list[dict[str, Any]] = []

    def bare_round(labeled: int, score: bool, round_index: int) -> dict[str, float]:
        """The same work as one loop round, with plain Keras calls."""
        chosen = rng.choice(len(dataset.x_pool), size=labeled, replace=False)
        x, y = dataset.x_pool[chosen], dataset.y_pool[chosen]
        batch = min(training.batch_size, labeled)
        steps = training.steps_for(labeled)
        start = time.perf_counter()
        # From the same initial weights every round, as the loop's Classifier.
        for variable, value in zip(bare_model.variables, initial_weights, strict=True):
            variable.assign(value)
        for variable, value in zip(bare_model.optimizer.variables, initial_optimizer, strict=True):
            variable.assign(value)
        keras.utils.set_random_seed(round_index)
        stream = repeated_batches(x, y, batch, round_index)  # the loop's own input stream
        bare_model.fit(stream, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
        fitted = time.perf_counter()
        bare_model.evaluate(dataset.x_test, dataset.y_test, batch_size=PREDICT_BATCH, verbose=0)
        evaluated = time.perf_counter()
        if score:
            probs = bare_model.predict(dataset.x_pool, batch_size=PREDICT_BATCH, verbose=0)
            _margin_top_k(probs, args.batch)
        end = time.perf_counter()
        return {
            "steps": steps,
            "fit": fitted - start,
            "evaluate": evaluated - fitted,
            "predict": end - evaluated,
            "total": end - start,
        }

    with timed_classifier_calls() as keras_spent:
        mark = time.perf_counter()
        keras_mark = keras_spent[0]

        def on_round(record: RoundRecord) -> None:
            nonlocal mark, keras_mark
            loop_wall = time.perf_counter() - mark
            loop_keras = keras_spent[0] - keras_mark
            outside = loop_wall - loop_keras
            bare = bare_round(record.labeled, score=bool(record.queried), round_index=record.round)
            rounds.append(
                {
                    "round": record.round,
                    "labeled": record.labeled,
                    "scored": bool(record.queried),
                    "loop_steps": record.steps,
                    "loop_wall": loop_wall,
                    "loop_keras": loop_keras,
                    "loop_outside_keras": outside,
                    "loop_train": record.train_seconds,
                    "loop_eval": record.eval_seconds,
                    "loop_score": record.score_seconds,
                    "bare": bare,
                }
            )
            print(
                f"round {record.round}: {record.labeled} labels, {record.steps} steps; loop "
                f"{loop_wall:.2f} s (train {record.train_seconds:.2f}, eval "
                f"{record.eval_seconds:.2f}, score {record.score_seconds:.2f}; outside Keras "
                f"{outside:.3f} s = {outside / loop_wall:.1%}), bare {bare['total']:.2f} s "
                f"({bare['steps']} steps: fit {bare['fit']:.2f}, evaluate "
                f"{bare['evaluate']:.2f}, predict {bare['predict']:.2f})",
                flush=True,
            )
            mark = time.perf_counter()
            keras_mark = keras_spent[0]

        run_loop(dataset, config, on_round=on_round)
    return {"config": config.to_dict(), "pool": len(dataset.x_pool), "rounds": rounds}


def summarize(measured: dict[str, Any]) -> dict[str, float]:
    """Medians over the rounds that scored the pool: the loop/bare ratio and the
    loop's time outside Keras (seconds and share of the round)."""
    full = [r for r in measured["rounds"] if r["scored"]]
    loop = statistics.median(r["loop_wall"] for r in full)
    bare = statistics.median(r["bare"]["total"] for r in full)
    per_round_ratios = [r["loop_wall"] / r["bare"]["total"] for r in full]
    outside = [r["loop_wall"] - r["loop_keras"] for r in full]
    shares = [(r["loop_wall"] - r["loop_keras"]) / r["loop_wall"] for r in full]
    return {
        "rounds": len(full),
        "loop_median_s": loop,
        "bare_median_s": bare,
        "ratio_of_medians": loop / bare,
        "median_of_ratios": statistics.median(per_round_ratios),
        "total_ratio": sum(r["loop_wall"] for r in full) / sum(r["bare"]["total"] for r in full),
        "outside_keras_median_s": statistics.median(outside),
        "outside_keras_max_s": max(outside),
        "outside_keras_share_median": statistics.median(shares),
        "outside_keras_share_max": max(shares),
    }


def markdown_table(measured: dict[str, Any], summary: dict[str, float]) -> str:
    """Per-round timings and the summary lines."""
    lines = [
        "| Round | Labels | Steps | Loop wall (s) | Loop train / eval / score (s) "
        "| Outside Keras (s, share) | Bare total (s) | Bare fit / evaluate / predict (s) "
        "| Ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in measured["rounds"]:
        b = r["bare"]
        lines.append(
            f"| {r['round']} | {r['labeled']} | {r['loop_steps']} | {r['loop_wall']:.2f} | "
            f"{r['loop_train']:.2f} / {r['loop_eval']:.2f} / {r['loop_score']:.2f} | "
            f"{r['loop_outside_keras']:.3f} ({r['loop_outside_keras'] / r['loop_wall']:.1%}) | "
            f"{b['total']:.2f} | {b['fit']:.2f} / {b['evaluate']:.2f} / {b['predict']:.2f} | "
            f"{r['loop_wall'] / b['total']:.3f} |"
        )
    verdict = "within" if summary["ratio_of_medians"] <= TARGET_RATIO else "OVER"
    lines += [
        "",
        f"Median over the {summary['rounds']} rounds that scored the pool: loop "
        f"{summary['loop_median_s']:.2f} s vs bare {summary['bare_median_s']:.2f} s, "
        f"ratio {summary['ratio_of_medians']:.3f} (median of per-round ratios "
        f"{summary['median_of_ratios']:.3f}; total {summary['total_ratio']:.3f}) — "
        f"{verdict} the {TARGET_RATIO:.2f} target.",
        f"Loop time outside Keras (wall minus every Classifier call) in those rounds: median "
        f"{summary['outside_keras_median_s']:.3f} s = "
        f"{summary['outside_keras_share_median']:.1%} of the round (at most "
        f"{summary['outside_keras_max_s']:.3f} s, {summary['outside_keras_share_max']:.1%}).",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loop_overhead",
        description="Per-round overhead of al_core's loop over bare Keras fit/evaluate/predict "
        "on MNIST with the seed CNN, loop and bare rounds alternating in one run, and the "
        "loop's time outside Keras calls.",
    )
    parser.add_argument("--pool-size", type=int, default=None, help="pool size (default: 60,000)")
    parser.add_argument("--initial", type=int, default=1000, help="initial labels (default 1000)")
    parser.add_argument("--batch", type=int, default=1000, help="labels per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="acquisition rounds (default 5)")
    parser.add_argument(
        "--epochs", type=int, default=3, help="passes over the labeled set per fit (default 3)"
    )
    parser.add_argument(
        "--min-steps",
        type=int,
        default=None,
        help="gradient-step floor per fit (default: the CNN's, 300)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="TensorFlow threads (default: one per core)"
    )
    parser.add_argument("--out", type=Path, help="write the timings as JSON to this file")
    args = parser.parse_args(argv)
    for name in ("initial", "batch", "rounds", "epochs", "min_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    measured = measure(args)
    summary = summarize(measured)
    wall = time.perf_counter() - start
    print(markdown_table(measured, summary))
    print(f"\nWall time: {wall:.0f} s.")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"summary": summary, "wall_seconds": wall, **measured}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
