"""MaxSMT throughput: core-guided OLL on cvc5 (and others) against Z3's native Optimize.

Two instance families resembling SMTLayer's B_max queries:

* ``mnist``: the MNIST-addition formula (4-bit digits ``a, b <= 9``, 5-bit sum ``s``, Booleans
  ``z0..z7`` for the digits' bits and ``y0..y4`` for the sum's), with 13 soft literals of random
  sign and random float weight in (0, 1] per query;
* ``sudoku``: one-hot 9x9 Sudoku (729 Booleans, pure clauses) with a soft preference per hint
  cell for a predicted digit (10% of predictions wrong) and a weaker one for a second guess;
* ``bv-sudoku``: visual Sudoku's B_max query: 4-bit cells with Distinct rows, columns and boxes,
  the blank cells' bits soft with weight 1 (the corrected output), the 36 given cells' bits soft
  with softmax weights of random logits (magnitudes from 1e-9 to 0.1, half of them wrong).

Each backend loads the hard constraints once and answers every query on that one session.
Every optimum is checked against Z3's (exact rational costs). Run
``python examples/benchmarks/maxsmt_bench.py --help``; it prints solves per second (CPU and
wall) and OLL's throughput as a multiple of Z3 Optimize's (above 1: OLL is faster).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import solverlayers as sl
from solverlayers import OptimizeResult, OptStatus, Soft
from solverlayers.algorithms.maxsat import oll

Instance = tuple[list[sl.Term], list[list[Soft]], list[sl.Term]]  # hard, soft sets, model variables


def mnist_addition(queries: int, seed: int) -> Instance:
    """The MNIST-addition formula and ``queries`` random B_max soft sets."""
    rng = random.Random(seed)
    a, b, s = sl.BitVec("a", 4), sl.BitVec("b", 4), sl.BitVec("s", 5)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{j}") for j in range(5)]
    hard = [sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(s, sl.ZeroExt(1, a) + sl.ZeroExt(1, b))]
    hard += [sl.Eq(z[i], sl.Eq(sl.Extract(i % 4, i % 4, a if i < 4 else b), 1)) for i in range(8)]
    hard += [sl.Eq(y[j], sl.Eq(sl.Extract(j, j, s), 1)) for j in range(5)]
    soft_sets = [
        [Soft.make(v if rng.random() < 0.5 else ~v, 1.0 - rng.random()) for v in (*z, *y)]
        for _ in range(queries)
    ]
    return hard, soft_sets, [a, b, s, *z, *y]


def _solved_grid(rng: random.Random) -> list[list[int]]:
    """A random valid Sudoku solution: a pattern grid with shuffled bands, rows, stacks, digits."""
    rows = [3 * band + r for band in rng.sample(range(3), 3) for r in rng.sample(range(3), 3)]
    cols = [3 * stack + c for stack in rng.sample(range(3), 3) for c in rng.sample(range(3), 3)]
    digits = rng.sample(range(9), 9)
    return [[digits[(3 * (r % 3) + r // 3 + c) % 9] for c in cols] for r in rows]


def sudoku(queries: int, seed: int, hints: int = 30, noise: float = 0.1) -> Instance:
    """One-hot Sudoku rules and ``queries`` noisy hint sets: per hint cell, a soft literal for
    each digit (positive for the predicted one), weighted by a random confidence."""
    rng = random.Random(seed)
    x = [[[sl.Bool(f"x{r}{c}{d}") for d in range(9)] for c in range(9)] for r in range(9)]
    groups = [x[r][c] for r in range(9) for c in range(9)]
    for d in range(9):
        groups += [[x[r][c][d] for c in range(9)] for r in range(9)]
        groups += [[x[r][c][d] for r in range(9)] for c in range(9)]
        groups += [[x[3 * br + i][3 * bc + j][d] for i in range(3) for j in range(3)]
                   for br in range(3) for bc in range(3)]
    hard = [sl.Or(g) for g in groups] + [sl.Or(~p, ~q) for g in groups for p, q in combinations(g, 2)]
    soft_sets = []
    for _ in range(queries):
        grid = _solved_grid(rng)
        soft = []
        for cell in rng.sample(range(81), hints):
            r, c = divmod(cell, 9)
            guess = grid[r][c] if rng.random() > noise else rng.randrange(9)
            soft += [Soft.make(v if d == guess else ~v, 1.0 - rng.random()) for d, v in enumerate(x[r][c])]
        soft_sets.append(soft)
    return hard, soft_sets, [v for g in groups[:81] for v in g]


def bv_sudoku(queries: int, seed: int, givens: int = 36) -> Instance:
    """Bit-vector Sudoku rules and ``queries`` B_max-like soft sets (see the module docstring)."""
    rng = random.Random(seed)
    cells = [sl.BitVec(f"s{c}", 4) for c in range(81)]
    bits = [[sl.Eq(sl.Extract(b, b, s), 1) for b in range(4)] for s in cells]
    hard = [sl.ULE(sl.BitVecVal(1, 4), s) for s in cells] + [sl.ULE(s, 9) for s in cells]
    rows = [[9 * r + c for c in range(9)] for r in range(9)]
    boxes = [[(3 * br + i) * 9 + 3 * bc + j for i in range(3) for j in range(3)] for br in range(3) for bc in range(3)]
    hard += [sl.Distinct(*(cells[c] for c in g)) for g in rows + [list(col) for col in zip(*rows)] + boxes]
    soft_sets = []
    for _ in range(queries):
        grid = [d + 1 for row in _solved_grid(rng) for d in row]
        given = set(rng.sample(range(81), givens))
        logits = {(c, b): rng.gauss(0, 6) for c in given for b in range(4)}
        top = max(abs(v) for v in logits.values())
        total = sum(math.exp(abs(v) - top) for v in logits.values())
        soft = []
        for c in range(81):
            for b in range(4):
                right = bits[c][b] if grid[c] >> b & 1 else sl.Not(bits[c][b])
                if c not in given:
                    soft.append(Soft.make(right, 1))
                else:
                    v = logits[c, b]
                    soft.append(Soft.make(right if v > 0 else sl.Not(right), math.exp(abs(v) - top) / total))
        soft_sets.append(soft)
    return hard, soft_sets, cells


Solve = Callable[[Any, list[Soft], Sequence[sl.Term]], OptimizeResult]


def open_session(backend: str, options: dict[str, Any]) -> Any:
    spec = sl.get_backend(backend)
    return spec.open(spec.resolve_options(options))


def run(
    backend: str, options: dict[str, Any], instance: Instance, solve: Solve
) -> tuple[float, float, list[OptimizeResult]]:
    """CPU and wall seconds per query over the instance's queries on one session, and the results.

    CPU time (of this process, which runs the solvers too) is the figure to compare on a
    shared machine; wall time is printed alongside.
    """
    hard, soft_sets, model_vars = instance
    session = open_session(backend, options)
    session.add(*hard)
    cpu, wall = time.process_time(), time.perf_counter()
    results = [solve(session, soft, model_vars) for soft in soft_sets]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    session.close()
    return cpu / len(soft_sets), wall / len(soft_sets), results


def native(session: Any, soft: list[Soft], model_vars: Sequence[sl.Term]) -> OptimizeResult:
    return session.optimize(soft)


def with_oll(session: Any, soft: list[Soft], model_vars: Sequence[sl.Term]) -> OptimizeResult:
    return oll(session, soft, model_vars=model_vars)


def _options(text: str) -> tuple[str, dict[str, Any]]:
    """``cvc5:simplify=false`` -> ("cvc5", {"simplify": "false"})."""
    name, _, rest = text.partition(":")
    return name, dict(item.split("=", 1) for item in rest.split(";") if item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200, help="MNIST-addition queries (default 200)")
    parser.add_argument("--sudoku", type=int, default=7, help="Sudoku queries (default 7)")
    parser.add_argument("--bv-sudoku", type=int, default=3, help="bit-vector Sudoku queries (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--oll", default="cvc5,cvc5:simplify=false",
        help="comma-separated backends to run OLL on, each with ;-separated options after a colon",
    )
    parser.add_argument(
        "--native", default="",
        help="comma-separated backends (with options, as --oll) whose own MaxSMT to time, e.g. "
        "pysat:stratified=false,pysat:stratified=true",
    )
    args = parser.parse_args()
    families = {
        "mnist": mnist_addition(args.queries, args.seed),
        "sudoku": sudoku(args.sudoku, args.seed),
        "bv-sudoku": bv_sudoku(args.bv_sudoku, args.seed),
    }
    for family, instance in families.items():
        z3_cpu, z3_wall, expected = run("z3", {}, instance, native)
        print(f"{family:9s} {'z3 Optimize':26s} {1 / z3_cpu:8.1f} solves/s CPU ({1 / z3_wall:8.1f} wall)")
        runs = [(e, with_oll, "OLL on ") for e in args.oll.split(",") if e]
        runs += [(e, native, "") for e in args.native.split(",") if e]
        for entry, solve, how in runs:
            backend, options = _options(entry)
            cpu, wall, results = run(backend, options, instance, solve)
            for got, want in zip(results, expected):
                if got.status is not OptStatus.OPTIMAL or got.cost != want.cost:
                    raise SystemExit(f"{how}{entry} disagrees with z3: {got} vs {want}")
            print(f"{family:9s} {how + entry:26s} {1 / cpu:8.1f} solves/s CPU ({1 / wall:8.1f} wall);"
                  f" {z3_cpu / cpu:.2f}x the solves/s of z3 Optimize")


if __name__ == "__main__":
    main()
