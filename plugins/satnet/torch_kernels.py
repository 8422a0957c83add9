"""``satnet-torch``: the pure-PyTorch reference of :class:`~solverlayers.mixing.MixingKernels`.

Batch-vectorised (one Python step per variable, the batch in tensor ops), any device, float32 and
float64. It is the test oracle for the faster implementations, so it follows the contract in
``solverlayers.mixing`` literally rather than quickly.
"""

from __future__ import annotations

import torch
from solverlayers.mixing import MixingKernels, check_backward_args, check_forward_args

# ``W^T s_i`` is written as a broadcast product and sum: torch.matmul of a vector with a batch
# of small matrices takes a slow path on the CPU (tens of ms per call here).

__all__ = ["TorchMixingKernels"]


def _rows_to_visit(free: torch.Tensor, active: torch.Tensor, order: list[int]) -> list[int]:
    """The rows of ``order`` free in at least one active item (one host sync per sweep)."""
    any_free = (free & active[:, None]).any(0).tolist()
    return [i for i in order if any_free[i]]


class TorchMixingKernels(MixingKernels):
    """Reference forward coordinate descent and backward linear solve in plain PyTorch."""

    name = "satnet-torch"

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
        V = V.clone()
        B = V.shape[0]
        W = torch.matmul(S.t(), V)  # (B, m, k)
        snorm = (S * S).sum(1)
        active = torch.ones(B, dtype=torch.bool, device=V.device)
        sweeps = torch.zeros(B, dtype=torch.int64, device=V.device)
        first = torch.zeros(B, dtype=V.dtype, device=V.device)
        order_list = order.tolist()
        for t in range(1, max_iter + 1):
            delta = torch.zeros(B, dtype=V.dtype, device=V.device)
            for i in _rows_to_visit(free, active, order_list):
                s = S[i]
                v_old = V[:, i]
                g = (W * s[:, None]).sum(1) - snorm[i] * v_old  # (B, k)
                gnorm = g.norm(dim=1)
                move = free[:, i] & active & (gnorm > 0)
                v_new = torch.where(move[:, None], -g / torch.where(move, gnorm, 1.0)[:, None], v_old)
                delta += torch.where(move, gnorm * (v_new - v_old).square().sum(1) / 2, 0.0)
                W += s[None, :, None] * (v_new - v_old)[:, None, :]
                V[:, i] = v_new
            sweeps += active.long()
            if t == 1:
                first = delta
            active &= delta > eps * first
            if not bool(active.any()):
                break
        return V, sweeps

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
        U = torch.zeros_like(V)
        Psi = torch.zeros(V.shape[0], S.shape[1], V.shape[2], dtype=V.dtype, device=V.device)
        snorm = (S * S).sum(1)
        order_list = order.tolist()
        for t in range(1, int(sweeps.max().item()) + 1 if sweeps.numel() else 1):
            active = sweeps >= t
            for i in _rows_to_visit(free, active, order_list):
                s = S[i]
                v, u_old = V[:, i], U[:, i]
                dg = (Psi * s[:, None]).sum(1) - snorm[i] * u_old - rhs[:, i]
                dg = dg - (v * dg).sum(1, keepdim=True) * v
                move = free[:, i] & active
                u_new = torch.where(move[:, None], -dg / diag[:, i, None], u_old)
                Psi += s[None, :, None] * (u_new - u_old)[:, None, :]
                U[:, i] = u_new
        return U
