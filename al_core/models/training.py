"""How a fit is sized and seeded: per-model defaults, :class:`TrainingConfig`, the
step rule :func:`fit_steps`, repeated shuffled batches and :func:`seed_fit`."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import ConfigError
from al_core.models.architectures import check_model_name

if TYPE_CHECKING:  # pragma: no cover - typing only
    pass

#: Gradient steps run inside one TensorFlow call (``steps_per_execution``):
#: with the small networks and labeled sets of active learning, Python's
#: per-step overhead would otherwise cost more than the arithmetic. A fit's
#: step count is rounded up to a multiple of it.
STEPS_PER_EXECUTION = 25


@dataclass(frozen=True)
class ModelDefaults:
    """Training defaults of one architecture (see :func:`training_defaults`)."""

    epochs: int
    min_steps: int
    learning_rate: float


#: Per-model defaults, measured with ``benchmarks/training_sanity.py``: enough
#: steps that every network matches scikit-learn's LogisticRegression on the
#: same labels from 50 labels up (docs/benchmarks.md, "Training sanity").
#: Softmax regression is convex but slow to converge with Adam at 1e-3, hence
#: its larger rate and step floor.
MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "cnn": ModelDefaults(epochs=10, min_steps=300, learning_rate=1e-3),
    "mlp": ModelDefaults(epochs=20, min_steps=300, learning_rate=1e-3),
    "softmax": ModelDefaults(epochs=50, min_steps=500, learning_rate=1e-2),
    "transfer": ModelDefaults(epochs=10, min_steps=200, learning_rate=1e-3),
    "bayesian_cnn": ModelDefaults(epochs=10, min_steps=500, learning_rate=1e-3),
}


def training_defaults(model: str) -> ModelDefaults:
    """The default ``epochs``, ``min_steps`` and ``learning_rate`` of ``model``."""
    return MODEL_DEFAULTS[check_model_name(model)]


def defaults_text(setting: str) -> str:
    """``"cnn 10, mlp 20, …"``: one training setting's default per model (for help texts)."""
    return ", ".join(f"{name} {getattr(d, setting):g}" for name, d in MODEL_DEFAULTS.items())


def fit_steps(
    n: int, *, epochs: int, min_steps: int, batch_size: int, unit: int = STEPS_PER_EXECUTION
) -> int:
    """Gradient steps of one fit on ``n`` labels: the training rule, in one place.

    ``max(epochs × ceil(n / batch), min_steps)``, rounded up to a multiple of
    ``unit`` (the steps run per TensorFlow call). With 20–100 labels an epoch is
    one to four steps, so ``epochs`` alone would leave small-set models
    untrained; the step floor ``min_steps`` brings them near convergence, while
    large labeled sets are trained for ``epochs`` passes as usual.
    """
    if n < 1:
        raise ConfigError("cannot train on an empty labeled set; give at least one label")
    per_pass = math.ceil(n / min(batch_size, n))
    steps = max(epochs * per_pass, min_steps)
    return math.ceil(steps / unit) * unit


@dataclass(frozen=True)
class TrainingConfig:
    """How a classifier is trained each round.

    A fit runs :func:`fit_steps` gradient steps: ``epochs`` passes over the
    labeled set, but never fewer than ``min_steps`` steps (small labeled sets
    are cycled through, reshuffled each pass). Leaving ``epochs``, ``min_steps``
    or ``learning_rate`` unset takes the model's default
    (:data:`MODEL_DEFAULTS`, resolved by :meth:`for_model`).

    ``patience`` set: the fit instead runs pass by pass, stops after that many
    passes without improvement of the monitored loss (never before
    ``min_steps`` steps) and restores the best weights (the MNIST protocol's
    "stop after 10 attempts without improvement"); ``epochs`` is then the cap.
    The monitored loss is the validation loss when a validation set is given,
    else the training loss: a labeled validation set is a luxury in active
    learning and we never take one from the test set.
    """

    epochs: int | None = None
    batch_size: int = 32
    patience: int | None = None
    learning_rate: float | None = None
    dropout: float = 0.0
    min_steps: int | None = None

    def __post_init__(self) -> None:
        checks = (
            ("epochs", self.epochs, "--epochs 10"),
            ("training batch size", self.batch_size, "--train-batch-size 32"),
            ("min_steps", self.min_steps, "--min-steps 300"),
        )
        for name, value, example in checks:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}; e.g. {example}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(
                f"patience must be >= 1 (or unset), got {self.patience}; e.g. --patience 10"
            )
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(
                f"learning rate must be > 0, got {self.learning_rate}; e.g. --learning-rate 0.001"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}; e.g. --dropout 0.5")

    def for_model(self, model: str) -> TrainingConfig:
        """A copy with every unset setting filled in from ``model``'s defaults."""
        defaults = training_defaults(model)
        return dataclasses.replace(
            self,
            epochs=defaults.epochs if self.epochs is None else self.epochs,
            min_steps=defaults.min_steps if self.min_steps is None else self.min_steps,
            learning_rate=(
                defaults.learning_rate if self.learning_rate is None else self.learning_rate
            ),
        )

    @property
    def steps_per_execution(self) -> int:
        """Steps per TensorFlow call: one with ``patience`` (it judges every pass)."""
        return 1 if self.patience is not None else STEPS_PER_EXECUTION

    def steps_for(self, n: int) -> int:
        """Gradient steps of a fit on ``n`` labels without early stopping (the cap
        with ``patience``); the settings must be resolved (:meth:`for_model`)."""
        assert self.epochs is not None and self.min_steps is not None, "call for_model first"
        return fit_steps(
            n,
            epochs=self.epochs,
            min_steps=self.min_steps,
            batch_size=self.batch_size,
            unit=self.steps_per_execution,
        )


@dataclass(frozen=True)
class FitResult:
    """What one training run did: passes over the labeled set, gradient steps, time."""

    epochs: int
    steps: int
    seconds: float
    final_loss: float


def repeated_batches(x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> Any:
    """An endless ``tf.data`` stream of ``batch``-sized batches of ``(x, y)``,
    reshuffled (deterministically, from ``seed``) at every pass."""
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch)
    )


def seed_fit(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)`` without emptying TensorFlow's kernel cache.

    ``tf.random.set_seed`` clears the eager context's caches (to restart
    stateful random kernels), and with them every instantiated function: each
    fit then re-optimised the training graph and, after it, the evaluation and
    prediction graphs (0.3–1 s per digits fit on 2 cores, docs/benchmarks.md,
    "Demo speed"). A fit runs no stateful random kernel: Keras' dropout draws
    from seed generators that :meth:`Classifier.reset` restores, and the shuffle
    reads the global seed when its dataset is made. Setting the seeds alone
    (Keras', Python's, NumPy's, TensorFlow's global one) therefore gives the
    same numbers bit for bit.
    """
    import keras
    from tensorflow.python.eager import context

    eager = context.context()
    if not hasattr(eager, "_seed") or not hasattr(eager, "_rng"):  # pragma: no cover
        keras.utils.set_random_seed(seed)  # a TensorFlow without them: the slow way
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    # What context._set_global_seed does, less TFE_ContextClearCaches.
    eager._seed = seed
    eager._rng = random.Random(seed)
