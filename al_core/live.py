"""What live pages show, computed once per change and shared by every viewer.

A page that follows a running experiment (the Overview's stories) asks two things
of it, often: *has anything changed?* and *what does it look like now?*. Both are
answered by :meth:`LiveExperiments.snapshot`: one indexed query for the experiment's
version (:meth:`~al_core.store.Store.experiment_version`) and, only when it changed,
its rounds and progress read and tabulated (:class:`ExperimentSnapshot`); and by
:meth:`LiveExperiments.derived` for what is computed from a snapshot (tables,
figures, what a view shows besides its progress bar), once per version and arguments.
One :class:`LiveExperiments` serves every session of a server (the app keeps it in
``st.cache_resource``), so five people watching the same experiment cost one
computation per change, not five.

While rounds arrive faster than pages redraw (the demo stores about two a second),
every redraw would otherwise find a new version and compute it again for itself.
A redraw caused by the live timer therefore accepts a snapshot up to ``max_age``
seconds old (:data:`LIVE_MAX_AGE`): the viewers redrawing within that second share
one computation. A first drawing or a person's own action asks for ``max_age=0``:
exactly what is stored now.

This module never imports Streamlit: the cache is plain, thread-safe Python.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from al_core import results
from al_core.runner import experiment_progress
from al_core.store import Store

T = TypeVar("T")

#: How stale a timer-driven redraw may be (seconds): viewers redrawing within it share
#: one snapshot.
LIVE_MAX_AGE = 1.0
#: How often a live page asks whether anything changed (seconds): a change is drawn
#: within 2 s. Each poll is a fragment run, and each costs the viewer's Chromium about
#: 35 ms of CPU even when nothing changed (measured on 2 cores: an idle live Overview
#: took 4.7 CPU-s per minute per page polling every 1 s with the sidebar's 2 s timer,
#: 3.1 at 1.5 s and 5 s): with a room watching on the demo's own machine, the polls
#: are what its browsers take from the training.
POLL_SECONDS = 1.5
#: A viewer redraws no sooner than this after its last drawing (seconds): while rounds
#: keep arriving (the demo stores two a second), every 2 to 3 s; the first change after
#: a quiet spell is drawn at the next poll. Each redraw costs the viewer's browser more
#: than the server (Chromium re-renders the page): at 1 s, five viewers on the demo's
#: machine slowed it as much as the old 2 s refresh did (benchmarks/viewers.py).
MIN_REDRAW_SECONDS = 2.0


@dataclass(frozen=True)
class ExperimentSnapshot:
    """An experiment as stored at one version: shared between sessions, never mutate.

    ``rounds`` is :func:`al_core.results.rounds_frame` of its rounds, ``bands`` their
    :func:`~al_core.results.curve_bands`, ``progress`` :func:`al_core.runner.experiment_progress`
    (its time left as estimated when the version was read), ``done`` the
    :class:`~al_core.results.Completion` of its trials.
    """

    experiment_id: int
    version: tuple[Any, ...]
    experiment: dict[str, Any]
    progress: dict[str, Any]
    rounds: pd.DataFrame
    bands: pd.DataFrame
    done: results.Completion
    read_at: float


def experiment_snapshot(
    store: Store, experiment_id: int, version: tuple[Any, ...] | None = None
) -> ExperimentSnapshot:
    """Read and tabulate one experiment now. Its version is read first (or given, just
    read by the caller), so a round stored meanwhile makes the next version differ
    rather than go unseen."""
    if version is None:
        version = store.experiment_version(experiment_id)
    experiment = store.experiment(experiment_id)  # raises StoreError when unknown
    progress = experiment_progress(store, experiment_id)
    rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
    return ExperimentSnapshot(
        experiment_id=experiment_id,
        version=version or (),
        experiment=experiment,
        progress=progress,
        rounds=rounds,
        bands=results.curve_bands(rounds),
        done=results.completion([t["status"] for t in progress["trials_detail"]]),
        read_at=time.monotonic(),
    )


class LiveExperiments:
    """Snapshots of experiments and what is derived from them, shared by every caller.

    Keyed by (database file, experiment id); a snapshot is computed again only when
    the experiment's version changed (and, for ``max_age > 0``, only once it is older
    than ``max_age``). Derived values are kept for the newest snapshot of each
    experiment, at most ``max_derived`` of them; at most ``max_experiments``
    experiments are kept. ``computations`` counts snapshot reads and derived
    computations (what the cache saved is what it did not count).
    """

    def __init__(self, max_experiments: int = 16, max_derived: int = 128) -> None:
        self.max_experiments = max_experiments
        self.max_derived = max_derived
        self.computations = 0
        self._lock = threading.RLock()
        self._snapshots: OrderedDict[tuple[str, int], ExperimentSnapshot] = OrderedDict()
        self._derived: dict[tuple[str, int], OrderedDict[Hashable, Any]] = {}

    @staticmethod
    def _key(db_path: str | Path, experiment_id: int) -> tuple[str, int]:
        return str(Path(db_path).resolve()), int(experiment_id)

    def snapshot(
        self, db_path: str | Path, experiment_id: int, max_age: float = 0.0
    ) -> ExperimentSnapshot:
        """The experiment as stored now: the shared snapshot when its version is current
        (or it is younger than ``max_age`` seconds), else read again and shared."""
        key = self._key(db_path, experiment_id)
        with self._lock:
            cached = self._snapshots.get(key)
            if cached is not None and time.monotonic() - cached.read_at < max_age:
                return cached
            with Store(db_path) as store:
                version = store.experiment_version(experiment_id)
                if cached is not None and version == cached.version:
                    self._snapshots.move_to_end(key)
                    return cached
                fresh = experiment_snapshot(store, experiment_id, version)
            self.computations += 1
            self._snapshots[key] = fresh
            self._snapshots.move_to_end(key)
            self._derived[key] = OrderedDict()
            while len(self._snapshots) > self.max_experiments:
                old, _ = self._snapshots.popitem(last=False)
                self._derived.pop(old, None)
            return fresh

    def derived(
        self,
        db_path: str | Path,
        snapshot: ExperimentSnapshot,
        name: str,
        compute: Callable[..., T],
        *args: Hashable,
    ) -> T:
        """``compute(snapshot, *args)``, once per snapshot, ``name`` and ``args``
        (hashable) for every caller; the result is shared: never mutate it."""
        key = self._key(db_path, snapshot.experiment_id)
        with self._lock:
            if self._snapshots.get(key) is not snapshot:
                # An older snapshot (a session drew it a moment ago): computed, not kept.
                self.computations += 1
                return compute(snapshot, *args)
            memo = self._derived.setdefault(key, OrderedDict())
            entry = (name, args)
            if entry in memo:
                memo.move_to_end(entry)
                return memo[entry]  # type: ignore[no-any-return]
            value = compute(snapshot, *args)
            self.computations += 1
            memo[entry] = value
            while len(memo) > self.max_derived:
                memo.popitem(last=False)
            return value
