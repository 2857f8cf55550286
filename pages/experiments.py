"""Experiments: configure and launch sweeps, watch them live, cancel them.

Launching only queues the experiment in the store and makes sure a background
runner process is alive; the page never waits for training.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from al_core import forms, user_datasets
from al_core.datacheck import DataCheck, check_dataset, sample_grid
from al_core.datasets import BUILTIN_DATASETS, format_skipped
from al_core.datasets.sources import confine_dataset_source
from al_core.errors import ALError
from al_core.forms import sweep_request
from al_core.loop import SEED_MODEL, needs_mc_dropout
from al_core.loop.config import HANDOVER_PER_CLASS
from al_core.models import defaults_text
from al_core.paths import data_root
from al_core.runner import (
    EXECUTORS,
    cancel_experiment,
    ensure_runner,
    experiment_progress,
    submit_experiment,
    time_left_text,
)
from al_core.store import Store
from al_core.strategies import COLD_START_STRATEGIES, MC_STRATEGIES, SCORERS
from pages import require_app_navigation, shared_runner_health

require_app_navigation()

REFRESH_SECONDS = 2.0
MAX_FINISHED_SHOWN = 10
OTHER_DATASET = "other (npz:PATH or folder:PATH)"

st.title("Experiments")


# --------------------------------------------------------------------------- your own data


CHECKS_KEPT = 8


@st.cache_resource
def _checks() -> dict[tuple[str, float, tuple[str, ...]], DataCheck]:
    """Data checks done in this server, by (source, upload time, skipped zip entries).

    A plain dict kept across reruns rather than ``st.cache_data``: the check draws a
    progress bar as it goes, which a cached function would replay."""
    return {}


def _data_check(source: str, stamp: float, extra_skipped: tuple[str, ...]) -> DataCheck:
    """The data check, once per source and upload (``stamp``: the upload's time), with a
    progress bar while it reads the images and fits the linear floor."""
    done = _checks()
    key = (source, stamp, extra_skipped)
    if key not in done:
        bar = st.progress(0.0, text="Reading the data set…")
        try:
            check = check_dataset(
                source,
                extra_skipped=extra_skipped,
                progress=lambda fraction, text: bar.progress(min(fraction, 1.0), text=text),
            )
        finally:
            bar.empty()
        while len(done) >= CHECKS_KEPT:
            done.pop(next(iter(done)))
        done[key] = check
    return done[key]


def _suggest_target(check: DataCheck) -> None:
    """Start the form's target at the check's suggestion, once per checked data set
    (a target the person typed afterwards is kept)."""
    suggested = check.suggested_target()
    if suggested is not None and st.session_state.get("target_suggested_for") != check.source:
        st.session_state["target"] = suggested
        st.session_state["target_suggested_for"] = check.source


def _ask_delete(slug: str) -> None:
    st.session_state["confirm_delete"] = slug


def _delete(slug: str) -> None:
    st.session_state.pop("confirm_delete", None)
    try:
        removed = user_datasets.delete_uploaded(slug)
    except ALError as exc:
        st.session_state["upload_message"] = ("error", str(exc))
    else:
        st.session_state["upload_message"] = (
            "success",
            f"Deleted the data set **{removed.name}** and its files. Results of experiments "
            "already run on it are kept.",
        )


def _upload_section(uploaded: list[user_datasets.UploadedSet]) -> None:
    # Open when this browser session began with nothing uploaded; kept as it was for the
    # session (an expander whose `expanded` changes between reruns folds under the person).
    opened = st.session_state.setdefault("upload_open", not uploaded)
    with st.expander("Upload your own labeled images", expanded=opened):
        st.caption(
            "A **.zip with one folder per class** (the folder names are the class names), "
            "or an **.npz** with the arrays `x_train, y_train, x_test, y_test` (optionally "
            "`class_names`). It is stored on the server under the data root in its own "
            "folder, checked below, and offered in the data set choices (here and on the "
            "Label page). Zips with `..` or absolute paths, links or bomb-like compression, "
            "and .npz files with object arrays or arrays declaring more than the memory "
            "limit are refused; unreadable files are skipped and listed."
        )
        with st.form("upload_dataset", clear_on_submit=True):
            file = st.file_uploader(
                "Zip of class folders, or .npz", type=["zip", "npz"], key="upload_file"
            )
            typed = st.text_input(
                "Name of this data set", placeholder="e.g. my-cats", key="upload_name"
            )
            sent = st.form_submit_button("Upload and check", key="upload_button")
        if sent:
            if file is None:
                st.session_state["upload_message"] = ("error", "Choose a file to upload first.")
            else:
                try:
                    with st.spinner("Unpacking and reading the images…"):
                        stored = user_datasets.save_upload(file.getvalue(), file.name, typed)
                except ALError as exc:
                    st.session_state["upload_message"] = (
                        "error",
                        f"Not uploaded ({file.name}): {exc}",
                    )
                else:
                    st.session_state["dataset"] = stored.source  # the check below shows it
                    st.session_state["upload_message"] = (
                        "success",
                        f"Uploaded **{stored.name}** ({stored.uploaded_file}); it is "
                        "selected below with its data check.",
                    )
                    st.rerun()
        message = st.session_state.pop("upload_message", None)
        if message:
            (st.success if message[0] == "success" else st.error)(message[1])
        for item in uploaded:
            line, action = st.columns([5, 1])
            line.markdown(
                f"**{item.name}** · {item.kind} · from `{item.uploaded_file}` · "
                f"`{item.folder.relative_to(data_root())}`"
            )
            action.button("Delete…", key=f"delete_{item.slug}", on_click=_ask_delete,
                          args=(item.slug,))  # fmt: skip
            if st.session_state.get("confirm_delete") == item.slug:
                st.warning(
                    f"Delete the data set **{item.name}**? Its files are removed from the "
                    "server and it leaves the data set choices. Results of experiments "
                    "already run on it are kept."
                )
                yes, no, _ = st.columns([2, 1, 2])
                yes.button(f"Yes, delete {item.name}", key=f"confirm_{item.slug}",
                           type="primary", on_click=_delete, args=(item.slug,))  # fmt: skip
                no.button("Keep it", key=f"keep_{item.slug}", on_click=_ask_delete, args=("",))


def _render_check(check: DataCheck) -> None:
    height, width, channels = check.image_shape
    st.markdown(
        f"**Data check** · {check.pool_size} pool / {check.test_size} test images, "
        f"{height}×{width}×{channels}, {len(check.class_names)} classes "
        f"(checked in {check.seconds:.1f} s)"
    )
    st.markdown(
        f"- **Size:** {check.size}\n- **Colour:** {check.colour}\n"
        f"- **Test split:** {check.test_split}\n- **Duplicates:** {check.duplicates_text()}"
    )
    for note in check.warnings():
        st.warning(note)
    classes, floor = st.columns(2)
    classes.markdown("**Classes** (images in the pool and in the test split)")
    classes.dataframe(pd.DataFrame(check.class_table()), hide_index=True)
    floor.markdown("**The floor to clear:** logistic regression on random labels")
    table = pd.DataFrame(
        {
            "labels": [p.labels for p in check.floor],
            "accuracy": [f"{p.accuracy:.1%}" for p in check.floor],
            "range over orders": [f"{p.low:.1%}–{p.high:.1%}" for p in check.floor],
        }
    )
    floor.dataframe(table, hide_index=True)
    floor.caption(
        f"Flattened pixels, mean of 3 random label orders (the last point, all of the pool "
        f"up to 2,000 labels: one order), scored on {check.floor_test_images} test images. A "
        "network's curve on the same labels should be above this; if it is not, the network "
        "is undertrained, not the data hard."
    )
    suggestion = check.suggestion_text()
    if suggestion:
        floor.caption(f"**Suggested target** (set in the form below): {suggestion}.")
    st.markdown("**Sample images per class** (from the pool, as converted)")
    grid = st.columns(2)
    for i, (name, images) in enumerate(zip(check.class_names, check.samples, strict=True)):
        grid[i % 2].image(
            sample_grid(images),
            caption=f"{name}: {check.pool_counts[i]} pool / {check.test_counts[i]} test",
        )
    if check.skipped:
        with st.expander(f"Skipped files ({len(check.skipped)}), with the reason"):
            st.code(format_skipped(check.skipped, limit=200), language="text")
    else:
        st.caption("No file was skipped.")
    if check.duplicates:
        with st.expander(f"Duplicates dropped ({len(check.duplicates)}), each kept once"):
            st.code(format_skipped(check.duplicates, limit=200), language="text")


uploaded_sets = user_datasets.list_uploaded()
_upload_section(uploaded_sets)
uploaded_by_source = {item.source: item for item in uploaded_sets}

st.subheader("New sweep: strategies × uncertainty fractions × trials")
choices = [*BUILTIN_DATASETS, *uploaded_by_source, OTHER_DATASET]
if st.session_state.get("dataset") not in choices:
    st.session_state.pop("dataset", None)  # a deleted upload
# Outside the form, so that the path box appears as soon as "other" is picked.
dataset = st.selectbox(
    "Data set",
    choices,
    key="dataset",
    persist_state="session",
    format_func=lambda c: uploaded_by_source[c].label() if c in uploaded_by_source else c,
)
dataset_path = ""
if dataset == OTHER_DATASET:
    dataset_path = st.text_input(
        f"Data set path, inside the data root `{data_root()}`",
        placeholder="npz:my.npz or folder:images",
        key="dataset_path",
        persist_state="session",
    )

with st.container(border=True):
    chosen_upload = uploaded_by_source.get(dataset)
    if chosen_upload is None:
        asked = st.button(
            "Check this data set (classes, test split, samples, a linear floor)",
            key="run_check",
        )
        if asked:
            st.session_state["check_source"] = dataset_path if dataset == OTHER_DATASET else dataset
        check_source = st.session_state.get("check_source")
        wanted = dataset_path if dataset == OTHER_DATASET else dataset
        show = check_source is not None and check_source == wanted
    else:
        check_source, show = dataset, True
    if show:
        try:
            if chosen_upload is not None:
                check = _data_check(
                    chosen_upload.source, chosen_upload.created, chosen_upload.skipped
                )
            else:  # a typed path must stay inside $AL_DATA_DIR
                check = _data_check(confine_dataset_source(str(check_source)), 0.0, ())
        except ALError as exc:
            st.error(f"The data check failed: {exc}")
        else:
            _render_check(check)
            _suggest_target(check)

with st.form("new_experiment"):
    name = st.text_input("Name (optional)", key="name", persist_state="session")
    left, middle, right = st.columns(3)
    model = left.selectbox(
        "Model",
        forms.model_choices(),
        format_func=lambda m: forms.model_choice_label(m, SEED_MODEL),
        key="model",
        persist_state="session",
    )
    repeat = left.number_input(
        "Copies of each pool image (1 = off; Repeated MNIST: 3)",
        value=1,
        step=1,
        key="repeat",
        persist_state="session",
    )
    repeat_noise = left.number_input(
        "Pixel noise σ on each copy (pixels in 0–1; Repeated MNIST: 0.031)",
        value=0.0,
        step=0.01,
        format="%.3f",
        help="Standard deviation of the Gaussian noise added to each copy, in units of "
        "pixels scaled to 0–1. The BatchBALD paper's Repeated MNIST adds 0.1 after "
        "normalising by MNIST's standard deviation (0.3081): 0.031 here.",
        key="repeat_noise",
        persist_state="session",
    )
    strategies = middle.multiselect(
        "Uncertainty strategies",
        [*SCORERS, *MC_STRATEGIES, *COLD_START_STRATEGIES],
        default=["margin"],
        key="strategies",
        persist_state="session",
        help="typiclust: the most typical image of each k-means region that holds no label "
        "yet (for small budgets); auto: typiclust until the hand-over below, then margin.",
    )
    fractions = middle.text_input(
        "Uncertainty fractions (0 = random, 1 = all by uncertainty)",
        "0, 0.5, 1",
        key="fractions",
        persist_state="session",
    )
    trials = middle.number_input(
        "Trials (seeds) per configuration", value=3, step=1, key="trials", persist_state="session"
    )
    target = middle.number_input(
        "Target test accuracy (0–1]",
        value=0.9,
        step=0.01,
        key="target",
        persist_state="session",
        help="A data check starts it at its suggestion: the linear floor's accuracy at "
        "200 labels, rounded down.",
    )
    initial = right.number_input(
        "Initial labeled images", value=20, step=1, key="initial", persist_state="session"
    )
    initial_mode = right.selectbox(
        "Initial set",
        ["random", "typical"],
        format_func={"random": "random", "typical": "typical image per k-means region"}.get,
        key="initial_mode",
        persist_state="session",
        help="typical: TypiClust on the pool's pixels, no labels needed (cold start).",
    )
    handover_per_class = right.number_input(
        "auto: labels per class before uncertainty",
        value=HANDOVER_PER_CLASS,
        min_value=1,
        step=1,
        key="handover_per_class",
        persist_state="session",
        help="Strategy auto picks typical images until the labeled set holds this many "
        "labels per class, then hands over to margin; the switch is marked on the curve.",
    )
    batch = right.number_input(
        "Batch size (labels per round)", value=10, step=1, key="batch", persist_state="session"
    )
    rounds = right.number_input(
        "Rounds (0 = until budget or pool ends)",
        value=10,
        step=1,
        key="rounds",
        persist_state="session",
    )
    budget = right.number_input(
        "Label budget (0 = none)", value=0, step=1, key="budget", persist_state="session"
    )
    extend_baseline = right.checkbox(
        "Random runs on past budget",
        value=True,
        key="extend_baseline",
        persist_state="session",
        help="Run the random baseline on past the budget: once the active trials finish, "
        "the random trials keep adding random labels "
        "(each step 25 % more) until they reach the best active configuration's median "
        "final accuracy, so the saving can be measured where random needs more labels "
        "than the budget.",
    )
    baseline_cap = right.number_input(
        "Baseline cap in labels (0 = 10 x the budget)",
        value=0,
        min_value=0,
        step=100,
        key="baseline_cap",
        persist_state="session",
    )
    with st.expander("Training, data and runner"):
        a, b, c = st.columns(3)
        epochs = a.number_input(
            "Epochs per fit (empty: the model's default)",
            value=None,
            min_value=1,
            step=1,
            placeholder=f"model default ({defaults_text('epochs')})",
            key="epochs",
            persist_state="session",
        )
        min_steps = a.number_input(
            "Gradient steps per fit at least (empty: the model's default)",
            value=None,
            min_value=1,
            step=50,
            placeholder=f"model default ({defaults_text('min_steps')})",
            key="min_steps",
            persist_state="session",
        )
        pool_size = a.number_input(
            "Pool size (0 = whole training split)",
            value=0,
            step=1,
            key="pool_size",
            persist_state="session",
        )
        seed = b.number_input("First seed", value=0, step=1, key="seed", persist_state="session")
        workers = b.number_input("Workers", value=2, step=1, key="workers", persist_state="session")
        executor = c.selectbox("Executor", EXECUTORS, key="executor", persist_state="session")
        scheduler = c.text_input(
            "Dask scheduler",
            placeholder="tcp://127.0.0.1:8786",
            key="scheduler",
            persist_state="session",
        )
    submitted = st.form_submit_button("Launch", type="primary", key="launch")

if submitted:
    try:
        with st.spinner("Checking the settings against the data set…"):
            request = sweep_request(
                # A typed path must stay inside $AL_DATA_DIR (the app has no login).
                dataset=confine_dataset_source(dataset_path)
                if dataset == OTHER_DATASET
                else dataset,
                model=model,
                strategies=strategies,
                fractions=fractions,
                trials=int(trials),
                initial=int(initial),
                initial_mode=initial_mode,
                handover_per_class=int(handover_per_class),
                batch=int(batch),
                rounds=int(rounds),
                budget=int(budget),
                target=float(target),
                epochs=None if epochs is None else int(epochs),
                min_steps=None if min_steps is None else int(min_steps),
                pool_size=int(pool_size),
                repeat=int(repeat),
                repeat_noise=float(repeat_noise),
                seed=int(seed),
                workers=int(workers),
                executor=executor,
                scheduler=scheduler,
                name=name,
                extend_baseline=extend_baseline,
                baseline_cap=int(baseline_cap) or None,
            )
        with Store() as store:
            experiment_id = submit_experiment(
                store,
                request.base,
                request.strategies,
                request.fractions,
                request.trials,
                name=request.name,
                extend_baseline=request.extend_baseline,
            )
            ensure_runner(
                store.path,
                workers=request.workers,
                executor=request.executor,
                scheduler=request.scheduler,
            )
    except ALError as exc:
        st.error(f"Not launched: {exc}")
    else:
        note = (
            f" Dropout {request.base.dropout:g} is on: {', '.join(request.strategies)} "
            "score with Monte-Carlo dropout."
            if needs_mc_dropout(request.strategies)
            else ""
        )
        # Said by the monitor while the experiment runs, and no longer once it has ended.
        st.session_state["launched"] = (experiment_id, note)


def start_runner() -> None:
    with Store() as store:
        ensure_runner(store.path)
    shared_runner_health(fresh=True)


def cancel(experiment_id: int) -> None:
    """Cancel, then rerun the whole page: the form's "queued" message goes away."""
    with Store() as store:
        cancel_experiment(store, experiment_id)


#: How a finished experiment's state reads: icon and colour per status.
STATUS_LOOK = {
    "done": ":green[:material/check_circle:]",
    "cancelled": ":orange[:material/cancel:]",
    "failed": ":red[:material/error:]",
    "running": ":blue[:material/autorenew:]",
    "queued": ":gray[:material/schedule:]",
}


def _counts(state: dict) -> str:
    parts = [f"{state['done']} of {state['trials']} trials done"]
    parts += [
        f"{state[key]} {key}" for key in ("running", "queued", "failed", "cancelled") if state[key]
    ]
    if state.get("extending"):
        parts.append(f"random baseline running on past the budget ({state['extending']})")
    return " · ".join(parts)


@st.cache_data(max_entries=8, show_spinner=False)
def _monitor_state(
    db_path: str, version: tuple, runner_alive: bool
) -> tuple[list[dict], list[dict], list[dict], dict[int, dict]]:
    """Every experiment, the unfinished ones, those shown (unfinished first, then the
    newest finished) and their progress: read once per ``version`` of the experiments
    (:meth:`~al_core.store.Store.experiments_version`) for every open monitor. A runner
    that died changes ``runner_alive``: reading progress again re-queues its trials."""
    with Store(db_path) as store:
        experiments = store.experiments()
        unfinished = [e for e in experiments if e["status"] in ("queued", "running")]
        finished = [e for e in experiments if e["status"] not in ("queued", "running")]
        shown = unfinished + finished[:MAX_FINISHED_SHOWN]
        progress = {e["id"]: experiment_progress(store, e["id"]) for e in shown}
    return experiments, unfinished, shown, progress


@st.fragment(run_every=REFRESH_SECONDS)
def monitor() -> None:
    """Every experiment's progress, refreshed on a timer without rerunning the form."""
    health = shared_runner_health()
    with Store() as store:
        version = store.experiments_version()
    alive = health is not None and health["alive"]
    experiments, unfinished, shown, progress = _monitor_state(str(store.path), version, alive)
    st.subheader("Monitor")
    launched = st.session_state.get("launched")
    if launched is not None:
        if launched[0] in progress and not progress[launched[0]]["finished"]:
            st.success(f"Experiment {launched[0]} queued; it runs in the background.{launched[1]}")
        else:
            st.session_state.pop("launched")
    queued = sum(progress[e["id"]]["queued"] for e in unfinished)
    if health is not None and health["alive"]:
        st.caption(
            f":green[●] Runner pid {health['pid']}: {health['workers']} {health['executor']} "
            f"worker(s), heartbeat {health['heartbeat_age']:.0f} s ago."
        )
    elif queued:
        st.warning(f"{queued} trial(s) are queued but no runner is alive to run them.")
        st.button("Start the runner", key="start_runner", on_click=start_runner)
    else:
        st.caption(":gray[○] No runner alive; none is needed: nothing is queued.")
    if not experiments:
        st.info("No experiments yet: launch one with the form above.")
        return
    hidden = len(experiments) - len(shown)
    if hidden:
        st.caption(f"{hidden} older finished experiment(s) are not listed; see Results.")
    for experiment in shown:
        experiment_id = experiment["id"]
        state = progress[experiment_id]
        status = state["status"]
        with st.container(border=True):
            title, action = st.columns([5, 1])
            title.markdown(
                f"{STATUS_LOOK.get(status, '')} **{experiment_id} · {experiment['name']}** — "
                f"{status}"
            )
            if not state["finished"]:
                if action.button("Cancel", key=f"cancel_{experiment_id}"):
                    cancel(experiment_id)
                    st.rerun(scope="app")
                left = time_left_text(state)
                st.progress(state["percent"] / 100, text=f"{_counts(state)} · {left}")
            elif status == "cancelled":
                st.warning(f"Cancelled: {_counts(state)}. Rounds already measured are kept.")
            elif status == "failed" or state["failed"]:
                st.error(f"{status.capitalize()}: {_counts(state)}.")
            else:
                st.caption(f"Finished: {_counts(state)}.")
            busy = [t for t in state["trials_detail"] if t["status"] in ("running", "failed")]
            for trial in busy:
                # Round 0 is the fit on the initial labels; rounds 1..n add a batch each.
                if trial["round"] is None:
                    where = "starting"
                elif trial["round"] == 0:
                    where = "initial fit done"
                else:
                    where = f"round {trial['round']}"
                    if trial["rounds_total"] is not None:
                        where += f" of {trial['rounds_total']}"
                    where += " done"
                line = (
                    f"trial {trial['trial_id']} · {trial['strategy']} u = "
                    f"{trial['fraction']:g} · seed {trial['seed']}: {trial['status']}"
                )
                if trial["status"] == "running":
                    st.caption(f"{line}, {where}")
                else:
                    summary = (trial["error"] or "no error recorded").strip().splitlines()[0]
                    st.error(f"{line}: {summary}")
                    with st.expander(f"Trial {trial['trial_id']} error"):
                        st.code(trial["error"] or "", language="text")


monitor()
