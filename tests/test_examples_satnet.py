"""The SATNet experiments (examples/satnet_parity, examples/satnet_sudoku): their --quick runs end
to end, and the Sudoku script's scoring and bit permutation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from solverlayers.datasets.sudoku import one_hot

from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]


def quick_run(name: str, out: Path) -> dict[str, Any]:
    """Run ``examples/<name>/train.py --quick`` in a subprocess; its results.json."""
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name / "train.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "results.md").stat().st_size > 0 and (out / "results.png").stat().st_size > 0
    return json.loads((out / "results.json").read_text())


def check_rows(results: dict[str, Any], experiment: str, configurations: list[str]) -> None:
    rows = results["summary"]
    assert [r["configuration"] for r in rows] == configurations
    epochs = results["config"]["train"]["epochs"]
    for row in rows:
        assert row["experiment"] == experiment and row["method"].startswith("SATNet (")
        assert 0 <= row["accuracy"] <= 1 and row["epoch_s"] > 0
        assert len(row["curve"]) == epochs and row["curve"][-1] == row["accuracy"]


def test_parity_quick_run(tmp_path: Path) -> None:
    results = quick_run("satnet_parity", tmp_path)
    check_rows(results, "satnet_parity", ["L=20, seed 1"])
    history = results["runs"][0]["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert all(0 <= h["test_acc"] <= 1 for h in history)


@pytest.mark.slow
def test_sudoku_quick_run(tmp_path: Path) -> None:
    """12-35 s on the shared 2-core machine, by load: ``pytest -m slow tests/test_examples_satnet.py``."""
    results = quick_run("satnet_sudoku", tmp_path)
    check_rows(results, "satnet_sudoku", ["original", "permuted"])
    for run in results["runs"]:
        assert all(0 <= h["test_blank_cell_acc"] <= 1 for h in run["history"])
    assert results["timing"]["step_s_median"] > 0 and results["timing"]["full_protocol_hours_per_variant"] > 0


def load_sudoku_script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_example("satnet_sudoku/train.py")


def test_sudoku_scoring_and_permutation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_sudoku_script(monkeypatch)
    cfg = {"puzzles": 6, "givens": 36, "seed": 0, "cache_dir": str(tmp_path), "train": 3, "test": 3}
    _, test = script.load_boards(cfg)
    assert torch.equal(test["z"][test["mask"]], test["y"][test["mask"]])  # the inputs are the givens' bits
    assert test["mask"].sum() == 3 * 36 * 9
    perm = torch.randperm(729, generator=torch.Generator().manual_seed(1))
    shuffled = script.permuted(test, perm)
    unperm = torch.argsort(perm)
    solved, cells = script.scores(shuffled["y"][:, unperm], test["puzzles"], test["solutions"])
    assert solved.all() and (cells == 81 - 36).all()
    solved, _ = script.scores(shuffled["y"], test["puzzles"], test["solutions"])  # left permuted: not boards
    assert not solved.any()
    relabelled = test["solutions"].clone()  # digits 1 and 2 swapped in board 0: a valid grid that breaks givens
    relabelled[0] = torch.where(relabelled[0] == 1, 2, torch.where(relabelled[0] == 2, 1, relabelled[0]))
    solved, cells = script.scores(one_hot(relabelled), test["puzzles"], test["solutions"])
    blanks_with_1_or_2 = int(((test["puzzles"][0] == 0) & (test["solutions"][0] <= 2)).sum())
    assert solved.tolist() == [False, True, True] and cells.tolist() == [45 - blanks_with_1_or_2, 45, 45]
