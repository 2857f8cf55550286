"""The :class:`Classifier` the loop trains every round: one compiled model per
configuration restored to its initial state before each fit, and batched inference."""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import ConfigError
from al_core.models.architectures import (
    FINE_TUNE_LR_FACTOR,
    FINE_TUNE_STEP_FACTOR,
    TRANSFER_BASE,
    build_model,
    set_base_trainable,
)
from al_core.models.training import (
    FitResult,
    TrainingConfig,
    repeated_batches,
    seed_fit,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras

    from al_core.mc_dropout import ConsistentMC

#: Rows per call when predicting; large batches amortise Keras' per-step overhead.
PREDICT_BATCH = 2048


def _scaled(value: int, factor: float, unit: int) -> int:
    """``value × factor`` rounded up to a multiple of ``unit`` (at least ``unit``)."""
    return max(unit, math.ceil(value * factor / unit) * unit)


def _in_batches(function: Callable[..., Any], batch_size: int, *arrays: np.ndarray) -> list[Any]:
    """``function`` on consecutive ``batch_size``-row slices of ``arrays``: the
    batches Keras' ``predict`` / ``evaluate`` make, hence the same numbers."""
    import tensorflow as tf

    n = len(arrays[0])
    return [
        function(*(tf.convert_to_tensor(a[i : i + batch_size]) for a in arrays))
        for i in range(0, n, batch_size)
    ]


def _inference(model: keras.Model) -> Callable[[Any], Any]:
    """``model(x, training=False)`` as a ``tf.function`` traced once per model.

    Keras' ``predict`` would do the same arithmetic but builds a ``tf.data``
    pipeline, an epoch iterator and callbacks per call and retraces for every
    new row count: 0.15–0.4 s per call on the digits CNN where the arithmetic
    takes 0.02 s.
    """
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


#: A finished classifier's compiled model, optimizers, embedding model, traced
#: functions and initial optimizer state, kept (one per configuration) for the
#: next classifier of the same configuration in this process: a sweep worker
#: then traces Keras' functions once, not once per trial (1–3 s each).
_IDLE: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_IDLE_LOCK = threading.Lock()


def _release(key: tuple[Any, ...], engine: tuple[Any, ...]) -> None:
    with _IDLE_LOCK:
        _IDLE.setdefault(key, engine)


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

    For the same reason a new classifier (not ``transfer``) takes over the
    compiled model of a garbage-collected one of the same architecture, shape,
    classes and training settings, if the process has one, and loads its own
    seed's initial weights (from a fresh build) into it: the same numbers as a
    model of its own, without tracing Keras' functions again.

    A ``transfer`` model trains in two phases per fit (head with the base
    frozen, then everything at ``FINE_TUNE_LR_FACTOR`` times the learning
    rate), each with its own optimizer, both restored by :meth:`reset`.

    Parameters
    ----------
    model_name : {"cnn", "softmax", "mlp", "transfer"}
    input_shape : (H, W, C)
    num_classes : K
    training : TrainingConfig
    seed : initialises the weights; each fit reseeds with ``seed`` and its own
        ``fit_seed`` for shuffling and dropout.
    weights : path of the base's weights file (``transfer`` only).
    """

    def __init__(
        self,
        model_name: str,
        input_shape: tuple[int, int, int],
        num_classes: int,
        *,
        training: TrainingConfig | None = None,
        seed: int = 0,
        weights: str | None = None,
    ) -> None:
        import keras

        self.training = (training or TrainingConfig()).for_model(model_name)
        self.num_classes = num_classes
        model = build_model(
            model_name,
            input_shape,
            num_classes,
            seed=seed,
            dropout=self.training.dropout,
            learning_rate=self.training.learning_rate,
            weights=weights,
            steps_per_execution=self.training.steps_per_execution,
        )
        self._mc: dict[int, ConsistentMC] = {}  # by pass count
        self._base: keras.Model | None = None
        key = (model_name, tuple(input_shape), num_classes, self.training)
        with _IDLE_LOCK:
            engine = _IDLE.pop(key, None) if model_name != "transfer" else None
        if engine is not None:
            self.model, self._optimizers, self._functions, self._optimizer_snapshot = engine
            self._snapshot = [v.numpy() for v in model.variables]
            self.reset()
            weakref.finalize(self, _release, key, engine)
            return
        self.model = model
        self.model.optimizer.build(self.model.trainable_variables)
        self._optimizers = [self.model.optimizer]
        if model_name == "transfer":
            self._base = self.model.get_layer(TRANSFER_BASE)
            set_base_trainable(self._base, True)
            fine_tune = keras.optimizers.Adam(self.training.learning_rate * FINE_TUNE_LR_FACTOR)
            fine_tune.build(self.model.trainable_variables)
            set_base_trainable(self._base, False)
            self._optimizers.append(fine_tune)
        # Cached tf.functions for prediction, embedding and evaluation (a compile
        # drops them: it makes new loss and metric objects).
        self._functions: dict[str, Callable[..., Any]] = {}
        self._snapshot = [v.numpy() for v in self.model.variables]
        self._optimizer_snapshot = [v.numpy() for o in self._optimizers for v in o.variables]
        self.trained = False
        if model_name != "transfer":  # its fits recompile: nothing to keep
            engine = (self.model, self._optimizers, self._functions, self._optimizer_snapshot)
            weakref.finalize(self, _release, key, engine)

    def reset(self) -> None:
        """Restore the initial weights and optimizer state."""
        for variable, value in zip(self.model.variables, self._snapshot, strict=True):
            variable.assign(value)
        optimizer_variables = [v for o in self._optimizers for v in o.variables]
        for variable, value in zip(optimizer_variables, self._optimizer_snapshot, strict=True):
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
        """Reset, then train on ``x`` (n, H, W, C) float32 and ``y`` (n,) int.

        Runs ``training.steps_for(n)`` gradient steps over the labeled set,
        reshuffled on every pass with ``fit_seed`` (see :class:`TrainingConfig`
        for the rule and for early stopping with ``patience``).
        """
        import keras

        if len(x) == 0:
            raise ConfigError("cannot train on an empty labeled set; give at least one label")
        self.reset()
        seed_fit(fit_seed)
        training = self.training
        n = len(x)
        batch = min(training.batch_size, n)
        steps = training.steps_for(n)
        per_pass = math.ceil(n / batch)
        batches = repeated_batches(x, y, batch, fit_seed)
        if training.patience is None:
            # One Keras epoch of all the steps: per-epoch overhead would dominate
            # when a pass over 20 labels is a single step.
            schedule = {"epochs": 1, "steps_per_epoch": steps}
            callbacks = []
            validation = None
        else:
            # Pass by pass, stopping on the monitored loss once the step floor is
            # reached; the epoch cap still allows at least the floor.
            floor_passes = math.ceil(training.min_steps / per_pass)
            schedule = {
                "epochs": max(training.epochs, floor_passes),
                "steps_per_epoch": per_pass,
            }
            callbacks = [
                keras.callbacks.EarlyStopping(
                    monitor="val_loss" if validation is not None else "loss",
                    patience=training.patience,
                    restore_best_weights=True,
                    start_from_epoch=floor_passes - 1,
                )
            ]
        start = time.perf_counter()
        phases = [(self._optimizers[0], 1.0)]
        if self._base is not None:
            phases.append((self._optimizers[1], FINE_TUNE_STEP_FACTOR))
        losses: list[float] = []
        for phase, (optimizer, factor) in enumerate(phases):
            if self._base is not None:
                # Changing what is trainable needs a fresh compile (and trace).
                set_base_trainable(self._base, phase == 1)
                self.model.compile(
                    optimizer=optimizer,
                    loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"],
                    jit_compile=False,
                    steps_per_execution=training.steps_per_execution,
                )
                self._functions.clear()
            phase_schedule = dict(schedule)
            if factor != 1.0:
                key = "steps_per_epoch" if training.patience is None else "epochs"
                unit = training.steps_per_execution if key == "steps_per_epoch" else 1
                phase_schedule[key] = _scaled(schedule[key], factor, unit)
            history = self.model.fit(
                batches,
                validation_data=validation,
                callbacks=callbacks,
                shuffle=False,  # the stream reshuffles every pass itself
                verbose=0,
                **phase_schedule,
            )
            losses += history.history.get("loss", [])
        # What the optimizers counted, not what the schedule asked for: a fit that
        # ran short shows it.
        steps_run = sum(int(optimizer.iterations.numpy()) for optimizer in self._optimizers)
        seconds = time.perf_counter() - start
        self.trained = True
        final_loss = float(losses[-1]) if losses else float("nan")
        return FitResult(
            epochs=math.ceil(steps_run / per_pass),
            steps=steps_run,
            seconds=seconds,
            final_loss=final_loss,
        )

    def predict_proba(self, x: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities (n, K) float32 for images ``x`` (n, H, W, C)."""
        if len(x) == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        if "predict" not in self._functions:
            self._functions["predict"] = _inference(self.model)
        parts = _in_batches(self._functions["predict"], batch_size, x)
        return np.concatenate([np.asarray(p, np.float32) for p in parts])

    def predict_mc(
        self,
        x: np.ndarray,
        passes: int,
        *,
        seed: Sequence[int] = (0,),
        batch_size: int = PREDICT_BATCH,
    ) -> np.ndarray:
        """Consistent Monte-Carlo dropout: ``passes`` sampled networks, (T, n, K) float32.

        Pass ``t`` applies one dropout mask per Dropout layer to every image of
        ``x`` (n, H, W, C), in every prediction batch: it is one network drawn
        from the dropout posterior, which BatchBALD's joint scores need (see
        :mod:`al_core.mc_dropout`). The masks are drawn from ``(*seed, t)``; the
        loop passes ``(trial seed, round)``. ``batch_size`` bounds the rows per
        call across all passes. With no Dropout layer every pass is the same
        (BALD would be 0): build the model with ``dropout > 0``.
        """
        from al_core.mc_dropout import ConsistentMC

        if passes not in self._mc:
            self._mc[passes] = ConsistentMC(self.model, passes)
        return self._mc[passes].predict(x, seed, batch_size=batch_size)

    def embed(self, x: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Penultimate-layer features (the layer named ``embedding``), shape (n, d) float32."""
        import keras

        layer = self.model.get_layer("embedding")
        if len(x) == 0:
            return np.zeros((0, int(layer.output.shape[-1])), dtype=np.float32)
        if "embed" not in self._functions:
            self._functions["embed"] = _inference(keras.Model(self.model.inputs, layer.output))
        parts = _in_batches(self._functions["embed"], batch_size, x)
        return np.concatenate([np.asarray(p, np.float32) for p in parts]).reshape(len(x), -1)

    def evaluate(
        self, x: np.ndarray, y: np.ndarray, *, batch_size: int = PREDICT_BATCH
    ) -> tuple[float, float]:
        """``(accuracy, loss)`` on ``x`` (n, H, W, C), ``y`` (n,).

        Runs Keras' own ``test_step`` on the batches ``model.evaluate`` would
        make, from reset metrics, so the figures are ``evaluate``'s bit for bit
        without its per-call pipeline, iterator and callbacks.
        """
        import tensorflow as tf

        if len(x) == 0:
            loss, accuracy = self.model.evaluate(x, y, batch_size=batch_size, verbose=0)
            return float(accuracy), float(loss)
        if "evaluate" not in self._functions:
            model = self.model
            self._functions["evaluate"] = tf.function(
                lambda images, labels: model.test_step((images, labels)), reduce_retracing=True
            )
        self.model.reset_metrics()
        _in_batches(self._functions["evaluate"], batch_size, x, y)
        logs = self.model.get_metrics_result()
        return float(logs["accuracy"]), float(logs["loss"])
