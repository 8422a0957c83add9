"""The combined report runs an experiment's quick mode and tabulates its summary beside the paper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import report
    finally:
        sys.path.pop(0)
    with pytest.raises(SystemExit, match="run `python examples/liars_puzzle/train.py` first"):
        report.load_rows({"liars_puzzle": tmp_path})
