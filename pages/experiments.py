"""Experiments: configure and launch sweeps, watch them live, cancel them.

Launching only queues the experiment in the store and makes sure a background
runner process is alive; the page never waits for training.
"""

from __future__ import annotations

import streamlit as st

from al_core.datasets import BUILTIN_DATASETS
from al_core.errors import ALError
from al_core.forms import sweep_request
from al_core.models import MODELS
from al_core.runner import (
    EXECUTORS,
    cancel_experiment,
    ensure_runner,
    experiment_progress,
    runner_health,
    submit_experiment,
)
from al_core.store import Store
from al_core.strategies import SCORERS

REFRESH_SECONDS = 2.0
MAX_FINISHED_SHOWN = 10
OTHER_DATASET = "other (npz:PATH or folder:PATH)"

st.title("Experiments")

with st.form("new_experiment"):
    st.subheader("New sweep: strategies × uncertainty fractions × trials")
    name = st.text_input("Name (optional)", key="name")
    left, middle, right = st.columns(3)
    dataset = left.selectbox("Data set", [*BUILTIN_DATASETS, OTHER_DATASET], key="dataset")
    dataset_path = left.text_input(
        "Path when 'other'", placeholder="npz:/data/my.npz", key="dataset_path"
    )
    model = left.selectbox("Model", MODELS, index=MODELS.index("softmax"), key="model")
    strategies = middle.multiselect(
        "Uncertainty strategies", list(SCORERS), default=["margin"], key="strategies"
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
    with st.expander("Training, data and runner"):
        a, b, c = st.columns(3)
        epochs = a.number_input("Epochs per round", value=20, step=1, key="epochs")
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
                dataset=dataset_path if dataset == OTHER_DATASET else dataset,
                model=model,
                strategies=strategies,
                fractions=fractions,
                trials=int(trials),
                initial=int(initial),
                batch=int(batch),
                rounds=int(rounds),
                budget=int(budget),
                target=float(target),
                epochs=int(epochs),
                pool_size=int(pool_size),
                seed=int(seed),
                workers=int(workers),
                executor=executor,
                scheduler=scheduler,
                name=name,
            )
        with Store() as store:
            experiment_id = submit_experiment(
                store,
                request.base,
                request.strategies,
                request.fractions,
                request.trials,
                name=request.name,
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
        st.success(f"Experiment {experiment_id} queued; it runs in the background.")


def start_runner() -> None:
    with Store() as store:
        ensure_runner(store.path)


def cancel(experiment_id: int) -> None:
    """Button callback: runs before the rerun, so the monitor shows the new state."""
    with Store() as store:
        cancel_experiment(store, experiment_id)


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
    if health is not None and health["alive"]:
        st.caption(
            f"Runner pid {health['pid']}: {health['workers']} {health['executor']} worker(s), "
            f"heartbeat {health['heartbeat_age']:.0f} s ago."
        )
    else:
        st.caption("No runner alive.")
        st.button("Start the runner", key="start_runner", on_click=start_runner)
    if not experiments:
        st.info("No experiments yet: launch one with the form above.")
        return
    hidden = len(experiments) - len(shown)
    if hidden:
        st.caption(f"{hidden} older finished experiment(s) are not listed; see Results.")
    for experiment in shown:
        experiment_id = experiment["id"]
        state = progress[experiment_id]
        with st.container(border=True):
            title, action = st.columns([5, 1])
            title.markdown(f"**{experiment_id} · {experiment['name']}** — {state['status']}")
            if state["status"] in ("queued", "running"):
                action.button(
                    "Cancel", key=f"cancel_{experiment_id}", on_click=cancel, args=(experiment_id,)
                )
            eta = state["eta_seconds"]
            st.progress(
                state["percent"] / 100,
                text=(
                    f"{state['done']}/{state['trials']} done · {state['running']} running · "
                    f"{state['queued']} queued · {state['failed']} failed · "
                    f"{state['cancelled']} cancelled"
                    + ("" if eta is None else f" · ETA {eta / 60:.1f} min")
                ),
            )
            busy = [t for t in state["trials_detail"] if t["status"] in ("running", "failed")]
            for trial in busy:
                where = "starting" if trial["round"] is None else f"round {trial['round']}"
                if trial["round"] is not None and trial["rounds_total"]:
                    where += f" of {trial['rounds_total']}"
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
