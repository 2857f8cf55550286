"""Overview: the stakeholder demo, as two stories to pick from.

"Does active learning save labels?" (the ``demo`` preset): what is compared, the
headline chart with an uncertainty-fraction slider and the labels-saved figure.
With no results yet it shows expected (dummy) curves, marked as not measured,
and a button that launches the ``demo`` preset in the background; the page then
fills in live with measured rounds. It lists every sweep except those queued
from the other story's preset.

"Why batches need diversity" (the ``repeated-digits`` preset on the embedded
digits, or ``repeated-mnist`` on MNIST): a pool where every image appears three
times, BALD top-k against BatchBALD and random: the curves, the near-copies per
batch (figure and table) and the verdict. With no results yet for the chosen data
set it explains the set-up and launches its preset (MNIST once its files are found).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from al_core import charts, diversity_story, results
from al_core.errors import ALError
from al_core.forms import check_preset_data, preset_overrides
from al_core.live import ExperimentSnapshot
from al_core.runner import PRESETS, ensure_runner, submit_preset, time_left_text
from al_core.store import Store
from pages import (
    PRESENT_PARAM,
    frame_digest,
    live_derived,
    live_snapshot,
    presenting,
    report_button,
    require_app_navigation,
    watch_experiment,
)

require_app_navigation()

#: Where a session keeps what its live view shows (pages.watch_experiment).
SHOWN_VIEW = "overview_shown_view"
#: The presentation view (``?present=1``): no sidebar, no controls a room does not need
#: (experiment picker, target, expected-curves switch, buttons, fine print); the story's
#: chart, slider and headline stay, the chart sized to fit 1024×768 with them.
PRESENT = presenting()
PRESENT_CHART_HEIGHT = 300
PRESENT_FONT_SIZE = 15
HEADLINE_LABEL = "Labels saved vs random to reach {:.0%} (best fraction)"
LABELS_STORY, DIVERSITY_STORY = "labels", "diversity"
STORIES = {
    LABELS_STORY: "Does active learning save labels?",
    DIVERSITY_STORY: "Why batches need diversity",
}

story = st.segmented_control(
    "Story",
    list(STORIES),
    format_func=STORIES.__getitem__,
    default=LABELS_STORY,
    required=True,
    key="story",
    # Shareable: /?story=Why+batches+need+diversity opens that story (the URL holds
    # the shown title).
    bind="query-params",
)


def launch(preset: str, what: str) -> None:
    """Queue ``preset`` and make sure a runner picks it up (returns at once).

    Its data set is loaded first, as the trials will load it: a missing one (MNIST
    offline) is shown with the fix and nothing is queued. ``AL_<PRESET>_OVERRIDES``
    (:func:`al_core.forms.overrides_variable`) shrinks it, e.g. for tests.
    """
    try:
        overrides = preset_overrides(preset, os.environ)
        check_preset_data(preset, overrides)
        with Store() as store:
            experiment_id = submit_preset(store, preset, **overrides)
            ensure_runner(store.path)
    except ALError as exc:
        st.error(f"The {what} could not start: {exc}")
        return
    st.toast(f"Queued the {what}: experiment {experiment_id}")


def launch_demo() -> None:
    """Queue the demo preset and make sure a runner picks it up (returns at once)."""
    launch("demo", "demo")


def diversity_preset() -> str:
    """The diversity story's chosen preset (its data-set control; digits by default)."""
    return st.session_state.get("diversity_data") or diversity_story.DIVERSITY_PRESET


def launch_diversity() -> None:
    """Queue the chosen diversity preset (after checking its data is here) and a runner."""
    preset = diversity_preset()
    launch(preset, f"{diversity_story.DIVERSITY_PRESETS[preset]} experiment")


def show_expected() -> None:
    base = PRESETS["demo"].base.to_dict()
    percent = st.select_slider(
        "Uncertainty fraction of each batch",
        options=list(range(0, 101, 10)),
        value=50,
        format_func=lambda p: f"{p} %",
    )
    expected = results.expected_frame(
        *results.expected_plan(base), sorted({0.0, percent / 100}), base=base
    )
    initial, batch, rounds = results.expected_plan(base)
    st.plotly_chart(
        charts.curves_figure(None, expected, labeled_range=(initial, initial + batch * rounds)),
        key="expected_chart",
    )
    st.caption(expected.attrs["caption"])
    st.warning(
        "**Expected — not measured.** No results yet: in these dotted curves the gain of "
        "uncertainty sampling is *assumed*, not evidence (see `al_core/expected.py`). "
        "Run the demo to measure the real thing; it may well show no gain."
    )
    st.button("Run the demo experiment", type="primary", on_click=launch_demo, key="run_demo")
    st.caption(
        f"The demo trains small models on the embedded 8×8 digits data set "
        f"({base['dataset']}, {base['model']}) in the background; no download needed."
    )


def _plan_range(base: dict) -> tuple[float, float]:
    initial, batch, rounds = results.expected_plan(base)
    return float(initial), float(initial + batch * rounds)


def _touch_slider() -> None:
    st.session_state["overview_fraction_touched"] = True


def target_control(key: str, start: float | None) -> float | None:
    """The headline's target, a whole-percent input starting at ``start`` (which it
    follows until the person changes it); ``None`` when there is none to start at."""
    touched, kept = f"{key}_touched", f"{key}_kept"
    if PRESENT:  # no control: the target chosen before, else the start
        percent = st.session_state.get(kept) if st.session_state.get(touched) else None
        if percent is None:
            return start
        return percent / 100
    if start is None and key not in st.session_state and kept not in st.session_state:
        return None
    if start is not None and not st.session_state.get(touched):
        st.session_state[key] = round(start * 100)
    elif key not in st.session_state and kept in st.session_state:
        st.session_state[key] = st.session_state[kept]  # back from the presentation view
    percent = st.number_input(
        "Target accuracy (%)",
        min_value=1,
        max_value=100,
        step=1,
        key=key,
        on_change=lambda: st.session_state.__setitem__(touched, True),
        help=results.DEFAULT_TARGET_RULE,
    )
    st.session_state[kept] = percent
    return percent / 100


def _savings_figure(snapshot: ExperimentSnapshot, target: float | None, percent: int) -> Any:
    views = live_derived(snapshot, "savings_views", _savings_views, target, percent / 100)
    first, others = views[0], views[1:]
    return charts.savings_figure(
        first.savings,
        first.table,
        first.name,
        target,
        others=[(v.savings, v.table, v.name) for v in others],
    )


def show_savings(
    snapshot: ExperimentSnapshot, target: float | None, percent: int, key: str
) -> None:
    """Labels needed against the target: the chart and the tables it is drawn from, the
    chosen configuration first, then any other strategy at the same fraction."""
    views = live_derived(snapshot, "savings_views", _savings_views, target, percent / 100)
    if not views:
        return
    others = views[1:]
    names = " vs ".join(v.name for v in views)
    st.subheader(f"Labels needed across targets: {names} vs random")
    st.plotly_chart(
        live_derived(snapshot, "savings_figure", _savings_figure, target, percent),
        key=f"{key}_chart",
    )
    # Static tables: every chart figure and hover is one of their cells.
    for view in views:
        if others:
            st.markdown(f"**{view.name} vs random**")
        st.table(view.table, hide_index=True)
    st.caption(
        "Medians over the trials, a trial that never reached a target counting as "
        "needing more; fastest – slowest trial; saved vs random with its spread "
        "across seed pairs (within it: within noise). Targets from just above where "
        "both start to the default target; random's labels "
        "may lie past the budget when it was run on further."
    )


def show_progress(progress: dict) -> None:
    """A progress bar while the experiment is queued or running; nothing after."""
    if progress["status"] in ("queued", "running"):
        if progress["extending"] and not progress["running"] and not progress["queued"]:
            left = (
                f"the random baseline runs on past the budget ({progress['extending']} "
                f"trial{'s' if progress['extending'] != 1 else ''} left)"
            )
        else:
            left = f"{progress['running']} running, {time_left_text(progress, digits=0)}"
        st.progress(
            progress["percent"] / 100,
            text=f"{progress['status']}: {progress['done']} of {progress['trials']} trials "
            f"done, {left}",
        )


def show_live_progress(snapshot: ExperimentSnapshot, live: bool, view_key: Callable) -> None:
    """The progress bar; while ``live``, kept current by a poll that redraws the view
    only when ``view_key`` (what it shows besides the bar) changed."""
    if live and snapshot.progress["status"] not in ("queued", "running"):
        st.rerun()  # it finished since the page's list was read: drawn again, not live
    if live:
        watch_experiment(snapshot, SHOWN_VIEW, view_key, lambda now: show_progress(now.progress))
    else:
        show_progress(snapshot.progress)


def _trial_statuses(snapshot: ExperimentSnapshot) -> tuple[Any, ...]:
    return snapshot.experiment["status"], tuple(
        t["status"] for t in snapshot.progress["trials_detail"]
    )


def _demo_view_key(snapshot: ExperimentSnapshot) -> tuple[Any, ...]:
    """What the demo view shows besides its progress bar: the curves, and which trials
    finished (the preliminary note; the headline and verdict come with the last)."""
    return _trial_statuses(snapshot), frame_digest(snapshot.bands)


def _diversity_view_key(snapshot: ExperimentSnapshot) -> tuple[Any, ...]:
    """:func:`_demo_view_key` with the near-copies per batch."""
    redundancy = live_derived(snapshot, "story_redundancy", _story_redundancy)
    return _demo_view_key(snapshot), frame_digest(redundancy)


def _start_target(snapshot: ExperimentSnapshot) -> float | None:
    return results.starting_target(
        snapshot.rounds, results.experiment_target(snapshot.experiment), snapshot.done
    )


def _configs(snapshot: ExperimentSnapshot, target: float | None) -> pd.DataFrame:
    return results.config_table(results.trial_table(snapshot.rounds, target))


def _savings_views(
    snapshot: ExperimentSnapshot, target: float | None, fraction: float
) -> list[results.SavingsView]:
    configs = live_derived(snapshot, "configs", _configs, target)
    return results.savings_views(snapshot.rounds, configs, target, fraction=fraction)


def _sharing_names(snapshot: ExperimentSnapshot, target: float | None, percent: int) -> list[str]:
    """The other strategies shown beside the chosen one (their savings views), coloured
    alike on the curves. Savings across targets take a second of work per version: with
    one active strategy (the demo) there are none, and they are not computed."""
    configs = live_derived(snapshot, "configs", _configs, target)
    if configs.empty or configs[configs["fraction"] > 0]["strategy"].nunique() < 2:
        return []
    views = live_derived(snapshot, "savings_views", _savings_views, target, percent / 100)
    return [v.name for v in views[1:]]


def _demo_figure(
    snapshot: ExperimentSnapshot, target: float | None, percent: int, present: bool
) -> Any:
    """The demo story's curves at ``percent`` (random beside it), without expected curves."""
    bands = snapshot.bands
    figure = charts.curves_figure(
        bands[bands["fraction"].isin([0.0, percent / 100])],
        None,
        target,
        labeled_range=_plan_range(snapshot.experiment["config"]["base"]),
        colors=charts.other_colors(_sharing_names(snapshot, target, percent)),
        height=PRESENT_CHART_HEIGHT if present else None,
    )
    if present:  # read from the back of the room (Streamlit's theme sets the axes' own)
        size = {"size": PRESENT_FONT_SIZE}
        figure.update_layout(font=size, legend_font=size, legend_y=-0.33)
        figure.update_xaxes(tickfont=size, title_font=size)
        figure.update_yaxes(tickfont=size, title_font=size)
    return figure


def demo_measured(experiment_id: int, live: bool) -> None:
    """The demo story's measured view of one experiment (redrawn while ``live`` when it
    changes: :func:`pages.watch_experiment`). What it shows is computed once per stored
    version for every viewer (:func:`pages.live_derived`)."""
    snapshot = live_snapshot(experiment_id, live)
    experiment, done = snapshot.experiment, snapshot.done
    st.subheader(f"Experiment {experiment_id}: {experiment['name']}")
    show_live_progress(snapshot, live, _demo_view_key)
    start = live_derived(snapshot, "start_target", _start_target)
    target = target_control(f"overview_target_{experiment_id}", start)
    bands = snapshot.bands
    fractions = sorted({0.0, *(float(f) for f in experiment["config"].get("fractions", []))})
    configs = live_derived(snapshot, "configs", _configs, target)
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
    # Presented, the headline card sits beside the slider: both stay on the first
    # screen of a 1024x768 projector with the chart below them.
    control: Any = st  # the page itself, as before, unless presented
    if PRESENT:
        card, control = st.columns([2, 3])
        if best is not None:
            card.metric(HEADLINE_LABEL.format(best.target), best.claim, border=True)
    percent = control.select_slider(
        "Uncertainty fraction of each batch",
        options=options,
        format_func=lambda p: f"{p} %",
        key=key,
        on_change=_touch_slider,
    )
    chosen = bands[bands["fraction"].isin([0.0, percent / 100])]
    show_expected_curves = not PRESENT and st.toggle(
        "Show expected curves (not measured)", value=False
    )
    expected = None
    if show_expected_curves:
        plan = results.expected_plan(
            experiment["config"]["base"], bands["labeled"].max() if len(bands) else None
        )
        expected = results.expected_frame(
            *plan, sorted({0.0, percent / 100}), base=experiment["config"]["base"]
        )
        st.caption(expected.attrs["caption"])
    if chosen.empty:
        st.info("No measured rounds yet: the first points appear as trials finish rounds.")
    if expected is None:
        figure = live_derived(snapshot, "demo_figure", _demo_figure, target, percent, PRESENT)
    else:  # the person's own switch: drawn for them alone
        # Strategies sharing the fraction (cold start: auto, margin, typiclust) get the
        # savings chart's colours on their curves too.
        figure = charts.curves_figure(
            chosen,
            expected,
            target,
            labeled_range=_plan_range(experiment["config"]["base"]),
            colors=charts.other_colors(_sharing_names(snapshot, target, percent)),
        )
    st.plotly_chart(figure, key="overview_chart")
    if not chosen.empty and bands[bands["fraction"] == percent / 100].empty:
        st.caption(f"No measured rounds at {percent} % yet.")
    if done.preliminary:
        st.info(
            f"**{done.text().capitalize()}.** The curves are a live preview; "
            "the figures and the verdict appear when every trial has finished."
        )
    if best is not None:
        if not PRESENT:
            st.metric(HEADLINE_LABEL.format(best.target), best.claim, border=True)
        st.markdown(f"**{results.headline_sentence(best, configs)}**")
    st.markdown(results.verdict(configs, target, done))
    if PRESENT:
        if not done.preliminary:
            show_savings(snapshot, target, percent, f"overview_savings_{experiment_id}")
        return
    report_button(experiment_id, target, key=f"overview_report_{experiment_id}")
    st.caption(
        "Markers: measured mean over trials (seeds), uncertainty sampling solid and "
        "coloured by fraction (strategies sharing a fraction: as in the chart of labels "
        "needed below), the random baseline dashed grey (light grey dash-dot where "
        "it was run on past the budget); shaded band: ± 1 "
        "standard deviation across trials; dotted lines: expected — not measured. "
        "Open **Results** for every configuration and the tables."
    )
    if not done.preliminary:  # no figures while trials run
        show_savings(snapshot, target, percent, f"overview_savings_{experiment_id}")


def show_chosen_experiment(
    choices: list[dict],
    shown: dict,
    measured: Callable[[int, bool], None],
    *,
    key: str,
    help_text: str,
    again: tuple[str, Callable[[], None], str],
) -> None:
    """An experiment picker over ``choices`` (``shown`` first), the picked experiment's
    ``measured`` view (a fragment that refreshes while it runs), and, once it has
    finished, the ``again`` button (label, on-click, key)."""
    by_id = {int(e["id"]): e for e in choices}
    # The picked experiment, kept while the presentation view hides the picker (a
    # widget's own state goes when it is not drawn) and picked again after it.
    picked, presented = f"{key}_picked", f"{key}_presented"
    if PRESENT:
        experiment_id = st.session_state.get(picked)
        if experiment_id not in by_id:
            experiment_id = int(shown["id"])
        st.session_state[presented] = experiment_id
    else:
        back = st.session_state.pop(presented, None)
        experiment_id = st.selectbox(
            "Experiment",
            list(by_id),
            index=list(by_id).index(back if back in by_id else int(shown["id"])),
            # No status in the label: it is read once per page run and would go stale.
            format_func=lambda i: f"{i} · {by_id[i]['name']}",
            key=key,
            help=help_text,
        )
        st.session_state[picked] = experiment_id
    live = by_id[experiment_id]["status"] in ("queued", "running")
    # A fragment: a person's slider or switch redraws this view only. While it runs, a
    # poll in its progress bar redraws the page when what it shows changed.
    st.fragment(measured)(experiment_id, live)
    if not live and not PRESENT:
        label, on_click, button_key = again
        st.button(label, on_click=on_click, key=button_key)


def demo_story() -> None:
    """The demo preset's story: the uncertainty-fraction sweep against random."""
    st.title(STORIES[LABELS_STORY])
    if not PRESENT:
        st.markdown(
            "Labeling images costs money. **Active learning** lets the model pick which images "
            "to label next: those it is least sure about (*uncertainty sampling*). "
            "We compare it with the **random baseline**, labeling images picked at random, by "
            "training the same classifier on more and more labels and measuring its test "
            "accuracy. Each batch mixes both: the *uncertainty fraction* is the share of the "
            "batch picked by uncertainty (0 % = random, 100 % = pure uncertainty sampling)."
        )
    with Store() as store:
        experiments = store.experiments()
    # Every sweep but the diversity story's: custom sweeps keep their home here.
    exclude = tuple(diversity_story.DIVERSITY_PRESETS)
    choices = results.overview_choices(experiments, exclude=exclude)
    shown = results.overview_experiment(experiments, exclude=exclude)
    if shown is None:
        show_expected()
        return
    show_chosen_experiment(
        choices,
        shown,
        demo_measured,
        key="overview_experiment",
        help_text="Default: the newest experiment with finished trials.",
        again=("Run the demo again", launch_demo, "run_demo"),
    )


DIVERSITY_INTRO = (
    "Active learning usually asks for labels **a batch at a time**: the model scores the "
    "unlabeled pool and the 10 best-scoring images go to the labelers. **BALD** scores an "
    "image by how much its label would teach the model (how much the model's guesses "
    "disagree across Monte-Carlo dropout samples). Taking the 10 best scores one by one "
    "(**BALD top-k**) ignores that those 10 images can be alike.\n\n"
    "This experiment tests that as the BatchBALD paper did (*Repeated MNIST*): a pool of "
    "handwritten digits in which **every image appears 3 times**, each copy with a little "
    "pixel noise, and the whole pool scored every round. An image the model is unsure about "
    "is unsure three times over, so the top 10 can hold copies of the same image: labels "
    "paid for twice. **BatchBALD** scores the batch **jointly** (what the 10 labels teach "
    "together, each dropout sample acting as one possible model), so a second copy of an "
    "image adds less than its first and the batch tends to spread out. Both are compared "
    "with the **random baseline**; the near-copies figure below shows how often copies "
    "were actually picked, and the verdict says plainly whether BatchBALD needed fewer "
    "labels."
)


def show_diversity_launcher(preset_name: str) -> None:
    """No experiment yet on the chosen data set: what it runs and the button that queues it."""
    preset = PRESETS[preset_name]
    data = diversity_story.DIVERSITY_PRESETS[preset_name]
    st.info(f"No results on {data} yet: run the experiment to measure it.")
    st.button("Run the experiment", type="primary", on_click=launch_diversity, key="run_diversity")
    needs = (
        " It needs MNIST: a download, or the official `mnist.npz` in the Keras cache "
        "(`$KERAS_HOME/datasets`); it is looked for before anything is queued."
        if preset.base.dataset == "mnist"
        else " No download needed."
    )
    st.caption(
        f"What runs: {preset.description}{needs} The trials run in the background and this "
        "page fills in as they finish rounds."
    )


def _story_bands(snapshot: ExperimentSnapshot) -> pd.DataFrame:
    return diversity_story.story_bands(snapshot.bands)


def _story_figure(snapshot: ExperimentSnapshot) -> Any:
    return charts.curves_figure(
        live_derived(snapshot, "story_bands", _story_bands),
        target=results.experiment_target(snapshot.experiment),
        labeled_range=_plan_range(snapshot.experiment["config"]["base"]),
        colors=charts.STORY_COLORS,
    )


def _story_redundancy(snapshot: ExperimentSnapshot) -> pd.DataFrame:
    return diversity_story.story_redundancy_table(results.redundancy_table(snapshot.rounds))


def _redundancy_figure(snapshot: ExperimentSnapshot) -> Any:
    redundancy = live_derived(snapshot, "story_redundancy", _story_redundancy)
    return charts.redundancy_figure(redundancy, snapshot.experiment["config"]["base"]["batch"])


def _story_verdict(snapshot: ExperimentSnapshot) -> tuple[Any, pd.DataFrame]:
    """The verdict at the experiment's target and the labels-to-target table."""
    target = results.experiment_target(snapshot.experiment)
    trials = results.trial_table(snapshot.rounds, target)
    configs = results.config_table(trials)
    verdict = diversity_story.diversity_verdict(trials, configs, target, snapshot.done)
    return verdict, diversity_story.story_labels_table(configs)


def diversity_measured(experiment_id: int, live: bool) -> None:
    """The diversity story's measured view: curves, near-copies per batch, verdict
    (redrawn while ``live`` when it changes, computed once per stored version for every
    viewer, as :func:`demo_measured`)."""
    snapshot = live_snapshot(experiment_id, live)
    experiment, done = snapshot.experiment, snapshot.done
    base = experiment["config"]["base"]
    st.subheader(f"Experiment {experiment_id}: {experiment['name']}")
    show_live_progress(snapshot, live, _diversity_view_key)
    target = results.experiment_target(experiment)
    bands = live_derived(snapshot, "story_bands", _story_bands)
    if bands.empty:
        st.info("No measured rounds yet: the first points appear as trials finish rounds.")
    st.plotly_chart(live_derived(snapshot, "story_figure", _story_figure), key="diversity_chart")
    st.caption(
        "Test accuracy against the number of labeled images: mean over trials (seeds); "
        "shaded band ± 1 standard deviation across trials; the random baseline dashed grey. "
        + results.accuracy_measure_text(base)
    )
    if done.preliminary:
        st.info(
            f"**{done.text().capitalize()}.** The curves and near-copies are a live preview; "
            "the labels-to-target figures and the verdict appear when every trial has finished."
        )

    st.subheader(f"Near-copies per batch of {base['batch']}")
    redundancy = live_derived(snapshot, "story_redundancy", _story_redundancy)
    if redundancy.empty:
        st.caption("No batch has been queried yet.")
    else:
        st.plotly_chart(
            live_derived(snapshot, "redundancy_figure", _redundancy_figure),
            key="redundancy_chart",
        )
        st.dataframe(redundancy, hide_index=True, key="redundancy_table")
        st.caption(
            "A queried image counts as a near-copy when another copy of the same source "
            "image was already labeled or queried. Mean over every queried batch of the "
            "trials the curves average; each bar is the table's value."
        )

    if done.preliminary:
        return
    verdict, table = live_derived(snapshot, "story_verdict", _story_verdict)
    goal = "the target" if target is None else f"{target:.0%}"
    st.subheader(f"Labels needed to reach {goal}")
    if not table.empty:
        columns = st.columns(len(table))
        for column, (_, row) in zip(columns, table.iterrows(), strict=True):
            # "not reached (> 40)" does not fit a card: its "> 40" goes to the caption.
            value, _, beyond = row["labels to target"].partition(" (> ")
            column.metric(row["strategy"], value, border=True)
            column.caption(
                (f"not within the {beyond.rstrip(')')} labels run" if beyond else "median")
                + f" · {row['reaching target']} trials reached it"
            )
    st.markdown(f"**{verdict.bottom_line}**")
    for sentence in verdict.details:
        st.markdown(f"- {sentence}")
    if not table.empty:
        # A static table: it wraps to the page's width, so no column is cut off.
        st.table(table, hide_index=True)
    st.caption(
        "Labels to target: median over trials, a trial that never reached the target "
        "counting as slower than all that did; each trial's count is interpolated between "
        "the two measured rounds around the target. ± is the spread of the per-seed "
        "differences, and a difference within it is within noise. Open **Results** for "
        "every trial."
    )


def show_diversity_story() -> None:
    """The diversity presets' story: why batches need diversity, on the chosen data set."""
    st.title(STORIES[DIVERSITY_STORY])
    if not PRESENT:
        st.markdown(DIVERSITY_INTRO)
    preset = st.segmented_control(
        "Data set",
        list(diversity_story.DIVERSITY_PRESETS),
        format_func=diversity_story.DIVERSITY_PRESETS.__getitem__,
        default=diversity_story.DIVERSITY_PRESET,
        required=True,
        key="diversity_data",
        help="Each image of the pool appears 3 times. The digits need no download.",
    )
    with Store() as store:
        experiments = store.experiments()
    choices = results.overview_choices(experiments, presets=(preset,))
    shown = results.overview_experiment(experiments, presets=(preset,))
    if shown is None:
        show_diversity_launcher(preset)
        return
    show_chosen_experiment(
        choices,
        shown,
        diversity_measured,
        key="diversity_experiment",
        help_text="Experiments on this data set; default: the newest with finished trials.",
        again=("Run it again", launch_diversity, "run_diversity"),
    )


if story == DIVERSITY_STORY:
    show_diversity_story()
else:
    demo_story()


def _present(on: bool) -> None:
    if on:
        st.query_params[PRESENT_PARAM] = "1"
    else:
        st.query_params.pop(PRESENT_PARAM, None)


st.divider()
st.button(
    "Leave the presentation view" if PRESENT else "Presentation view",
    on_click=_present,
    args=(not PRESENT,),
    key="presentation_switch",
    icon=":material/slideshow:",
    help="Hides the sidebar and the controls a room does not need, keeping the story's "
    f"chart, slider and headline; the same as opening the page with ?{PRESENT_PARAM}=1.",
)
