"""SATNet (Wang et al., ICML 2019): a differentiable MaxSAT SDP-relaxation layer.

The layer relaxes its inputs to unit vectors, runs the mixing method (coordinate descent) over the
free variables, reads each output off the angle to the truth vector, and differentiates through
the fixed point analytically (the paper's Theorem 1) with a linear solve by coordinate descent.
The heavy loops run on a :class:`~solverlayers.mixing.MixingKernels` implementation chosen by
backend name (``satnet-torch``, ``satnet-cpu``, ``satnet-triton``); everything else is shared.

Differences from the official implementation (locuslab/SATNet):

* the input gradient is the true derivative (the official one has three errors; see the tests);
* ``leak_free=True`` stops the loss at input positions from reaching the inputs through the
  pass-through (label leakage, Topan et al. 2021); only the gradient through the SDP remains;
* a batch item whose gradient cannot be computed (an output exactly at the truth pole, a singular
  solve) is reported (``degenerate_count``, ``last_degenerate``, a warning), not silently zeroed;
* every random draw comes from ``generator``; any device, float32 and float64, any ``m``, any rank
  ``k >= 2``, and ``is_input`` of any integer or bool dtype.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..interfaces import CapabilityError
from ..mixing import MixingKernels

__all__ = ["DegenerateGradientWarning", "SATNet", "get_kernels"]

DEFAULT_BACKEND = "satnet-torch"
_kernel_cache: dict[str, MixingKernels] = {}


class DegenerateGradientWarning(RuntimeWarning):
    """Some batch items' gradient through the SDP could not be computed and was left out."""


def get_kernels(backend: str) -> MixingKernels:
    """The MixingKernels of the registered backend ``backend`` (opened once, then cached)."""
    if backend not in _kernel_cache:
        from ..registry import get_backend

        spec = get_backend(backend)
        opened = spec.open(spec.resolve_options({}))
        kernels = getattr(opened, "kernels", None)
        if not isinstance(kernels, MixingKernels):
            raise CapabilityError(f"backend {backend!r} provides no SATNet mixing kernels; use satnet-torch or satnet-cpu")
        _kernel_cache[backend] = kernels
    return _kernel_cache[backend]


def relax_inputs(z: torch.Tensor, is_input: torch.Tensor, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial ``V`` (B, n1, k) and the input directions ``r`` (unit, orthogonal to ``e0``).

    Row 0 is the truth vector ``e0``; input rows ``v = -cos(pi z) e0 + sin(pi z) r`` (eq. 5);
    free rows ``R / |R|``. ``R`` is a standard normal draw of ``V``'s shape.
    """
    r = R.clone()
    r[..., 0] = 0
    r = r / r.norm(dim=-1, keepdim=True)
    free_v = R / R.norm(dim=-1, keepdim=True)
    angle = math.pi * z[..., None]
    e0 = torch.zeros(R.shape[-1], dtype=R.dtype, device=R.device)
    e0[0] = 1
    inp_v = -torch.cos(angle) * e0 + torch.sin(angle) * r
    V = torch.where(is_input[..., None], inp_v, free_v)
    V[:, 0] = e0
    return V.contiguous(), r


class _MixingFunction(torch.autograd.Function):
    """(S, z over all n1 rows) -> z over all n1 rows; analytic backward (Theorem 1, eq. 9-12)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        S: torch.Tensor,
        z: torch.Tensor,
        is_input: torch.Tensor,
        R: torch.Tensor,
        order: torch.Tensor,
        kernels: MixingKernels,
        settings: tuple[int, float, float, bool],
        report: Callable[[torch.Tensor, torch.Tensor | None], None],
    ) -> torch.Tensor:
        max_iter, eps, _, _ = settings
        V0, r = relax_inputs(z, is_input, R)
        free = ~is_input
        V, sweeps = kernels.forward(S.detach().contiguous(), V0, free, order, max_iter, eps)
        z_out = torch.where(is_input, z, torch.acos((-V[..., 0]).clamp(-1, 1)) / math.pi)
        ctx.save_for_backward(S, z, is_input, r, order, V, sweeps)
        ctx.kernels, ctx.settings, ctx.report = kernels, settings, report
        report(sweeps, None)
        return z_out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        S, z, is_input, r, order, V, sweeps = ctx.saved_tensors
        _, _, prox_lam, leak_free = ctx.settings
        S = S.detach().contiguous()
        free = ~is_input
        out_rows = free & (grad != 0)
        # dL/dv_o projected on the tangent space: (dL/dz_o / pi) w / |w|, w = e0 - (v_o . e0) v_o (eq. 8).
        w = -V[..., 0:1] * V
        w[..., 0] += 1
        wnorm = w.norm(dim=-1)
        bad_rows = out_rows & ~(wnorm > 0)
        scale = torch.where(out_rows & ~bad_rows, grad / (math.pi * torch.where(wnorm > 0, wnorm, 1.0)), 0.0)
        rhs = (scale[..., None] * w).contiguous()
        W = torch.matmul(S.t(), V)  # (B, m, k)
        G = torch.matmul(S, W) - (S * S).sum(1)[:, None] * V
        diag = (G.norm(dim=-1) + prox_lam).contiguous()
        U = ctx.kernels.backward(S, V, free, order, sweeps, diag, rhs)
        bad = bad_rows.any(1) | ~torch.isfinite(U).all(2).all(1)
        U = torch.where(bad[:, None, None], 0.0, U)
        Psi = torch.matmul(S.t(), U)  # (B, m, k)
        dS = -(torch.einsum("bik,bmk->im", U, W) + torch.einsum("bik,bmk->im", V, Psi))
        dV = -torch.matmul(S, Psi)  # dL/dv at the input rows (eq. 10)
        angle = math.pi * z
        e0_part = dV[..., 0] * torch.sin(angle)
        r_part = (dV * r).sum(-1) * torch.cos(angle)
        through_sdp = math.pi * (e0_part + r_part)  # dL/dv . dv/dz (eq. 12-13)
        direct = torch.zeros_like(grad) if leak_free else grad
        dz = torch.where(is_input, direct + through_sdp, 0.0)
        ctx.report(sweeps, bad.nonzero().flatten())
        return dS.to(S.dtype), dz, None, None, None, None, None, None


class SATNet(nn.Module):
    """A differentiable MaxSAT layer over ``n`` variables, ``m`` clauses and ``aux`` auxiliaries.

    ``S`` has shape ``(n + 1 + aux, m)`` (row 0 the truth variable, then the ``n`` variables, then
    the auxiliaries), as in the official implementation. ``forward(z, is_input)`` maps
    probabilities ``z`` (B, n) and a mask ``is_input`` (B, n, any integer or bool dtype) to
    probabilities (B, n): inputs pass through, outputs come from the relaxation.

    ``max_iter``/``eps`` bound the forward coordinate descent (stop when a sweep's decrease is at
    most ``eps`` times the first's); the backward solve runs as many sweeps as each item's forward,
    with ``prox_lam`` added to the diagonal. ``k`` is the rank (official: 32). ``backend`` names
    the MixingKernels (``satnet-torch`` reference, ``satnet-cpu`` fast CPU, ``satnet-triton``).
    ``on_degenerate`` is ``"warn"`` or ``"raise"`` for items whose gradient cannot be computed.

    After each call: ``last_sweeps`` (B,) the forward sweeps per item; after each backward:
    ``last_degenerate`` the items whose gradient through the SDP was left out (their pass-through
    gradient at input positions remains) and ``degenerate_count`` the running total of such items.
    """

    def __init__(
        self,
        n: int,
        m: int,
        aux: int = 0,
        max_iter: int = 40,
        eps: float = 1e-4,
        prox_lam: float = 1e-2,
        weight_normalize: bool = True,
        *,
        k: int = 32,
        backend: str = DEFAULT_BACKEND,
        leak_free: bool = False,
        generator: torch.Generator | None = None,
        on_degenerate: str = "warn",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if n < 1 or m < 1 or aux < 0 or k < 2 or max_iter < 1:
            raise ValueError(f"need n >= 1, m >= 1, aux >= 0, k >= 2, max_iter >= 1; got {n}, {m}, {aux}, {k}, {max_iter}")
        if not 0 <= eps < 1 or prox_lam < 0:
            raise ValueError(f"need 0 <= eps < 1 and prox_lam >= 0; got {eps}, {prox_lam}")
        if on_degenerate not in ("warn", "raise"):
            raise ValueError(f"on_degenerate must be 'warn' or 'raise', got {on_degenerate!r}")
        self.n, self.m, self.aux, self.k = n, m, aux, k
        self.max_iter, self.eps, self.prox_lam = max_iter, eps, prox_lam
        self.backend, self.leak_free, self.generator, self.on_degenerate = backend, leak_free, generator, on_degenerate
        dtype = dtype or torch.get_default_dtype()
        gen_device = generator.device if generator is not None else torch.device("cpu")
        S = torch.randn(n + 1 + aux, m, generator=generator, device=gen_device, dtype=dtype)
        if weight_normalize:
            S = S * math.sqrt(0.5 / (n + 1 + aux + m))
        self.S = nn.Parameter(S.to(device))
        self.last_sweeps: torch.Tensor | None = None
        self.last_degenerate = torch.empty(0, dtype=torch.int64)
        self.degenerate_count = 0

    def extra_repr(self) -> str:
        return (f"n={self.n}, m={self.m}, aux={self.aux}, k={self.k}, max_iter={self.max_iter}, eps={self.eps}, "
                f"prox_lam={self.prox_lam}, backend={self.backend!r}, leak_free={self.leak_free}")

    def _report(self, sweeps: torch.Tensor, bad: torch.Tensor | None) -> None:
        """Record a forward's sweep counts (``bad`` None) or a backward's degenerate items."""
        self.last_sweeps = sweeps
        if bad is None:
            return
        self.last_degenerate = bad.cpu()
        if bad.numel() == 0:
            return
        self.degenerate_count += bad.numel()
        msg = (f"SATNet: the gradient through the SDP of batch item(s) {bad.tolist()} is degenerate "
               "(an output at the truth pole or a singular solve) and was left out")
        if self.on_degenerate == "raise":
            raise FloatingPointError(msg)
        warnings.warn(msg, DegenerateGradientWarning, stacklevel=2)

    def forward(self, z: torch.Tensor, is_input: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Outputs (B, n); ``generator`` overrides the layer's for this call's random draws."""
        if z.dim() != 2 or z.shape[1] != self.n or is_input.shape != z.shape:
            raise ValueError(f"z and is_input must both be (B, {self.n}); got {tuple(z.shape)} and {tuple(is_input.shape)}")
        if is_input.dtype.is_floating_point or is_input.dtype.is_complex:
            raise TypeError(f"is_input must be a bool or integer tensor, got {is_input.dtype}")
        S = self.S
        kernels = get_kernels(self.backend)
        if not kernels.supports(S.device, S.dtype):
            raise CapabilityError(f"backend {self.backend!r} does not run on {S.device} with {S.dtype}")
        B, dev, dt = z.shape[0], S.device, S.dtype
        inp = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=dev), is_input.to(dev) != 0,
                         torch.zeros(B, self.aux, dtype=torch.bool, device=dev)], dim=1)
        zf = torch.cat([torch.ones(B, 1, dtype=dt, device=dev), z.to(device=dev, dtype=dt),
                        torch.zeros(B, self.aux, dtype=dt, device=dev)], dim=1)
        gen = generator if generator is not None else self.generator
        gen_device = gen.device if gen is not None else dev
        n1 = self.n + 1 + self.aux
        R = torch.randn(B, n1, self.k, generator=gen, device=gen_device, dtype=dt).to(dev)
        order = (torch.randperm(n1 - 1, generator=gen, device=gen_device) + 1).to(dev)
        settings = (self.max_iter, self.eps, self.prox_lam, self.leak_free)
        out = _MixingFunction.apply(S, zf, inp, R, order, kernels, settings, self._report)
        return out[:, 1:self.n + 1]
