"""Named, ready-to-run experiment grids (presets) and submitting sweeps.

:data:`PRESETS` holds the built-in grids (``demo``, ``cold-start``, ``cifar10-fraction``,
``mnist-400``, ``repeated-digits``, ``repeated-mnist``); :func:`get_preset` looks one up,
:func:`preset_base` applies overrides to its trial config, and
:func:`submit_preset` / :func:`submit_experiment` queue a grid's trials in the
store for a runner (:mod:`al_core.runner.service`) to claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from al_core.errors import ConfigError
from al_core.loop import TrialConfig
from al_core.runner.trials import create_experiment
from al_core.store import Store

#: Keys of :func:`submit_preset` overrides that change the grid, not the trial config.
GRID_KEYS: tuple[str, ...] = ("strategies", "fractions", "trials", "name")


_TENTHS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
#: The demo's fractions: 11 fractions x 3 trials took 6 min on 2 cores; 6 x 5 trials fit.
_FIFTHS: tuple[float, ...] = tuple(round(i / 5, 1) for i in range(6))


#: The "Why batches need diversity" protocol (the BatchBALD paper's): a pool whose
#: every image appears 3 times with pixel noise, the paper's Bayesian CNN (channel
#: dropout 0.5, test accuracy the mean of the Monte-Carlo passes), 20 balanced labels,
#: batches of 10, 20 consistent MC-dropout samples over the whole pool each round.
_REPEATED_DIGITS = TrialConfig(
    dataset="digits",
    repeat=3,
    repeat_noise=0.1,
    model="bayesian_cnn",
    dropout=0.5,
    strategy="batchbald",
    initial=20,
    initial_mode="balanced",
    batch=10,
    rounds=10,
    candidates=None,
    mc_samples=20,
    target=0.9,
)
_DIVERSITY_GRID = (
    "BALD top-k vs BatchBALD vs random, 20 Monte-Carlo dropout samples (one sampled "
    "network each) over the whole pool every round, 3 trials. Results show the curves "
    "and how many queried images were near-copies per round."
)


@dataclass(frozen=True)
class Preset:
    """A named, ready-to-run experiment grid."""

    name: str
    description: str
    base: TrialConfig
    strategies: tuple[str, ...]
    fractions: tuple[float, ...]
    trials: int

    @property
    def target(self) -> float | None:
        """The target accuracy that labels-to-target is measured against."""
        return self.base.target


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "demo",
            "Digits (embedded, no download), seed CNN trained to convergence at every size "
            "(the model's default steps), 20 random labels then 8 rounds of 10 by margin; "
            "uncertainty fraction 0–100 % by 20 × 5 trials, then the random baseline runs on "
            "past 100 labels until it reaches the best fraction's accuracy. About 4 minutes "
            "on 2 cores: the one-click stakeholder demo.",
            TrialConfig(
                dataset="digits",
                model="cnn",
                strategy="margin",
                initial=20,
                batch=10,
                rounds=8,
                target=0.85,
            ),
            ("margin",),
            _FIFTHS,
            5,
        ),
        Preset(
            "cold-start",
            "Small budgets, on the embedded digits (no download): 10 random labels then "
            "batches of 10 up to 200, seed CNN; random vs margin vs typiclust (the most "
            "typical image of each uncovered k-means region) vs auto (typiclust until 10 "
            "labels per class, then margin), 3 trials, the random baseline run on to the "
            "best accuracy. Does active learning pay off from the first labels? About 8 "
            "minutes on 2 cores.",
            TrialConfig(
                dataset="digits",
                model="cnn",
                strategy="auto",
                initial=10,
                batch=10,
                budget=200,
                target=0.9,
            ),
            ("margin", "typiclust", "auto"),
            (0.0, 1.0),
            3,
        ),
        Preset(
            "cifar10-fraction",
            "The original CIFAR-10 protocol: 49k pool / 1k validation / 10k test, 1,000 "
            "random labels then 1,000 per round until the pool is used up, margin, seed "
            "CNN, target 50 %; fraction 0–100 % by 10 × 3 trials (1,600+ trainings). Needs "
            "CIFAR-10 (a download) and a cluster or hours.",
            TrialConfig(
                dataset="cifar10",
                val_size=1000,
                model="cnn",
                strategy="margin",
                initial=1000,
                batch=1000,
                epochs=10,
                target=0.5,
            ),
            ("margin",),
            _TENTHS,
            3,
        ),
        Preset(
            "mnist-400",
            "The MNIST protocol: 4,000-image pool / 400 test, softmax regression, 10 "
            "random labels then batches of 10 by least confidence up to 400 labels, "
            "training with patience 10; against random, 3 trials.",
            TrialConfig(
                dataset="mnist",
                pool_size=4000,
                test_size=400,
                model="softmax",
                strategy="least_confidence",
                initial=10,
                batch=10,
                budget=400,
                epochs=200,
                patience=10,
                target=0.85,
            ),
            ("least_confidence",),
            (0.0, 1.0),
            3,
        ),
        Preset(
            "repeated-digits",
            "Why batches need diversity, on the embedded digits (no download): 1,437 pool "
            "images, each 3 times with pixel noise 0.1 (4,311 pool rows), the BatchBALD "
            "paper's Bayesian CNN, 20 "
            "balanced labels then 10 batches of 10; " + _DIVERSITY_GRID + " About 6 minutes "
            "on 2 cores.",
            _REPEATED_DIGITS,
            ("bald", "batchbald"),
            (0.0, 1.0),
            3,
        ),
        Preset(
            "repeated-mnist",
            "Why batches need diversity (the BatchBALD paper's Repeated MNIST): 2,000 MNIST "
            "images, each 3 times with the paper's pixel noise (σ 0.031 on 0–1 pixels: its "
            "0.1 after mean/std normalisation; 6,000 pool rows), the paper's Bayesian CNN, "
            "20 balanced labels then 15 batches of 10, test accuracy on the whole "
            "10,000-image test set; " + _DIVERSITY_GRID,
            _REPEATED_DIGITS.replace(
                dataset="mnist", pool_size=2000, repeat_noise=0.031, rounds=15
            ),
            ("bald", "batchbald"),
            (0.0, 1.0),
            3,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`ConfigError` naming the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def submit_experiment(
    store: Store,
    base: TrialConfig,
    strategies: Sequence[str],
    fractions: Sequence[float],
    trials: int,
    *,
    name: str | None = None,
    extend_baseline: bool = True,
) -> int:
    """Queue a sweep (all its trials stored as ``queued``) for a runner; returns its id."""
    return create_experiment(
        store, base, strategies, fractions, trials, name=name, extend_baseline=extend_baseline
    )


def preset_base(preset: str, overrides: Mapping[str, Any]) -> TrialConfig:
    """The base trial config of ``preset`` with ``overrides`` applied (grid keys in
    ``overrides`` are ignored here); :class:`ConfigError` names unknown fields."""
    fields = {k: v for k, v in overrides.items() if k not in GRID_KEYS}
    unknown = TrialConfig.unknown_fields(fields)
    if unknown:
        raise ConfigError(
            f"unknown preset override(s): {', '.join(unknown)}; give trial-config fields "
            f"or {', '.join(GRID_KEYS)}"
        )
    return get_preset(preset).base.replace(**fields)


def submit_preset(store: Store, preset: str, **overrides: Any) -> int:
    """Queue a preset's grid; returns the experiment id.

    ``overrides`` are trial-config fields (``epochs=5``, ``dataset="mnist"`` …) or
    grid keys (``strategies``, ``fractions``, ``trials``, ``name``).
    """
    chosen = get_preset(preset)
    grid = {key: overrides[key] for key in GRID_KEYS if key in overrides}
    return create_experiment(
        store,
        preset_base(preset, overrides),
        grid.get("strategies", chosen.strategies),
        grid.get("fractions", chosen.fractions),
        grid.get("trials", chosen.trials),
        name=grid.get("name") or f"{chosen.name} preset",
        extra={"preset": chosen.name},
    )
