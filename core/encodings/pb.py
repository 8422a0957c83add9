"""Pseudo-Boolean constraints ``sum(c_i * l_i) <= k`` (any integer coefficients) as gates.

The constraint is normalised to positive coefficients over literals (``c * l`` with ``c < 0`` is
``c + |c| * -l``), reduced by the coefficients' gcd and encoded as a reduced ordered BDD whose
nodes are shared through bound intervals (Abío et al., "BDDs for pseudo-Boolean constraints
- revisited", SAT 2011); each node is one ``ite`` gate. BDDs can grow exponentially, so past
``bdd_limit`` nodes the sum is built by a binary adder tree and compared with ``k`` instead.
Every function returns a literal equivalent to the constraint.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from math import gcd, inf

from . import bitblast
from .tseitin import FALSE, TRUE, Gates

__all__ = ["BDD_LIMIT", "pb_le", "pb_ge", "pb_eq"]

BDD_LIMIT = 20_000

Terms = Sequence[tuple[int, int]]


def pb_le(g: Gates, terms: Terms, k: int, *, bdd_limit: int = BDD_LIMIT) -> int:
    """A literal equivalent to ``sum(c * lit for c, lit in terms) <= k``."""
    coeff: dict[int, int] = {}
    for c, lit in terms:
        if lit == TRUE:
            k -= c
        elif lit != FALSE:
            if lit < 0:  # c * -v = c - c * v
                k -= c
                c, lit = -c, -lit
            coeff[lit] = coeff.get(lit, 0) + c
    items: list[tuple[int, int]] = []
    for var, c in coeff.items():
        if c < 0:  # c * v = c + |c| * -v
            k -= c
            items.append((-c, -var))
        elif c > 0:
            items.append((c, var))
    total = sum(c for c, _ in items)
    if k < 0:
        return FALSE
    if k >= total:
        return TRUE
    div = 0
    for c, _ in items:
        div = gcd(div, c)
    items = sorted(((c // div, lit) for c, lit in items), reverse=True)
    k //= div
    coeffs = [c for c, _ in items]
    lits = [lit for _, lit in items]
    bdd = _bdd(coeffs, k, bdd_limit)
    if bdd is None:
        return _adder_le(g, coeffs, lits, k)
    nodes, root = bdd
    out: list[int] = []
    for level, hi, lo in nodes:
        out.append(g.ite(lits[level], _lit(hi, out), _lit(lo, out)))
    return _lit(root, out)


def pb_ge(g: Gates, terms: Terms, k: int, *, bdd_limit: int = BDD_LIMIT) -> int:
    """A literal equivalent to ``sum(c * lit) >= k``."""
    return pb_le(g, [(-c, lit) for c, lit in terms], -k, bdd_limit=bdd_limit)


def pb_eq(g: Gates, terms: Terms, k: int, *, bdd_limit: int = BDD_LIMIT) -> int:
    """A literal equivalent to ``sum(c * lit) == k``."""
    return g.and_((pb_le(g, terms, k, bdd_limit=bdd_limit), pb_ge(g, terms, k, bdd_limit=bdd_limit)))


def _lit(ref: int, out: list[int]) -> int:
    """The literal of a BDD reference: TRUE, FALSE, or node ``i`` written as ``i + 2``."""
    return ref if ref in (TRUE, FALSE) else out[ref - 2]


def _bdd(coeffs: list[int], k: int, limit: int) -> tuple[list[tuple[int, int, int]], int] | None:
    """The BDD of ``sum(c_i x_i) <= k``: nodes ``(level, ref if x true, ref if x false)``,
    children before parents, and the root's reference; ``None`` past ``limit`` nodes.

    Each node is memoised with the interval of bounds that give the same function, so bounds
    that differ but cannot be told apart by the remaining coefficients share a node.
    """
    n = len(coeffs)
    suffix = [0] * (n + 1)
    for i in reversed(range(n)):
        suffix[i] = suffix[i + 1] + coeffs[i]
    los: list[list[float]] = [[] for _ in range(n)]
    entries: list[list[tuple[float, float, int]]] = [[] for _ in range(n)]
    nodes: list[tuple[int, int, int]] = []

    def lookup(i: int, bound: int) -> tuple[float, float, int] | None:
        if bound < 0:
            return (-inf, -1, FALSE)
        if bound >= suffix[i]:
            return (suffix[i], inf, TRUE)
        j = bisect_right(los[i], bound) - 1
        if j >= 0 and entries[i][j][1] >= bound:
            return entries[i][j]
        return None

    stack = [(0, k)]
    while stack:
        i, bound = stack[-1]
        if lookup(i, bound) is not None:
            stack.pop()
            continue
        c = coeffs[i]
        on, off = lookup(i + 1, bound - c), lookup(i + 1, bound)
        if on is None:
            stack.append((i + 1, bound - c))
            continue
        if off is None:
            stack.append((i + 1, bound))
            continue
        stack.pop()
        lo, hi = max(on[0] + c, off[0]), min(on[1] + c, off[1])
        if on[2] == off[2]:
            ref = on[2]
        else:
            nodes.append((i, on[2], off[2]))
            if len(nodes) > limit:
                return None
            ref = len(nodes) + 1
        j = bisect_right(los[i], lo)
        los[i].insert(j, lo)
        entries[i].insert(j, (lo, hi, ref))
    root = lookup(0, k)
    assert root is not None
    return nodes, root[2]


def _adder_le(g: Gates, coeffs: list[int], lits: list[int], k: int) -> int:
    """``sum <= k`` by a balanced tree of ripple-carry adders and a comparator."""
    width = sum(coeffs).bit_length()
    level = [[lit if c >> b & 1 else FALSE for b in range(width)] for c, lit in zip(coeffs, lits)]
    while len(level) > 1:
        merged = [bitblast.add(g, level[i], level[i + 1])[0] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            merged.append(level[-1])
        level = merged
    return bitblast.ule(g, level[0], bitblast.constant(k, width))
