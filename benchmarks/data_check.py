"""How long the data check of an uploaded image folder takes, and where the time goes.

Issue 32's goal: at most 10 s for 4,000 28x28 images on 2 cores (it took 57 s in the
browser). The folder is real PNG files, one subfolder per class, written from the
Fashion-MNIST training images of the Keras cache (the first ``--images`` of a
stratified pool, as a person's export would hold them).

Two ways are timed, alternating run by run:

- ``cold``: a fresh interpreter runs :func:`al_core.datacheck.check_dataset` (what the
  app's first check after a start costs: importing scikit-learn is in it); the wall
  time is from the interpreter's start to the check's end;
- ``warm``: the check again in this process (the app's later checks, imports done).

Each run records its wall and CPU seconds (CPU: the work done, whatever else shares
the cores) and the phases the check reports through its ``progress`` callback:
reading (decoding, hashing, colour and size policies), duplicates (near-duplicate
count and the pool/test overlap) and the logistic-regression floor. The load
average before each run is recorded too: other jobs sharing the 2 cores make the
wall times pessimistic. ``--code DIR`` runs the cold checks on another checkout's
``al_core`` (e.g. ``git archive`` of an older commit) for a before/after.

Usage: .venv/bin/python -m benchmarks.data_check [--images 4000] [--repeats 5]
           [--out benchmarks/out/data_check.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 10.0

#: The child interpreter of a cold run: prints one JSON line.
COLD_CHILD = """
import json, sys, time
started = float(sys.argv[2])
cpu = time.process_time()
from al_core.datacheck import check_dataset
check = check_dataset(sys.argv[1])
print(json.dumps({"wall": time.time() - started, "cpu": time.process_time() - cpu,
                  "check_seconds": check.seconds, "pool": check.pool_size,
                  "test": check.test_size, "shape": list(check.image_shape)}))
"""


def write_folder(folder: Path, images: int) -> Path:
    """``images`` Fashion-MNIST training images as PNGs in ten class folders."""
    import numpy as np
    from PIL import Image

    from al_core.datasets import load_dataset

    data = load_dataset("fashion_mnist", pool_size=images, seed=0)
    pixels = np.rint(data.x_pool[..., 0] * 255).astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, data.y_pool, strict=True)):
        target = folder / data.class_names[label].replace("/", "-")
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{i:05d}.png")
    return folder


def cold_run(source: str, code: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, "-c", COLD_CHILD, source, repr(time.time())],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=code or REPO,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "load_before": load}


def warm_run(source: str) -> dict[str, Any]:
    from al_core.datacheck import check_dataset

    marks: dict[str, float] = {}

    def progress(fraction: float, text: str) -> None:
        for phase in ("Looking for duplicates", "Linear floor", "Done"):
            if text.startswith(phase):
                marks.setdefault(phase, time.perf_counter())

    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    check = check_dataset(source, progress=progress)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    reading = marks["Looking for duplicates"] - started
    duplicates = marks["Linear floor"] - marks["Looking for duplicates"]
    floor = marks["Done"] - marks["Linear floor"]
    return {
        "wall": wall,
        "cpu": cpu,
        "reading": reading,
        "duplicates": duplicates,
        "floor": floor,
        "pool": check.pool_size,
        "test": check.test_size,
        "load_before": load,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, help="an existing image folder to check instead")
    parser.add_argument("--code", type=Path, help="run the cold checks on this al_core checkout")
    parser.add_argument("--skip-warm", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="data-check-") as scratch:
        folder = args.folder or write_folder(Path(scratch) / "export", args.images)
        source = f"folder:{folder.resolve()}"
        cold, warm = [], []
        for repeat in range(args.repeats):
            cold.append(cold_run(source, args.code))
            if not args.skip_warm:
                warm.append(warm_run(source))
            print(
                f"run {repeat + 1}: cold {cold[-1]['wall']:.1f} s (cpu {cold[-1]['cpu']:.1f} s, "
                f"load {cold[-1]['load_before']:.1f})"
                + (
                    f"; warm {warm[-1]['wall']:.1f} s (cpu {warm[-1]['cpu']:.1f} s: reading "
                    f"{warm[-1]['reading']:.1f}, duplicates {warm[-1]['duplicates']:.1f}, "
                    f"floor {warm[-1]['floor']:.1f}; load {warm[-1]['load_before']:.1f})"
                    if warm
                    else ""
                ),
                flush=True,
            )
    summary: dict[str, Any] = {
        "images": cold[0]["pool"] + cold[0]["test"],
        "code": str(args.code or REPO),
        "cold_wall_median": _median(cold, "wall"),
        "cold_cpu_median": _median(cold, "cpu"),
    }
    if warm:
        summary |= {
            key: _median(warm, key.removeprefix("warm_").removesuffix("_median"))
            for key in (
                "warm_wall_median",
                "warm_cpu_median",
                "warm_reading_median",
                "warm_duplicates_median",
                "warm_floor_median",
            )
        }
    print(json.dumps(summary, indent=2))
    met = summary["cold_wall_median"] <= GOAL_SECONDS
    print(
        f"goal (median cold check <= {GOAL_SECONDS:.0f} s for {summary['images']} images): "
        f"{'met' if met else 'MISSED'}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "cold": cold, "warm": warm}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
