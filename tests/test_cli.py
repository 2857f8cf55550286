"""``python -m al_core`` as a user runs it: real subprocesses, real SQLite files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy
import pytest

from al_core.runner import PRESETS
from al_core.store import Store
from tests.conftest import REPO_ROOT

TIMINGS = {"train_seconds", "eval_seconds", "score_seconds"}
QUICK = ["--model", "softmax", "--epochs", "3", "--min-steps", "25", "--learning-rate", "0.02"]


def al(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "al_core", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def test_run_json_is_one_object_and_reproducible(tmp_path):
    args = [
        "run",
        "--dataset",
        "digits",
        "--strategy",
        "margin",
        "--initial",
        "20",
        "--batch",
        "10",
        "--rounds",
        "2",
        "--seed",
        "0",
        "--target",
        "0.5",
        "--json",
        "--db",
        str(tmp_path / "al.sqlite3"),
        *QUICK,
    ]
    outputs = [json.loads(al(*args).stdout) for _ in range(2)]  # stdout holds only JSON
    first, second = outputs
    assert first["config"]["strategy"] == "margin" and first["config"]["seed"] == 0
    rounds = first["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert [r["labeled"] for r in rounds] == [20, 30, 40]
    for key in ("test_accuracy", "test_loss", "train_seconds", "score_seconds", "queried"):
        assert key in rounds[0]
    assert set(first["labels_to_target"]) == {"labels", "reached", "interpolated"}
    strip = [
        [{k: v for k, v in r.items() if k not in TIMINGS} for r in o["rounds"]] for o in outputs
    ]
    assert strip[0] == strip[1]
    assert second["experiment_id"] == first["experiment_id"] + 1  # both stored


def test_run_prints_a_readable_table(tmp_path):
    out = al("run", "--rounds", "1", "--target", "0.3", "--no-store", *QUICK).stdout
    assert "test acc" in out and "labels to reach 30.0%" in out


def test_sweep_then_report_and_csv(tmp_path):
    db = str(tmp_path / "al.sqlite3")
    started = time.monotonic()
    proc = al(
        "sweep",
        "--strategies",
        "margin",
        "--fractions",
        "0,1",
        "--trials",
        "2",
        "--rounds",
        "2",
        "--target",
        "0.4",
        "--db",
        db,
        *QUICK,
    )
    assert "experiment 1: done" in proc.stderr
    # stderr is a pipe here, as in a log: a line per finished trial (or minute), no
    # progress bar redrawn every half second.
    assert "\r" not in proc.stderr
    progress = [line for line in proc.stderr.splitlines() if " trials finished " in line]
    assert 1 <= len(progress) <= 4 + int((time.monotonic() - started) // 60), proc.stderr
    assert progress[-1].split("] ", 1)[1].startswith("4/4 trials finished"), progress
    assert "margin" in proc.stdout and "random" in proc.stdout
    listing = al("report", "--db", db).stdout.splitlines()
    # the listing's row: id, status, trials, done, failed, name
    assert listing[1].split()[:5] == ["1", "done", "4", "4", "0"], listing
    csv_path = tmp_path / "rounds.csv"
    al("report", "1", "--db", db, "--csv", str(csv_path))
    rows = list(csv.DictReader(csv_path.open()))
    active = [r for r in rows if r["phase"] == "active"]
    assert len(active) == 2 * 2 * 3  # 2 configs x 2 seeds x 3 rounds
    # … and the random baseline's rounds past the budget (if it ran on), every one stored.
    with Store(db) as store:
        assert len(rows) == len(store.experiment_rounds([1]))
    assert {r["strategy"] for r in rows if r["phase"] == "baseline"} <= {"random"}
    assert {r["strategy"] for r in rows} == {"margin", "random"}
    report = json.loads(al("report", "1", "--db", db, "--json").stdout)
    table = report["configurations"]
    assert {row["strategy"] for row in table} == {"margin", "random"}
    assert all(row["trials"] == 2 for row in table)
    assert (report["trials_finished"], report["preliminary"]) == (4, False)
    # Every trial says what produced it: CPU model, threads, library versions.
    assert len(report["trials"]) == 4
    for trial in report["trials"]:
        environment = trial["environment"]
        assert environment["numpy"] == numpy.__version__
        assert environment["cpu_model"] and environment["cpu_count"] >= 1
        assert environment["tensorflow"] and environment["keras"]
        assert environment["intra_op_threads"] is not None
    # The printed table and verdict say the same as the JSON.
    text = al("report", "1", "--db", db).stdout
    assert report["verdict"] in text


@pytest.mark.parametrize("command", ["run", "sweep", "report"])
def test_every_command_has_help(command):
    out = al(command, "--help").stdout
    assert "usage: python -m al_core " + command in out
    assert "--db" in out


def test_sweep_help_lists_every_registered_preset():
    out = al("sweep", "--help").stdout
    epilog = " ".join(out.split("\npresets: ", 1)[1].split())  # unwrapped
    assert epilog.split(" (flags given", 1)[0].split(", ") == list(PRESETS), epilog
    option = " ".join(out.split("\n  --preset PRESET", 1)[1].split("\n  --detach", 1)[0].split())
    assert option == f"one of: {', '.join(PRESETS)}; flags override it", option


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--dataset", "imagenet"], "unknown"),
        (["run", "--model", "vgg"], "unknown model 'vgg'"),
        (["run", "--strategy", "psychic"], "unknown strategy 'psychic'"),
        (["run", "--fraction", "1.5"], "fraction must be in [0, 1]"),
        (["run", "--pool-size", "50", "--batch", "100"], "batch size (100) is larger than"),
        (["run", "--target", "95"], "target accuracy must be in (0, 1]"),
        (["sweep", "--strategies", "margin,psychic"], "unknown strategy 'psychic'"),
        (["sweep", "--fractions", "0,2"], "outside [0, 1]"),
        (["sweep", "--fractions", ""], "give at least one uncertainty fraction"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    proc = al(*args, "--db", str(tmp_path / "al.sqlite3"), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_corrupt_database_is_refused_and_kept(tmp_path):
    db = tmp_path / "al.sqlite3"
    db.write_bytes(b"\x00garbage" * 64)
    proc = al("report", "--db", str(db), check=False)
    assert proc.returncode == 2
    assert "not a readable SQLite database" in proc.stderr
    assert db.read_bytes() == b"\x00garbage" * 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--min-steps", "0"], "min_steps must be an integer >= 1, got 0; e.g. --min-steps"),
        (["run", "--min-steps", "-3"], "min_steps must be an integer >= 1, got -3"),
        (["run", "--epochs", "0"], "epochs must be an integer >= 1, got 0; e.g. --epochs 10"),
        (["run", "--learning-rate", "0"], "learning rate must be > 0, got 0.0; e.g."),
        (["sweep", "--learning-rate", "-0.01"], "learning rate must be > 0, got -0.01"),
        (["sweep", "--min-steps", "0", "--detach"], "min_steps must be an integer >= 1"),
    ],
)
def test_training_settings_that_cannot_work_store_nothing(tmp_path, args, message):
    db = tmp_path / "al.sqlite3"
    al("report", "--db", str(db))  # an existing, empty store
    before = db.read_bytes()
    proc = al(*args, "--db", str(db), check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    listing = al("report", "--db", str(db), "--json")
    assert json.loads(listing.stdout) == [], listing.stdout
    assert db.read_bytes() == before


def test_run_stores_the_resolved_training_and_the_steps_of_every_fit(tmp_path):
    db = str(tmp_path / "al.sqlite3")
    out = al("run", "--model", "mlp", "--rounds", "1", "--json", "--db", db).stdout
    run = json.loads(out)
    # Unset training settings are stored as the values that ran (the model's defaults) …
    assert run["config"]["min_steps"] == 300 and run["config"]["epochs"] == 20
    assert run["config"]["learning_rate"] == 0.001
    # … and each round says how many gradient steps its fit ran: 20 and 30 labels in
    # batches of 32 are one step a pass, so the 300-step floor decides.
    assert [r["steps"] for r in run["rounds"]] == [300, 300]
