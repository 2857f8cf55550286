"""The command-line flags shared by ``run``, ``sweep`` and ``runner``: a trial's
settings (data, model and training, active learning) and the worker options.

``_TRIAL_FLAGS`` names the flags that are :class:`al_core.loop.TrialConfig`
fields of the same name; ``_PRESET_FLAGS`` those a ``sweep --preset`` sets.
"""

from __future__ import annotations

import argparse

from al_core.errors import ConfigError
from al_core.loop.config import HANDOVER_PER_CLASS
from al_core.models import defaults_text

# Trial-config fields that are command-line flags of the same name.
_TRIAL_FLAGS: tuple[str, ...] = (
    "dataset", "pool_size", "test_size", "val_size", "data_seed", "model", "initial",
    "initial_mode", "batch", "rounds", "budget", "target", "stop_at_target", "epochs",
    "min_steps", "train_batch_size", "patience", "learning_rate", "dropout", "candidates",
    "auto_label_steps", "auto_label_k", "seed", "mc_samples", "base_score", "hybrid_top_m",
    "density_beta", "weights", "agreement_size", "repeat", "repeat_noise",
    "handover_per_class", "test_measure", "batchbald_configurations",
)  # fmt: skip
# Sweep flags a --preset sets, unless given on the command line.
_PRESET_FLAGS: tuple[str, ...] = (*_TRIAL_FLAGS, "strategies", "fractions", "trials")


def _fractions(text: str) -> list[float]:
    from al_core.forms import parse_fractions  # one parser for the CLI and the app's form

    try:
        return parse_fractions(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _add_trial_options(parser: argparse.ArgumentParser, *, single: bool) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits (embedded, default), mnist, fashion_mnist, cifar10, npz:PATH or folder:PATH",
    )
    data.add_argument("--pool-size", type=int, help="random subset of the train split as pool")
    data.add_argument("--test-size", type=int, help="random subset of the test split")
    data.add_argument("--val-size", type=int, default=0, help="labeled validation images (0)")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the data subsets (0)")
    data.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="redundant pool: each pool image R times (1 = off; Repeated MNIST: 3)",
    )
    data.add_argument(
        "--repeat-noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="std of the Gaussian pixel noise on each copy, pixels in [0, 1] (0; the "
        "BatchBALD paper's Repeated MNIST: 0.031, its 0.1 after MNIST's mean/std "
        "normalisation)",
    )

    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--model",
        help="cnn, bayesian_cnn (the BatchBALD paper's network, channel dropout), softmax, "
        "mlp or transfer (MobileNetV2); default: bayesian_cnn when a strategy scores with "
        "Monte-Carlo dropout (bald, batchbald, variation_ratios), else cnn",
    )
    model.add_argument(
        "--weights",
        metavar="PATH|imagenet",
        help="weights file of the transfer model's MobileNetV2 base (width 0.35, no top), or "
        "'imagenet' for Keras' published weights (downloaded into $KERAS_HOME/models/; "
        "offline, the error names the file to put there); without it the base starts from "
        "random weights",
    )
    model.add_argument(
        "--epochs",
        type=int,
        help="passes over the labeled set per fit, or the cap with --patience "
        f"(default per model: {defaults_text('epochs')})",
    )
    model.add_argument(
        "--min-steps",
        type=int,
        help="gradient steps per fit at least, however few the labels "
        f"(default per model: {defaults_text('min_steps')})",
    )
    model.add_argument("--patience", type=int, help="early stopping after N epochs w/o gain")
    model.add_argument("--train-batch-size", type=int, default=32, help="SGD batch size (32)")
    model.add_argument(
        "--learning-rate",
        type=float,
        help=f"Adam's rate (default per model: {defaults_text('learning_rate')})",
    )
    model.add_argument(
        "--dropout",
        type=float,
        help="dropout rate (default: 0.5 for Monte-Carlo dropout strategies such as bald "
        "and variation_ratios and for bayesian_cnn, else 0 = none)",
    )
    model.add_argument(
        "--test-measure",
        choices=("mc_mean", "dropout_off"),
        help="test accuracy of a dropout model: mc_mean (default: the mean of --mc-samples "
        "Monte-Carlo passes, as the BatchBALD paper measures it) or dropout_off",
    )
    model.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")

    loop = parser.add_argument_group("active learning")
    if single:
        loop.add_argument(
            "--strategy",
            default="margin",
            help="least_confidence, margin (default), ratio, entropy, bald, variation_ratios, "
            "batchbald, density_weighted, kcenter, kmeans, hybrid, hybrid_cluster, typiclust, "
            "auto (typiclust, then the base score) or random",
        )
        loop.add_argument(
            "--fraction",
            type=float,
            default=1.0,
            help="share of each batch picked by uncertainty, the rest random (1.0)",
        )
        loop.add_argument("--seed", type=int, default=0, help="seed of the trial (0)")
    loop.add_argument("--initial", type=int, default=20, help="initial labeled images (20)")
    loop.add_argument(
        "--initial-mode",
        choices=["random", "balanced", "typical"],
        default="random",
        help="initial set drawn at random (default), the same number per class, or the "
        "most typical image of each k-means cluster of the pool's pixels (no labels needed)",
    )
    loop.add_argument("--batch", type=int, default=10, help="images labeled per round (10)")
    loop.add_argument("--rounds", type=int, help="stop after N acquisition rounds")
    loop.add_argument("--budget", type=int, help="stop at N labels in all")
    loop.add_argument("--target", type=float, help="target test accuracy in (0, 1], e.g. 0.9")
    loop.add_argument(
        "--stop-at-target", action="store_true", help="stop once the target is reached"
    )
    loop.add_argument(
        "--candidates", type=int, help="score a random subset of N pool images per round"
    )
    loop.add_argument(
        "--auto-label-steps",
        type=int,
        default=0,
        help="after the loop, N steps of adding the most confident images with the "
        "model's own labels (0)",
    )
    loop.add_argument("--auto-label-k", type=int, default=10, help="images per auto step (10)")
    loop.add_argument(
        "--mc-samples",
        type=int,
        default=20,
        help="Monte-Carlo dropout passes of bald / variation_ratios / batchbald and of a "
        "dropout model's test accuracy (20; dropout 0.5 unless --dropout is given)",
    )
    loop.add_argument(
        "--batchbald-configurations",
        type=int,
        default=1000,
        metavar="M",
        help="label configurations of BatchBALD's sampled joint entropy (1000; the paper's "
        "40000 takes about 60x the selection time on CPU, 16 x mc-samples x M bytes)",
    )
    loop.add_argument(
        "--base-score",
        default="margin",
        help="per-image score that density_weighted and the hybrids build on (margin)",
    )
    loop.add_argument(
        "--hybrid-top-m",
        type=int,
        help="hybrid short-list of the most uncertain images (default 10x the batch)",
    )
    loop.add_argument("--density-beta", type=float, default=1.0, help="density exponent (1.0)")
    loop.add_argument(
        "--handover-per-class",
        type=int,
        default=HANDOVER_PER_CLASS,
        metavar="N",
        help="strategy auto picks typical images until N labels per class, then by the base "
        f"score ({HANDOVER_PER_CLASS})",
    )
    loop.add_argument(
        "--agreement-size",
        type=int,
        help="pool images whose predictions are compared between rounds, the stopping "
        "advice's stop set, never queried (default: 1000, at most a fifth of the pool; "
        "0 = off)",
    )


def _add_runner_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workers")
    group.add_argument("--workers", type=int, default=2, help="trials run at once (2)")
    group.add_argument("--executor", default="local", help="local (process pool, default) or dask")
    group.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler, tcp://HOST:PORT")
    group.add_argument(
        "--max-attempts", type=int, default=3, help="starts per trial before it stays failed (3)"
    )
