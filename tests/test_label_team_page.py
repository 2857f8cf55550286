"""The Label page's team parts under Streamlit's AppTest, over a real store: the name
box (refused names say why and change nothing; a saved name is kept in the URL and
stored with each answer), two annotators handed different images, the overlap
setting, the agreement table (its kappa is scikit-learn's) and the review list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import cohen_kappa_score
from streamlit.testing.v1 import AppTest

from al_core import labeling
from al_core.store import Store
from tests.app_helpers import button, page_texts

LABEL = str(Path(__file__).resolve().parent.parent / "pages" / "label.py")


def _session(data_dir: Path, batch: int = 6) -> tuple[int, list[str]]:
    """A digits session with its first (cold-start) batch, queried by the worker's code."""
    with Store(data_dir / "al.sqlite3") as store:
        sid = labeling.create_session(store, "team", dataset="digits", batch=batch).session_id
        store.request_session_job(sid, "train")
        labeling.process_jobs(store, sid, labeling.SessionWorker(sid))
        return sid, store.latest_session_batch(sid)["items"]


def _app(session_id: int, annotator: str | None = None) -> AppTest:
    app = AppTest.from_file(LABEL, default_timeout=60)
    app.query_params["session"] = str(session_id)
    if annotator is not None:
        app.query_params["annotator"] = annotator
    return app


def _shown_item(app: AppTest) -> str:
    (caption,) = [c for c in (i.proto.imgs[0].caption for i in app.get("image")) if c]
    return caption.removeprefix("item ")


def test_name_box_refuses_bad_names_keeps_a_good_one_and_stores_it(data_dir: Path) -> None:
    sid, items = _session(data_dir)
    app = _app(sid).run()
    assert not app.exception, app.exception
    assert "Type your name once" in page_texts(app)
    for typed, reason in (
        ("   ", "type your name (at least one character)"),
        ("x" * 41, "a name has at most 40 characters; this one has 41"),
    ):
        app.text_input(key="annotator_name").input(typed)
        button(app, "Save name").click().run()
        assert f"Name not saved: {reason}" in page_texts(app)
        assert "annotator" not in app.query_params
    with Store(data_dir / "al.sqlite3") as store:
        assert store.labels(sid) == [] and store.claims(sid)[0]["annotator"] == "anonymous"

    app.text_input(key="annotator_name").input("  Ann ")
    button(app, "Save name").click().run()
    assert not app.exception, app.exception
    assert app.query_params["annotator"] == "Ann"
    assert "You label as **Ann**." in page_texts(app)
    assert _shown_item(app) == items[0]
    app.button(key="class_3").click().run()
    assert _shown_item(app) == items[1]  # Ann now holds the second image

    # Another browser, named Bob in its address: handed an image nobody holds.
    bob = _app(sid, "Bob").run()
    assert "You label as **Bob**." in page_texts(bob)
    assert _shown_item(bob) == items[2]
    bob.button(key="class_5").click().run()
    # A reload of Ann's page (the same address) keeps her name and her image.
    again = _app(sid, "Ann").run()
    assert "You label as **Ann**." in page_texts(again) and _shown_item(again) == items[1]
    with Store(data_dir / "al.sqlite3") as store:
        assert [(r["item"], r["annotator"], r["label"]) for r in store.labels(sid)] == [
            (items[0], "Ann", 3),
            (items[2], "Bob", 5),
        ]
    # A name in the address that cannot be used says so; labeling goes on anonymously.
    odd = _app(sid, "y" * 60).run()
    assert not odd.exception
    assert "The name in the address cannot be used: a name has at most 40" in page_texts(odd)


def test_overlap_setting_refuses_100_percent_and_saves_a_share(data_dir: Path) -> None:
    sid, _ = _session(data_dir)
    app = _app(sid).run()
    assert "10% of the images are shown to two annotators" in page_texts(app)
    app.number_input(key="overlap_percent").set_value(100.0)
    button(app, "Save overlap").click().run()
    assert "Overlap not changed: the overlap is the share of images shown to two" in page_texts(app)
    with Store(data_dir / "al.sqlite3") as store:
        assert store.session(sid)["config"]["overlap"] == 0.1
    app.number_input(key="overlap_percent").set_value(25.0)
    button(app, "Save overlap").click().run()
    assert not app.exception
    with Store(data_dir / "al.sqlite3") as store:
        assert store.session(sid)["config"]["overlap"] == 0.25
    assert "25% of the images are shown to two annotators" in page_texts(app)


def test_agreement_table_shows_scikit_learns_kappa_and_review_settles(data_dir: Path) -> None:
    sid, items = _session(data_dir, batch=10)
    with Store(data_dir / "al.sqlite3") as store:
        labeling.set_overlap(store, sid, 0.99)
        seed = labeling.session_config(store, sid).seed
        twice = [i for i in items if labeling.is_overlap(seed, i, 0.99)]
        truth = np.load(labeling.session_dir(store, sid) / "truth.npy")
        ann = [int(truth[int(i)]) for i in twice]
        bob = [k if n % 3 else (k + 1) % 10 for n, k in enumerate(ann)]  # every third differs
        for item, a, b in zip(twice, ann, bob, strict=True):
            assert labeling.answer(store, sid, item, a, annotator="ann").stored
            assert labeling.answer(store, sid, item, b, annotator="bob").stored
    assert len(twice) >= 5
    app = _app(sid).run()
    assert not app.exception, app.exception
    pairs = next(d.value for d in app.dataframe if "annotator A" in d.value)
    assert list(pairs["annotator A"]) == ["ann"] and list(pairs["annotator B"]) == ["bob"]
    assert pairs["kappa"][0] == f"{cohen_kappa_score(ann, bob):.3f}"
    assert pairs["images"][0] == len(twice)
    # Agreement per class is drawn only once its section is opened.
    assert not [d for d in app.dataframe if "both gave it" in d.value]
    app.session_state["agreement_classes_open"] = True
    app.run()
    per_class = next(d.value for d in app.dataframe if "both gave it" in d.value)
    assert len(per_class) == 10 and per_class["images"].max() <= len(twice)
    versus = next(d.value for d in app.dataframe if "kappa vs truth" in d.value)
    assert list(versus["truth agreement"]) == ["100.0%", f"{np.mean(np.equal(bob, ann)):.1%}"]
    disputed = [i for i, a, b in zip(twice, ann, bob, strict=True) if a != b]
    assert f"Review list ({len(disputed)} disagreements)" in [e.label for e in app.expander]
    app.button(key=f"settle_button_{disputed[0]}").click().run()  # no label chosen yet
    assert f"Choose the label of item {disputed[0]} first" in page_texts(app)
    with Store(data_dir / "al.sqlite3") as store:
        assert store.reviews(sid) == []
    app.selectbox(key=f"settle_{disputed[0]}").set_value(7)
    app.button(key=f"settle_button_{disputed[0]}").click().run()
    assert not app.exception, app.exception
    with Store(data_dir / "al.sqlite3") as store:
        (review,) = store.reviews(sid)
        assert (review["item"], review["label"], review["annotator"]) == (
            disputed[0],
            7,
            "anonymous",
        )
    assert f"Review list ({len(disputed) - 1} disagreements)" in [e.label for e in app.expander]
