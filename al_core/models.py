"""Keras model builders and the training / prediction helpers the loop uses.

Three architectures, all ending in a softmax over the classes:

- ``cnn``: the seed CNN of the uncertainty-fraction protocol,
  Conv2D 32 → Conv2D 64 → MaxPool → Flatten → Dense 128 → softmax.
- ``softmax``: softmax regression (one dense layer), as in the MNIST protocol.
- ``mlp``: Flatten → Dense 128 → Dense 64 → softmax.
- ``transfer``: a Keras Applications MobileNetV2 base (width 0.35, no top,
  global average pooling) under a new head Dense 128 → softmax. Grayscale
  images are repeated to three channels and images smaller than 32×32
  resized up inside the model. The base starts from random weights
  (``weights=None``), loads the file given as ``weights`` (e.g. Keras'
  ``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5``), or with
  ``weights="imagenet"`` has Keras download its published ImageNet weights into
  its cache ``$KERAS_HOME/models/`` (offline: an error names the file to place
  there, :func:`imagenet_weights_file`). Training freezes the base and trains the head,
  then unfreezes it and fine-tunes everything at a tenth of the learning rate.

The penultimate layer of every model is named ``embedding``: its output is
what :meth:`Classifier.embed` returns for the diversity strategies.

Every builder takes ``dropout``; with ``dropout > 0`` the model carries Dropout
layers (used by Monte-Carlo dropout strategies). TensorFlow is imported lazily
so that ``import al_core.models`` is cheap and worker processes decide their
thread counts before TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras

    from al_core.mc_dropout import ConsistentMC

MODELS: tuple[str, ...] = ("cnn", "softmax", "mlp", "transfer")

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

#: Name of the convolutional base inside a ``transfer`` model.
TRANSFER_BASE = "base"
#: MobileNetV2 width multiplier: 0.35 is the smallest with published weights.
TRANSFER_ALPHA = 0.35
#: MobileNetV2 needs inputs of at least 32×32; smaller images are resized up.
TRANSFER_MIN_SIZE = 32
#: Fine-tuning runs at this fraction of the head's learning rate …
FINE_TUNE_LR_FACTOR = 0.1
#: … for this fraction of the head's steps (passes, with patience).
FINE_TUNE_STEP_FACTOR = 0.5


def _transfer_size(input_shape: tuple[int, int, int]) -> tuple[int, int]:
    height, width, _ = input_shape
    return max(height, TRANSFER_MIN_SIZE), max(width, TRANSFER_MIN_SIZE)


def transfer_base(input_shape: tuple[int, int, int], weights: str | None = None) -> keras.Model:
    """The MobileNetV2 base of a ``transfer`` model for ``input_shape`` ``(H, W, C)``.

    ``weights=None`` initialises it at random; its weights file
    (``base.save_weights("x.weights.h5")``) is what ``--weights`` accepts, as is Keras'
    published no-top file of width 0.35. ``weights="imagenet"`` (:data:`IMAGENET`)
    has Keras load its published ImageNet weights through its own download and cache
    (``$KERAS_HOME/models/``, :func:`imagenet_weights_file`); offline and not cached,
    a :class:`ConfigError` names the file to place there.
    """
    import keras

    if weights == IMAGENET:
        return _imagenet_base(input_shape)
    return keras.applications.MobileNetV2(
        input_shape=(*_transfer_size(input_shape), 3),
        alpha=TRANSFER_ALPHA,
        include_top=False,
        weights=None,
        pooling="avg",
        name=TRANSFER_BASE,
    )


IMAGENET = "imagenet"
"""``weights`` value of a transfer model that loads Keras' published ImageNet weights."""
MOBILENET_V2_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)
"""Where Keras downloads MobileNetV2's published weights from."""
_IMAGENET_SIZES = (96, 128, 160, 192, 224)


def keras_models_dir() -> Path:
    """The folder Keras caches downloaded model weights in: ``$KERAS_HOME/models``
    (default ``~/.keras/models``; ``/tmp/.keras/models`` when that is not writable)."""
    from al_core.datasets.builtin import _keras_cache_dir

    return _keras_cache_dir().parent / "models"


def imagenet_weights_file(input_shape: tuple[int, int, int]) -> Path:
    """Where Keras looks for (and downloads to) the ImageNet weights of the transfer
    base for images of ``input_shape`` ``(H, W, C)``: Keras' file name for MobileNetV2
    of width 0.35 without top, at the size it picks (the input's side when square and
    one of 96, 128, 160, 192, 224; else 224), in :func:`keras_models_dir`."""
    rows, cols = _transfer_size(input_shape)
    size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    name = (
        f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(TRANSFER_ALPHA)}_{size}_no_top.h5"
    )
    return keras_models_dir() / name


def _imagenet_base(input_shape: tuple[int, int, int]) -> keras.Model:
    """MobileNetV2 with ``weights="imagenet"``: Keras downloads or reads its cache."""
    import keras

    target = imagenet_weights_file(input_shape)
    try:
        with warnings.catch_warnings():
            # Keras warns that it loads the 224x224 weights for other input sizes: the
            # convolutions' weights do not depend on the input size.
            warnings.filterwarnings("ignore", message="`input_shape` is undefined or non-square")
            return keras.applications.MobileNetV2(
                input_shape=(*_transfer_size(input_shape), 3),
                alpha=TRANSFER_ALPHA,
                include_top=False,
                weights=IMAGENET,
                pooling="avg",
                name=TRANSFER_BASE,
            )
    except Exception as exc:  # noqa: BLE001 - Keras raises bare Exception on failed downloads
        if target.is_file():
            raise ConfigError(
                f"the ImageNet weights file {target} is in Keras' cache but could not be "
                f"loaded ({type(exc).__name__}: {exc}); it may be truncated or not the "
                f"official file: delete it and run again online, or replace it with "
                f"{MOBILENET_V2_WEIGHTS_URL}{target.name}"
            ) from None
        raise ConfigError(
            f"the ImageNet weights of the transfer base could not be downloaded "
            f"({type(exc).__name__}: {exc}); this machine seems to be offline. Fix: download "
            f"{MOBILENET_V2_WEIGHTS_URL}{target.name} on a machine with internet and put it "
            f"at {target} (Keras' cache, $KERAS_HOME/models/, under that file name), or "
            "pass a weights file instead"
        ) from None


def check_weights_file(weights: str) -> Path | None:
    """The path of a transfer base's weights file, or :class:`ConfigError` if it is
    missing; ``None`` for :data:`IMAGENET` (Keras fetches those when the model is built)."""
    if weights == IMAGENET:
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"weights file {str(path)!r} does not exist; pass --weights with the path of a "
            f"MobileNetV2 (width {TRANSFER_ALPHA}, no top) weights file, or omit it to start "
            "from random weights"
        )
    return path


def _load_base_weights(base: keras.Model, weights: str) -> None:
    path = check_weights_file(weights)
    try:
        with warnings.catch_warnings():
            # Keras 3.15 walks a functional model's `_operations_by_depth` lists too and
            # warns once per list (about a hundred for MobileNetV2) that the file has no
            # group for it; the layers in them are loaded through `layers`, every weight
            # included (tests/test_transfer.py compares them all with the file).
            warnings.filterwarnings(
                "ignore",
                message="Skipping nested container at '_operations_by_depth/",
                category=UserWarning,
            )
            base.load_weights(str(path))
    except Exception as exc:  # Keras raises ValueError, OSError, KeyError … by format
        raise ConfigError(
            f"weights file {str(path)!r} does not fit the transfer base (MobileNetV2, width "
            f"{TRANSFER_ALPHA}, no top): {type(exc).__name__}: {exc}"
        ) from None


def set_base_trainable(base: keras.Model, trainable: bool) -> None:
    """Freeze or unfreeze a transfer base, keeping its batch normalisation frozen.

    A frozen BatchNormalization layer runs in inference mode in Keras 3, even
    in a ``training=True`` call (a ``training=False`` argument on the nested
    base is not honoured). Keeping them frozen protects the pretrained
    statistics from tiny labeled batches while fine-tuning, and keeps Monte-Carlo
    dropout passes stochastic only through Dropout.
    """
    from keras import layers

    base.trainable = trainable
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def _transfer(
    inputs: Any,
    input_shape: tuple[int, int, int],
    num_classes: int,
    dropout: float,
    weights: str | None,
) -> Any:
    from keras import layers

    channels = input_shape[2]
    x = inputs
    if channels == 1:
        x = layers.Concatenate(name="to_rgb")([x, x, x])
    elif channels != 3:
        raise ConfigError(
            f"the transfer model takes 1- or 3-channel images; got {channels} channels"
        )
    if _transfer_size(input_shape) != tuple(input_shape[:2]):
        x = layers.Resizing(*_transfer_size(input_shape), name="resize")(x)
    x = layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(x)  # [0, 1] → [-1, 1]
    base = transfer_base(input_shape, IMAGENET if weights == IMAGENET else None)
    if weights is not None and weights != IMAGENET:
        _load_base_weights(base, weights)
    set_base_trainable(base, False)
    x = base(x)
    x = layers.Dense(128, activation="relu", name="embedding")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a known architecture, else raise :class:`ConfigError`."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return name


_KERAS_SEEDS_LOCK = threading.Lock()


@contextlib.contextmanager
def _keras_seeds_from(seed: int) -> Iterator[None]:
    """While building a model, Keras draws its default seeds from a private ``random.Random(seed)``.

    Keras gives every unseeded initializer and every Dropout's ``SeedGenerator``
    a seed drawn from Python's *global* ``random`` (``make_default_seed`` in
    ``keras.src.random.seed_generator``). ``keras.utils.set_random_seed`` seeds
    it, but any other thread of the process that draws from it in between (a
    Dask worker's event loop does) shifts every later draw, and the same config
    and seed then start from different weights. The private generator gives
    exactly the sequence ``random.seed(seed)`` would, undisturbed by other
    threads. The lock keeps two builds in one process from sharing it.
    """
    from keras.src.random import seed_generator

    with _KERAS_SEEDS_LOCK:
        shared = seed_generator.python_random
        seed_generator.python_random = random.Random(seed)
        try:
            yield
        finally:
            seed_generator.python_random = shared


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    seed: int = 0,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    weights: str | None = None,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Build and compile a fresh classifier.

    Parameters
    ----------
    name : {"cnn", "softmax", "mlp", "transfer"}
    input_shape : (H, W, C)
    num_classes : number of classes K; the output is a (n, K) softmax.
    seed : seeds Keras' initialisers (``keras.utils.set_random_seed``).
    dropout : dropout rate in [0, 1); 0 builds the plain variant.
    learning_rate : Adam's learning rate.
    weights : path of the base's weights file (``transfer`` only).
    steps_per_execution : gradient steps per TensorFlow call (Keras' compile setting).
    """
    check_model_name(name)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    if weights is not None and name != "transfer":
        raise ConfigError(f"weights files are for --model transfer only; got model {name!r}")
    import keras

    keras.utils.set_random_seed(seed)
    with _keras_seeds_from(seed):
        inputs = keras.Input(shape=input_shape, name="image")
        if name == "transfer":
            outputs = _transfer(inputs, tuple(input_shape), num_classes, dropout, weights)
        else:
            outputs = _BUILDERS[name](inputs, num_classes, dropout)
        model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # XLA would recompile every fresh model each round; on CPU that costs
        # more than it saves for these small networks.
        jit_compile=False,
        steps_per_execution=steps_per_execution,
    )
    return model


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


def _scaled(value: int, factor: float, unit: int) -> int:
    """``value × factor`` rounded up to a multiple of ``unit`` (at least ``unit``)."""
    return max(unit, math.ceil(value * factor / unit) * unit)


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
