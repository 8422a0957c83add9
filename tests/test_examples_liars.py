"""examples/liars_puzzle: the formula against brute force, and a quick-mode run of the script."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore::solverlayers.layers.SolverLayerWarning")  # UNSAT rows on purpose

from solverlayers.datasets.liars import ORDERINGS, LiarsPuzzles
from solverlayers.layers import SMTLayer

from example_scripts import load_example

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "liars_puzzle" / "train.py"


def load_script() -> ModuleType:
    return load_example("liars_puzzle/train.py")


@pytest.fixture(scope="module")
def layer() -> SMTLayer:
    phi, z, y = load_script().liar_formula()
    return SMTLayer(phi, z, y, backend="pysat", executor="serial")


def test_formula_names_the_guilty_party_of_every_ordered_configuration(layer: SMTLayer) -> None:
    data = LiarsPuzzles(seed=0)
    orderings = [(c, o) for c in range(24) for o in range(len(ORDERINGS))]
    data.ordered["test"] = orderings  # every configuration in every order, one phrasing each
    batch = data.instances("test", torch.arange(len(orderings)) * 15625)
    symbols = batch.symbols.reshape(len(batch), 21)
    out = layer(2 * symbols - 1)
    assert torch.equal(out, 2 * torch.nn.functional.one_hot(batch.labels, 3).float() - 1)
    clash = symbols.clone()
    clash[:, 7:10] = clash[:, 0:3]  # sentences 1 and 2 by the same speaker: no assignment
    assert (layer(2 * clash - 1) == 0).all()


def test_formula_is_satisfiable_only_with_permuted_speakers(layer: SMTLayer) -> None:
    rows = []
    for speakers in itertools.product(range(3), repeat=3):
        bits = torch.zeros(21)
        for s, a in enumerate(speakers):
            bits[7 * s + a] = 1
            bits[7 * s + 3 + (a + 1) % 3] = 1
        rows.append(bits)
    given = torch.ones(21, dtype=torch.bool)
    given[6::7] = False  # accuses left to the solver
    ok = (layer(2 * torch.stack(rows) - 1, mask=given) != 0).any(dim=1)
    assert ok.tolist() == [len(set(p)) == 3 for p in itertools.product(range(3), repeat=3)]


@pytest.mark.slow
def test_quick_run_writes_the_summary_rows(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path), "--set", 'backends=["pysat"]'],
                   check=True, capture_output=True, timeout=300)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["summary"]
    assert [r["method"] for r in rows] == ["conventional", "SMTLayer (pysat)", "SMTLayer (pysat, paper recipe)",
                                           "SATNet"]
    for row in rows:
        assert row["experiment"] == "liar's puzzle" and row["configuration"] == ""
        assert 0 <= row["accuracy"] <= 1 and row["epoch_s"] > 0 and len(row["curve"]) == 1
    assert rows[2]["comparison"] and rows[1]["target"] == rows[2]["accuracy"]
    assert (tmp_path / "results.md").read_text().startswith("# Liar's puzzle")
    assert (tmp_path / "results.png").stat().st_size > 0
