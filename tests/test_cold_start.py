"""Cold start: TypiClust, pixel features, strategy ``auto``'s hand-over and where it is
stored and shown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from al_core import strategies
from al_core.errors import ConfigError
from al_core.strategies import pixel_features, select_batch, typicality, typiclust


def _blobs(sizes: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian blobs in 2-D: points (n, 2) and their blob (n,)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    points = [centres[i] + rng.normal(size=(n, 2)) for i, n in enumerate(sizes)]
    blob = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)])
    return np.concatenate(points), blob


def test_typicality_is_the_inverse_mean_distance_to_the_k_nearest_others() -> None:
    points = np.random.default_rng(1).normal(size=(60, 3))
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    expected = 1 / np.sort(distances, axis=1)[:, :5].mean(axis=1)
    np.testing.assert_allclose(typicality(points, 5), expected, rtol=1e-9)


def test_an_outlier_is_less_typical_than_a_point_of_its_dense_core() -> None:
    points = np.r_[np.random.default_rng(2).normal(size=(50, 2)), [[8.0, 8.0]]]
    scores = typicality(points, 10)
    assert scores[-1] < scores[:-1].min()


def test_typiclust_takes_one_image_per_region_largest_first_from_its_dense_centre() -> None:
    points, blob = _blobs((80, 40, 20, 10))
    picks = typiclust(points, np.zeros(len(points), bool), 4, np.random.default_rng(0))
    assert blob[picks].tolist() == [0, 1, 2, 3]  # every region once, the largest first
    for pick in picks:  # each pick is among the 3 most typical of its region
        members = np.flatnonzero(blob == blob[pick])
        ranking = members[np.argsort(-typicality(points[members]))]
        assert pick in ranking[:3]


def test_a_region_under_five_images_waits_while_a_larger_one_has_images_left() -> None:
    """README: TypiClust labels "each of the largest regions that hold no label yet"; a
    region under MIN_CLUSTER_SIZE (5) images is an outlier group, taken only when no
    larger region has an unlabeled image left, even if the larger ones hold labels."""
    points, blob = _blobs((80, 40, 3))  # 3 clusters for 3 picks: the tiny region is one
    picks = typiclust(points, np.zeros(len(points), bool), 3, np.random.default_rng(0))
    assert blob[picks].tolist() == [0, 1, 0]
    covered = np.array([np.flatnonzero(blob == 0)[0], np.flatnonzero(blob == 1)[0]])
    picks = typiclust(points, covered, 1, np.random.default_rng(0))
    assert blob[picks].tolist() == [0]  # a second label in the largest, not the tiny one


def test_labeled_images_count_as_coverage_and_are_never_picked() -> None:
    points, blob = _blobs((80, 40, 20, 10))
    labeled = np.flatnonzero(blob == 0)[:1]  # the largest region is already covered
    picks = typiclust(points, labeled, 3, np.random.default_rng(0))
    assert sorted(blob[picks].tolist()) == [1, 2, 3]
    assert not set(picks) & set(labeled)


def test_typiclust_is_deterministic_given_the_generator_and_picks_distinct_rows() -> None:
    features = np.random.default_rng(3).normal(size=(400, 8))
    first = typiclust(features, np.arange(10), 30, np.random.default_rng(7))
    again = typiclust(features, np.arange(10), 30, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert len(set(first)) == 30 and not set(first) & set(range(10))


def test_typiclust_refuses_more_picks_than_unlabeled_rows_with_the_numbers() -> None:
    features = np.zeros((5, 2))
    with pytest.raises(ConfigError, match="between 0 and the 3 unlabeled rows"):
        typiclust(features, np.array([0, 1]), 4, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"labeled row indices must lie in \[0, 5\)"):
        typiclust(features, np.array([7]), 1, np.random.default_rng(0))


def test_pixel_features_are_deterministic_and_refuse_bad_pixels_saying_how_many() -> None:
    images = np.random.default_rng(4).random((300, 8, 8, 1)).astype(np.float32)
    features = pixel_features(images, 20, seed=3)
    assert features.shape == (300, 20) and features.dtype == np.float32
    np.testing.assert_array_equal(features, pixel_features(images, 20, seed=3))
    images[[5, 9]] = np.nan
    with pytest.raises(ConfigError, match="2 image\\(s\\) hold NaN"):
        pixel_features(images)
    with pytest.raises(ConfigError, match="at least 2 images"):
        pixel_features(images[:1])


def test_select_batch_clusters_candidates_with_the_labeled_rows() -> None:
    points, blob = _blobs((80, 40, 20, 10))
    labeled = np.arange(len(points)) == 0  # 1 + 3 = 4 clusters: the 4 regions
    selection = select_batch(
        None,
        3,
        strategy="typiclust",
        fraction=1.0,
        rng=np.random.default_rng(0),
        embeddings=points[~labeled],
        labeled_embeddings=points[labeled],
    )
    assert sorted(blob[~labeled][selection.indices].tolist()) == [1, 2, 3]
    assert np.isnan(selection.scores).all() and selection.by_uncertainty.all()


def test_select_batch_refuses_auto_naming_what_decides_it() -> None:
    with pytest.raises(ConfigError, match="picking_strategy"):
        select_batch(np.full((4, 2), 0.5), 1, strategy="auto", fraction=1.0,
                     rng=np.random.default_rng(0))  # fmt: skip


def test_auto_needs_what_both_phases_need() -> None:
    assert strategies.inputs_needed("auto") == {"embeddings", "labeled_embeddings", "probs"}
    assert "mc_probs" in strategies.inputs_needed("auto", base_score="bald")


# -- the loop -------------------------------------------------------------------------


def _fast(**changes):  # -> TrialConfig
    from al_core.loop import TrialConfig

    settings = {"dataset": "digits", "model": "softmax", "epochs": 20, "min_steps": 1,
                "batch": 10, "agreement_size": 0, "seed": 0}  # fmt: skip
    settings.update(changes)
    return TrialConfig(**settings)


def test_typical_start_covers_the_classes_better_than_a_random_start() -> None:
    from al_core.datasets import load_dataset
    from al_core.loop import initial_indices

    dataset = load_dataset("digits")
    typical = initial_indices(_fast(initial=10, initial_mode="typical"), dataset.y_pool,
                              dataset.x_pool)  # fmt: skip
    assert len(set(typical.tolist())) == 10
    covered = len(np.unique(dataset.y_pool[typical]))
    random_cover = [
        len(np.unique(dataset.y_pool[initial_indices(_fast(initial=10, seed=s), dataset.y_pool)]))
        for s in range(10)
    ]
    assert covered >= 8 and covered >= np.median(random_cover)
    with pytest.raises(ConfigError, match="needs the pool's images"):
        initial_indices(_fast(initial=10, initial_mode="typical"), dataset.y_pool)


def test_auto_hands_over_at_the_rule_and_the_store_keeps_who_picked(tmp_path) -> None:
    from al_core.datasets import load_dataset
    from al_core.loop import RoundRecord, run_loop
    from al_core.results import rounds_frame
    from al_core.results.curves import curve_bands
    from al_core.store import Store, TrialSpec

    config = _fast(strategy="auto", initial=10, initial_mode="typical", rounds=4,
                   handover_per_class=2)  # fmt: skip
    dataset = load_dataset("digits")
    result = run_loop(dataset, config)
    picked = [(r.labeled, r.picked_by) for r in result.rounds]
    # 2 per class x 10 classes = 20 labels: typical images below, margin from there on.
    assert picked == [(10, "typiclust"), (20, "margin"), (30, "margin"), (40, "margin"),
                      (50, None)]  # fmt: skip
    store = Store(tmp_path / "al.sqlite3")
    experiment = store.create_experiment(
        "cold", config.to_dict(), [TrialSpec("auto", 1.0, 0, config.to_dict())]
    )
    trial = store.trials(experiment)[0]["id"]
    for record in result.rounds:
        store.add_round(trial, record.to_dict())
    stored = store.rounds(trial)
    assert [(row["labeled"], row["picked_by"]) for row in stored] == picked
    assert RoundRecord.from_stored(stored[1]).picked_by == "margin"  # a replay keeps it
    rows = [dict(r, trial_status="done") for r in store.experiment_rounds([experiment])]
    bands = curve_bands(rounds_frame(rows))
    assert bands["handover_at"].dropna().unique().tolist() == [20.0]


def test_typiclust_clusters_the_models_embeddings_from_the_hand_over_on() -> None:
    """README: before the hand-over TypiClust clusters PCA-50 of the pixels (no model
    involved: two differently trained models pick alike); from the hand-over on, the
    model's embeddings (so two differently trained models pick differently)."""
    from al_core.datasets import load_dataset
    from al_core.loop import ActiveLearner, initial_indices

    dataset = load_dataset("digits")
    after, before = {}, {}
    for learning_rate in (0.01, 0.001):
        # 20 labels: past a hand-over at 1 per class (10 labels), below one at 3 (30).
        config = _fast(model="mlp", strategy="typiclust", initial=20, epochs=3, min_steps=10,
                       learning_rate=learning_rate, handover_per_class=1)  # fmt: skip
        first = initial_indices(config, dataset.y_pool)
        learner = ActiveLearner(dataset, config)
        learner.teach(first, dataset.y_pool[first])
        learner.train_and_evaluate()
        after[learning_rate] = learner.query(10).indices.tolist()
        # The same trained model and labels, the hand-over not reached yet.
        same_model = ActiveLearner(
            dataset, config.replace(handover_per_class=3), classifier=learner.classifier
        )
        same_model.teach(first, dataset.y_pool[first])
        before[learning_rate] = same_model.query(10).indices.tolist()
    assert before[0.01] == before[0.001]
    assert after[0.01] != after[0.001]


def test_auto_whose_hand_over_never_fires_within_the_budget_is_refused() -> None:
    from al_core.datasets import load_dataset
    from al_core.loop import ActiveLearner

    dataset = load_dataset("digits")
    config = _fast(strategy="auto", initial=20, rounds=3)  # 50 labels; hands over at 100
    with pytest.raises(ConfigError, match="at most 4, or pick strategy typiclust"):
        ActiveLearner(dataset, config)
    with pytest.raises(ConfigError, match="handover_per_class must be"):
        _fast(strategy="auto", handover_per_class=0)


def test_the_chart_marks_the_hand_over_on_autos_curve() -> None:
    from al_core.charts import curves_figure

    bands = pd.DataFrame(
        {"experiment_id": 1, "strategy": "auto", "fraction": 1.0, "label": "auto",
         "labeled": [20, 40, 60], "mean": [0.5, 0.7, 0.8], "std": 0.0, "lower": 0.0,
         "upper": 0.0, "trials": 3, "phase": "active", "handover_at": 40.0}
    )  # fmt: skip
    markers = [t for t in curves_figure(bands).data if "then uncertainty" in (t.name or "")]
    assert len(markers) == 1
    assert (markers[0].x[0], markers[0].y[0]) == (40.0, 0.7)


def test_the_cli_refuses_an_auto_sweep_that_never_hands_over_before_storing(tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    db = tmp_path / "al.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "al_core", "sweep", "--db", str(db), "--strategies",
         "margin,auto", "--fractions", "0,1", "--budget", "50", "--trials", "1", "--detach"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "AL_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "it would never hand over. Lower --handover-per-class to at most 4" in done.stderr
    assert not db.exists()  # nothing stored


def test_the_form_offers_the_cold_start_and_refuses_a_hand_over_past_the_budget() -> None:
    from al_core.forms import sweep_request

    settings = {"dataset": "digits", "model": "cnn", "fractions": "0, 1", "trials": 1,
                "initial": 10, "batch": 10, "rounds": 4, "budget": None, "target": 0.9}  # fmt: skip
    request = sweep_request(strategies=["auto"], initial_mode="typical", handover_per_class=2,
                            **settings)  # fmt: skip
    assert request.base.initial_mode == "typical" and request.base.handover_per_class == 2
    with pytest.raises(ConfigError, match="budget is 50 labels: it would never hand over"):
        sweep_request(strategies=["margin", "auto"], **settings)
