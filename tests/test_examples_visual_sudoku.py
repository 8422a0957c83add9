"""examples/visual_sudoku: the Sudoku formulas of its SMTLayer, and its --quick run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import torch
from solverlayers.datasets.sudoku import load_sudoku

from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "visual_sudoku" / "train.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_example("visual_sudoku/train.py")


def test_layers_solve_a_board_and_hide_the_givens(script: ModuleType, tmp_path: Path) -> None:
    """Correctly read givens: the training layer outputs the solution's bits at the blank cells
    and 0 at the givens; the test layer outputs the whole solution. A given misread in one weak
    bit (an inconsistent board) is relaxed by F_max back to the solution."""
    puzzles, solutions = load_sudoku(1, seed=3, cache_dir=tmp_path)
    p, s = torch.from_numpy(puzzles.reshape(1, 81)).long(), torch.from_numpy(solutions.reshape(1, 81)).long()
    given = p > 0
    logits = (script.code_bits(s) * 2 - 1).reshape(1, 324) * 3
    mask = given.repeat_interleave(4, 1)
    cfg = {"gradient": "b_max", "executor": "serial", "test_executor": "serial", "workers": 1, "timeout": 20.0,
           "test_timeout": 20.0}
    train_layer, test_layer = script.smt_layer("pysat", True, cfg), script.smt_layer("pysat", False, cfg)
    flags = given.float() * 2 - 1
    y = train_layer(torch.cat([logits, flags], 1), torch.cat([mask, torch.ones_like(given)], 1))
    want = torch.where(given[..., None], 0.0, script.code_bits(s)).reshape(1, 324) * 2 - 1
    assert torch.equal(y, want)
    misread = logits.clone()
    bit = 4 * int(given[0].nonzero()[0])  # the first given's lowest bit: its 5 read as 4
    misread[0, bit] = -misread[0, bit] / 30
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        board = test_layer(misread, mask)
    assert torch.equal(board, (script.code_bits(s) * 2 - 1).reshape(1, 324))
    assert test_layer.last_status.tolist() == [3]  # RELAXED


@pytest.mark.slow
def test_quick_run(tmp_path: Path) -> None:
    """About 60 s on the shared 2-core machine: ``pytest -m slow tests/test_examples_visual_sudoku.py``."""
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "results.md").stat().st_size > 0 and (tmp_path / "results.png").stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["summary"]
    assert [r["method"] for r in rows] == ["conventional", "SMTLayer (pysat)", "SMTLayer (z3)", "SMTLayer (cvc5)",
                                           "SATNet"]
    for row in rows:
        assert row["experiment"] == "visual Sudoku" and row["configuration"] == "10%"
        assert 0 <= row["accuracy"] <= 1 and row["epoch_s"] > 0 and len(row["curve"]) >= 1
    for stats in (s["train_stats"] for s in results["splits"]["10"]["smt"].values()):
        assert stats["forward_examples"] == stats["backward_examples"] == 2
