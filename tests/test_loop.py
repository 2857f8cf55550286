"""The active-learning loop end to end on the embedded digits, with real Keras training."""

from __future__ import annotations

import numpy as np
import pytest

from al_core.datasets import load_dataset
from al_core.errors import ConfigError
from al_core.loop import ActiveLearner, TrialConfig, initial_indices, run_loop

TIMINGS = {"train_seconds", "eval_seconds", "score_seconds"}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def fast(**changes) -> TrialConfig:
    """A quick config: softmax regression, few epochs."""
    values = dict(
        model="softmax",
        epochs=5,
        min_steps=25,
        learning_rate=0.02,
        initial=20,
        batch=10,
        rounds=3,
        seed=0,
    )
    values.update(changes)
    return TrialConfig(**values)


def measured(result) -> list[dict]:
    return [{k: v for k, v in r.to_dict().items() if k not in TIMINGS} for r in result.rounds]


def test_rounds_grow_the_labeled_set_by_the_batch(digits):
    result = run_loop(digits, fast(strategy="margin", rounds=4))
    assert [r.labeled for r in result.rounds] == [20, 30, 40, 50, 60]
    assert result.stop_reason == "rounds"
    seen = set(initial_indices(result.config, digits.y_pool).tolist())
    for record in result.rounds[:-1]:
        assert len(record.queried) == 10
        assert not seen & set(record.queried), "a labeled image was queried again"
        seen |= set(record.queried)
        assert 0.0 <= record.queried_accuracy <= 1.0
        assert all(0.0 <= s <= 1.0 for s in record.queried_scores)
        assert 0.0 < record.test_accuracy <= 1.0 and record.test_loss > 0
    assert result.rounds[-1].queried == []  # the last model does not query


def test_random_baseline_queries_without_scores(digits):
    result = run_loop(digits, fast(strategy="random", rounds=1))
    assert len(result.rounds[0].queried) == 10
    assert all(np.isnan(s) for s in result.rounds[0].queried_scores)


def test_same_config_and_seed_give_the_same_curve(digits):
    config = fast(strategy="entropy", fraction=0.5, model="cnn", rounds=2)
    first, second = run_loop(digits, config), run_loop(digits, config)
    assert measured(first) == measured(second)
    other = run_loop(digits, config.replace(seed=1))
    assert measured(other) != measured(first)


def test_the_loop_learns(digits):
    result = run_loop(digits, fast(strategy="margin", epochs=15, rounds=4, batch=20))
    accuracies = [r.test_accuracy for r in result.rounds]
    assert accuracies[-1] > accuracies[0] + 0.1
    assert accuracies[-1] > 0.7


def test_queried_images_are_harder_than_the_test_set(digits):
    result = run_loop(digits, fast(strategy="least_confidence", epochs=15, rounds=4, batch=20))
    queried = np.mean([r.queried_accuracy for r in result.rounds[:-1]])
    test = np.mean([r.test_accuracy for r in result.rounds[:-1]])
    assert queried < test


def test_budget_stops_with_a_partial_last_batch(digits):
    result = run_loop(digits, fast(rounds=None, budget=45))
    assert [r.labeled for r in result.rounds] == [20, 30, 40, 45]
    assert result.stop_reason == "budget"


def test_target_stops_when_reached(digits):
    result = run_loop(
        digits, fast(rounds=30, epochs=15, target=0.6, stop_at_target=True, strategy="margin")
    )
    assert result.stop_reason == "target"
    assert result.rounds[-1].test_accuracy >= 0.6
    assert all(r.test_accuracy < 0.6 for r in result.rounds[:-1])


def test_an_empty_pool_stops_the_loop(digits):
    small = load_dataset("digits", pool_size=35)
    result = run_loop(small, fast(rounds=None))
    assert [r.labeled for r in result.rounds] == [20, 30, 35]
    assert result.stop_reason == "pool empty"


def test_auto_labeling_adds_pseudo_labels_after_the_budget(digits):
    result = run_loop(digits, fast(rounds=2, auto_label_steps=2, auto_label_k=5))
    phases = [(r.phase, r.labeled, r.pseudo_labeled) for r in result.rounds]
    assert phases == [
        ("active", 20, 0),
        ("active", 30, 0),
        ("active", 40, 0),
        ("auto", 40, 5),
        ("auto", 40, 10),
    ]
    assert [r.round for r in result.rounds] == [0, 1, 2, 3, 4]
    # the most confident images: their pseudo-labels are mostly right
    assert np.mean([r.queried_accuracy for r in result.rounds[3:]]) >= 0.6


def test_pseudo_labels_stay_distinguishable_and_can_be_excluded(digits):
    config = fast()
    learner = ActiveLearner(digits, config)
    learner.teach([0, 1, 2], digits.y_pool[[0, 1, 2]], "oracle")
    learner.teach([3, 4], [1, 2], "pseudo")
    learner.teach([5], [-1], "human")  # "not sure": set aside, never queried again
    assert learner.count("oracle") == 3 and learner.count("pseudo") == 2
    assert learner.labeled_indices().tolist() == [0, 1, 2, 3, 4]
    assert learner.labeled_indices(include_pseudo=False).tolist() == [0, 1, 2]
    assert 5 not in learner.unlabeled_indices()
    with pytest.raises(ConfigError, match="unknown label source"):
        learner.teach([6], [1], "guess")
    with pytest.raises(ConfigError, match="out of range"):
        learner.teach([6], [10], "human")


def test_balanced_start_takes_the_same_number_per_class(digits):
    chosen = initial_indices(fast(initial=20, initial_mode="balanced"), digits.y_pool)
    assert np.bincount(digits.y_pool[chosen], minlength=10).tolist() == [2] * 10


def test_candidate_subset_limits_what_is_scored(digits):
    result = run_loop(digits, fast(strategy="margin", rounds=1, candidates=50))
    assert len(result.rounds[0].queried) == 10


def test_cancellation_stops_at_a_round_boundary(digits):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    result = run_loop(digits, fast(rounds=10), should_stop=should_stop)
    assert result.stop_reason == "cancelled"
    assert len(result.rounds) == 2


def test_a_run_cut_short_resumes_where_it_stopped(digits):
    """A run cut after its second round (a session's end, a killed worker) goes on from
    its stored rounds without retraining them, and picks and scores what the
    uninterrupted run did: every round draws from (seed, round)."""
    config = fast(strategy="margin", rounds=4, agreement_size=200)
    uninterrupted = run_loop(digits, config)
    seen = []
    resumed = run_loop(digits, config, replay=uninterrupted.rounds[:2], on_round=seen.append)
    assert [r.round for r in seen] == [2, 3, 4]  # only the new rounds are trained
    expected = measured(uninterrupted)
    # The first resumed round has no previous model to compare with.
    expected[2]["agreement"] = expected[2]["kappa"] = None
    assert measured(resumed) == expected
    assert uninterrupted.rounds[2].agreement is not None
    assert resumed.stop_reason == "rounds"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": "smartest"}, "unknown strategy 'smartest'"),
        ({"fraction": 1.5}, r"fraction must be in \[0, 1\]"),
        ({"fraction": -0.1}, r"fraction must be in \[0, 1\]"),
        ({"model": "resnet9000"}, "unknown model 'resnet9000'"),
        ({"batch": 0}, "batch size must be >= 1"),
        ({"target": 0.0}, r"target accuracy must be in \(0, 1\]"),
        ({"target": 90.0}, r"target accuracy must be in \(0, 1\]"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"min_steps": 0}, "min_steps must be an integer >= 1, got 0; e.g. --min-steps"),
        ({"learning_rate": 0.0}, "learning rate must be > 0"),
        ({"initial_mode": "magic"}, "unknown initial mode"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(changes, message):
    with pytest.raises(ConfigError, match=message):
        fast(**changes)


def test_config_round_trips_and_refuses_unknown_keys():
    config = fast(strategy="Least-Confidence", fraction=0.3)
    assert config.strategy == "least_confidence"
    assert TrialConfig.from_dict(config.to_dict()) == config
    assert fast(strategy="margin", fraction=0.0).strategy == "random"  # u = 0 is random
    with pytest.raises(ConfigError, match="unknown config key.*batchsize"):
        TrialConfig.from_dict({**config.to_dict(), "batchsize": 3})


def test_more_initial_labels_than_the_pool_is_refused(digits):
    with pytest.raises(ConfigError, match="larger than the pool"):
        initial_indices(fast(initial=5000), digits.y_pool)
