"""The loop's own overhead per round on MNIST (60k pool, seed CNN), measured in one run.

``run_loop`` runs a seed-CNN trial on the full MNIST pool (60,000 images, the
official 10,000-image test set), fixed epochs, ``--initial`` labels plus
``--rounds`` batches of ``--batch`` by margin. From its ``on_round`` callback —
so loop and bare rounds alternate and share the same machine state — a *bare*
round does the same work with plain Keras calls on a separately built model of
the same architecture: ``model.fit`` on as many random pool images as the loop
had labels (same epochs, training batch 32), ``model.evaluate`` on the test set,
and, where the loop scored the pool, ``model.predict`` on the whole pool
(batch 2048, as the loop) plus an ``argpartition`` top-k of the margin.

A loop round's wall time runs from the end of the previous callback (or the
call of ``run_loop``) to its own callback, so it covers everything the loop
does — weight reset, labeled-set gathering, training, evaluation, pool
scoring, selection, the oracle, the queried-set accuracy, bookkeeping. The
ratio of the median loop round to the median bare round is the loop's
overhead (target: ≤ 1.10).

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.loop_overhead
--out benchmarks/out/loop_overhead.json``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TARGET_RATIO = 1.10


def _margin_top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``probs`` (n, K) with the smallest top-2 margin."""
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    return np.argpartition(margin, k)[:k]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the interleaved loop / bare rounds; returns per-round timings (seconds)."""
    from al_core.datasets import load_dataset
    from al_core.loop import RoundRecord, TrialConfig, run_loop
    from al_core.models import PREDICT_BATCH, build_model, configure_runtime

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
        seed=0,
    )
    bare_model = build_model("cnn", dataset.image_shape, dataset.num_classes, seed=0)
    rng = np.random.default_rng(0)
    rounds: list[dict[str, Any]] = []

    def bare_round(labeled: int, score: bool) -> dict[str, float]:
        """The same work as one loop round, with plain Keras calls."""
        chosen = rng.choice(len(dataset.x_pool), size=labeled, replace=False)
        start = time.perf_counter()
        bare_model.fit(
            dataset.x_pool[chosen],
            dataset.y_pool[chosen],
            epochs=args.epochs,
            batch_size=config.train_batch_size,
            shuffle=True,
            verbose=0,
        )
        fitted = time.perf_counter()
        bare_model.evaluate(dataset.x_test, dataset.y_test, batch_size=PREDICT_BATCH, verbose=0)
        evaluated = time.perf_counter()
        if score:
            probs = bare_model.predict(dataset.x_pool, batch_size=PREDICT_BATCH, verbose=0)
            _margin_top_k(probs, args.batch)
        end = time.perf_counter()
        return {
            "fit": fitted - start,
            "evaluate": evaluated - fitted,
            "predict": end - evaluated,
            "total": end - start,
        }

    mark = time.perf_counter()

    def on_round(record: RoundRecord) -> None:
        nonlocal mark
        loop_wall = time.perf_counter() - mark
        bare = bare_round(record.labeled, score=bool(record.queried))
        rounds.append(
            {
                "round": record.round,
                "labeled": record.labeled,
                "scored": bool(record.queried),
                "loop_wall": loop_wall,
                "loop_train": record.train_seconds,
                "loop_eval": record.eval_seconds,
                "loop_score": record.score_seconds,
                "bare": bare,
            }
        )
        print(
            f"round {record.round}: {record.labeled} labels, loop {loop_wall:.2f} s "
            f"(train {record.train_seconds:.2f}, eval {record.eval_seconds:.2f}, "
            f"score {record.score_seconds:.2f}), bare {bare['total']:.2f} s "
            f"(fit {bare['fit']:.2f}, evaluate {bare['evaluate']:.2f}, "
            f"predict {bare['predict']:.2f})",
            flush=True,
        )
        mark = time.perf_counter()

    run_loop(dataset, config, on_round=on_round)
    return {"config": config.to_dict(), "pool": len(dataset.x_pool), "rounds": rounds}


def summarize(measured: dict[str, Any]) -> dict[str, float]:
    """Medians over the rounds that scored the pool, and the loop/bare ratio."""
    full = [r for r in measured["rounds"] if r["scored"]]
    loop = statistics.median(r["loop_wall"] for r in full)
    bare = statistics.median(r["bare"]["total"] for r in full)
    per_round_ratios = [r["loop_wall"] / r["bare"]["total"] for r in full]
    return {
        "rounds": len(full),
        "loop_median_s": loop,
        "bare_median_s": bare,
        "ratio_of_medians": loop / bare,
        "median_of_ratios": statistics.median(per_round_ratios),
        "total_ratio": sum(r["loop_wall"] for r in full) / sum(r["bare"]["total"] for r in full),
    }


def markdown_table(measured: dict[str, Any], summary: dict[str, float]) -> str:
    """Per-round timings and the summary line."""
    lines = [
        "| Round | Labels | Loop wall (s) | Loop train / eval / score (s) "
        "| Bare total (s) | Bare fit / evaluate / predict (s) | Ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in measured["rounds"]:
        b = r["bare"]
        lines.append(
            f"| {r['round']} | {r['labeled']} | {r['loop_wall']:.2f} | "
            f"{r['loop_train']:.2f} / {r['loop_eval']:.2f} / {r['loop_score']:.2f} | "
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
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loop_overhead",
        description="Per-round overhead of al_core's loop over bare Keras fit/evaluate/predict "
        "on MNIST with the seed CNN, loop and bare rounds alternating in one run.",
    )
    parser.add_argument("--pool-size", type=int, default=None, help="pool size (default: 60,000)")
    parser.add_argument("--initial", type=int, default=1000, help="initial labels (default 1000)")
    parser.add_argument("--batch", type=int, default=1000, help="labels per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="acquisition rounds (default 5)")
    parser.add_argument("--epochs", type=int, default=3, help="fixed epochs per fit (default 3)")
    parser.add_argument(
        "--threads", type=int, default=None, help="TensorFlow threads (default: one per core)"
    )
    parser.add_argument("--out", type=Path, help="write the timings as JSON to this file")
    args = parser.parse_args(argv)
    for name in ("initial", "batch", "rounds", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
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
