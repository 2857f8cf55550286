"""THE active-learning loop: one loop for simulation and human labeling.

A round is: train on the labeled set → evaluate on the test set → score the
unlabeled pool → select a batch → an oracle labels it → repeat.

The steps live on :class:`ActiveLearner`; :func:`run_loop` drives them for a
simulation, where the oracle is the data set's ground truth
(:class:`GroundTruthOracle`). The labeling page drives the *same* steps one at
a time with a human in the oracle's place (``query`` → the person labels →
``teach`` → ``train_and_evaluate``), so there is a single training loop.

Reproducibility: every random choice of round ``r`` comes from a generator
seeded by ``(seed, stream, r)`` and the classifier restarts from the same
initial weights each round, so a round depends only on the config, the seed and
the labeled set, never on what ran before it in the process.

Modules: :mod:`.config` (:class:`TrialConfig`, the constants), :mod:`.learner`
(:class:`ActiveLearner`, oracles, seeds, the first labeled set), :mod:`.run`
(:func:`run_loop`, the baseline extension, :class:`RoundRecord`).
"""

from al_core.loop.config import (
    BASELINE_CAP_FACTOR,
    BASELINE_GROWTH,
    INITIAL_MODES,
    MC_DROPOUT_DEFAULT,
    SEED_MODEL,
    SOURCES,
    TEST_MEASURES,
    TrialConfig,
    default_model,
    needs_mc_dropout,
)
from al_core.loop.learner import (
    ActiveLearner,
    GroundTruthOracle,
    Oracle,
    check_handover,
    initial_indices,
    mc_mean_metrics,
)
from al_core.loop.run import LoopResult, RoundRecord, run_loop
from al_core.models import MODELS

__all__ = [
    "BASELINE_CAP_FACTOR",
    "BASELINE_GROWTH",
    "MODELS",
    "ActiveLearner",
    "GroundTruthOracle",
    "INITIAL_MODES",
    "LoopResult",
    "MC_DROPOUT_DEFAULT",
    "Oracle",
    "RoundRecord",
    "SEED_MODEL",
    "SOURCES",
    "TEST_MEASURES",
    "TrialConfig",
    "check_handover",
    "default_model",
    "initial_indices",
    "mc_mean_metrics",
    "needs_mc_dropout",
    "run_loop",
]
