"""Results: learning curves, label-efficiency tables and exports of stored experiments."""

from __future__ import annotations

import streamlit as st

from al_core import charts, results
from al_core.store import Store

st.title("Results")

with Store() as store:
    experiments = store.experiments()
if not experiments:
    st.info("No experiments yet: launch one on the Experiments page, or the demo on Overview.")
    st.stop()

by_id = {e["id"]: e for e in experiments}
with_data = [e["id"] for e in experiments if (e["trials_done"] or 0) > 0]
chosen = st.multiselect(
    "Experiments",
    list(by_id),
    default=with_data[:1] or [experiments[0]["id"]],
    format_func=lambda i: f"{i} · {by_id[i]['name']} ({by_id[i]['status']})",
)
if not chosen:
    st.info("Pick at least one experiment.")
    st.stop()

with Store() as store:
    rounds = results.rounds_frame(store.experiment_rounds(chosen))
stored_target = next((t for t in (results.experiment_target(by_id[i]) for i in chosen) if t), None)
left, right = st.columns(2)
target = left.number_input(
    "Target test accuracy",
    min_value=0.01,
    max_value=1.0,
    value=float(stored_target or 0.9),
    step=0.01,
    format="%.2f",
)
show_expected = right.toggle("Show expected curves (not measured)", value=False)

bands = results.curve_bands(rounds)
expected = None
if show_expected:
    first = by_id[chosen[0]]["config"]
    plan = results.expected_plan(first["base"], bands["labeled"].max() if len(bands) else None)
    fractions = sorted({0.0, *(float(f) for f in first.get("fractions", []))})
    expected = results.expected_frame(*plan, fractions)
    st.caption(
        "Dotted curves are **expected — not measured**: a formula that assumes uncertainty "
        "sampling helps (`al_core/expected.py`), shown only to compare hope with measurement."
    )
if bands.empty:
    st.info("No measured rounds in these experiments yet.")
st.plotly_chart(charts.curves_figure(bands, expected, target), key="results_chart")

configs = results.config_table(results.trial_table(rounds, target))
st.markdown(f"**{results.verdict(configs, target)}**")

if not configs.empty:
    st.subheader("Labels to reach the target, savings vs random, final accuracy")
    table = configs[results.summary_columns(configs)]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "experiment_id": st.column_config.NumberColumn("exp"),
            "fraction": st.column_config.NumberColumn("uncertainty fraction", format="percent"),
            "reached": st.column_config.NumberColumn("trials reaching target"),
            "labels_to_target": st.column_config.NumberColumn("labels to target", format="%.0f"),
            "labels_to_target_std": st.column_config.NumberColumn("± labels", format="%.0f"),
            "saved_fraction": st.column_config.NumberColumn("saved vs random", format="percent"),
            "saved_fraction_std": st.column_config.NumberColumn("± saved", format="percent"),
            "final_accuracy": st.column_config.NumberColumn("final accuracy", format="percent"),
            "final_accuracy_std": st.column_config.NumberColumn("± final", format="percent"),
            "auc": st.column_config.NumberColumn("normalized AUC", format="%.3f"),
            "auto_accuracy": st.column_config.NumberColumn(
                "accuracy after auto-labeling", format="percent"
            ),
        },
    )
    st.caption(
        "Labels to target: mean over the trials that reached it (interpolated between "
        "rounds). Savings are paired by seed with the same experiment's random baseline."
    )
    st.subheader("How the share of uncertainty sampling changes the labels needed")
    st.plotly_chart(charts.fraction_figure(configs), key="fraction_chart")

st.download_button(
    "Download rounds (CSV)",
    data=rounds.to_csv(index=False),
    file_name=f"rounds_{'_'.join(str(i) for i in chosen)}.csv",
    mime="text/csv",
    on_click="ignore",
)
