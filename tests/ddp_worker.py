"""A rank of tests/test_smt_layer.py's DistributedDataParallel test, in a module of its own so
that a spawned rank imports only torch and solverlayers, not the test module."""

from __future__ import annotations

import datetime

import torch
import torch.distributed as dist

from solverlayers.layers import SMTLayer


def ddp_rank(rank: int, layer: SMTLayer, path: str, result: str) -> None:
    """Rank ``rank`` of 2: one forward and backward of ``Linear(5, p) -> layer`` under DDP on a
    batch of its own; saves the Linear layer's (all-reduced) weight gradient to ``result.rank``."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=30))  # a lost peer fails, never hangs
    try:
        torch.manual_seed(0)
        model = torch.nn.parallel.DistributedDataParallel(
            torch.nn.Sequential(torch.nn.Linear(5, layer.p).double(), layer))
        x = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
        model(x).sum().backward()
        torch.save(model.module[0].weight.grad, f"{result}.{rank}")
    finally:
        dist.destroy_process_group()
