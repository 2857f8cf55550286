"""A strategy that scores with Monte-Carlo dropout turns dropout on (0.5) when none
was given, says so, and stores the rate in the config; an explicit 0 is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from al_core.cli import main
from al_core.errors import ConfigError
from al_core.forms import sweep_request
from al_core.loop import MC_DROPOUT_DEFAULT, TrialConfig, needs_mc_dropout
from al_core.store import Store

QUICK = ["--model", "softmax", "--epochs", "2", "--min-steps", "25", "--initial", "20",
         "--batch", "5",
         "--rounds", "1", "--mc-samples", "3", "--candidates", "100"]  # fmt: skip


def test_trial_config_defaults() -> None:
    assert MC_DROPOUT_DEFAULT == 0.5
    assert needs_mc_dropout(["bald"]) and needs_mc_dropout(["variation_ratios"])
    assert needs_mc_dropout(["margin", "bald"]) and not needs_mc_dropout(["margin", "entropy"])
    assert needs_mc_dropout(["hybrid"], base_score="bald")
    assert TrialConfig(dataset="digits", strategy="bald").to_dict()["dropout"] == 0.5
    assert TrialConfig(dataset="digits", strategy="variation_ratios").dropout == 0.5
    assert TrialConfig(dataset="digits", strategy="margin").dropout == 0.0
    assert TrialConfig(dataset="digits", strategy="bald", dropout=0.3).dropout == 0.3
    with pytest.raises(ConfigError, match="needs Monte-Carlo dropout, but dropout is 0"):
        TrialConfig(dataset="digits", strategy="bald", dropout=0.0)
    stored = TrialConfig(dataset="digits", strategy="bald").to_dict()
    assert TrialConfig.from_dict(stored).dropout == 0.5  # round-trips


def test_cli_run_turns_dropout_on_says_so_and_stores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "al.sqlite3")
    assert main(["run", "--dataset", "digits", "--strategy", "bald", *QUICK, "--db", db,
                 "--json"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert "note: bald scores with Monte-Carlo dropout: dropout 0.5 turned on" in err
    assert json.loads(out)["config"]["dropout"] == 0.5
    with Store(db) as store:
        (experiment,) = store.experiments()
        (trial,) = store.trials(experiment["id"])
    assert trial["config"]["dropout"] == 0.5 and trial["status"] == "done"


def test_cli_explicit_dropout_zero_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "al.sqlite3"
    args = ["run", "--dataset", "digits", "--strategy", "variation_ratios", "--dropout", "0"]
    assert main([*args, *QUICK, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "needs Monte-Carlo dropout, but dropout is 0" in err and "turned on" not in err
    assert not db.exists() or Store(db).experiments() == []


def test_cli_sweep_gives_the_whole_grid_dropout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "al.sqlite3")
    args = ["sweep", "--dataset", "digits", "--strategies", "margin,bald", "--fractions", "1",
            "--trials", "1", "--workers", "1", "--db", db, *QUICK]  # fmt: skip
    assert main(args) == 0
    assert "dropout 0.5 turned on" in capsys.readouterr().err
    with Store(db) as store:
        (experiment,) = store.experiments()
        trials = store.trials(experiment["id"])
    # margin, bald and the random baseline: one model, with dropout, for all of them
    assert sorted(t["strategy"] for t in trials) == ["bald", "margin", "random"]
    assert {t["config"]["dropout"] for t in trials} == {0.5}
    assert {t["status"] for t in trials} == {"done"}


def test_experiment_form_gives_the_grid_dropout() -> None:
    def form(strategies: list[str]) -> TrialConfig:
        return sweep_request(
            dataset="digits", model="softmax", strategies=strategies, fractions="0, 1",
            trials=1, initial=20, batch=10, rounds=1, budget=None, target=0.9, epochs=2,
            min_steps=25,
        ).base  # fmt: skip

    assert form(["margin", "bald"]).dropout == 0.5
    assert form(["margin"]).dropout == 0.0


def test_cli_run_picks_the_bayesian_network_says_so_and_stores_the_measure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "al.sqlite3")
    quick = [flag for flag in QUICK if flag not in ("--model", "softmax")]
    assert main(["run", "--dataset", "digits", "--strategy", "bald", *quick, "--db", db,
                 "--json"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert "model bayesian_cnn (the BatchBALD paper's network" in err
    config = json.loads(out)["config"]
    assert (config["model"], config["dropout"], config["test_measure"]) == (
        "bayesian_cnn",
        0.5,
        "mc_mean",
    )
