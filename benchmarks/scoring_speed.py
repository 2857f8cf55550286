"""Selection time of every strategy on a 60k MNIST pool, next to the model's prediction time.

Set-up: the seed CNN with dropout 0.5 (``model="cnn"``) is trained for
:data:`EPOCHS` epochs on :data:`LABELED` random MNIST training images; then, on
the full 60,000-image pool, we time (once each) what the model must compute:

- ``predict``: class probabilities, ``Classifier.predict_proba`` (60k, 10);
- ``mc``: ``--mc-samples`` Monte-Carlo dropout passes, ``Classifier.predict_mc``;
- ``embed``: the penultimate layer, ``Classifier.embed`` (60k, 128).

Then, with those arrays precomputed, each strategy's selection alone
(``strategies.select_batch`` for a batch of ``--batch``, fraction 1, median of
``--repeats``) is timed and divided by the prediction it depends on: ``mc``
for bald / variation ratios (both scale linearly with the number of passes,
so the ratio does not depend on it), ``predict + embed`` for the strategies that
use a probability score and embeddings, ``embed`` for k-center / k-means.
Goal: selection <= 5 % of that prediction time, except k-center (cost
``O(n (m + k) d)``, stated).

Run: ``source scripts/setup.sh && .venv/bin/python -m benchmarks.scoring_speed
--out benchmarks/out/scoring_speed.json``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LABELED = 1000
EPOCHS = 5
GOAL = 0.05


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from al_core import models, strategies
    from al_core.datasets import load_dataset

    models.configure_runtime(args.threads)
    data = load_dataset("mnist")
    pool = data.x_pool
    rng = np.random.default_rng(0)
    labeled = rng.choice(len(pool), size=LABELED, replace=False)
    model = models.Classifier(
        "cnn",
        data.image_shape,
        data.num_classes,
        training=models.TrainingConfig(epochs=EPOCHS, dropout=0.5),
    )
    model.fit(pool[labeled], data.y_pool[labeled])
    model.predict_proba(pool[:256])  # trace the functions once, outside the timings
    model.predict_mc(pool[:256], 1)
    model.embed(pool[:256])

    probs, t_predict = _timed(model.predict_proba, pool)
    mc_probs, t_mc = _timed(model.predict_mc, pool, args.mc_samples)
    embeddings, t_embed = _timed(model.embed, pool)
    labeled_embeddings = embeddings[labeled]
    print(
        f"pool {len(pool)}: predict {t_predict:.1f} s, {args.mc_samples} MC passes {t_mc:.1f} s, "
        f"embed {t_embed:.1f} s",
        flush=True,
    )
    reference = {
        "least_confidence": ("predict", t_predict),
        "margin": ("predict", t_predict),
        "ratio": ("predict", t_predict),
        "entropy": ("predict", t_predict),
        "bald": ("mc", t_mc),
        "variation_ratios": ("mc", t_mc),
        "density_weighted": ("predict+embed", t_predict + t_embed),
        "hybrid": ("predict+embed", t_predict + t_embed),
        "hybrid_cluster": ("predict+embed", t_predict + t_embed),
        "kcenter": ("embed", t_embed),
        "kmeans": ("embed", t_embed),
        "random": ("predict", t_predict),
    }
    rows = []
    for strategy in strategies.STRATEGIES:
        times = []
        for repeat in range(args.repeats):
            _, seconds = _timed(
                strategies.select_batch,
                probs,
                args.batch,
                strategy=strategy,
                fraction=1.0,
                rng=np.random.default_rng(repeat),
                mc_probs=mc_probs,
                embeddings=embeddings,
                labeled_embeddings=labeled_embeddings,
            )
            times.append(seconds)
        name, ref = reference[strategy]
        median = statistics.median(times)
        rows.append(
            {
                "strategy": strategy,
                "selection_s": median,
                "reference": name,
                "reference_s": ref,
                "ratio": median / ref,
            }
        )
        print(f"{strategy}: {median:.3f} s = {median / ref:.2%} of {name}", flush=True)

    print("\n| strategy | selection (s) | depends on | prediction (s) | ratio | ≤ 5 % |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ok = "yes" if r["ratio"] <= GOAL else ("stated" if r["strategy"] == "kcenter" else "NO")
        print(
            f"| {r['strategy']} | {r['selection_s']:.3f} | {r['reference']} | "
            f"{r['reference_s']:.1f} | {r['ratio']:.2%} | {ok} |"
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "batch": args.batch,
                    "mc_samples": args.mc_samples,
                    "labeled": LABELED,
                    "predict_s": t_predict,
                    "mc_s": t_mc,
                    "embed_s": t_embed,
                    "rows": rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
