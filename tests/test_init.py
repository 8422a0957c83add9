"""SMT weight initialization (solverlayers.init): margins, atomicity, timeouts, backends, the experiment."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import solverlayers as sl
import torch
from solverlayers.descriptors import OptionError
from solverlayers.init import InitStatus, mlp_layers, smt_
from solverlayers.init_solver import GRACE
from torch import nn

from example_scripts import load_example

AVAILABLE = set(sl.default_registry().backends())
ROOT = Path(__file__).resolve().parents[1]


def _backend(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.skipif(name not in AVAILABLE, reason=f"backend {name} is not installed"))


def blobs(n_per_class: int = 4, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Well separated 2-D clusters around the corners of a polygon."""
    g = torch.Generator().manual_seed(0)
    angles = torch.arange(classes) * (2 * torch.pi / classes)
    centres = torch.stack([angles.cos(), angles.sin()], 1) * 3
    x = (centres[:, None, :] + 0.3 * torch.randn(classes, n_per_class, 2, generator=g)).reshape(-1, 2)
    return x, torch.arange(classes).repeat_interleave(n_per_class)


def mlp(*sizes: int, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def margins(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per sample: the true class's logit minus the largest other one."""
    with torch.no_grad():
        out = model(x).double()
    right = out.gather(1, y[:, None])[:, 0]
    return right - out.scatter(1, y[:, None], -torch.inf).amax(1)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("backend", [_backend("z3"), _backend("cvc5")])
def test_last_layer_classifies_the_samples_with_the_margin(backend: str) -> None:
    x, y = blobs()
    model = mlp(2, 8, 3)
    first = model[0].weight.detach().clone()
    report = smt_(model, x, y, backend=backend, samples=9, margin=0.5, min_abs_weight=0.05,
                  max_abs_weight=2.0, rescale=False, timeout=30)
    assert report.status is InitStatus.SOLVED and report.written, report.reason
    assert report.backend == backend and report.layers == (1,) and len(report.samples) == 9
    assert sorted(y[list(report.samples)].tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # class-balanced
    rows = list(report.samples)
    assert float(margins(model, x[rows], y[rows]).min()) >= 0.5 - 1e-5  # despite rounded features
    assert report.min_margin == pytest.approx(float(margins(model, x[rows], y[rows]).min()))
    w = model[2].weight.detach()
    assert bool((w.abs() >= 0.05 - 1e-7).all() and (w.abs() <= 2.0 + 1e-6).all())
    assert torch.equal(model[0].weight, first)  # the random first layer is kept


def test_rescale_keeps_the_classes_and_scales_the_margin() -> None:
    x, y = blobs()
    model = mlp(2, 8, 3)
    old_rms = float(model[2].weight.detach().pow(2).mean().sqrt())
    report = smt_(model, x, y, backend="z3", samples=12, margin=0.5, resolution=None, max_abs_weight=None, timeout=30)
    assert report.written and report.scale is not None and report.scale > 0
    assert float(model[2].weight.detach().pow(2).mean().sqrt()) == pytest.approx(old_rms, rel=1e-5)
    assert float(margins(model, x, y).min()) >= 0.5 * report.scale * (1 - 1e-4)


def test_one_vs_rest_splits_the_problem_per_class() -> None:
    x, y = blobs()
    model = mlp(2, 6, 3)
    report = smt_(model, x, y, backend="z3", samples=12, targets="one_vs_rest", margin=0.2, timeout=30, rescale=False)
    assert report.written and report.problems == 3
    with torch.no_grad():
        out = model(x)
    assert bool((out.gather(1, y[:, None]) >= 0.2 - 1e-5).all())  # each class's output is on its side
    assert bool((out.scatter(1, y[:, None], -1.0) <= -0.2 + 1e-5).all())


def test_single_output_binary_and_all_layers() -> None:
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])  # XOR: the hidden layer must be solved too
    model = mlp(2, 3, 1)
    report = smt_(model, x, y, backend="z3", samples=4, layers="all", margin=0.5, max_abs_weight=None,
                  resolution=None, timeout=30)
    assert report.written and report.layers == (0, 1), report.reason
    with torch.no_grad():
        signed = (2 * y - 1) * model(x)[:, 0]
    assert float(signed.min()) >= 0.5 * report.scale * (1 - 1e-5)


def test_timeout_leaves_the_model_bitwise_unchanged() -> None:
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])
    model = mlp(2, 2, 2)  # XOR through two ReLU units with bounded weights: z3 takes well over 20 s
    before = snapshot(model)
    report = smt_(model, x, y, backend="z3", samples=4, layers="all", margin=0.5, max_abs_weight=2.0,
                  resolution=None, timeout=2.0)  # the solver process takes about 0.5 s to start
    assert report.status is InitStatus.TIMEOUT and not report.written and report.reason  # under heavy load
    assert report.min_margin is None and report.solve_seconds < 2.0  # the budget may run out while encoding
    assert unchanged(model, before)


def test_the_budget_is_a_hard_stop() -> None:
    """All layers of a 64-32-10 network: the formula takes seconds to build and hand to z3, whose
    nonlinear solver then runs past its own timeout; the solver process is killed at the deadline."""
    torch.manual_seed(0)
    x, y = torch.rand(40, 64), torch.arange(10).repeat(4)
    model = mlp(64, 32, 10)
    before = snapshot(model)
    started = time.perf_counter()
    report = smt_(model, x, y, backend="z3", samples=10, layers="all", timeout=1.0)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0 + GRACE + 1.0, elapsed
    assert report.status is InitStatus.TIMEOUT and not report.written
    assert report.reason in ("the time budget was spent encoding",
                             "the solver ran past its timeout and was stopped at the deadline")
    assert report.encode_seconds + report.solve_seconds == pytest.approx(elapsed, abs=0.5)
    assert unchanged(model, before)


def test_budget_spent_before_solving_is_a_timeout_too() -> None:
    x, y = blobs()
    model = mlp(2, 8, 3)
    before = snapshot(model)
    report = smt_(model, x, y, backend="z3", samples=12, timeout=1e-9)
    assert report.status is InitStatus.TIMEOUT and "encoding" in (report.reason or "")
    assert unchanged(model, before)


def test_unsat_leaves_the_model_unchanged() -> None:
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, 0.0]])
    y = torch.tensor([0, 1, 1])  # one input, two labels
    model = mlp(2, 4, 2)
    before = snapshot(model)
    report = smt_(model, x, y, backend="z3", samples=[0, 1, 2], timeout=30)
    assert report.status is InitStatus.UNSAT and not report.written
    assert unchanged(model, before)


def test_backend_options_reach_the_solver_process() -> None:
    x, y = blobs()
    model = mlp(2, 8, 3)
    before = snapshot(model)
    with pytest.raises(OptionError, match="choose one of: 6, 2"):  # checked here, before the process starts
        smt_(model, x, y, backend="z3", arith_solver=3)
    with pytest.raises(OptionError, match="unknown parameter 'smt.relevence'"):  # z3's check, in the process
        smt_(model, x, y, backend="z3", params="smt.relevence=0")
    assert unchanged(model, before)
    report = smt_(model, x, y, backend="z3", samples=12, arith_solver=2, params="smt.relevancy=0", timeout=30)
    assert report.written, report.reason


def test_a_backend_without_real_arithmetic_is_refused_before_writing() -> None:
    if "pysat" not in AVAILABLE:
        pytest.skip("backend pysat is not installed")
    x, y = blobs()
    model = mlp(2, 4, 3)
    before = snapshot(model)
    with pytest.raises(sl.CapabilityError, match="lra"):
        smt_(model, x, y, backend="pysat", samples=3)
    assert unchanged(model, before)


def test_backend_comes_from_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "solverlayers.toml"
    cfg.write_text('[solverlayers]\nbackend = "z3"\n')
    x, y = blobs(2)
    report = smt_(mlp(2, 4, 3), x, y, samples=6, config_file=cfg, timeout=30)
    assert report.backend == "z3" and report.written


def test_only_relu_perceptrons_are_accepted() -> None:
    assert len(mlp_layers(nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Dropout(), nn.Linear(3, 2)))) == 2
    for bad in (nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)),
                nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)),
                nn.Sequential(nn.Linear(2, 2), nn.ReLU())):
        with pytest.raises(ValueError):
            mlp_layers(bad)
    x, y = blobs()
    with pytest.raises(ValueError, match="max_abs_weight"):
        smt_(mlp(2, 4, 3), x, y, max_abs_weight=None)
    with pytest.raises(ValueError, match="class indices"):
        smt_(mlp(2, 4, 3), x, y + 1)


def test_experiment_quick_run(tmp_path: Path) -> None:
    run = load_example("smt_init/run.py")
    run.main(["--quick", "--out", str(tmp_path)])  # in-process: no second import of torch
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["init"] for r in results["runs"]} == {"glorot", "kaiming", "smt"}
    assert {r["task"] for r in results["runs"]} == {"binary", "digits10"}
    assert all(0 <= acc <= 1 for r in results["runs"] for acc in r["test_accuracy"].values())
    assert "| task |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.png").stat().st_size > 1000


@pytest.mark.slow
def test_experiment_full_run(tmp_path: Path) -> None:
    """The recorded experiment (about 10 minutes): ``pytest -m slow tests/test_init.py``."""
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "smt_init" / "run.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads((tmp_path / "results.json").read_text())["runs"]) == 30
