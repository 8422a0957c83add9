"""The two heavy computations of SATNet's mixing method, as a backend-neutral interface.

An implementation (pure PyTorch, a CPU extension, Triton kernels) plugs in behind
:class:`MixingKernels`; the SATNet layer and the SDP MaxSAT solver do everything else (random
draws, input relaxation, gradients from ``U``) in shared PyTorch code, so two implementations given
the same tensors must return the same results up to floating-point round-off.

Notation (one batch item; the batch dimension ``B`` is always the leading one)
-----------------------------------------------------------------------------
* ``S``: the clause matrix, ``(n1, m)``, row ``i`` is ``s_i`` (row 0 belongs to the truth
  variable). Shared by the batch.
* ``V``: one unit vector per variable, ``(B, n1, k)``, row ``i`` is ``v_i``; row 0 is the truth
  direction. Rows that are not free (truth, inputs) are constants.
* ``free``: ``(B, n1)`` bool, the rows the coordinate descent updates (``free[:, 0]`` is False).
* ``order``: ``(L,)`` int64, the update order shared by the batch: a sequence of distinct row
  indices in ``[1, n1)``. One *sweep* visits ``order[0], order[1], ...`` and, in item ``b``,
  updates row ``i`` only where ``free[b, i]``; rows that are absent from ``order`` are never updated.
* ``g_i = sum_{j != i} (s_i . s_j) v_j = W^T s_i - |s_i|^2 v_i`` with ``W = S^T V`` (``(m, k)``),
  always evaluated with the *current* ``V`` (Gauss-Seidel: rows updated earlier in the sweep count).

Forward (mixing method, coordinate descent on ``min <S S^T, V V^T>`` s.t. ``|v_i| = 1``)
---------------------------------------------------------------------------------------
For each sweep ``t = 1, 2, ...`` and each ``i`` in ``order`` with ``free[b, i]``::

    g = W^T s_i - |s_i|^2 v_i
    if |g| > 0:  v_new = -g / |g|;  delta_b += |g| * |v_new - v_i|^2 / 2;  v_i = v_new
    (if |g| == 0: v_i and delta_b stay unchanged)

``delta_b(t)`` is the sweep's objective decrease divided by 2 (it starts at 0 for every sweep;
``|g| |v_new - v_i|^2 / 2`` equals ``|g| (1 - v_i . v_new)`` without its cancellation).
Item ``b`` stops after sweep ``t`` when ``t == max_iter`` or ``delta_b(t) <= eps * delta_b(1)``;
``sweeps[b]`` is that ``t`` (so ``1 <= sweeps[b] <= max_iter``). Stopped items are left untouched
while others go on. ``max_iter >= 1``; ``0 <= eps < 1`` (``eps = 0`` runs exactly ``max_iter``
sweeps unless a sweep decreases nothing).

Backward (the linear solve of Theorem 1, eq. 9 of Wang et al. 2019, with a proximal term)
------------------------------------------------------------------------------------------
Given the forward's final ``V``, ``diag`` ``(B, n1)`` (the caller passes ``|g_i| + prox_lam``, with
``g_i`` evaluated at the final ``V``) and ``rhs`` ``(B, n1, k)`` (``dL/dv_i`` projected onto the
tangent space of ``v_i``; zero where ``dL/dv_i`` is zero), solve
``P (D + C) P u = rhs`` on the tangent spaces, with ``C = S_F S_F^T - diag(|s_i|^2)`` over the free
rows ``F``, ``D = diag(diag)`` and ``P_i = I - v_i v_i^T``, by block coordinate descent from
``U = 0``: for ``sweeps[b]`` sweeps (``order``, ``free`` as in the forward), with
``Psi = S^T U`` (``(m, k)``)::

    dg = Psi^T s_i - |s_i|^2 u_i - rhs_i
    u_i = -(dg - (v_i . dg) v_i) / diag[b, i]

Rows that are not free stay 0. No special case: a zero ``diag`` gives inf/NaN, which the caller
detects and reports per item.

Layout and dtypes
-----------------
``S``, ``V``, ``diag``, ``rhs`` are contiguous, of one floating dtype (float32 or float64), on one
device; results have that dtype and device. ``free`` is bool, ``order`` and ``sweeps`` are int64.
Inputs are never modified. Float32 implementations may accumulate in float32. The formulas fix
the math, not the summation order: ``g_i`` may be evaluated as ``sum_j C_ij v_j`` with the Gram
matrix ``C = S S^T`` (``satnet-cpu`` does), ``delta_b`` may be accumulated in a wider type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

__all__ = ["MixingKernels", "check_backward_args", "check_forward_args"]


class MixingKernels(ABC):
    """SATNet's forward coordinate descent and backward linear solve (see the module docstring)."""

    #: a short name for messages and benchmarks
    name: str = "?"

    @abstractmethod
    def forward(
        self,
        S: torch.Tensor,
        V: torch.Tensor,
        free: torch.Tensor,
        order: torch.Tensor,
        max_iter: int,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(V_final (B, n1, k), sweeps (B,) int64)`` from ``S (n1, m)``, ``V (B, n1, k)``,
        ``free (B, n1)``, ``order (L,)``."""

    @abstractmethod
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
        """``U (B, n1, k)``, zero at rows that are not free, from the forward's final ``V``."""

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        """Whether this implementation runs on ``device`` with ``dtype``."""
        return dtype in (torch.float32, torch.float64)


def _check_common(S: torch.Tensor, V: torch.Tensor, free: torch.Tensor, order: torch.Tensor) -> None:
    if S.dim() != 2 or V.dim() != 3 or V.shape[1] != S.shape[0]:
        raise ValueError(f"S must be (n1, m) and V (B, n1, k); got {tuple(S.shape)} and {tuple(V.shape)}")
    if S.dtype not in (torch.float32, torch.float64) or V.dtype != S.dtype:
        raise TypeError(f"S and V must share a float32/float64 dtype; got {S.dtype} and {V.dtype}")
    if free.shape != V.shape[:2] or free.dtype != torch.bool:
        raise ValueError(f"free must be a bool (B, n1) tensor; got {free.dtype} {tuple(free.shape)}")
    if order.dim() != 1 or order.dtype != torch.int64:
        raise ValueError(f"order must be a 1-D int64 tensor; got {order.dtype} {tuple(order.shape)}")
    devices = {S.device, V.device, free.device, order.device}
    if len(devices) != 1:
        raise ValueError(f"all tensors must be on one device; got {sorted(map(str, devices))}")


def check_forward_args(
    S: torch.Tensor, V: torch.Tensor, free: torch.Tensor, order: torch.Tensor, max_iter: int, eps: float
) -> None:
    """Raise a clear error when the forward arguments break the contract above."""
    _check_common(S, V, free, order)
    if max_iter < 1 or not 0.0 <= eps < 1.0:
        raise ValueError(f"need max_iter >= 1 and 0 <= eps < 1; got {max_iter}, {eps}")


def check_backward_args(
    S: torch.Tensor,
    V: torch.Tensor,
    free: torch.Tensor,
    order: torch.Tensor,
    sweeps: torch.Tensor,
    diag: torch.Tensor,
    rhs: torch.Tensor,
) -> None:
    """Raise a clear error when the backward arguments break the contract above."""
    _check_common(S, V, free, order)
    if sweeps.shape != V.shape[:1] or sweeps.dtype != torch.int64:
        raise ValueError(f"sweeps must be an int64 (B,) tensor; got {sweeps.dtype} {tuple(sweeps.shape)}")
    if diag.shape != V.shape[:2] or rhs.shape != V.shape or diag.dtype != V.dtype or rhs.dtype != V.dtype:
        raise ValueError("diag must be (B, n1) and rhs (B, n1, k), both of V's dtype")
