"""Experiments: configure and launch sweeps, watch them live, cancel them.

Launching only queues the experiment in the store and makes sure a background
runner process is alive; the page never waits for training.
"""

from __future__ import annotations

import streamlit as st

from al_core.datasets import BUILTIN_DATASETS
from al_core.errors import ALError
from al_core.forms import sweep_request
from al_core.loop import needs_mc_dropout
from al_core.models import MODELS, defaults_text
from al_core.paths import confine_dataset_source, data_root
from al_core.runner import (
    EXECUTORS,
    cancel_experiment,
    ensure_runner,
    experiment_progress,
    runner_health,
    submit_experiment,
)
from al_core.store import Store
from al_core.strategies import MC_STRATEGIES, SCORERS
from pages import require_app_navigation

require_app_navigation()

REFRESH_SECONDS = 2.0
MAX_FINISHED_SHOWN = 10
OTHER_DATASET = "other (npz:PATH or folder:PATH)"

st.title("Experiments")

st.subheader("New sweep: strategies × uncertainty fractions × trials")
# Outside the form, so that the path box appears as soon as "other" is picked.
dataset = st.selectbox("Data set", [*BUILTIN_DATASETS, OTHER_DATASET], key="dataset")
dataset_path = ""
if dataset == OTHER_DATASET:
    dataset_path = st.text_input(
        f"Data set path, inside the data root `{data_root()}`",
        placeholder="npz:my.npz or folder:images",
        key="dataset_path",
    )

with st.form("new_experiment"):
    name = st.text_input("Name (optional)", key="name")
    left, middle, right = st.columns(3)
    model = left.selectbox("Model", MODELS, index=MODELS.index("cnn"), key="model")
    repeat = left.number_input(
        "Copies of each pool image (1 = off; Repeated MNIST: 3)", value=1, step=1, key="repeat"
    )
    repeat_noise = left.number_input(
        "Pixel noise σ on each copy (pixels in 0–1; paper: 0.1)",
        value=0.0,
        step=0.05,
        format="%.2f",
        key="repeat_noise",
    )
    strategies = middle.multiselect(
        "Uncertainty strategies",
        [*SCORERS, *MC_STRATEGIES],
        default=["margin"],
        key="strategies",
    )
    fractions = middle.text_input(
        "Uncertainty fractions (0 = random, 1 = all by uncertainty)", "0, 0.5, 1", key="fractions"
    )
    trials = middle.number_input("Trials (seeds) per configuration", value=3, step=1, key="trials")
    target = middle.number_input("Target test accuracy (0–1]", value=0.9, step=0.01, key="target")
    initial = right.number_input("Initial labeled images", value=20, step=1, key="initial")
    batch = right.number_input("Batch size (labels per round)", value=10, step=1, key="batch")
    rounds = right.number_input(
        "Rounds (0 = until budget or pool ends)", value=10, step=1, key="rounds"
    )
    budget = right.number_input("Label budget (0 = none)", value=0, step=1, key="budget")
    extend_baseline = right.checkbox(
        "Run the random baseline on past the budget",
        value=True,
        key="extend_baseline",
        help="Once the active trials finish, the random trials keep adding random labels "
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
        )
        min_steps = a.number_input(
            "Gradient steps per fit at least (empty: the model's default)",
            value=None,
            min_value=1,
            step=50,
            placeholder=f"model default ({defaults_text('min_steps')})",
            key="min_steps",
        )
        pool_size = a.number_input(
            "Pool size (0 = whole training split)", value=0, step=1, key="pool_size"
        )
        seed = b.number_input("First seed", value=0, step=1, key="seed")
        workers = b.number_input("Workers", value=2, step=1, key="workers")
        executor = c.selectbox("Executor", EXECUTORS, key="executor")
        scheduler = c.text_input(
            "Dask scheduler", placeholder="tcp://127.0.0.1:8786", key="scheduler"
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
        st.success(f"Experiment {experiment_id} queued; it runs in the background.{note}")


def start_runner() -> None:
    with Store() as store:
        ensure_runner(store.path)


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


@st.fragment(run_every=REFRESH_SECONDS)
def monitor() -> None:
    """Every experiment's progress, refreshed on a timer without rerunning the form."""
    with Store() as store:
        health = runner_health(store)
        experiments = store.experiments()
        # Unfinished experiments first, then the newest finished ones.
        unfinished = [e for e in experiments if e["status"] in ("queued", "running")]
        finished = [e for e in experiments if e["status"] not in ("queued", "running")]
        shown = unfinished + finished[:MAX_FINISHED_SHOWN]
        progress = {e["id"]: experiment_progress(store, e["id"]) for e in shown}
    st.subheader("Monitor")
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
                eta = state["eta_seconds"]
                left = "estimating time left…" if eta is None else f"about {eta / 60:.1f} min left"
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
