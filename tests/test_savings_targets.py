"""Savings across targets: labels needed by a configuration and by random as a
function of the target accuracy, the default target, the random baseline's rounds
past the budget (phase ``baseline``), ``report --targets`` and the pages' figures.

Every expected number here is computed independently from the stored rounds
(first crossing, numpy interpolation, median with never-reached trials counted
as slowest), not with the functions under test.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_core import charts, results
from al_core.errors import ConfigError
from al_core.store import Store, TrialSpec
from tests.app_helpers import trial_rows
from tests.conftest import REPO_ROOT

ACTIVE = list(range(20, 101, 10))  # 20 … 100 labels: the active budget
PAST = [150, 220, 330]  # random's rounds past the budget (the baseline extension)
SEEDS = (0, 1, 2, 3, 4)
TARGETS = [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.96]


def _curve(start: float, end: float, seed: int, n: int, wobble: float) -> list[float]:
    """An increasing learning curve from ``start`` to ``end`` with a seed-specific bend."""
    t = np.linspace(0.0, 1.0, n)
    bend = 0.6 + 0.15 * seed
    return list(np.round(start + (end - start) * t**bend + wobble * np.sin(7 * t + seed), 4))


def _accuracies() -> dict[tuple[str, float, int], tuple[list[float], list[float]]]:
    """(active accuracies, baseline accuracies) per (strategy, fraction, seed)."""
    curves = {}
    for seed in SEEDS:
        random_active = _curve(0.62 + 0.01 * seed, 0.86 + 0.005 * seed, seed, len(ACTIVE), 0.004)
        # Seed 4 never reaches 96 %, not even past the budget: a censored trial.
        past = [0.9 + 0.004 * seed, 0.935 + 0.003 * seed, 0.962 if seed < 4 else 0.955]
        curves[("random", 0.0, seed)] = (random_active, past)
        margin = _curve(0.62 + 0.01 * seed, 0.962 + 0.002 * seed, seed, len(ACTIVE), 0.003)
        curves[("margin", 0.4, seed)] = (margin, [])
    return curves


def _rows(status: str = "done") -> list[dict]:
    rows = []
    for trial_id, ((strategy, fraction, seed), (active, past)) in enumerate(
        _accuracies().items(), 1
    ):
        points = [("active", n, a) for n, a in zip(ACTIVE, active, strict=True)]
        points += [("baseline", n, a) for n, a in zip(PAST, past, strict=False)]
        rows += trial_rows(trial_id, (strategy, fraction, seed), points, status)
    return rows


@pytest.fixture
def rounds() -> pd.DataFrame:
    return results.rounds_frame(_rows())


# --------------------------------------------------------------------------- by hand


def _labels_by_hand(labeled: np.ndarray, accuracy: np.ndarray, target: float) -> float:
    """First crossing of ``target``, linear interpolation with ``np.interp``."""
    hits = np.flatnonzero(accuracy >= target)
    if hits.size == 0:
        return math.nan
    i = int(hits[0])
    if i == 0:
        return float(labeled[0])
    return float(np.interp(target, accuracy[i - 1 : i + 1], labeled[i - 1 : i + 1].astype(float)))


def _median_by_hand(values: list[float]) -> float:
    """Median with a never-reached trial (NaN) counted as larger than all others."""
    ordered = sorted(math.inf if math.isnan(v) else v for v in values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return float(np.round(median)) if math.isfinite(median) else math.nan


def _by_hand(frame: pd.DataFrame, strategy: str, fraction: float, target: float) -> dict:
    """One savings row from the stored rounds, without the code under test."""
    side: dict[str, dict[int, float]] = {"random": {}, "chosen": {}}
    for (s, f, seed), trial in frame.groupby(["strategy", "fraction", "seed"]):
        measured = trial[trial["phase"].isin(["active", "baseline"])].sort_values("labeled")
        labels = _labels_by_hand(
            measured["labeled"].to_numpy(), measured["test_accuracy"].to_numpy(), target
        )
        if f == 0:
            side["random"][seed] = labels
        elif (s, f) == (strategy, fraction):
            side["chosen"][seed] = labels
    out = {}
    for name, per_seed in side.items():
        values = list(per_seed.values())
        reached = [v for v in values if not math.isnan(v)]
        out[name] = {
            "median": _median_by_hand(values),
            "min": min(reached) if reached else math.nan,
            "max": max(values) if len(reached) == len(values) else math.nan,
            "reached": len(reached),
            "trials": len(values),
        }
    r, c = out["random"]["median"], out["chosen"]["median"]
    saved = 1 - c / r if math.isfinite(r) and math.isfinite(c) else math.nan
    pairs = [
        1 - side["chosen"][seed] / side["random"][seed]
        for seed in side["chosen"]
        if not math.isnan(side["chosen"][seed]) and not math.isnan(side["random"][seed])
    ]
    spread = float(np.std(pairs, ddof=1)) if len(pairs) > 1 else math.nan
    if math.isnan(saved):
        outcome = "not comparable"
    elif math.isnan(spread):
        outcome = "not conclusive"
    elif abs(saved) <= spread:
        outcome = "within noise"
    else:
        outcome = "fewer" if saved > 0 else "more"
    return {**out, "saved": saved, "spread": spread, "outcome": outcome}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- results


def test_savings_vs_target_equal_an_independent_computation(rounds: pd.DataFrame) -> None:
    savings = results.savings_by_target(rounds, "margin", 0.4, TARGETS)
    assert savings.columns.tolist() == results.SAVINGS_COLUMNS
    assert savings["target"].tolist() == TARGETS
    outcomes = set()
    for _, row in savings.iterrows():
        expected = _by_hand(rounds, "margin", 0.4, row["target"])
        for prefix, side in (("random_", "random"), ("", "chosen")):
            hand = expected[side]
            assert _same(row[f"{prefix}labels" if prefix else "labels"], hand["median"]), row
            assert _same(row[f"{prefix}min" if prefix else "labels_min"], hand["min"]), row
            assert _same(row[f"{prefix}max" if prefix else "labels_max"], hand["max"]), row
            assert row[f"{prefix}reached" if prefix else "reached"] == hand["reached"]
            assert row[f"{prefix}trials" if prefix else "trials"] == hand["trials"] == 5
        assert _same(row["saved_fraction"], expected["saved"]), row
        assert _same(row["saved_std"], expected["spread"]), row
        assert row["outcome"] == expected["outcome"], row
        outcomes.add(row["outcome"])
    # The data span the interesting cases: measured savings and a censored random trial.
    top = savings.iloc[-1]
    assert top["random_reached"] == 4 and math.isnan(top["random_max"])
    assert math.isfinite(top["random_labels"]) and top["random_labels"] > 100  # past the budget
    assert "fewer" in outcomes
    assert (savings["random_ran"] == 330).all() and (savings["ran"] == 100).all()


def test_savings_rows_are_the_results_table_at_each_target(rounds: pd.DataFrame) -> None:
    savings = results.savings_by_target(rounds, "margin", 0.4, [0.9, 0.95])
    for _, row in savings.iterrows():
        configs = results.config_table(results.trial_table(rounds, row["target"]))
        margin = configs[configs["fraction"] == 0.4].iloc[0]
        random = configs[configs["fraction"] == 0].iloc[0]
        assert row["labels"] == margin["labels_to_target"]
        assert row["random_labels"] == random["labels_to_target"]
        assert _same(row["saved_fraction"], margin["saved_fraction"])
        assert _same(row["saved_std"], margin["saved_fraction_std"])


def test_a_random_trial_reaching_the_target_only_past_the_budget_is_measured(
    rounds: pd.DataFrame,
) -> None:
    trials = results.trial_table(rounds, 0.95)
    random = trials[trials["fraction"] == 0].set_index("seed")
    # Seed 0 stays below 95 % within the 100-label budget and reaches it past it.
    seed0 = rounds[(rounds["fraction"] == 0) & (rounds["seed"] == 0)]
    assert seed0[seed0["phase"] == "active"]["test_accuracy"].max() < 0.95
    assert random.loc[0, "reached"] and 220 < random.loc[0, "labels_to_target"] < 330
    expected = _labels_by_hand(seed0["labeled"].to_numpy(), seed0["test_accuracy"].to_numpy(), 0.95)
    assert random.loc[0, "labels_to_target"] == pytest.approx(expected)
    assert random.loc[0, "interpolated"]
    # Rounds, final labeled, final accuracy and AUC stay those of the active budget.
    active = seed0[seed0["phase"] == "active"]
    assert random.loc[0, "rounds"] == len(ACTIVE)
    assert random.loc[0, "final_labeled"] == 100
    assert random.loc[0, "extended_labeled"] == 330
    assert random.loc[0, "final_accuracy"] == active["test_accuracy"].iloc[-1]
    only_active = results.trial_table(rounds[rounds["phase"] == "active"], 0.95)
    assert (
        random.loc[0, "auc"]
        == only_active[(only_active["fraction"] == 0) & (only_active["seed"] == 0)]["auc"].iloc[0]
    )
    assert not only_active[only_active["fraction"] == 0]["reached"].any()
    # The table says how far random ran when it never got there.
    configs = results.config_table(results.trial_table(rounds, 0.99))
    table = results.display_table(configs)
    assert table[table["uncertainty"] == "0%"]["labels to target"].iloc[0] == (
        "not reached (> 330)"
    )


def test_default_target_is_the_best_median_final_accuracy_rounded_down(
    rounds: pd.DataFrame,
) -> None:
    configs = results.config_table(results.trial_table(rounds, 0.9))
    finals = [_accuracies()[("margin", 0.4, s)][0][-1] for s in SEEDS]
    assert results.default_target(configs) == math.floor(np.median(finals) * 100) / 100 == 0.96
    assert results.top_active(configs)["fraction"] == 0.4
    running = results.completion(["done", "running"])
    assert results.default_target(configs, running) is None
    assert results.default_target(pd.DataFrame()) is None
    assert results.whole_percent_down(0.57) == 0.57  # not 0.56 from 56.99999…
    assert results.whole_percent_down(0.9699) == 0.96
    assert results.whole_percent_down(1.0) == 1.0


def test_target_grid_spans_the_range_both_reach(rounds: pd.DataFrame) -> None:
    grid = results.target_grid(rounds, "margin", 0.4, upper=0.96)
    starts = [_accuracies()[(s, f, seed)][0][0] for s, f in (("random", 0.0),) for seed in SEEDS]
    assert grid[0] == (math.floor(np.median(starts) * 100) + 1) / 100
    assert grid[-1] == 0.96
    assert np.allclose(np.diff(grid), 0.01)
    assert results.target_grid(rounds[rounds["fraction"] > 0], "margin", 0.4) == []


@pytest.mark.parametrize(("random_start", "margin_start"), [(0.50, 0.65), (0.65, 0.50)])
def test_target_grid_starts_above_the_larger_of_the_two_starts(
    random_start: float, margin_start: float
) -> None:
    """docs/results.md: targets run "from just above where both curves start", i.e. above
    the later start (below it one side needs only its initial labels), whichever side it is."""
    rows = []
    for trial_id, (key, start) in enumerate(
        [(("random", 0.0, s), random_start) for s in (0, 1)]
        + [(("margin", 0.4, s), margin_start) for s in (0, 1)],
        1,
    ):
        points = [("active", n, start + 0.1 * i) for i, n in enumerate((20, 30, 40))]
        rows += trial_rows(trial_id, key, points)
    grid = results.target_grid(results.rounds_frame(rows), "margin", 0.4, upper=0.72)
    assert grid == [0.66, 0.67, 0.68, 0.69, 0.70, 0.71, 0.72]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.85,abc", "targets must be accuracies separated by commas, e.g. 0.85,0.9,0.95"),
        ("0.85,95", "target accuracy must be in (0, 1], got 95.0; write 0.9 for 90 %"),
        ("0,0.9", "target accuracy must be in (0, 1], got 0.0"),
        (" , ", "give at least one target accuracy, e.g. 0.85,0.9,0.95"),
    ],
)
def test_bad_targets_are_refused_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        results.parse_targets(text)
    assert message in str(error.value)


def test_parse_targets_and_bad_calls(rounds: pd.DataFrame) -> None:
    assert results.parse_targets("0.85, 0.9 0.95,0.9") == [0.85, 0.9, 0.95]
    with pytest.raises(ConfigError, match="must be in"):
        results.savings_by_target(rounds, "margin", 0.4, [1.2])
    with pytest.raises(ConfigError, match="not random with itself"):
        results.savings_by_target(rounds, "random", 0.0, [0.9])
    two = pd.concat([rounds, rounds.assign(experiment_id=2, trial_id=rounds["trial_id"] + 100)])
    with pytest.raises(ConfigError, match="name the experiment_id"):
        results.savings_by_target(two, "margin", 0.4, [0.9])
    assert len(results.savings_by_target(two, "margin", 0.4, [0.9], experiment_id=2)) == 1


def test_headline_sentence_names_the_default_target_and_quotes_the_table(
    rounds: pd.DataFrame,
) -> None:
    configs = results.config_table(results.trial_table(rounds, 0.96))
    best = results.headline(configs, 0.96)
    assert best is not None
    table = results.display_table(configs)
    random_cell = table[table["uncertainty"] == "0%"].iloc[0]
    margin_cell = table[table["uncertainty"] == "40%"].iloc[0]
    assert results.headline_sentence(best, configs) == (
        "To reach 96 % — the accuracy margin at 40 % reached with 100 labels — random needed "
        f"{random_cell['labels to target']} labels (median of 5 trials; "
        f"{random_cell['reaching target']} reached it), margin at 40 % needed "
        f"{margin_cell['labels to target']} ({margin_cell['reaching target']}): "
        f"saved {margin_cell['saved vs random'].lstrip('+')} ± {margin_cell['± saved']} "
        "across seed pairs."
    )
    other = results.config_table(results.trial_table(rounds, 0.9))
    sentence = results.headline_sentence(results.headline(other, 0.9), other)
    assert sentence.startswith("To reach 90 % random needed ")  # no default-target clause


def test_savings_table_and_chart_show_the_same_strings(rounds: pd.DataFrame) -> None:
    savings = results.savings_by_target(rounds, "margin", 0.4, TARGETS)
    table = results.savings_display_table(savings)
    assert table.columns.tolist() == results.SAVINGS_DISPLAY_COLUMNS
    top = table.iloc[-1]
    assert top["target"] == "96 %"
    assert top["random: reached"] == "4 of 5"
    assert top["random: fastest – slowest"].endswith("– not reached (> 330)")
    assert top["random: labels (median)"] == f"{savings.iloc[-1]['random_labels']:.0f}"
    assert "nan" not in table.to_string() and "None" not in table.to_string()
    figure = charts.savings_figure(savings, table, "margin · u = 40 %", 0.96)
    random_trace, margin_trace = figure.data
    assert random_trace.name == "random (baseline)" and margin_trace.name == "margin · u = 40 %"
    assert list(random_trace.text) == table["random: labels (median)"].tolist()
    assert list(margin_trace.text) == table["chosen: labels (median)"].tolist()
    assert [list(c) for c in margin_trace.customdata] == table[
        [
            "chosen: fastest – slowest",
            "chosen: reached",
            "saved vs random",
            "± saved (seed pairs)",
        ]
    ].values.tolist()
    assert list(margin_trace.x) == [round(t * 100, 6) for t in TARGETS]
    # Each plotted median is the number its table cell shows.
    for y, cell in zip(margin_trace.y, margin_trace.text, strict=True):
        assert f"{y:.0f}" == cell


def test_curve_bands_and_chart_mark_the_baseline_extension(rounds: pd.DataFrame) -> None:
    bands = results.curve_bands(rounds)
    assert set(bands["phase"]) == {"active", "baseline"}
    past = bands[bands["phase"] == "baseline"]
    assert (past["fraction"] == 0).all() and past["labeled"].tolist() == PAST
    by_hand = [np.mean([_accuracies()[("random", 0.0, s)][1][i] for s in SEEDS]) for i in range(3)]
    assert past["mean"].tolist() == pytest.approx(by_hand)
    active = bands[bands["phase"] == "active"]
    plain = results.curve_bands(rounds[rounds["phase"] == "active"])
    assert (
        active.drop(columns="phase")
        .reset_index(drop=True)
        .equals(plain.drop(columns="phase").reset_index(drop=True))
    )
    figure = charts.curves_figure(bands)
    names = [t.name for t in figure.data]
    assert names == [
        "margin · u = 40 % band",
        "margin · u = 40 %",
        "random (baseline) band",
        "random (baseline)",
        "random — run on past the budget",
    ]
    extension = figure.data[-1]
    assert extension.line.dash == "dashdot" and extension.line.color == charts.EXTENSION_COLOR
    assert list(extension.x) == [100, *PAST]  # joined to the last point within the budget
    assert figure.data[3].line.dash == "dash" and list(figure.data[3].x) == ACTIVE
    # The x axis: linear while the run past the budget stays within 3× the plan's
    # end, logarithmic (from the first labels to the last point) once it goes further.
    last_past = max(PAST)
    linear = charts.curves_figure(bands, labeled_range=(ACTIVE[0], last_past / 3))
    assert linear.layout.xaxis.type is None and linear.layout.xaxis.range[1] > last_past
    wide = charts.curves_figure(bands, labeled_range=(ACTIVE[0], last_past / 3.5))
    assert wide.layout.xaxis.type == "log"
    low, high = wide.layout.xaxis.range
    assert 10**low < ACTIVE[0] and 10**high > last_past
    assert wide.layout.xaxis.title.text == "labeled images (log scale)"


# --------------------------------------------------------------------------- report


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A store holding the rounds above as one finished experiment."""
    return _store_rows(tmp_path / "al.sqlite3", _rows(), [0.0, 0.4], ["margin"])


def _store_rows(db: Path, rows_to_store: list[dict], fractions: list, strategies: list) -> Path:
    """``db`` holding ``rows_to_store`` (stored-round rows) as one finished experiment."""
    base = {"dataset": "digits", "initial": 20, "batch": 10, "rounds": 8, "target": 0.85}
    config = {"base": base, "fractions": fractions, "strategies": strategies}
    by_key: dict[tuple, list[dict]] = {}
    for row in rows_to_store:
        by_key.setdefault((row["strategy"], row["fraction"], row["seed"]), []).append(row)
    with Store(db) as store:
        specs = [TrialSpec(s, f, seed, {**base, "seed": seed}) for s, f, seed in by_key]
        experiment_id = store.create_experiment("savings sweep", config, specs)
        for trial, rows in zip(store.trials(experiment_id), by_key.values(), strict=True):
            store.set_trial_status(trial["id"], "running")
            for row in rows:
                record = {k: row[k] for k in ("round", "phase", "labeled")}
                store.add_round(
                    trial["id"],
                    {**record, "test_accuracy": float(row["test_accuracy"]), "pseudo_labeled": 0},
                )
            store.set_trial_status(trial["id"], "done", stop_reason="rounds")
        store.set_experiment_status(experiment_id, "done")
    return db


def _al(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "al_core", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_targets_json_and_text_carry_the_results_numbers(stored: Path) -> None:
    proc = _al("report", "1", "--db", str(stored), "--targets", "0.85,0.9,0.96", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"] == 0.85  # --target behaviour unchanged: the stored one
    with Store(stored) as store:
        rounds = results.rounds_frame(store.experiment_rounds([1]))
    expected = results.savings_by_target(rounds, "margin", 0.4, [0.85, 0.9, 0.96])
    shown = report["targets"]
    assert [row["target"] for row in shown] == [0.85, 0.9, 0.96]
    for row, (_, want) in zip(shown, expected.iterrows(), strict=True):
        assert (row["experiment_id"], row["strategy"], row["fraction"]) == (1, "margin", 0.4)
        for column in results.SAVINGS_COLUMNS:
            value = want[column]
            if isinstance(value, str):
                assert row[column] == value
            elif math.isnan(value):
                assert row[column] is None, column
            else:
                assert row[column] == pytest.approx(value, rel=1e-12), column
    text = _al("report", "1", "--db", str(stored), "--targets", "0.85,0.9,0.96")
    assert text.returncode == 0, text.stderr
    table = results.savings_display_table(expected)
    lines = text.stdout.split("exp 1: random vs margin at 40 %, labels to each target\n", 1)[1]
    for _, cells in table.iterrows():
        line = next(x for x in lines.splitlines() if x.split()[:2] == cells["target"].split())
        for cell in cells:
            assert cell in line, (cell, line)
    chosen = _al("report", "1", "--db", str(stored), "--targets", "0.9", "--fraction", "0.4")
    assert "random vs margin at 40 %" in chosen.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "0.85,high"], "targets must be accuracies separated by commas"),
        (["--targets", "0.85,90"], "target accuracy must be in (0, 1], got 90.0"),
        (["--targets", "0.9", "--fraction", "0.7"], "has no configuration at fraction 0.7"),
    ],
)
def test_report_bad_targets_exit_2_with_the_fix(stored: Path, args: list, message: str) -> None:
    proc = _al("report", "1", "--db", str(stored), *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- pages


def _page(name: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AL_DATA_DIR", str(data_dir))
    app = AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=60).run()
    assert not app.exception, app.exception
    return app


def _stored_rounds(db: Path) -> pd.DataFrame:
    with Store(db) as store:
        return results.rounds_frame(store.experiment_rounds([1]))


def _savings_chart(app) -> dict:
    (spec,) = [
        json.loads(c.proto.spec)
        for c in app.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"].get("xaxis", {}).get("title", {}).get("text")
        == "target accuracy (%)"
    ]
    return spec


def _assert_page_figures(app, rounds: pd.DataFrame, target: float, fraction: float) -> None:
    """The headline, the savings table and chart on the page are exactly the cells and
    sentences computed here from the stored rounds (whole elements, not substrings)."""
    configs = results.config_table(results.trial_table(rounds, target))
    best = results.headline(configs, target)
    assert best is not None
    markdown = [m.value for m in app.markdown]
    assert f"**{results.headline_sentence(best, configs)}**" in markdown
    assert f"**{results.verdict(configs, target)}**" in markdown or (
        results.verdict(configs, target) in markdown
    )
    view = results.savings_view(rounds, configs, target, fraction=fraction)
    assert view is not None
    (shown,) = [t.value for t in app.table if list(t.value.columns) == list(view.table.columns)]
    assert shown.astype(str).values.tolist() == view.table.values.tolist()
    spec = _savings_chart(app)
    random_trace, chosen_trace = spec["data"][:2]
    assert random_trace["text"] == view.table["random: labels (median)"].tolist()
    assert chosen_trace["text"] == view.table["chosen: labels (median)"].tolist()
    assert (
        chosen_trace["customdata"]
        == view.table[
            [
                "chosen: fastest – slowest",
                "chosen: reached",
                "saved vs random",
                "± saved (seed pairs)",
            ]
        ].values.tolist()
    )
    plotted = [y for y in chosen_trace["y"] if y is not None]
    assert [f"{y:.0f}" for y in plotted] == [
        c for c in view.table["chosen: labels (median)"] if not c.startswith("not")
    ]
    assert f"{round(target * 100, 1):g} %" in view.table["target"].tolist()


def test_overview_headline_and_savings_across_targets_equal_their_cells(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _page("overview", stored.parent, monkeypatch)
    rounds = _stored_rounds(stored)
    configs = results.config_table(results.trial_table(rounds, None))
    default = results.default_target(configs)
    assert default == 0.96
    control = app.number_input(key="overview_target_1")
    assert control.value == 96
    _assert_page_figures(app, rounds, 0.96, 0.4)
    # The chart's curves include random run on past the budget, marked as such.
    curves = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in curves["data"]]
    assert "random — run on past the budget" in names
    (card,) = app.metric
    best = results.headline(results.config_table(results.trial_table(rounds, 0.96)), 0.96)
    assert card.value == best.claim
    # The person changes the target: every figure follows it.
    control.set_value(90).run()
    assert not app.exception
    _assert_page_figures(app, rounds, 0.9, 0.4)


def test_results_target_defaults_to_the_best_final_accuracy_and_savings_match(
    stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _page("results", stored.parent, monkeypatch)
    rounds = _stored_rounds(stored)
    assert app.number_input[0].value == 96
    _assert_page_figures(app, rounds, 0.96, 0.4)
    configs = results.config_table(results.trial_table(rounds, 0.96))
    assert app.table[0].value.astype(str).values.tolist() == (
        results.display_table(configs).astype(str).values.tolist()
    )
    app.number_input[0].set_value(93).run()
    assert not app.exception
    _assert_page_figures(app, rounds, 0.93, 0.4)


def _cold_start_rows() -> list[dict]:
    """A cold-start sweep's rounds: random, then margin and auto at 100 % (auto best)."""
    rows = []
    for seed in SEEDS:
        rows += trial_rows(
            3 * seed + 1,
            ("random", 0.0, seed),
            [("active", n, a) for n, a in zip(ACTIVE, _curve(0.6, 0.85, seed, 9, 0.0),
                                                strict=True)],
        )  # fmt: skip
        for offset, (strategy, end) in enumerate((("margin", 0.93), ("auto", 0.95)), 2):
            curve = _curve(0.7, end, seed, len(ACTIVE), 0.0)
            rows += trial_rows(
                3 * seed + offset,
                (strategy, 1.0, seed),
                [("active", n, a) for n, a in zip(ACTIVE, curve, strict=True)],
            )
    return rows


def test_savings_views_show_each_strategy_at_the_fraction_beside_the_best() -> None:
    """A cold-start sweep: auto and margin at 100 %, both against the same random."""
    rounds = results.rounds_frame(_cold_start_rows())
    configs = results.config_table(results.trial_table(rounds, 0.8))
    views = results.savings_views(rounds, configs, 0.8, fraction=1.0)
    assert [v.strategy for v in views] == ["auto", "margin"]  # the best first
    for view in views:  # each is that strategy's own comparison with random
        alone = results.savings_by_target(rounds, view.strategy, 1.0, list(view.savings["target"]))
        pd.testing.assert_frame_equal(view.savings.reset_index(drop=True),
                                      alone.reset_index(drop=True))  # fmt: skip
    figure = charts.savings_figure(
        views[0].savings, views[0].table, views[0].name, 0.8,
        others=[(v.savings, v.table, v.name) for v in views[1:]],
    )  # fmt: skip
    assert [t.name for t in figure.data] == ["random (baseline)", views[0].name, views[1].name]
    assert list(figure.data[2].text) == views[1].table["chosen: labels (median)"].tolist()
    assert results.savings_views(rounds, configs, 0.8, fraction=0.5)[0].strategy == "auto"


def test_overview_colours_each_strategy_alike_in_both_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto, margin and random on one page: each strategy's learning curve has the
    colour of its line in the labels-needed chart, and auto's differs from margin's."""
    db = _store_rows(tmp_path / "al.sqlite3", _cold_start_rows(), [0.0, 1.0], ["margin", "auto"])
    app = _page("overview", db.parent, monkeypatch)
    curves = json.loads(app.get("plotly_chart")[0].proto.spec)
    savings = _savings_chart(app)
    colour_of = {t["name"]: t["line"].get("color") for t in curves["data"] if "line" in t}
    savings_colour = {t["name"]: t["line"]["color"] for t in savings["data"]}
    shared = [n for n in savings_colour if n != "random (baseline)"]
    assert shared == ["auto · u = 100 %", "margin · u = 100 %"]
    assert {n: colour_of[n] for n in shared} == {n: savings_colour[n] for n in shared}
    assert colour_of[shared[0]] != colour_of[shared[1]]
