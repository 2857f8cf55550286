"""From stored rounds to learning-curve tables: per trial, per configuration.

Used by ``python -m al_core report`` and by the app's results pages, so the
numbers a user reads are computed in one place.

A *configuration* is one (strategy, fraction) of an experiment; its trials
differ by seed. The random baseline is the configuration with fraction 0.

The package, a module per concern:

- :mod:`~al_core.results.tables`: the rounds frame, :func:`trial_table` and
  :func:`config_table`, and the keys, columns and statuses they share;
- :mod:`~al_core.results.display`: those tables as the strings a person reads
  (:func:`display_table`, :func:`trial_display_table`, :func:`environment_table`,
  number formats, :func:`config_label`);
- :mod:`~al_core.results.curves`: frames for the charts: measured curves with
  their band (:func:`curve_bands`), expected curves (:func:`expected_frame`),
  near-copies among the queried images (:func:`redundancy_table`);
- :mod:`~al_core.results.verdicts`: :class:`Completion`, :func:`verdict`,
  :class:`Headline` and :func:`headline_sentence`, the headline's
  :func:`default_target`;
- :mod:`~al_core.results.savings`: target accuracies parsed and checked, and the
  savings across targets (:func:`savings_by_target`, :func:`savings_view`, :func:`savings_views`,
  :func:`target_comparisons`);
- :mod:`~al_core.results.overview`: which experiments the Overview shows.

Every public name is re-exported here, so ``from al_core.results import X`` and
``results.X`` keep working.
"""

from __future__ import annotations

from al_core.results.curves import (
    curve_bands,
    expected_frame,
    expected_plan,
    redundancy_table,
)
from al_core.results.display import (
    accuracy_measure_text,
    config_label,
    display_table,
    environment_table,
    format_labels,
    format_percent,
    trial_display_table,
)
from al_core.results.overview import (
    experiment_preset,
    experiment_target,
    overview_choices,
    overview_experiment,
)
from al_core.results.savings import (
    SAVINGS_COLUMNS,
    SAVINGS_DISPLAY_COLUMNS,
    SavingsView,
    check_targets,
    parse_targets,
    savings_by_target,
    savings_display_table,
    savings_view,
    savings_views,
    target_comparisons,
    target_grid,
)
from al_core.results.tables import (
    CONFIG_KEYS,
    FINISHED,
    MEASURED_PHASES,
    OPEN_STATUSES,
    SUMMARY_COLUMNS,
    TRIAL_KEYS,
    config_table,
    rounds_frame,
    summary_columns,
    trial_table,
)
from al_core.results.verdicts import (
    DEFAULT_TARGET_RULE,
    Completion,
    Headline,
    best_active,
    completion,
    default_target,
    headline,
    headline_sentence,
    starting_target,
    top_active,
    verdict,
    whole_percent_down,
)

__all__ = [
    "accuracy_measure_text",
    "CONFIG_KEYS",
    "DEFAULT_TARGET_RULE",
    "FINISHED",
    "MEASURED_PHASES",
    "OPEN_STATUSES",
    "SAVINGS_COLUMNS",
    "SAVINGS_DISPLAY_COLUMNS",
    "SUMMARY_COLUMNS",
    "TRIAL_KEYS",
    "Completion",
    "Headline",
    "SavingsView",
    "best_active",
    "check_targets",
    "completion",
    "config_label",
    "config_table",
    "curve_bands",
    "default_target",
    "display_table",
    "environment_table",
    "expected_frame",
    "expected_plan",
    "experiment_preset",
    "experiment_target",
    "format_labels",
    "format_percent",
    "headline",
    "headline_sentence",
    "overview_choices",
    "overview_experiment",
    "parse_targets",
    "redundancy_table",
    "rounds_frame",
    "savings_by_target",
    "savings_display_table",
    "savings_view",
    "savings_views",
    "starting_target",
    "summary_columns",
    "target_comparisons",
    "target_grid",
    "top_active",
    "trial_display_table",
    "trial_table",
    "verdict",
    "whole_percent_down",
]
