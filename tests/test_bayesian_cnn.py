"""The BatchBALD paper's network (``bayesian_cnn``): channel dropout sampled consistently,
test accuracy as the mean of the Monte-Carlo passes, and the defaults that pick it."""

from __future__ import annotations

import numpy as np
import pytest

from al_core import forms, labeling
from al_core.datasets import load_dataset
from al_core.loop import ActiveLearner, TrialConfig, initial_indices, mc_mean_metrics, run_loop
from al_core.models import BAYESIAN_MODEL, Classifier, build_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits) -> Classifier:
    """The Bayesian CNN trained on 40 balanced digits labels."""
    config = TrialConfig(model=BAYESIAN_MODEL, initial=40, initial_mode="balanced", min_steps=150)
    first = initial_indices(config, digits.y_pool)
    classifier = Classifier(BAYESIAN_MODEL, digits.image_shape, 10, training=config.training())
    classifier.fit(digits.x_pool[first], digits.y_pool[first], fit_seed=0)
    return classifier


def test_the_papers_layers_and_size() -> None:
    """28x28: two valid 5x5 convolutions (32, 64 maps), channel dropout after each, dense
    128 with dropout, ~185 k weights as the paper's; 8x8 gets "same" padding instead, and
    a 3x3 second convolution over its 4x4 map."""
    mnist = build_model(BAYESIAN_MODEL, (28, 28, 1), 10, dropout=0.5)
    kinds = [type(layer).__name__ for layer in mnist.layers]
    assert kinds.count("SpatialDropout2D") == 2 and kinds.count("Dropout") == 1
    convs = [layer for layer in mnist.layers if type(layer).__name__ == "Conv2D"]
    assert [c.kernel_size for c in convs] == [(5, 5), (5, 5)]
    assert [c.filters for c in convs] == [32, 64]
    assert all(c.padding == "valid" for c in convs)
    assert mnist.count_params() == 832 + 51_264 + 131_200 + 1_290  # = 184,586
    small = build_model(BAYESIAN_MODEL, (8, 8, 1), 10, dropout=0.5)
    small_convs = [layer for layer in small.layers if type(layer).__name__ == "Conv2D"]
    assert all(c.padding == "same" for c in small_convs)
    assert [c.kernel_size for c in small_convs] == [(5, 5), (3, 3)]
    assert small.get_layer("embedding").input.shape[-1] == 2 * 2 * 64
    assert small.count_params() == 832 + 18_496 + 32_896 + 1_290  # = 53,514


def test_channel_masks_one_network_per_pass_across_prediction_batches(digits, trained) -> None:
    x = digits.x_pool[:12]
    images = np.concatenate([x, x, np.repeat(x[5:6], 6, axis=0)])
    # 8 passes, 16 rows per call: 2 images per call, so copies fall in other batches.
    mc = trained.predict_mc(images, 8, seed=(3, 1), batch_size=16)
    np.testing.assert_allclose(mc[:, 12:24], mc[:, :12], atol=1e-6)
    np.testing.assert_allclose(mc[:, 24:], np.repeat(mc[:, 5:6], 6, axis=1), atol=1e-6)
    assert np.abs(mc[0] - mc[1]).max() > 1e-2
    np.testing.assert_allclose(trained.predict_mc(images, 8, seed=(3, 1)), mc, atol=1e-6)


def test_channel_masks_drop_whole_feature_maps(trained) -> None:
    """The convolutions' masks hold one keep per channel (0 or 1 / (1 - p)), about half
    kept; the dense layer's one per unit."""
    trained.predict_mc(np.zeros((1, 8, 8, 1), np.float32), 50, seed=(0, 0))
    masks = [np.asarray(m.keep) for m in trained._mc[50].masks]
    assert [m.shape for m in masks] == [(50, 1, 1, 32), (50, 1, 1, 64), (50, 128)]
    for mask in masks:
        assert set(np.unique(mask)) == {0.0, 2.0}
        assert 0.4 < (mask > 0).mean() < 0.6


def test_stored_test_accuracy_is_the_mean_of_the_passes(digits) -> None:
    """The loop stores the MC-mean accuracy; recomputed here from the passes with NumPy."""
    config = TrialConfig(
        model=BAYESIAN_MODEL, initial=30, batch=10, rounds=0, min_steps=100, mc_samples=6
    )
    assert config.test_measure == "mc_mean"
    stored = run_loop(digits, config).rounds[0].test_accuracy
    # The same first round by hand: same initial labels, same fit, then the passes.
    learner = ActiveLearner(digits, config)
    first = initial_indices(config, digits.y_pool)
    learner.teach(first, digits.y_pool[first], "oracle")
    assert learner.train_and_evaluate()["test_accuracy"] == stored
    passes = learner.classifier.predict_mc(digits.x_test, 6, seed=(config.seed, 5, 0))
    mean = passes.astype(np.float64).sum(axis=0) / 6
    expected = float((mean.argmax(axis=1) == digits.y_test).mean())
    assert stored == pytest.approx(expected, abs=1e-12)
    # …and it is not the dropout-off accuracy under another name.
    off, _ = learner.classifier.evaluate(digits.x_test, digits.y_test)
    dropout_off = ActiveLearner(digits, config.replace(test_measure="dropout_off"))
    dropout_off.teach(first, digits.y_pool[first], "oracle")
    assert dropout_off.train_and_evaluate()["test_accuracy"] == pytest.approx(off, abs=1e-6)


def test_mc_mean_metrics_by_hand() -> None:
    probs = np.array(
        [
            [[0.6, 0.4], [0.2, 0.8], [0.5, 0.5]],
            [[0.2, 0.8], [0.4, 0.6], [0.9, 0.1]],
        ]
    )  # (T=2, n=3, K=2): means [0.4 0.6], [0.3 0.7], [0.7 0.3]
    accuracy, loss = mc_mean_metrics(probs, np.array([1, 0, 0]))
    assert accuracy == pytest.approx(2 / 3)
    assert loss == pytest.approx(-(np.log(0.6) + np.log(0.3) + np.log(0.7)) / 3)


def test_defaults_pick_the_bayesian_network_for_monte_carlo_strategies() -> None:
    for strategy in ("bald", "batchbald", "variation_ratios"):
        config = TrialConfig(strategy=strategy)
        assert (config.model, config.dropout, config.test_measure) == (
            BAYESIAN_MODEL,
            0.5,
            "mc_mean",
        )
    plain = TrialConfig(strategy="margin")
    assert (plain.model, plain.dropout, plain.test_measure) == ("cnn", 0.0, "dropout_off")
    # The Bayesian network chosen for a random baseline keeps its dropout.
    assert TrialConfig(model=BAYESIAN_MODEL, strategy="random").dropout == 0.5
    # A whole grid gets one model: the form picks it from all strategies.
    assert forms.pick_model("default", ["margin", "batchbald"]) == BAYESIAN_MODEL
    assert forms.pick_model("default", ["margin"]) == "cnn"
    assert forms.pick_model("mlp", ["batchbald"]) == "mlp"
    # Labeling sessions: the Bayesian network for BALD, the fast mlp otherwise.
    digits_session = {"source": "builtin", "dataset": "digits", "class_names": list("0123456789")}
    assert labeling.SessionConfig(**digits_session, strategy="bald").model == BAYESIAN_MODEL
    assert labeling.SessionConfig(**digits_session).model == labeling.DEFAULT_SESSION_MODEL


def test_the_measure_follows_the_config_and_old_results_read_as_dropout_off() -> None:
    config = TrialConfig(strategy="bald")
    assert config.replace(dropout=0.3).test_measure == "mc_mean"
    assert TrialConfig(model="cnn").replace(dropout=0.5).test_measure == "mc_mean"
    assert config.replace(test_measure="dropout_off").replace(dropout=0.3).test_measure == (
        "dropout_off"
    )
    stored = config.to_dict()
    assert TrialConfig.from_dict(stored).test_measure == "mc_mean"
    del stored["test_measure"]  # a config stored before the measure was recorded
    assert TrialConfig.from_dict(stored).test_measure == "dropout_off"
