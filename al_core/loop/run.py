"""Driving the loop: a simulation from start to stopping rule (:func:`run_loop`), the
baseline extension, auto-labeling, and the records they write."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from al_core import strategies
from al_core.datasets import Dataset
from al_core.errors import ConfigError
from al_core.loop.config import BASELINE_GROWTH, TrialConfig
from al_core.loop.learner import ActiveLearner, GroundTruthOracle, Oracle, initial_indices


@dataclass(frozen=True)
class RoundRecord:
    """One point of a learning curve and what the round did.

    ``queried`` are pool indices chosen *after* this round's model was trained
    (they are labeled before the next round); ``queried_accuracy`` is this
    model's accuracy on them once labeled — typically far below the test
    accuracy, since they are the images it is least sure about.
    """

    round: int
    # "active" (oracle/human labels), "baseline" (the random baseline run on past its
    # budget: `queried` are the labels added before this round's training) or "auto"
    # (auto-labeling step, likewise).
    phase: str
    labeled: int  # labels from the oracle or a human
    pseudo_labeled: int  # labels the model gave itself (auto-labeling)
    test_accuracy: float
    test_loss: float
    train_seconds: float
    eval_seconds: float
    score_seconds: float
    epochs: int  # passes over the labeled set
    queried: list[int] = field(default_factory=list)
    queried_scores: list[float] = field(default_factory=list)
    queried_accuracy: float | None = None
    # Stopping advice: share of a fixed unlabeled subset whose predicted class is
    # unchanged since the previous round's model (None in round 0).
    agreement: float | None = None
    # Cohen's kappa between this and the previous round's model on that subset (the
    # stabilizing-predictions rule, al_core.stopping); None in round 0.
    kappa: float | None = None
    # Queried images that are near-copies of a labeled or earlier-queried one
    # (ActiveLearner.redundant_count); None when nothing was queried.
    redundant: int | None = None
    # Gradient steps the fit ran (the training rule: models.fit_steps).
    steps: int | None = None
    # The strategy that picked `queried` (for "auto": "typiclust" before its hand-over,
    # its base score after); None when nothing was queried by a strategy.
    picked_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> RoundRecord:
        """The record of a stored round (``Store.rounds`` row; its ids and time ignored)."""
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


def _stop_reason(learner: ActiveLearner, accuracy: float) -> str | None:
    config = learner.config
    if config.rounds is not None and learner.round >= config.rounds:
        return "rounds"
    if config.budget is not None and learner.count() - learner.count("pseudo") >= config.budget:
        return "budget"
    if config.stop_at_target and config.target is not None and accuracy >= config.target:
        return "target"
    if len(learner.unlabeled_indices()) == 0:
        return "pool empty"
    return None


@dataclass
class LoopResult:
    """A finished run: its config, its rounds and why it stopped."""

    config: TrialConfig
    rounds: list[RoundRecord]
    stop_reason: str

    def curve(self, phase: str = "active") -> tuple[np.ndarray, np.ndarray]:
        """``(labeled, test_accuracy)`` arrays of one phase, for the metrics."""
        points = [r for r in self.rounds if r.phase == phase]
        return (
            np.array([r.labeled + r.pseudo_labeled for r in points], dtype=np.int64),
            np.array([r.test_accuracy for r in points], dtype=np.float64),
        )


def run_loop(
    dataset: Dataset,
    config: TrialConfig,
    *,
    oracle: Oracle | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    replay: Sequence[RoundRecord] = (),
) -> LoopResult:
    """Run active learning to its stopping rule, then the baseline extension (a random
    trial with ``baseline_target``) or the optional auto-labeling.

    Parameters
    ----------
    dataset : the pool (with ground truth for the default oracle) and test set.
    config : the trial's configuration.
    oracle : labels queried pool indices; defaults to the ground truth.
    on_round : called with each :class:`RoundRecord` as soon as it exists (the
        store writes it then, so curves grow live).
    should_stop : polled at each round boundary; ``True`` stops the run there
        (cancellation), with stop reason ``"cancelled"``.
    replay : stored active rounds of this trial, from its first. Their labels are taught
        again without training (the config and seed fixed them) and the run goes on from
        there. A finished active phase (its last round queried nothing) goes on to the
        baseline extension, which re-runs only what is new; an unfinished one (a run cut
        short) resumes its active phase at the next round. Every round's fit, passes and
        picks are drawn from ``(seed, round)``, so a resumed run picks what an
        uninterrupted one would, except that the first resumed round has no previous
        model to compare with (its ``agreement`` and ``kappa`` are None).
    """
    oracle = oracle or GroundTruthOracle(dataset.y_pool)
    learner = ActiveLearner(dataset, config)
    first = initial_indices(config, dataset.y_pool, dataset.x_pool)
    learner.teach(first, oracle(first), "oracle")
    learner.draw_agreement_rows()  # before any replay: the rows its queries left out
    records: list[RoundRecord] = list(replay)
    if replay:
        if any(r.phase != "active" for r in replay):
            raise ConfigError("only a trial's active rounds can be replayed")
        for record in replay:
            learner.teach(record.queried, oracle(np.asarray(record.queried, np.int64)), "oracle")
        learner.round = replay[-1].round
        if not replay[-1].queried:
            return _run_on(learner, config, oracle, records, on_round, should_stop)
        learner.round += 1  # the active phase was cut short after this round's picks

    def emit(record: RoundRecord) -> None:
        records.append(record)
        if on_round is not None:
            on_round(record)

    while True:
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        metrics = learner.train_and_evaluate()
        reason = _stop_reason(learner, metrics["test_accuracy"])
        queried: list[int] = []
        scores: list[float] = []
        queried_accuracy = redundant = picked_by = None
        score_seconds = 0.0
        if reason is None:
            start = time.perf_counter()
            n = config.batch
            if config.budget is not None:
                n = min(n, config.budget - learner.count("oracle"))
            picked_by = learner.picking_strategy()
            selection = learner.query(n)
            score_seconds = time.perf_counter() - start
            answers = np.asarray(oracle(selection.indices), dtype=np.int64)
            queried_accuracy = learner.accuracy_on(selection.indices, answers)
            redundant = learner.redundant_count(selection.indices)
            queried = selection.indices.tolist()
            scores = selection.scores.tolist()
        emit(
            RoundRecord(
                round=learner.round,
                phase="active",
                labeled=learner.count() - learner.count("pseudo"),
                pseudo_labeled=learner.count("pseudo"),
                score_seconds=score_seconds,
                queried=queried,
                queried_scores=scores,
                queried_accuracy=queried_accuracy,
                redundant=redundant,
                picked_by=picked_by,
                **metrics,
            )
        )
        if reason is not None:
            break
        learner.teach(selection.indices, answers, "oracle")
        learner.round += 1
    if reason in ("rounds", "budget") and config.baseline_target is not None:
        return _run_on(learner, config, oracle, records, on_round, should_stop)

    for _ in range(config.auto_label_steps):
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        unlabeled = learner.queryable_indices(config.auto_label_k)
        if len(unlabeled) == 0:
            break
        start = time.perf_counter()
        probs = learner.pool_probabilities()[unlabeled]
        k = min(config.auto_label_k, len(unlabeled))
        picked = strategies.most_confident(probs, k)
        pseudo = probs[picked].argmax(axis=1)
        score_seconds = time.perf_counter() - start
        learner.teach(unlabeled[picked], pseudo, "pseudo")
        learner.round += 1
        metrics = learner.train_and_evaluate()
        emit(
            RoundRecord(
                round=learner.round,
                phase="auto",
                labeled=learner.count() - learner.count("pseudo"),
                pseudo_labeled=learner.count("pseudo"),
                score_seconds=score_seconds,
                queried=unlabeled[picked].tolist(),
                queried_scores=probs[picked].max(axis=1).astype(float).tolist(),
                # share of the pseudo-labels the oracle agrees with (simulation only)
                queried_accuracy=float(np.mean(pseudo == oracle(unlabeled[picked]))),
                **metrics,
            )
        )
    return LoopResult(config, records, reason)


def _run_on(
    learner: ActiveLearner,
    config: TrialConfig,
    oracle: Oracle,
    records: list[RoundRecord],
    on_round: Callable[[RoundRecord], None] | None,
    should_stop: Callable[[], bool] | None,
) -> LoopResult:
    """The baseline extension: a random trial whose active phase ended (``records``, its
    labels taught to ``learner``) adds random labels on the ``BASELINE_GROWTH`` grid until
    its accuracy reaches ``config.baseline_target``, ``config.baseline_cap`` labels or the
    pool's end. Each step is a round of phase ``"baseline"``, the same whether the
    active phase ran just before or was replayed."""
    if config.strategy != "random" or config.baseline_target is None:
        raise ConfigError("only a random trial with a baseline target runs on past its budget")
    if not records or records[-1].phase != "active":
        raise ConfigError("the baseline extension needs the trial's finished active rounds")
    accuracy = records[-1].test_accuracy
    cap = int(config.baseline_cap or 0)
    while True:
        labeled = learner.count("oracle")
        if accuracy >= config.baseline_target:
            return LoopResult(config, records, "baseline reached")
        if labeled >= cap:
            return LoopResult(config, records, "baseline cap")
        if len(learner.unlabeled_indices()) == 0:
            return LoopResult(config, records, "pool empty")
        if should_stop is not None and should_stop():
            return LoopResult(config, records, "cancelled")
        learner.round += 1
        start = time.perf_counter()
        wanted = min(cap, max(labeled + 1, int(np.ceil(labeled * BASELINE_GROWTH))))
        selection = learner.query(wanted - labeled)
        score_seconds = time.perf_counter() - start
        learner.teach(selection.indices, oracle(selection.indices), "oracle")
        metrics = learner.train_and_evaluate()
        # The stopping advice compares with the previous round's model, which a replay
        # never trained: left out, so both paths store the same rounds.
        metrics["agreement"] = metrics["kappa"] = None
        accuracy = float(metrics["test_accuracy"])
        record = RoundRecord(
            round=learner.round,
            phase="baseline",
            labeled=learner.count("oracle"),
            pseudo_labeled=0,
            score_seconds=score_seconds,
            queried=selection.indices.tolist(),
            queried_scores=selection.scores.tolist(),
            picked_by="random",
            **metrics,
        )
        records.append(record)
        if on_round is not None:
            on_round(record)
