"""Overview: the stakeholder demo. What is compared, the headline chart and figure.

With no results yet it shows expected (dummy) curves, marked as not measured,
and a button that launches the ``demo`` preset in the background; the page then
fills in live with measured rounds.
"""

from __future__ import annotations

import os

import streamlit as st

from al_core import charts, results
from al_core.errors import ALError
from al_core.forms import demo_overrides
from al_core.runner import PRESETS, ensure_runner, experiment_progress, submit_preset
from al_core.store import Store
from pages import require_app_navigation

require_app_navigation()

REFRESH_SECONDS = 2.0

st.title("Does active learning save labels?")
st.markdown(
    "Labeling images costs money. **Active learning** lets the model pick which images "
    "to label next: those it is least sure about (*uncertainty sampling*). "
    "We compare it with the **random baseline**, labeling images picked at random, by "
    "training the same classifier on more and more labels and measuring its test "
    "accuracy. Each batch mixes both: the *uncertainty fraction* is the share of the "
    "batch picked by uncertainty (0 % = random, 100 % = pure uncertainty sampling)."
)


def launch_demo() -> None:
    """Queue the demo preset and make sure a runner picks it up (returns at once)."""
    try:
        overrides = demo_overrides(os.environ.get("AL_DEMO_OVERRIDES"))
        with Store() as store:
            experiment_id = submit_preset(store, "demo", **overrides)
            ensure_runner(store.path)
    except ALError as exc:
        st.error(f"The demo could not start: {exc}")
        return
    st.toast(f"Demo experiment {experiment_id} queued")


def show_expected() -> None:
    base = PRESETS["demo"].base.to_dict()
    percent = st.select_slider(
        "Uncertainty fraction of each batch",
        options=list(range(0, 101, 10)),
        value=50,
        format_func=lambda p: f"{p} %",
    )
    expected = results.expected_frame(*results.expected_plan(base), sorted({0.0, percent / 100}))
    initial, batch, rounds = results.expected_plan(base)
    st.plotly_chart(
        charts.curves_figure(None, expected, labeled_range=(initial, initial + batch * rounds)),
        key="expected_chart",
    )
    st.warning(
        "**Expected — not measured.** No results yet: these dotted curves come from a "
        "formula that *assumes* uncertainty sampling helps (see `al_core/expected.py`). "
        "Run the demo to measure the real thing; it may well show no gain."
    )
    st.button("Run the demo experiment", type="primary", on_click=launch_demo, key="run_demo")
    st.caption(
        f"The demo trains small models on the embedded 8×8 digits data set "
        f"({base['dataset']}, {base['model']}) in the background; no download needed."
    )


with Store() as store:
    experiments = store.experiments()
choices = results.overview_choices(experiments)
shown = results.overview_experiment(experiments)


def _plan_range(base: dict) -> tuple[float, float]:
    initial, batch, rounds = results.expected_plan(base)
    return float(initial), float(initial + batch * rounds)


def _touch_slider() -> None:
    st.session_state["overview_fraction_touched"] = True


if shown is None:
    show_expected()
else:
    by_id = {int(e["id"]): e for e in choices}
    experiment_id = st.selectbox(
        "Experiment",
        list(by_id),
        index=list(by_id).index(int(shown["id"])),
        # No status in the label: it is read once per page run and would go stale.
        format_func=lambda i: f"{i} · {by_id[i]['name']}",
        key="overview_experiment",
        help="Default: the newest experiment with finished trials.",
    )
    live = by_id[experiment_id]["status"] in ("queued", "running")

    @st.fragment(run_every=REFRESH_SECONDS if live else None)
    def measured() -> None:
        with Store() as store:
            experiment = store.experiment(experiment_id)
            progress = experiment_progress(store, experiment_id)
            rounds = results.rounds_frame(store.experiment_rounds([experiment_id]))
        done = results.completion([t["status"] for t in progress["trials_detail"]])
        st.subheader(f"Experiment {experiment_id}: {experiment['name']}")
        if progress["status"] in ("queued", "running"):
            eta = progress["eta_seconds"]
            st.progress(
                progress["percent"] / 100,
                text=(
                    f"{progress['status']}: {progress['done']} of {progress['trials']} trials "
                    f"done, {progress['running']} running, "
                    + ("estimating time left…" if eta is None else f"about {eta / 60:.0f} min left")
                ),
            )
        elif live:  # it finished since the page loaded: redraw without the timer
            st.rerun()
        target = results.experiment_target(experiment)
        bands = results.curve_bands(rounds)
        fractions = sorted({0.0, *(float(f) for f in experiment["config"].get("fractions", []))})
        configs = results.config_table(results.trial_table(rounds, target))
        best = results.headline(configs, target, done)
        measured_fractions = set(bands["fraction"]) if len(bands) else set()
        # Start on a fraction that has data: the best one, else the largest measured.
        if best is not None:
            default = best.fraction
        else:
            default = max((f for f in fractions if f in measured_fractions), default=0.0)
        key = f"overview_fraction_{experiment_id}"
        options = [round(f * 100) for f in fractions]
        if not st.session_state.get("overview_fraction_touched") or (
            st.session_state.get(key) not in options
        ):
            st.session_state[key] = round(default * 100)
        percent = st.select_slider(
            "Uncertainty fraction of each batch",
            options=options,
            format_func=lambda p: f"{p} %",
            key=key,
            on_change=_touch_slider,
        )
        chosen = bands[bands["fraction"].isin([0.0, percent / 100])]
        show_expected_curves = st.toggle("Show expected curves (not measured)", value=False)
        expected = None
        if show_expected_curves:
            plan = results.expected_plan(
                experiment["config"]["base"], bands["labeled"].max() if len(bands) else None
            )
            expected = results.expected_frame(*plan, sorted({0.0, percent / 100}))
        if chosen.empty:
            st.info("No measured rounds yet: the first points appear as trials finish rounds.")
        st.plotly_chart(
            charts.curves_figure(
                chosen,
                expected,
                target,
                labeled_range=_plan_range(experiment["config"]["base"]),
            ),
            key="overview_chart",
        )
        if not chosen.empty and bands[bands["fraction"] == percent / 100].empty:
            st.caption(f"No measured rounds at {percent} % yet.")
        if done.preliminary:
            st.info(
                f"**{done.text().capitalize()}.** The curves are a live preview; "
                "the figures and the verdict appear when every trial has finished."
            )
        if best is not None:
            st.metric(
                f"Labels saved vs random to reach {best.target:.0%} (best fraction)",
                best.claim,
                border=True,
            )
            st.markdown(f"**{best.text()}**")
        st.markdown(results.verdict(configs, target, done))
        st.caption(
            "Markers: measured mean over trials (seeds), uncertainty sampling solid and "
            "coloured by fraction, the random baseline dashed grey; shaded band: ± 1 "
            "standard deviation across trials; dotted lines: expected — not measured. "
            "Open **Results** for every configuration and the tables."
        )

    measured()
    if not live:
        st.button("Run the demo again", on_click=launch_demo, key="run_demo")
