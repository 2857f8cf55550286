"""Uploaded data sets on the pages, under Streamlit's AppTest: offered in the
Experiments form's choices with their data check and launched from there, deleted
after a confirmation (the stored experiment stays), offered as a labeling pool on the
Label page; the data check of a typed path stays inside the data root."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from al_core import user_datasets
from al_core.store import Store
from tests.app_helpers import button, page_texts
from tests.upload_files import shapes_zip

PAGES = Path(__file__).resolve().parent.parent / "pages"


def test_experiments_page_offers_checks_launches_and_deletes(data_dir: Path) -> None:
    stored = user_datasets.save_upload(shapes_zip(per_class=12), "s.zip", "My shapes")
    app = AppTest.from_file(str(PAGES / "experiments.py"), default_timeout=90).run()
    assert not app.exception
    box = app.selectbox(key="dataset")
    assert "My shapes (uploaded image folder)" in box.options
    assert "Data check" not in page_texts(app)  # digits: only when asked
    box.set_value(stored.source).run()
    assert not app.exception
    text = page_texts(app)
    assert "**Data check** · 29 pool / 7 test images, 16×16×3, 3 classes" in text
    assert "No file was skipped." in text
    assert len(app.get("image")) == 3  # one grid of samples per class

    values = {"model": "softmax", "fractions": "0, 1", "trials": 1, "rounds": 1}
    values |= {"initial": 6, "batch": 3, "epochs": 2, "min_steps": 10, "name": "mine"}
    for key, value in values.items():
        app.get_by_key(key).set_value(value)
    app.checkbox(key="extend_baseline").uncheck()
    app.button(key="launch").click().run()
    assert not app.exception
    with Store(data_dir / "al.sqlite3") as store:
        (experiment,) = store.experiments()
    assert experiment["config"]["base"]["dataset"] == stored.source
    assert f"Experiment {experiment['id']} queued" in page_texts(app)

    app.button(key="delete_my-shapes").click().run()
    assert "Delete the data set **My shapes**?" in page_texts(app)
    assert stored.folder.is_dir()  # asked, not done
    app.button(key="keep_my-shapes").click().run()
    assert "Delete the data set" not in page_texts(app) and stored.folder.is_dir()
    app.button(key="delete_my-shapes").click().run()
    app.button(key="confirm_my-shapes").click().run()
    assert not app.exception
    assert "Deleted the data set **My shapes**" in page_texts(app)
    assert not stored.folder.exists()
    assert stored.source not in app.selectbox(key="dataset").options
    with Store(data_dir / "al.sqlite3") as store:
        assert [e["id"] for e in store.experiments()] == [experiment["id"]]
        from al_core.runner import cancel_experiment

        cancel_experiment(store, experiment["id"])


def test_the_check_of_a_typed_path_stays_in_the_data_root(data_dir: Path) -> None:
    app = AppTest.from_file(str(PAGES / "experiments.py"), default_timeout=60).run()
    app.selectbox(key="dataset").set_value("other (npz:PATH or folder:PATH)").run()
    app.text_input(key="dataset_path").input("folder:/etc").run()
    app.button(key="run_check").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any(
        "The data check failed" in e and "outside the allowed data root" in e for e in errors
    )


def test_label_page_offers_uploaded_image_folders(data_dir: Path) -> None:
    stored = user_datasets.save_upload(shapes_zip(per_class=8), "s.zip", "Label me")
    app = AppTest.from_file(str(PAGES / "label.py"), default_timeout=60).run()
    app.radio(key="new_source").set_value("folder").run()
    choice = app.selectbox(key="new_uploaded")
    assert choice.options == [
        "none: use the folder typed below",
        "Label me (uploaded image folder)",
    ]
    choice.set_value("label-me")
    app.text_input(key="new_name").input("from an upload")
    button(app, "Create session").click().run()
    assert not app.exception
    with Store(data_dir / "al.sqlite3") as store:
        (session,) = store.sessions()
    config = session["config"]
    assert config["source"] == "folder"
    assert config["folder"] == stored.source.partition(":")[2]
    assert config["class_names"] == ["bars", "columns", "discs"]
