"""Consistent Monte-Carlo dropout: each pass is one sampled network.

BALD, variation ratios and BatchBALD read the T Monte-Carlo passes as T networks
``w_t`` drawn from the approximate posterior; BatchBALD multiplies ``p(y_i | x_i,
w_t)`` over the images of a batch, which only means something when every image
of pass ``t`` went through the same ``w_t``. Keras' ``Dropout`` called with
``training=True`` draws a new mask for every example, so two copies of one image
would be judged by two unrelated networks and a second copy would look as
informative as the first. Here, as in the BatchBALD authors' code
(``ConsistentMCDropout``), pass ``t`` applies one mask per Dropout layer to every
example and every prediction batch of that pass.

How: the model is cloned with each ``Dropout`` replaced by a ``PassMask``
layer that multiplies by the pass's stored keep-mask (0 or ``1 / (1 - rate)``
per feature, as inverted dropout scales; per channel for ``SpatialDropout2D``,
which drops whole feature maps), sharing every other layer, so the
clone always sees the model's current weights. Everything before the first
Dropout is the same in every pass and runs once per image: the first mask layer
fans its input out to the T passes (batch ``b`` → ``T · b`` rows), and the
layers after it score all passes at once. That needs the model to be a chain
from its first Dropout on, which every builder in :mod:`al_core.models` is;
another shape is refused. Masks are drawn with NumPy from the caller's seed
(the loop passes its trial seed and round) and the pass index, so a round's
passes are reproducible. Training-time dropout is untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from al_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras


@functools.cache
def _pass_mask_class() -> type:
    """The ``PassMask`` layer class, defined on first use (importing Keras is slow)."""
    import keras

    class PassMask(keras.layers.Layer):
        """Multiplies by the keep-mask of each Monte-Carlo pass.

        ``keep`` is a (T, *feature_shape) non-trainable variable, or (T, 1, …, 1,
        C) with ``channel_wise`` (one keep per feature map, as ``SpatialDropout``
        drops). The first mask layer of a model (``fan_out=True``) takes (b, *f)
        inputs and returns (T · b, *f), pass-major; later ones take and return
        (T · b, *f).
        """

        def __init__(
            self, rate: float, passes: int, fan_out: bool, channel_wise: bool, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.rate = float(rate)
            self.passes = int(passes)
            self.fan_out = bool(fan_out)
            self.channel_wise = bool(channel_wise)

        def build(self, input_shape: Sequence[int | None]) -> None:
            features = tuple(input_shape[1:])
            if self.channel_wise:
                features = (1,) * (len(features) - 1) + features[-1:]
            self.keep = self.add_weight(
                shape=(self.passes, *features),
                initializer="ones",
                trainable=False,
                name="keep",
            )

        def call(self, x: Any) -> Any:
            from keras import ops

            features = tuple(x.shape[1:])
            if self.fan_out:
                grouped = ops.expand_dims(x, 0)  # (1, b, *f)
            else:
                grouped = ops.reshape(x, (self.passes, -1, *features))  # (T, b, *f)
            masked = grouped * ops.expand_dims(self.keep, 1)
            return ops.reshape(masked, (-1, *features))

        def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
            return (None, *input_shape[1:])

    return PassMask


def dropout_layers(model: keras.Model) -> list[Any]:
    """The model's ``Dropout`` layers (spatial ones included), in graph order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


def _is_spatial(layer: Any) -> bool:
    """Whether a Dropout layer drops whole feature maps (``SpatialDropout1D/2D/3D``)."""
    from keras import layers

    spatial = (layers.SpatialDropout1D, layers.SpatialDropout2D, layers.SpatialDropout3D)
    return isinstance(layer, spatial)


def _check_chain_after(model: keras.Model, first: Any) -> None:
    """Refuse a model that is not a single chain from ``first`` to its output."""
    layers = model.layers
    start = layers.index(first)
    previous = first
    for layer in layers[start + 1 :]:
        if layer.input is not previous.output:
            raise ConfigError(
                f"consistent Monte-Carlo dropout needs the layers after the first Dropout "
                f"({first.name!r}) to form a chain; {layer.name!r} does not take "
                f"{previous.name!r}'s output. Build the model with al_core.models.build_model"
            )
        previous = layer
    if previous.output is not model.outputs[0] or len(model.outputs) != 1:
        raise ConfigError("consistent Monte-Carlo dropout needs a model with a single output")


class ConsistentMC:
    """T-pass Monte-Carlo predictions of ``model`` with one dropout mask per pass.

    Parameters
    ----------
    model : keras.Model
        A functional classifier whose output is (n, K) probabilities. It is not
        changed; the clone shares its layers (and so its current weights).
    passes : int
        T, the number of sampled networks per call.
    """

    def __init__(self, model: keras.Model, passes: int) -> None:
        import keras
        import tensorflow as tf

        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ConfigError(f"Monte-Carlo passes must be an integer >= 1, got {passes!r}")
        self.passes = passes
        dropouts = dropout_layers(model)
        self.rates = [float(layer.rate) for layer in dropouts]
        self.masks: list[Any] = []
        if dropouts:
            _check_chain_after(model, dropouts[0])
            mask_class = _pass_mask_class()
            replacement = {
                id(layer): mask_class(
                    layer.rate,
                    passes,
                    fan_out=(i == 0),
                    channel_wise=_is_spatial(layer),
                    name=f"{layer.name}_pass_mask",
                )
                for i, layer in enumerate(dropouts)
            }

            def clone(layer: Any) -> Any:
                return replacement.get(id(layer), layer)

            network = keras.models.clone_model(model, clone_function=clone)
            self.masks = [network.get_layer(r.name) for r in replacement.values()]
        else:
            network = model
        self.network = network
        # Traced once as a graph: eager calls would dispatch op by op.
        self._forward = tf.function(
            lambda batch: network(batch, training=False),
            reduce_retracing=True,
            autograph=False,  # a plain call: nothing for AutoGraph to convert
        )

    def draw_masks(self, seed: Sequence[int]) -> list[np.ndarray]:
        """Keep-masks of every pass for each Dropout layer, reproducible from ``seed``.

        Pass ``t`` of layer ``l`` is drawn from ``SeedSequence([*seed, t])`` (layers
        in graph order from one generator per pass), so a pass does not depend on
        how many passes are drawn. Returns one (T, *feature_shape) float32 array per
        layer (T, 1, …, 1, C for channel dropout) with entries 0 or ``1 / (1 - rate)``.
        """
        out = [np.empty(tuple(m.keep.shape), dtype=np.float32) for m in self.masks]
        for t in range(self.passes):
            rng = np.random.default_rng(np.random.SeedSequence([*seed, t]))
            for array, rate in zip(out, self.rates, strict=True):
                keep = rng.random(array.shape[1:]) >= rate
                array[t] = keep / np.float32(1.0 - rate)
        return out

    def predict(self, x: np.ndarray, seed: Sequence[int], *, batch_size: int) -> np.ndarray:
        """Probabilities of ``x`` (n, H, W, C) under each pass: (T, n, K) float32.

        ``batch_size`` bounds the rows after the fan-out (T · b); at least one
        image per call.
        """
        import keras

        seed = [int(s) for s in seed]
        if any(s < 0 for s in seed):
            raise ConfigError(f"Monte-Carlo seeds must be >= 0, got {seed}")
        for layer, mask in zip(self.masks, self.draw_masks(seed), strict=True):
            layer.keep.assign(mask)
        classes = int(self.network.outputs[0].shape[-1])
        out = np.empty((self.passes, len(x), classes), dtype=np.float32)
        if not self.masks:  # no Dropout: every pass is the same network
            if len(x):
                out[:] = self.network.predict(x, batch_size=batch_size, verbose=0)[None]
            return out
        rows = max(1, batch_size // self.passes)
        for start in range(0, len(x), rows):
            batch = x[start : start + rows]
            probs = keras.ops.convert_to_numpy(self._forward(batch))
            out[:, start : start + len(batch)] = probs.reshape(self.passes, len(batch), -1)
        return out
