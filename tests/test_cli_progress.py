"""The foreground sweep's progress display: in a log (stderr not a terminal) a line
per finished trial, or one a minute while none finishes, never a redraw every half
second; on a terminal the live bar. A real store moves trials through their real
statuses under a scripted runner and a fake clock, so minutes take no time.
"""

from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from al_core import runner
from al_core.cli.progress import _run_with_progress
from al_core.loop import TrialConfig
from al_core.store import Store

#: The runner's poll: it calls on_tick this often (fake seconds).
TICK = 0.05
#: The nothing-finishes stretch of the script, in fake seconds.
STALL = 200.0
# (fake seconds to wait, then [(trial index, new status), …]); six trials, two at
# a time, one failing, and a stall of more than three minutes with none finishing.
SCRIPT: list[tuple[float, list[tuple[int, str]]]] = [
    (0.0, [(0, "running"), (1, "running")]),
    (20.0, [(0, "done")]),
    (5.0, [(1, "done"), (2, "running"), (3, "running")]),
    (20.0, [(2, "failed"), (4, "running")]),
    (1.0, [(3, "done"), (5, "running")]),
    (STALL, [(4, "done")]),
    (30.0, [(5, "done")]),
]
ELAPSED = sum(wait for wait, _ in SCRIPT)


class FakeClock:
    """Seconds that pass only when the scripted runner says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedRunner:
    """Stands in for :class:`al_core.runner.Runner`: ``run`` plays :data:`SCRIPT`
    on the store, calling ``on_tick`` every :data:`TICK` fake seconds."""

    def __init__(self, store: Store, trial_ids: list[int], clock: FakeClock) -> None:
        self.store, self.trial_ids, self.clock = store, trial_ids, clock

    def run(self, *, experiment_id: int, on_tick: Callable[[], None]) -> None:
        for wait, changes in SCRIPT:
            for _ in range(round(wait / TICK)):
                self.clock.now += TICK
                on_tick()
            for index, status in changes:
                self.store.set_trial_status(self.trial_ids[index], status)
            on_tick()


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.fixture
def experiment(tmp_path: Path):
    """A stored experiment of six queued trials: margin and random x 3 seeds."""
    with Store(tmp_path / "al.sqlite3") as store:
        config = TrialConfig(dataset="digits", model="softmax", strategy="margin", rounds=2)
        experiment_id = runner.create_experiment(store, config, ["margin"], [0.0, 1.0], 3)
        trial_ids = [t["id"] for t in store.trials(experiment_id)]
        assert len(trial_ids) == 6
        yield store, experiment_id, trial_ids


def _run(experiment, monkeypatch, terminal: bool) -> str:
    """The display's whole output for the scripted sweep, on a stream that is (not) a
    terminal, as the command runs it: on sys.stderr, timed by time.monotonic."""
    store, experiment_id, trial_ids = experiment
    clock, stream = FakeClock(), Stream(terminal)
    monkeypatch.setattr(time, "monotonic", clock)
    monkeypatch.setattr(sys, "stderr", stream)
    _run_with_progress(store, ScriptedRunner(store, trial_ids, clock), experiment_id, 6)
    monkeypatch.undo()
    assert clock.now == pytest.approx(1000.0 + ELAPSED)  # the whole script ran
    return stream.getvalue()


def test_a_log_gets_a_line_per_finished_trial_or_minute(experiment, monkeypatch) -> None:
    out = _run(experiment, monkeypatch, terminal=False)
    assert "\r" not in out  # no redrawn bar
    lines = [line for line in re.split(r"[\r\n]", out) if line.strip()]  # as a log viewer shows
    # Six trials finish in 276 s: at most one line per finished trial, plus one per
    # minute (a redraw every half second would be ~550).
    assert len(lines) <= 6 + int(ELAPSED // 60), out
    counts = [int(m.group(1)) for line in lines if (m := re.search(r"(\d)/6 trials", line))]
    assert len(counts) == len(lines), out  # every line says how far the sweep is
    assert sorted(set(counts)) == [1, 2, 3, 4, 5, 6], out  # each finish is reported
    assert "(1 failed)" in lines[-1] and lines[-1].endswith("ETA done"), out
    # The stall (200 s with 4 of 6 finished) is not silent, and at most one line a minute.
    assert 1 <= counts.count(4) - 1 <= int(STALL // 60), out


def test_a_terminal_keeps_the_live_bar(experiment, monkeypatch) -> None:
    out = _run(experiment, monkeypatch, terminal=True)
    redraws = out.split("\r")
    assert len(redraws) > 6 + int(ELAPSED // 60)  # redrawn while trials run
    assert "6/6" in redraws[-1] and "ETA done" in redraws[-1], redraws[-1]
    assert "trial/s" in out or "s/trial" in out  # tqdm's rate: the live bar
