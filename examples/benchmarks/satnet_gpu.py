"""SATNet on a GPU: ``satnet-triton`` against ``satnet-torch`` on the same device (CUDA only).

The Sudoku-sized layer of the SATNet paper (n=729, m=600, aux=300, rank 32, batch 40, max_iter
40, eps 1e-4; random digits, 36 given cells per board, i.e. 324 input bits): wall time of the
layer's forward and of forward+backward for both backends from the same random draws, and the
speed-up (target: >= 20x).
``--num-warps`` (with ``--register-budget``) also times the bare Triton kernels in other
configurations. ``--check`` compares the two backends: the layer's outputs and gradients, the
kernels with a fixed sweep count (eps = 0), and ``torch.compile`` of the Triton forward op. Run
``python examples/benchmarks/satnet_gpu.py --help``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from solverlayers.layers.satnet import SATNet, relax_inputs


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    """Mean seconds of ``fn()`` over ``repeat`` runs (after CUDA synchronisation)."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def _boards(args: argparse.Namespace, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random one-hot boards ``z`` (B, n) and masks ``is_input`` with ``args.givens`` given cells."""
    gen = torch.Generator().manual_seed(args.seed)
    cells = args.n // 9
    digits = torch.randint(9, (args.batch, cells), generator=gen)
    z = torch.nn.functional.one_hot(digits, 9).reshape(args.batch, cells * 9).float()
    given = torch.rand(args.batch, cells, generator=gen).argsort(1) < args.givens
    is_input = given[:, :, None].expand(-1, -1, 9).reshape(args.batch, cells * 9)
    z = torch.cat([z, torch.zeros(args.batch, args.n - cells * 9)], 1)
    is_input = torch.cat([is_input, torch.zeros(args.batch, args.n - cells * 9, dtype=torch.bool)], 1)
    return z.to(device), is_input.to(device)


def _layer(backend: str, args: argparse.Namespace, device: torch.device) -> SATNet:
    return SATNet(args.n, args.m, args.aux, max_iter=args.max_iter, eps=args.eps, k=args.k, backend=backend,
                  generator=torch.Generator().manual_seed(args.seed), device=device)


def _step(layer: SATNet, z: torch.Tensor, is_input: torch.Tensor, seed: int,
          backward: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """One forward (and backward) call with the random draws of ``seed``: (out, dS, dz)."""
    layer.S.grad = None
    z = z.detach().requires_grad_(backward)
    gen = torch.Generator(device=z.device).manual_seed(seed)
    out = layer(z, is_input, generator=gen)
    if not backward:
        return out.detach(), None, None
    torch.nn.functional.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), torch.full_like(out, 0.5)).backward()
    return out.detach(), layer.S.grad, z.grad


def _compare(name: str, ref: torch.Tensor, got: torch.Tensor, rel_tol: float) -> bool:
    diff = (ref.double() - got.double()).abs().max().item()
    scale = ref.abs().max().item()
    cos = torch.nn.functional.cosine_similarity(ref.double().flatten(), got.double().flatten(), dim=0).item()
    ok = diff <= rel_tol * max(scale, 1e-30)
    print(f"  {name:<22} max|diff| {diff:.3e}  (max|ref| {scale:.3e}, cosine {cos:.8f})  {'ok' if ok else 'FAILED'}")
    return ok


def _kernel_inputs(layer: SATNet, z: torch.Tensor, is_input: torch.Tensor, seed: int) -> tuple[torch.Tensor, ...]:
    """``(S, V0, free, order)`` as the layer passes them to the kernels (draws of ``seed``)."""
    B, dev, dt = z.shape[0], z.device, layer.S.dtype
    n1 = layer.n + 1 + layer.aux
    gen = torch.Generator(device=dev).manual_seed(seed)
    R = torch.randn(B, n1, layer.k, generator=gen, device=dev, dtype=dt)
    order = torch.randperm(n1 - 1, generator=gen, device=dev) + 1
    inp = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=dev), is_input,
                     torch.zeros(B, layer.aux, dtype=torch.bool, device=dev)], 1)
    zf = torch.cat([torch.ones(B, 1, device=dev), z, torch.zeros(B, layer.aux, device=dev)], 1).to(dt)
    V0, _ = relax_inputs(zf, inp, R)
    return layer.S.detach().contiguous(), V0, ~inp, order


def _check(args: argparse.Namespace, layers: dict[str, SATNet], z: torch.Tensor, is_input: torch.Tensor) -> bool:
    from solverlayers.layers.satnet import get_kernels
    from solverlayers.triton_kernels.satnet import TritonMixingKernels, mixing_forward

    print("check: the layer, same random draws")
    o1, dS1, dz1 = _step(layers["satnet-torch"], z, is_input, args.seed, True)
    o2, dS2, dz2 = _step(layers["satnet-triton"], z, is_input, args.seed, True)
    s1, s2 = layers["satnet-torch"].last_sweeps, layers["satnet-triton"].last_sweeps
    same = (s1 == s2).float().mean().item()
    print(f"  sweeps equal in {same:.0%} of the items (a stopping decision may flip on round-off)")
    ok = _compare("output", o1, o2, 1e-3) and same >= 0.9
    ok &= _compare("dL/dS", dS1, dS2, 1e-2) & _compare("dL/dz", dz1, dz2, 1e-2)

    print("check: the kernels, fixed sweep count (eps = 0, max_iter = 5)")
    S, V0, free, order = _kernel_inputs(layers["satnet-torch"], z, is_input, args.seed + 1)
    ref, tri = get_kernels("satnet-torch"), get_kernels("satnet-triton")
    V1, sw1 = ref.forward(S, V0, free, order, 5, 0.0)
    V2, sw2 = tri.forward(S, V0, free, order, 5, 0.0)
    ok &= bool(torch.equal(sw1, sw2)) & _compare("V", V1, V2, 1e-4)
    G = torch.matmul(S, torch.matmul(S.t(), V1)) - (S * S).sum(1)[:, None] * V1
    diag = G.norm(dim=-1) + 1e-2
    d = torch.randn(V1.shape, generator=torch.Generator(device=V1.device).manual_seed(0), device=V1.device)
    rhs = torch.where(free[..., None], d - (d * V1).sum(-1, keepdim=True) * V1, 0.0)
    ok &= _compare("U", ref.backward(S, V1, free, order, sw1, diag, rhs),
                   tri.backward(S, V1, free, order, sw1, diag, rhs), 1e-4)

    print("check: torch.compile(fullgraph=True) of the Triton forward op")
    cfg = TritonMixingKernels()

    def fn(S: torch.Tensor, V: torch.Tensor, free: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        return mixing_forward(S, V, free, order, 5, 0.0, cfg.register_budget, cfg.stream_tile, cfg.num_warps)[0].sum(-1)

    small = (S[:50, :64].contiguous(), V0[:2, :50].contiguous(), free[:2, :50].contiguous(), order[order < 50])
    for backend in ("aot_eager", "inductor"):
        try:
            diff = (torch.compile(fn, backend=backend, fullgraph=True)(*small) - fn(*small)).abs().max().item()
            good = diff <= 1e-5
            print(f"  {backend:<22} max|diff| {diff:.3e}  {'ok' if good else 'FAILED'}")
        except Exception as exc:  # report every failure of the composition, then go on
            good = False
            print(f"  {backend:<22} FAILED: {type(exc).__name__}: {str(exc)[:300]}")
        ok &= good
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=729)
    parser.add_argument("--m", type=int, default=600)
    parser.add_argument("--aux", type=int, default=300)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--givens", type=int, default=36, help="given cells per board (9 input bits each)")
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--eps", type=float, default=1e-4)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of satnet-triton")
    parser.add_argument("--repeat-torch", type=int, default=1, help="timed runs of satnet-torch (slow)")
    parser.add_argument("--num-warps", type=int, nargs="*", default=[],
                        help="also time the bare Triton kernels at these warp counts (0: automatic)")
    parser.add_argument("--register-budget", type=int, default=128 * 1024,
                        help="register_budget of those timings (0: stream the state through global memory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="compare outputs and gradients of the two backends")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("satnet_gpu.py needs a CUDA GPU, and torch.cuda.is_available() is False here "
                         "(satnet-triton runs its kernels on CUDA; the CPU has only the Triton interpreter)")
    try:
        import triton  # noqa: F401
    except ImportError:
        raise SystemExit("satnet_gpu.py needs Triton: pip install 'solverlayers[triton]'") from None
    device = torch.device("cuda")
    print(f"{torch.cuda.get_device_name(device)}; torch {torch.__version__}, triton {triton.__version__}")
    print(f"layer n={args.n} m={args.m} aux={args.aux} k={args.k}, batch {args.batch}, "
          f"max_iter {args.max_iter}, eps {args.eps}")
    z, is_input = _boards(args, device)
    layers = {b: _layer(b, args, device) for b in ("satnet-torch", "satnet-triton")}
    _step(layers["satnet-triton"], z, is_input, args.seed, True)  # compiles the kernels
    _step(layers["satnet-torch"], z[:1], is_input[:1], args.seed, True)  # CUDA and cuBLAS start-up

    times: dict[tuple[str, bool], float] = {}
    for backend, layer in layers.items():
        repeat = args.repeat if backend == "satnet-triton" else args.repeat_torch
        for backward in (False, True):
            times[backend, backward] = _timed(lambda: _step(layer, z, is_input, args.seed, backward), repeat)
        sweeps = layer.last_sweeps.float()
        print(f"{backend:<14} forward {times[backend, False] * 1e3:9.1f} ms   forward+backward "
              f"{times[backend, True] * 1e3:9.1f} ms   sweeps {sweeps.mean():.1f} (max {sweeps.max():.0f})")
    for backward, what in ((False, "forward"), (True, "forward+backward")):
        ratio = times["satnet-torch", backward] / times["satnet-triton", backward]
        print(f"speed-up {what:<17} {ratio:7.1f}x  ({'meets' if ratio >= 20 else 'BELOW'} the 20x target)")

    if args.num_warps:
        from solverlayers.triton_kernels.satnet import TritonMixingKernels

        S, V0, free, order = _kernel_inputs(layers["satnet-triton"], z, is_input, args.seed)
        for warps in args.num_warps:
            kern = TritonMixingKernels(num_warps=warps, register_budget=args.register_budget)
            V, sweeps = kern.forward(S, V0, free, order, args.max_iter, args.eps)
            diag, rhs = torch.ones_like(V[..., 0]), torch.zeros_like(V)
            t_fwd = _timed(lambda: kern.forward(S, V0, free, order, args.max_iter, args.eps), args.repeat)
            t_bwd = _timed(lambda: kern.backward(S, V, free, order, sweeps, diag, rhs), args.repeat)
            print(f"kernels num_warps={warps or 'auto':<4} forward {t_fwd * 1e3:8.2f} ms   "
                  f"backward {t_bwd * 1e3:8.2f} ms   ({sweeps.sum().item()} sweeps in the batch)")

    if args.check and not _check(args, layers, z, is_input):
        raise SystemExit("check FAILED")


if __name__ == "__main__":
    main()
