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
                "redundant": [3, 1], "score_seconds": [1.0, 3.0]}  # fmt: skip

    trials = [trial("repeated", "bald", s, 40.0) for s in range(2)]
    trials.append(trial("repeated", "bald", 2, None))
    batch_diversity.report({"trials": {str(i): t for i, t in enumerate(trials)}})
    out = capsys.readouterr().out
    assert "| repeated | bald | 3 | 30 | 40 | 2.00 | 20% | 2.0 |" in out
