"""Graph colouring with the fewest colours: binary search over the colour count (the tutorial's
encoding: ``x[v, c]`` for "vertex ``v`` has colour ``c``", ExactlyOne colour per vertex, and
``~x[v, c] | ~x[w, c]`` for every edge and colour).

One incremental solver serves the whole search: colour ``c`` may be used only under the
activation literal ``allow[c]``, and a check with ``C`` colours assumes ``~allow[c]`` for
``c >= C``. Colour symmetry is broken by letting the ``i``-th vertex (by decreasing degree) take
only colours ``0..i``: relabelling colours in order of first use turns any colouring into one
that obeys this.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from ..encodings.constructions import at_most_one, exactly_one
from ..problem import Problem
from ..solver import Solver
from ..terms import Bool, Not, Or, Term
from ._solve import check

__all__ = ["ChromaticResult", "chromatic_number", "greedy_coloring", "is_proper"]


class ChromaticResult(NamedTuple):
    """The chromatic number, a colouring with that many colours (``coloring[v]`` in
    ``0..number-1``), and each colour count checked as ``(colours, colourable)``."""

    number: int
    coloring: list[int]
    checks: list[tuple[int, bool]]


def _edges(edges: Iterable[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    out = set()
    for u, w in edges:
        if not (0 <= u < n and 0 <= w < n):
            raise ValueError(f"edge ({u}, {w}) has a vertex outside 0..{n - 1}")
        if u == w:
            raise ValueError(f"vertex {u} has a self-loop: no colouring exists")
        out.add((min(u, w), max(u, w)))
    return sorted(out)


def is_proper(edges: Iterable[tuple[int, int]], coloring: list[int]) -> bool:
    """Whether no edge joins two vertices of the same colour."""
    return all(coloring[u] != coloring[w] for u, w in edges)


def greedy_coloring(edges: Iterable[tuple[int, int]], n_vertices: int) -> list[int]:
    """A proper colouring by first fit in order of decreasing degree (an upper bound)."""
    adj: list[set[int]] = [set() for _ in range(n_vertices)]
    for u, w in _edges(edges, n_vertices):
        adj[u].add(w)
        adj[w].add(u)
    colors = [-1] * n_vertices
    for v in sorted(range(n_vertices), key=lambda v: -len(adj[v])):
        taken = {colors[w] for w in adj[v]}
        colors[v] = next(c for c in range(n_vertices) if c not in taken)
    return colors


def chromatic_number(
    graph_edges: Iterable[tuple[int, int]],
    n_vertices: int,
    backend: str | None = None,
    *,
    at_most: bool = False,
    timeout: float | None = None,
    **options: Any,
) -> ChromaticResult:
    """The fewest colours that colour the graph properly, and such a colouring.

    Vertices are ``0..n_vertices-1``. The search runs between 1 (2 with an edge) and the colours
    of a greedy colouring. ``at_most=True`` uses AtMostOne colour per vertex plus "at least
    one" among the allowed colours instead of ExactlyOne (the same models). ``options`` go to
    :class:`~solverlayers.Solver`; ``TimeoutError`` when one check exceeds ``timeout``.
    """
    edges = _edges(graph_edges, n_vertices)
    if n_vertices == 0:
        return ChromaticResult(0, [], [])
    best = greedy_coloring(edges, n_vertices)
    hi = max(best) + 1
    lo = 2 if edges else 1
    checks: list[tuple[int, bool]] = []
    if lo >= hi:
        return ChromaticResult(hi, best, checks)
    degree = [0] * n_vertices
    for u, w in edges:
        degree[u] += 1
        degree[w] += 1
    order = sorted(range(n_vertices), key=lambda v: -degree[v])
    top = hi  # colour variables 0..top-1, as many as the greedy colouring uses
    x = {(v, c): Bool(f"x{v}_{c}") for v in range(n_vertices) for c in range(top)}
    allow = [Bool(f"allow{c}") for c in range(top)]
    clauses: list[Term] = []
    for rank, v in enumerate(order):
        row = [x[v, c] for c in range(top)]
        clauses += (at_most_one(row) + [Or(row)]) if at_most else exactly_one(row)
        clauses += [Or(Not(x[v, c]), allow[c]) for c in range(top)]
        clauses += [Not(x[v, c]) for c in range(rank + 1, top)]
    clauses += [Or(Not(x[u, c]), Not(x[w, c])) for u, w in edges for c in range(top)]
    with Solver(Problem(clauses), backend, **options) as solver:
        while lo < hi:  # colourable with hi colours, not with fewer than lo
            mid = (lo + hi) // 2
            model = check(solver, [Not(allow[c]) for c in range(mid, top)], timeout)
            checks.append((mid, model is not None))
            if model is None:
                lo = mid + 1
            else:
                best = [next(c for c in range(mid) if model[x[v, c]]) for v in range(n_vertices)]
                hi = mid
    return ChromaticResult(hi, best, checks)
