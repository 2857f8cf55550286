"""What a person types into the experiment form → a validated sweep request.

The app's Experiments page hands the raw widget values to :func:`sweep_request`;
anything wrong comes back as one :class:`ConfigError` naming the problem and
the fix, before anything is stored or launched. The checks are the engine's
own (:class:`TrialConfig` validates ranges such as the target in (0, 1] and a
batch >= 1) plus the ones that need the data set: the initial labeled set and
one batch must fit in the pool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from al_core.errors import ConfigError
from al_core.loop import (
    MC_DROPOUT_DEFAULT,
    TrialConfig,
    check_handover,
    default_model,
    needs_mc_dropout,
)
from al_core.loop.config import HANDOVER_PER_CLASS
from al_core.models import BAYESIAN_MODEL, MODELS
from al_core.parsing import number_list
from al_core.runner import EXECUTORS, dataset_for, preset_base, resolve_baseline_cap

#: The model menu's first entry: the model picked from the strategies (:func:`pick_model`).
DEFAULT_MODEL_CHOICE = "default"


def model_choices() -> list[str]:
    """A form's model menu: :data:`DEFAULT_MODEL_CHOICE`, then every model name."""
    return [DEFAULT_MODEL_CHOICE, *MODELS]


def model_choice_label(choice: str, otherwise: str) -> str:
    """How a model menu entry reads; ``otherwise`` is the default without Monte-Carlo
    dropout (``cnn`` for experiments, ``mlp`` for labeling sessions)."""
    if choice == DEFAULT_MODEL_CHOICE:
        return (
            f"default: {BAYESIAN_MODEL} for BALD / BatchBALD / variation ratios, else {otherwise}"
        )
    if choice == BAYESIAN_MODEL:
        return f"{BAYESIAN_MODEL} (the BatchBALD paper's network, channel dropout)"
    return choice


def pick_model(choice: str | None, strategies: Sequence[str]) -> str | None:
    """The model a form's menu entry means: a name as it is; :data:`DEFAULT_MODEL_CHOICE`
    or ``None`` → :func:`al_core.loop.default_model` of the grid's strategies."""
    if choice in (None, DEFAULT_MODEL_CHOICE):
        return default_model(strategies)
    return choice


@dataclass(frozen=True)
class SweepRequest:
    """A grid ready for :func:`al_core.runner.submit_experiment` and the runner settings."""

    base: TrialConfig
    strategies: list[str]
    fractions: list[float]
    trials: int
    name: str | None
    workers: int
    executor: str
    scheduler: str | None
    #: The random baseline runs on past the budget (``base.baseline_cap`` labels at most).
    extend_baseline: bool = True


def parse_fractions(text: str) -> list[float]:
    """``"0, 0.5, 1"`` → ``[0.0, 0.5, 1.0]``: uncertainty fractions, each in [0, 1].

    Commas or spaces separate values; duplicates are dropped, order kept.
    """
    values = number_list(text, example="0, 0.5, 1", what="fractions")
    for value in values:
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"fraction {value:g} is outside [0, 1]; write 0.3 for 30 %")
    if not values:
        raise ConfigError("give at least one uncertainty fraction, e.g. 0, 0.5, 1")
    return values


def check_against_pool(config: TrialConfig, n_pool: int) -> None:
    """Refuse an initial labeled set or a batch larger than the pool (``n_pool`` images)."""
    if config.initial > n_pool:
        raise ConfigError(
            f"the initial labeled set ({config.initial}) is larger than the pool "
            f"({n_pool} images); lower the initial size or raise the pool size"
        )
    if config.batch > n_pool:
        raise ConfigError(
            f"the batch size ({config.batch}) is larger than the pool ({n_pool} images); "
            "lower the batch size"
        )


def _pool_size(config: TrialConfig) -> int:
    return len(dataset_for(config).x_pool)  # loaded once per process


def sweep_request(
    *,
    dataset: str,
    model: str | None,
    strategies: Sequence[str],
    fractions: str,
    trials: int,
    initial: int,
    batch: int,
    rounds: int | None,
    budget: int | None,
    target: float | None,
    epochs: int | None = None,
    min_steps: int | None = None,
    pool_size: int | None = None,
    repeat: int = 1,
    repeat_noise: float = 0.0,
    seed: int = 0,
    workers: int = 2,
    executor: str = "local",
    scheduler: str | None = None,
    name: str | None = None,
    extend_baseline: bool = True,
    baseline_cap: int | None = None,
    initial_mode: str = "random",
    handover_per_class: int = HANDOVER_PER_CLASS,
    pool_size_of: Callable[[TrialConfig], int] = _pool_size,
) -> SweepRequest:
    """Validate the form's values; :class:`ConfigError` names the first problem.

    ``model`` of ``None`` or :data:`DEFAULT_MODEL_CHOICE`: :func:`pick_model`.
    ``epochs`` / ``min_steps`` of ``None`` take the model's training defaults.
    ``rounds``, ``budget`` and ``pool_size`` of 0 or ``None`` mean "not set"
    (with neither rounds nor budget the loop runs until the pool is used up).
    ``pool_size_of`` gives the pool size of a config's data set (the default
    loads it; a :class:`~al_core.errors.DatasetError` passes through).
    ``repeat`` / ``repeat_noise``: a redundant pool (each image ``repeat`` times with
    Gaussian noise; 1 and 0 = off), refused when ``repeat < 1`` or the noise is < 0.
    ``extend_baseline`` / ``baseline_cap`` (0 or ``None``: 10 x the budget): the random
    baseline runs on past the budget until it reaches the best active accuracy.
    ``initial_mode`` / ``handover_per_class``: the first labeled set (``random`` or
    ``typical``) and strategy ``auto``'s hand-over (labels per class).
    """
    fraction_values = parse_fractions(fractions)
    if not strategies and any(f > 0 for f in fraction_values):
        raise ConfigError("pick at least one uncertainty strategy (or use only fraction 0)")
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if executor == "dask" and not (scheduler or "").strip():
        raise ConfigError("the dask executor needs a scheduler address, e.g. tcp://127.0.0.1:8786")
    base = TrialConfig(
        dataset=dataset.strip(),
        pool_size=pool_size or None,
        repeat=repeat,
        repeat_noise=repeat_noise,
        model=pick_model(model, strategies),
        strategy=strategies[0] if strategies else "random",
        fraction=1.0,
        initial=initial,
        initial_mode=initial_mode,
        handover_per_class=handover_per_class,
        batch=batch,
        rounds=rounds or None,
        budget=budget or None,
        target=target,
        epochs=epochs,
        min_steps=min_steps,
        seed=seed,
        # Monte-Carlo dropout strategies get dropout (the Bayesian CNN always has it);
        # the whole grid trains that model.
        dropout=MC_DROPOUT_DEFAULT if needs_mc_dropout(strategies) else None,
    )
    base = resolve_baseline_cap(base.replace(baseline_cap=baseline_cap or None), extend_baseline)
    for strategy in strategies:  # every name, before anything is stored
        base.replace(strategy=strategy)
    check_against_pool(base, pool_size_of(base))
    if "auto" in strategies:  # its hand-over must fire within the budget
        check_handover(base.replace(strategy="auto"), dataset_for(base).num_classes)
    return SweepRequest(
        base=base,
        strategies=list(strategies) or ["random"],
        fractions=fraction_values,
        trials=trials,
        name=(name or "").strip() or None,
        workers=workers,
        executor=executor,
        scheduler=scheduler.strip() if executor == "dask" and scheduler else None,
        extend_baseline=base.baseline_cap is not None,
    )


def overrides_variable(preset: str) -> str:
    """The environment variable that shrinks a preset the Overview launches:
    ``AL_<NAME>_OVERRIDES`` with the name upper-cased and ``-`` as ``_``
    (``demo`` → ``AL_DEMO_OVERRIDES``, ``repeated-mnist`` → ``AL_REPEATED_MNIST_OVERRIDES``)."""
    return "AL_" + re.sub(r"[^A-Za-z0-9]", "_", preset).upper() + "_OVERRIDES"


def parse_overrides(text: str | None, variable: str = "AL_DEMO_OVERRIDES") -> dict[str, object]:
    """Parse a preset's overrides (the value of ``variable``): a JSON object of
    trial-config fields or grid keys (see :func:`al_core.runner.submit_preset`), e.g.
    ``{"rounds": 2, "epochs": 3, "model": "softmax", "fractions": [0, 1]}``.

    Empty or unset → ``{}``; anything but a JSON object is refused, naming ``variable``.
    """
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f'{variable} is not valid JSON ({exc}); write e.g. {{"rounds": 2, "epochs": 3}}'
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f'{variable} must be a JSON object, e.g. {{"rounds": 2}}')
    return value


def preset_overrides(preset: str, environ: Mapping[str, str]) -> dict[str, object]:
    """The overrides ``environ`` sets for ``preset`` (:func:`overrides_variable`)."""
    variable = overrides_variable(preset)
    return parse_overrides(environ.get(variable), variable)


def check_preset_data(
    preset: str,
    overrides: Mapping[str, object],
    *,
    pool_size_of: Callable[[TrialConfig], int] = _pool_size,
) -> TrialConfig:
    """Load the data set of ``preset`` (with ``overrides``) as its trials will, before
    anything is queued, and check that the initial set and a batch fit in the pool.

    Returns the base trial config. A data set that is not on this machine (MNIST
    outside the Keras cache, offline) raises the loader's
    :class:`~al_core.errors.DatasetError`, which names the missing file and the fix;
    bad overrides raise :class:`ConfigError`. ``pool_size_of`` as in :func:`sweep_request`.
    """
    base = preset_base(preset, overrides)
    check_against_pool(base, pool_size_of(base))
    return base
