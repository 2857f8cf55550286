"""Keras model builders and the training / prediction helpers the loop uses.

Three architectures, all ending in a softmax over the classes:

- ``cnn``: the seed CNN of the uncertainty-fraction protocol,
  Conv2D 32 → Conv2D 64 → MaxPool → Flatten → Dense 128 → softmax.
- ``softmax``: softmax regression (one dense layer), as in the MNIST protocol.
- ``mlp``: Flatten → Dense 128 → Dense 64 → softmax.

Every builder takes ``dropout``; with ``dropout > 0`` the model carries Dropout
layers (used by Monte-Carlo dropout strategies). TensorFlow is imported lazily
so that ``import al_core.models`` is cheap and worker processes decide their
thread counts before TensorFlow starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras

MODELS: tuple[str, ...] = ("cnn", "softmax", "mlp")

#: Rows per call when predicting; large batches amortise Keras' per-step overhead.
PREDICT_BATCH = 2048

_threads_configured = False


def configure_runtime(threads: int | None = None, *, deterministic: bool = True) -> None:
    """Set TensorFlow's thread pools and op determinism, before any model exists.

    Parameters
    ----------
    threads : int or None
        Intra-op threads (``None`` keeps TensorFlow's default, one per core).
        Worker processes of a sweep pass ``cores // workers`` so that
        workers × threads ≈ cores. Inter-op parallelism is set to the same value.
    deterministic : bool
        Ask TensorFlow for deterministic kernels so that the same config and
        seed give the same learning curve.
    """
    global _threads_configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads is not None and not _threads_configured:
        if threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            # TensorFlow was already initialised in this process; thread pools
            # can no longer change. Harmless: results do not depend on them.
            pass
    _threads_configured = True
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _cnn(inputs: Any, num_classes: int, dropout: float) -> Any:
    from keras import layers

    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    if dropout:
        x = layers.Dropout(dropout / 2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="embedding")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def _softmax(inputs: Any, num_classes: int, dropout: float) -> Any:
    from keras import layers

    x = layers.Flatten(name="embedding")(inputs)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def _mlp(inputs: Any, num_classes: int, dropout: float) -> Any:
    from keras import layers

    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(64, activation="relu", name="embedding")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


_BUILDERS: dict[str, Callable[[Any, int, float], Any]] = {
    "cnn": _cnn,
    "softmax": _softmax,
    "mlp": _mlp,
}


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a known architecture, else raise :class:`ConfigError`."""
    if name not in _BUILDERS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return name


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    seed: int = 0,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Build and compile a fresh classifier.

    Parameters
    ----------
    name : {"cnn", "softmax", "mlp"}
    input_shape : (H, W, C)
    num_classes : number of classes K; the output is a (n, K) softmax.
    seed : seeds Keras' initialisers (``keras.utils.set_random_seed``).
    dropout : dropout rate in [0, 1); 0 builds the plain variant.
    learning_rate : Adam's learning rate.
    """
    check_model_name(name)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    outputs = _BUILDERS[name](inputs, num_classes, dropout)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # XLA would recompile every fresh model each round; on CPU that costs
        # more than it saves for these small networks.
        jit_compile=False,
    )
    return model


@dataclass(frozen=True)
class TrainingConfig:
    """How a classifier is trained each round.

    ``patience`` set: stop after that many epochs without improvement of the
    monitored loss and restore the best weights (the MNIST protocol's "stop
    after 10 attempts without improvement"); ``epochs`` is then the cap. The
    monitored loss is the validation loss when a validation set is given, else
    the training loss: a labeled validation set is a luxury in active learning
    and we never take one from the test set.
    """

    epochs: int = 20
    batch_size: int = 32
    patience: int | None = None
    learning_rate: float = 1e-3
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"training batch size must be >= 1, got {self.batch_size}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 (or unset), got {self.patience}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class FitResult:
    """What one training run did."""

    epochs: int
    seconds: float
    final_loss: float


class Classifier:
    """A Keras classifier that is retrained from the same initial state each round.

    Active learning retrains after every batch of new labels. Building a fresh
    model each round would re-trace Keras' training function (about a second
    per round on CPU); instead the model is built once and, before every fit,
    all its variables (weights, dropout seed state) and the optimizer's are
    restored to the snapshot taken at construction. The result is bit-for-bit
    the same as training a freshly built model with the same seed, and a round
    depends only on (config, seed, labeled set), never on earlier rounds — which
    keeps interrupted and resumed trials identical to uninterrupted ones.

    Parameters
    ----------
    model_name : {"cnn", "softmax", "mlp"}
    input_shape : (H, W, C)
    num_classes : K
    training : TrainingConfig
    seed : initialises the weights; each fit reseeds with ``seed`` and its own
        ``fit_seed`` for shuffling and dropout.
    """

    def __init__(
        self,
        model_name: str,
        input_shape: tuple[int, int, int],
        num_classes: int,
        *,
        training: TrainingConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.training = training or TrainingConfig()
        self.num_classes = num_classes
        self.model = build_model(
            model_name,
            input_shape,
            num_classes,
            seed=seed,
            dropout=self.training.dropout,
            learning_rate=self.training.learning_rate,
        )
        self.model.optimizer.build(self.model.trainable_variables)
        self._snapshot = [v.numpy() for v in self.model.variables]
        self._optimizer_snapshot = [v.numpy() for v in self.model.optimizer.variables]
        self.trained = False

    def reset(self) -> None:
        """Restore the initial weights and optimizer state."""
        for variable, value in zip(self.model.variables, self._snapshot, strict=True):
            variable.assign(value)
        for variable, value in zip(
            self.model.optimizer.variables, self._optimizer_snapshot, strict=True
        ):
            variable.assign(value)
        self.trained = False

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        fit_seed: int = 0,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitResult:
        """Reset, then train on ``x`` (n, H, W, C) float32 and ``y`` (n,) int."""
        import keras

        if len(x) == 0:
            raise ConfigError("cannot train on an empty labeled set; give at least one label")
        self.reset()
        keras.utils.set_random_seed(fit_seed)
        callbacks = []
        if self.training.patience is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss" if validation is not None else "loss",
                    patience=self.training.patience,
                    restore_best_weights=True,
                )
            )
        start = time.perf_counter()
        history = self.model.fit(
            x,
            y,
            epochs=self.training.epochs,
            batch_size=self.training.batch_size,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        self.trained = True
        losses = history.history.get("loss", [float("nan")])
        return FitResult(epochs=len(losses), seconds=seconds, final_loss=float(losses[-1]))

    def predict_proba(self, x: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities (n, K) float32 for images ``x`` (n, H, W, C)."""
        if len(x) == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), np.float32)

    def evaluate(
        self, x: np.ndarray, y: np.ndarray, *, batch_size: int = PREDICT_BATCH
    ) -> tuple[float, float]:
        """``(accuracy, loss)`` on ``x`` (n, H, W, C), ``y`` (n,)."""
        loss, accuracy = self.model.evaluate(x, y, batch_size=batch_size, verbose=0)
        return float(accuracy), float(loss)
