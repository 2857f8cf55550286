"""Consistent Monte-Carlo dropout: each pass is one sampled network (real Keras models)."""

from __future__ import annotations

import numpy as np
import pytest

from al_core import strategies
from al_core.datasets import load_dataset
from al_core.errors import ConfigError
from al_core.loop import TrialConfig, initial_indices
from al_core.mc_dropout import ConsistentMC
from al_core.models import Classifier, TrainingConfig


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits) -> Classifier:
    """The dropout CNN of the Monte-Carlo strategies, trained on 40 balanced labels."""
    config = TrialConfig(
        model="cnn", dropout=0.5, initial=40, initial_mode="balanced", min_steps=150, seed=0
    )
    first = initial_indices(config, digits.y_pool)
    classifier = Classifier("cnn", digits.image_shape, 10, training=config.training(), seed=0)
    classifier.fit(digits.x_pool[first], digits.y_pool[first], fit_seed=0)
    return classifier


def test_one_network_per_pass_across_prediction_batches(digits, trained) -> None:
    x = digits.x_pool[:12]
    # Rows 12-23 repeat rows 0-11; rows 24-29 are six copies of row 5.
    images = np.concatenate([x, x, np.repeat(x[5:6], 6, axis=0)])
    # 8 passes, 16 rows per call: 2 images per call, so copies fall in other batches.
    mc = trained.predict_mc(images, 8, seed=(3, 1), batch_size=16)
    assert mc.shape == (8, 30, 10) and mc.dtype == np.float32
    np.testing.assert_allclose(mc.sum(axis=2), 1.0, rtol=1e-5)
    # Within a pass, the same image gives the same prediction wherever it falls
    # (up to float rounding of different batch shapes).
    np.testing.assert_allclose(mc[:, 12:24], mc[:, :12], atol=1e-6)
    np.testing.assert_allclose(mc[:, 24:], np.repeat(mc[:, 5:6], 6, axis=1), atol=1e-6)
    # Two passes are two different networks.
    assert np.abs(mc[0] - mc[1]).max() > 1e-2
    # The batch size changes nothing; the passes are reproducible from the seed,
    # and pass t does not depend on how many passes are drawn.
    np.testing.assert_allclose(trained.predict_mc(images, 8, seed=(3, 1)), mc, atol=1e-6)
    np.testing.assert_allclose(trained.predict_mc(images, 3, seed=(3, 1)), mc[:3], atol=1e-6)
    other = trained.predict_mc(images, 8, seed=(3, 2))
    assert np.abs(other - mc).max() > 1e-2, "another round draws other networks"


def test_per_example_masks_would_differ(digits, trained) -> None:
    """The reason for this module: Keras' Dropout in training mode draws a mask per
    example, so six copies of one image get six different predictions in one pass."""
    copies = np.repeat(digits.x_pool[5:6], 6, axis=0)
    per_example = np.asarray(trained.model(copies, training=True))
    assert np.abs(per_example - per_example[0]).max() > 1e-3
    consistent = trained.predict_mc(copies, 1, seed=(0,))[0]
    np.testing.assert_allclose(consistent, np.repeat(consistent[:1], 6, axis=0), atol=1e-6)


def test_masks_keep_the_dropout_rate(trained) -> None:
    mc = ConsistentMC(trained.model, 20)
    masks = mc.draw_masks((1, 2))
    # The CNN drops dropout / 2 after its convolutions and dropout before its output.
    assert [m.shape for m in masks] == [(20, 2, 2, 64), (20, 128)]
    assert mc.rates == [0.25, 0.5]
    for mask, rate in zip(masks, mc.rates, strict=True):
        values = np.unique(mask)
        assert values.tolist() == [0.0, pytest.approx(1 / (1 - rate))]
        assert np.mean(mask == 0) == pytest.approx(rate, abs=0.03)
        assert not np.array_equal(mask[0], mask[1])
    np.testing.assert_array_equal(masks[1], mc.draw_masks((1, 2))[1])


def test_bald_scores_of_exact_copies_are_equal(digits, trained) -> None:
    pool = digits.x_pool[:300]
    top = np.argsort(-strategies.bald(trained.predict_mc(pool, 20, seed=(0, 1))))[:3]
    with_copies = np.concatenate([pool, pool[top]])  # rows 300-302 copy the top three
    scores = strategies.bald(trained.predict_mc(with_copies, 20, seed=(0, 1), batch_size=256))
    np.testing.assert_allclose(scores[300:], scores[top], atol=1e-6)
    assert scores[top].min() > 0.1


def test_batchbald_avoids_copies_that_bald_takes(digits, trained) -> None:
    """Whole digits pool plus copies of its three most informative images: BALD's top
    ten takes every copy, BatchBALD's greedy joint batch fewer, and a copy's gain given
    its original equals the exact I(y_copy; w | y_original) from the passes.

    Fewer, not none: a copy's label is a second draw from the same passes, and with
    a 40-label model's soft passes it still carries about half the original's
    information, so late in a batch a copy can beat what is left."""
    pool = digits.x_pool
    n = len(pool)
    top = np.argsort(-strategies.bald(trained.predict_mc(pool, 20, seed=(0, 7))))[:3]
    images = np.concatenate([pool, pool[top]])
    mc = trained.predict_mc(images, 20, seed=(0, 7))
    copies = {int(t): n + j for j, t in enumerate(top)}
    bald_top = set(strategies.top_k(strategies.bald(mc), 10).tolist())
    assert set(copies.values()) <= bald_top  # BALD takes every copy
    picks, gains = strategies.batchbald(mc, 10, rng=np.random.default_rng(0))
    taken = set(picks.tolist()) & set(copies.values())
    assert len(taken) < len(copies), f"BatchBALD took every copy: {sorted(taken)}"
    # The gain of a copy after its original: exact, from the 20 passes.
    first = int(picks[0])
    p = mc[:, first, :].astype(np.float64)  # (T, K)
    joint = np.einsum("ta,tb->ab", p, p) / len(p)  # p(y1 = a, y2 = b)
    h_joint = -np.sum(joint * np.log(joint))
    h_first = -np.sum(joint.sum(axis=1) * np.log(joint.sum(axis=1)))
    expected_h = -np.mean(np.sum(p * np.log(p), axis=1))
    copy_gain = h_joint - h_first - expected_h
    pair_picks, pair_gains = strategies.batchbald(
        mc[:, [first, copies[first]]], 2, rng=np.random.default_rng(0)
    )
    assert pair_gains[1] == pytest.approx(copy_gain, abs=1e-5)
    # Worth less than the original; and the greedy's second pick, chosen with the copy
    # among the candidates, gained at least as much.
    assert copy_gain < gains[0] and copy_gain <= gains[1] + 1e-6


def test_a_forward_call_gets_at_most_batch_size_rows_across_the_passes() -> None:
    """``batch_size`` bounds the rows of one call after the fan-out (T passes x b images),
    so memory does not grow with the passes; at least one image per call. A layer after
    the Dropout writes the rows of its call into every output row."""
    import keras
    from keras import ops

    class CallRows(keras.layers.Layer):
        """(r, f) -> (r, 2), every entry r: the rows this call received."""

        def call(self, x):
            return ops.ones_like(x[:, :2]) * ops.cast(ops.shape(x)[0], "float32")

    inputs = keras.Input((6,))
    dropped = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(inputs))
    mc = ConsistentMC(keras.Model(inputs, CallRows()(dropped)), 4)
    x = np.random.default_rng(0).random((21, 6)).astype(np.float32)
    for batch_size in (8, 10, 30, 3):
        rows = mc.predict(x, (0,), batch_size=batch_size)[..., 0]  # (T, n): rows per call
        assert rows.shape == (4, 21)
        # Every pass of an image goes through the same call.
        assert (rows == rows[0]).all()
        assert rows.max() <= max(batch_size, 4), batch_size  # 4 rows: one image, 4 passes
        assert rows.min() >= 4


def test_refuses_what_it_cannot_sample(digits) -> None:
    import keras

    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    dropped = keras.layers.Dropout(0.5)(flat)
    # A skip connection around the Dropout: the layers after it are not a chain.
    merged = keras.layers.Concatenate()([dropped, flat])
    outputs = keras.layers.Dense(10, activation="softmax")(merged)
    with pytest.raises(ConfigError, match="chain"):
        ConsistentMC(keras.Model(inputs, outputs), 4)
    model = Classifier("cnn", digits.image_shape, 10, training=TrainingConfig(dropout=0.5))
    with pytest.raises(ConfigError, match="passes"):
        model.predict_mc(digits.x_pool[:5], 0)
    with pytest.raises(ConfigError, match="seeds"):
        model.predict_mc(digits.x_pool[:5], 2, seed=(-1,))
