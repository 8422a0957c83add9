"""``satnet-triton``: SATNet's mixing method (:mod:`solverlayers.mixing`) as Triton kernels.

Design
------
One Triton program per batch item runs the item's whole solve (every sweep, the stopping rule,
the sweep count) in a single launch; forward and backward share one kernel (``BACKWARD``).
The coordinate descent is a chain of ``sweeps x free rows`` strictly sequential steps (about
30 x 700 per item for Sudoku) of little work each (``4 m k`` flops), so a step's *latency* is the
cost, and the kernel keeps all that the chain needs on one SM:

* **Resident state** (the ``(m, k)`` state fits ``register_budget``, 128 KiB by default, e.g.
  ``m <= 1024, k <= 32`` in float32): ``W = S^T V`` (backward: ``Psi = S^T U``) stays in
  registers for the whole solve. Triton tensors have power-of-two sizes, so the rows are held as
  a ``BLOCK_M``-row part plus, where it saves registers, a smaller ``BLOCK_T``-row tail (Sudoku,
  ``m = 600``: 512 + 128 rows instead of 1024), over 16 warps by default. A step is one
  multiply-reduce over ``m`` (per-thread partial sums over the thread's rows, then one cross-warp
  reduction), a few k-vector reductions, and a register-only rank-1 update; the next step's
  clause row is loaded during the current step (``S`` is shared by the batch, in L2). Compiled
  for sm_90 (Triton 3.6 and 3.9, ``ptxas -v``), the Sudoku forward and backward use 116-124
  registers a thread and spill nothing; a single 1024-row part would spill with Triton 3.6.
* **Streamed state** (larger ``m k``, float64 Sudoku): the state lives in a global workspace
  (per item, in L1/L2) and each step makes *one* pass over it in ``stream_tile``-row tiles,
  fusing the previous step's pending rank-1 update with this step's product ``state^T s_i``
  (a barrier per step orders one step's tile stores before the next step's loads).

Occupancy: ``B`` programs; a resident program takes a whole SM's register file, so a batch of 40
runs on 40 of an H100's 132 SMs. Splitting an item's ``m`` dimension over several programs was
rejected: every step would need a grid-wide reduction and barrier through global memory (around
a microsecond of L2 round trips, more than the step's own work, ~20,000 times per item and
pass), and Triton offers no co-residency guarantee for spinning barriers (the interpreter runs
programs one after another, so they would deadlock). The gain over the batch-vectorised PyTorch
reference comes from replacing its ~10 kernel launches per step (and a host sync per sweep) by a
few barriers inside one SM.

Before the launch, PyTorch compacts each item's free rows of ``order`` into its own list (a
stable sort on the device), so the kernel runs without branches over it. Float32 uses
IEEE-rounded division and square root (``div_rn``, ``sqrt_rn``) as PyTorch does; float64 runs in
float64. :func:`mixing_forward` and :func:`mixing_backward` are ``torch.library`` Triton ops, so
``torch.compile`` can trace them on CUDA (not under the interpreter, which it cannot trace).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import triton_op, wrap_triton
from triton.runtime.interpreter import InterpretedFunction

from solverlayers.mixing import MixingKernels, check_backward_args, check_forward_args

__all__ = ["TritonMixingKernels", "mixing_forward", "mixing_backward"]


@triton.jit
def _mixing_kernel(
    S, SQ, X, STATE, ROWS, CNT, ITERS, V, DIAG, RHS, EPS,
    n1, m, k, L, max_iter,
    BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr,
    BLOCK_T: tl.constexpr, RESIDENT: tl.constexpr, BACKWARD: tl.constexpr, FP64: tl.constexpr,
):
    """Solve of batch item ``program_id(0)``; ``X`` (V or U) is updated in place, see the module
    docstring. Forward: ``ITERS`` receives the sweep count. Backward: ``ITERS`` gives it."""
    b = tl.program_id(0).to(tl.int64)
    dt = X.dtype.element_ty
    offs_m = tl.arange(0, BLOCK_M)
    offs_k = tl.arange(0, BLOCK_K)
    mask_k = offs_k < k
    Xb = X + b * n1 * k
    Vb = V + b * n1 * k
    RHSb = RHS + b * n1 * k
    Sb = STATE + b * m * k
    rows = ROWS + b * L
    cnt = tl.load(CNT + b)

    if RESIDENT:  # rows [0, BLOCK_M) of the state in `state`, [BLOCK_M, BLOCK_M + BLOCK_T) in `tail`
        mask_m = offs_m < m
        state = tl.zeros((BLOCK_M, BLOCK_K), dt)
        if BLOCK_T > 0:
            offs_t = BLOCK_M + tl.arange(0, BLOCK_T)
            mask_t = offs_t < m
            tail = tl.zeros((BLOCK_T, BLOCK_K), dt)
        if not BACKWARD:  # W = S^T V
            for r in range(n1):
                x_r = tl.load(Xb + r * k + offs_k, mask=mask_k, other=0.0)
                s_r = tl.load(S + r * m + offs_m, mask=mask_m, other=0.0)
                state += s_r[:, None] * x_r[None, :]
                if BLOCK_T > 0:
                    s_r = tl.load(S + r * m + offs_t, mask=mask_t, other=0.0)
                    tail += s_r[:, None] * x_r[None, :]
        i = tl.load(rows, mask=cnt > 0, other=0)
        s = tl.load(S + i * m + offs_m, mask=mask_m, other=0.0)
        if BLOCK_T > 0:
            s_t = tl.load(S + i * m + offs_t, mask=mask_t, other=0.0)
    else:
        if not BACKWARD:  # W = S^T V, tile by tile (the backward's workspace starts at zero)
            for m0 in range(0, m, BLOCK_M):
                om = m0 + offs_m
                mm = om < m
                acc = tl.zeros((BLOCK_M, BLOCK_K), dt)
                for r in range(n1):
                    s_r = tl.load(S + r * m + om, mask=mm, other=0.0)
                    x_r = tl.load(Xb + r * k + offs_k, mask=mask_k, other=0.0)
                    acc += s_r[:, None] * x_r[None, :]
                tl.store(Sb + om[:, None] * k + offs_k[None, :], acc, mask=mm[:, None] & mask_k[None, :])
            tl.debug_barrier()
        i_prev = cnt * 0
        dx_prev = tl.zeros((BLOCK_K,), dt)

    if BACKWARD:
        target = tl.load(ITERS + b)
    else:
        target = max_iter
        eps = tl.load(EPS)
        first = tl.zeros((), dt)
    sweeps = cnt * 0
    go = sweeps < target
    while go:
        delta = tl.zeros((), dt)
        for j in range(cnt):
            if not RESIDENT:
                i = tl.load(rows + j)
            # this step's row data first, so that the loads overlap with the reduction below
            x = tl.load(Xb + i * k + offs_k, mask=mask_k, other=0.0)
            sq = tl.load(SQ + i)
            if BACKWARD:
                v = tl.load(Vb + i * k + offs_k, mask=mask_k, other=0.0)
                rhs = tl.load(RHSb + i * k + offs_k, mask=mask_k, other=0.0)
                d = tl.load(DIAG + b * n1 + i)
            if RESIDENT:
                j_next = tl.where(j + 1 == cnt, 0, j + 1)
                i_next = tl.load(rows + j_next)
                s_next = tl.load(S + i_next * m + offs_m, mask=mask_m, other=0.0)
                h = tl.sum(state * s[:, None], axis=0)
                if BLOCK_T > 0:
                    s_t_next = tl.load(S + i_next * m + offs_t, mask=mask_t, other=0.0)
                    h += tl.sum(tail * s_t[:, None], axis=0)
            else:
                h = tl.zeros((BLOCK_K,), dt)
                for m0 in range(0, m, BLOCK_M):  # one pass: pending update, then state^T s_i
                    om = m0 + offs_m
                    mm = om < m
                    wmask = mm[:, None] & mask_k[None, :]
                    wptr = Sb + om[:, None] * k + offs_k[None, :]
                    w = tl.load(wptr, mask=wmask, other=0.0)
                    s_p = tl.load(S + i_prev * m + om, mask=mm, other=0.0)
                    w += s_p[:, None] * dx_prev[None, :]
                    tl.store(wptr, w, mask=wmask)
                    s_i = tl.load(S + i * m + om, mask=mm, other=0.0)
                    h += tl.sum(w * s_i[:, None], axis=0)
            if BACKWARD:
                dg = h - sq * x - rhs
                dg = dg - tl.sum(v * dg, axis=0) * v
                if FP64:
                    x_new = -dg / d
                else:
                    x_new = tl.div_rn(-dg, d)
            else:
                g = h - sq * x
                if FP64:
                    gn = tl.sqrt(tl.sum(g * g, axis=0))
                else:
                    gn = tl.sqrt_rn(tl.sum(g * g, axis=0))
                move = gn > 0
                den = tl.where(move, gn, 1.0)
                if FP64:
                    x_new = tl.where(move, -g / den, x)
                else:
                    x_new = tl.where(move, tl.div_rn(-g, den), x)
                diff = x_new - x
                delta += tl.where(move, gn * tl.sum(diff * diff, axis=0) * 0.5, 0.0)
            tl.store(Xb + i * k + offs_k, x_new, mask=mask_k)
            if RESIDENT:
                state += s[:, None] * (x_new - x)[None, :]
                s = s_next
                if BLOCK_T > 0:
                    tail += s_t[:, None] * (x_new - x)[None, :]
                    s_t = s_t_next
                i = i_next
            else:
                i_prev = i
                dx_prev = x_new - x
                tl.debug_barrier()  # this step's tile stores before the next step's loads
        sweeps += 1
        if BACKWARD:
            go = sweeps < target
        else:
            first = tl.where(sweeps == 1, delta, first)
            go = (sweeps < max_iter) & (delta > eps * first)
        tl.debug_barrier()  # a row written now may be read at the start of the next sweep
    if not BACKWARD:
        tl.store(ITERS + b, sweeps)


def _next_pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _free_rows(free: torch.Tensor, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item, the rows of ``order`` that are free, in order: ``(rows (B, max(L, 1)) int32,
    count (B,) int32)``; entries past an item's count are unused."""
    B = free.shape[0]
    if order.numel() == 0:
        zeros = torch.zeros(B, 1, dtype=torch.int32, device=free.device)
        return zeros, zeros[:, 0].contiguous()
    f = free[:, order]
    idx = torch.argsort((~f).to(torch.uint8), dim=1, stable=True)
    return order[idx].to(torch.int32).contiguous(), f.sum(1, dtype=torch.int32)


def _launch(
    S: torch.Tensor, X: torch.Tensor, free: torch.Tensor, order: torch.Tensor, iters: torch.Tensor,
    V: torch.Tensor, diag: torch.Tensor, rhs: torch.Tensor, eps: torch.Tensor, max_iter: int,
    register_budget: int, stream_tile: int, num_warps: int, backward: bool,
) -> None:
    """Run the kernel over the batch, updating ``X`` (and, forward, ``iters``) in place."""
    B, n1, k = X.shape
    m = S.shape[1]
    if B == 0:
        return
    rows, cnt = _free_rows(free, order)
    sq = (S * S).sum(1)
    block_k = max(16, _next_pow2(k))
    full_m = max(16, _next_pow2(m))
    # resident rows: full_m, or full_m / 2 plus a smaller power-of-two tail when that covers m
    tail = max(16, _next_pow2(m - full_m // 2)) if m > full_m // 2 else 0
    block_t = tail if 0 < tail < full_m // 2 else 0
    block_m = full_m // 2 if block_t else full_m
    resident = (block_m + block_t) * block_k * X.element_size() <= register_budget
    if resident:
        state = X  # unused
    else:  # a (B, m, k) workspace: zero for the backward, S^T V (set by the kernel) for the forward
        block_m, block_t = min(full_m, max(16, _next_pow2(stream_tile))), 0
        state = (torch.zeros if backward else torch.empty)(B, m, k, dtype=X.dtype, device=X.device)
    if num_warps <= 0:  # 1 to 16 warps; a thread holds 256 bytes of the resident state, 128 of a tile
        per_thread = 256 if resident else 128
        num_warps = min(16, _next_pow2((block_m + block_t) * block_k * X.element_size() // (32 * per_thread)))
    num_warps = min(num_warps, block_m * block_k // 32)  # no thread holds a copy of another's value
    wrap_triton(_mixing_kernel)[(B,)](
        S, sq, X, state, rows, cnt, iters, V, diag, rhs, eps,
        n1, m, k, rows.shape[1], max_iter,
        BLOCK_M=block_m, BLOCK_K=block_k, BLOCK_T=block_t, RESIDENT=resident, BACKWARD=backward,
        FP64=X.dtype == torch.float64, num_warps=num_warps,
    )


@triton_op("solverlayers::satnet_triton_forward", mutates_args=())
def mixing_forward(
    S: torch.Tensor, V: torch.Tensor, free: torch.Tensor, order: torch.Tensor, max_iter: int, eps: float,
    register_budget: int, stream_tile: int, num_warps: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward of :class:`TritonMixingKernels` as a ``torch.library`` op (``num_warps <= 0``:
    automatic)."""
    X = V.clone()
    sweeps = torch.empty(V.shape[0], dtype=torch.int64, device=V.device)
    eps_t = torch.full((1,), eps, dtype=V.dtype, device=V.device)
    _launch(S, X, free, order, sweeps, X, X, X, eps_t, max_iter,
            register_budget, stream_tile, num_warps, backward=False)
    return X, sweeps


@triton_op("solverlayers::satnet_triton_backward", mutates_args=())
def mixing_backward(
    S: torch.Tensor, V: torch.Tensor, free: torch.Tensor, order: torch.Tensor, sweeps: torch.Tensor,
    diag: torch.Tensor, rhs: torch.Tensor, register_budget: int, stream_tile: int, num_warps: int,
) -> torch.Tensor:
    """The backward of :class:`TritonMixingKernels` as a ``torch.library`` op."""
    U = torch.zeros_like(V)
    _launch(S, U, free, order, sweeps, V, diag, rhs, diag, 1,
            register_budget, stream_tile, num_warps, backward=True)
    return U


class TritonMixingKernels(MixingKernels):
    """Triton forward coordinate descent and backward linear solve (see the module docstring).

    ``register_budget``: bytes of the (padded) ``(m, k)`` state one program may keep in registers
    (above it the state streams through global memory in tiles of ``stream_tile`` rows);
    ``num_warps``: warps per program (0: from the state's size, up to 16).
    """

    name = "satnet-triton"

    def __init__(self, *, register_budget: int = 128 * 1024, stream_tile: int = 128, num_warps: int = 0) -> None:
        if num_warps not in (0, 1, 2, 4, 8, 16, 32):
            raise ValueError(f"num_warps must be 0 (automatic) or a power of two up to 32; got {num_warps}")
        self.register_budget, self.stream_tile, self.num_warps = register_budget, stream_tile, num_warps

    def forward(
        self,
        S: torch.Tensor,
        V: torch.Tensor,
        free: torch.Tensor,
        order: torch.Tensor,
        max_iter: int,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_forward_args(S, V, free, order, max_iter, eps)
        return mixing_forward(S.contiguous(), V.contiguous(), free.contiguous(), order, max_iter, eps,
                              self.register_budget, self.stream_tile, self.num_warps)

    def backward(
        self,
        S: torch.Tensor,
        V: torch.Tensor,
        free: torch.Tensor,
        order: torch.Tensor,
        sweeps: torch.Tensor,
        diag: torch.Tensor,
        rhs: torch.Tensor,
    ) -> torch.Tensor:
        check_backward_args(S, V, free, order, sweeps, diag, rhs)
        return mixing_backward(S.contiguous(), V.contiguous(), free.contiguous(), order, sweeps.contiguous(),
                               diag.contiguous(), rhs.contiguous(),
                               self.register_budget, self.stream_tile, self.num_warps)

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        """CUDA tensors; CPU tensors only when Triton was imported with ``TRITON_INTERPRET=1``."""
        if dtype not in (torch.float32, torch.float64):
            return False
        device = torch.device(device)
        if device.type == "cuda":
            return True
        return device.type == "cpu" and isinstance(_mixing_kernel, InterpretedFunction)
