"""The architectures (``cnn``, ``softmax``, ``mlp``, ``transfer``), the transfer base and
its weights (a file, or Keras' ImageNet download), and :func:`build_model`."""

from __future__ import annotations

import contextlib
import random
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from al_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras


MODELS: tuple[str, ...] = ("cnn", "softmax", "mlp", "transfer", "bayesian_cnn")

#: The Bayesian network (:func:`_bayesian_cnn`): the default model of every strategy that
#: scores with Monte-Carlo dropout.
BAYESIAN_MODEL = "bayesian_cnn"
#: Its dropout rate, the BatchBALD paper's, when none is given.
BAYESIAN_DROPOUT = 0.5
#: Images smaller than this on either side (the paper's 28x28 MNIST) get "same"-padded
#: convolutions: two valid 5x5 convolutions and two 2x2 poolings need at least 16x16.
BAYESIAN_VALID_MIN_SIDE = 28
#: The paper's kernel size (5x5), used wherever the feature map is at least that wide.
BAYESIAN_KERNEL = 5


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


def bayesian_kernel(side: int) -> int:
    """The Bayesian CNN's kernel size over a feature map ``side`` pixels on its shorter
    side: the paper's 5 where the map is at least 5 wide, else 3."""
    return BAYESIAN_KERNEL if side >= BAYESIAN_KERNEL else 3


def _bayesian_cnn(inputs: Any, num_classes: int, dropout: float) -> Any:
    """The BatchBALD paper's MNIST network (Kirsch et al. 2019, ``src/mnist_model.py``).

    conv 5x5 32 → channel dropout → max-pool 2 → conv 5x5 64 → channel dropout →
    max-pool 2 → dense 128 → dropout → softmax, ReLUs, about 185 k weights on 28x28.
    Channel (spatial) dropout drops whole feature maps, so each Monte-Carlo pass is a
    network with different features, not only a different head. The paper orders
    conv → dropout → pool → ReLU; here each dropout follows the pooling and the
    ReLU. Dropping a channel multiplies it by 0 or ``1/(1-p)`` >= 0, which commutes
    with max-pooling and ReLU, so both orders compute the same function for the same
    masks; pooling first gives the Monte-Carlo fan-out 4x fewer rows. Images smaller
    than :data:`BAYESIAN_VALID_MIN_SIDE` on a side (8x8 digits) get "same" padding
    (8x8 → 4x4 → 2x2 features), larger ones the paper's valid convolutions. The paper's 5x5
    kernel is used where the map it slides over is at least 5 wide, 3x3 elsewhere
    (:func:`bayesian_kernel`): on 8x8 digits the second convolution is 3x3 over the 4x4
    map, where a 5x5 one would mostly multiply padding and cost 2.8x the arithmetic
    (docs/benchmarks.md, "A 3x3 second convolution on 8x8 digits").
    """
    from keras import layers

    height, width = inputs.shape[1], inputs.shape[2]
    padding = "valid" if min(height, width) >= BAYESIAN_VALID_MIN_SIDE else "same"
    x = inputs
    for filters in (32, 64):
        kernel = bayesian_kernel(min(x.shape[1], x.shape[2]))
        x = layers.Conv2D(filters, kernel, padding=padding, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        if dropout:
            x = layers.SpatialDropout2D(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="embedding")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


_BUILDERS: dict[str, Callable[[Any, int, float], Any]] = {
    "cnn": _cnn,
    "bayesian_cnn": _bayesian_cnn,
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
    name : {"cnn", "softmax", "mlp", "transfer", "bayesian_cnn"}
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
