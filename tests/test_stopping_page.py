"""The Label page's "when can I stop?" block under AppTest over a real store: every
number it shows is the one al_core.stopping computes from the stored curve, and the
validation it quotes is the benchmark's file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from al_core import labeling, stopping
from al_core.store import Store
from tests.app_helpers import page_texts

LABEL = str(Path(__file__).resolve().parent.parent / "pages" / "label.py")
# A stored curve: 8 retrains on a 360-image test split, kappa settling at the end.
LABELS = [10, 20, 30, 40, 50, 60, 70, 80]
ACCURACY = [0.400, 0.550, 0.625, 0.675, 0.711, 0.736, 0.758, 0.775]
KAPPAS = [None, 0.62, 0.85, 0.93, 0.97, 0.991, 0.995, 0.993]


def test_band_kappa_rule_and_extrapolation_are_the_stored_curves(data_dir: Path) -> None:
    with Store(data_dir / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, "stop", dataset="digits", batch=10, model="mlp"
        ).session_id
        for i, (n, accuracy, kappa) in enumerate(zip(LABELS, ACCURACY, KAPPAS, strict=True)):
            store.add_session_round(
                session_id,
                {"round": i, "labeled": n, "pseudo_labeled": 0, "held_out": 0,
                 "test_accuracy": accuracy, "kappa": kappa, "evaluated": 360},
            )  # fmt: skip
    app = AppTest.from_file(LABEL, default_timeout=60)
    app.query_params["session"] = str(session_id)
    app.session_state["retrains_open"] = True  # the per-retrain table's section, opened
    app.run()
    assert not app.exception, app.exception
    texts = page_texts(app)

    table = next(t.value for t in app.dataframe if "kappa vs previous model" in t.value)
    for row, accuracy in zip(table.itertuples(index=False), ACCURACY, strict=True):
        low, high = stopping.accuracy_interval(accuracy, 360)
        assert row[3] == f"{low:.1%} – {high:.1%}" and row[4] == "360 images"
    assert list(table["kappa vs previous model"]) == [
        "—" if k is None else f"{k:.3f}" for k in KAPPAS
    ]
    # 0.991, 0.995, 0.993: the last three retrains reach 0.99.
    assert "Predictions have stabilised" in texts and "(0.991, 0.995, 0.993)" in texts
    # The target defaults to the next 5 % above 77.5 %: 80 %.
    expected = stopping.extrapolate(LABELS, ACCURACY, 0.80)
    assert expected.reason is None
    assert expected.message() in texts
    assert "extrapolated — not measured" in {trace.get("name") for trace in _figure(app)["data"]}
    assert stopping.validation_note() in texts

    # Asking the rule for 4 stable retrains: not yet (0.97 is among the last four).
    app.number_input(key="stop_window").set_value(4).run()
    assert "Predictions are still changing" in page_texts(app)


def _figure(app: AppTest) -> dict:
    import json

    chart = next(c for c in app.get("plotly_chart") if "label_curve" in c.proto.id)
    return json.loads(chart.proto.spec)


def test_too_few_points_say_why_nothing_is_extrapolated(data_dir: Path) -> None:
    with Store(data_dir / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, "short", dataset="digits", batch=10, model="mlp"
        ).session_id
        for i in range(3):
            store.add_session_round(
                session_id,
                {"round": i, "labeled": 10 * (i + 1), "pseudo_labeled": 0, "held_out": 0,
                 "test_accuracy": float(np.linspace(0.4, 0.6, 3)[i]), "evaluated": 360},
            )  # fmt: skip
    app = AppTest.from_file(LABEL, default_timeout=60)
    app.query_params["session"] = str(session_id)
    app.run()
    assert not app.exception, app.exception
    assert (
        "Cannot tell how many labels 65% needs: the fit needs at least 5 points, the curve "
        "has 3." in page_texts(app)
    )


def test_results_page_table_is_the_stored_trials_rules(data_dir: Path) -> None:
    """A real tiny sweep (digits, softmax, random and margin, one seed, 6 retrains):
    the Results page's stopping table is experiment_stopping over the stored rounds,
    and its kappas are the stored ones."""
    from al_core import results, runner
    from al_core.loop import TrialConfig

    base = TrialConfig(
        model="softmax", epochs=5, min_steps=25, learning_rate=0.05, initial=20,
        batch=20, rounds=5, agreement_size=300, seed=0,
    )  # fmt: skip
    with Store(data_dir / "al.sqlite3") as store:
        experiment_id = runner.create_experiment(
            store, base, ["margin"], [0.0, 1.0], 1, baseline=False, name="stop sweep"
        )
        for trial in store.trials(experiment_id):
            runner.run_trial(store, trial["id"])
        runner.finish_experiment(store, experiment_id)
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
    stored = rounds[rounds["round"] > 0]["kappa"]
    assert stored.notna().all() and rounds[rounds["round"] == 0]["kappa"].isna().all()

    app = AppTest.from_file(str(Path(LABEL).with_name("results.py")), default_timeout=60).run()
    assert not app.exception, app.exception
    target = app.number_input[0].value / 100
    shown = next(t.value for t in app.dataframe if "kappa rule stopped" in t.value)
    expected, kappas, extrapolations = stopping.experiment_stopping(rounds, target)
    assert shown.equals(expected)
    for name, answer in extrapolations.items():
        assert f"**{name}**: {answer.message()}" in page_texts(app)
    margin = rounds[rounds["fraction"] == 1.0].groupby("labeled")["kappa"].median()
    pd.testing.assert_series_equal(
        kappas["margin · u = 100 %"], margin, check_names=False, check_index_type=False
    )

    # Extrapolated on the chart: each drawn dotted curve is extrapolated_curves' of the
    # experiment's configurations, at a target above every measured point.
    import json

    goal = int(100 * rounds["test_accuracy"].max()) + 3
    app.number_input[0].set_value(goal).run()
    toggle = next(t for t in app.toggle if t.label == "Extrapolate (not measured)")
    toggle.set_value(True).run()
    assert not app.exception, app.exception
    chart = next(c for c in app.get("plotly_chart") if "results_chart" in c.proto.id)
    traces = {t["name"]: t for t in json.loads(chart.proto.spec)["data"]}
    curves = stopping.extrapolated_curves(stopping.experiment_stopping(rounds, goal / 100)[2])
    assert curves, "the tiny sweep's curves should extrapolate to a target above them"
    drawn = {n: t for n, t in traces.items() if n.endswith(" — extrapolated, not measured")}
    assert sorted(drawn) == sorted(f"{label} — extrapolated, not measured" for label in curves)
    for label, (x, y) in curves.items():
        trace = drawn[f"{label} — extrapolated, not measured"]
        assert trace["line"]["dash"] == "dot"
        assert trace["line"]["color"] == traces[label]["line"]["color"]
        np.testing.assert_allclose(trace["x"], x)
        np.testing.assert_allclose(trace["y"], y)
        assert max(x) <= 3 * rounds["labeled"].max()
    assert "**extrapolated — not measured**" in page_texts(app)
