"""examples/visual_algebra: the data, the formula, and a quick-mode run of the script."""

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from solverlayers.layers import SolverLayerWarning

from example_scripts import load_example

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "visual_algebra" / "train.py"


def load_script() -> ModuleType:
    return load_example("visual_algebra/train.py")


def test_training_equations_have_equal_a_b_and_odd_x() -> None:
    va = load_script()
    gen = torch.Generator().manual_seed(0)
    train, test = va.sample_values(500, True, gen), va.sample_values(2000, False, gen)
    a, x, b, c1, c2 = train.T
    assert torch.equal(a, b) and bool((x % 2 == 1).all())
    for rows in (train, test):
        a, x, b, c1, c2 = rows.T
        assert torch.equal(a * x + b, 10 * c1 + c2) and bool(((rows[:, :3] >= 1) & (rows[:, :3] <= 9)).all())
    assert len({tuple(r) for r in test[:, :3].tolist()}) > 600  # the test covers most of the 729 (a, x, b)


def test_equation_images_put_each_symbol_in_its_place() -> None:
    va = load_script()
    images = torch.arange(10.0)[:, None, None, None].expand(10, 1, 8, 8).clone()  # digit d: all pixels d
    pools = va.SymbolPools((images, torch.arange(10)), 5, seed=0)
    values = va.sample_values(20, False, torch.Generator().manual_seed(1))
    symbols = pools.draw(values, torch.Generator().manual_seed(2))
    assert symbols.shape == (20, 8, 1, 8, 8)
    drawn = symbols[:, va.DIGIT_SLOTS, 0, 0, 0]
    assert torch.equal(drawn.long(), values[:, [0, 2, 3, 4]])


def test_formula_gives_x_from_the_digit_codes() -> None:
    va = load_script()
    layer = va.smt_head("smt", {"backend": "z3", "gradient": "b_core", "max_forward_gradient": "b_max",
                                "executor": "serial", "workers": 1, "table_bits": 20})
    values = va.sample_values(40, False, torch.Generator().manual_seed(3))
    digits = values[:, [0, 2, 3, 4]]
    logits = (((digits[..., None] >> torch.arange(4)) & 1).float() * 2 - 1).reshape(-1, 16)
    assert torch.equal(layer(logits) > 0, va.x_bits(values).bool())
    wrong = logits.clone()
    wrong[:, 12:] = torch.tensor([1.0, 1.0, 1.0, 1.0])  # c2 = 15: no digit
    with pytest.warns(SolverLayerWarning, match="UNSAT"):
        assert bool((layer(wrong) == 0).all())


def test_paper_recipe_settings_warm_up_over_the_first_epoch_and_leave_the_config_alone() -> None:
    va = load_script()
    cfg = {"train": {"optimizer": "adam", "lr": 1e-3, "batch_size": 10}, "data": {"train_equations": 100}, "seed": 0}
    paper = va.with_settings(cfg, train=va.PAPER_RECIPE["train"])
    assert cfg["train"]["optimizer"] == "adam" and paper["train"]["lr"] == 1.0 and paper["seed"] == 0
    opt, schedule = va.optimizer([torch.nn.Parameter(torch.zeros(1))], paper, epochs=5)
    rates = []
    for _ in range(50):  # 5 epochs of 10 batches
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    peak = max(range(50), key=rates.__getitem__)
    assert 9 <= peak <= 10 and rates[peak] == pytest.approx(1.0, rel=1e-3) and rates[-1] < 0.01
    assert rates == sorted(rates[:peak + 1]) + sorted(rates[peak + 1:], reverse=True)
    adam, none = va.optimizer([torch.nn.Parameter(torch.zeros(1))], cfg, epochs=5)
    assert isinstance(adam, torch.optim.Adam) and none is None
    with pytest.raises(SystemExit, match="choose adam or sgd-one-cycle"):
        va.optimizer([torch.nn.Parameter(torch.zeros(1))], va.with_settings(cfg, train={"optimizer": "sgd"}), 5)


@pytest.mark.slow
def test_quick_run_writes_the_summary_rows(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)], check=True,
                   capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["configuration"], r["method"]): r for r in results["summary"]}
    methods = ("conventional", "SMTLayer (z3)", "SMTLayer (z3, paper recipe)")
    assert set(rows) == {(c, m) for c in ("#1", "#2") for m in methods}
    for c in ("#1", "#2"):
        assert rows[c, "SMTLayer (z3)"]["target"] == rows[c, "SMTLayer (z3, paper recipe)"]["accuracy"]
        assert rows[c, "SMTLayer (z3, paper recipe)"]["comparison"] and "comparison" not in rows[c, "SMTLayer (z3)"]
    for row in rows.values():
        assert row["experiment"] == "visual algebra"
        assert 0 <= row["accuracy"] <= 1 and row["epoch_s"] > 0 and row["curve"][-1] == row["accuracy"]
    assert (tmp_path / "results.md").read_text().startswith("# Visual algebra")
    assert (tmp_path / "results.png").stat().st_size > 0
