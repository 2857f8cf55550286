"""Results: learning curves, label-efficiency tables and exports of stored experiments."""

from __future__ import annotations

import streamlit as st

from al_core import charts, results, stopping
from al_core.store import Store
from pages import report_button, require_app_navigation

require_app_navigation()

#: Small multiples drawn at most: beyond a handful, charts are unreadable and slow.
MAX_CHARTS = 6

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
    stored_trials = {i: store.trials(i) for i in chosen}
done = results.completion([t["status"] for i in chosen for t in stored_trials[i]])
stored_target = next((t for t in (results.experiment_target(by_id[i]) for i in chosen) if t), None)
left, middle, right = st.columns(3)
# Whole percent, per selection; it starts at results.default_target once every trial
# has finished, and follows it until changed.
target_key = f"results_target_{'_'.join(str(i) for i in chosen)}"
if not st.session_state.get(f"{target_key}_touched"):
    start = results.starting_target(rounds, stored_target, done) or 0.9
    st.session_state[target_key] = round(start * 100)
target = (
    left.number_input(
        "Target test accuracy (%)",
        min_value=1,
        max_value=100,
        step=1,
        key=target_key,
        on_change=lambda: st.session_state.__setitem__(f"{target_key}_touched", True),
        help=results.DEFAULT_TARGET_RULE,
    )
    / 100
)
show_expected = middle.toggle("Show expected curves (not measured)", value=False)
show_extrapolated = middle.toggle(
    "Extrapolate (not measured)",
    value=False,
    help="Each configuration's median curve fitted with c − a·n^(−b) and drawn dotted "
    f"past its last point, up to {stopping.EXTRAPOLATION_REACH:g}× its labels: a guess of "
    "where more labels would go, not a measurement. The sentences under *When can I stop?* "
    "give its numbers.",
)
include_partial = right.toggle(
    "Include partial trials",
    value=False,
    help="Cancelled, failed and still-running trials stop early; by default they are kept "
    "out of the table's figures and only their curves' previews are drawn.",
)

trials = results.trial_table(rounds, target)
configs = results.config_table(trials, include_partial=include_partial)
all_fractions = sorted(
    {0.0, *(float(f) for i in chosen for f in by_id[i]["config"].get("fractions", []))}
)
best = results.best_active(configs) if not configs.empty else None
default_fractions = (
    all_fractions
    if len(all_fractions) <= 4
    else sorted({0.0, all_fractions[-1], *([] if best is None else [float(best["fraction"])])})
)
shown_fractions = st.multiselect(
    "Uncertainty fractions shown in the curves",
    all_fractions,
    default=default_fractions,
    format_func=lambda f: f"{f:.0%}" + (" (random)" if f == 0 else ""),
    help="Colours go from green (small fractions) to dark purple (100 %); random is grey.",
)

if done.preliminary:
    st.info(
        f"**{done.text().capitalize()}.** The curves are a live preview; the table counts "
        "finished trials only and no verdict is drawn until every trial has finished."
    )
elif done.stopped:
    st.warning(
        f"{done.stopped} of {done.total} trials were cancelled or failed: they are partial "
        "and kept out of the figures unless *Include partial trials* is on."
    )

bands = results.curve_bands(rounds)
bands = bands[bands["fraction"].isin(shown_fractions)]
if show_expected:
    st.caption(
        "Dotted curves are **expected — not measured**: random from a logistic-regression "
        "curve on the experiment's data where it loads quickly (else a generic formula), "
        "uncertainty sampling an *assumed* gain (`al_core/expected.py`), shown only to "
        "compare hope with measurement; each in its fraction's colour."
    )
if bands.empty:
    st.info("No measured rounds for these experiments and fractions yet.")
charted = chosen[:MAX_CHARTS]
if len(chosen) > len(charted):
    st.caption(
        f"Curves of the first {len(charted)} of the {len(chosen)} selected experiments "
        "(narrow the selection to see others); the tables below cover all of them."
    )
columns = st.columns(min(len(charted), 2))
for position, experiment_id in enumerate(charted):
    config = by_id[experiment_id]["config"]
    own = bands[bands["experiment_id"] == experiment_id]
    # One chart per experiment: its curves need no "exp N ·" prefix.
    own = own.assign(
        label=[
            results.config_label(s, f)
            for s, f in zip(own["strategy"], own["fraction"], strict=True)
        ]
    )
    initial, batch, planned = results.expected_plan(
        config["base"], own["labeled"].max() if len(own) else None
    )
    expected = None
    if show_expected:
        fractions = [
            f
            for f in sorted({0.0, *(float(f) for f in config.get("fractions", []))})
            if f in shown_fractions
        ]
        expected = (
            results.expected_frame(initial, batch, planned, fractions, base=config["base"])
            if fractions
            else None
        )
    extrapolated = None
    if show_extrapolated and len(own):
        own_rounds = rounds[rounds["experiment_id"] == experiment_id]
        fitted = stopping.extrapolated_curves(stopping.experiment_stopping(own_rounds, target)[2])
        # Only the curves drawn (the fractions shown): the caption names each one.
        extrapolated = {k: v for k, v in fitted.items() if k in set(own["label"])}
    with columns[position % len(columns)]:
        st.plotly_chart(
            charts.curves_figure(
                own,
                expected,
                target,
                title=f"Experiment {experiment_id}: {by_id[experiment_id]['name']}",
                labeled_range=(initial, initial + batch * planned),
                extrapolated=extrapolated,
            ),
            key=f"results_chart_{experiment_id}",
        )
        st.caption(results.accuracy_measure_text(config["base"]))
        if extrapolated is not None:
            st.caption(
                "Dotted in a curve's colour: **extrapolated — not measured**, an inverse "
                "power-law fit of the configuration's median curve, up to "
                f"{stopping.EXTRAPOLATION_REACH:g}× its labels "
                + (
                    f"({', '.join(extrapolated)})."
                    if extrapolated
                    else "(none here: every curve reached the target or could not be fitted)."
                )
            )
        if expected is not None:
            st.caption(expected.attrs["caption"])

best_headline = results.headline(configs, target, done)
if best_headline is not None and configs["experiment_id"].nunique() == 1:
    st.markdown(f"**{results.headline_sentence(best_headline, configs)}**")
st.markdown(f"**{results.verdict(configs, target, done)}**")
if len(chosen) == 1:
    report_button(chosen[0], target, key="results_report")
else:
    st.caption("Pick one experiment to download its report.")

if not configs.empty:
    st.subheader("Labels to reach the target, savings vs random, final accuracy")
    # A static table: it wraps to the page's width, so no column is cut off.
    st.table(results.display_table(configs), hide_index=True)
    st.caption(
        "Labels to target: the median over the trials, counting a trial that never reached "
        "the target as needing more labels than any that did; each trial's count is "
        "interpolated linearly between the two measured rounds around the target, so it "
        'need not be a multiple of the batch. "not reached" when half or '
        "more never did (› the most labels they ran). Saved vs random: 1 − median ÷ random's "
        "median, from the two numbers in this table; ± saved: the spread of the same saving "
        "across seed pairs. A saving no larger than that spread is *within noise*; with "
        "one seed pair the spread is unknown (*not conclusive*)."
    )
    if (configs["trials"] > 0).any():
        st.subheader("How the share of uncertainty sampling changes the labels needed")
        st.plotly_chart(charts.fraction_figure(configs), key="fraction_chart")
        if configs["labels_to_target"].isna().any():
            st.caption(
                f'An arrow up from a bar, labelled "> N": half or more of that '
                f"configuration's trials did not reach {target:.0%} within the N labels they "
                'ran (the table\'s "not reached"), so its median needs more than N.'
            )
        if configs["labels_to_target"].isna().all():
            st.info(
                f"No configuration reached {target:.0%} in more than half of its trials. "
                "Lower the target to compare them."
            )
    if not done.preliminary:  # no savings figures while trials run
        active = configs[(configs["fraction"] > 0) & (configs["trials"] > 0)]
        options = [
            (int(e), str(s), float(f))
            for e, s, f in zip(
                active["experiment_id"], active["strategy"], active["fraction"], strict=True
            )
        ]
        top = results.top_active(configs)
        if options and top is not None:
            several = len(chosen) > 1
            compared = st.selectbox(
                "Configuration compared with random across targets",
                options,
                index=options.index(
                    (int(top["experiment_id"]), str(top["strategy"]), float(top["fraction"]))
                ),
                format_func=lambda o: (
                    (f"exp {o[0]} · " if several else "") + results.config_label(o[1], o[2])
                ),
                key="results_savings_config",
            )
            view = results.savings_view(
                rounds,
                configs,
                target,
                fraction=float(compared[2]),
                experiment_id=int(compared[0]),
                include_partial=include_partial,
            )
            if view is not None:
                st.subheader(f"Labels needed across targets: {view.name} vs random")
                # The compared configuration in the colour of its learning curve.
                own = configs[configs["experiment_id"] == compared[0]]
                index = charts.active_strategies(own).index(compared[1])
                st.plotly_chart(
                    charts.savings_figure(
                        view.savings,
                        view.table,
                        view.name,
                        target,
                        color=charts.strategy_color(index, compared[2]),
                    ),
                    key="savings_chart",
                )
                st.table(view.table, hide_index=True)
                st.caption(
                    "Medians over the trials, a trial that never reached a target counting "
                    "as needing more; fastest – slowest trial; saved vs random with its "
                    "spread across seed pairs (within it: within noise). Random's labels may "
                    "lie past the budget when it was run on further."
                )
    with st.expander("Every trial: status, labels to target, how it was computed"):
        st.table(results.trial_display_table(trials), hide_index=True)
        environments = {t["id"]: t.get("environment") for i in chosen for t in stored_trials[i]}
        known = {k: v for k, v in environments.items() if v}
        if known:
            st.caption("Environment each trial ran in (CPU, threads, library versions):")
            st.dataframe(results.environment_table(known), hide_index=True, width="stretch")
        else:
            st.caption("No environment was recorded for these trials (run before it was).")

if not rounds.empty:
    st.subheader("When can I stop? Prediction stability and extrapolation")
    stop_table, kappas, extrapolations = stopping.experiment_stopping(rounds, target)
    st.dataframe(stop_table, hide_index=True, width="stretch")
    st.markdown(
        "\n".join(f"- **{name}**: {answer.message()}" for name, answer in extrapolations.items())
    )
    if kappas.notna().any().any():
        st.caption(
            "Cohen's kappa between consecutive models' predictions on a fixed set of pool "
            "images that is never queried (median over the trials, per label count); the "
            f"rule stops once it stays at or above {stopping.KAPPA_THRESHOLD:g} over "
            f"{stopping.KAPPA_WINDOW} retrains (Bloodgood & Vijay-Shanker 2009)."
        )
        st.line_chart(kappas, x_label="labels", y_label="kappa vs previous model")
    else:
        st.caption("No kappa was recorded for these trials (run before it was).")
    st.caption(stopping.validation_note())

redundancy = results.redundancy_table(rounds)
redundancy = redundancy[redundancy["fraction"].isin(shown_fractions)]
if not redundancy.empty:
    st.subheader("Redundant queries: near-copies of images already chosen")
    st.dataframe(
        redundancy[["label", "trials", "rounds", "queried", "redundant", "share", "per_round"]],
        hide_index=True,
        width="stretch",
        column_config={
            "label": "configuration",
            "queried": "images queried",
            "redundant": "near-copies",
            "share": st.column_config.NumberColumn("share", format="percent"),
            "per_round": st.column_config.NumberColumn("per round (mean)", format="%.2f"),
        },
    )
    st.caption(
        "A queried image is a near-copy when it comes from the same source image as a "
        "labeled or earlier-queried one (a redundant pool's copies), or when the model's "
        "embeddings of the two have cosine similarity at or above the trial's threshold "
        "(0.99 by default). Summed over the same trials as the curves."
    )

left, right = st.columns(2)
left.download_button(
    "Download rounds (CSV)",
    data=rounds.to_csv(index=False),
    file_name=f"rounds_{'_'.join(str(i) for i in chosen)}.csv",
    mime="text/csv",
    on_click="ignore",
)
if not configs.empty:
    right.download_button(
        "Download the summary table (CSV)",
        data=configs[[*results.summary_columns(configs), "partial"]].to_csv(index=False),
        file_name=f"summary_{'_'.join(str(i) for i in chosen)}.csv",
        mime="text/csv",
        on_click="ignore",
    )
