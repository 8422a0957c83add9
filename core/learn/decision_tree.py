"""Minimal decision trees with SAT (Narodytska, Ignatiev, Pereira and Marques-Silva, "Learning
optimal decision trees with SAT", IJCAI 2018).

For a node count ``N`` (odd), one formula says "some binary tree of ``N`` nodes, with a feature
test at each inner node and a class at each leaf, classifies every training example correctly".
Nodes are numbered so that the children of node ``i`` are ``j`` (left, even) and ``j + 1``
(right) with ``i < j <= 2i``: every tree has such a numbering (breadth-first order), and it
bounds the candidate children of each node. The variables are

* ``v[i]``: node ``i`` is a leaf; ``l[i, j]`` / ``r[i, j]``: ``j`` is the left / right child
  of ``i``; ``p[j, i]``: ``i`` is the parent of ``j``;
* ``a[f, i]``: node ``i`` tests feature ``f``; ``u[f, i]``: ``f`` is tested at ``i`` or above;
* ``dl[f, i]`` / ``dr[f, i]``: on the path to ``i`` some node tested ``f`` and went left
  (``f`` false) / right (``f`` true); ``c[i]``: the class of leaf ``i``.

An example reaches leaf ``i`` unless some feature it has false is in ``dr[., i]`` or some
feature it has true is in ``dl[., i]``; so each example ``q`` and leaf ``i`` give the clause
"``i`` is not a leaf, or its class is ``y_q``, or one of those features excludes ``q``".
:meth:`MinimalDecisionTree.fit` tries ``N = 3, 5, 7, ...`` until the formula turns from UNSAT to
SAT, which gives a tree of the fewest nodes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..encodings.constructions import exactly_one, guard
from ..problem import Problem
from ..results import Model
from ..solver import Solver
from ..terms import And, Bool, Iff, Not, Or, Term
from ._solve import NoFitError, check

__all__ = ["TreeNode", "MinimalDecisionTree", "tree_formula"]


@dataclass(frozen=True)
class TreeNode:
    """A node of a binary decision tree: a leaf with a ``label``, or a test of ``feature``
    that sends an example ``left`` when the feature is false and ``right`` when it is true."""

    feature: int | None = None
    label: int | None = None
    left: TreeNode | None = None
    right: TreeNode | None = None

    @property
    def is_leaf(self) -> bool:
        return self.feature is None

    @property
    def size(self) -> int:
        """The number of nodes of the subtree rooted here."""
        if self.left is None or self.right is None:
            return 1
        return 1 + self.left.size + self.right.size

    def classify(self, x: Sequence[Any]) -> int:
        """The label of the leaf that the binary example ``x`` reaches."""
        node = self
        while node.left is not None and node.right is not None:
            node = node.right if x[node.feature] else node.left  # type: ignore[index]
        assert node.label is not None
        return node.label

    def to_dict(self) -> dict[str, Any]:
        """``{"label": c}`` for a leaf, ``{"feature": f, "left": {...}, "right": {...}}`` else."""
        if self.left is None or self.right is None:
            return {"label": self.label}
        return {"feature": self.feature, "left": self.left.to_dict(), "right": self.right.to_dict()}


@dataclass
class _Vars:
    """The variables of the formula for one node count, for decoding a model."""

    n_nodes: int
    n_features: int
    leaf: dict[int, Term]
    left: dict[tuple[int, int], Term]
    feature: dict[tuple[int, int], Term]
    label: dict[int, Term]

    def decode(self, model: Model) -> TreeNode:
        def build(i: int) -> TreeNode:
            if model[self.leaf[i]]:
                return TreeNode(label=int(bool(model[self.label[i]])))
            j = next(j for (p, j), var in self.left.items() if p == i and model[var])
            f = next(f for f in range(self.n_features) if model[self.feature[f, i]])
            return TreeNode(feature=f, left=build(j), right=build(j + 1))

        return build(1)


def _children(i: int, n: int) -> list[int]:
    """The candidate left children of node ``i`` (1-based) in an ``n``-node tree: even ``j``
    with ``i < j <= min(2i, n - 1)``; the right child is then ``j + 1``."""
    return [j for j in range(i + 1, min(2 * i, n - 1) + 1) if j % 2 == 0]


def tree_formula(X: np.ndarray, y: np.ndarray, n_nodes: int) -> tuple[list[Term], _Vars]:
    """Boolean constraints satisfiable iff a tree of exactly ``n_nodes`` nodes (odd, at least 3)
    classifies every row of the binary matrix ``X`` as ``y``, and the variables to decode a
    tree from."""
    n, k = n_nodes, X.shape[1]
    if n < 3 or n % 2 == 0:
        raise ValueError(f"the formula is for an odd node count of at least 3, got {n}")
    nodes = range(1, n + 1)
    v = {i: Bool(f"v{i}") for i in nodes}
    c = {i: Bool(f"c{i}") for i in nodes}
    left = {(i, j): Bool(f"l{i}_{j}") for i in nodes for j in _children(i, n)}
    parents: dict[int, dict[int, Term]] = {j: {} for j in nodes}  # child -> parent -> p var
    for (i, j) in left:
        parents[j][i] = Bool(f"p{j}_{i}")
        parents[j + 1][i] = Bool(f"p{j + 1}_{i}")
    a = {(f, i): Bool(f"a{f}_{i}") for f in range(k) for i in nodes}
    u = {(f, i): Bool(f"u{f}_{i}") for f in range(k) for i in nodes}
    dl = {(f, i): Bool(f"dl{f}_{i}") for f in range(k) for i in nodes}
    dr = {(f, i): Bool(f"dr{f}_{i}") for f in range(k) for i in nodes}

    out: list[Term] = [Not(v[1])]
    # tree structure
    for i in nodes:
        kids = _children(i, n)
        for j in kids:
            # a leaf has no children; a left child j comes with the right child j + 1
            out += [Or(Not(v[i]), Not(left[i, j])), Iff(left[i, j], parents[j][i]),
                    Iff(left[i, j], parents[j + 1][i])]
        out += guard(Not(v[i]), exactly_one([left[i, j] for j in kids]))
    for j in nodes:
        if j > 1:
            out += exactly_one(list(parents[j].values()))
    # features: one per inner node, none at a leaf, none twice on a path
    for i in nodes:
        out += guard(Not(v[i]), exactly_one([a[f, i] for f in range(k)]))
        out += [Or(Not(v[i]), Not(a[f, i])) for f in range(k)]
    for f in range(k):
        out += [Not(dl[f, 1]), Not(dr[f, 1]), Iff(u[f, 1], a[f, 1])]
        for j in nodes:
            if j == 1:
                continue
            went, other = (dl, dr) if j % 2 == 0 else (dr, dl)
            up = parents[j]
            out += [
                Iff(went[f, j], Or([And(p, Or(went[f, i], a[f, i])) for i, p in up.items()])),
                Iff(other[f, j], Or([And(p, other[f, i]) for i, p in up.items()])),
                Iff(u[f, j], Or(a[f, j], *(And(p, u[f, i]) for i, p in up.items()))),
                *(Or(Not(p), Not(u[f, i]), Not(a[f, j])) for i, p in up.items()),
            ]
    # classification: a leaf whose class differs from y_q excludes example q
    for x, label in zip(X, y):
        for i in nodes:
            excluders = [dl[f, i] if x[f] else dr[f, i] for f in range(k)]
            out.append(Or(Not(v[i]), c[i] if label else Not(c[i]), *excluders))
    return out, _Vars(n, k, v, left, a, c)


def _binary(data: Any, what: str, ndim: int) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{what} must be binary (0/1 or bool)")
    return arr.astype(np.int8)


@dataclass
class MinimalDecisionTree:
    """A decision tree of the fewest nodes that classifies its binary training data perfectly.

    ``search`` records each node count tried as ``(n_nodes, satisfiable, seconds)``.
    """

    root: TreeNode
    n_features: int
    feature_names: list[str] | None = None
    search: list[tuple[int, bool, float]] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        return self.root.size

    @classmethod
    def fit(
        cls,
        X: Any,
        y: Any,
        backend: str | None = None,
        *,
        max_nodes: int | None = None,
        timeout: float | None = None,
        feature_names: Sequence[str] | None = None,
        **options: Any,
    ) -> MinimalDecisionTree:
        """Fit binary ``X`` (examples x features) and binary labels ``y`` on ``backend``.

        Tries ``N = 3, 5, ...`` up to ``max_nodes`` (default ``2m - 1`` for ``m`` distinct
        examples, which always suffices: splitting until every leaf is pure gives at most ``m``
        leaves). Raises :class:`NoFitError` when two identical examples have different labels
        or no tree of at most ``max_nodes`` nodes fits, and ``TimeoutError`` when one check
        exceeds ``timeout`` seconds. ``options`` go to :class:`~solverlayers.Solver`.
        """
        Xb, yb = _binary(X, "X", 2), _binary(y, "y", 1)
        if len(Xb) != len(yb):
            raise ValueError(f"X has {len(Xb)} rows but y has {len(yb)} labels")
        k = Xb.shape[1]
        names = list(feature_names) if feature_names is not None else None
        if names is not None and len(names) != k:
            raise ValueError(f"{len(names)} feature names for {k} features")
        seen: dict[bytes, int] = {}
        for x, label in zip(Xb, yb):
            if seen.setdefault(x.tobytes(), int(label)) != label:
                raise NoFitError(f"the example {x.tolist()} occurs with both labels; no tree fits")
        rows = np.array([np.frombuffer(b, dtype=np.int8) for b in seen], dtype=np.int8).reshape(-1, k)
        labels = np.array(list(seen.values()), dtype=np.int8)
        if len(set(labels.tolist())) <= 1:
            return cls(TreeNode(label=int(labels[0]) if len(labels) else 0), k, names)
        limit = max_nodes if max_nodes is not None else 2 * len(rows) - 1
        search: list[tuple[int, bool, float]] = []
        for n in range(3, limit + 1, 2):
            start = time.perf_counter()
            clauses, variables = tree_formula(rows, labels, n)
            with Solver(Problem(clauses), backend, **options) as solver:
                model = check(solver, timeout=timeout)
            search.append((n, model is not None, time.perf_counter() - start))
            if model is not None:
                return cls(variables.decode(model), k, names, search)
        raise NoFitError(f"no decision tree of at most {limit} nodes classifies the data perfectly")

    def predict(self, X: Any) -> np.ndarray:
        """The labels (0/1) the tree gives the rows of binary ``X``."""
        Xb = _binary(X, "X", 2)
        if Xb.shape[1] != self.n_features:
            raise ValueError(f"X has {Xb.shape[1]} features, the tree was fitted on {self.n_features}")
        return np.array([self.root.classify(x) for x in Xb], dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """The tree as nested dictionaries (see :meth:`TreeNode.to_dict`), with its size."""
        return {"n_nodes": self.n_nodes, "n_features": self.n_features, "tree": self.root.to_dict()}

    def export_text(self, feature_names: Sequence[str] | None = None) -> str:
        """The tree as indented text, one test outcome or leaf per line."""
        names = list(feature_names or self.feature_names or [f"x{f}" for f in range(self.n_features)])
        lines: list[str] = []

        def walk(node: TreeNode, depth: int) -> None:
            pad = "|   " * depth
            if node.left is None or node.right is None:
                lines.append(f"{pad}class: {node.label}")
                return
            for value, child in ((0, node.left), (1, node.right)):
                lines.append(f"{pad}{names[node.feature]} = {value}")  # type: ignore[index]
                walk(child, depth + 1)

        walk(self.root, 0)
        return "\n".join(lines)
