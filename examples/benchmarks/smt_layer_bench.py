"""SMTLayer throughput on the MNIST-addition formula, batch 128, per backend and executor.

The formula: two 4-bit digits ``a, b <= 9``, the 5-bit sum ``s = zext(a) + zext(b)``, Boolean
inputs ``z0..z7`` (the digits' bits) and outputs ``y0..y4`` (the sum's bits). Logits are random
(``N(0, 2^2)``: about 60% of the sign patterns hold a digit above 9, so F_smt is UNSAT there, as
early in training); the upstream gradient is that of BCE against a random sum, so the corrected
output is that sum.

* cold: a new layer (empty memo, pool already started), one batch;
* warm: the same 20 batches a second time, every query answered by the memo;
* ``B_max table``: the weighted queries as vectorised argmaxes over the tabulated formula (the
  cold batch includes tabulating it); ``B_max per query``: ``table_bits=0``, each example's query
  solved on its own (by enumeration here: a corrected sum leaves at most 10 digit pairs; MaxSMT
  where more assignments are left).

Figures are examples per second (forward: the layer's forward; backward: ``y.backward``). The
last row is the dense 8-512-5 head that the layer replaces in the MNIST-addition experiment.
Run ``python examples/benchmarks/smt_layer_bench.py --help``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

import solverlayers as sl
from solverlayers.layers import SMTLayer, SolverLayerWarning

BATCH = 128


def mnist_addition() -> tuple[list[sl.Term], list[sl.Term], list[sl.Term]]:
    a, b, s = sl.BitVec("a", 4), sl.BitVec("b", 4), sl.BitVec("s", 5)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{j}") for j in range(5)]
    phi = [sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(s, sl.ZeroExt(1, a) + sl.ZeroExt(1, b))]
    phi += [sl.Eq(z[i], sl.Eq(sl.Extract(i % 4, i % 4, a if i < 4 else b), 1)) for i in range(8)]
    phi += [sl.Eq(y[j], sl.Eq(sl.Extract(j, j, s), 1)) for j in range(5)]
    return phi, z, y


def batches(n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        logits = torch.randn(BATCH, 8, generator=gen) * 2
        sums = torch.randint(0, 19, (BATCH,), generator=gen)
        out.append((logits, ((sums[:, None] >> torch.arange(5)) & 1).float()))
    return out


def timed(layer: SMTLayer, data: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Examples per second of the forward and of the backward over ``data``."""
    fwd = bwd = 0.0
    for logits, target in data:
        x = logits.clone().requires_grad_(True)
        t0 = time.perf_counter()
        y = layer(x)
        t1 = time.perf_counter()
        y.backward(torch.sigmoid(y) - target)  # d BCE-with-logits / dy
        fwd, bwd = fwd + t1 - t0, bwd + time.perf_counter() - t1
    n = len(data) * BATCH
    return n / fwd, n / bwd


def _noop(x: int) -> int:
    return x


def measure(backend: str, executor: str, workers: int) -> dict[str, float]:
    phi, z, y = mnist_addition()
    data = batches(20, seed=1)
    row: dict[str, float] = {}
    for gradient, table_bits, label in (("b_core", 16, "B_core"), ("b_max", 16, "B_max table"),
                                        ("b_max", 0, "B_max per query")):
        layer = SMTLayer(phi, z, y, backend=backend, gradient=gradient, executor=executor, workers=workers,
                         table_bits=table_bits)
        layer.engine.executor.map(_noop, list(range(workers)))  # start the pool outside the timing
        fwd, bwd = timed(layer, data[:1])
        if label == "B_core":
            row["forward cold"] = fwd
        row[f"{label} cold"] = bwd
        if label != "B_max per query":
            timed(layer, data)
            fwd, bwd = timed(layer, data)
            if label == "B_core":
                row["forward warm"] = fwd
            row[f"{label} warm"] = bwd
        layer.engine.close()
    return row


def dense_head() -> float:
    """Examples per second of forward + backward through the dense head the layer replaces."""
    head = torch.nn.Sequential(torch.nn.Linear(8, 512), torch.nn.ReLU(), torch.nn.Linear(512, 5))
    data = batches(20, seed=1)
    start = time.perf_counter()
    for logits, target in data * 2:
        torch.nn.functional.binary_cross_entropy_with_logits(head(logits), target).backward()
    return 2 * len(data) * BATCH / (time.perf_counter() - start)


COLUMNS = ["forward cold", "forward warm", "B_core cold", "B_core warm", "B_max table cold", "B_max table warm",
           "B_max per query cold"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["z3", "cvc5", "pysat"])
    parser.add_argument("--workers", type=int, default=2, help="size of the process pool")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"),
                        help="where to record the markdown table (with the command)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", SolverLayerWarning)
    torch.set_num_threads(1)
    phi, z, y = mnist_addition()
    SMTLayer(phi, z, y, executor="serial")(torch.zeros(1, 8))  # the first custom-op call imports torch._dynamo
    lines = ["| backend | executor | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    for backend in args.backends:
        for executor in ("serial", "process"):
            row = measure(backend, executor, args.workers)
            name = executor if executor == "serial" else f"process x{args.workers}"
            lines.append(f"| {backend} | {name} | " + " | ".join(f"{row[c]:,.0f}" for c in COLUMNS) + " |")
            print(lines[-1], flush=True)
    lines.append(f"| dense 8-512-5 head (fwd+bwd) | - | {dense_head():,.0f} |" + " |" * (len(COLUMNS) - 1))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [
        "# SMTLayer throughput: MNIST addition, batch 128 (examples/s)", "",
        f"Command: `{' '.join(['python', f'examples/benchmarks/{Path(__file__).name}', *sys.argv[1:]])}`  ",
        f"Machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end, Python {platform.python_version()}, "
        f"torch {torch.__version__}, one torch thread.", "",
    ]
    text = "\n".join(header + lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
