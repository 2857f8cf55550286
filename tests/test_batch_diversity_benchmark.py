"""Cheap checks of benchmarks/batch_diversity.py's wiring (its figures come from real
runs, never from tests): flags, the protocol's configs, the table from a result."""

from __future__ import annotations

import pytest

from benchmarks import batch_diversity


def test_flags_and_configs() -> None:
    args = batch_diversity.parse_args(["--seeds", "0", "1", "2", "--pools", "repeated"])
    assert args.seeds == [0, 1, 2] and args.pools == ["repeated"]
    with pytest.raises(SystemExit):
        batch_diversity.parse_args(["--seeds", "1", "1"])
    with pytest.raises(SystemExit):
        batch_diversity.parse_args(["--strategies", "bold"])
    settings = dict(pool_size=10_000, test_size=2000, max_labels=600, candidates=2000,
                    mc_samples=20, epochs=30)  # fmt: skip
    repeated = batch_diversity.trial_config("repeated", "batchbald", 1, **settings)
    plain = batch_diversity.trial_config("plain", "batchbald", 1, **settings)
    assert (repeated.repeat, repeated.repeat_noise, repeated.pool_size) == (3, 0.1, 3333)
    assert (plain.repeat, plain.repeat_noise, plain.pool_size) == (1, 0.0, 10_000)
    for config in (repeated, plain):
        assert (config.initial, config.initial_mode, config.batch) == (20, "balanced", 10)
        assert config.dropout == 0.5 and config.mc_samples == 20 and config.target == 0.95


def test_table_renders(capsys: pytest.CaptureFixture[str]) -> None:
    def trial(pool: str, strategy: str, seed: int, reached: float | None) -> dict:
        config = batch_diversity.trial_config(
            pool, strategy, seed, pool_size=300, test_size=None, max_labels=40,
            candidates=None, mc_samples=4, epochs=2,
        ).to_dict()  # fmt: skip
        return {"pool": pool, "strategy": strategy, "seed": seed, "config": config,
                "labeled": [20, 30, 40], "accuracy": [0.8, 0.9, 0.95],
                "labels_to_target": {"0.90": 30.0, "0.95": reached},
                "redundant": [3, 1], "score_seconds": [1.0, 3.0],
                "logreg_accuracy": [0.7, 0.8, 0.85 + seed / 100]}  # fmt: skip

    trials = [trial("repeated", "bald", s, 40.0) for s in range(2)]
    trials.append(trial("repeated", "bald", 2, None))
    old = trial("plain", "random", 0, 40.0)
    del old["logreg_accuracy"]  # a result from before the baseline was recorded
    trials.append(old)
    batch_diversity.report({"trials": {str(i): t for i, t in enumerate(trials)}})
    out = capsys.readouterr().out
    # 95 % − the median of 85 / 86 / 87 % = +9 points over the logistic regression.
    assert "| repeated | bald | 3 | 30 | 40 | 2.00 | 20% | 2.0 | +9.0 |" in out
    assert "| plain | random | 1 | 30 | 40 | 2.00 | 20% | 2.0 | — |" in out


def test_logistic_baseline_is_fit_on_each_rounds_labeled_set() -> None:
    """A real (tiny) trial: the baseline's labeled sets are the network's, round by round."""
    from al_core.loop import TrialConfig, initial_indices, run_loop
    from al_core.runner import dataset_for
    from benchmarks.training_sanity import logistic_accuracy

    config = TrialConfig(dataset="digits", pool_size=300, test_size=100, model="mlp",
                         strategy="margin", initial=20, initial_mode="balanced", batch=10,
                         rounds=2, epochs=2, min_steps=10, seed=1)  # fmt: skip
    result = batch_diversity._run_trial(config.to_dict(), threads=1)
    assert result["labeled"] == [20, 30, 40]
    baseline = result["logreg_accuracy"]
    assert len(baseline) == 3 and all(0.3 < a <= 1.0 for a in baseline)
    # Rebuild the last labeled set independently: the initial labels and both batches.
    data = dataset_for(config)
    run = run_loop(data, config)
    labeled = [*initial_indices(config, data.y_pool), *run.rounds[0].queried,
               *run.rounds[1].queried]  # fmt: skip
    assert len(set(labeled)) == 40
    expected = logistic_accuracy(data.x_pool[labeled], data.y_pool[labeled], data.x_test,
                                 data.y_test)  # fmt: skip
    assert baseline[-1] == expected
