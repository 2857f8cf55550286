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

One module per concern: :mod:`~al_core.models.runtime` (thread pools, determinism),
:mod:`~al_core.models.architectures` (builders, transfer weights, :func:`build_model`),
:mod:`~al_core.models.training` (defaults, :class:`TrainingConfig`, seeding) and
:mod:`~al_core.models.classifier` (:class:`Classifier`, inference).
"""

from __future__ import annotations

from al_core.models.architectures import (
    BAYESIAN_DROPOUT,
    BAYESIAN_MODEL,
    BAYESIAN_VALID_MIN_SIDE,
    FINE_TUNE_LR_FACTOR,
    FINE_TUNE_STEP_FACTOR,
    IMAGENET,
    MOBILENET_V2_WEIGHTS_URL,
    MODELS,
    TRANSFER_ALPHA,
    TRANSFER_BASE,
    TRANSFER_MIN_SIZE,
    build_model,
    check_model_name,
    check_weights_file,
    imagenet_weights_file,
    keras_models_dir,
    set_base_trainable,
    transfer_base,
)
from al_core.models.classifier import (
    PREDICT_BATCH,
    Classifier,
)
from al_core.models.runtime import (
    configure_runtime,
)
from al_core.models.training import (
    MODEL_DEFAULTS,
    STEPS_PER_EXECUTION,
    FitResult,
    ModelDefaults,
    TrainingConfig,
    defaults_text,
    fit_steps,
    repeated_batches,
    seed_fit,
    training_defaults,
)

__all__ = [
    "BAYESIAN_DROPOUT",
    "BAYESIAN_MODEL",
    "BAYESIAN_VALID_MIN_SIDE",
    "Classifier",
    "FINE_TUNE_LR_FACTOR",
    "FINE_TUNE_STEP_FACTOR",
    "FitResult",
    "IMAGENET",
    "MOBILENET_V2_WEIGHTS_URL",
    "MODELS",
    "MODEL_DEFAULTS",
    "ModelDefaults",
    "PREDICT_BATCH",
    "STEPS_PER_EXECUTION",
    "TRANSFER_ALPHA",
    "TRANSFER_BASE",
    "TRANSFER_MIN_SIZE",
    "TrainingConfig",
    "build_model",
    "check_model_name",
    "check_weights_file",
    "configure_runtime",
    "defaults_text",
    "fit_steps",
    "imagenet_weights_file",
    "keras_models_dir",
    "repeated_batches",
    "seed_fit",
    "set_base_trainable",
    "training_defaults",
    "transfer_base",
]
