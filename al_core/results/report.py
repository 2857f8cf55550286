"""One experiment's result as a self-contained HTML file: the report a person hands over.

:func:`report_html` builds it from the store with the same functions the Results
page and the Overview call (the headline sentence, the verdict, the tables and the
figures are theirs, never re-worded here): the headline and verdict, the learning
curves with their spread, the labels needed across targets (chart and table), the
per-configuration table, what was compared (with the data check of a data set
read from a file or folder), how to reproduce it (config, seeds, library
versions, CPU, dates, the command that reruns it) and the caveats the pages give.

The file opens offline: plotly.js is inlined once, with the first chart, and
nothing else is fetched from anywhere. While any trial is queued or running the
report says "preliminary" and draws no verdict and no savings figures, as the
pages do. ``python -m al_core report EXP --html FILE`` writes the same file; the
pages' "Download report" buttons call :func:`report_html`.
"""

from __future__ import annotations

import html
import json
import math
import platform
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from al_core.results.curves import curve_bands, expected_plan
from al_core.results.display import (
    accuracy_measure_text,
    config_label,
    display_table,
    environment_table,
    trial_display_table,
)
from al_core.results.overview import experiment_target
from al_core.results.savings import savings_views
from al_core.results.tables import config_table, rounds_frame, trial_table
from al_core.results.verdicts import (
    DEFAULT_TARGET_RULE,
    completion,
    default_target,
    headline,
    headline_sentence,
    top_active,
    verdict,
)

#: Element ids in the report, for readers (and tests) that look things up.
HEADLINE_ID, VERDICT_ID = "headline", "verdict"
CONFIG_TABLE_ID, SAVINGS_TABLE_ID = "configurations", "savings"
CURVES_ID, SAVINGS_CHART_ID, FRACTION_CHART_ID = "curves-chart", "savings-chart", "fraction-chart"

#: The caveats every report carries (the pages say the same beside their charts).
EXPECTED_CAVEAT = (
    'Expected curves are not measured. The app can draw dotted "expected" curves from '
    "a formula with an assumed gain for uncertainty sampling (al_core/expected.py), to "
    "compare hope with measurement; this report draws none, and every curve and number "
    "in it is measured."
)
CHOSEN_TARGET_CAVEAT = (
    "A target chosen from the results favours the configuration it was chosen from: the "
    "default target is the accuracy the best configuration reached, so that "
    "configuration reaches it by construction. A target fixed before the experiment "
    "ran (the experiment's own) is the fairer test."
)
PARTIAL_CAVEAT = (
    "Cancelled, failed and still-running trials stop early: they are kept out of the "
    "tables' figures."
)


@dataclass(frozen=True)
class TargetChoice:
    """The report's target accuracy, how it was chosen (a sentence), and whether it was
    chosen from the results (the default rule, or a reader's pick): then the report
    carries :data:`CHOSEN_TARGET_CAVEAT`."""

    target: float | None
    how: str
    from_results: bool


def choose_target(
    configs_any: pd.DataFrame,
    stored: float | None,
    given: float | None,
    preliminary: bool,
) -> TargetChoice:
    """The target a report states and why: ``given`` (a page's or ``--target``'s),
    else the pages' starting target (:func:`default_target` once every trial has
    finished, else the experiment's ``stored`` one). ``configs_any`` is a
    :func:`config_table` at any target (the default does not depend on it)."""
    default = None if preliminary else default_target(configs_any)
    target = given if given is not None else (default or stored)
    if target is None:
        return TargetChoice(None, "No target accuracy was set.", False)
    if default is not None and round(target, 6) == round(default, 6):
        return TargetChoice(target, f"The default target. {DEFAULT_TARGET_RULE}", True)
    if stored is not None and round(target, 6) == round(float(stored), 6):
        return TargetChoice(target, "The experiment's own target, set when it was launched.", False)
    # Picked while reading the results: the same caveat as the default's.
    return TargetChoice(
        target, "Chosen by the reader of the results (on the page or with --target).", True
    )


def rerun_command(config: dict[str, Any]) -> str:
    """The ``python -m al_core sweep`` command that reruns a stored experiment config:
    every trial-config flag with its stored value, the grid and the baseline options
    (same seeds: the trials' seeds start at the stored ``seed``)."""
    from al_core.cli.options import _TRIAL_FLAGS

    base = config.get("base", {})
    words = ["python", "-m", "al_core", "sweep"]
    for name in _TRIAL_FLAGS:
        value = base.get(name)
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    words += ["--strategies", ",".join(config.get("strategies", []))]
    words += ["--fractions", ",".join(f"{float(f):g}" for f in config.get("fractions", []))]
    words += ["--trials", str(config.get("trials", 1))]
    if config.get("baseline") is False:
        words.append("--no-baseline")
    elif not config.get("extend_baseline", True):
        words.append("--no-extend-baseline")
    elif base.get("baseline_cap") is not None:
        words += ["--baseline-cap", str(base["baseline_cap"])]
    return shlex.join(words)


def _when(stamp: float | None) -> str:
    if stamp is None or not math.isfinite(float(stamp)):
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(stamp)))


def _table(frame: pd.DataFrame, table_id: str | None = None) -> str:
    return frame.to_html(index=False, table_id=table_id, border=0, na_rep="—", escape=True)


def _paragraph(text: str, element_id: str | None = None, css: str = "") -> str:
    ident = f' id="{element_id}"' if element_id else ""
    klass = f' class="{css}"' if css else ""
    return f"<p{ident}{klass}>{html.escape(text)}</p>"


def _data_check_text(base: dict[str, Any]) -> str | None:
    """The data check's text (:func:`al_core.datacheck.format_check`) of a data set read
    from a file or folder (uploaded or given by path), as the trials split it; None for
    the built-in sets; a sentence saying why when it cannot be run now."""
    from al_core.datasets import BUILTIN_DATASETS

    source = str(base.get("dataset", ""))
    if source.strip().lower().replace("-", "_") in BUILTIN_DATASETS:
        return None
    from al_core.datacheck import check_dataset, format_check
    from al_core.errors import ALError

    try:
        check = check_dataset(
            source,
            pool_size=base.get("pool_size"),
            test_size=base.get("test_size"),
            seed=int(base.get("data_seed") or 0),
        )
    except (ALError, OSError, ValueError) as exc:
        return f"The data check could not be run now: {exc}"
    return format_check(check)


def _dataset_name(source: str) -> str:
    from al_core.user_datasets import uploaded_for_source

    try:
        uploaded = uploaded_for_source(source)
    except (OSError, ValueError):
        uploaded = None
    return source if uploaded is None else f"{uploaded.label()} — {source}"


def _compared_rows(
    experiment: dict[str, Any], trials: Sequence[dict[str, Any]], choice: TargetChoice
) -> list[tuple[str, str]]:
    config = experiment["config"]
    base = config.get("base", {})
    initial, batch, rounds = expected_plan(base)
    fractions = sorted({*(float(f) for f in config.get("fractions", []))})
    seeds = sorted({int(t["seed"]) for t in trials})
    data = _dataset_name(str(base.get("dataset", "")))
    sizes = [
        f"{key.replace('_', ' ')} {base[key]}"
        for key in ("pool_size", "test_size", "val_size", "repeat_noise")
        if base.get(key)
    ]
    if (base.get("repeat") or 1) > 1:
        sizes.append(f"each pool image {base['repeat']} times")
    budget = f"{initial} labels to start ({base.get('initial_mode', 'random')}), then {rounds} "
    budget += f"rounds of {batch}: {initial + batch * rounds} labels"
    if base.get("baseline_cap") and config.get("extend_baseline"):
        budget += (
            f"; the random baseline may run on past the budget, up to {base['baseline_cap']} "
            "labels, until it reaches the best configuration's accuracy"
        )
    target = "none" if choice.target is None else f"{choice.target:.0%}. {choice.how}"
    return [
        ("Data set", data + (f" ({', '.join(sizes)})" if sizes else "")),
        (
            "Model",
            f"{base.get('model')} (epochs {base.get('epochs')}, at least "
            f"{base.get('min_steps')} steps per fit, learning rate {base.get('learning_rate')}, "
            f"dropout {base.get('dropout')}). {accuracy_measure_text(base)}",
        ),
        ("Strategies", ", ".join(config.get("strategies", [])) or "—"),
        (
            "Uncertainty fractions",
            ", ".join(f"{f:.0%}" + (" (random baseline)" if f == 0 else "") for f in fractions),
        ),
        (
            "Trials",
            f"{config.get('trials')} per configuration ({len(trials)} in all); seeds "
            + ", ".join(str(s) for s in seeds),
        ),
        ("Label budget", budget),
        ("Target accuracy", target),
    ]


def _definition_list(rows: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _environment_section(trials: Sequence[dict[str, Any]]) -> str:
    known = {int(t["id"]): t["environment"] for t in trials if t.get("environment")}
    if not known:
        return "<p>No environment was recorded for these trials (run before it was).</p>"
    table = environment_table(known)
    grouped = (
        table.groupby([c for c in table.columns if c != "trial"], sort=False)["trial"]
        .apply(lambda ids: ", ".join(ids))
        .reset_index()
    )
    grouped = grouped[["trial", *[c for c in grouped.columns if c != "trial"]]]
    grouped = grouped.rename(columns={"trial": "trials"})
    return "<p>What the trials ran on (CPU, threads, library versions):</p>" + _table(grouped)


def _figure_html(figure: Any, div_id: str, first: list[bool]) -> str:
    """A figure's ``<div>``; plotly.js inlined with the first one only."""
    inline = first[0]
    first[0] = False
    # One look whatever process draws it (importing Streamlit changes Plotly's default).
    figure.update_layout(template="plotly_white")
    return str(
        figure.to_html(
            full_html=False,
            include_plotlyjs=bool(inline),
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1f2933; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; font-size: 1.3rem; }
.headline { font-size: 1.15rem; font-weight: 600; }
.verdict { font-size: 1.05rem; font-weight: 600; }
.preliminary { background: #fff4ce; border-left: 4px solid #e0a800; padding: .6rem .8rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #d9dee3; padding: .3rem .6rem; text-align: left; }
th { background: #f3f5f7; } caption, .note { color: #52606d; font-size: .88rem; }
dt { font-weight: 600; margin-top: .4rem; } dd { margin-left: 1rem; }
pre { background: #f3f5f7; padding: .6rem; overflow-x: auto; font-size: .82rem; }
"""


def report_html(
    store: Any,
    experiment_id: int,
    target: float | None = None,
    *,
    fraction: float | None = None,
    now: Callable[[], float] = time.time,
) -> str:
    """The report of one stored experiment as one self-contained HTML document.

    ``target``: the accuracy the tables, headline and verdict use (default: the pages'
    starting target, :func:`choose_target`); ``fraction``: the configuration compared
    with random across targets (default: the headline's best fraction, as the Overview
    starts). Every sentence and cell comes from the functions the pages call.
    """
    from al_core import __version__, charts

    experiment = store.experiment(experiment_id)
    trials = store.trials(experiment_id)
    rounds = rounds_frame(store.experiment_rounds([experiment_id]))
    config = experiment["config"]
    base = config.get("base", {})
    done = completion([t["status"] for t in trials])
    configs_any = config_table(trial_table(rounds, None)) if not rounds.empty else pd.DataFrame()
    choice = choose_target(configs_any, experiment_target(experiment), target, done.preliminary)
    target = choice.target
    configs = config_table(trial_table(rounds, target)) if not rounds.empty else pd.DataFrame()
    best = headline(configs, target, done)
    first_figure = [True]
    title = f"Experiment {experiment_id}: {experiment['name']}"
    parts = [
        f"<h1>Active learning report — {html.escape(title)}</h1>",
        _paragraph(
            f"Status: {experiment['status']}; {done.finished} of {done.total} trials "
            f"finished. Report made {_when(now())} by al_core {__version__}.",
            css="note",
        ),
    ]
    if done.preliminary:
        parts.append(
            _paragraph(
                f"{done.text().capitalize()}. The curves are a preview; the tables count "
                "finished trials only and no verdict is drawn until every trial has "
                "finished.",
                "preliminary",
                "preliminary",
            )
        )
    if best is not None:
        parts.append(_paragraph(headline_sentence(best, configs), HEADLINE_ID, "headline"))
    parts.append(_paragraph(verdict(configs, target, done), VERDICT_ID, "verdict"))

    parts.append("<h2>Learning curves</h2>")
    bands = curve_bands(rounds)
    if bands.empty:
        parts.append("<p>No measured rounds yet.</p>")
    else:
        bands = bands.assign(
            label=[config_label(s, f) for s, f in zip(bands["strategy"], bands["fraction"],
                                                       strict=True)]
        )  # fmt: skip
        initial, batch, planned = expected_plan(base, bands["labeled"].max())
        figure = charts.curves_figure(
            bands, None, target, labeled_range=(initial, initial + batch * planned), height=480
        )
        parts.append(_figure_html(figure, CURVES_ID, first_figure))
        parts.append(
            _paragraph(
                "Test accuracy against the number of labeled images: mean over the trials "
                "(seeds), uncertainty sampling solid and coloured by fraction, the random "
                "baseline dashed grey (light grey dash-dot where it was run on past the "
                "budget); shaded band: ± 1 standard deviation across trials. "
                + accuracy_measure_text(base),
                css="note",
            )
        )

    if not configs.empty:
        parts.append("<h2>Labels to reach the target, savings vs random, final accuracy</h2>")
        parts.append(_table(display_table(configs), CONFIG_TABLE_ID))
        parts.append(
            _paragraph(
                "Labels to target: the median over the finished trials, counting a trial that "
                "never reached the target as needing more labels than any that did, each "
                "trial's count interpolated between the two measured rounds around the "
                'target; "not reached" when half or more never did (› the most labels they '
                "ran). Saved vs random: 1 − median ÷ random's median; ± saved: the spread of "
                "the same saving across seed pairs. A saving no larger than that spread is "
                "within noise; with one seed pair the spread is unknown (not conclusive).",
                css="note",
            )
        )
        if (configs["trials"] > 0).any():
            parts.append("<h2>How the share of uncertainty sampling changes the labels needed</h2>")
            parts.append(
                _figure_html(charts.fraction_figure(configs), FRACTION_CHART_ID, first_figure)
            )

    if not done.preliminary and not configs.empty:
        chosen = fraction
        if chosen is None:
            top = top_active(configs)
            chosen = (
                best.fraction
                if best is not None
                else (None if top is None else float(top["fraction"]))
            )
        views = [] if chosen is None else savings_views(rounds, configs, target, fraction=chosen)
        if views:
            first, others = views[0], views[1:]
            names = " vs ".join(v.name for v in views)
            parts.append(f"<h2>Labels needed across targets: {html.escape(names)} vs random</h2>")
            figure = charts.savings_figure(
                first.savings,
                first.table,
                first.name,
                target,
                height=380,
                others=[(v.savings, v.table, v.name) for v in others],
            )
            parts.append(_figure_html(figure, SAVINGS_CHART_ID, first_figure))
            for position, view in enumerate(views):
                if others:
                    parts.append(f"<p><b>{html.escape(view.name)} vs random</b></p>")
                table_id = SAVINGS_TABLE_ID if position == 0 else f"{SAVINGS_TABLE_ID}-{position}"
                parts.append(_table(view.table, table_id))
            parts.append(
                _paragraph(
                    "Medians over the trials, a trial that never reached a target counting "
                    "as needing more; fastest – slowest trial; saved vs random with its "
                    "spread across seed pairs (within it: within noise). Random's labels "
                    "may lie past the budget when it was run on further.",
                    css="note",
                )
            )

    parts.append("<h2>What was compared</h2>")
    parts.append(_definition_list(_compared_rows(experiment, trials, choice)))
    check = _data_check_text(base)
    if check is not None:
        parts.append("<h3>Data check</h3>")
        parts.append(
            _paragraph(
                "The data set as the trials read it (same loader, split and seed), checked "
                "again when this report was made:",
                css="note",
            )
        )
        parts.append(f'<pre id="data-check">{html.escape(check)}</pre>')

    parts.append("<h2>Caveats</h2><ul>")
    caveats = [EXPECTED_CAVEAT, accuracy_measure_text(base), PARTIAL_CAVEAT]
    if choice.from_results:
        caveats.insert(1, CHOSEN_TARGET_CAVEAT)
    parts += [f"<li>{html.escape(c)}</li>" for c in caveats]
    parts.append("</ul>")

    parts.append("<h2>Reproducibility</h2>")
    parts.append(
        _definition_list(
            [
                ("Experiment created", _when(experiment.get("created_at"))),
                ("Started", _when(experiment.get("started_at"))),
                ("Finished", _when(experiment.get("finished_at"))),
                ("Report made", f"{_when(now())} (Python {platform.python_version()})"),
            ]
        )
    )
    parts.append("<p>The command that reruns it (same config, same seeds):</p>")
    parts.append(f'<pre id="rerun">{html.escape(rerun_command(config))}</pre>')
    parts.append(
        "<p>and the command that writes this report again:</p>"
        f"<pre>{html.escape(report_command(experiment_id, target))}</pre>"
    )
    parts.append(_environment_section(trials))
    parts.append("<p>The stored config:</p>")
    parts.append(f'<pre id="config">{html.escape(json.dumps(config, indent=2))}</pre>')
    if not rounds.empty:
        parts.append("<details><summary>Every trial</summary>")
        parts.append(_table(trial_display_table(trial_table(rounds, target))))
        parts.append("</details>")

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — Active Learning Lab report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def report_command(experiment_id: int, target: float | None = None) -> str:
    """``python -m al_core report EXP --html report-EXP.html`` (with ``--target``)."""
    words = ["python", "-m", "al_core", "report", str(experiment_id)]
    if target is not None:
        words += ["--target", f"{target:g}"]
    return shlex.join([*words, "--html", report_file_name(experiment_id)])


def report_file_name(experiment_id: int) -> str:
    """The report's file name: ``report-experiment-3.html``."""
    return f"report-experiment-{experiment_id}.html"
