"""Per-backend throughput through the public ``Solver`` API: checks, cores and MaxSMT solves per second.

Two formulas (built in ``maxsmt_bench.py``): MNIST addition (4-bit digits <= 9, 5-bit sum, 13
Boolean interface variables) and one-hot 9x9 Sudoku (729 Booleans). Each backend loads a formula
once; every query is an assumption set (checks, cores) or a soft-constraint set (MaxSMT) on that
one incremental solver. Every figure is a rate measured in this run; the ratio column compares
with z3 on the same queries in the same run.

    python examples/benchmarks/backends_bench.py --record examples/benchmarks/backends.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import solverlayers as sl  # noqa: E402
from maxsmt_bench import mnist_addition, sudoku  # noqa: E402
from solverlayers import Soft  # noqa: E402


def literals(soft: Sequence[Soft], positive_only: bool = False) -> list[sl.Term]:
    """The soft set's literals as assumptions (for Sudoku: only the chosen digit per hint cell)."""
    return [s.term for s in soft if not positive_only or s.term.op == "var"]


def rate(queries: Sequence[object], run: Callable[[object], object], budget: float) -> tuple[float, int]:
    """Queries per second over as many queries as fit in ``budget`` seconds (at least one)."""
    started = time.perf_counter()
    done = 0
    for q in queries:
        run(q)
        done += 1
        if time.perf_counter() - started > budget:
            break
    return done / (time.perf_counter() - started), done


def measure(backend: str, family: str, budget: float, n: int, seed: int) -> dict[str, float]:
    if family == "mnist":
        hard, soft_sets, model_vars = mnist_addition(n, seed)
        checks = [literals(s)[:8] for s in soft_sets]  # 8 input literals: ~40% SAT (digits <= 9)
        cores = [literals(s) for s in soft_sets]  # inputs and a random sum: mostly UNSAT
    else:
        hard, soft_sets, model_vars = sudoku(max(1, n // 10), seed)
        clean = sudoku(max(1, n // 10), seed, noise=0.0)[1]
        checks = [literals(s, positive_only=True) for s in clean]  # 30 true hints: SAT
        cores = [literals(s, positive_only=True) for s in soft_sets]  # 10% wrong hints: mostly UNSAT
    out: dict[str, float] = {}
    with sl.Solver(hard, backend) as solver:
        out["checks/s"], _ = rate(checks, lambda a: solver.check(a, model_vars=model_vars), budget)
        out["cores/s"], _ = rate(cores, lambda a: solver.unsat_core(a, minimize=False), budget)
        out["minimal cores/s"], _ = rate(cores, lambda a: solver.unsat_core(a, minimize=True), budget)
        results: list[sl.OptimizeResult] = []
        out["MaxSMT/s"], _ = rate(soft_sets, lambda s: results.append(solver.optimize(s, timeout=budget)), budget)
        out["MaxSMT timeouts"] = sum(not r.optimal for r in results)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(b.name for b in sl.list_backends() if b.capabilities.smt))
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per measurement (default 3)")
    parser.add_argument("--queries", type=int, default=5000, help="queries generated per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formulas", default="mnist,sudoku", help="which formulas (default both)")
    parser.add_argument("--record", type=Path, help="also write the table, command and machine to this file")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if "z3" in backends:  # the baseline first
        backends.remove("z3")
        backends.insert(0, "z3")
    metrics = ["checks/s", "cores/s", "minimal cores/s", "MaxSMT/s"]
    lines = ["| formula | backend | " + " | ".join(metrics) + " |", "|---|---|" + "---:|" * len(metrics)]
    for family in args.formulas.split(","):
        baseline: dict[str, float] | None = None
        for backend in backends:
            try:
                figures = measure(backend, family, args.budget, args.queries, args.seed)
            except sl.CapabilityError as exc:  # e.g. ortools has no bit-vectors
                lines.append(f"| {family} | {backend} | " + " | ".join(["n/a"] * len(metrics)) + " |")
                print(lines[-1], f"({exc})", flush=True)
                continue
            baseline = baseline or figures
            cells = [
                f"{figures[m]:,.0f}" + ("" if backend == backends[0] else f" ({figures[m] / baseline[m]:.2f}x)")
                for m in metrics
            ]
            if figures["MaxSMT timeouts"]:
                cells[-1] += f", {figures['MaxSMT timeouts']:.0f} timed out"
            lines.append(f"| {family} | {backend} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
            record(args, backends, lines)  # after every row, so a cut-off run keeps what it measured
    print("\n" + "\n".join(lines))


def record(args: argparse.Namespace, backends: list[str], lines: list[str]) -> None:
    table = "\n".join(lines)
    if args.record:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        args.record.write_text(
            f"# Backend throughput\n\nCommand: `python {' '.join(sys.argv)}`  \n"
            f"Date: {date.today()}; machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
            f"load average {load:.1f} at the end; ratios are against {backends[0]} in the same run.\n\n"
            "MaxSMT is native where the backend has it (z3 Optimize, pysat RC2, ortools CP-SAT) and the "
            "core's OLL otherwise (cvc5); minimal cores are the backend's own where minimal (z3), else "
            "deletion-minimised by the core. Each MaxSMT query has a timeout of --budget seconds; "
            "timed-out queries are counted in the rate and named.\n\n" + table + "\n"
        )


if __name__ == "__main__":
    main()
