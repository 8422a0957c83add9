"""Cardinality constraints over integer literals: pairwise, sequential counter and totalizer.

Every function takes DIMACS literals and, where it needs auxiliary variables, a ``new_var``
callback returning a fresh variable; it returns clauses (lists of literals). An infeasible bound
gives ``[[]]``, the empty clause; a trivially true one gives ``[]``.

:func:`unary_counter` is the common core: outputs ``o[j-1]`` that mean "at least ``j`` of the
inputs are true", encoded in the direction(s) asked for, so the same counter serves at-most
(``up``), at-least (``down``) and reified (both) constraints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Literal

__all__ = [
    "Encoding", "ENCODINGS", "unary_counter", "at_most_one", "exactly_one",
    "at_most_k", "at_least_k", "exactly_k",
]

Encoding = Literal["totalizer", "seqcounter"]
ENCODINGS: tuple[Encoding, ...] = ("totalizer", "seqcounter")
NewVar = Callable[[], int]
Clauses = list[list[int]]
PAIRWISE_MAX = 10
"""At-most-one over at most this many literals is encoded pairwise (at most 45 binary clauses,
no auxiliary variables): CDCL solvers propagate it directly, about 7x faster than a counter on
Sudoku's 324 exactly-one constraints of 9 literals."""


def at_most_one(lits: Sequence[int]) -> Clauses:
    """Pairwise at-most-one: one binary clause per pair."""
    return [[-a, -b] for a, b in combinations(lits, 2)]


def exactly_one(lits: Sequence[int]) -> Clauses:
    """Pairwise exactly-one: at-most-one plus the clause of all literals."""
    return [list(lits), *at_most_one(lits)]


def unary_counter(
    lits: Sequence[int], upto: int, new_var: NewVar, encoding: Encoding = "totalizer",
    *, up: bool = True, down: bool = True,
) -> tuple[list[int], Clauses]:
    """Outputs ``o`` with ``o[j-1]`` <-> "at least ``j`` of ``lits``" for ``j = 1..min(upto, n)``.

    ``up`` encodes count >= j -> o[j-1] (what an at-most bound needs), ``down`` encodes
    o[j-1] -> count >= j (what an at-least bound needs); both give an equivalence.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown cardinality encoding {encoding!r}; choose one of: {', '.join(ENCODINGS)}")
    if upto < 1 or not lits:
        return [], []
    clauses: Clauses = []
    build = _totalizer if encoding == "totalizer" else _seqcounter
    return build(list(lits), upto, new_var, up, down, clauses), clauses


def _totalizer(
    lits: list[int], upto: int, new_var: NewVar, up: bool, down: bool, clauses: Clauses
) -> list[int]:
    """Bottom-up totalizer: merge unary counts pairwise until one remains."""
    level = [[lit] for lit in lits]
    while len(level) > 1:
        merged = [
            _merge(level[i], level[i + 1], upto, new_var, up, down, clauses)
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            merged.append(level[-1])
        level = merged
    return level[0]


def _merge(
    a: list[int], b: list[int], upto: int, new_var: NewVar, up: bool, down: bool, clauses: Clauses
) -> list[int]:
    """The unary sum of two unary counts, capped at ``upto``."""
    p, q = len(a), len(b)
    out = [new_var() for _ in range(min(p + q, upto))]
    for i in range(p + 1):
        for j in range(q + 1):
            if up and 1 <= i + j <= upto:
                clauses.append([*([-a[i - 1]] if i else []), *([-b[j - 1]] if j else []), out[i + j - 1]])
            if down and i + j < len(out):
                # left <= i and right <= j imply sum <= i + j
                clauses.append([*([a[i]] if i < p else []), *([b[j]] if j < q else []), -out[i + j]])
    return out


def _seqcounter(
    lits: list[int], upto: int, new_var: NewVar, up: bool, down: bool, clauses: Clauses
) -> list[int]:
    """Sequential counter: ``s[j-1]`` after input ``i`` <-> at least ``j`` of the first ``i``."""
    prev = [lits[0]]
    for x in lits[1:]:
        cur = [new_var() for _ in range(min(len(prev) + 1, upto))]
        for j, s in enumerate(cur):
            below = prev[j - 1] if j else None  # "at least j" before x (None: true)
            same = prev[j] if j < len(prev) else None  # "at least j+1" before x (None: false)
            if up:
                clauses.append([-x, *([-below] if below is not None else []), s])
                if same is not None:
                    clauses.append([-same, s])
            if down:
                clauses.append([-s, *([same] if same is not None else []), x])
                if below is not None:
                    clauses.append([-s, *([same] if same is not None else []), below])
        prev = cur
    return prev


def at_most_k(lits: Sequence[int], k: int, new_var: NewVar, encoding: Encoding = "totalizer") -> Clauses:
    """At most ``k`` of ``lits`` are true."""
    n = len(lits)
    if k < 0:
        return [[]]
    if k >= n:
        return []
    if k == 0:
        return [[-lit] for lit in lits]
    if k == 1 and n <= PAIRWISE_MAX:
        return at_most_one(lits)
    out, clauses = unary_counter(lits, k + 1, new_var, encoding, up=True, down=False)
    return [*clauses, [-out[k]]]


def at_least_k(lits: Sequence[int], k: int, new_var: NewVar, encoding: Encoding = "totalizer") -> Clauses:
    """At least ``k`` of ``lits`` are true."""
    n = len(lits)
    if k > n:
        return [[]]
    if k <= 0:
        return []
    if k == 1:
        return [list(lits)]
    out, clauses = unary_counter(lits, k, new_var, encoding, up=False, down=True)
    return [*clauses, [out[k - 1]]]


def exactly_k(lits: Sequence[int], k: int, new_var: NewVar, encoding: Encoding = "totalizer") -> Clauses:
    """Exactly ``k`` of ``lits`` are true."""
    n = len(lits)
    if not 0 <= k <= n:
        return [[]]
    if k == 0:
        return [[-lit] for lit in lits]
    if k == n:
        return [[lit] for lit in lits]
    if k == 1 and n <= PAIRWISE_MAX:
        return exactly_one(lits)
    out, clauses = unary_counter(lits, k + 1, new_var, encoding)
    return [*clauses, [out[k - 1]], [-out[k]]]
