"""The self-contained HTML report (al_core/results/report.py) and ``report --html``.

Real experiments, run by the runner's own trial function on real Keras models (a
softmax on the embedded digits; an uploaded image folder), real SQLite. The report's
sentences and cells are checked against the functions the pages call, computed
here from the store; the file is read back with the standard library's HTML parser.
(The report of the shipped demo, opened in Chromium with the network blocked, is
checked in tests/test_browser.py.)
"""

from __future__ import annotations

import html
import re
import shlex
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from al_core import results, user_datasets
from al_core.cli.common import _default_model_and_dropout, _trial_config
from al_core.cli.options import _TRIAL_FLAGS
from al_core.cli.parser import build_parser
from al_core.cli.sweeps import _resolve_sweep_flags
from al_core.datacheck import check_dataset, format_check
from al_core.loop import TrialConfig
from al_core.results import report
from al_core.runner import finish_experiment, run_trial, submit_experiment
from al_core.store import Store
from tests.upload_files import shapes_zip

REPO = Path(__file__).resolve().parent.parent
TINY = {"model": "softmax", "epochs": 5, "min_steps": 10, "learning_rate": 0.05}


class _Tables(HTMLParser):
    """Every ``<table id=…>``'s body cells as text, and every element's text by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_body = False
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if tag == "table" and ident:
            self._table = ident
            self.tables[ident] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table and self._in_body:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table and self._in_body:
            self._cell = []
        if ident and tag in ("p", "pre"):
            self._open.append((tag, ident))
            self.texts[ident] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None
        elif self._open and tag == self._open[-1][0]:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, ident in self._open:
            self.texts[ident] += data


def _read(text: str) -> _Tables:
    parsed = _Tables()
    parsed.feed(text)
    return parsed


def _run_all(store: Store, experiment_id: int, leave: int = 0) -> None:
    """Run the queued trials (all but the last ``leave``), then the baseline extension."""
    queued = [t for t in store.trials(experiment_id) if t["status"] == "queued"]
    for trial in queued[: len(queued) - leave]:
        run_trial(store, trial["id"])
    if leave:
        return
    while finish_experiment(store, experiment_id) == "running":
        for trial in store.trials(experiment_id):
            if trial["status"] == "queued":
                run_trial(store, trial["id"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A finished digits sweep: random and margin at 100 %, 2 trials each, target 80 %."""
    folder = tmp_path_factory.mktemp("report")
    base = TrialConfig(dataset="digits", initial=20, batch=20, rounds=3, target=0.8, **TINY)
    with Store(folder / "al.sqlite3") as store:
        experiment_id = submit_experiment(store, base, ["margin"], [0.0, 1.0], 2, name="tiny")
        _run_all(store, experiment_id)
    return folder, experiment_id


def _page_figures(store: Store, experiment_id: int, target: float) -> dict:
    rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
    done = results.completion([t["status"] for t in store.trials(experiment_id)])
    configs = results.config_table(results.trial_table(rounds, target))
    best = results.headline(configs, target, done)
    view = results.savings_view(rounds, configs, target, fraction=best and best.fraction)
    return {
        "verdict": results.verdict(configs, target, done),
        "sentence": None if best is None else results.headline_sentence(best, configs),
        "table": results.display_table(configs).astype(str).values.tolist(),
        "savings": None if view is None else view.table.astype(str).values.tolist(),
    }


def test_report_states_the_pages_sentences_and_tables(finished: tuple[Path, int]) -> None:
    folder, experiment_id = finished
    with Store(folder / "al.sqlite3") as store:
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
        done = results.completion([t["status"] for t in store.trials(experiment_id)])
        start = results.starting_target(rounds, 0.8, done)
        default = results.default_target(results.config_table(results.trial_table(rounds, None)))
        for target in (None, 0.8):  # the pages' starting target, then the experiment's own
            text = report.report_html(store, experiment_id, target)
            want = _page_figures(store, experiment_id, start if target is None else target)
            parsed = _read(text)
            assert parsed.texts[report.VERDICT_ID] == want["verdict"]
            assert parsed.texts.get(report.HEADLINE_ID) == want["sentence"]
            assert parsed.tables[report.CONFIG_TABLE_ID] == want["table"]
            assert parsed.tables.get(report.SAVINGS_TABLE_ID) == want["savings"]
            # Said once: the accuracy measure, the caveats and how the target was chosen.
            base = store.experiment(experiment_id)["config"]["base"]
            assert html.escape(results.accuracy_measure_text(base)) in text
            assert html.escape(report.EXPECTED_CAVEAT) in text
            # How the target was chosen; the caveat when it came from the results.
            shown = start if target is None else target
            from_results = default is not None and round(shown, 6) == round(default, 6)
            assert (html.escape(report.CHOSEN_TARGET_CAVEAT) in text) == from_results
            assert ("The default target." in text) == from_results
            own = "The experiment&#x27;s own target, set when it was launched."
            assert (own in text) == (not from_results)
    # Offline: plotly.js inlined once; no script, style or link from another host.
    assert text.count("window.PlotlyConfig") == 1
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(https?:)?//", text)
    assert "Preliminary" not in text


def test_rerun_command_parses_back_to_the_stored_config(finished: tuple[Path, int]) -> None:
    folder, experiment_id = finished
    with Store(folder / "al.sqlite3") as store:
        config = store.experiment(experiment_id)["config"]
        seeds = sorted({t["seed"] for t in store.trials(experiment_id)})
    command = report.rerun_command(config)
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "al_core", "sweep"]
    args = build_parser().parse_args(words[3:])
    given_dropout = args.dropout  # as cmd_sweep builds its base config
    _resolve_sweep_flags(args)
    _default_model_and_dropout(args, given_dropout, args.strategies)
    rebuilt = _trial_config(args).to_dict()
    assert {k: rebuilt[k] for k in _TRIAL_FLAGS} == {k: config["base"][k] for k in _TRIAL_FLAGS}
    assert args.strategies == config["strategies"] and args.trials == config["trials"]
    assert args.fractions == config["fractions"]
    assert args.baseline_cap == config["base"]["baseline_cap"]
    assert seeds == list(range(args.seed, args.seed + args.trials))


def test_cli_html_writes_the_same_report(finished: tuple[Path, int], tmp_path: Path) -> None:
    folder, experiment_id = finished
    out = tmp_path / "report.html"
    command = [sys.executable, "-m", "al_core", "report", str(experiment_id), "--html", str(out),
               "--db", str(folder / "al.sqlite3"), "--target", "0.8"]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=120)
    with Store(folder / "al.sqlite3") as store:
        here = report.report_html(store, experiment_id, 0.8)

    def undated(text: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "DATE", text)

    assert undated(out.read_text()) == undated(here)
    refused = subprocess.run(
        [*command[:5], str(experiment_id), "--html", str(tmp_path / "two.html"), "--db",
         str(folder / "al.sqlite3")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "report of one experiment, got 2" in refused.stderr
    assert not (tmp_path / "two.html").exists()


def test_report_of_a_running_experiment_on_an_uploaded_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An uploaded image folder: its data check, as the trials read it, is in the report;
    with a trial still queued the report is preliminary and draws no verdict."""
    monkeypatch.setenv("AL_DATA_DIR", str(tmp_path))
    uploaded = user_datasets.save_upload(shapes_zip(per_class=20), "shapes.zip", "My shapes")
    base = TrialConfig(
        dataset=uploaded.source, test_size=12, initial=6, batch=6, rounds=1, target=0.5, **TINY
    )
    with Store(tmp_path / "al.sqlite3") as store:
        experiment_id = submit_experiment(store, base, ["margin"], [0.0, 1.0], 1)
        _run_all(store, experiment_id, leave=1)
        text = report.report_html(store, experiment_id)
        done = results.completion([t["status"] for t in store.trials(experiment_id)])
        rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
    assert done.preliminary and done.finished == 1
    parsed = _read(text)
    check = check_dataset(uploaded.source, test_size=12, seed=0)

    def untimed(text: str) -> str:  # the check's own duration ("checked in 0.3 s")
        return re.sub(r"checked in [\d.]+ s", "checked in N s", text)

    assert untimed(parsed.texts["data-check"]) == untimed(format_check(check))
    assert "My shapes (uploaded image folder)" in text
    configs = results.config_table(results.trial_table(rounds, 0.5))
    assert parsed.texts[report.VERDICT_ID] == results.verdict(configs, 0.5, done)
    assert "No verdict until every trial" in parsed.texts[report.VERDICT_ID]
    assert parsed.texts["preliminary"].startswith(f"Preliminary: 1 of {done.total} trials")
    assert report.HEADLINE_ID not in parsed.texts
    assert report.SAVINGS_TABLE_ID not in parsed.tables
