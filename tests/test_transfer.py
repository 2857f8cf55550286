"""The transfer model: MobileNetV2 base from a weights file, head first, then fine-tuning.

Pretrained weights cannot be downloaded here, so the tests save a weights file
from a randomly initialised base and load it, as a user would load Keras'
published no-top file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from al_core.cli import main
from al_core.datasets import load_dataset
from al_core.errors import ConfigError
from al_core.loop import TrialConfig, run_loop
from al_core.models import (
    FINE_TUNE_LR_FACTOR,
    STEPS_PER_EXECUTION,
    TRANSFER_BASE,
    Classifier,
    TrainingConfig,
    build_model,
    transfer_base,
)

EPOCHS = 2


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, digits):
    """A base weights file saved from a randomly initialised MobileNetV2 (seed 123)."""
    keras.utils.set_random_seed(123)
    base = transfer_base(digits.image_shape)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_random.weights.h5"
    _save_weights(base, path)
    return path, [w.copy() for w in base.get_weights()]


def _save_weights(model: keras.Model, path: Path) -> None:
    """``model.save_weights(path)`` without its warning flood: Keras 3.15's TensorFlow
    backend converts each variable with ``np.array(variable)``, which NumPy 2 answers
    with a DeprecationWarning about the ``copy`` keyword, once per variable (about 260
    for MobileNetV2). It is Keras' own call; the file is complete (the tests compare
    every loaded weight with the saved one)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        model.save_weights(path)


def _base_weights(classifier: Classifier) -> list[np.ndarray]:
    return [w.copy() for w in classifier.model.get_layer(TRANSFER_BASE).get_weights()]


def test_weights_load_then_head_then_fine_tune(digits, weights_file) -> None:
    path, saved = weights_file
    x, y = digits.x_pool[:32], digits.y_pool[:32]
    model = Classifier(
        "transfer",
        digits.image_shape,
        10,
        training=TrainingConfig(epochs=EPOCHS, batch_size=16, min_steps=1),
        seed=0,
        weights=str(path),
    )
    loaded = _base_weights(model)
    for got, want in zip(loaded, saved, strict=True):  # the file, not the seed-0 init
        np.testing.assert_array_equal(got, want)
    assert model.model.get_layer(TRANSFER_BASE).trainable is False

    fit = model.fit(x, y, fit_seed=1)
    # 32 labels in batches of 16: 4 head steps, rounded up to one execution (25),
    # then half as many fine-tuning steps, again one execution at least.
    assert fit.steps == STEPS_PER_EXECUTION + STEPS_PER_EXECUTION
    assert np.isfinite(fit.final_loss)
    base = model.model.get_layer(TRANSFER_BASE)
    after = _base_weights(model)
    trainable = {id(v) for v in base.trainable_weights}
    changed = [
        not np.array_equal(a, b) for a, b in zip(after, loaded, strict=True)
    ]  # fmt: skip
    kinds = [id(v) in trainable for v in base.weights]
    assert any(c for c, k in zip(changed, kinds, strict=True) if k), "fine-tuning moved the base"
    # Batch normalisation stays in inference mode: its moving statistics never move.
    assert not any(c for c, k in zip(changed, kinds, strict=True) if not k)
    fine_tune = model._optimizers[1]
    assert float(fine_tune.learning_rate) == pytest.approx(1e-3 * FINE_TUNE_LR_FACTOR)

    # Retraining restarts from the loaded weights: same seed, same model. (This process
    # runs TensorFlow without deterministic ops and with several threads: MobileNet's
    # reductions may sum in another order, about 1e-4 relative; another model would
    # differ by whole percents.)
    probs = model.predict_proba(x)
    model.fit(x, y, fit_seed=1)
    np.testing.assert_allclose(model.predict_proba(x), probs, rtol=5e-4, atol=1e-5)
    assert model.embed(x[:5]).shape == (5, 128)
    mc = model.predict_mc(x[:8], 2)  # no Dropout here and BN frozen: the passes agree
    assert mc.shape == (2, 8, 10)
    np.testing.assert_allclose(mc[0], mc[1], rtol=1e-5, atol=1e-6)


def test_transfer_model_adapts_grayscale_and_small_images(digits) -> None:
    model = build_model("transfer", digits.image_shape, 10, dropout=0.2)
    names = [layer.name for layer in model.layers]
    assert {"to_rgb", "resize", TRANSFER_BASE, "embedding"} <= set(names)
    assert model.get_layer(TRANSFER_BASE).input_shape[1:] == (32, 32, 3)
    assert model.predict(digits.x_pool[:3], verbose=0).shape == (3, 10)
    rgb = build_model("transfer", (40, 40, 3), 4)
    assert "to_rgb" not in [layer.name for layer in rgb.layers]
    with pytest.raises(ConfigError, match="1- or 3-channel"):
        build_model("transfer", (32, 32, 2), 4)


def test_missing_or_incompatible_weights_file(digits, tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist.*--weights"):
        build_model("transfer", digits.image_shape, 10, weights=str(tmp_path / "nope.h5"))
    other = build_model("mlp", digits.image_shape, 10)
    wrong = tmp_path / "mlp.weights.h5"
    _save_weights(other, wrong)
    with pytest.raises(ConfigError, match="does not fit the transfer base"):
        build_model("transfer", digits.image_shape, 10, weights=str(wrong))
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not an HDF5 file")
    with pytest.raises(ConfigError, match="does not fit"):
        build_model("transfer", digits.image_shape, 10, weights=str(garbage))
    with pytest.raises(ConfigError, match="transfer only"):
        build_model("cnn", digits.image_shape, 10, weights=str(wrong))


def test_transfer_in_the_loop_and_the_cli(digits, weights_file, tmp_path, capsys) -> None:
    path, _ = weights_file
    config = TrialConfig(
        model="transfer",
        weights=str(path),
        dropout=0.3,
        strategy="bald",
        epochs=1,
        min_steps=1,
        initial=20,
        rounds=0,
        agreement_size=0,  # one prediction trace less: the advice is tested elsewhere
    )
    result = run_loop(digits, config)
    assert [r.labeled for r in result.rounds] == [20]
    # 20 labels, one step a pass: one execution for the head, one for fine-tuning.
    assert result.rounds[0].steps == 2 * STEPS_PER_EXECUTION
    assert 0.0 < result.rounds[0].test_accuracy <= 1.0

    missing = str(tmp_path / "missing.weights.h5")
    code = main(["run", "--db", str(tmp_path / "al.sqlite3"), "--model", "transfer",
                 "--weights", missing, "--rounds", "0"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "error: weights file" in err and "does not exist" in err
    from al_core.store import Store

    with Store(str(tmp_path / "al.sqlite3")) as store:
        assert store.experiments() == []  # refused before anything was stored
