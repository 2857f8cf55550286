"""Plotly figures of learning curves, built from :mod:`al_core.results` frames.

Pure functions (no Streamlit): the app's pages only place the figures. One
colour per uncertainty fraction, on a sequential scale (:func:`fraction_color`),
shared by a fraction's measured and expected curves; the random baseline is
grey. Measured curves: lines with markers and a ±1 std band across trials
(solid; the baseline dashed). Expected (dummy) curves: dotted, no markers,
always in the legend as "… — not measured".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

BASELINE_COLOR = "rgb(85, 85, 85)"
HUMAN_COLOR = "#1f77b4"
#: Marker symbols that tell strategies apart when they share a fraction's colour.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "pentagon")
#: Measured curves' dash: the random baseline dashed, the others solid.
BASELINE_DASH = "dash"
EXPECTED_DASH = "dot"
#: The random baseline run on past the active budget (the baseline extension).
EXTENSION_COLOR = "rgb(160, 160, 160)"
EXTENSION_DASH = "dashdot"
EXTENSION_NAME = "random — run on past the budget"


def fraction_color(fraction: float) -> str:
    """The colour of an uncertainty fraction: grey for 0 (random), else Viridis from
    green-teal (small fractions) to dark purple (100 %)."""
    if fraction <= 0:
        return BASELINE_COLOR
    position = 0.8 * (1.0 - min(float(fraction), 1.0))
    return plotly.colors.sample_colorscale("Viridis", [position])[0]


#: Sequential scales of an experiment's second, third, … strategy (the first uses
#: :func:`fraction_color`'s Viridis): light for small fractions, dark for 100 %.
STRATEGY_SCALES: tuple[str, ...] = ("Oranges", "PuRd", "Greens", "Blues")


def strategy_color(index: int, fraction: float) -> str:
    """The colour of an experiment's ``index``-th active strategy (in name order) at
    ``fraction``: the first in :func:`fraction_color`, the others each on a scale
    of its own (:data:`STRATEGY_SCALES`, darker for larger fractions), so strategies
    sharing a fraction are told apart and so are one strategy's fractions; the
    fraction chart draws each strategy's line in its 100 % colour."""
    if fraction <= 0 or index <= 0:
        return fraction_color(fraction)
    scale = STRATEGY_SCALES[(index - 1) % len(STRATEGY_SCALES)]
    return plotly.colors.sample_colorscale(scale, [0.45 + 0.5 * min(float(fraction), 1.0)])[0]


def active_strategies(frame: pd.DataFrame | None) -> list[str]:
    """Strategies of the rows with an uncertainty fraction above 0, in name order
    (the same in every chart of one experiment, whatever order its rows come in)."""
    if frame is None or frame.empty:
        return []
    return sorted({str(s) for s in frame.loc[frame["fraction"] > 0, "strategy"]})


def _spread(
    median: pd.Series, fastest: pd.Series, slowest: pd.Series, hidden: np.ndarray | None = None
) -> dict[str, Any]:
    """Plotly's asymmetric error bars from the fastest to the slowest trial around the
    median (none where the median is missing, or where ``hidden`` is True)."""
    above = (slowest - median).clip(lower=0).fillna(0).to_numpy()
    below = (median - fastest).clip(lower=0).fillna(0).to_numpy()
    if hidden is not None:
        above, below = np.where(hidden, 0.0, above), np.where(hidden, 0.0, below)
    return {
        "type": "data",
        "symmetric": False,
        "array": above.tolist(),
        "arrayminus": below.tolist(),
    }


def _rgba(color: str, alpha: float) -> str:
    if color.startswith("#"):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (int(float(v)) for v in color[color.index("(") + 1 : -1].split(",")[:3])
    return f"rgba({r}, {g}, {b}, {alpha})"


LOG_AXIS_REACH = 3.0
"""The learning curves' x axis turns logarithmic when measured rounds (random's run
past the budget) reach beyond this many times the plan's last labeled count."""


def curves_figure(
    bands: pd.DataFrame | None,
    expected: pd.DataFrame | None = None,
    target: float | None = None,
    *,
    title: str | None = None,
    labeled_range: tuple[float, float] | None = None,
    height: int | None = None,
    colors: Mapping[str, str] | None = None,
    extrapolated: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> go.Figure:
    """Test accuracy vs number of labeled images.

    Parameters
    ----------
    bands : frame from :func:`al_core.results.curve_bands`, or None (nothing measured)
    expected : frame from :func:`al_core.results.expected_frame`, or None
    target : draws a horizontal target line when given
    labeled_range : (first, last) labeled count of the plan: the x axis spans it
        even before anything is measured (the y axis 0–100 % until a curve is drawn);
        logarithmic when measured rounds reach past :data:`LOG_AXIS_REACH` × ``last``
    height : figure height in pixels (default: Plotly's)
    colors : a colour per measured curve's label, replacing its fraction's colour
        (e.g. :data:`STORY_COLORS`: strategies that share a fraction told apart);
        without it, :func:`strategy_color` (the first strategy in its fractions'
        colours, the others as in :func:`fraction_figure`)
    extrapolated : per measured curve's label, ``(labels, accuracy)`` of a fitted curve
        beyond its last point (:meth:`al_core.stopping.Extrapolation.curve`)

    Traces: per measured configuration a band (named ``"<label> band"``, no
    legend entry) then its mean line named by its label; then the random
    baseline's points past the active budget (``phase`` ``"baseline"`` rows of
    ``bands``), a lighter grey dash-dot line named :data:`EXTENSION_NAME`
    (``"exp N · …"`` with several experiments) that starts at its last point
    within the budget; per expected curve a dotted line named by its "… — not
    measured" label, in its fraction's colour; per extrapolated curve a dotted line in
    its curve's colour named ``"<label> — extrapolated, not measured"``. The legend is
    always shown, even with a single curve. The accuracy axis spans the drawn values and the target
    (:func:`accuracy_range`), not 0–100 %.
    """
    figure = go.Figure()
    drawn_colors: dict[str, str] = {}
    labels = list(dict.fromkeys(bands["label"])) if bands is not None else []
    strategies = list(dict.fromkeys(bands["strategy"])) if bands is not None else []
    active = active_strategies(bands)
    extension = None
    if bands is not None and "phase" in bands:
        extension = bands[bands["phase"] == "baseline"]
        bands = bands[bands["phase"] != "baseline"]
    for label in labels:
        curve = bands[bands["label"] == label]
        if curve.empty:
            continue
        fraction = float(curve["fraction"].iloc[0])
        baseline = fraction == 0
        strategy = str(curve["strategy"].iloc[0])
        if colors is not None:
            color = colors.get(label) or fraction_color(fraction)
        else:
            color = strategy_color(active.index(strategy) if strategy in active else 0, fraction)
        drawn_colors[label] = color
        symbol = SYMBOLS[strategies.index(curve["strategy"].iloc[0]) % len(SYMBOLS)]
        x = curve["labeled"].tolist()
        figure.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=curve["upper"].tolist() + curve["lower"].tolist()[::-1],
                mode="lines",
                fill="toself",
                fillcolor=_rgba(color, 0.12),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=f"{label} band",
            )
        )
        trials = int(curve["trials"].iloc[0])
        figure.add_trace(
            go.Scatter(
                x=x,
                y=curve["mean"].tolist(),
                mode="lines+markers",
                name=label,
                line={"color": color, "width": 2, "dash": BASELINE_DASH if baseline else "solid"},
                marker={"symbol": "circle" if baseline else symbol, "size": 6},
                customdata=curve["std"].tolist(),
                hovertemplate=(
                    "%{x:.0f} labels: %{y:.1%} ± %{customdata:.1%}"
                    f"<extra>{label} ({trials} trial{'s' if trials != 1 else ''})</extra>"
                ),
            )
        )
        switch = curve["handover_at"].iloc[0] if "handover_at" in curve else math.nan
        if pd.notna(switch):
            _add_handover_marker(figure, curve, float(switch), color)
    if extension is not None and not extension.empty:
        _add_extension_traces(figure, bands, extension)
    if expected is not None and not expected.empty:
        for label, curve in expected.groupby("label", sort=False):
            color = fraction_color(float(curve["fraction"].iloc[0]))
            figure.add_trace(
                go.Scatter(
                    x=curve["labeled"].tolist(),
                    y=curve["accuracy"].tolist(),
                    mode="lines",
                    name=str(label),
                    line={"dash": EXPECTED_DASH, "width": 2, "color": _rgba(color, 0.75)},
                    hovertemplate="%{x:.0f} labels: %{y:.1%}<extra>" + str(label) + "</extra>",
                )
            )
    for label, (x, y) in (extrapolated or {}).items():
        if label not in drawn_colors or not len(x):
            continue
        name = f"{label} — extrapolated, not measured"
        figure.add_trace(
            go.Scatter(
                x=[float(v) for v in x],
                y=[float(v) for v in y],
                mode="lines",
                name=name,
                line={"dash": EXPECTED_DASH, "width": 2, "color": drawn_colors[label]},
                hovertemplate="%{x:.0f} labels: %{y:.1%}<extra>" + name + "</extra>",
            )
        )
    if target is not None and math.isfinite(target):
        figure.add_hline(
            y=target,
            line={"color": "#d62728", "dash": "dashdot", "width": 1},
            # Left end, above the line: the chart's toolbar sits at the top right.
            annotation_text=f"target {target:.0%}",
            annotation_position="top left",
            annotation_font_color="#d62728",
        )
    xaxis: dict[str, Any] = {"title": "labeled images"}
    yaxis: dict[str, Any] = {"title": "test accuracy", "tickformat": ".0%"}
    if labeled_range is not None:
        first, last = labeled_range
        measured = [f["labeled"].max() for f in (bands, extension) if f is not None and len(f)]
        measured += [max(x) for x, _ in (extrapolated or {}).values() if len(x)]
        measured_max = float(max(measured)) if measured else last
        if first > 0 and measured_max > LOG_AXIS_REACH * last:
            # Random run on far past the budget (to a high target) would squeeze the
            # budget's rounds, where the strategies differ, into a sliver: a log axis
            # gives the first labels as much room as the long run.
            xaxis.update(type="log", title="labeled images (log scale)")
            xaxis["range"] = [math.log10(first / 1.1), math.log10(measured_max * 1.1)]
            # 1-2-5 ticks written out (Plotly's own log ticks print bare digits)
            decades = range(int(math.log10(first / 1.1)), int(math.log10(measured_max)) + 1)
            xaxis["tickvals"] = [m * 10**d for d in decades for m in (1, 2, 5)]
        else:
            pad = 0.02 * max(max(last, measured_max) - first, 1.0)
            xaxis["range"] = [first - pad, max(last, measured_max) + pad]
        yaxis["range"] = [0.0, 1.02]
    elif not figure.data:
        yaxis["range"] = [0.0, 1.02]
        xaxis["range"] = [0, 100]
    # The accuracy axis spans what is drawn (bands, curves, the target line), not
    # 0-100 %: on a projector the part where the curves differ must fill the chart.
    shown = accuracy_range(_drawn_accuracies(figure), target)
    if shown is not None:
        yaxis["range"] = shown
    figure.update_layout(
        title=title,
        xaxis=xaxis,
        yaxis=yaxis,
        showlegend=True,
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 40 if title else 30, "b": 10},
        hovermode="closest",
        height=height,
    )
    return figure


ACCURACY_PAD = 0.06
"""Margin above and below the drawn accuracies, as a share of their span."""
MIN_ACCURACY_SPAN = 0.05
"""The accuracy axis spans at least this much (5 points), so that a flat curve is not
blown up into a cliff."""


def accuracy_range(values: Sequence[float], target: float | None = None) -> list[float] | None:
    """The accuracy axis' ``[low, high]`` for ``values`` (accuracies in [0, 1]) and the
    target line: from the lowest to the highest of them, with :data:`ACCURACY_PAD` of
    their span (at least :data:`MIN_ACCURACY_SPAN`) on either side, within
    [0, 1.02]. ``None`` when there is nothing finite to span."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if target is not None and math.isfinite(target) and finite:
        finite.append(float(target))
    if not finite:
        return None
    low, high = min(finite), max(finite)
    span = max(high - low, MIN_ACCURACY_SPAN)
    middle = (low + high) / 2
    low, high = min(low, middle - span / 2), max(high, middle + span / 2)
    pad = ACCURACY_PAD * span
    return [max(low - pad, 0.0), min(high + pad, 1.02)]


def _drawn_accuracies(figure: go.Figure) -> list[float]:
    """Every y value of the figure's traces (bands' edges included)."""
    return [y for trace in figure.data if trace.y is not None for y in trace.y if y is not None]


def _add_handover_marker(
    figure: go.Figure, curve: pd.DataFrame, labeled: float, color: str
) -> None:
    """Strategy ``auto``'s switch point on its curve: an open diamond at the median
    labeled count where it handed over from typical images to its base score."""
    label = str(curve["label"].iloc[0])
    y = float(np.interp(labeled, curve["labeled"], curve["mean"]))
    figure.add_trace(
        go.Scatter(
            x=[labeled],
            y=[y],
            mode="markers",
            name=f"{label}: typical images until {labeled:.0f} labels, then uncertainty",
            marker={"symbol": "diamond-open", "size": 14, "color": color, "line": {"width": 2}},
            hovertemplate=(
                f"{label} hands over to uncertainty at %{{x:.0f}} labels<extra></extra>"
            ),
        )
    )


def _add_extension_traces(figure: go.Figure, bands: pd.DataFrame, extension: pd.DataFrame) -> None:
    """The baseline extension's lines (see :func:`curves_figure`): one per random
    curve label, joined to that curve's last point within the budget."""
    for label, curve in extension.groupby("label", sort=False):
        within = bands[bands["label"] == label]
        x = curve["labeled"].tolist()
        y = curve["mean"].tolist()
        spread = curve["std"].tolist()
        if not within.empty:
            x, y = [within["labeled"].iloc[-1], *x], [within["mean"].iloc[-1], *y]
            spread = [within["std"].iloc[-1], *spread]
        name = str(label).replace("random (baseline)", EXTENSION_NAME)
        if name == label:
            name = f"{label} — run on past the budget"
        trials = int(curve["trials"].iloc[0])
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=name,
                line={"color": EXTENSION_COLOR, "width": 2, "dash": EXTENSION_DASH},
                marker={"symbol": "circle-open", "size": 6},
                customdata=spread,
                hovertemplate=(
                    "%{x:.0f} labels: %{y:.1%} ± %{customdata:.1%}"
                    f"<extra>{name} ({trials} trial{'s' if trials != 1 else ''})</extra>"
                ),
            )
        )


#: Colours of the diversity story's configurations (by their story labels): BALD
#: top-k and BatchBALD share the fraction 1, so the fraction's colour cannot tell them
#: apart (Dark2 orange and purple; the baseline stays grey).
STORY_COLORS = {
    "random (baseline)": BASELINE_COLOR,
    "BALD top-k": "#d95f02",
    "BatchBALD": "#7570b3",
}


def redundancy_figure(table: pd.DataFrame, batch: int | None = None) -> go.Figure:
    """Near-copies per queried batch, one bar per configuration.

    ``table`` is a :func:`al_core.diversity_story.story_redundancy_table` frame: each bar's
    height is its "near-copies per batch" cell read as a number and its label that
    cell's text, so the figure shows exactly the table's figures. ``batch`` (the
    batch size) sets the y axis to 0..batch, so that a full batch of copies would
    fill it.
    """
    names = table["strategy"].tolist()
    cells = table["near-copies per batch"].tolist()
    figure = go.Figure(
        go.Bar(
            x=names,
            y=[float(cell) for cell in cells],
            text=cells,
            textposition="outside",
            cliponaxis=False,  # a label above a bar near the top stays whole
            marker_color=[STORY_COLORS.get(name, fraction_color(1.0)) for name in names],
            hovertemplate="%{x}: %{text} near-copies per batch<extra></extra>",
        )
    )
    per = f"batch of {batch}" if batch else "batch"
    # Two lines: on one, the title is longer than the 320 px plot and was cut off.
    yaxis: dict[str, Any] = {"title": f"mean near-copies<br>per {per}", "rangemode": "tozero"}
    if batch:
        yaxis["range"] = [0, batch * 1.08]
    figure.update_layout(
        xaxis_title=None,
        yaxis=yaxis,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=320,
    )
    return figure


def fraction_figure(configs: pd.DataFrame) -> go.Figure:
    """Labels needed to reach the target vs uncertainty fraction, one line per strategy.

    ``configs`` is a :func:`al_core.results.config_table` frame; every strategy's
    line (coloured by :func:`strategy_color`) starts at the random baseline
    (fraction 0), which is drawn once, as its own grey trace after the lines. Points
    are the table's medians; error bars span the fastest to the slowest trial, up
    to the top of the axis when a trial never reached the target. A configuration
    whose median is "not reached" (censored: it needs more labels than its trials
    ran) is drawn as what is known of it, an arrow up from a bar at the most labels
    its trials ran, with the table's "> N" beside it (:func:`censored_points`), in its
    line's colour, never left out.
    """
    figure = go.Figure()
    if not configs.empty:
        several = configs["experiment_id"].nunique() > 1
        ceiling = float(configs["final_labeled"].max()) if "final_labeled" in configs else 0.0
        for experiment_id, experiment in configs.groupby("experiment_id", sort=True):
            prefix = f"exp {experiment_id} · " if several else ""
            baseline = experiment[experiment["fraction"] == 0]
            active = active_strategies(experiment)
            for strategy, rows in experiment[experiment["fraction"] > 0].groupby("strategy"):
                line = pd.concat([baseline, rows]).sort_values("fraction")
                median = line["labels_to_target"]
                slowest = line["labels_max"].fillna(ceiling)
                name = f"{prefix}{strategy}"
                on_baseline = (line["fraction"] == 0).to_numpy()
                figure.add_trace(
                    go.Scatter(
                        x=(line["fraction"] * 100).tolist(),
                        y=median.tolist(),
                        # Random's point is its own grey trace below: the line only
                        # starts there.
                        error_y=_spread(median, line["labels_min"], slowest, on_baseline),
                        mode="lines+markers",
                        marker={"size": [0 if b else 8 for b in on_baseline]},
                        line={"color": strategy_color(active.index(str(strategy)), 1.0)},
                        name=name,
                        hovertemplate="u = %{x:.0f}%: median %{y:.0f} labels<extra>"
                        + name
                        + "</extra>",
                    )
                )
            if not baseline.empty:
                median = baseline["labels_to_target"]
                slowest = baseline["labels_max"].fillna(ceiling)
                name = f"{prefix}random (baseline)"
                figure.add_trace(
                    go.Scatter(
                        x=[0.0] * len(baseline),
                        y=median.tolist(),
                        error_y={
                            **_spread(median, baseline["labels_min"], slowest),
                            "color": BASELINE_COLOR,
                        },
                        mode="markers",
                        marker={"color": BASELINE_COLOR, "size": 9, "symbol": "circle"},
                        name=name,
                        hovertemplate="random: median %{y:.0f} labels<extra>" + name + "</extra>",
                    )
                )
            censored = censored_points(experiment)
            for strategy, rows in censored.groupby(
                np.where(censored["fraction"] > 0, censored["strategy"], ""), sort=True
            ):
                color = (
                    strategy_color(active.index(str(strategy)), 1.0) if strategy else BASELINE_COLOR
                )
                name = f"{prefix}{strategy or 'random'}: not reached"
                figure.add_trace(
                    go.Scatter(
                        x=(rows["fraction"] * 100).tolist(),
                        y=rows["ran"].tolist(),
                        text=rows["text"].tolist(),
                        mode="markers+text",
                        textposition="top center",
                        textfont={"color": color},
                        marker={"color": color, "size": 14, "symbol": "arrow-bar-up"},
                        name=name,
                        hovertemplate="u = %{x:.0f}%: not reached, needs %{text} labels"
                        "<extra>" + name + "</extra>",
                    )
                )
    figure.update_layout(
        xaxis_title="uncertainty fraction of each batch (%)",
        yaxis_title="labels to reach the target (median)",
        yaxis_rangemode="tozero",  # differences of a few labels must not look huge
        xaxis={"range": [-5, 105]},
        showlegend=True,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def censored_points(configs: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`al_core.results.config_table` whose median labels to target
    is "not reached" (censored), with where the fraction chart draws them.

    Columns: strategy, fraction, ran (the most labels their trials ran, the random baseline's
    rounds past the budget included: what is known is that the median needs more),
    text (``"> 120"``, as the table's "not reached (> 120)"). Only rows with counted
    trials; empty when every median is measured.
    """
    from al_core.results.display import _labels_run

    columns = ["strategy", "fraction", "ran", "text"]
    if configs.empty:
        return pd.DataFrame(columns=columns)
    rows = configs[(configs["trials"] > 0) & configs["labels_to_target"].isna()]
    ran = [_labels_run(row) for _, row in rows.iterrows()]
    frame = pd.DataFrame(
        {
            "strategy": rows["strategy"].astype(str).to_numpy(),
            "fraction": rows["fraction"].astype(float).to_numpy(),
            "ran": ran,
            "text": [f"> {r:.0f}" for r in ran],
        },
        columns=columns,
    )
    return frame[np.isfinite(frame["ran"].astype(float))].sort_values("fraction")


def labeling_curve_figure(
    human: Sequence[Mapping[str, Any]],
    simulated: Sequence[Mapping[str, Any]] = (),
    *,
    extrapolated: tuple[Sequence[float], Sequence[float]] | None = None,
) -> go.Figure:
    """A labeling session's curve: held-out accuracy vs the labels trained on, one
    point per retrain (``labeled``, ``test_accuracy`` of each row); with the audit's
    simulated run of the same configuration (true labels) dashed over it. Rows with
    ``low`` / ``high`` (the 95 % interval) draw a shaded band; ``extrapolated``
    ``(labels, accuracy)`` draws the fitted curve beyond the last point, dotted, named
    "extrapolated — not measured"."""
    figure = go.Figure()
    banded = [r for r in human if r.get("low") is not None]
    if banded:
        figure.add_scatter(
            x=[r["labeled"] for r in banded] + [r["labeled"] for r in reversed(banded)],
            y=[r["high"] for r in banded] + [r["low"] for r in reversed(banded)],
            mode="lines",
            fill="toself",
            fillcolor=_rgba(HUMAN_COLOR, 0.15),
            line={"width": 0},
            hoverinfo="skip",
            name="95 % interval",
        )
    figure.add_scatter(
        x=[r["labeled"] for r in human],
        y=[r["test_accuracy"] for r in human],
        mode="lines+markers",
        name="your labels",
        line={"color": HUMAN_COLOR},
    )
    if extrapolated is not None and len(extrapolated[0]):
        figure.add_scatter(
            x=list(extrapolated[0]),
            y=list(extrapolated[1]),
            mode="lines",
            line={"color": HUMAN_COLOR, "dash": EXPECTED_DASH},
            name="extrapolated — not measured",
        )
    if simulated:
        figure.add_scatter(
            x=[r["labeled"] for r in simulated],
            y=[r["test_accuracy"] for r in simulated],
            mode="lines+markers",
            line={"color": BASELINE_COLOR, "dash": "dash"},
            name="simulated (true labels)",
        )
    counts = [r["labeled"] for r in (*human, *simulated)]
    if extrapolated is not None:
        counts += [float(x) for x in extrapolated[0]]
    figure.update_layout(
        xaxis_title="labels trained on",
        # From 0 with whole-number ticks: a single point at 10 labels must not get an
        # axis of 9-11 with ticks at 9.5 and 10.5.
        xaxis={
            "range": [0, max(counts, default=10) * 1.1 + 1],
            "tickformat": "d",
            **({"dtick": 1} if max(counts, default=10) < 8 else {}),
        },
        yaxis_title="held-out accuracy",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1],
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


#: Colours of the further configurations of :func:`savings_figure` (Dark2 purple, pink,
#: green), apart from the first configuration's and the baseline's.
OTHER_SAVINGS_COLORS: tuple[str, ...] = ("#7570b3", "#e7298a", "#66a61e")


def other_colors(names: Sequence[str]) -> dict[str, str]:
    """The colour of each configuration drawn beside the chosen one, by its name, in
    :data:`OTHER_SAVINGS_COLORS` order: the savings chart's extra lines, and (passed
    as ``colors`` to :func:`curves_figure`) the same configurations' learning curves,
    so one strategy has one colour in both charts."""
    return {
        name: OTHER_SAVINGS_COLORS[i % len(OTHER_SAVINGS_COLORS)] for i, name in enumerate(names)
    }


def savings_figure(
    savings: pd.DataFrame,
    table: pd.DataFrame,
    name: str,
    target: float | None = None,
    *,
    height: int | None = 320,
    others: Sequence[tuple[pd.DataFrame, pd.DataFrame, str]] = (),
    color: str | None = None,
) -> go.Figure:
    """Labels needed against the target accuracy: one configuration and random.

    ``savings`` is a :func:`al_core.results.savings_by_target` frame and
    ``table`` its :func:`al_core.results.savings_display_table` (same rows);
    ``name`` the configuration's legend name. Two traces, "random (baseline)"
    (dashed grey) and ``name``: x the target in percent, y the median labels
    (no point where the median is "not reached"), error bars from the fastest
    to the slowest trial (up to the most labels run when a trial never reached
    it). Each point's ``text`` is its table cell ("labels (median)") and its
    ``customdata`` the row's fastest – slowest, reached and (for the
    configuration) saved and ± saved cells, which the hover shows: the chart
    says nothing the table does not. ``target`` draws a vertical line there.
    ``others``: more configurations ``(savings, table, name)`` against the same
    random baseline (e.g. ``auto`` beside ``margin``), one more trace each, in
    :data:`OTHER_SAVINGS_COLORS`. ``color``: the configuration's line colour (default
    the 100 % fraction's), e.g. its :func:`strategy_color` on the learning curves.
    """
    figure = go.Figure()
    sides = [
        (savings, table, "random (baseline)", "random", "random_", BASELINE_COLOR, BASELINE_DASH),
        (savings, table, name, "chosen", "", color or fraction_color(1.0), "solid"),
    ]
    colors = other_colors([more_name for _, _, more_name in others])
    for more, more_table, more_name in others:
        sides.append((more, more_table, more_name, "chosen", "", colors[more_name], "solid"))
    for frame, cells_of, trace_name, prefix, column, color, dash in sides:
        x = (frame["target"] * 100).round(6).tolist()
        median = frame[f"{column}labels" if column else "labels"].astype(float)
        low = frame[f"{column}min" if column else "labels_min"].astype(float)
        high = frame[f"{column}max" if column else "labels_max"].astype(float)
        ran = frame[f"{column}ran" if column else "ran"].astype(float)
        slowest = high.where(high.notna(), ran)
        cells = [
            cells_of[f"{prefix}: fastest – slowest"].tolist(),
            cells_of[f"{prefix}: reached"].tolist(),
        ]
        hover = (
            "target %{x:.0f} %: %{text} labels (median; fastest – slowest "
            "%{customdata[0]}; %{customdata[1]} trials reached it)"
        )
        if prefix == "chosen":
            cells += [
                cells_of["saved vs random"].tolist(),
                cells_of["± saved (seed pairs)"].tolist(),
            ]
            hover += "<br>saved vs random %{customdata[2]} ± %{customdata[3]}"
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[v if math.isfinite(v) else None for v in median],
                text=cells_of[f"{prefix}: labels (median)"].tolist(),
                customdata=[list(row) for row in zip(*cells, strict=True)],
                error_y={**_spread(median, low, slowest), "color": _rgba(color, 0.5)},
                mode="lines+markers",
                name=trace_name,
                line={"color": color, "width": 2, "dash": dash},
                hovertemplate=hover + f"<extra>{trace_name}</extra>",
            )
        )
    if target is not None and math.isfinite(target):
        figure.add_vline(
            x=round(target * 100, 6),
            line={"color": "#d62728", "dash": "dashdot", "width": 1},
            annotation_text=f"target {round(target * 100, 1):g} %",
            annotation_position="top left",
            annotation_font_color="#d62728",
        )
    figure.update_layout(
        xaxis={"title": "target accuracy (%)", "ticksuffix": " %"},
        yaxis={"title": "labels needed (median)", "rangemode": "tozero"},
        showlegend=True,
        legend={"orientation": "h", "yanchor": "top", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="closest",
        height=height,
    )
    return figure
