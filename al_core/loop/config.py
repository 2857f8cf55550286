"""The configuration of one learning curve (:class:`TrialConfig`) and the loop's constants."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from al_core import datasets, strategies
from al_core.errors import ConfigError
from al_core.models import (
    BAYESIAN_MODEL,
    TrainingConfig,
    check_model_name,
    training_defaults,
)

INITIAL_MODES: tuple[str, ...] = ("random", "balanced", "typical", "given")
SOURCES: tuple[str, ...] = ("oracle", "human", "pseudo")

MC_DROPOUT_DEFAULT = 0.5
"""Dropout rate turned on when a Monte-Carlo dropout strategy is picked without one."""

BASELINE_GROWTH = 1.25
"""The baseline extension's grid: each step multiplies the labeled count by this.
Random picks do not depend on the model, so the baseline needs no 10-label steps
past the budget; labels-to-target interpolates between the grid's points."""

HANDOVER_PER_CLASS = 5
"""Strategy ``auto`` picks typical images (TypiClust) until the labeled set holds this
many labels per class on average, then hands over to its base score (margin). See
docs/benchmarks.md, "Cold start", for the measurements behind the value."""

BASELINE_CAP_FACTOR = 10
"""The extension's default cap: this many times the active budget (or the pool)."""


SEED_MODEL = "cnn"
"""The model of a grid none of whose strategies needs Monte-Carlo dropout."""

TEST_MEASURES: tuple[str, ...] = ("mc_mean", "dropout_off")
"""How test accuracy is measured: ``mc_mean`` (a dropout model's prediction is the mean
of ``mc_samples`` consistent Monte-Carlo passes, as the BatchBALD paper measures it) or
``dropout_off`` (one deterministic pass; every model without dropout, and every result
stored before the measure was recorded)."""


AGREEMENT_SIZE = 1000
"""The stop set's size by default (see :func:`stop_set_size`)."""
STOP_SET_SHARE = 0.2
"""Largest share of the pool a default stop set takes: its images are never queried, so a
larger share would take them from the strategies (a fifth of the 1,437 digits, not 1,000)."""


def stop_set_size(agreement_size: int | None, pool_size: int) -> int:
    """Images in the stop set of a pool of ``pool_size``: ``agreement_size`` when given
    (capped by the pool), else :data:`AGREEMENT_SIZE` capped at :data:`STOP_SET_SHARE` of
    the pool."""
    if agreement_size is not None:
        return min(agreement_size, pool_size)
    return min(AGREEMENT_SIZE, int(pool_size * STOP_SET_SHARE))


def needs_mc_dropout(strategy_names: Sequence[str], base_score: str = "margin") -> bool:
    """Whether any of the strategies (or the base score they build on) scores with
    Monte-Carlo dropout samples, so that the model needs dropout layers."""
    return any(
        "mc_probs" in strategies.inputs_needed(strategies.normalize_strategy(name), base_score)
        for name in strategy_names
    )


def default_test_measure(dropout: float | None) -> str:
    """How a model's test accuracy is measured unless set: ``mc_mean`` with dropout,
    else ``dropout_off`` (:data:`TEST_MEASURES`)."""
    return "mc_mean" if dropout else "dropout_off"


def default_model(strategy_names: Sequence[str], base_score: str = "margin") -> str:
    """The model a grid trains when none is chosen: the Bayesian CNN (the BatchBALD
    paper's network, ``bayesian_cnn``) when any strategy scores with Monte-Carlo
    dropout, else the seed ``cnn``. A whole grid gets one model, so that its random
    baseline trains the same network as its Bayesian strategies."""
    return BAYESIAN_MODEL if needs_mc_dropout(strategy_names, base_score) else SEED_MODEL


@dataclass(frozen=True)
class TrialConfig:
    """Everything that determines one learning curve. Stored with every result.

    The stopping rule: the loop ends at the first of ``rounds`` acquisition
    rounds, ``budget`` labels, the ``target`` test accuracy (only with
    ``stop_at_target``) or an empty pool. With none of the first three set, it
    runs until the pool is used up (the original sweep protocol).
    """

    dataset: str = "digits"
    pool_size: int | None = None
    test_size: int | None = None
    val_size: int = 0
    data_seed: int = 0
    # Redundant pool (datasets.repeat_pool): each pool image `repeat` times, each copy
    # with Gaussian pixel noise of this standard deviation. 1 and 0: the pool as loaded.
    repeat: int = 1
    repeat_noise: float = 0.0
    # None: default_model(strategy): the Bayesian CNN for a Monte-Carlo dropout
    # strategy, else the seed cnn. Always a name once constructed.
    model: str | None = None
    strategy: str = "margin"
    fraction: float = 1.0
    initial: int = 20
    initial_mode: str = "random"
    initial_indices: tuple[int, ...] | None = None
    batch: int = 10
    rounds: int | None = None
    budget: int | None = None
    target: float | None = None
    stop_at_target: bool = False
    # Training (al_core.models.TrainingConfig): a fit runs max(epochs passes,
    # min_steps gradient steps). None: the model's default, filled in on construction
    # so that the stored config says what ran.
    epochs: int | None = None
    min_steps: int | None = None
    train_batch_size: int = 32
    patience: int | None = None
    learning_rate: float | None = None
    # None: MC_DROPOUT_DEFAULT for a strategy that needs Monte-Carlo dropout (bald,
    # variation_ratios, ...) and for the Bayesian CNN, else 0 (no dropout). Always a
    # number once constructed.
    dropout: float | None = None
    # None: "mc_mean" for a model with dropout, else "dropout_off" (TEST_MEASURES).
    test_measure: str | None = None
    candidates: int | None = None
    auto_label_steps: int = 0
    auto_label_k: int = 10
    seed: int = 0
    # Strategies beyond the probability scores (see al_core.strategies).
    mc_samples: int = 20  # Monte-Carlo dropout passes of bald / variation_ratios
    # BatchBALD's joint entropy: exact while K ** picks stays within this many label
    # configurations, then this many sampled ones (the paper's 40,000).
    batchbald_configurations: int = strategies.BATCHBALD_CONFIGURATIONS
    base_score: str = "margin"  # the score density_weighted and the hybrids build on
    hybrid_top_m: int | None = None  # hybrid short-list; None: 10 x the strategy's picks
    density_beta: float = 1.0
    weights: str | None = None  # weights file of the transfer model's base
    # Stopping advice: pool images whose predictions are compared between rounds (the
    # stop set, never queried). None: stop_set_size's default, at most a fifth of the pool.
    agreement_size: int | None = None
    # Redundancy per round: a queried image counts as a near-copy when its embedding's
    # cosine similarity to a labeled or earlier-queried one is at least this (None: by
    # source image only). See ActiveLearner.redundant_count.
    redundancy_similarity: float | None = 0.99
    # Baseline extension (random trials of a sweep): past its active budget the trial
    # may run on, on a BASELINE_GROWTH grid, up to `baseline_cap` labels. The sweep's
    # runner sets `baseline_target` (the best median final accuracy of its active
    # configurations) once they have finished, and re-runs the trial's extension to it.
    baseline_cap: int | None = None
    baseline_target: float | None = None
    # Cold start: strategy "auto" picks typical images (typiclust) while the labeled set
    # holds fewer than this many labels per class, then by its base score; typiclust
    # clusters pixel features (PCA) below it and the model's embeddings from it on.
    handover_per_class: int = HANDOVER_PER_CLASS

    def __post_init__(self) -> None:
        # Normalise: a fraction of 0 is the random baseline, whatever the name.
        strategy = strategies.normalize_strategy(self.strategy)
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(
                f"fraction must be in [0, 1] (share of each batch picked by uncertainty), "
                f"got {self.fraction}"
            )
        if strategy == "random" or self.fraction == 0.0:
            strategy, fraction = "random", 0.0
        else:
            fraction = float(self.fraction)
        object.__setattr__(self, "strategy", strategy)
        object.__setattr__(self, "fraction", fraction)
        object.__setattr__(self, "base_score", strategies.check_base_score(self.base_score))
        if self.model is None:
            object.__setattr__(self, "model", default_model([self.strategy], self.base_score))
        if self.dropout is None:
            needed = needs_mc_dropout([self.strategy], self.base_score)
            bayesian = needed or self.model == BAYESIAN_MODEL
            object.__setattr__(self, "dropout", MC_DROPOUT_DEFAULT if bayesian else 0.0)
        if self.test_measure is None:
            object.__setattr__(self, "test_measure", default_test_measure(self.dropout))
        if self.initial_indices is not None:
            object.__setattr__(self, "initial_indices", tuple(int(i) for i in self.initial_indices))
        check_model_name(self.model)
        # Validates epochs, steps, batch size, patience, learning rate and dropout,
        # and fills in the model's defaults.
        training = self.training()
        for name in ("epochs", "min_steps", "learning_rate"):
            object.__setattr__(self, name, getattr(training, name))
        self._check_ranges()

    def _check_ranges(self) -> None:
        if self.initial_mode not in INITIAL_MODES:
            raise ConfigError(
                f"unknown initial mode {self.initial_mode!r}; choose one of: "
                + ", ".join(INITIAL_MODES)
            )
        if self.initial_mode == "given" and not self.initial_indices:
            raise ConfigError("initial mode 'given' needs initial_indices")
        if self.initial < 1 and self.initial_mode != "given":
            raise ConfigError(f"initial labeled set must have >= 1 image, got {self.initial}")
        if self.batch < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch}")
        checks = {
            "rounds": (self.rounds, 0),
            "budget": (self.budget, 1),
            "candidates": (self.candidates, 1),
            "pool_size": (self.pool_size, 1),
            "test_size": (self.test_size, 1),
        }
        for name, (value, minimum) in checks.items():
            if value is not None and value < minimum:
                raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        if self.target is not None and not 0.0 < self.target <= 1.0:
            raise ConfigError(f"target accuracy must be in (0, 1], got {self.target}")
        if self.stop_at_target and self.target is None:
            raise ConfigError("stop_at_target needs a target accuracy")
        if self.auto_label_steps < 0 or self.auto_label_k < 1:
            raise ConfigError("auto-labeling needs steps >= 0 and k >= 1")
        if self.val_size < 0:
            raise ConfigError(f"val_size must be >= 0, got {self.val_size}")
        repeat_problem = datasets.repeat_problem(self.repeat, self.repeat_noise)
        if repeat_problem is not None:
            raise ConfigError(f"{repeat_problem}; e.g. --repeat 3 --repeat-noise 0.031")
        similarity = self.redundancy_similarity
        if similarity is not None and not (
            isinstance(similarity, (int, float)) and 0 < similarity <= 1
        ):
            raise ConfigError(
                f"redundancy_similarity must be a cosine similarity in (0, 1] or None (count "
                f"copies by source image only), got {similarity!r}; e.g. 0.99"
            )
        self._check_strategy_settings()
        self._check_baseline_extension()

    def active_budget(self) -> int | None:
        """Labels at the end of the active phase: ``budget``, else ``initial`` plus
        ``rounds`` batches; ``None`` when the loop runs until the pool is used up."""
        if self.budget is not None:
            return self.budget
        if self.rounds is None:
            return None
        start = len(self.initial_indices or ()) if self.initial_mode == "given" else self.initial
        return start + self.rounds * self.batch

    def default_baseline_cap(self) -> int | None:
        """The extension's default cap, ``BASELINE_CAP_FACTOR`` times the active budget;
        ``None`` (no extension) without a budget or with auto-labeling steps."""
        budget = self.active_budget()
        if budget is None or self.auto_label_steps:
            return None
        return BASELINE_CAP_FACTOR * budget

    def _check_baseline_extension(self) -> None:
        cap, target = self.baseline_cap, self.baseline_target
        if cap is not None:
            budget = self.active_budget()
            if isinstance(cap, bool) or not isinstance(cap, int):
                raise ConfigError(f"baseline_cap must be a whole number of labels, got {cap!r}")
            if budget is None:
                raise ConfigError(
                    "the baseline extension runs on past the active budget, but this grid has "
                    "none (it runs until the pool is used up): set --rounds or --budget, or "
                    "turn the extension off with --no-extend-baseline"
                )
            if cap < budget:
                raise ConfigError(
                    f"baseline cap {cap} is below the active budget of {budget} labels: the "
                    f"random baseline could not run on past it; give a cap of at least {budget} "
                    f"(default {BASELINE_CAP_FACTOR} x the budget) or turn the extension off "
                    "with --no-extend-baseline"
                )
            if self.auto_label_steps:
                raise ConfigError(
                    "the baseline extension and auto-labeling steps do not combine: turn one "
                    "off (--no-extend-baseline or --auto-label-steps 0)"
                )
        if target is not None:
            if cap is None:
                raise ConfigError("baseline_target needs a baseline_cap")
            if not (isinstance(target, (int, float)) and 0.0 < target <= 1.0):
                raise ConfigError(f"baseline_target must be in (0, 1], got {target!r}")

    def _check_strategy_settings(self) -> None:
        if isinstance(self.mc_samples, bool) or not isinstance(self.mc_samples, int):
            raise ConfigError(f"mc_samples must be an integer >= 1, got {self.mc_samples!r}")
        if self.mc_samples < 1:
            raise ConfigError(f"mc_samples must be >= 1 (e.g. 20), got {self.mc_samples}")
        if "mc_probs" in strategies.inputs_needed(self.strategy, self.base_score) and (
            self.dropout == 0.0
        ):
            raise ConfigError(
                f"strategy {self.strategy!r} (base score {self.base_score!r}) needs Monte-Carlo "
                "dropout, but dropout is 0: leave --dropout out (it then defaults to "
                f"{MC_DROPOUT_DEFAULT}) or set a rate, e.g. --dropout 0.5"
            )
        if self.test_measure not in TEST_MEASURES:
            raise ConfigError(
                f"unknown test measure {self.test_measure!r}; choose one of: "
                + ", ".join(TEST_MEASURES)
            )
        configurations = self.batchbald_configurations
        if isinstance(configurations, bool) or not isinstance(configurations, int):
            raise ConfigError(
                f"batchbald_configurations must be a whole number >= 1, got {configurations!r}"
            )
        if configurations < 1:
            raise ConfigError(
                f"batchbald_configurations must be >= 1 (e.g. the paper's 40000), "
                f"got {configurations}"
            )
        if self.strategy == "batchbald":  # the class count is checked again with the data
            strategies.check_batchbald_memory(
                self.mc_samples, self.batch, max_configurations=configurations
            )
        if self.hybrid_top_m is not None and self.hybrid_top_m < 1:
            raise ConfigError(f"hybrid_top_m must be >= 1 (or unset), got {self.hybrid_top_m}")
        if not self.density_beta >= 0:
            raise ConfigError(f"density_beta must be >= 0, got {self.density_beta}")
        if self.weights is not None and self.model != "transfer":
            raise ConfigError(
                f"a weights file is for --model transfer only; got --model {self.model}"
            )
        per_class = self.handover_per_class
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
            raise ConfigError(
                f"handover_per_class must be a whole number of labels per class >= 1, got "
                f"{per_class!r}; e.g. {HANDOVER_PER_CLASS}"
            )
        if self.agreement_size is not None and self.agreement_size < 0:
            raise ConfigError(
                f"agreement_size must be >= 0 (0 turns the stopping advice off), "
                f"got {self.agreement_size}"
            )

    def training(self) -> TrainingConfig:
        """The classifier's training settings."""
        return TrainingConfig(
            epochs=self.epochs,
            min_steps=self.min_steps,
            batch_size=self.train_batch_size,
            patience=self.patience,
            learning_rate=self.learning_rate,
            dropout=self.dropout,
        ).for_model(self.model)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` restores the same config."""
        data = dataclasses.asdict(self)
        if data["initial_indices"] is not None:
            data["initial_indices"] = list(data["initial_indices"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        """Build from a dict, refusing unknown keys (a typo must not pass silently).

        A dict without ``test_measure`` was stored before the measure was recorded,
        when every test accuracy was measured with dropout off: it reads as
        ``dropout_off``, so old results keep saying how they were measured.
        """
        unknown = cls.unknown_fields(data)
        if unknown:
            known = sorted(f.name for f in dataclasses.fields(cls))
            raise ConfigError(
                f"unknown config key(s): {', '.join(unknown)}; valid keys: {', '.join(known)}"
            )
        return cls(**{"test_measure": "dropout_off", **data})

    @classmethod
    def unknown_fields(cls, names: Iterable[str]) -> list[str]:
        """The ``names`` that are not fields of the config, sorted (each caller words
        its own error: a stored config's keys, a preset's overrides)."""
        return sorted(set(names) - {f.name for f in dataclasses.fields(cls)})

    def replace(self, **changes: Any) -> TrialConfig:
        """A copy with ``changes`` applied (validated again).

        Changing ``model`` also moves training settings that were the old model's
        defaults to the new model's defaults, unless ``changes`` sets them; changing
        ``dropout`` likewise moves a default ``test_measure`` to the new rate's.
        """
        if "model" in changes and changes["model"] != self.model:
            old = training_defaults(self.model)
            for name in ("epochs", "min_steps", "learning_rate"):
                if name not in changes and getattr(self, name) == getattr(old, name):
                    changes[name] = None
        if (
            "dropout" in changes
            and "test_measure" not in changes
            and self.test_measure == default_test_measure(self.dropout)
        ):
            changes["test_measure"] = None
        return dataclasses.replace(self, **changes)
