"""Plotly figures of learning curves, built from :mod:`al_core.results` frames.

Pure functions (no Streamlit): the app's pages only place the figures. Measured
curves are solid lines with markers and a ±1 std band across trials; the random
baseline is grey; expected (dummy) curves are dotted, without markers, and their
legend says "not measured".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

BASELINE_COLOR = "#555555"
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def curves_figure(
    bands: pd.DataFrame | None,
    expected: pd.DataFrame | None = None,
    target: float | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """Test accuracy vs number of labeled images.

    Parameters
    ----------
    bands : frame from :func:`al_core.results.curve_bands`, or None (nothing measured)
    expected : frame from :func:`al_core.results.expected_frame`, or None
    target : draws a horizontal target line when given

    Traces: per measured configuration a band (named ``"<label> band"``, no
    legend entry) then its mean line named by its label; per expected curve a
    dotted line named by its "… — not measured" label.
    """
    figure = go.Figure()
    labels = list(dict.fromkeys(bands["label"])) if bands is not None else []
    colors = iter(PALETTE * (1 + len(labels) // len(PALETTE)))
    for label in labels:
        curve = bands[bands["label"] == label]
        baseline = bool((curve["fraction"] == 0).all())
        color = BASELINE_COLOR if baseline else next(colors)
        x = curve["labeled"].tolist()
        figure.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=curve["upper"].tolist() + curve["lower"].tolist()[::-1],
                mode="lines",
                fill="toself",
                fillcolor=_rgba(color, 0.15),
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
                line={"color": color, "width": 2, "dash": "dash" if baseline else "solid"},
                customdata=curve["std"].tolist(),
                hovertemplate=(
                    "%{x:.0f} labels: %{y:.1%} ± %{customdata:.1%}"
                    f"<extra>{label} ({trials} trial{'s' if trials != 1 else ''})</extra>"
                ),
            )
        )
    if expected is not None and not expected.empty:
        for label, curve in expected.groupby("label", sort=False):
            figure.add_trace(
                go.Scatter(
                    x=curve["labeled"].tolist(),
                    y=curve["accuracy"].tolist(),
                    mode="lines",
                    name=str(label),
                    line={"dash": "dot", "width": 2, "color": _rgba(BASELINE_COLOR, 0.8)}
                    if (curve["fraction"] == 0).all()
                    else {"dash": "dot", "width": 2},
                    hovertemplate="%{x:.0f} labels: %{y:.1%}<extra>" + str(label) + "</extra>",
                )
            )
    if target is not None and math.isfinite(target):
        figure.add_hline(
            y=target,
            line={"color": "#d62728", "dash": "dashdot", "width": 1},
            annotation_text=f"target {target:.0%}",
            annotation_position="bottom right",
        )
    figure.update_layout(
        title=title,
        xaxis_title="labeled images",
        yaxis_title="test accuracy",
        yaxis_tickformat=".0%",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        hovermode="closest",
    )
    return figure


def fraction_figure(configs: pd.DataFrame) -> go.Figure:
    """Labels needed to reach the target vs uncertainty fraction, one line per strategy.

    ``configs`` is a :func:`al_core.results.config_table` frame; the random
    baseline (fraction 0) is the first point of every strategy's line. Error
    bars are the spread across the trials that reached the target.
    """
    figure = go.Figure()
    if not configs.empty:
        several = configs["experiment_id"].nunique() > 1
        for experiment_id, experiment in configs.groupby("experiment_id", sort=True):
            baseline = experiment[experiment["fraction"] == 0]
            for strategy, rows in experiment[experiment["fraction"] > 0].groupby("strategy"):
                line = pd.concat([baseline, rows]).sort_values("fraction")
                name = f"exp {experiment_id} · {strategy}" if several else str(strategy)
                figure.add_trace(
                    go.Scatter(
                        x=(line["fraction"] * 100).tolist(),
                        y=line["labels_to_target"].tolist(),
                        error_y={
                            "type": "data",
                            "array": line["labels_to_target_std"].fillna(0).tolist(),
                        },
                        mode="lines+markers",
                        name=name,
                    )
                )
    figure.update_layout(
        xaxis_title="uncertainty fraction of each batch (%)",
        yaxis_title="labels to reach the target",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def labeling_curve_figure(
    human: Sequence[Mapping[str, Any]], simulated: Sequence[Mapping[str, Any]] = ()
) -> go.Figure:
    """A labeling session's curve: held-out accuracy vs the labels trained on, one
    point per retrain (``labeled``, ``test_accuracy`` of each row); with the audit's
    simulated run of the same configuration (true labels) dashed over it."""
    figure = go.Figure()
    figure.add_scatter(
        x=[r["labeled"] for r in human],
        y=[r["test_accuracy"] for r in human],
        mode="lines+markers",
        name="your labels",
        line={"color": PALETTE[0]},
    )
    if simulated:
        figure.add_scatter(
            x=[r["labeled"] for r in simulated],
            y=[r["test_accuracy"] for r in simulated],
            mode="lines+markers",
            line={"color": BASELINE_COLOR, "dash": "dash"},
            name="simulated (true labels)",
        )
    figure.update_layout(
        xaxis_title="labels trained on",
        yaxis_title="held-out accuracy",
        yaxis_range=[0, 1],
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure
