"""Binary neural networks fitted with SAT (the tutorial's one-layer network, after Mezard and
Mora, and its multi-layer extension with an allowed number of training errors).

A layer maps ``h`` in ``{-1, 1}^n`` to ``sign(W h)`` with ``W`` in ``{-1, 1}^{m x n}`` and
``sign(0) = 1``. With a Boolean variable ``w`` per weight (true for +1), the product
``w * h`` is +1 exactly when ``w`` and ``h`` agree, and ``W_o . h >= 0`` exactly when at least
``ceil(n / 2)`` of the ``n`` products are +1. So

* a first-layer neuron on a known input agrees with literals of its weights (``w`` where
  ``x = 1``, ``~w`` where ``x = -1``), and a hidden neuron's output is the Tseitin literal of
  ``AtLeast(ceil(n / 2), agreements)`` (counter encoded both ways);
* the output neuron must give ``y``: ``AtLeastK`` of its agreements for ``y = 1``, ``AtMostK``
  (``K - 1``) for ``y = -1`` (the tutorial's equation 14), by sequential counter or totalizer.

With ``max_errors = E > 0`` each example's output clauses are guarded by a literal ``ok[i]``
that is a soft constraint of weight 1: MaxSAT minimises the training errors, and the fit fails
when the minimum exceeds ``E``. A bias is a weight on a constant input: append a column of ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..encodings.constructions import Fresh, at_least_k, at_most_k, guard, tseitin
from ..problem import Problem
from ..results import Model, OptStatus
from ..solver import Solver
from ..terms import AtLeast, Bool, Iff, Not, Term
from ._solve import NoFitError, check

__all__ = ["BinaryNeuralNetwork", "NoFitError", "Sign"]


class Sign(nn.Module):
    """``sign`` with ``sign(0) = 1``, as a module (+-1 in the input's dtype)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        one = torch.ones_like(x)
        return torch.where(x >= 0, one, -one)


def _pm1(data: Any, what: str, ndim: int) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size and not np.isin(arr, (-1, 1)).all():
        raise ValueError(f"{what} must hold only -1 and 1")
    return arr.astype(np.int64)


def _threshold(n: int) -> int:
    """The fewest agreements out of ``n`` that make the sum of products non-negative."""
    return (n + 1) // 2


def _example_clauses(
    w: list[list[list[Term]]], x: np.ndarray, label: int, fresh: Fresh, encoding: str
) -> tuple[list[Term], list[Term]]:
    """``(definitions, output clauses)`` for one example: the definitions of the hidden
    neurons' values on ``x``, and the clauses that make the output neuron give ``label``."""
    defs: list[Term] = []

    def literal(term: Term) -> Term:
        clauses, lit = tseitin(term, fresh, cardinality=encoding)
        defs.extend(clauses)
        return lit

    def agreements(row: list[Term], h: list[Term] | None) -> list[Term]:
        """Literals "weight agrees with input": the weights' own literals on the known input
        ``x``, Tseitin literals of ``w <-> h`` on a hidden layer's outputs ``h``."""
        if h is None:
            return [wi if xi > 0 else Not(wi) for wi, xi in zip(row, x)]
        return [literal(Iff(wi, hi)) for wi, hi in zip(row, h)]

    h: list[Term] | None = None
    for rows in w[:-1]:
        h = [literal(AtLeast(_threshold(len(row)), agreements(row, h))) for row in rows]
    z = agreements(w[-1][0], h)
    k = _threshold(len(z))
    out = at_least_k(k, z, encoding, fresh) if label > 0 else at_most_k(k - 1, z, encoding, fresh)
    return defs, out


@dataclass
class BinaryNeuralNetwork:
    """A network of +-1 weights and sign activations with one output; ``weights[l]`` is the
    ``(out, in)`` matrix of layer ``l``. ``training_errors`` counts the training examples
    it misclassifies."""

    weights: list[np.ndarray]
    training_errors: int = 0

    @classmethod
    def fit(
        cls,
        X: Any,
        y: Any,
        hidden: Sequence[int] = (),
        backend: str | None = None,
        *,
        max_errors: int = 0,
        encoding: str = "seqcounter",
        timeout: float | None = None,
        **options: Any,
    ) -> BinaryNeuralNetwork:
        """Fit ``X`` in ``{-1, 1}^{examples x features}`` to labels ``y`` in ``{-1, 1}``.

        ``hidden`` gives the widths of hidden layers (none: the one-layer network). With
        ``max_errors = 0`` every example must be classified correctly (one SAT check); otherwise
        MaxSAT finds the network with the fewest errors, at most ``max_errors``. Raises
        :class:`NoFitError` when no network of this shape fits, ``TimeoutError`` when the
        backend gives no answer within ``timeout`` seconds. ``encoding`` picks the counter
        (``"seqcounter"`` or ``"totalizer"``); ``options`` go to :class:`~solverlayers.Solver`.
        """
        Xs, ys = _pm1(X, "X", 2), _pm1(y, "y", 1)
        if len(Xs) != len(ys):
            raise ValueError(f"X has {len(Xs)} rows but y has {len(ys)} labels")
        if isinstance(max_errors, bool) or not isinstance(max_errors, int) or max_errors < 0:
            raise ValueError(f"max_errors must be a non-negative int, got {max_errors!r}")
        widths = [Xs.shape[1], *hidden, 1]
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"features and layer widths must be positive ints, got {widths}")
        w = [
            [[Bool(f"w{layer}_{o}_{i}") for i in range(widths[layer])] for o in range(widths[layer + 1])]
            for layer in range(len(widths) - 1)
        ]
        fresh = Fresh("bnn_aux_")
        problem = Problem()
        for q, (x, label) in enumerate(zip(Xs, ys)):
            defs, out = _example_clauses(w, x, int(label), fresh, encoding)
            if max_errors:
                ok = Bool(f"ok{q}")
                out = guard(ok, out)
                problem.add_soft(ok, 1, name=f"example {q}")
            problem.add(*defs, *out)
        with Solver(problem, backend, **options) as solver:
            model = cls._solve(solver, max_errors, timeout)
        net = cls([np.array([[1 if model[v] else -1 for v in row] for row in layer]) for layer in w])
        net.training_errors = int((net.predict(Xs) != ys).sum())
        return net

    @staticmethod
    def _solve(solver: Solver, max_errors: int, timeout: float | None) -> Model:
        if not max_errors:
            model = check(solver, timeout=timeout)
            if model is None:
                raise NoFitError("no network of this shape classifies every training example correctly")
            return model
        result = solver.optimize(timeout=timeout)
        if result.status is OptStatus.UNSAT or (result.optimal and result.cost > max_errors):
            raise NoFitError(
                f"the fewest training errors a network of this shape makes is {result.cost}, "
                f"more than max_errors={max_errors}"
            )
        if result.model is None or result.cost is None or result.cost > max_errors:
            raise TimeoutError(
                f"backend {solver.backend!r} found no network with at most {max_errors} errors "
                f"in time ({result.reason or result.status.value})"
            )
        return result.model

    def predict(self, X: Any) -> np.ndarray:
        """The labels (+-1) of the rows of ``X`` in ``{-1, 1}``."""
        h = _pm1(X, "X", 2)
        for W in self.weights:
            h = np.where(h @ W.T >= 0, 1, -1)
        return h[:, 0]

    def to_torch(self) -> nn.Sequential:
        """An equivalent module: bias-free ``nn.Linear`` layers with these +-1 weights, each
        followed by :class:`Sign`; it maps ``(batch, features)`` to ``(batch, 1)``."""
        layers: list[nn.Module] = []
        for W in self.weights:
            linear = nn.Linear(W.shape[1], W.shape[0], bias=False)
            with torch.no_grad():
                linear.weight.copy_(torch.as_tensor(W, dtype=linear.weight.dtype))
            layers += [linear, Sign()]
        return nn.Sequential(*layers)
