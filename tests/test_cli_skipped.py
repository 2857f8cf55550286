"""The command line lists every skipped file with its reason: a short list, then
"… and N more", in text (stderr) and in ``--json``; a refusal that rests on skipped
files shows them. Real ``python -m al_core`` subprocesses on a real image folder.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from al_core.datasets import SKIPPED_SHOWN
from tests.conftest import REPO_ROOT

BROKEN = SKIPPED_SHOWN + 3  # past the short list


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def al(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "al_core", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes of 15 readable images; cats also hold BROKEN unreadable files."""
    root = tmp_path / "images"
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(15):
            (root / name / f"{i:02d}.png").write_bytes(_png(i + (100 if name == "dogs" else 0)))
    for i in range(BROKEN):
        (root / "cats" / f"broken{i:02d}.png").write_bytes(b"not an image")
    (root / "cats" / "half.png").write_bytes(_png(99)[:40])  # truncated
    return root


RUN = ["run", "--model", "softmax", "--epochs", "1", "--min-steps", "25", "--initial", "4",
       "--batch", "2",
       "--rounds", "1", "--no-store"]  # fmt: skip


def test_run_lists_skipped_files_with_reasons_in_text_and_json(folder: Path) -> None:
    total = BROKEN + 1
    text = al(*RUN, "--dataset", f"folder:{folder}")
    assert text.returncode == 0, text.stderr
    assert f"{total} file(s) skipped:" in text.stderr
    listed = [line for line in text.stderr.splitlines() if line.startswith("  cats/")]
    assert len(listed) == SKIPPED_SHOWN
    assert all(": " in line and line.split(": ", 1)[1] for line in listed)  # a reason each
    assert f"  … and {total - SKIPPED_SHOWN} more" in text.stderr

    as_json = al(*RUN, "--dataset", f"folder:{folder}", "--json")
    assert as_json.returncode == 0, as_json.stderr
    skipped = json.loads(as_json.stdout)["skipped_files"]
    assert skipped["count"] == total and skipped["more"] == total - SKIPPED_SHOWN
    assert [f"  {entry}" for entry in skipped["listed"]] == listed
    assert any(entry.startswith("cats/broken00.png: ") for entry in skipped["listed"])


def test_sweep_lists_skipped_files(folder: Path, tmp_path: Path) -> None:
    sweep = al(
        "sweep", "--dataset", f"folder:{folder}", "--model", "softmax", "--epochs", "1",
        "--min-steps", "25", "--initial", "4", "--batch", "2", "--rounds", "1", "--fractions", "0",
        "--trials", "1", "--workers", "1", "--db", str(tmp_path / "al.sqlite3"),
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    assert f"{BROKEN + 1} file(s) skipped:" in sweep.stderr
    assert "  cats/broken00.png: " in sweep.stderr


def test_refusal_for_an_empty_class_shows_its_skipped_files(folder: Path) -> None:
    for image in (folder / "dogs").iterdir():
        image.write_bytes(b"broken too")
    refused = al(*RUN, "--dataset", f"folder:{folder}")
    assert refused.returncode == 2
    assert "class folder(s) dogs" in refused.stderr and "Skipped there:" in refused.stderr
    assert "  dogs/00.png: " in refused.stderr
    assert "cats/" not in refused.stderr  # only the empty class's files
    assert "… and 5 more" in refused.stderr  # 15 broken, 10 listed
