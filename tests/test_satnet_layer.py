"""The SATNet layer: analytic gradients against central finite differences, determinism, dtypes,
the fast CPU path against the pure-PyTorch oracle, degenerate-gradient reporting, state_dict."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from solverlayers.interfaces import CapabilityError
from solverlayers.layers import SATNet
from solverlayers.layers.satnet import DegenerateGradientWarning

F64 = torch.float64


def make(seed: int, n: int = 5, m: int = 8, aux: int = 3, k: int = 6, batch: int = 1, dtype: torch.dtype = F64,
         **kw: object) -> tuple[SATNet, torch.Tensor, torch.Tensor, torch.Tensor]:
    layer = SATNet(n, m, aux, k=k, dtype=dtype, generator=torch.Generator().manual_seed(seed), **kw)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(seed + 100)
    z = torch.rand(batch, n, dtype=dtype, generator=g)
    is_input = torch.rand(batch, n, generator=g) > 0.5
    weights = torch.randn(batch, n, dtype=dtype, generator=g)
    return layer, z, is_input, weights


def loss_and_grads(layer: SATNet, z: torch.Tensor, is_input: torch.Tensor, w: torch.Tensor,
                   seed: int = 7) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    layer.zero_grad()
    zr = z.clone().requires_grad_()
    out = layer(zr, is_input, generator=torch.Generator().manual_seed(seed))
    (out * w).sum().backward()
    assert layer.S.grad is not None and zr.grad is not None
    return out.detach(), layer.S.grad.clone(), zr.grad.clone()


def loss_at(layer: SATNet, S: torch.Tensor, z: torch.Tensor, is_input: torch.Tensor, w: torch.Tensor) -> float:
    with torch.no_grad():
        saved = layer.S.detach().clone()
        layer.S.copy_(S)
        out = layer(z, is_input, generator=torch.Generator().manual_seed(7))
        layer.S.copy_(saved)
    return float((out * w).sum())


CONVERGED = {"max_iter": 20000, "eps": 1e-24, "prox_lam": 0.0}


@pytest.mark.parametrize("backend,seed", [("satnet-cpu", 0), ("satnet-cpu", 1), ("satnet-cpu", 3),
                                          ("satnet-cpu", 5), ("satnet-torch", 2)])
def test_gradients_match_central_differences(backend: str, seed: int) -> None:
    layer, z, is_input, w = make(seed, backend=backend, **CONVERGED)  # type: ignore[arg-type]
    _, gS, gz = loss_and_grads(layer, z, is_input, w)
    assert layer.last_sweeps is not None and int(layer.last_sweeps.max()) < CONVERGED["max_iter"]
    S0, h = layer.S.detach().clone(), 1e-6
    g = torch.Generator().manual_seed(seed + 200)
    for _ in range(2):
        D = torch.randn(S0.shape, dtype=F64, generator=g)
        fd = (loss_at(layer, S0 + h * D, z, is_input, w) - loss_at(layer, S0 - h * D, z, is_input, w)) / (2 * h)
        assert float((gS * D).sum()) == pytest.approx(fd, rel=1e-6, abs=1e-8)
        Dz = torch.randn(z.shape, dtype=F64, generator=g) * is_input
        fd = (loss_at(layer, S0, z + h * Dz, is_input, w) - loss_at(layer, S0, z - h * Dz, is_input, w)) / (2 * h)
        assert float((gz * Dz).sum()) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert torch.all(gz[~is_input] == 0)  # outputs do not depend on z at output positions


def test_input_gradient_above_one_half_has_the_right_sign() -> None:
    """The official code drops the sign of cos(pi z) (wrong for z > 0.5): check z near 1 too."""
    layer, z, is_input, w = make(3, backend="satnet-cpu", **CONVERGED)  # type: ignore[arg-type]
    z = torch.where(is_input, 0.9, z)
    _, _, gz = loss_and_grads(layer, z, is_input, w)
    S0, h = layer.S.detach().clone(), 1e-6
    for i in is_input[0].nonzero().flatten().tolist():
        e = torch.zeros_like(z)
        e[0, i] = 1
        fd = (loss_at(layer, S0, z + h * e, is_input, w) - loss_at(layer, S0, z - h * e, is_input, w)) / (2 * h)
        assert float(gz[0, i]) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_leak_free_removes_only_the_pass_through() -> None:
    layer, z, is_input, w = make(1, batch=3, backend="satnet-cpu")
    out, _, gz = loss_and_grads(layer, z, is_input, w)
    layer.leak_free = True
    out2, _, gz2 = loss_and_grads(layer, z, is_input, w)
    assert torch.equal(out, out2)
    assert torch.allclose(gz, gz2 + torch.where(is_input, w, 0.0), atol=1e-12)


@pytest.mark.parametrize("backend", ["satnet-torch", "satnet-cpu"])
def test_deterministic_given_a_generator(backend: str) -> None:
    a = [loss_and_grads(*make(4, batch=3, backend=backend)[0:4]) for _ in range(2)]
    for x, y in zip(*a):
        assert torch.equal(x, y)
    layer, z, is_input, _ = make(4, batch=3, backend=backend)
    other = layer(z, is_input, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(other, a[0][0])


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.uint8, torch.int8])
def test_is_input_of_any_integer_or_bool_dtype(dtype: torch.dtype) -> None:
    layer, z, is_input, w = make(6, batch=2, backend="satnet-cpu")
    ref = loss_and_grads(layer, z, is_input, w)
    got = loss_and_grads(layer, z, is_input.to(dtype), w)
    for x, y in zip(ref, got):
        assert torch.equal(x, y)
    assert torch.equal(ref[0][is_input], z[is_input])  # inputs pass through


def test_float_is_input_is_rejected() -> None:
    layer, z, is_input, _ = make(6)
    with pytest.raises(TypeError, match="is_input"):
        layer(z, is_input.float())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("m", [1, 7, 13])
def test_any_m_and_both_float_dtypes(m: int, dtype: torch.dtype) -> None:
    layer, z, is_input, w = make(m, m=m, batch=2, dtype=dtype, backend="satnet-cpu")
    out, gS, gz = loss_and_grads(layer, z, is_input, w)
    assert out.dtype == gS.dtype == gz.dtype == dtype and gS.shape == (5 + 1 + 3, m)
    assert torch.isfinite(gS).all() and torch.isfinite(gz).all()
    assert ((out >= 0) & (out <= 1)).all()


@pytest.mark.parametrize("dtype,eps,tol", [(F64, 1e-4, 1e-10), (torch.float32, 0.0, 2e-4)])
def test_fast_cpu_path_equals_the_torch_oracle(dtype: torch.dtype, eps: float, tol: float) -> None:
    results = {}
    for backend in ("satnet-torch", "satnet-cpu"):
        layer, z, is_input, w = make(9, n=30, m=20, aux=8, k=32, batch=4, dtype=dtype, backend=backend,
                                     max_iter=25, eps=eps)
        results[backend] = (*loss_and_grads(layer, z, is_input, w), layer.last_sweeps)
    ref, fast = results["satnet-torch"], results["satnet-cpu"]
    assert torch.equal(ref[3], fast[3])  # same sweep counts
    for x, y in zip(ref[:3], fast[:3]):
        scale = max(float(x.abs().max()), 1.0)
        assert float((x - y).abs().max()) <= tol * scale


@pytest.mark.parametrize("k", [5, 24, 72])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_cpu_kernels_match_the_reference_for_any_rank(k: int, dtype: torch.dtype) -> None:
    """Kernel level, 130 rows (two of the fast path's 64-row blocks), rows free per item; k = 5 takes
    the scalar path, 24 and 72 the vector tiles of every width."""
    from solverlayers.layers.satnet import get_kernels

    g = torch.Generator().manual_seed(k)
    B, n1, m = 3, 130, 40
    S = torch.randn(n1, m, generator=g, dtype=dtype)
    V = torch.randn(B, n1, k, generator=g, dtype=dtype)
    V /= V.norm(dim=-1, keepdim=True)
    free = torch.rand(B, n1, generator=g) > 0.3
    free[:, 0] = False
    order = torch.randperm(n1 - 1, generator=g) + 1
    ref, fast = get_kernels("satnet-torch"), get_kernels("satnet-cpu")
    V1, s1 = ref.forward(S, V, free, order, 4, 1e-6)
    V2, s2 = fast.forward(S, V, free, order, 4, 1e-6)
    G = S @ (S.t() @ V1) - (S * S).sum(1)[:, None] * V1
    diag = G.norm(dim=-1) + 0.01
    rhs = torch.randn(B, n1, k, generator=g, dtype=dtype)
    rhs -= (rhs * V1).sum(-1, keepdim=True) * V1
    U1, U2 = ref.backward(S, V1, free, order, s1, diag, rhs), fast.backward(S, V1, free, order, s1, diag, rhs)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.equal(s1, s2) and torch.allclose(V1, V2, atol=tol * 10)
    assert torch.allclose(U1, U2, atol=tol * float(U1.abs().max()))
    assert torch.equal(V2[~free], V[~free]) and torch.all(U2[~free] == 0)


def test_degenerate_items_are_reported_not_silently_zeroed() -> None:
    """Variable 2 has a zero clause row: with prox_lam = 0 its solve is singular (0/0) in the
    item where it is free (item 1) and harmless where it is an input (item 0)."""
    layer, z, _, w = make(2, batch=2, backend="satnet-cpu", prox_lam=0.0)
    with torch.no_grad():
        layer.S[3] = 0  # row 0 is truth: variable index 2 is row 3
    is_input = torch.tensor([[1, 0, 1, 0, 0], [1, 0, 0, 0, 1]], dtype=torch.int32)
    with pytest.warns(DegenerateGradientWarning, match=r"\[1\]"):
        _, gS, gz = loss_and_grads(layer, z, is_input, w)
    assert layer.degenerate_count == 1 and layer.last_degenerate.tolist() == [1]
    assert torch.isfinite(gS).all() and torch.isfinite(gz).all()
    assert gz[1, 0] == w[1, 0] and gz[1, 4] == w[1, 4]  # item 1 keeps its pass-through only
    layer.on_degenerate = "raise"
    with pytest.raises(FloatingPointError, match="degenerate"):
        loss_and_grads(layer, z, is_input, w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_and_grads(layer, z, torch.tensor([[1, 0, 1, 0, 0]] * 2), w)  # no free zero row: silent
    assert layer.last_degenerate.numel() == 0 and layer.degenerate_count == 2


def test_state_dict_round_trip() -> None:
    layer, z, is_input, w = make(3, batch=2, backend="satnet-cpu")
    other = SATNet(5, 8, 3, k=6, dtype=F64, backend="satnet-cpu", generator=torch.Generator().manual_seed(99))
    other.load_state_dict(layer.state_dict())
    assert list(layer.state_dict()) == ["S"]
    for x, y in zip(loss_and_grads(layer, z, is_input, w), loss_and_grads(other, z, is_input, w)):
        assert torch.equal(x, y)


def test_official_initialisation_scale_and_layout() -> None:
    layer = SATNet(10, 20, aux=4, generator=torch.Generator().manual_seed(0))
    assert layer.S.shape == (15, 20) and layer.S.dtype == torch.float32
    assert float(layer.S.detach().std()) == pytest.approx((0.5 / (15 + 20)) ** 0.5, rel=0.15)
    assert float(SATNet(10, 20, aux=4, weight_normalize=False).S.detach().std()) == pytest.approx(1.0, rel=0.15)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SATNet(3, 4, k=1)
    layer = SATNet(3, 4)
    with pytest.raises(ValueError, match="is_input"):
        layer(torch.rand(2, 3), torch.ones(2, 4, dtype=torch.int32))


def test_missing_triton_kernels_are_a_clear_capability_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import solverlayers.plugins.satnet as plugin
    from solverlayers.layers import satnet as layer_module

    monkeypatch.setattr(plugin, "TRITON_MODULE", "solverlayers.triton_kernels.no_such_module")
    monkeypatch.setattr(layer_module, "_kernel_cache", {})
    layer = SATNet(3, 4, backend="satnet-triton")
    with pytest.raises(CapabilityError, match="satnet-triton"):
        layer(torch.rand(2, 3), torch.ones(2, 3, dtype=torch.int32))


def test_plugin_import_is_light() -> None:
    code = ("import sys, solverlayers.registry as r; names = [s.name for s in r.list_backends()]; "
            "assert {'satnet-torch', 'satnet-cpu', 'satnet-triton'} <= set(names), names; "
            "heavy = {'triton', 'solverlayers.triton_kernels.satnet', 'solverlayers.plugins.satnet.cpu_kernels', "
            "'solverlayers.plugins.satnet.torch_kernels'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
