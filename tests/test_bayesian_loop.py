"""MC dropout, embeddings, the new strategies in the loop, and the stopping advice
(real Keras training on the embedded digits)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from al_core.cli import main
from al_core.datasets import load_dataset
from al_core.errors import ConfigError
from al_core.loop import TrialConfig, initial_indices, run_loop
from al_core.models import Classifier, TrainingConfig


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def fast(**changes) -> TrialConfig:
    """A quick dropout-CNN config on digits."""
    values = dict(
        model="cnn",
        dropout=0.5,
        epochs=3,
        min_steps=25,
        learning_rate=0.01,
        initial=20,
        initial_mode="balanced",
        batch=10,
        rounds=1,
        candidates=300,
        mc_samples=5,
        agreement_size=200,
        seed=0,
    )
    values.update(changes)
    return TrialConfig(**values)


def test_predict_mc_and_embed(digits) -> None:
    x, y = digits.x_pool[:200], digits.y_pool[:200]
    dropout = Classifier(
        "cnn", digits.image_shape, 10, training=TrainingConfig(epochs=2, min_steps=25, dropout=0.5)
    )
    dropout.fit(x, y)
    mc = dropout.predict_mc(x[:50], 4, batch_size=16)  # several batches per pass
    assert mc.shape == (4, 50, 10) and mc.dtype == np.float32
    np.testing.assert_allclose(mc.sum(axis=2), 1.0, rtol=1e-5)
    assert np.abs(mc[0] - mc[1]).max() > 1e-3, "dropout passes must differ"
    features = dropout.embed(x[:50])
    assert features.shape == (50, 128) and features.dtype == np.float32
    assert dropout.embed(x[:0]).shape == (0, 128)

    plain = Classifier(
        "mlp", digits.image_shape, 10, training=TrainingConfig(epochs=1, min_steps=25)
    )
    plain.fit(x, y)
    same = plain.predict_mc(x[:20], 3)
    np.testing.assert_allclose(same[0], same[2], rtol=1e-6)  # no dropout: all passes equal
    np.testing.assert_allclose(same[0], plain.predict_proba(x[:20]), rtol=1e-5, atol=1e-6)
    assert plain.embed(x[:20]).shape == (20, 64)
    with pytest.raises(ConfigError, match="passes"):
        plain.predict_mc(x[:5], 0)


@pytest.mark.parametrize("strategy", ["bald", "hybrid"])
def test_loop_end_to_end(digits, strategy: str) -> None:
    config = fast(strategy=strategy)
    result = run_loop(digits, config)
    assert [r.labeled for r in result.rounds] == [20, 30]
    seen = set(initial_indices(config, digits.y_pool).tolist())
    for record in result.rounds[:-1]:
        assert len(set(record.queried)) == 10 and not seen & set(record.queried)
        seen |= set(record.queried)
        assert all(s >= 0 for s in record.queried_scores)
        assert 0.0 <= record.queried_accuracy <= 1.0
    # Stopping advice: none for the first model, a share afterwards.
    assert result.rounds[0].agreement is None
    assert all(0.0 <= r.agreement <= 1.0 for r in result.rounds[1:])
    if strategy == "bald":  # same config and seed, same batches (MC masks included)
        again = run_loop(digits, config)
        assert [r.queried for r in again.rounds] == [r.queried for r in result.rounds]


def test_bald_picks_what_the_scores_say(digits) -> None:
    """The loop's BALD batch is the top of BALD over the candidates' MC samples."""
    from al_core.loop import ActiveLearner

    learner = ActiveLearner(digits, fast(strategy="bald", candidates=None, mc_samples=3))
    first = initial_indices(learner.config, digits.y_pool)
    learner.teach(first, digits.y_pool[first])
    learner.train_and_evaluate()
    # Record the real MC dropout samples the query draws (the real method runs).
    recorded = []
    real_predict_mc = learner.classifier.predict_mc

    def recording_predict_mc(x, passes, **kwargs):
        out = real_predict_mc(x, passes, **kwargs)
        recorded.append(out)
        return out

    learner.classifier.predict_mc = recording_predict_mc
    unlabeled = learner.queryable_indices()  # the unlabeled images less the stop set
    selection = learner.query(10)
    assert selection.n_uncertain == 10
    (mc,) = recorded
    # BALD recomputed here from its definition on those fixed samples, in float64:
    # entropy of the mean prediction minus the mean entropy of the passes.
    samples = mc.astype(np.float64)

    def entropy(p: np.ndarray) -> np.ndarray:
        return -(p * np.log(np.clip(p, 1e-30, 1.0))).sum(axis=-1)

    expected = entropy(samples.mean(axis=0)) - entropy(samples).mean(axis=0)
    position = {int(i): k for k, i in enumerate(unlabeled)}
    picked = np.array([position[int(i)] for i in selection.indices])
    assert selection.scores == pytest.approx(expected[picked], abs=1e-6)
    rest = np.setdiff1d(np.arange(len(unlabeled)), picked)
    # The batch is BALD's top 10: no unpicked image scores higher than a picked one.
    assert expected[picked].min() >= expected[rest].max() - 1e-9
    top = np.argsort(-expected, kind="stable")[:10]
    assert set(unlabeled[top].tolist()) == set(selection.indices.tolist())
    assert np.all(np.diff(selection.scores) <= 0)  # highest BALD first


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"strategy": "bald", "dropout": 0.0}, "needs Monte-Carlo dropout.*--dropout"),
        ({"strategy": "hybrid", "base_score": "bald", "dropout": 0.0}, "--dropout"),
        ({"mc_samples": 0}, "mc_samples must be >= 1"),
        ({"base_score": "kcenter"}, "base score 'kcenter'"),
        ({"hybrid_top_m": 0}, "hybrid_top_m"),
        ({"density_beta": -1.0}, "density_beta"),
        ({"weights": "base.weights.h5"}, "--model transfer only"),
        ({"agreement_size": -1}, "agreement_size"),
        ({"strategy": "bold"}, "unknown strategy"),
    ],
)
def test_bad_configs(changes: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fast(**changes)


def test_old_configs_still_load() -> None:
    stored = fast().to_dict()
    for key in ("mc_samples", "base_score", "hybrid_top_m", "density_beta", "weights"):
        stored.pop(key)
    stored.pop("agreement_size")
    assert TrialConfig.from_dict(stored).mc_samples == 20


def test_cli_runs_a_new_strategy_and_shows_agreement(tmp_path, capsys) -> None:
    db = str(tmp_path / "al.sqlite3")
    args = [
        "run",
        "--db",
        db,
        "--model",
        "cnn",
        "--dropout",
        "0.5",
        "--epochs",
        "2",
        "--min-steps",
        "25",
    ]
    args += ["--strategy", "variation_ratios", "--mc-samples", "4", "--rounds", "1"]
    args += ["--candidates", "200", "--agreement-size", "100", "--learning-rate", "0.01"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "agreement" in table.splitlines()[0]
    assert main([*args, "--json", "--no-store", "--strategy", "kcenter"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["config"]["strategy"] == "kcenter"
    assert output["rounds"][0]["queried_scores"] == [None] * 10  # k-center ranks no rows
    assert output["rounds"][0]["agreement"] is None
    assert 0.0 <= output["rounds"][1]["agreement"] <= 1.0
    from al_core.store import Store

    with Store(db) as store:
        trial = store.trials(store.experiments()[0]["id"])[0]
        rounds = store.rounds(trial["id"])
    assert rounds[0]["agreement"] is None and 0.0 <= rounds[1]["agreement"] <= 1.0


def test_cli_rejects_bad_strategy_settings(capsys) -> None:
    # Without --dropout, bald gets 0.5 (tests/test_dropout_default.py); an explicit 0 is refused.
    code = main(["run", "--no-store", "--strategy", "bald", "--dropout", "0", "--rounds", "1"])
    assert code == 2
    assert "error: strategy 'bald'" in capsys.readouterr().err
