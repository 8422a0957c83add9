"""Learning with SAT on every exact backend: a minimal decision tree for digits 0 vs 1, binary
neural networks fitted exactly and by MaxSAT, and chromatic numbers by binary search.

    python examples/sat_learning.py [--backends pysat z3 cvc5] [--timeout 120]

Prints one row per (task, backend): the answer and the wall time. The answers must agree across
backends (models may differ where several are optimal); the script exits non-zero if they do not.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_digits

import solverlayers as sl
from solverlayers.learn import BinaryNeuralNetwork, MinimalDecisionTree, chromatic_number


def digits_zero_one(n_features: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Digits 0 and 1, pixels binarised at 8/16, the ``n_features`` pixels whose mean differs
    most between the classes."""
    digits = load_digits()
    keep = np.isin(digits.target, (0, 1))
    X = (digits.data[keep] > 7).astype(np.int8)
    y = (digits.target[keep] == 1).astype(np.int8)
    gap = np.abs(X[y == 0].mean(axis=0) - X[y == 1].mean(axis=0))
    features = np.argsort(-gap, kind="stable")[:n_features]
    return X[:, features], y, [f"px{f // 8}_{f % 8}" for f in features]


def planted(n: int, widths: list[int], flips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """+-1 data labelled by a random +-1 network of ``widths``, with ``flips`` labels flipped."""
    rng = np.random.default_rng(seed)
    teacher = BinaryNeuralNetwork([rng.choice([-1, 1], size=(o, i)) for i, o in zip(widths, widths[1:])])
    X = rng.choice([-1, 1], size=(n, widths[0]))
    y = teacher.predict(X)
    y[rng.choice(n, size=flips, replace=False)] *= -1
    return X, y


def mycielski(edges: list[tuple[int, int]], n: int) -> tuple[list[tuple[int, int]], int]:
    """The Mycielskian: one more colour, no larger clique."""
    out = list(edges) + [(u + n, w) for u, w in edges] + [(w + n, u) for u, w in edges]
    return out + [(v + n, 2 * n) for v in range(n)], 2 * n + 1


def tasks(timeout: float) -> dict[str, Callable[[str], str]]:
    Xd, yd, names = digits_zero_one(10)
    X1, y1 = planted(40, [9, 1], 0, seed=0)
    Xe, ye = planted(40, [9, 1], 4, seed=1)
    X2, y2 = planted(24, [6, 3, 1], 0, seed=2)
    c5 = [(i, (i + 1) % 5) for i in range(5)]
    petersen = c5 + [(i, i + 5) for i in range(5)] + [(5 + i, 5 + (i + 2) % 5) for i in range(5)]
    crown = [(2 * i, 2 * j + 1) for i in range(8) for j in range(8) if i != j]
    groetzsch, n_g = mycielski(c5, 5)
    rng = np.random.default_rng(3)
    random_graph = [(i, j) for i in range(24) for j in range(i) if rng.random() < 0.3]

    def tree(backend: str) -> str:
        t = MinimalDecisionTree.fit(Xd, yd, backend=backend, timeout=timeout, feature_names=names)
        assert (t.predict(Xd) == yd).all()
        return f"{t.n_nodes} nodes"

    def bnn(X: np.ndarray, y: np.ndarray, hidden: list[int], max_errors: int) -> Callable[[str], str]:
        def run(backend: str) -> str:
            net = BinaryNeuralNetwork.fit(X, y, hidden, backend=backend, max_errors=max_errors, timeout=timeout)
            return f"{net.training_errors} errors"
        return run

    def colour(edges: list[tuple[int, int]], n: int) -> Callable[[str], str]:
        def run(backend: str) -> str:
            result = chromatic_number(edges, n, backend=backend, timeout=timeout)
            assert all(result.coloring[u] != result.coloring[w] for u, w in edges)
            return f"chi = {result.number}"
        return run

    return {
        f"tree digits 0/1 ({len(Xd)} x {Xd.shape[1]})": tree,
        "bnn 9-1 exact (40 ex.)": bnn(X1, y1, [], 0),
        "bnn 9-1 MaxSAT, 4 flipped": bnn(Xe, ye, [], 4),
        "bnn 6-3-1 exact (24 ex.)": bnn(X2, y2, [3], 0),
        "colour Petersen": colour(petersen, 10),
        "colour Groetzsch": colour(groetzsch, n_g),
        "colour crown 16": colour(crown, 16),
        "colour G(24, 0.3)": colour(random_graph, 24),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    registered = sorted(spec.name for spec in sl.list_backends() if spec.capabilities.smt)
    parser.add_argument("--backends", nargs="+", default=[b for b in ("pysat", "z3", "cvc5") if b in registered])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per solver call")
    args = parser.parse_args()
    print(f"{'task':32} {'backend':8} {'answer':14} {'time (s)':>8}")
    disagreements = 0
    for task, run in tasks(args.timeout).items():
        answers = set()
        for backend in args.backends:
            start = time.perf_counter()
            try:
                answer = run(backend)
            except TimeoutError:
                answer = "timeout"
            answers.add(answer)
            print(f"{task:32} {backend:8} {answer:14} {time.perf_counter() - start:8.2f}", flush=True)
        disagreements += len(answers - {"timeout"}) > 1
    if disagreements:
        print(f"{disagreements} task(s) got different answers from different backends")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
