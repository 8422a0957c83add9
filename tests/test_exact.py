"""Exact training of step networks (solverlayers.exact): XOR on every backend, proofs, growth, C export."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest
import solverlayers as sl
import torch
from solverlayers.exact import StepNetwork, _growth, fit_architecture, to_c, train_exact

XOR_X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Y = torch.tensor([0, 1, 1, 0])
AVAILABLE = set(sl.default_registry().backends())


def _backend(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.skipif(name not in AVAILABLE, reason=f"backend {name} is not installed"))


ALL = [_backend("z3"), _backend("cvc5"), _backend("pysat")]
ARITH = [_backend("z3"), _backend("cvc5")]


@pytest.mark.parametrize("backend", ALL)
def test_xor_2_3_1_bit_vector_classifies_every_example(backend: str) -> None:
    attempt, net = fit_architecture(XOR_X, XOR_Y, (3,), backend=backend, encoding="bv", weight_bits=3)
    assert attempt.status is sl.Status.SAT and net is not None
    assert net.sizes == (2, 3, 1)
    assert net.predict(XOR_X)[:, 0].tolist() == XOR_Y.tolist()
    assert all(float(w.abs().max()) <= 4 and torch.equal(w, w.round()) for w, _ in net.layers)


@pytest.mark.parametrize("backend", ARITH)
def test_xor_2_3_1_real_weights_classify_every_example(backend: str) -> None:
    attempt, net = fit_architecture(XOR_X * 2 - 1, XOR_Y * 2 - 1, (3,), backend=backend, encoding="real")
    assert attempt.status is sl.Status.SAT and net is not None
    assert net(XOR_X * 2 - 1)[:, 0].tolist() == [-1.0, 1.0, 1.0, -1.0]
    for w, b in net.layers[:-1]:  # every hidden unit is at least 1 away from its threshold
        assert bool(((XOR_X * 2 - 1).double() @ w.T + b).abs().min() >= 1 - 1e-12)


@pytest.mark.parametrize("backend", ALL)
def test_one_hidden_unit_is_proven_unable_and_growth_finds_two(backend: str) -> None:
    result = train_exact(XOR_X, XOR_Y, hidden=(1,), max_width=3, max_layers=1, backend=backend)
    assert [(a.hidden, a.status) for a in result.attempts] == [((1,), sl.Status.UNSAT), ((2,), sl.Status.SAT)]
    assert result.solved and result.hidden == (2,) and result.backend == backend
    assert result.network is not None and result.network.predict(XOR_X)[:, 0].tolist() == XOR_Y.tolist()


def test_real_encoding_also_proves_one_unit_unable() -> None:
    result = train_exact(XOR_X, XOR_Y, hidden=(1,), max_width=1, max_layers=1, backend="z3", encoding="real")
    assert not result.solved and result.network is None and result.hidden is None
    assert [a.status for a in result.attempts] == [sl.Status.UNSAT]


def test_pysat_cannot_take_the_real_encoding() -> None:
    if "pysat" not in AVAILABLE:
        pytest.skip("backend pysat is not installed")
    with pytest.raises(sl.CapabilityError, match="lra"):
        fit_architecture(XOR_X, XOR_Y, (2,), backend="pysat", encoding="real")


def test_growth_widens_then_deepens() -> None:
    assert list(_growth((1,), 3, 2)) == [(1,), (2,), (3,), (3, 2), (3, 3)]
    assert list(_growth((2, 2), 2, 2)) == [(2, 2)]


def test_several_outputs_and_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "solverlayers.toml"
    cfg.write_text('[solverlayers]\nbackend = "z3"\n')
    y = torch.stack([XOR_Y, XOR_X[:, 0] & XOR_X[:, 1]], 1)  # XOR and AND
    result = train_exact(XOR_X, y, hidden=(2,), config_file=cfg)
    assert result.backend == "z3" and result.solved
    assert torch.equal(result.network.predict(XOR_X), y)


def test_bad_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="two different targets"):
        fit_architecture(torch.tensor([[0, 1], [0, 1]]), torch.tensor([0, 1]), (2,), backend="z3")
    with pytest.raises(ValueError, match="integer inputs"):
        fit_architecture(torch.tensor([[0.5, 1.0]]), torch.tensor([1]), (2,), backend="z3")
    with pytest.raises(ValueError, match="0/1"):
        fit_architecture(XOR_X, torch.tensor([0, 2, 1, 0]), (2,), backend="z3")


def test_step_network_checks_shapes() -> None:
    with pytest.raises(ValueError, match="takes 3 inputs"):
        StepNetwork([torch.zeros(2, 2), torch.zeros(1, 3)], [torch.zeros(2), torch.zeros(1)])
    with pytest.raises(ValueError, match="bias"):
        StepNetwork([torch.zeros(2, 2)], [torch.zeros(3)])


def test_state_dict_round_trip() -> None:
    _, net = fit_architecture(XOR_X, XOR_Y, (2,), backend="z3")
    assert net is not None
    copy = StepNetwork([torch.zeros(2, 2), torch.zeros(1, 2)], [torch.zeros(2), torch.zeros(1)])
    copy.load_state_dict(net.state_dict())
    assert torch.equal(copy(XOR_X), net(XOR_X))


def _compile(source: str, tmp_path: Path, name: str) -> ctypes.CDLL:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH")
    src, lib = tmp_path / f"{name}.c", tmp_path / f"lib{name}.so"
    src.write_text(source)
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return ctypes.CDLL(str(lib))


@pytest.mark.parametrize("encoding", ["bv", "real"])
def test_c_export_agrees_with_the_module_on_every_input(encoding: str, tmp_path: Path) -> None:
    _, net = fit_architecture(XOR_X, XOR_Y, (3,), backend="z3", encoding=encoding)
    assert net is not None
    fn = _compile(to_c(net, "xor_net"), tmp_path, f"xor_{encoding}").xor_net
    fn.restype = None
    expected = net(XOR_X)
    for row, want in zip(XOR_X.tolist(), expected.tolist()):
        inp, out = (ctypes.c_double * 2)(*row), (ctypes.c_double * 1)()
        fn(inp, out)
        assert list(out) == want


def test_c_export_of_a_deep_network_with_fractional_weights(tmp_path: Path) -> None:
    net = StepNetwork([torch.tensor([[0.125, 0.5], [-0.5, -0.5]]), torch.tensor([[1.0, -1.0]]), torch.tensor([[-0.875]])],
                      [torch.tensor([0.1, 0.3]), torch.tensor([0.25]), torch.tensor([0.5])])
    fn = _compile(to_c(net), tmp_path, "deep").propagate
    fn.restype = None
    grid = torch.tensor([[a, b] for a in (-1.0, -0.3, 0.0, 0.7, 2.0) for b in (-2.0, 0.0, 0.4, 1.0)])
    for row, want in zip(grid.tolist(), net(grid).tolist()):
        inp, out = (ctypes.c_double * 2)(*row), (ctypes.c_double * 1)()
        fn(inp, out)
        assert list(out) == want
    with pytest.raises(ValueError, match="C identifier"):
        to_c(net, "not a name")
