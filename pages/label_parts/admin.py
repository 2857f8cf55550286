"""The session administration of the Label page (pages/label.py): everything around
the labeler's view. The name a person labels under (kept in the URL,
``?annotator=NAME``, and the browser session's state, for page switches that clear
the URL), new sessions, the curve with "when can I stop?", the team's agreement and
review list, the audit, the auto-labeling review and the exports."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from al_core import charts, forms, labeling, stopping, uploads, user_datasets
from al_core.datasets import BUILTIN_DATASETS
from al_core.errors import ALError
from al_core.loop import MC_DROPOUT_DEFAULT, TrialConfig, needs_mc_dropout
from al_core.store import Store

SOURCES = {
    "builtin": "Built-in data set",
    "upload": "Upload a zip of images",
    "folder": "Folder on the server",
}
IMAGE_SIDES = (28, 32, 48, 64, 96)


def me() -> str:
    """The annotator this browser labels as (see :func:`annotator_box`)."""
    return st.session_state.get("annotator") or labeling.DEFAULT_ANNOTATOR


def label_name(config: labeling.SessionConfig, label: int) -> str:
    return config.class_names[label] if label >= 0 else "not sure"


def retrain(session_id: int) -> None:
    with Store() as store:
        labeling.request_retrain(store, session_id)


def set_use_pseudo(session_id: int) -> None:
    with Store() as store:
        labeling.set_use_pseudo(store, session_id, st.session_state["use_pseudo"])


def audit_table(per_class: list[dict]) -> pd.DataFrame:
    """The audit's rows with agreement as a percentage, "—" for classes without labels."""
    table = pd.DataFrame(per_class)
    if "agreement" in table:
        table["agreement"] = [
            "—" if a is None or pd.isna(a) else f"{a:.0%}" for a in table["agreement"]
        ]
    return table


def lazy_expander(label: str, key: str) -> Any:
    """A closed expander whose content the caller draws only while ``.open`` is true:
    Streamlit's stateful expander (``on_change="rerun"``: "This lets you skip expensive
    work when the expander is closed"). Closed, it is one element on the page; every
    element below the labeler's view is redrawn by the browser at each key press
    (key -> next, issue 29)."""
    return st.expander(label, key=key, on_change="rerun")


def select_session() -> None:
    st.query_params["session"] = str(st.session_state["session_choice"])


def annotator_box(session_id: int) -> None:
    """The name this browser labels under, asked once: kept in the URL
    (``?annotator=``, so a reload keeps it) and in the browser session's state (page
    switches clear the URL's parameters; it is put back)."""
    wanted = st.session_state.get("annotator") or st.query_params.get("annotator", "")
    name = None
    if wanted:
        try:
            name = labeling.check_annotator(wanted)
        except ALError as exc:
            st.warning(
                f"The name in the address cannot be used: {exc}. You label as "
                f"**{labeling.DEFAULT_ANNOTATOR}** until you save a name."
            )
    st.session_state["annotator"] = name
    if name and st.query_params.get("annotator") != name:
        st.query_params["annotator"] = name
    if name:
        st.caption(f"You label as **{name}**.")
    else:
        st.caption(
            "Type your name once: each answer is stored with it, and several people can "
            "label this session at the same time, each handed different images. Without "
            f"a name your answers are stored as **{labeling.DEFAULT_ANNOTATOR}**."
        )
    # In the sidebar: the field above its button (side by side, the button is cut off).
    where = st.expander("Change your name") if name else st.container()
    with where, st.form("annotator_form", border=False):
        typed = st.text_input("Your name", value=name or "", key="annotator_name")
        saved = st.form_submit_button("Save name")
    if saved:
        try:
            new = labeling.check_annotator(typed)
        except ALError as exc:
            st.error(f"Name not saved: {exc}.")
            return
        if new != me():  # the image held under the old name goes back to the others
            with Store() as store:
                labeling.release_claim(store, session_id, me())
        st.session_state["annotator"] = new
        st.query_params["annotator"] = new
        st.rerun()


def _settle(session_id: int, item: str) -> None:
    label = st.session_state.get(f"settle_{item}")
    if label is None:
        st.session_state["team_error"] = f"Choose the label of item {item} first, then Settle."
        return
    with Store() as store:
        try:
            labeling.settle(store, session_id, item, label, me())
        except ALError as exc:
            st.session_state["team_error"] = str(exc)
            return
        labeling.request_retrain(store, session_id)


def _percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _kappa(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def team_section(session_id: int, config: labeling.SessionConfig) -> None:
    """Who labeled, how much they agree, the disagreements to settle, the overlap."""
    with Store() as store:
        agreement = labeling.session_agreement(store, session_id)
        disputed = labeling.review_list(store, session_id)
        images = {e.item: labeling.item_image(store, session_id, e.item, side=96) for e in disputed}
    st.subheader("Team")
    names = [row["annotator"] for row in agreement.annotators]
    st.caption(
        (
            f"{len(names)} annotator{'s' if len(names) != 1 else ''} ({', '.join(names)})."
            if names
            else "Nobody has answered yet."
        )
        + f" {config.overlap:.0%} of the images are shown to two annotators to measure "
        "agreement; an image answered twice trains with the agreed label, a disagreement "
        "waits on the review list."
    )
    if error := st.session_state.pop("team_error", None):
        st.error(error)
    if agreement.pairs:
        st.markdown(
            f"Raw agreement **{_percent(agreement.raw_agreement, 1)}**, Cohen's kappa "
            f"**{_kappa(agreement.kappa)}** on {agreement.images_twice} images answered by "
            "two annotators (Not sure left out)."
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "annotator A": [p["annotator_a"] for p in agreement.pairs],
                    "annotator B": [p["annotator_b"] for p in agreement.pairs],
                    "images": [p["images"] for p in agreement.pairs],
                    "agreed": [p["agreed"] for p in agreement.pairs],
                    "raw agreement": [_percent(p["raw_agreement"]) for p in agreement.pairs],
                    "kappa": [_kappa(p["kappa"]) for p in agreement.pairs],
                }
            ),
            hide_index=True,
            key="agreement_pairs",
        )
        with lazy_expander(
            "Agreement per class (each class against the rest)", "agreement_classes_open"
        ) as section:
            if section.open:
                classes = agreement.classes
                st.dataframe(
                    pd.DataFrame(
                        {
                            "class": [c["class"] for c in classes],
                            "images": [c["images"] for c in classes],
                            "both gave it": [c["agreed"] for c in classes],
                            "kappa": [_kappa(c["kappa"]) for c in classes],
                        }
                    ),
                    hide_index=True,
                )
    else:
        st.caption("Agreement appears once two annotators have answered the same images.")
    if agreement.truth_known and agreement.annotators:
        st.markdown("Each annotator against the hidden true labels:")
        rows = agreement.annotators
        st.dataframe(
            pd.DataFrame(
                {
                    "annotator": [r["annotator"] for r in rows],
                    "answers": [r["answers"] for r in rows],
                    "not sure": [r["not_sure"] for r in rows],
                    "agree with truth": [r["agreed_with_truth"] for r in rows],
                    "truth agreement": [_percent(r["truth_agreement"], 1) for r in rows],
                    "kappa vs truth": [_kappa(r["truth_kappa"]) for r in rows],
                }
            ),
            hide_index=True,
            key="agreement_truth",
        )
    options = [*range(len(config.class_names)), labeling.NOT_SURE]
    with st.expander(f"Review list ({len(disputed)} disagreements)", expanded=bool(disputed)):
        if not disputed:
            st.caption("No disagreement to settle.")
        for entry in disputed:
            image_col, answers_col, choice_col, button_col = st.columns(
                [1, 2, 2, 1], vertical_alignment="center"
            )
            image_col.image(images[entry.item], caption=f"item {entry.item} (disputed)")
            answers_col.markdown(
                "  \n".join(
                    f"**{who}**: {label_name(config, label)}"
                    for who, label in entry.answers.items()
                )
            )
            choice_col.selectbox(
                "Settle as",
                options,
                index=None,
                placeholder="choose the label",
                format_func=lambda k: label_name(config, k),
                key=f"settle_{entry.item}",
            )
            button_col.button(
                "Settle", key=f"settle_button_{entry.item}", on_click=_settle,
                args=(session_id, entry.item),
            )  # fmt: skip
    with st.form("overlap_form", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        share = left.number_input(
            "Overlap: % of the images shown to two annotators",
            min_value=0.0,
            max_value=100.0,
            value=round(config.overlap * 100, 1),
            step=5.0,
            key="overlap_percent",
        )
        saved = right.form_submit_button("Save overlap")
    if saved:
        with Store() as store:
            try:
                labeling.set_overlap(store, session_id, share / 100)
            except ALError as exc:
                st.error(f"Overlap not changed: {exc}.")
                return
        st.rerun()


def new_session_form() -> None:
    source = st.radio(
        "Images", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="new_source"
    )
    with st.form("new_session"):
        name = st.text_input("Session name", key="new_name")
        pool: dict[str, object] = {}
        if source == "builtin":
            left, right = st.columns(2)
            pool["dataset"] = left.selectbox("Data set", BUILTIN_DATASETS)
            size = right.number_input(
                "Pool size (0 = the whole training split)", 0, step=100, key="new_pool_size"
            )
            test = left.number_input(
                "Test images (0 = the whole test split)", 0, value=1000, key="new_test_size"
            )
            pool["pool_size"] = int(size) or None
            pool["test_size"] = int(test) or None
        else:
            if source == "upload":
                pool["upload"] = st.file_uploader("Zip of images", type=["zip"])
            else:
                # Image folders uploaded on the Experiments page (an .npz is no pool of files).
                sets = {s.slug: s for s in user_datasets.list_uploaded() if s.kind == "folder"}
                if sets:
                    pool["uploaded"] = st.selectbox(
                        "Uploaded data set (from the Experiments page)",
                        [None, *sets],
                        format_func=lambda slug: (
                            "none: use the folder typed below"
                            if slug is None
                            else sets[slug].label()
                        ),
                        key="new_uploaded",
                    )
                pool["folder"] = st.text_input(
                    f"Folder (inside the data root `{uploads.data_root()}`)", key="new_folder"
                )
            pool["class_names"] = st.text_input(
                "Class names, separated by commas (empty: one subfolder per class)",
                key="new_class_names",
            )
            side = st.selectbox(
                "Convert images to (pixels)",
                (None, *IMAGE_SIDES),
                format_func=lambda s: "their most frequent size" if s is None else f"{s}×{s}",
                help="By default the images keep the size an experiment on the same set "
                "uses: the most frequent among them (the others resized to it).",
            )
            pool["image_size"] = None if side is None else (side, side)
        left, middle, right = st.columns(3)
        model = left.selectbox(
            "Model",
            forms.model_choices(),
            format_func=lambda m: forms.model_choice_label(m, labeling.DEFAULT_SESSION_MODEL),
        )
        choices = labeling.strategy_choices()
        mc_strategies = ", ".join(s for s in choices if needs_mc_dropout([s]))
        strategy = middle.selectbox(
            "Strategy",
            choices,
            help=f"How the next batch is picked. {mc_strategies} train with dropout "
            f"({MC_DROPOUT_DEFAULT}) and score the candidates with {TrialConfig.mc_samples} "
            "Monte-Carlo dropout passes, so each retrain takes longer.",
        )
        batch = right.number_input(
            "Batch size", min_value=1, max_value=100, value=10, key="new_batch"
        )
        cold_start = left.radio(
            "First batch",
            labeling.COLD_STARTS,
            index=labeling.COLD_STARTS.index(labeling.SessionConfig.cold_start),
            format_func={"random": "random", "clusters": "typical image per k-means region"}.get,
        )
        seed = middle.number_input("Seed", min_value=0, value=0, key="new_seed")
        submitted = st.form_submit_button("Create session", type="primary")
    if not submitted:
        return
    if source != "builtin":
        upload = pool.pop("upload", None)
        chosen = pool.pop("uploaded", None)
        if chosen is not None:  # an uploaded image folder: its path inside the data root
            try:
                pool["folder"] = user_datasets.uploaded_folder(str(chosen))
            except ALError as exc:
                st.error(str(exc))
                return
        if source == "upload":
            if upload is None:
                st.error("Choose a zip file to upload first.")
                return
            pool["upload"] = upload.getvalue()
        names = str(pool.pop("class_names") or "")
        pool["class_names"] = [n for n in names.split(",") if n.strip()] or None
    with Store() as store:
        try:
            created = labeling.create_session(
                store,
                name,
                model=forms.pick_model(model, [strategy]),
                strategy=strategy,
                batch=int(batch),
                cold_start=cold_start,
                seed=int(seed),
                **pool,
            )
        except ALError as exc:
            st.error(str(exc))
            return
        labeling.request_retrain(store, created.session_id)
    st.session_state["import_report"] = created.report
    st.query_params["session"] = str(created.session_id)
    st.rerun()


def import_report() -> None:
    report = st.session_state.get("import_report")
    if report is None:
        return
    st.success(f"Imported {report.describe()}.")
    if report.skipped or report.duplicates:
        with st.expander("Skipped files and duplicates"):
            for line in [*report.skipped, *report.duplicates]:
                st.text(line)


def _default_target(accuracy: float) -> int:
    """The next multiple of 5 % above the last accuracy (at most 99 %), in percent."""
    return min(99, (int(accuracy * 100) // 5 + 1) * 5)


def stopping_section(
    session_id: int, config: labeling.SessionConfig, audit: labeling.Audit | None
) -> None:
    """The curve with its 95 % band and extrapolation, the kappa per retrain and the
    rule's verdict, with what the rules did when they were checked."""
    window_col, threshold_col, target_col = st.columns(3)
    window = window_col.number_input(
        "Stable over (retrains)", min_value=1, max_value=20, value=stopping.KAPPA_WINDOW,
        key="stop_window",
        help="How many consecutive retrains the kappa must stay at the threshold.",
    )  # fmt: skip
    threshold = threshold_col.number_input(
        "Kappa threshold", min_value=0.5, max_value=1.0, step=0.005,
        value=stopping.KAPPA_THRESHOLD, format="%.3f", key="stop_threshold",
        help="Cohen's kappa between consecutive models' predictions on a fixed set of "
        "pool images that is never shown for labeling (Bloodgood & Vijay-Shanker 2009).",
    )  # fmt: skip
    with Store() as store:
        last = store.session_rounds(session_id)[-1]["test_accuracy"] or 0.0
        target = target_col.number_input(
            "Target accuracy (%)", min_value=1, max_value=100, value=_default_target(last),
            key="stop_target",
            help="How many more labels the fitted curve needs to reach it.",
        )  # fmt: skip
        advice = labeling.stopping_advice(
            store, session_id, config, window=int(window), threshold=float(threshold),
            target=target / 100,
        )  # fmt: skip
    extrapolation = advice.extrapolation
    st.plotly_chart(
        charts.labeling_curve_figure(
            advice.points,
            audit.simulated if audit else [],
            extrapolated=None if extrapolation is None or extrapolation.reason else
            extrapolation.curve(),
        ),
        key="label_curve",
    )  # fmt: skip
    st.caption(advice.interval_note)
    verdict = advice.rule.message()
    (st.success if advice.rule.stable_now else st.info)(verdict)
    if extrapolation is not None:
        st.markdown(extrapolation.message())
    st.caption(stopping.validation_note())
    with lazy_expander("Per retrain: accuracy, interval and kappa", "retrains_open") as section:
        if section.open:
            st.dataframe(advice.table(), hide_index=True)


def audit_section(session_id: int, audit: labeling.Audit) -> None:
    """The human labels against the hidden truth, and the simulated curve's button."""
    with lazy_expander("Audit against the hidden true labels", "audit_open") as section:
        if not section.open:
            return
        if audit.agreement is None:
            st.caption("No labels to audit yet.")
        else:
            st.markdown(
                f"You agree with the ground truth on **{audit.agreement:.1%}** of "
                f"{audit.labeled} labels."
            )
            st.dataframe(audit_table(audit.per_class), hide_index=True)
        with Store() as store:
            audit_state = labeling.job_state(store, session_id, "audit")
        if audit_state.status in ("queued", "running"):
            st.info("The simulated run is training in the background…")
        elif audit_state.status == "failed":
            st.error(f"The simulated run failed: {audit_state.error}")
        if st.button("Run the simulated curve (same configuration, true labels)"):
            with Store() as store:
                try:
                    labeling.request_audit(store, session_id)
                except ALError as exc:
                    st.error(str(exc))


def proposals_section(
    session_id: int, config: labeling.SessionConfig, use_pseudo: bool, proposals: list[dict]
) -> None:
    """The model's most confident unlabeled images, to accept as pseudo-labels (their
    images read and drawn only while the section is open)."""
    if "pseudo_stored" in st.session_state:
        st.success(f"Stored {st.session_state.pop('pseudo_stored')} pseudo-labels.")
    # One label whatever the count: a stateful expander's label is part of its identity,
    # and a new one would close it (after each review, when the count changes).
    with lazy_expander("Auto-labeling review", "proposals_open") as section:
        if not section.open:
            return
        st.toggle(
            "Train with accepted pseudo-labels",
            value=use_pseudo,
            key="use_pseudo",
            on_change=set_use_pseudo,
            args=(session_id,),
        )
        if not proposals:
            st.caption(
                "Proposals come with each retrain: the model's most confident unlabeled images."
            )
        else:
            st.caption(f"{len(proposals)} proposals from the last retrain.")
            with Store() as store:
                images = [labeling.item_image(store, session_id, p["item"]) for p in proposals]
            with st.form("proposals"):
                columns = st.columns(5)
                for i, (proposal, image) in enumerate(zip(proposals, images, strict=True)):
                    with columns[i % 5]:
                        st.image(image, width=120)
                        st.checkbox(
                            f"{config.class_names[proposal['label']]} "
                            f"({proposal['confidence']:.0%})",
                            value=True,
                            key=f"accept_{proposal['item']}",
                        )
                if st.form_submit_button("Store the checked ones as pseudo-labels"):
                    accepted = [
                        p["item"] for p in proposals if st.session_state[f"accept_{p['item']}"]
                    ]
                    with Store() as store:
                        stored = labeling.review_proposals(store, session_id, accepted, me())
                    st.session_state["pseudo_stored"] = stored
                    st.rerun()


def export_section(session_id: int) -> None:
    """The labels as CSV and JSON, the images by class as a zip (built when asked)."""
    st.subheader("Export")
    with Store() as store:
        csv_data = labeling.export_csv(store, session_id)
        json_data = labeling.export_json(store, session_id)
    left, middle, right = st.columns(3)
    stem = f"labels-session-{session_id}"
    left.download_button("Labels (CSV)", csv_data, f"{stem}.csv", "text/csv")
    middle.download_button("Labels (JSON)", json_data, f"{stem}.json", "application/json")

    def zip_export() -> bytes:
        with Store() as store:
            return labeling.export_zip(store, session_id)

    right.download_button("Images by class (zip)", zip_export, f"{stem}.zip", "application/zip")
