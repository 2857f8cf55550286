"""THE active-learning loop: one loop for simulation and human labeling.

A round is: train on the labeled set → evaluate on the test set → score the
unlabeled pool → select a batch → an oracle labels it → repeat.

The steps live on :class:`ActiveLearner`; :func:`run_loop` drives them for a
simulation, where the oracle is the data set's ground truth
(:class:`GroundTruthOracle`). The labeling page drives the *same* steps one at
a time with a human in the oracle's place (``query`` → the person labels →
``teach`` → ``train_and_evaluate``), so there is a single training loop.

Reproducibility: every random choice of round ``r`` comes from a generator
seeded by ``(seed, stream, r)`` and the classifier restarts from the same
initial weights each round, so a round depends only on the config, the seed and
the labeled set, never on what ran before it in the process.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from al_core import datasets, strategies
from al_core.datasets import Dataset
from al_core.errors import ConfigError
from al_core.models import (
    MODELS,
    Classifier,
    TrainingConfig,
    check_model_name,
    training_defaults,
)

log = logging.getLogger(__name__)

INITIAL_MODES: tuple[str, ...] = ("random", "balanced", "given")
SOURCES: tuple[str, ...] = ("oracle", "human", "pseudo")

# Streams of the per-round random generators (see module docstring).
_STREAM_INITIAL, _STREAM_SELECT, _STREAM_FIT, _STREAM_AGREEMENT, _STREAM_MC = 0, 1, 2, 3, 4


MC_DROPOUT_DEFAULT = 0.5
"""Dropout rate turned on when a Monte-Carlo dropout strategy is picked without one."""

BASELINE_GROWTH = 1.25
"""The baseline extension's grid: each step multiplies the labeled count by this.
Random picks do not depend on the model, so the baseline needs no 10-label steps
past the budget; labels-to-target interpolates between the grid's points."""

BASELINE_CAP_FACTOR = 10
"""The extension's default cap: this many times the active budget (or the pool)."""


def needs_mc_dropout(strategy_names: Sequence[str], base_score: str = "margin") -> bool:
    """Whether any of the strategies (or the base score they build on) scores with
    Monte-Carlo dropout samples, so that the model needs dropout layers."""
    return any(
        "mc_probs" in strategies.inputs_needed(strategies.normalize_strategy(name), base_score)
        for name in strategy_names
    )


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
    model: str = "cnn"
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
    # variation_ratios, ...), else 0 (no dropout). Always a number once constructed.
    dropout: float | None = None
    candidates: int | None = None
    auto_label_steps: int = 0
    auto_label_k: int = 10
    seed: int = 0
    # Strategies beyond the probability scores (see al_core.strategies).
    mc_samples: int = 20  # Monte-Carlo dropout passes of bald / variation_ratios
    base_score: str = "margin"  # the score density_weighted and the hybrids build on
    hybrid_top_m: int | None = None  # hybrid short-list; None: 10 x the strategy's picks
    density_beta: float = 1.0
    weights: str | None = None  # weights file of the transfer model's base
    # Stopping advice: pool images whose predictions are compared between rounds.
    agreement_size: int = 1000
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
        if self.dropout is None:
            needed = needs_mc_dropout([self.strategy], self.base_score)
            object.__setattr__(self, "dropout", MC_DROPOUT_DEFAULT if needed else 0.0)
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
            raise ConfigError(f"{repeat_problem}; e.g. --repeat 3 --repeat-noise 0.1")
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
        if self.strategy == "batchbald":  # the class count is checked again with the data
            strategies.check_batchbald_memory(self.mc_samples, self.batch)
        if self.hybrid_top_m is not None and self.hybrid_top_m < 1:
            raise ConfigError(f"hybrid_top_m must be >= 1 (or unset), got {self.hybrid_top_m}")
        if not self.density_beta >= 0:
            raise ConfigError(f"density_beta must be >= 0, got {self.density_beta}")
        if self.weights is not None and self.model != "transfer":
            raise ConfigError(
                f"a weights file is for --model transfer only; got --model {self.model}"
            )
        if self.agreement_size < 0:
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
        """Build from a dict, refusing unknown keys (a typo must not pass silently)."""
        unknown = cls.unknown_fields(data)
        if unknown:
            known = sorted(f.name for f in dataclasses.fields(cls))
            raise ConfigError(
                f"unknown config key(s): {', '.join(unknown)}; valid keys: {', '.join(known)}"
            )
        return cls(**data)

    @classmethod
    def unknown_fields(cls, names: Iterable[str]) -> list[str]:
        """The ``names`` that are not fields of the config, sorted (each caller words
        its own error: a stored config's keys, a preset's overrides)."""
        return sorted(set(names) - {f.name for f in dataclasses.fields(cls)})

    def replace(self, **changes: Any) -> TrialConfig:
        """A copy with ``changes`` applied (validated again).

        Changing ``model`` also moves training settings that were the old model's
        defaults to the new model's defaults, unless ``changes`` sets them.
        """
        if "model" in changes and changes["model"] != self.model:
            old = training_defaults(self.model)
            for name in ("epochs", "min_steps", "learning_rate"):
                if name not in changes and getattr(self, name) == getattr(old, name):
                    changes[name] = None
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RoundRecord:
    """One point of a learning curve and what the round did.

    ``queried`` are pool indices chosen *after* this round's model was trained
    (they are labeled before the next round); ``queried_accuracy`` is this
    model's accuracy on them once labeled — typically far below the test
    accuracy, since they are the images it is least sure about.
    """

    round: int
    # "active" (oracle/human labels), "baseline" (the random baseline run on past its
    # budget: `queried` are the labels added before this round's training) or "auto"
    # (auto-labeling step, likewise).
    phase: str
    labeled: int  # labels from the oracle or a human
    pseudo_labeled: int  # labels the model gave itself (auto-labeling)
    test_accuracy: float
    test_loss: float
    train_seconds: float
    eval_seconds: float
    score_seconds: float
    epochs: int  # passes over the labeled set
    queried: list[int] = field(default_factory=list)
    queried_scores: list[float] = field(default_factory=list)
    queried_accuracy: float | None = None
    # Stopping advice: share of a fixed unlabeled subset whose predicted class is
    # unchanged since the previous round's model (None in round 0).
    agreement: float | None = None
    # Queried images that are near-copies of a labeled or earlier-queried one
    # (ActiveLearner.redundant_count); None when nothing was queried.
    redundant: int | None = None
    # Gradient steps the fit ran (the training rule: models.fit_steps).
    steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> RoundRecord:
        """The record of a stored round (``Store.rounds`` row; its ids and time ignored)."""
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


class Oracle(Protocol):
    """Gives labels for pool indices. ``-1`` means "no label" (skipped / not sure)."""

    def __call__(self, indices: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class GroundTruthOracle:
    """The simulation oracle: the data set's own labels."""

    labels: np.ndarray  # (n_pool,)

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        return self.labels[indices]


def _rng(seed: int, stream: int, round_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, round_index]))


def _fit_seed(seed: int, round_index: int) -> int:
    state = np.random.SeedSequence([seed, _STREAM_FIT, round_index]).generate_state(1)
    return int(state[0] % (2**31 - 1))


def initial_indices(config: TrialConfig, pool_labels: np.ndarray) -> np.ndarray:
    """The first labeled set: pool indices (initial,), int64.

    ``random``: uniform without replacement. ``balanced``: the same number per
    class (as in the BALD papers' 20 balanced labels; needs the ground truth,
    so simulation only). ``given``: ``config.initial_indices``.
    """
    n_pool = len(pool_labels)
    if config.initial_mode == "given":
        chosen = np.asarray(config.initial_indices, dtype=np.int64)
        if chosen.min() < 0 or chosen.max() >= n_pool or len(np.unique(chosen)) != len(chosen):
            raise ConfigError(
                f"initial indices must be distinct pool indices in [0, {n_pool}); fix the list"
            )
        return chosen
    if config.initial > n_pool:
        raise ConfigError(
            f"initial labeled set ({config.initial}) is larger than the pool ({n_pool}); "
            "lower --initial or raise --pool-size"
        )
    rng = _rng(config.seed, _STREAM_INITIAL, 0)
    if config.initial_mode == "random":
        return np.sort(rng.choice(n_pool, size=config.initial, replace=False)).astype(np.int64)
    classes = np.unique(pool_labels)
    per_class, extra = divmod(config.initial, len(classes))
    chosen = []
    for position, cls in enumerate(rng.permutation(classes)):
        members = np.flatnonzero(pool_labels == cls)
        take = per_class + (1 if position < extra else 0)
        if take > len(members):
            raise ConfigError(
                f"class {cls} has only {len(members)} pool images, cannot take {take} "
                "for a balanced start; lower --initial"
            )
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


class ActiveLearner:
    """The state of one active-learning run over a data set's pool.

    Holds the labeled set (pool index → label, with its source), the
    classifier, and the steps of a round. Indices are always positions in
    ``dataset.x_pool``.
    """

    def __init__(
        self,
        dataset: Dataset,
        config: TrialConfig,
        *,
        classifier: Classifier | None = None,
    ) -> None:
        if config.strategy == "batchbald":  # refused before anything trains
            strategies.check_batchbald_memory(config.mc_samples, config.batch, dataset.num_classes)
        self.dataset = dataset
        self.config = config
        self.classifier = classifier or Classifier(
            config.model,
            dataset.image_shape,
            dataset.num_classes,
            training=config.training(),
            seed=config.seed,
            weights=config.weights,
        )
        self.labels = np.full(len(dataset.x_pool), -1, dtype=np.int64)
        self.sources = np.full(len(dataset.x_pool), "", dtype=object)
        self.set_aside = np.zeros(len(dataset.x_pool), dtype=bool)  # skipped / not sure
        self.round = 0
        self.use_pseudo_labels = True
        self._probs: np.ndarray | None = None  # last pool probabilities, for auto-labeling
        self._embeddings: np.ndarray | None = None  # last pool embeddings
        self._agreement_rows: np.ndarray | None = None  # fixed subset for the stopping advice
        self._agreement_predictions: np.ndarray | None = None  # previous model's classes there

    # -- state ---------------------------------------------------------------
    def labeled_indices(self, *, include_pseudo: bool | None = None) -> np.ndarray:
        """Pool indices with a label, (n,) int64, ascending."""
        include = self.use_pseudo_labels if include_pseudo is None else include_pseudo
        mask = self.labels >= 0
        if not include:
            mask &= self.sources != "pseudo"
        return np.flatnonzero(mask)

    def unlabeled_indices(self) -> np.ndarray:
        """Pool indices still to be queried, (n,) int64: no label and not set aside."""
        return np.flatnonzero((self.labels < 0) & ~self.set_aside)

    def count(self, source: str | None = None) -> int:
        """Number of labels, all or of one ``source``."""
        if source is None:
            return int(np.count_nonzero(self.labels >= 0))
        return int(np.count_nonzero((self.labels >= 0) & (self.sources == source)))

    # -- steps -----------------------------------------------------------------
    def teach(
        self,
        indices: Sequence[int] | np.ndarray,
        labels: Sequence[int] | np.ndarray,
        source: str = "oracle",
    ) -> None:
        """Record labels for pool ``indices``; a label of ``-1`` sets the item aside."""
        if source not in SOURCES:
            raise ConfigError(f"unknown label source {source!r}; one of {', '.join(SOURCES)}")
        indices = np.asarray(indices, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        if indices.shape != labels.shape:
            raise ConfigError("teach() needs one label per index")
        if labels.size and labels.max() >= self.dataset.num_classes:
            raise ConfigError(
                f"label {labels.max()} out of range for {self.dataset.num_classes} classes"
            )
        given = labels >= 0
        self.labels[indices[given]] = labels[given]
        self.sources[indices[given]] = source
        self.set_aside[indices[~given]] = True

    def train_and_evaluate(self) -> dict[str, float | None]:
        """Train on the labeled set from the initial weights; evaluate on the test set.

        Also returns the stopping advice ``agreement``: the share of a fixed
        random subset of the pool (``config.agreement_size`` images, drawn once
        from the images unlabeled at the first training) whose predicted class
        is the same as under the previous round's model; None the first time.
        Once it stays near 1, more labels barely change the model.
        """
        chosen = self.labeled_indices()
        validation = None
        if self.dataset.x_val is not None and len(self.dataset.x_val):
            validation = (self.dataset.x_val, self.dataset.y_val)
        fit = self.classifier.fit(
            self.dataset.x_pool[chosen],
            self.labels[chosen],
            fit_seed=_fit_seed(self.config.seed, self.round),
            validation=validation,
        )
        start = time.perf_counter()
        accuracy, loss = self.classifier.evaluate(self.dataset.x_test, self.dataset.y_test)
        self._probs = None
        self._embeddings = None
        agreement = self._agreement()
        return {
            "test_accuracy": accuracy,
            "test_loss": loss,
            "train_seconds": fit.seconds,
            "eval_seconds": time.perf_counter() - start,
            "epochs": fit.epochs,
            "steps": fit.steps,
            "agreement": agreement,
        }

    def _agreement(self) -> float | None:
        """Share of the agreement subset predicted as by the previous model (None at first)."""
        if self.config.agreement_size == 0:
            return None
        if self._agreement_rows is None:
            unlabeled = self.unlabeled_indices()
            size = min(self.config.agreement_size, len(unlabeled))
            rng = _rng(self.config.seed, _STREAM_AGREEMENT, 0)
            self._agreement_rows = np.sort(rng.choice(unlabeled, size=size, replace=False))
        if len(self._agreement_rows) == 0:
            return None
        images = self.dataset.x_pool[self._agreement_rows]
        predicted = self.classifier.predict_proba(images).argmax(axis=1)
        previous, self._agreement_predictions = self._agreement_predictions, predicted
        return None if previous is None else float(np.mean(previous == predicted))

    def pool_probabilities(self) -> np.ndarray:
        """Current model's probabilities for the whole pool, (n_pool, K) float32.

        Predicting every row (labeled ones too) avoids copying the pool's
        images; the labeled rows are a tiny share of it.
        """
        if self._probs is None:
            self._probs = self.classifier.predict_proba(self.dataset.x_pool)
        return self._probs

    def pool_embeddings(self) -> np.ndarray:
        """Current model's penultimate-layer features of the whole pool, (n_pool, d) float32."""
        if self._embeddings is None:
            self._embeddings = self.classifier.embed(self.dataset.x_pool)
        return self._embeddings

    def query(self, n: int) -> strategies.Selection:
        """Choose the next ``n`` pool items to label (indices into the pool).

        Scores the unlabeled pool (or a random candidate subset of it, the same
        for every strategy, when ``config.candidates`` is set) and applies the
        sweep protocol: a share ``fraction`` picked by the strategy, the rest at
        random. The classifier supplies what the strategy needs
        (:func:`strategies.inputs_needed`): probabilities, ``mc_samples``
        Monte-Carlo dropout passes, embeddings of the candidates and of the
        labeled set. Returned ``indices`` are pool indices.
        """
        config = self.config
        rng = _rng(config.seed, _STREAM_SELECT, self.round)
        unlabeled = self.unlabeled_indices()
        if len(unlabeled) == 0:
            raise ConfigError("the pool is empty: every item is labeled or set aside")
        n = min(n, len(unlabeled))
        subset = config.candidates is not None and config.candidates < len(unlabeled)
        if subset:
            unlabeled = np.sort(rng.choice(unlabeled, size=config.candidates, replace=False))
        needed = strategies.inputs_needed(config.strategy, config.base_score)
        pool = self.dataset.x_pool
        # With a candidate subset, predict on it alone; otherwise predict the
        # whole pool once per round (cached) and take the unlabeled rows.
        probs = embeddings = labeled_embeddings = mc_probs = None
        if "probs" in needed:
            probs = (
                self.classifier.predict_proba(pool[unlabeled])
                if subset
                else self.pool_probabilities()[unlabeled]
            )
        if "mc_probs" in needed:
            # One dropout mask per pass for every candidate (consistent MC dropout),
            # drawn afresh each round from the trial's seed.
            mc_probs = self.classifier.predict_mc(
                pool[unlabeled], config.mc_samples, seed=(config.seed, _STREAM_MC, self.round)
            )
        if "embeddings" in needed:
            embeddings = (
                self.classifier.embed(pool[unlabeled])
                if subset
                else self.pool_embeddings()[unlabeled]
            )
        if "labeled_embeddings" in needed:
            labeled = self.labeled_indices()
            labeled_embeddings = (
                self.classifier.embed(pool[labeled]) if subset else self.pool_embeddings()[labeled]
            )
        selection = strategies.select_batch(
            probs,
            n,
            strategy=config.strategy,
            fraction=config.fraction,
            rng=rng,
            candidates=None if needed else np.arange(len(unlabeled)),
            mc_probs=mc_probs,
            embeddings=embeddings,
            labeled_embeddings=labeled_embeddings,
            base_score=config.base_score,
            top_m=config.hybrid_top_m,
            density_beta=config.density_beta,
        )
        return dataclasses.replace(selection, indices=unlabeled[selection.indices])

    def redundant_count(self, queried: np.ndarray) -> int:
        """How many of a batch's images are near-copies of a labeled or earlier-queried one.

        ``queried`` (b,) pool indices in pick order. Image ``j`` counts when it has the
        same source image as a labeled image or as a pick before it
        (``dataset.pool_source``: the copies of a redundant pool), or when the cosine
        similarity of its embedding (the current model's penultimate layer) to one of
        theirs is at least ``config.redundancy_similarity``. A pair of copies in one
        batch counts once: the second pick is the redundant one. Result in ``[0, b]``.

        The default threshold 0.99 was chosen on MNIST under a CNN trained on 100 labels:
        99.7 % of copies with noise 0.1 reach it, and 1 distinct pair in about 8,000.
        Cost: one embedding pass over the labeled set (unless the pool's are cached).
        """
        queried = np.asarray(queried, dtype=np.int64)
        labeled = self.labeled_indices()
        source = self.dataset.pool_source
        redundant = np.zeros(len(queried), dtype=bool)
        seen = set((labeled if source is None else source[labeled]).tolist())
        for j, origin in enumerate((queried if source is None else source[queried]).tolist()):
            redundant[j] = origin in seen
            seen.add(origin)
        threshold = self.config.redundancy_similarity
        if threshold is not None and len(queried):
            rows = np.concatenate([labeled, queried])
            if self._embeddings is not None:
                features = self._embeddings[rows]
            else:
                features = self.classifier.embed(self.dataset.x_pool[rows])
            features = np.asarray(features, dtype=np.float64)
            norms = np.linalg.norm(features, axis=1, keepdims=True)
            unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
            picks, known = unit[len(labeled) :], unit[: len(labeled)]
            if len(known):
                redundant |= (picks @ known.T).max(axis=1) >= threshold
            among = np.tril(picks @ picks.T, k=-1)  # similarity to earlier picks only
            redundant |= (among >= threshold).any(axis=1)
        return int(np.count_nonzero(redundant))

    def accuracy_on(self, indices: np.ndarray, labels: np.ndarray) -> float | None:
        """Current model's accuracy on labeled pool items (the queried-set evaluation)."""
        keep = labels >= 0
        if not keep.any():
            return None
        rows = indices[keep]
        # Reuse this round's pool predictions when they exist (same model).
        if self._probs is not None:
            probs = self._probs[rows]
        else:
            probs = self.classifier.predict_proba(self.dataset.x_pool[rows])
        return float(np.mean(probs.argmax(axis=1) == labels[keep]))


def _stop_reason(learner: ActiveLearner, accuracy: float) -> str | None:
    config = learner.config
    if config.rounds is not None and learner.round >= config.rounds:
        return "rounds"
    if config.budget is not None and learner.count() - learner.count("pseudo") >= config.budget:
        return "budget"
    if config.stop_at_target and config.target is not None and accuracy >= config.target:
        return "target"
    if len(learner.unlabeled_indices()) == 0:
        return "pool empty"
    return None


@dataclass
class LoopResult:
    """A finished run: its config, its rounds and why it stopped."""

    config: TrialConfig
    rounds: list[RoundRecord]
    stop_reason: str

    def curve(self, phase: str = "active") -> tuple[np.ndarray, np.ndarray]:
        """``(labeled, test_accuracy)`` arrays of one phase, for the metrics."""
        points = [r for r in self.rounds if r.phase == phase]
        return (
            np.array([r.labeled + r.pseudo_labeled for r in points], dtype=np.int64),
            np.array([r.test_accuracy for r in points], dtype=np.float64),
        )


def run_loop(
    dataset: Dataset,
    config: TrialConfig,
    *,
    oracle: Oracle | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    replay: Sequence[RoundRecord] = (),
) -> LoopResult:
    """Run active learning to its stopping rule, then the baseline extension (a random
    trial with ``baseline_target``) or the optional auto-labeling.

    Parameters
    ----------
    dataset : the pool (with ground truth for the default oracle) and test set.
    config : the trial's configuration.
    oracle : labels queried pool indices; defaults to the ground truth.
    on_round : called with each :class:`RoundRecord` as soon as it exists (the
        store writes it then, so curves grow live).
    should_stop : polled at each round boundary; ``True`` stops the run there
        (cancellation), with stop reason ``"cancelled"``.
    replay : the stored rounds of this trial's finished active phase. Their labels are
        taught again without training (the config and seed fixed them) and the run
        goes on from there: the baseline extension re-runs only what is new.
    """
    oracle = oracle or GroundTruthOracle(dataset.y_pool)
    learner = ActiveLearner(dataset, config)
    first = initial_indices(config, dataset.y_pool)
    learner.teach(first, oracle(first), "oracle")
    records: list[RoundRecord] = list(replay)
    if replay:
        if any(r.phase != "active" for r in replay):
            raise ConfigError("only a trial's active rounds can be replayed")
        for record in replay:
            learner.teach(record.queried, oracle(np.asarray(record.queried, np.int64)), "oracle")
        learner.round = replay[-1].round
        return _run_on(learner, config, oracle, records, on_round, should_stop)

    def emit(record: RoundRecord) -> None:
        records.append(record)
        if on_round is not None:
            on_round(record)

    while True:
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        metrics = learner.train_and_evaluate()
        reason = _stop_reason(learner, metrics["test_accuracy"])
        queried: list[int] = []
        scores: list[float] = []
        queried_accuracy = redundant = None
        score_seconds = 0.0
        if reason is None:
            start = time.perf_counter()
            n = config.batch
            if config.budget is not None:
                n = min(n, config.budget - learner.count("oracle"))
            selection = learner.query(n)
            score_seconds = time.perf_counter() - start
            answers = np.asarray(oracle(selection.indices), dtype=np.int64)
            queried_accuracy = learner.accuracy_on(selection.indices, answers)
            redundant = learner.redundant_count(selection.indices)
            queried = selection.indices.tolist()
            scores = selection.scores.tolist()
        emit(
            RoundRecord(
                round=learner.round,
                phase="active",
                labeled=learner.count() - learner.count("pseudo"),
                pseudo_labeled=learner.count("pseudo"),
                score_seconds=score_seconds,
                queried=queried,
                queried_scores=scores,
                queried_accuracy=queried_accuracy,
                redundant=redundant,
                **metrics,
            )
        )
        if reason is not None:
            break
        learner.teach(selection.indices, answers, "oracle")
        learner.round += 1
    if reason in ("rounds", "budget") and config.baseline_target is not None:
        return _run_on(learner, config, oracle, records, on_round, should_stop)

    for _ in range(config.auto_label_steps):
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        unlabeled = learner.unlabeled_indices()
        if len(unlabeled) == 0:
            break
        start = time.perf_counter()
        probs = learner.pool_probabilities()[unlabeled]
        k = min(config.auto_label_k, len(unlabeled))
        picked = strategies.most_confident(probs, k)
        pseudo = probs[picked].argmax(axis=1)
        score_seconds = time.perf_counter() - start
        learner.teach(unlabeled[picked], pseudo, "pseudo")
        learner.round += 1
        metrics = learner.train_and_evaluate()
        emit(
            RoundRecord(
                round=learner.round,
                phase="auto",
                labeled=learner.count() - learner.count("pseudo"),
                pseudo_labeled=learner.count("pseudo"),
                score_seconds=score_seconds,
                queried=unlabeled[picked].tolist(),
                queried_scores=probs[picked].max(axis=1).astype(float).tolist(),
                # share of the pseudo-labels the oracle agrees with (simulation only)
                queried_accuracy=float(np.mean(pseudo == oracle(unlabeled[picked]))),
                **metrics,
            )
        )
    return LoopResult(config, records, reason)


def _run_on(
    learner: ActiveLearner,
    config: TrialConfig,
    oracle: Oracle,
    records: list[RoundRecord],
    on_round: Callable[[RoundRecord], None] | None,
    should_stop: Callable[[], bool] | None,
) -> LoopResult:
    """The baseline extension: a random trial whose active phase ended (``records``, its
    labels taught to ``learner``) adds random labels on the ``BASELINE_GROWTH`` grid until
    its accuracy reaches ``config.baseline_target``, ``config.baseline_cap`` labels or the
    pool's end. Each step is a round of phase ``"baseline"``, the same whether the
    active phase ran just before or was replayed."""
    if config.strategy != "random" or config.baseline_target is None:
        raise ConfigError("only a random trial with a baseline target runs on past its budget")
    if not records or records[-1].phase != "active":
        raise ConfigError("the baseline extension needs the trial's finished active rounds")
    accuracy = records[-1].test_accuracy
    cap = int(config.baseline_cap or 0)
    while True:
        labeled = learner.count("oracle")
        if accuracy >= config.baseline_target:
            return LoopResult(config, records, "baseline reached")
        if labeled >= cap:
            return LoopResult(config, records, "baseline cap")
        if len(learner.unlabeled_indices()) == 0:
            return LoopResult(config, records, "pool empty")
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        learner.round += 1
        start = time.perf_counter()
        wanted = min(cap, max(labeled + 1, int(np.ceil(labeled * BASELINE_GROWTH))))
        selection = learner.query(wanted - labeled)
        score_seconds = time.perf_counter() - start
        learner.teach(selection.indices, oracle(selection.indices), "oracle")
        metrics = learner.train_and_evaluate()
        # The stopping advice compares with the previous round's model, which a replay
        # never trained: left out, so both paths store the same rounds.
        metrics["agreement"] = None
        accuracy = float(metrics["test_accuracy"])
        record = RoundRecord(
            round=learner.round,
            phase="baseline",
            labeled=learner.count("oracle"),
            pseudo_labeled=0,
            score_seconds=score_seconds,
            queried=selection.indices.tolist(),
            queried_scores=selection.scores.tolist(),
            **metrics,
        )
        records.append(record)
        if on_round is not None:
            on_round(record)


__all__ = [
    "BASELINE_CAP_FACTOR",
    "BASELINE_GROWTH",
    "MODELS",
    "ActiveLearner",
    "GroundTruthOracle",
    "LoopResult",
    "Oracle",
    "RoundRecord",
    "TrialConfig",
    "initial_indices",
    "run_loop",
]
