"""Cheap checks of the engine benchmarks' wiring (their figures come from real runs,
never from tests): flags parse, bad flags are refused, the protocol's configs are
the documented ones, and the tables render from a result of the right shape."""

from __future__ import annotations

import pytest

from benchmarks import loop_overhead, mnist_protocol, sweep_workers


def test_mnist_protocol_flags_and_configs() -> None:
    args = mnist_protocol.parse_args(["--seeds", "3", "4", "--jobs", "2", "--out", "x.json"])
    assert args.seeds == [3, 4] and args.jobs == 2 and str(args.out) == "x.json"
    with pytest.raises(SystemExit):
        mnist_protocol.parse_args(["--seeds", "1", "1"])

    configs = mnist_protocol.protocol_configs(3)
    active, random, everything = configs["active"], configs["random"], configs["all"]
    assert (active.pool_size, active.test_size, active.data_seed) == (4000, 400, 3)
    assert (active.model, active.strategy, active.initial, active.batch) == (
        "softmax",
        "least_confidence",
        10,
        10,
    )
    assert (active.budget, active.patience, active.auto_label_steps) == (400, 10, 10)
    assert random.strategy == "random" and random.auto_label_steps == 0
    assert (everything.initial, everything.rounds, everything.budget) == (4000, 0, None)


def test_mnist_protocol_tables_render(capsys: pytest.CaptureFixture[str]) -> None:
    labeled = list(range(10, 401, 10))
    seed_result = {
        "seed": 0,
        "arms": {
            "active": {"labeled": labeled, "accuracy": [0.5] * 40},
            "random": {"labeled": labeled, "accuracy": [0.4] * 40},
            "all": {"labeled": [4000], "accuracy": [0.9]},
            "auto": {"accuracy": [0.55] * 10, "pseudo_label_accuracy": [1.0] * 10},
        },
    }
    table = mnist_protocol.markdown_tables([seed_result, {**seed_result, "seed": 1}])
    assert "| 400 random | 83.75 | 40.00 ± 0.00 | 40.00 | 40.00 |" in table
    assert "| 400 | 50.00 ± 0.00 | 40.00 ± 0.00 |" in table
    assert mnist_protocol._report_progress(seed_result) is seed_result
    assert "seed 0 done: all 90.00, random 40.00" in capsys.readouterr().err


def test_loop_overhead_flags_and_summary() -> None:
    args = loop_overhead.parse_args(["--rounds", "2", "--epochs", "1"])
    assert (args.rounds, args.epochs, args.initial, args.batch) == (2, 1, 1000, 1000)
    with pytest.raises(SystemExit):
        loop_overhead.parse_args(["--epochs", "0"])
    assert loop_overhead.parse_args(["--min-steps", "25"]).min_steps == 25
    with pytest.raises(SystemExit):
        loop_overhead.parse_args(["--min-steps", "0"])
    bare = {"fit": 1.0, "evaluate": 0.5, "predict": 2.5, "total": 4.0}
    rounds = [
        {"round": i, "labeled": 10 * (i + 1), "scored": i < 2, "loop_wall": wall,
         "loop_keras": keras, "bare": bare}
        for i, (wall, keras) in enumerate(((4.4, 4.356), (4.0, 3.8), (1.0, 0.5)))
    ]  # fmt: skip
    summary = loop_overhead.summarize({"rounds": rounds})
    assert summary["rounds"] == 2  # the last round does not score the pool
    assert summary["ratio_of_medians"] == pytest.approx(4.2 / 4.0)
    # Outside Keras: 0.044 s (1 %) and 0.2 s (5 %); the last round is not counted.
    assert summary["outside_keras_max_s"] == pytest.approx(0.2)
    assert summary["outside_keras_share_median"] == pytest.approx(0.03)
    assert summary["outside_keras_share_max"] == pytest.approx(0.05)


def test_loop_overhead_times_classifier_calls_and_restores_them() -> None:
    import numpy as np

    from al_core.models import Classifier

    original_fit = Classifier.fit
    with loop_overhead.timed_classifier_calls() as spent:
        classifier = Classifier("softmax", (8, 8, 1), 10)
        built = spent[0]
        classifier.predict_proba(np.zeros((4, 8, 8, 1), np.float32))
    assert 0 < built < spent[0]  # construction and the prediction both counted
    assert Classifier.fit is original_fit
    assert "wrapper" not in Classifier.predict_proba.__code__.co_name


def test_sweep_workers_compares_decisions_exactly_and_floats_by_gap() -> None:
    round_a = {"round": 1, "labeled": 30, "test_accuracy": 0.8, "queried": "[4, 7]",
               "queried_scores": "[0.5, 0.25]", "test_loss": 0.61}  # fmt: skip
    ulps = {**round_a, "queried_scores": "[0.5000001, 0.25]", "test_loss": 0.6100002}
    differences, gap = sweep_workers.compare_curves({"t": [round_a]}, {"t": [ulps]})
    assert differences == []
    assert gap == pytest.approx(2e-7)

    other_query = {**round_a, "queried": "[4, 8]"}
    differences, _ = sweep_workers.compare_curves({"t": [round_a]}, {"t": [other_query]})
    assert differences == ["t round 1: queried '[4, 7]' != '[4, 8]'"]
    differences, _ = sweep_workers.compare_curves({"t": [round_a]}, {"t": []})
    assert differences == ["t: 1 rounds != 0"]


def test_cold_start_configs_and_tables(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import cold_start

    auto = cold_start.trial_config("digits", "auto", 3, max_labels=300, random_max_labels=600)
    assert (auto.initial, auto.initial_mode, auto.batch, auto.budget) == (20, "typical", 10, 300)
    assert auto.pool_size is None and auto.seed == 3
    rand = cold_start.trial_config("mnist", "random", 0, max_labels=300, random_max_labels=600)
    assert (rand.initial_mode, rand.batch, rand.budget) == ("random", 20, 600)
    assert rand.pool_size == 10_000
    with pytest.raises(SystemExit):
        cold_start.parse_args(["--max-labels", "10"])

    labeled = list(range(20, 301, 10))

    def trial(strategy: str, seed: int, slope: float) -> dict:
        return {
            "dataset": "digits", "strategy": strategy, "seed": seed, "labeled": labeled,
            "accuracy": [min(0.99, 0.5 + slope * n) for n in labeled],
            "logreg_accuracy": [0.5] * len(labeled), "score_seconds": [0.01],
            "handover_at": 100 if strategy == "auto" else None,
        }  # fmt: skip

    slopes = {"random": 0.001, "margin": 0.002, "typiclust": 0.0015, "auto": 0.0025}
    trials = [trial(s, seed, k) for seed in (0, 1) for s, k in slopes.items()]
    table = cold_start.summarize(trials, 300)
    # auto climbs fastest here: it is at or above random everywhere and needs the fewest labels
    assert all(table["goals"]["auto >= random (every checkpoint)"].values())
    assert all(table["goals"]["auto fewest labels to target"].values())
    assert table["rows"]["random"]["accuracy"][100] == pytest.approx((0.6, 0.6, 0.6))
    # the default target is the best active final median (auto: 0.99 → 99 %)
    assert table["targets"][-1] == pytest.approx(0.99)
    cold_start.report({"trials": {str(i): t for i, t in enumerate(trials)}}, 300, 600)
    out = capsys.readouterr().out
    assert "| auto | 2 | 55.0 (55–55)" in out and "handed over at [100]" in out
    # a file holding one strategy only (a hand-over variant) still renders
    cold_start.report({"trials": {"a": trials[3]}}, 300, 600)
    assert "LogisticRegression, auto's labels" in capsys.readouterr().out
