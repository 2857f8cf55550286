"""Model builders and the classifier that restarts from the same weights each round."""

from __future__ import annotations

import numpy as np
import pytest

from al_core.errors import ConfigError
from al_core.models import Classifier, TrainingConfig, build_model


@pytest.mark.parametrize("name", ["cnn", "softmax", "mlp"])
def test_builders_output_a_softmax_over_the_classes(name):
    model = build_model(name, (8, 8, 1), 7, dropout=0.3)
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    probs = np.asarray(model(x))
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_seed_cnn_has_the_protocol_layers():
    model = build_model("cnn", (28, 28, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [32, 64]
    assert model.get_layer("embedding").units == 128


def test_reset_training_equals_a_fresh_model_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, 60)
    training = TrainingConfig(epochs=3, dropout=0.25)
    reused = Classifier("cnn", (8, 8, 1), 10, training=training, seed=3)
    reused.fit(x[:30], y[:30], fit_seed=1)  # train once on something else
    reused.fit(x, y, fit_seed=7)
    fresh = Classifier("cnn", (8, 8, 1), 10, training=training, seed=3)
    fresh.fit(x, y, fit_seed=7)
    np.testing.assert_array_equal(reused.predict_proba(x), fresh.predict_proba(x))


def test_patience_stops_early_and_caps_at_epochs():
    rng = np.random.default_rng(0)
    x = rng.random((40, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    val = (rng.random((40, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 40))
    patient = Classifier("mlp", (8, 8, 1), 10, training=TrainingConfig(epochs=200, patience=2))
    result = patient.fit(x, y, validation=val)  # random labels: validation loss soon rises
    assert 3 <= result.epochs < 200
    capped = Classifier("softmax", (8, 8, 1), 10, training=TrainingConfig(epochs=4))
    assert capped.fit(x, y).epochs == 4


def test_empty_training_set_and_bad_settings_are_refused():
    classifier = Classifier("softmax", (8, 8, 1), 10)
    with pytest.raises(ConfigError, match="empty labeled set"):
        classifier.fit(np.zeros((0, 8, 8, 1), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ConfigError, match="dropout"):
        TrainingConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("vgg", (8, 8, 1), 10)
