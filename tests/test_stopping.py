"""When can I stop? The curve's intervals, the stabilizing-predictions kappa (loop and
labeling session, real Keras and SQLite) and the power-law extrapolation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from al_core import labeling, stopping
from al_core.datasets import load_dataset
from al_core.loop import ActiveLearner, TrialConfig
from al_core.store import Store
from benchmarks.stopping import replay_run, summarise
from tests.app_helpers import retrain_session, session_truth


# --------------------------------------------------------------------- intervals
@pytest.mark.parametrize(("correct", "n"), [(283, 360), (0, 40), (40, 40), (7, 9), (912, 1000)])
def test_interval_is_scipys_wilson_interval(correct: int, n: int) -> None:
    low, high = stopping.accuracy_interval(correct / n, n)
    expected = binomtest(correct, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_interval_refuses_nothing_evaluated() -> None:
    with pytest.raises(ValueError, match="at least one evaluated image"):
        stopping.accuracy_interval(0.5, 0)


# --------------------------------------------------------------------- kappa
def test_kappa_is_scikit_learns_and_identical_predictions_agree_fully() -> None:
    rng = np.random.default_rng(3)
    previous = rng.integers(0, 10, 500)
    current = np.where(rng.random(500) < 0.8, previous, rng.integers(0, 10, 500))
    assert stopping.prediction_kappa(previous, current, 10) == pytest.approx(
        cohen_kappa_score(previous, current)
    )
    one_class = np.zeros(50, dtype=np.int64)
    assert stopping.prediction_kappa(one_class, one_class, 10) == 1.0  # 0/0 in the formula


def test_rule_needs_every_kappa_of_the_window_at_the_threshold() -> None:
    kappas = [None, 0.80, 0.995, 0.985, 0.992, 0.996, 0.999, 0.97]
    rule = stopping.stability(kappas)
    assert rule.stable_at == 6 and not rule.stable_now  # 0.992, 0.996, 0.999
    assert "still changing" in rule.message()
    assert stopping.stability(kappas[:7]).stable_now
    assert "Predictions have stabilised" in stopping.stability(kappas[:7]).message()
    assert stopping.stability(kappas, window=2, threshold=0.99).stable_at == 5
    assert "Not enough retrains" in stopping.stability([None, 0.999]).message()


def test_loop_kappa_is_scikit_learns_and_the_stop_set_is_never_queried() -> None:
    digits = load_dataset("digits")
    config = TrialConfig(
        model="softmax", epochs=5, min_steps=25, learning_rate=0.02, initial=20,
        batch=10, agreement_size=1000, seed=0,
    )  # fmt: skip
    learner = ActiveLearner(digits, config)
    learner.teach(np.arange(20), digits.y_pool[:20])
    predictions, kappas, queried = [], [], []
    for _ in range(4):
        metrics = learner.train_and_evaluate()
        predictions.append(learner._agreement_predictions.copy())
        kappas.append(metrics["kappa"])
        picks = learner.query(10).indices
        queried.extend(picks.tolist())
        learner.teach(picks, digits.y_pool[picks])
        learner.round += 1
    assert kappas[0] is None
    for before, after, kappa in zip(predictions, predictions[1:], kappas[1:], strict=False):
        assert kappa == pytest.approx(cohen_kappa_score(before, after, labels=np.arange(10)))
    # 1,000 of the 1,417 unlabeled rows are the stop set: margin would pick some of them.
    assert not set(queried) & set(learner._agreement_rows.tolist())


def test_session_kappa_is_scikit_learns_on_its_stored_stop_set(data_store: Store) -> None:
    store = data_store
    sid = labeling.create_session(
        store, "stop", dataset="digits", batch=10, epochs=5, model="mlp"
    ).session_id
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)  # cold start
    truth = session_truth(store, sid)
    for _ in range(3):
        batch = labeling.current_batch(store, sid)
        for item in batch.items:
            labeling.answer(store, sid, item.item, int(truth[int(item.item)]))
        retrain_session(store, sid, worker)
    rounds = store.session_rounds(sid)
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert rounds[0]["kappa"] is None and all(r["kappa"] is not None for r in rounds[1:])
    assert {r["evaluated"] for r in rounds} == {len(worker.pool(store, labeling.session_config(
        store, sid)).y_test)}  # fmt: skip
    for r in rounds[1:]:
        before = store.session_stop_predictions(sid, r["round"])
        after = store.session_stop_predictions(sid, r["round"] + 1)
        assert r["kappa"] == pytest.approx(cohen_kappa_score(before, after, labels=np.arange(10)))
    rows = set(labeling.stop_set(store, sid, labeling.session_config(store, sid), 0).tolist())
    assert len(rows) > 100
    shown = {int(i) for b in store.session_batches(sid) for i in b["items"]}
    assert not rows & shown


# --------------------------------------------------------------------- extrapolation
def test_extrapolation_is_refused_with_a_reason_below_five_points() -> None:
    answer = stopping.extrapolate([20, 40, 60, 80], [0.5, 0.6, 0.66, 0.7], 0.9)
    assert answer.labels_needed is None and answer.more is None
    assert answer.reason == "the fit needs at least 5 points, the curve has 4"
    assert "Cannot tell how many labels 90% needs" in answer.message()


def test_extrapolation_recovers_a_known_curve_and_refuses_a_poor_fit() -> None:
    n = np.arange(20, 420, 20, dtype=float)
    c, a, b = 0.95, 2.5, 0.6
    answer = stopping.extrapolate(n, stopping.power_law(n, c, a, b), 0.93)
    assert answer.params == pytest.approx((c, a, b), rel=1e-3)
    exact = (a / (c - 0.93)) ** (1 / b)
    assert answer.labels_needed == pytest.approx(exact, rel=1e-3)
    assert answer.more == int(np.ceil(answer.labels_needed - 400))
    assert answer.low <= answer.labels_needed <= answer.high
    assert "extrapolated" in answer.message() and "not measured" in answer.message()
    zigzag = np.where(np.arange(len(n)) % 2 == 0, 0.5, 0.8)
    poor = stopping.extrapolate(n, zigzag, 0.9)
    assert poor.reason is not None and poor.reason.startswith("the fit is poor")
    reached = stopping.extrapolate(n, stopping.power_law(n, c, a, b), 0.5)
    assert reached.reached and "already reaches" in reached.message()


def test_replay_finds_the_rules_stop_and_the_half_curve_error() -> None:
    labels = np.arange(20, 420, 20, dtype=float)
    accuracy = stopping.power_law(labels, 0.95, 2.5, 0.6)
    kappas = [None, 0.9, 0.95, 0.99, 0.995, 0.999] + [0.999] * (len(labels) - 6)
    run = replay_run(labels, accuracy, kappas)
    assert run["stop_labels"] == 120 and run["stop_accuracy"] == accuracy[5]
    assert run["best_later"] == accuracy[-1]
    assert run["extrapolation_error"] == pytest.approx(0.0, abs=1e-4)  # an exact power law
    summary = summarise([run])
    assert summary["stopped_within_98pct"] == int(accuracy[5] >= 0.98 * accuracy[-1])


def test_own_data_band_is_the_held_out_labels_interval_and_says_it_is_wide(
    data_store: Store,
) -> None:
    import io
    import zipfile

    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, shade in enumerate((40, 200)):
            for i in range(6):
                png = io.BytesIO()
                Image.new("L", (16, 16), shade + i).save(png, "PNG")
                archive.writestr(f"class{k}/{i}.png", png.getvalue())
    sid = labeling.create_session(data_store, "own", upload=buffer.getvalue()).session_id
    data_store.add_session_round(
        sid,
        {"round": 0, "labeled": 16, "pseudo_labeled": 0, "held_out": 4,
         "test_accuracy": 0.75, "evaluated": 4, "kappa": None},
    )  # fmt: skip
    config = labeling.session_config(data_store, sid)
    advice = labeling.stopping_advice(data_store, sid, config)
    (point,) = advice.points
    expected = binomtest(3, 4).proportion_ci(confidence_level=0.95, method="wilson")
    assert (point["low"], point["high"]) == pytest.approx((expected.low, expected.high))
    assert "It is wide" in advice.interval_note and "every 5th" in advice.interval_note
    assert advice.table()["95 % interval"][0] == f"{expected.low:.1%} – {expected.high:.1%}"


def test_the_quoted_validation_is_the_benchmarks_file_and_its_docs_table() -> None:
    """The pages' note and docs/benchmarks.md quote al_core/stopping_validation.json."""
    from pathlib import Path

    measured = stopping.validation()
    assert measured is not None, "run: python -m benchmarks.stopping --write"
    note = stopping.validation_note()
    docs = (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text()
    for name, label in (("digits", "digits"), ("mnist", "MNIST")):
        s = measured["summary"][name]
        assert f"stopped {s['stopped']} of {s['runs']} runs" in note
        assert f"by {s['median_abs_error_points']:.1f} points (median" in note
        share = f"{s['stopped_within_98pct']} ({100 * s['share_within_98pct']:.0f} %)"
        gap = "—" if s["median_gap_points"] is None else f"{s['median_gap_points']:.1f} pt"
        stop = "—" if s["median_stop_labels"] is None else f"{s['median_stop_labels']:.0f}"
        row = (
            f"| {label} | {s['runs']} | {s['stopped']} | {share} | {stop} | {gap} "
            f"| {s['median_abs_error_points']:.1f} pt ({s['max_abs_error_points']:.1f}) |"
        )
        assert row in docs
