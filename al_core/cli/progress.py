"""The progress of a sweep run in the foreground, on stderr.

On a terminal it is a live bar (tqdm), redrawn at most every half second. In a
log (stderr a file or a pipe, not a terminal) a redrawn bar would add a line
every half second, so there it is one plain line each time trials finish, and
one a minute while none does: a sweep of N trials that takes M minutes writes at
most N + M lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

#: Seconds between two looks at the store (the runner ticks more often).
POLL_SECONDS = 0.5
#: In a log, a line at least this often while no trial finishes.
LOG_QUIET_SECONDS = 60.0


def _is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (not a file, pipe or closed stream)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class SweepProgress:
    """One experiment's progress on ``stream`` (stderr by default).

    Call :meth:`show` after every runner tick; it looks at the store at most
    every :data:`POLL_SECONDS` (always with ``force=True``). ``stream`` and
    ``clock`` (seconds) default to :data:`sys.stderr` and :func:`time.monotonic`
    as they are when it starts.
    """

    def __init__(
        self,
        store: Any,
        experiment_id: int,
        n_trials: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.clock: Callable[[], float] = time.monotonic if clock is None else clock
        self.live = _is_terminal(self.stream)
        self.bar: Any = None
        if self.live:
            from tqdm import tqdm

            self.bar = tqdm(total=n_trials, unit="trial", file=self.stream)
        self.started_at = self.clock()
        self.shown_at: float | None = None  # the last look at the store
        self.logged = 0  # trials finished as of the last line written to a log
        self.logged_at = self.started_at

    def show(self, *, force: bool = False) -> None:
        """Update the bar, or write a log line if trials finished or a minute passed."""
        from al_core import runner

        now = self.clock()
        if not force and self.shown_at is not None and now - self.shown_at < POLL_SECONDS:
            return
        self.shown_at = now
        progress = runner.experiment_progress(self.store, self.experiment_id)
        finished = progress["done"] + progress["failed"] + progress["cancelled"]
        eta = progress["eta_seconds"]
        if self.bar is not None:
            self.bar.update(finished - self.bar.n)
            left = (
                "done"
                if progress["finished"]
                else ("estimating" if eta is None else f"{eta:.0f} s")
            )
            self.bar.set_postfix_str(
                f"running {progress['running']}, failed {progress['failed']}, "
                f"{progress['percent']:.0f} %, ETA {left}{_extending(progress)}"
            )
        elif finished != self.logged or now - self.logged_at >= LOG_QUIET_SECONDS:
            self.logged, self.logged_at = finished, now
            left = "done" if progress["finished"] else _format_eta(eta)
            print(
                f"[{_format_eta(now - self.started_at)}] {finished}/{progress['trials']} "
                f"trials finished ({progress['failed']} failed), {progress['running']} "
                f"running, {progress['percent']:.0f} %, ETA {left}{_extending(progress)}",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        """Close the bar (on a terminal); nothing to do for a log."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> SweepProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _run_with_progress(
    store: Any,
    sweep_runner: Any,
    experiment_id: int,
    n_trials: int,
    *,
    stream: TextIO | None = None,
    clock: Callable[[], float] | None = None,
) -> None:
    """Run one experiment's trials to the end with its progress on stderr
    (a bar on a terminal, a line per finished trial or minute elsewhere)."""
    with SweepProgress(store, experiment_id, n_trials, stream=stream, clock=clock) as progress:
        sweep_runner.run(experiment_id=experiment_id, on_tick=progress.show)
        progress.show(force=True)


def _format_eta(seconds: float | None) -> str:
    if seconds is None:  # no trial has finished yet: an early pace would mislead
        return "estimating"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _extending(progress: dict[str, Any]) -> str:
    """ ", random baseline running on past the budget: k" while the extension runs."""
    count = progress.get("extending") or 0
    return f", random baseline running on past the budget: {count}" if count else ""
