"""Helpers the commands share: the store and trial config from the flags, the data
set checks and skipped-file lists, the Monte-Carlo dropout default, JSON output.

Heavy engine modules are imported inside the functions, so that ``--help`` and
the quick commands start fast.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

from al_core.cli.options import _TRIAL_FLAGS

log = logging.getLogger("al_core")


def _default_model_and_dropout(
    args: argparse.Namespace, given: float | None, names: Sequence[str]
) -> None:
    """Pick the model and dropout a grid of ``names`` gets when no --model or --dropout
    was given: the Bayesian CNN with dropout 0.5 when a strategy scores with Monte-Carlo
    dropout (the whole grid gets them, so that its random baseline trains the same
    model); say so on stderr. Both end up in the stored config."""
    from al_core.loop import MC_DROPOUT_DEFAULT, default_model, needs_mc_dropout
    from al_core.models import BAYESIAN_MODEL

    if args.model is None:
        args.model = default_model(names, args.base_score)
        if args.model == BAYESIAN_MODEL:
            print(
                f"note: {', '.join(names)} scores with Monte-Carlo dropout: model "
                f"{BAYESIAN_MODEL} (the BatchBALD paper's network; --model sets another)",
                file=sys.stderr,
            )
    needed = needs_mc_dropout(names, args.base_score)
    if given is not None or not (needed or args.model == BAYESIAN_MODEL) or args.dropout:
        return
    args.dropout = MC_DROPOUT_DEFAULT
    why = f"{', '.join(names)} scores with" if needed else f"{BAYESIAN_MODEL} samples with"
    print(
        f"note: {why} Monte-Carlo dropout: dropout {MC_DROPOUT_DEFAULT} turned on (stored in "
        "the config; --dropout R sets another rate)",
        file=sys.stderr,
    )


def _trial_config(args: argparse.Namespace, **overrides: Any):  # -> TrialConfig
    from al_core.loop import TrialConfig

    values = {name: getattr(args, name) for name in _TRIAL_FLAGS}
    values.update(overrides)
    return TrialConfig(**values)


def _open_store(args: argparse.Namespace):  # -> Store
    from al_core.store import Store

    return Store(args.db, timeout=args.lock_timeout)


def _check_against_dataset(config: Any, dataset: Any, strategies: Any = ()) -> None:
    """Refuse, before anything is stored, what the data set rules out: a missing weights
    file, an initial set or batch larger than the pool, an ``auto`` hand-over that never
    fires within the budget (``config.strategy`` or any of a sweep's ``strategies``)."""
    from al_core.forms import check_against_pool
    from al_core.loop import check_handover
    from al_core.models import check_weights_file

    if config.weights is not None:  # before anything is stored
        check_weights_file(config.weights)
    check_against_pool(config, len(dataset.x_pool))
    if "auto" in (config.strategy, *strategies):
        check_handover(config.replace(strategy="auto"), dataset.num_classes)


def _print_skipped(dataset: Any) -> None:
    """List the files a data set skipped, with reasons, on stderr (a short list)."""
    from al_core.datasets import format_skipped

    if dataset.skipped:
        print(
            f"{len(dataset.skipped)} file(s) skipped:\n{format_skipped(dataset.skipped)}",
            file=sys.stderr,
        )


def _skipped_json(dataset: Any) -> dict[str, Any]:
    """The skipped files for ``--json``: count, the first few, how many not listed."""
    from al_core.datasets import SKIPPED_SHOWN

    listed = list(dataset.skipped[:SKIPPED_SHOWN])
    return {
        "count": len(dataset.skipped),
        "listed": listed,
        "more": len(dataset.skipped) - len(listed),
    }


def _nan_to_none(value: Any) -> Any:
    """``value`` with every NaN float (e.g. the score of a random pick) replaced by None.

    ``json.dump`` never calls ``default`` for floats, so this must happen before.
    """
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value
