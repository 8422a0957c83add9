"""The combined report runs an experiment's quick mode and tabulates its summary beside the paper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]


def test_quick_mnist_addition_through_the_combined_report(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "examples" / "report.py"), "--quick", "--only", "mnist_addition",
                    "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "mnist_addition" / "results.json").read_text())
    methods = {row["method"] for row in results["summary"]}
    assert methods == {"conventional", "SMTLayer (pysat)"}
    assert all(0 <= row["accuracy"] <= 1 and row["epoch_s"] > 0 for row in results["summary"])
    report = (tmp_path / "report.md").read_text()
    assert "QUICK" in report and "| MNIST addition | 10% | SMTLayer (pysat) |" in report
    assert "| 98.1 | 75.4 |" in report  # the paper's SMTLayer figures sit beside ours
    assert (tmp_path / "mnist_addition" / "results.png").stat().st_size > 0


def test_missing_results_name_the_command_to_run(tmp_path: Path) -> None:
    report = load_example("report.py")
    with pytest.raises(SystemExit, match="run `python examples/liars_puzzle/train.py` first"):
        report.load_rows({"liars_puzzle": tmp_path})


def test_a_run_with_overrides_is_labelled_and_compared_with_its_own_conventional_epochs() -> None:
    report = load_example("report.py")
    paper_size = report.EXPERIMENTS["visual_sudoku_paper_size"]
    assert paper_size.command().startswith("python examples/visual_sudoku/train.py --set 'train_boards=9000'")
    assert paper_size.command().endswith("--out examples/visual_sudoku/results_paper_size")
    assert report.EXPERIMENTS["visual_sudoku"].command() == "python examples/visual_sudoku/train.py"

    def row(source: str, method: str, epoch_s: float) -> dict:
        return {"experiment": "visual Sudoku", "configuration": "10%", "method": method, "accuracy": 0.9,
                "epoch_s": epoch_s, "source": source, "label": report.EXPERIMENTS[source].label, "quick": False}

    rows = [row("visual_sudoku", "conventional", 1.0), row("visual_sudoku", "SMTLayer (pysat)", 1.5),
            row("visual_sudoku_paper_size", "conventional", 10.0), row("visual_sudoku_paper_size", "SMTLayer (pysat)", 25.0)]
    assert "1.50x conv. epoch ok" in report.checks(rows[1], rows)
    assert "2.50x conv. epoch MISSED" in report.checks(rows[3], rows)
    table = "\n".join(report.table(rows))
    assert "| visual Sudoku | 10% (the paper's size) | SMTLayer (pysat) |" in table
    assert "| visual Sudoku | 10% | SMTLayer (pysat) |" in table


def test_a_paper_recipe_run_is_a_comparison_for_the_rows_of_other_runs() -> None:
    report = load_example("report.py")

    def row(source: str, accuracy: float) -> dict:
        experiment = report.EXPERIMENTS[source]
        return {"experiment": "MNIST addition", "configuration": "25%", "method": "SMTLayer (z3)",
                "accuracy": accuracy, "epoch_s": 1.0, "source": source, "label": experiment.label,
                "comparison": experiment.comparison, "quick": False}

    ours, recipe = row("mnist_addition", 0.930), row("mnist_addition_paper_recipe", 0.955)
    assert "acc < the paper's recipe (95.5)" in report.checks(ours, [ours, recipe])
    assert "acc >= the paper's recipe (95.5)" in report.checks({**ours, "accuracy": 0.96}, [ours, recipe])
    assert report.checks(recipe, [ours, recipe]).startswith("the paper's recipe on our data (a comparison")
