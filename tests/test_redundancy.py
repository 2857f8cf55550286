"""Redundant pools (repeated images with noise) and the redundancy measured per round
(real Keras training on the embedded digits, real SQLite)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from al_core import results, runner
from al_core.cli import main
from al_core.datasets import load_dataset, repeat_pool
from al_core.errors import ConfigError, DatasetError
from al_core.loop import ActiveLearner, TrialConfig, run_loop
from al_core.store import Store

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def quick(**changes) -> TrialConfig:
    values = dict(model="softmax", epochs=5, min_steps=25, learning_rate=0.05, initial=20,
                  batch=9, rounds=2,
                  agreement_size=0, seed=0)  # fmt: skip
    values.update(changes)
    return TrialConfig(**values)


def test_repeat_pool_copies_each_image_with_clipped_noise(digits) -> None:
    n = len(digits.x_pool)
    noisy = repeat_pool(digits, 3, 0.1, seed=4)
    assert noisy.x_pool.shape == (3 * n, *digits.x_pool.shape[1:])
    assert noisy.x_pool.dtype == np.float32
    np.testing.assert_array_equal(noisy.y_pool, np.tile(digits.y_pool, 3))
    np.testing.assert_array_equal(noisy.pool_source, np.tile(np.arange(n), 3))
    assert noisy.x_pool.min() >= 0.0 and noisy.x_pool.max() <= 1.0
    # Every copy is noisy (the first too), with the asked standard deviation where no
    # clipping happened (pixels well inside [0, 1]).
    for copy in range(3):
        diff = noisy.x_pool[copy * n : (copy + 1) * n] - digits.x_pool
        inside = (digits.x_pool > 0.4) & (digits.x_pool < 0.6)
        assert diff[inside].std() == pytest.approx(0.1, rel=0.05)
    assert not np.array_equal(noisy.x_pool[:n], noisy.x_pool[n : 2 * n])
    np.testing.assert_array_equal(noisy.x_test, digits.x_test)  # the test set is untouched
    assert noisy.name == "digits ×3, noise 0.1"
    np.testing.assert_array_equal(repeat_pool(digits, 3, 0.1, seed=4).x_pool, noisy.x_pool)
    assert repeat_pool(digits, 1, 0.0) is digits
    twice = repeat_pool(noisy, 2, 0.0)  # sources compose
    np.testing.assert_array_equal(twice.pool_source, np.tile(np.arange(n), 6))


@pytest.mark.parametrize(
    ("repeats", "noise", "message"),
    [(0, 0.1, "repeat must be an integer >= 1"), (-2, 0.1, "repeat must be"),
     (2.5, 0.1, "repeat must be"), (3, -0.1, "noise must be a standard deviation >= 0"),
     (3, float("nan"), "noise must be")],
)  # fmt: skip
def test_bad_repeat_settings_are_refused(digits, repeats, noise, message) -> None:
    with pytest.raises(DatasetError, match=message):
        repeat_pool(digits, repeats, noise)
    with pytest.raises(ConfigError, match=message):
        TrialConfig(repeat=repeats, repeat_noise=noise)


def test_bad_repeat_on_the_command_line(capsys) -> None:
    assert main(["run", "--no-store", "--repeat", "0"]) == 2
    assert "repeat must be an integer >= 1" in capsys.readouterr().err
    assert main(["run", "--no-store", "--repeat", "3", "--repeat-noise", "-1"]) == 2
    assert "--repeat-noise 0.031" in capsys.readouterr().err


def test_config_names_the_redundant_pool(digits) -> None:
    config = quick(repeat=2, repeat_noise=0.05)
    assert TrialConfig.from_dict(config.to_dict()) == config  # stored with the trial
    dataset = runner.dataset_for(config)
    assert len(dataset.x_pool) == 2 * len(digits.x_pool)
    assert dataset.pool_source is not None


def test_redundant_count_by_source_and_by_embedding(digits) -> None:
    n = len(digits.x_pool)
    pool = repeat_pool(digits, 2, 0.0)
    learner = ActiveLearner(pool, quick(redundancy_similarity=None))
    learner.teach([0, 1], digits.y_pool[[0, 1]])
    # a copy of labeled 0; an image; its copy; an image with nothing alike
    assert learner.redundant_count(np.array([n, 5, n + 5, 7])) == 2
    assert learner.redundant_count(np.array([5, 7, 9])) == 0
    assert learner.redundant_count(np.array([], dtype=np.int64)) == 0
    # Without source ids, identical images are found by their embeddings.
    anonymous = dataclasses.replace(pool, pool_source=None)
    by_embedding = ActiveLearner(anonymous, quick(redundancy_similarity=0.999999))
    by_embedding.teach([0, 1], digits.y_pool[[0, 1]])
    zero, one = (int(np.flatnonzero(digits.y_pool == c)[2]) for c in (0, 1))
    assert by_embedding.redundant_count(np.array([n, zero, n + zero, one])) == 2
    with pytest.raises(ConfigError, match="redundancy_similarity"):
        quick(redundancy_similarity=0.0)


def test_top_k_spends_a_batch_on_copies_and_results_shows_the_count(
    digits, tmp_path, monkeypatch
) -> None:
    """Margin top-k on a pool of exact triplicates takes 3 images x 3 copies per batch;
    the store keeps the count and the Results page shows what the table says."""
    config = quick(repeat=3, repeat_noise=0.0, redundancy_similarity=None)
    noisy = quick(repeat=3, repeat_noise=0.1)
    random = run_loop(runner.dataset_for(noisy), noisy.replace(strategy="random"))
    assert all(0 <= r.redundant <= 9 for r in random.rounds if r.queried)
    with Store(tmp_path / "al.sqlite3") as store:
        experiment = runner.create_experiment(
            store, config, ["margin"], [1.0], 1, name="triplicates", baseline=False
        )
        (trial,) = store.trials(experiment)
        result = runner.run_trial(store, trial["id"])
        runner.finish_experiment(store, experiment)
        stored = store.rounds(trial["id"])
        table = results.redundancy_table(
            results.rounds_frame(store.experiment_rounds([experiment]))
        )
    assert [r.redundant for r in result.rounds] == [6, 6, None]  # none queried at the end
    assert [r["redundant"] for r in stored] == [6, 6, None]
    assert table[["queried", "redundant", "rounds"]].values.tolist() == [[18, 12, 2]]
    assert table["share"].tolist() == [pytest.approx(12 / 18)]

    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    app = AppTest.from_file(str(REPO / "pages" / "results.py"), default_timeout=60).run()
    assert not app.exception
    assert "Redundant queries" in [h.value for h in app.subheader][-1]
    (shown,) = [d.value for d in app.dataframe if "per_round" in d.value.columns]
    assert shown.values.tolist() == table[shown.columns].values.tolist()
