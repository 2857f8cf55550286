"""benchmarks/paper_batchbald.py reads the BatchBALD authors' logs without running them and
computes the medians it compares against; the committed reference is what it computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import paper_batchbald as bench


def _log(path: Path, accuracies: list[float], k: int = 10, kind: str = "multibald") -> None:
    """A log file in the authors' format (store[...] = literal; .append(literal))."""
    args = {
        "dataset": "DatasetEnum.mnist",
        "acquisition_method": f"AcquisitionMethod.{kind}",
        "type": "AcquisitionFunction.bald",
        "available_sample_k": k,
        "initial_samples": list(range(20)),
    }
    lines = ["store = {}", f"store['args']={args!r}", "store['iterations']=[]"]
    lines.append(f"store['initial_samples']={list(range(20))!r}")
    for accuracy in accuracies:
        lines.append(f"store['iterations'].append({{'test_metrics': {{'accuracy': {accuracy}}}}})")
    lines.append("import os; os._exit(1)  # never run: only literals are read")
    path.write_text("\n".join(lines) + "\n")


def test_logs_are_read_as_literals_and_medians_interpolate(tmp_path: Path) -> None:
    # Three runs: 20, 30, 40, … labels; medians at 20 labels 0.5, at 50 labels 0.8.
    _log(tmp_path / "a.py", [0.5, 0.6, 0.7, 0.8, 0.96])
    _log(tmp_path / "b.py", [0.4, 0.7, 0.8, 0.9, 0.97])
    _log(tmp_path / "c.py", [0.6, 0.65, 0.75, 0.85])
    _log(tmp_path / "other.py", [0.1, 0.1], kind="independent")  # another strategy
    store = bench.read_log(tmp_path / "a.py")
    assert bench.log_curve(store) == ([20, 30, 40, 50, 60], [0.5, 0.6, 0.7, 0.8, 0.96])
    reference = bench.build_reference(tmp_path)
    batchbald = reference["mnist/batchbald"]
    assert batchbald["files"] == ["a.py", "b.py", "c.py"] and batchbald["runs"] == 3
    assert batchbald["median_accuracy_at"]["20"] == pytest.approx(0.5)
    assert batchbald["median_accuracy_at"]["50"] == pytest.approx(0.85)
    assert batchbald["median_accuracy_at"]["100"] is None  # past every run's end
    # Labels to 90 %: a 55.0 (0.8 → 0.96 between 50 and 60), b 50, c never.
    assert batchbald["labels_to"]["0.90"] == [pytest.approx(56.25), 50.0, None]
    assert bench.median_or_censored([56.25, 50.0, None], 300) == "56 (2/3)"
    assert bench.median_or_censored([None, None, 50.0], 300) == "> 300 (1/3)"


def test_the_committed_reference_is_the_papers_published_level() -> None:
    """The medians committed beside the benchmark (computed from the authors' logs with
    --reference) match the figures the design brief quotes from the paper."""
    reference = json.loads(bench.REFERENCE_FILE.read_text())
    assert reference["mnist/batchbald"]["runs"] == 6
    assert reference["mnist/batchbald"]["median_accuracy_at"]["100"] == pytest.approx(
        0.896, abs=0.001
    )
    assert reference["repeated_mnist/random"]["median_accuracy_at"]["100"] == pytest.approx(
        0.814, abs=0.001
    )
    to_90 = sorted(reference["repeated_mnist/batchbald"]["labels_to"]["0.90"])
    assert 120 <= (to_90[2] + to_90[3]) / 2 <= 140
    assert len(reference["repeated_mnist/random"]["files"]) == 6


def test_trials_cut_short_are_resumed_and_reported_up_to_their_shortest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curve trial cut short keeps its whole rounds; the next run resumes from them only
    when its config is the same, and the table takes a median over every seed where each
    has a point, saying how far they got."""
    monkeypatch.setattr(bench, "PARTIAL_DIR", tmp_path)
    config = bench.curve_config("mnist", "batchbald", 0, 10_000)

    def rounds(labels: list[int], accuracies: list[float]) -> list[dict]:
        return [
            {"labeled": n, "test_accuracy": a, "queried": [i], "redundant": 0, "round": i}
            for i, (n, a) in enumerate(zip(labels, accuracies, strict=True))
        ]

    stored = {"config": config, "rounds": rounds([20, 30, 40, 50], [0.6, 0.7, 0.8, 0.9])}
    bench._partial_path(config).write_text(json.dumps(stored))
    assert [r["labeled"] for r in bench._resumable_rounds(config)] == [20, 30, 40, 50]
    assert bench._resumable_rounds({**config, "batch": 20}) == []  # another config
    # The first runs' files kept no picks: nothing to resume from.
    old = {"config": config, "rounds": [{"labeled": 20, "accuracy": 0.6}]}
    bench._partial_path(config).write_text(json.dumps(old))
    assert bench._resumable_rounds(config) == []

    for seed, accuracies in ((0, [0.6, 0.7, 0.8, 0.9]), (1, [0.5, 0.6, 0.7])):
        seeded = bench.curve_config("mnist", "batchbald", seed, 10_000)
        labels = [20, 30, 40, 50][: len(accuracies)]
        body = {"config": seeded, "rounds": rounds(labels, accuracies)}
        bench._partial_path(seeded).write_text(json.dumps(body))
    partial = bench.partial_curves({"trials": {}})
    assert set(partial) == {"curve/mnist/batchbald/0", "curve/mnist/batchbald/1"}
    (row,) = [line for line in bench.curves_table({"trials": {}}, {}, partial) if "| ours" in line]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == "ours (2 seeds; 2 cut short at 40–50 labels)"
    assert cells[3] == "55.0"  # 20 labels: the median of 60 % and 50 %
    assert cells[4] == "–"  # 50 labels: seed 1 stopped at 40
    # To 90 %: seed 0 at 50 labels, seed 1 not within its 40: the median is past 40.
    assert cells[-2:] == ["> 40 (1/2)", "> 40 (0/2)"]


def test_near_copies_count_every_queried_batch_the_first_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BALD top-k's first batch (picked by the model on the 20 starting labels) is where it
    takes the most copies: it counts, as do runs cut short; a last round's None does not."""
    monkeypatch.setattr(bench, "PARTIAL_DIR", tmp_path)
    finished = {"curve/repeated_mnist/bald/0": {"redundant": [6, 2, 1, None]}}  # mean 3
    cut = bench.curve_config("repeated_mnist", "bald", 1, 10_000)
    body = {
        "config": cut,
        "rounds": [
            {"labeled": 20 + 10 * i, "test_accuracy": 0.6, "queried": [i], "redundant": r}
            for i, r in enumerate([5, 3])  # mean 4
        ],
    }
    bench._partial_path(cut).write_text(json.dumps(body))
    partial = bench.partial_curves({"trials": finished})
    lines = bench.copies_table({"trials": finished}, partial)
    assert "| bald | 3.50 | 2 (1 cut short) |" in lines


def test_the_figures_median_curve_ends_where_the_shortest_run_ends() -> None:
    curves = [([20, 30, 40, 50], [0.6, 0.7, 0.8, 0.9]), ([20, 30, 40], [0.5, 0.9, 0.7])]
    labels, medians = bench.median_curve(curves)
    assert labels == [20, 30, 40] and medians == pytest.approx([0.55, 0.8, 0.75])
    assert bench.median_curve([]) == ([], [])
