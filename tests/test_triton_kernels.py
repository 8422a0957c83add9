"""``satnet-triton`` (Triton kernels) against the ``satnet-torch`` reference, on the CPU.

Triton decides between compiling and interpreting when a kernel is decorated, from
``TRITON_INTERPRET``, so every comparison runs in one subprocess started with
``TRITON_INTERPRET=1`` (this file run as a script): this pytest process never imports Triton and
no other test module is affected. The tests check what that subprocess measured.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")

# name -> (B, n1, m, k, dtype, seed, max_iter, eps, TritonMixingKernels options)
CASES: dict[str, tuple[int, int, int, int, str, int, int, float, dict[str, int]]] = {
    "float32": (3, 12, 40, 5, "float32", 1, 40, 1e-3, {}),  # resident state in a 32-row and a 16-row part
    "float32-streamed": (3, 12, 40, 6, "float32", 2, 40, 1e-3, {"register_budget": 0, "stream_tile": 16}),
    "float64": (3, 12, 8, 4, "float64", 3, 40, 1e-4, {}),
    "float64-streamed": (2, 10, 20, 7, "float64", 4, 40, 1e-4, {"register_budget": 0, "stream_tile": 16}),
    "eps0": (2, 9, 8, 4, "float32", 5, 3, 0.0, {}),
    "max_iter1": (2, 9, 8, 4, "float32", 6, 1, 1e-3, {}),
    "degenerate": (3, 9, 8, 4, "float32", 7, 20, 1e-3, {}),  # a zero clause row, an item with no free row
    "empty-order": (2, 6, 8, 4, "float32", 8, 20, 1e-3, {}),
}
TOL = {"float32": 2e-5, "float64": 1e-12}

SUPPORTS = (
    "import sys, torch, solverlayers.triton_kernels as tk\n"
    "assert 'triton' not in sys.modules\n"
    "k = tk.TritonMixingKernels()\n"
    "print([k.supports(torch.device(d), t) for d, t in "
    "[('cpu', torch.float32), ('cuda', torch.float32), ('cuda', torch.float64), ('cuda', torch.float16)]])"
)


def _start(args: list[str], interpret: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    """The last stdout lines of the two subprocesses, run side by side: the interpreted comparisons
    (JSON) and ``supports`` without the interpreter."""
    procs = {"measured": _start([__file__], interpret=True), "supports": _start(["-c", SUPPORTS], interpret=False)}
    streams = {name: proc.communicate(timeout=600) for name, proc in procs.items()}
    for name, proc in procs.items():
        if proc.returncode != 0:
            out, err = streams[name]
            pytest.fail(f"{name} subprocess failed:\n{out[-2000:]}\n{err[-4000:]}")
    return {name: out.strip().splitlines()[-1] for name, (out, _) in streams.items()}


@pytest.fixture(scope="module")
def measured(outputs: dict[str, str]) -> dict[str, Any]:
    return json.loads(outputs["measured"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_reference(measured: dict[str, Any], case: str) -> None:
    got = measured[case]
    tol = TOL[CASES[case][4]]
    assert got["sweeps"] == got["sweeps_ref"]
    assert got["dv"] <= tol and got["du"] <= tol, got
    assert got["inputs_unchanged"] and got["fixed_rows_kept"] and got["u_zero_off_free"]
    assert got["dtypes_ok"]


def test_cases_cover_the_contract(measured: dict[str, Any]) -> None:
    assert len(set(measured["float32"]["sweeps"])) > 1  # items stop at different sweeps
    assert measured["eps0"]["sweeps"] == [3, 3]
    assert measured["max_iter1"]["sweeps"] == [1, 1]
    assert measured["degenerate"]["sweeps"][2] == 1  # no free row: nothing decreases
    assert measured["empty-order"]["sweeps"] == [1, 1] and measured["empty-order"]["v_unchanged"]


def test_layer_matches_reference(measured: dict[str, Any]) -> None:
    got = measured["layer"]
    assert got["sweeps"] == got["sweeps_ref"]
    assert got["dout"] <= 1e-5 and got["dS"] <= 1e-4 and got["dz"] <= 1e-4, got


def test_supports_and_light_import(outputs: dict[str, str]) -> None:
    assert outputs["supports"] == "[False, True, True, False]"


def _worker() -> dict[str, Any]:
    """Run every case (in the TRITON_INTERPRET=1 subprocess) and report the differences."""
    assert os.environ.get("TRITON_INTERPRET") == "1"
    import torch

    from solverlayers.plugins.satnet.torch_kernels import TorchMixingKernels
    from solverlayers.triton_kernels.satnet import TritonMixingKernels

    assert TritonMixingKernels().supports(torch.device("cpu"), torch.float32)
    results: dict[str, Any] = {}
    for name, (B, n1, m, k, dtype_name, seed, max_iter, eps, options) in CASES.items():
        dtype = getattr(torch, dtype_name)
        gen = torch.Generator().manual_seed(seed)
        S = torch.randn(n1, m, generator=gen, dtype=dtype) / m**0.5
        V = torch.randn(B, n1, k, generator=gen, dtype=dtype)
        V = V / V.norm(dim=-1, keepdim=True)
        free = torch.rand(B, n1, generator=gen) > 0.3
        free[:, 0] = False
        order = torch.randperm(n1 - 1, generator=gen) + 1
        order = order[: n1 - 3]  # the last rows of the permutation are never visited
        if name == "degenerate":
            S[order[0]] = 0
            free[:, order[0]] = True
            free[2] = False
        if name == "empty-order":
            order = order[:0]
        inputs = [t.clone() for t in (S, V, free, order)]
        ref, tri = TorchMixingKernels(), TritonMixingKernels(**options)
        V1, s1 = ref.forward(S, V, free, order, max_iter, eps)
        V2, s2 = tri.forward(S, V, free, order, max_iter, eps)
        G = torch.matmul(S, torch.matmul(S.t(), V1)) - (S * S).sum(1)[:, None] * V1
        diag = G.norm(dim=-1) + 0.1
        d = torch.randn(B, n1, k, generator=gen, dtype=dtype)
        rhs = torch.where(free[..., None], d - (d * V1).sum(-1, keepdim=True) * V1, 0.0)
        bw_inputs = [t.clone() for t in (V1, s1, diag, rhs)]
        U1 = ref.backward(S, V1, free, order, s1, diag, rhs)
        U2 = tri.backward(S, V1, free, order, s1, diag, rhs)
        results[name] = {
            "sweeps": s2.tolist(),
            "sweeps_ref": s1.tolist(),
            "dv": (V1 - V2).abs().max().item(),
            "du": ((U1 - U2).abs().max() / (1 + U1.abs().max())).item(),
            "inputs_unchanged": all(torch.equal(a, b) for a, b in zip(inputs + bw_inputs,
                                                                    [S, V, free, order, V1, s1, diag, rhs])),
            "fixed_rows_kept": torch.equal(V2[~free], V[~free]),
            "u_zero_off_free": bool((U2[~free] == 0).all()),
            "v_unchanged": torch.equal(V2, V),
            "dtypes_ok": V2.dtype == U2.dtype == dtype and s2.dtype == torch.int64,
        }
    results["layer"] = _layer_worker()
    return results


def _layer_worker() -> dict[str, Any]:
    """The SATNet layer's outputs and gradients with both backends from the same random draws."""
    import torch

    from solverlayers.layers.satnet import SATNet

    got = {}
    for backend in ("satnet-torch", "satnet-triton"):
        layer = SATNet(6, 8, aux=2, k=4, max_iter=30, eps=1e-4, backend=backend,
                       generator=torch.Generator().manual_seed(0))
        gen = torch.Generator().manual_seed(1)
        z = torch.rand(3, 6, generator=gen).requires_grad_()
        is_input = torch.rand(3, 6, generator=gen) < 0.4
        out = layer(z, is_input)
        (out * torch.linspace(-1, 1, 6)).sum().backward()
        got[backend] = (out.detach(), layer.S.grad, z.grad, layer.last_sweeps.tolist())
    (o1, dS1, dz1, s1), (o2, dS2, dz2, s2) = got["satnet-torch"], got["satnet-triton"]
    return {
        "sweeps": s2, "sweeps_ref": s1, "dout": (o1 - o2).abs().max().item(),
        "dS": ((dS1 - dS2).abs().max() / (1 + dS1.abs().max())).item(),
        "dz": ((dz1 - dz2).abs().max() / (1 + dz1.abs().max())).item(),
    }


if __name__ == "__main__":
    print(json.dumps(_worker()))
