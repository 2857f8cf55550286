"""The Label page under Streamlit's AppTest, over a real store and real background
label workers: create a session from the form, label, skip, undo, finish a batch,
the worker retrains and a new batch of other items appears; re-created app
resumes the session; the export buttons carry the stored labels.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from al_core import labeling
from al_core.store import Store
from tests.app_helpers import button, page_texts

LABEL = str(Path(__file__).resolve().parent.parent / "pages" / "label.py")


def _app(session_id: int | None = None) -> AppTest:
    app = AppTest.from_file(LABEL, default_timeout=60)
    if session_id is not None:
        app.query_params["session"] = str(session_id)
    return app


def _wait_for_round(data_dir: Path, session_id: int, round_index: int) -> list[str]:
    deadline = time.monotonic() + 150
    with Store(data_dir / "al.sqlite3") as store:
        while time.monotonic() < deadline:
            # Any stored batch of that round: with the pipeline the worker may have
            # prepared the one after it before this poll looks.
            for batch in store.session_batches(session_id):
                if batch["round"] == round_index:
                    return batch["items"]
            row = store.session(session_id)
            assert row["train_status"] != "failed", row["train_error"]
            time.sleep(0.3)
    pytest.fail(f"the background worker wrote no batch {round_index} in 150 s")


def _progress(app: AppTest) -> str:
    return app.get("progress")[0].proto.text


def test_label_skip_undo_finish_retrain_resume_export(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app().run()
    assert not app.exception
    assert "No labeling session yet" in page_texts(app)
    app.text_input(key="new_name").input("page test")
    app.number_input(key="new_test_size").set_value(0)  # the digits' default test split
    app.number_input(key="new_batch").set_value(5)
    app.button[0].click().run()  # "Create session" (the form's submit button)
    assert not app.exception, app.exception
    with Store(data_dir / "al.sqlite3") as store:
        (session,) = store.sessions()
    session_id = session["id"]
    assert app.query_params["session"] == str(session_id)
    assert session["config"]["batch"] == 5 and session["config"]["dataset"] == "digits"

    first = _wait_for_round(data_dir, session_id, 0)
    app.run()
    assert _progress(app) == "Batch 1: 0 of 5 answered"
    # The default first batch is cluster-diverse: said so, with why there is no model yet.
    assert (
        "Picked as the most typical image of a k-means region of the pool: there is no "
        "trained model yet" in page_texts(app)
    )
    assert app.get("image"), "the current image is shown"
    # The digits' buttons read "0" … "9", the session's class names, in order; Streamlit
    # shows each button's shortcut key (the digit) beside it.
    assert [app.button(key=f"class_{k}").label for k in range(10)] == [str(k) for k in range(10)]
    assert session["config"]["class_names"] == [str(k) for k in range(10)]
    assert "0 labels, 0 not sure, 0 pseudo" in page_texts(app)
    app.button(key="class_3").click().run()
    assert "1 labels, 0 not sure, 0 pseudo" in page_texts(app)  # counts follow every answer
    with Store(data_dir / "al.sqlite3") as store:
        (row,) = store.labels(session_id)
    assert (row["item"], row["label"], row["source"]) == (first[0], 3, "human")
    assert row["seconds"] is not None and row["seconds"] >= 0

    button(app, "Skip").click().run()
    assert _progress(app) == "Batch 1: 2 of 5 answered"
    button(app, "Undo").click().run()
    assert _progress(app) == "Batch 1: 1 of 5 answered"
    assert f"Undid the skip of item {first[1]}." in page_texts(app)
    button(app, "Not sure").click().run()
    assert "1 labels, 1 not sure, 0 pseudo" in page_texts(app)
    button(app, "Undo").click().run()
    assert f"Undid your answer **not sure** for item {first[1]}." in page_texts(app)
    assert "1 labels, 0 not sure, 0 pseudo" in page_texts(app)
    button(app, "Not sure").click().run()
    for k in (0, 1, 2):
        app.button(key=f"class_{k}").click().run()
    assert not app.exception
    # Pipelined (al_core.labeling.pipeline): the next batch was asked for with 3 of 5
    # left, so it may be here already; then it is shown at once, without "Batch done".
    assert "Batch done" in page_texts(app) or _progress(app) == "Batch 2: 0 of 5 answered"
    with Store(data_dir / "al.sqlite3") as store:
        labels = {r["item"]: r["label"] for r in store.labels(session_id)}
    assert labels == dict(zip(first, [3, -1, 0, 1, 2], strict=True))

    second = _wait_for_round(data_dir, session_id, 1)
    assert not set(first) & set(second)
    app.run()
    assert _progress(app) == "Batch 2: 0 of 5 answered"
    assert "Uncertainty (least confidence)" in page_texts(app)
    assert app.get("plotly_chart"), "the learning curve is drawn after the first retrain"

    # A new app (another tab, or after a restart) resumes the same session and batch.
    resumed = _app(session_id)
    resumed.session_state["audit_open"] = True  # the audit's section, opened
    resumed.run()
    assert not resumed.exception
    assert _progress(resumed) == "Batch 2: 0 of 5 answered"
    assert "4 labels, 1 not sure" in page_texts(resumed)
    # The audit's agreement per class: percentages, "—" for classes without labels.
    audit = next(d.value for d in resumed.dataframe if "agreement" in d.value)
    assert len(audit) == 10
    for labeled, agreed, shown in zip(
        audit["labeled"], audit["agreed"], audit["agreement"], strict=True
    ):
        assert shown == ("—" if labeled == 0 else f"{agreed / labeled:.0%}")
    assert (audit["labeled"] == 0).sum() >= 6  # 4 labels cover at most 4 classes

    # The download buttons carry the stored labels (read where Streamlit keeps them).
    files = _record_downloads(monkeypatch)
    resumed.run()
    downloads = resumed.get("download_button")
    assert [d.proto.label for d in downloads] == [
        "Labels (CSV)",
        "Labels (JSON)",
        "Images by class (zip)",
    ]
    rows = list(csv.DictReader(io.StringIO(files[f"labels-session-{session_id}.csv"].decode())))
    assert [(r["item"], r["label"], r["source"]) for r in rows] == [
        (i, str(labels[i]), "human") for i in first
    ]
    assert rows[0]["label_name"] == "3" and float(rows[0]["seconds"]) >= 0
    document = json.loads(files[f"labels-session-{session_id}.json"])
    assert document["session"]["id"] == session_id
    assert [r["item"] for r in document["labels"]] == first


def _record_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Spy on Streamlit's in-memory media storage: file name -> bytes it was given."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001
        if filename and isinstance(path_or_data, bytes):
            files[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)
    return files


def test_bad_upload_in_the_form_shows_the_reason(data_dir: Path) -> None:
    app = _app().run()
    app.radio(key="new_source").set_value("folder").run()
    app.text_input(key="new_name").input("outside")
    app.text_input(key="new_folder").input("/etc")
    app.text_input(key="new_class_names").input("a, b")
    app.button[0].click().run()
    assert not app.exception
    assert "outside the allowed data root" in page_texts(app)
    with Store(data_dir / "al.sqlite3") as store:
        assert store.sessions() == []


def test_auto_label_review_switch_and_audit(data_dir: Path) -> None:
    with Store(data_dir / "al.sqlite3") as store:
        session_id = labeling.create_session(
            store, "review", dataset="digits", batch=5, epochs=5
        ).session_id
        worker = labeling.SessionWorker(session_id)
        for _ in range(2):  # cold start, then a retrain on the truth of the first batch
            store.request_session_job(session_id, "train")
            labeling.process_jobs(store, session_id, worker)
            truth = np.load(labeling.session_dir(store, session_id) / "truth.npy")
            if store.latest_session_batch(session_id)["round"] == 0:
                for item in store.latest_session_batch(session_id)["items"]:
                    labeling.answer(store, session_id, item, int(truth[int(item)]))
        proposed = labeling.proposals(store, session_id)
    assert len(proposed) == 10

    app = _app(session_id).run()
    assert not app.exception
    # Closed, the review and the audit are one line each: no images, no widgets inside
    # (every element below the labeler's view is redrawn at each key press).
    expanders = [e.label for e in app.expander]
    assert "Auto-labeling review" in expanders
    assert "Audit against the hidden true labels" in expanders
    assert not [c for c in app.checkbox if str(c.key).startswith("accept_")]
    assert "You agree with the ground truth" not in page_texts(app)
    app.session_state["proposals_open"] = True  # as a click on each opens it
    app.session_state["audit_open"] = True
    app.run()
    accept = [c.key for c in app.checkbox if str(c.key).startswith("accept_")]
    assert sorted(accept) == sorted(f"accept_{p['item']}" for p in proposed)
    assert "You agree with the ground truth on **100.0%** of 5 labels." in page_texts(app)
    app.checkbox(key=f"accept_{proposed[0]['item']}").uncheck()
    button(app, "Store the checked ones as pseudo-labels").click().run()
    assert not app.exception
    assert "Stored 9 pseudo-labels." in page_texts(app)
    with Store(data_dir / "al.sqlite3") as store:
        pseudo = {r["item"] for r in store.labels(session_id) if r["source"] == "pseudo"}
    assert pseudo == {p["item"] for p in proposed[1:]}

    app.toggle(key="use_pseudo").set_value(False).run()
    with Store(data_dir / "al.sqlite3") as store:
        assert store.session(session_id)["use_pseudo"] == 0

    button(app, "Run the simulated curve (same configuration, true labels)").click().run()
    deadline = time.monotonic() + 150
    with Store(data_dir / "al.sqlite3") as store:
        while labeling.audit(store, session_id).simulation_status != "done":
            assert store.session(session_id)["audit_status"] != "failed"
            assert time.monotonic() < deadline, "the simulated run did not finish in 150 s"
            time.sleep(0.5)
    app.run()
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    # The band of the 95 % intervals under the curve; too few points to extrapolate.
    assert [trace["name"] for trace in figure["data"]] == [
        "95 % interval",
        "your labels",
        "simulated (true labels)",
    ]
    # Same labels (all true), same seed: the simulated point is the human one.
    assert figure["data"][1]["y"][0] == pytest.approx(figure["data"][2]["y"][0])


def test_two_tabs_never_store_two_labels_without_an_explicit_relabel(data_dir: Path) -> None:
    with Store(data_dir / "al.sqlite3") as store:
        session_id = labeling.create_session(store, "tabs", dataset="digits", batch=5).session_id
        store.request_session_job(session_id, "train")
        labeling.process_jobs(store, session_id, labeling.SessionWorker(session_id))
        item = store.latest_session_batch(session_id)["items"][0]
    first, second = _app(session_id).run(), _app(session_id).run()
    first.button(key="class_1").click().run()
    second.button(key="class_2").click().run()  # still showing the same item
    assert not second.exception
    assert f"Item {item} was already labeled **1**" in page_texts(second)
    with Store(data_dir / "al.sqlite3") as store:
        assert [(r["item"], r["label"]) for r in store.labels(session_id)] == [(item, 1)]
    button(second, f"Relabel item {item} as 2").click().run()
    with Store(data_dir / "al.sqlite3") as store:
        assert [(r["item"], r["label"]) for r in store.labels(session_id)] == [(item, 2)]
    assert "already labeled" not in page_texts(second)
