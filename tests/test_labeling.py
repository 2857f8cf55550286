"""The labeling engine (al_core.labeling): sessions over real SQLite files, real
Keras retraining through the loop, a real background worker process, uploads and
folders with bad input, the audit and the exports.

Retrains run the worker's own code in this process (``process_jobs``), except in
the test that starts the real ``label-worker`` process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from al_core import cli, labeling
from al_core.errors import ConfigError, DatasetError, StoreError
from al_core.store import Store
from tests.app_helpers import retrain_session, session_truth

FAST = {"batch": 10, "epochs": 5, "model": "mlp"}


@pytest.fixture
def store(data_store: Store) -> Store:
    return data_store


def _png(color: int | tuple[int, ...], size=(20, 20), mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _two_class_images(n: int = 15) -> dict[str, bytes]:
    """Dark and bright squares with a little noise, so no two files are equal."""
    rng = np.random.default_rng(0)
    files = {}
    for i in range(n):
        for name, base in (("dark", 30), ("bright", 220)):
            pixels = np.clip(base + rng.integers(-20, 20, (16, 16)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "PNG")
            files[f"{name}/{i}.png"] = buffer.getvalue()
    return files


# --------------------------------------------------------------------------- built-in flow


def test_builtin_session_label_skip_undo_retrain_audit_export(store: Store) -> None:
    created = labeling.create_session(store, "digits", dataset="digits", **FAST)
    sid = created.session_id
    config = labeling.session_config(store, sid)
    assert config.class_names == tuple("0123456789") and config.strategy == "least_confidence"
    assert labeling.current_batch(store, sid) is None
    worker = labeling.SessionWorker(sid)
    assert not labeling.process_jobs(store, sid, worker)  # nothing queued

    retrain_session(store, sid, worker)  # cold start
    batch = labeling.current_batch(store, sid)
    assert batch.round == 0 and batch.kind == "cold start" and len(batch.items) == 10
    assert batch.current == batch.items[0] and batch.done == 0
    truth = session_truth(store, sid)
    first, second, third = (item.item for item in batch.items[:3])

    result = labeling.answer(store, sid, first, int(truth[int(first)]), seconds=1.5)
    assert result.stored and not result.batch_finished
    # A second tab answering the same item does not overwrite it …
    other_tab = labeling.answer(store, sid, first, (int(truth[int(first)]) + 1) % 10)
    assert not other_tab.stored and other_tab.existing == int(truth[int(first)])
    # … an explicit relabel does (and then goes back to the truth).
    assert labeling.answer(store, sid, first, 0, relabel=True).stored
    assert store.label_of(sid, first)["label"] == 0
    labeling.answer(store, sid, first, int(truth[int(first)]), seconds=1.5, relabel=True)

    assert not labeling.skip(store, sid, second)
    labeling.answer(store, sid, third, labeling.NOT_SURE, seconds=0.5)
    batch = labeling.current_batch(store, sid)
    assert batch.done == 3 and batch.items[1].skipped and batch.items[2].label == -1
    assert labeling.undo(store, sid) == third  # the latest answer first
    assert labeling.undo(store, sid) == second
    batch = labeling.current_batch(store, sid)
    assert batch.done == 1 and batch.current.item == second

    with pytest.raises(ConfigError, match="out of range"):
        labeling.answer(store, sid, second, 10)
    with pytest.raises(ConfigError, match="not in the current batch"):
        labeling.answer(store, sid, "999999", 1)

    wrong = batch.items[-1].item  # one deliberate mistake, for the audit
    for item in batch.items[1:]:
        label = int(truth[int(item.item)])
        if item.item == wrong:
            label = (label + 1) % 10
        result = labeling.answer(store, sid, item.item, label, seconds=2.0)
    assert result.batch_finished

    retrain_session(store, sid, worker)
    (point,) = labeling.learning_curve(store, sid)
    assert point["round"] == 0 and point["labeled"] == 10 and point["held_out"] == 0
    assert 0.0 <= point["test_accuracy"] <= 1.0
    new = labeling.current_batch(store, sid)
    assert new.round == 1 and new.kind == "least_confidence" and new.done == 0
    old_items = {item.item for item in batch.items}
    assert len(new.items) == 10 and not old_items & {item.item for item in new.items}
    for item in new.items:
        probs = [p for _, p in item.top3]
        assert len(item.top3) == 3 and probs == sorted(probs, reverse=True)
        assert 0.0 <= item.score <= 1.0
    scores = [item.score for item in new.items]
    assert scores == sorted(scores, reverse=True)  # least sure first

    # Auto-labeling review: the model's surest unlabeled images, not in the batch.
    proposed = labeling.proposals(store, sid)
    assert len(proposed) == 10
    assert not {p["item"] for p in proposed} & ({i.item for i in new.items} | old_items)
    accepted = [p["item"] for p in proposed[:3]]
    assert labeling.review_proposals(store, sid, accepted) == 3
    assert labeling.proposals(store, sid) == []
    assert labeling.counts(store, sid) == {"human": 10, "not_sure": 0, "pseudo": 3}
    labeling.set_use_pseudo(store, sid, False)
    assert store.session(sid)["use_pseudo"] == 0

    report = labeling.audit(store, sid)
    assert report.labeled == 10 and report.agreement == pytest.approx(0.9)
    assert sum(row["labeled"] for row in report.per_class) == 10
    assert sum(row["agreed"] for row in report.per_class) == 9
    store.request_session_job(sid, "audit")  # what request_audit queues, run here
    assert labeling.process_jobs(store, sid, worker)
    report = labeling.audit(store, sid)
    assert report.simulation_status == "done"
    assert [r["labeled"] for r in report.simulated] == [10]  # same first batch, one round

    rows = list(csv.DictReader(io.StringIO(labeling.export_csv(store, sid).decode())))
    assert len(rows) == 13 and tuple(rows[0]) == labeling.EXPORT_COLUMNS
    assert rows[0]["item"] == first and float(rows[0]["seconds"]) == 1.5
    assert [r["source"] for r in rows].count("pseudo") == 3
    document = json.loads(labeling.export_json(store, sid))
    assert document["session"]["id"] == sid and len(document["labels"]) == 13
    with zipfile.ZipFile(io.BytesIO(labeling.export_zip(store, sid))) as archive:
        names = archive.namelist()
    assert len(names) == 13
    expected = {f"{int(truth[int(first)])}/{first}.png"}
    assert expected <= set(names)
    shown = labeling.item_image(store, sid, new.items[0].item)
    assert shown.size == (256, 256)  # 8x8 digits, upscaled 32x with nearest neighbour
    assert len(set(np.asarray(shown).ravel().tolist())) <= 64  # no blur: no new grey levels


def test_cold_start_is_reproducible_and_clusters_spread(store: Store) -> None:
    batches = []
    for mode in ("random", "random", "clusters"):
        sid = labeling.create_session(store, mode, dataset="digits", cold_start=mode, **FAST)
        retrain_session(store, sid.session_id, labeling.SessionWorker(sid.session_id))
        batches.append([item.item for item in labeling.current_batch(store, sid.session_id).items])
    assert batches[0] == batches[1]
    truth = session_truth(store, sid.session_id)
    clusters = [int(i) for i in batches[2]]
    assert len(set(clusters)) == 10
    # TypiClust on pixel features (the simulations' typical start): most digit classes.
    assert len(set(truth[clusters])) >= 8


def test_batchbald_session_trains_with_dropout_and_queries_a_joint_batch(store: Store) -> None:
    """Every strategy is offered, BatchBALD too: its session trains with dropout (stored
    in the config) and its worker picks the next batch by joint mutual information."""
    choices = labeling.strategy_choices()
    assert choices[0] == "least_confidence"
    assert {"bald", "batchbald", "margin", "random", "typiclust", "auto"} <= set(choices)
    plain = labeling.create_session(store, "plain", dataset="digits", **FAST).session_id
    assert labeling.session_config(store, plain).dropout == 0.0
    sid = labeling.create_session(
        store, "bb", dataset="digits", strategy="batchbald", **FAST
    ).session_id
    config = labeling.session_config(store, sid)
    assert config.strategy == "batchbald" and config.dropout == 0.5
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)  # the cold start
    truth = session_truth(store, sid)
    first = labeling.current_batch(store, sid)
    for item in first.items:
        labeling.answer(store, sid, item.item, int(truth[int(item.item)]))
    retrain_session(store, sid, worker)
    batch = labeling.current_batch(store, sid)
    assert batch.round == 1 and batch.kind == "batchbald"
    picked = [item.item for item in batch.items]
    assert len(set(picked)) == 10 and not set(picked) & {item.item for item in first.items}
    # Each score is the pick's gain in joint information (nats): positive, at most log K.
    scores = [item.score for item in batch.items]
    assert all(0 < score <= np.log(10) + 1e-6 for score in scores), scores
    assert labeling.learning_curve(store, sid)[0]["labeled"] == 10


def test_repeated_requests_keep_the_batch_and_a_request_while_running_is_kept(
    store: Store,
) -> None:
    sid = labeling.create_session(store, "again", dataset="digits", **FAST).session_id
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)
    first = labeling.current_batch(store, sid)
    retrain_session(store, sid, worker)  # e.g. two tabs asked: nothing new, same batch
    assert labeling.current_batch(store, sid) == first
    truth = session_truth(store, sid)
    for item in first.items:
        labeling.answer(store, sid, item.item, int(truth[int(item.item)]))
    # The batch is finished while a job still runs (it read the labels before): the
    # request is kept, and the worker runs the job again when the first one ends.
    store.request_session_job(sid, "train")
    assert store.claim_session_job(sid, "train")
    store.request_session_job(sid, "train")
    store.finish_session_job(sid, "train")
    assert store.session(sid)["train_status"] == "queued"
    assert labeling.process_jobs(store, sid, worker)
    assert labeling.current_batch(store, sid).round == 1


def test_bad_session_settings_are_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="unknown strategy"):
        labeling.create_session(store, "x", dataset="digits", strategy="guess")
    with pytest.raises(DatasetError, match="unknown built-in"):
        labeling.create_session(store, "x", dataset="imagenet")
    with pytest.raises(ConfigError, match="exactly one pool"):
        labeling.create_session(store, "x", dataset="digits", upload=b"")
    with pytest.raises(ConfigError, match="unknown cold start"):
        labeling.create_session(store, "x", dataset="digits", cold_start="nearest")
    assert store.sessions() == []


# --------------------------------------------------------------------------- user images


def _bad_files() -> dict[str, bytes]:
    good = _png(10)
    noise = np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    return {
        "cat/a.png": good,
        "cat/b.jpg": _jpeg_rgb(),
        "cat/copy.png": good,  # same bytes as cat/a.png
        "cat/truncated.png": truncated,
        "dog/c.png": _png((255, 0, 0, 128), size=(24, 12), mode="RGBA"),
        "dog/d.png": _png(128, size=(30, 30)),
        "dog/readme.txt": b"not an image",
        "dog/huge.png": _png(50, size=(200, 200)),
        ".DS_Store": b"junk",
        "__MACOSX/cat/._a.png": b"junk",
    }


def _jpeg_rgb() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 128, 255)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_upload_skips_bad_files_keeps_good_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # 200x200 is now a bomb
    created = labeling.create_session(store, "mine", upload=_zip(_bad_files()), batch=5)
    report = created.report
    assert report.images == 4 and report.class_names_from == "subfolders"
    assert report.image_size == (32, 32) and report.channels == 3  # mixed modes -> RGB
    skipped = "\n".join(report.skipped)
    assert "dog/readme.txt: not an image" in skipped
    assert "cat/truncated.png: truncated image file" in skipped
    assert "dog/huge.png: decompression bomb" in skipped
    assert report.duplicates == ("cat/copy.png: same bytes as cat/a.png",)
    config = labeling.session_config(store, created.session_id)
    assert config.class_names == ("cat", "dog") and config.source == "upload"
    names = labeling.item_names(store, created.session_id)
    assert names == ("cat/a.png", "cat/b.jpg", "dog/c.png", "dog/d.png")


def _zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat/a.png", _png(1))
        info = zipfile.ZipInfo("cat/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cat/a.png", _png(1))
        archive.writestr("cat/bomb.png", b"\0" * (20 * 2**20))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_zip({"../evil.png": _png(1), "cat/a.png": _png(2)}), "'..' path"),
        (_zip({"/abs/evil.png": _png(1)}), "absolute path"),
        (_zip({"C:/evil.png": _png(1)}), "absolute path"),
        (_zip_with_symlink(), "symbolic link"),
        (_zip_bomb(), "zip bomb"),
        (_zip({}), "holds no file"),
        (_zip({"cat/": b"", ".hidden": b"x"}), "holds no file"),
        (b"PK\x03\x04 this is not really a zip", "not a zip file"),
        (_zip({"cat/a.txt": b"text", "dog/b.txt": b"more"}), "none of the 2 files"),
        (_zip({"a.png": _png(1), "b.png": _png(2)}), "no class names"),
    ],
)
def test_refused_uploads_store_nothing_and_lose_nothing(
    store: Store, tmp_path: Path, upload: bytes, message: str
) -> None:
    kept = labeling.create_session(store, "kept", dataset="digits", **FAST).session_id
    retrain_session(store, kept, labeling.SessionWorker(kept))
    item = labeling.current_batch(store, kept).items[0].item
    labeling.answer(store, kept, item, 3)
    with pytest.raises(DatasetError, match=message):
        labeling.create_session(store, "bad", upload=upload)
    assert [s["id"] for s in store.sessions()] == [kept]
    assert store.label_of(kept, item)["label"] == 3
    assert sorted(p.name for p in (tmp_path / "sessions").iterdir()) == [str(kept)]
    assert not (tmp_path.parent / "evil.png").exists()


def test_upload_over_the_size_limit_is_refused(store: Store) -> None:
    data = _zip(_two_class_images(3))
    with pytest.raises(DatasetError, match="over the limit of"):
        labeling.create_session(store, "big", upload=data, max_upload_bytes=len(data) - 1)
    assert store.sessions() == []


def test_typed_class_names_and_user_data_held_out_curve(store: Store) -> None:
    files = {name.replace("/", "-"): data for name, data in _two_class_images(15).items()}
    created = labeling.create_session(
        store, "flat", upload=_zip(files), class_names=["dark", "bright"], **FAST
    )
    sid = created.session_id
    assert created.report.class_names_from == "typed" and created.report.channels == 1
    names = labeling.item_names(store, sid)
    worker = labeling.SessionWorker(sid)
    retrain_session(store, sid, worker)
    batch = labeling.current_batch(store, sid)
    for i, item in enumerate(batch.items):
        truth = 0 if names[int(item.item)].startswith("dark") else 1
        if i < 6:  # 4 labels (one held out would need 5) + 2 not sure
            labeling.answer(store, sid, item.item, truth if i < 4 else labeling.NOT_SURE)
        else:
            labeling.skip(store, sid, item.item)
    retrain_session(store, sid, worker)
    assert labeling.learning_curve(store, sid) == []  # nothing held out yet: no point
    batch = labeling.current_batch(store, sid)
    assert batch.kind == "cold start (too few labels to train)" and len(batch.items) == 10
    for item in batch.items:
        truth = 0 if names[int(item.item)].startswith("dark") else 1
        labeling.answer(store, sid, item.item, truth)
    retrain_session(store, sid, worker)
    (point,) = labeling.learning_curve(store, sid)
    assert point["held_out"] == 2 and point["labeled"] == 12  # every 5th of 14 labels
    # Dark vs bright squares are trivially separable: both held-out images are right.
    assert point["test_accuracy"] == 1.0
    rows = list(csv.DictReader(io.StringIO(labeling.export_csv(store, sid).decode())))
    assert rows[0]["file"] == names[int(rows[0]["item"])]
    with zipfile.ZipFile(io.BytesIO(labeling.export_zip(store, sid))) as archive:
        folders = {name.split("/")[0] for name in archive.namelist()}
    assert folders == {"dark", "bright"}
    with pytest.raises(ConfigError, match="built-in sets only"):
        labeling.audit(store, sid)
    with pytest.raises(ConfigError, match="built-in sets only"):
        labeling.request_audit(store, sid)


def test_folder_inside_the_data_root_only(store: Store, tmp_path: Path) -> None:
    images = tmp_path / "images"
    for name, data in _two_class_images(4).items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(data)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(_png(7))
    (images / "dark" / "link.png").symlink_to(outside / "secret.png")
    (tmp_path / "escape").symlink_to(outside, target_is_directory=True)

    created = labeling.create_session(store, "folder", folder="images", batch=5)
    assert created.report.images == 8
    assert any("link.png: symbolic link" in s for s in created.report.skipped)
    config = labeling.session_config(store, created.session_id)
    assert config.folder == str(images) and config.class_names == ("bright", "dark")
    for bad in (str(outside), "../" + outside.name, "escape", "/etc"):
        with pytest.raises(DatasetError, match="outside the allowed data root"):
            labeling.create_session(store, "bad", folder=bad, class_names=["a", "b"])
    with pytest.raises(DatasetError, match="does not exist"):
        labeling.create_session(store, "bad", folder="missing", class_names=["a", "b"])
    assert len(store.sessions()) == 1


def test_folder_pool_skips_and_lists_links_leading_outside(store: Store, tmp_path: Path) -> None:
    """A labeling pool inside the data root: a class folder and a file that are links
    to outside it are not read, and each is listed with the reason and the fix; links
    that stay inside the root are read."""
    images = tmp_path / "pool"
    for name, data in _two_class_images(4).items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes(data)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    (outside / "payroll").mkdir(parents=True)
    for i in range(3):
        (outside / "payroll" / f"{i}.png").write_bytes(_png(100 + i))
    (outside / "secret.png").write_bytes(_png(7))
    (images / "grey").symlink_to(outside / "payroll", target_is_directory=True)
    (images / "dark" / "link.png").symlink_to(outside / "secret.png")
    (images / "bright" / "inside.png").symlink_to(images / "dark" / "0.png")  # stays inside

    created = labeling.create_session(store, "links", folder="pool", batch=5)
    assert created.report.skipped == (
        "grey/: symbolic link to a folder outside the data root, not read "
        "(copy its images here instead)",
        "dark/link.png: symbolic link to a file outside the data root, not read "
        "(copy the file here instead)",
    )
    # 8 real images; the inside link has the bytes of dark/0.png: kept once.
    assert created.report.images == 8
    assert created.report.duplicates == ("dark/0.png: same bytes as bright/inside.png",)
    config = labeling.session_config(store, created.session_id)
    assert config.class_names == ("bright", "dark")  # "grey" was not read
    assert not any("payroll" in line or str(outside) in line for line in created.report.skipped)
    # A pool of nothing but such links: refused, saying why.
    (tmp_path / "only-links").mkdir()
    (tmp_path / "only-links" / "grey").symlink_to(outside / "payroll", target_is_directory=True)
    with pytest.raises(DatasetError) as refused:
        labeling.create_session(store, "bad", folder="only-links", class_names=["a", "b"])
    assert str(refused.value) == (
        "no file could be read, nothing was imported:\n"
        "  grey/: symbolic link to a folder outside the data root, not read "
        "(copy its images here instead)"
    )
    assert len(store.sessions()) == 1


# --------------------------------------------------------------------------- background


def test_real_worker_process_writes_the_next_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AL_LABEL_WORKER_IDLE_SECONDS", "3")
    sid = labeling.create_session(store, "bg", dataset="digits", **FAST).session_id
    labeling.request_retrain(store, sid)
    process = labeling.worker._workers[(str(store.path), sid)]
    labeling.request_retrain(store, sid)  # a second request while queued: no second worker
    assert labeling.worker._workers[(str(store.path), sid)] is process
    deadline = time.monotonic() + 120
    while labeling.current_batch(store, sid) is None and time.monotonic() < deadline:
        assert labeling.job_state(store, sid).status in ("queued", "running", "idle")
        time.sleep(0.2)
    assert labeling.current_batch(store, sid) is not None, "the worker wrote no batch"
    assert process.wait(timeout=60) == 0  # idle: it leaves by itself
    row = store.session(sid)
    assert row["worker_pid"] is None and row["train_status"] == "idle"
    log = (labeling.session_dir(store, sid) / "worker.log").read_text()
    assert "Traceback" not in log


def test_dead_worker_is_reported_and_can_be_requested_again(store: Store) -> None:
    sid = labeling.create_session(store, "dead", dataset="digits", **FAST).session_id
    store.request_session_job(sid, "train")
    store.register_session_worker(sid, os.getpid())  # alive, but not a label worker
    assert store.claim_session_job(sid, "train")
    state = labeling.job_state(store, sid)
    assert state.status == "failed" and "stopped before finishing" in state.error
    assert store.request_session_job(sid, "train") == os.getpid()
    assert store.session(sid)["train_status"] == "queued"


def test_a_worker_leaves_only_when_no_job_is_queued(store: Store) -> None:
    sid = labeling.create_session(store, "leave", dataset="digits", **FAST).session_id
    store.register_session_worker(sid, 4242)
    store.request_session_job(sid, "audit")
    assert not store.release_session_worker(sid, 4242)  # a job arrived: stay
    assert store.claim_session_job(sid, "audit")
    store.finish_session_job(sid, "audit", error="boom")
    assert store.session(sid)["audit_status"] == "failed"
    assert store.release_session_worker(sid, 4242)
    assert store.session(sid)["worker_pid"] is None
    store.register_session_worker(sid, 4343)  # another worker took over
    assert store.release_session_worker(sid, 4242)  # the old one may leave
    assert store.session(sid)["worker_pid"] == 4343
    with pytest.raises(StoreError, match="unknown session job"):
        store.request_session_job(sid, "dance")


def test_cli_label_export_and_errors(store: Store, capsys: pytest.CaptureFixture) -> None:
    sid = labeling.create_session(store, "cli", dataset="digits", **FAST).session_id
    retrain_session(store, sid, labeling.SessionWorker(sid))
    item = labeling.current_batch(store, sid).items[0].item
    labeling.answer(store, sid, item, 4, seconds=3.0)
    assert cli.main(["label-export", str(sid), "--db", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith(f"{item},,4,4,human,")
    assert cli.main(["label-export", "99", "--db", str(store.path)]) == 2
    assert "error: no labeling session with id 99" in capsys.readouterr().err
