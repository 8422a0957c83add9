"""Approximate weighted MaxSAT by SATNet's SDP relaxation: mixing method + randomized rounding.

A weighted CNF (a :class:`~solverlayers.problem.Problem` whose hard and soft constraints are
clauses: ``Or`` of Boolean literals, or single literals) becomes the clause matrix ``S`` of the
SATNet paper (column ``j``: ``-1`` for the truth variable, ``+-1`` per literal, scaled by
``sqrt(w_j / (4 |c_j|))``; hard clauses weigh ``1 +`` the total soft weight). The mixing method
minimises ``<S S^T, V V^T>`` over unit vectors from several random starts at once (the batch
dimension); each solution is rounded along many random hyperplanes (plus the threshold rounding
``v_i . v_T > 0``); the best candidate, ranked by violated hard weight then soft cost, is
re-evaluated exactly with :meth:`Problem.cost`. The answer is never OPTIMAL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch

from ..interfaces import CapabilityError, SdpRelaxation
from ..mixing import MixingKernels
from ..problem import Problem
from ..results import Model, OptimizeResult, OptStatus
from ..terms import Term

__all__ = ["MixingMaxSat", "WeightedCnf", "clause_matrix", "literal_signs", "to_weighted_cnf"]


@dataclass(frozen=True)
class WeightedCnf:
    """Clauses over ``variables`` as signed 1-based indices; ``weights`` exact; ``hard`` flags.
    Always-true clauses are dropped, always-false soft ones too (their weight is a constant cost,
    which :meth:`Problem.cost` counts); an always-false hard clause sets ``trivially_unsat``."""

    variables: tuple[Term, ...]
    clauses: tuple[tuple[int, ...], ...]
    weights: tuple[Fraction, ...]
    hard: tuple[bool, ...]
    trivially_unsat: bool


def _literal(term: Term, index: dict[Term, int]) -> int | bool:
    """A signed variable index, or a Python bool for a constant literal."""
    negated = term.op == "not"
    atom = term.args[0] if negated else term
    if atom.is_const and atom.sort.is_bool:
        return bool(atom.value) != negated
    if atom.is_var and atom.sort.is_bool:
        return -index[atom] if negated else index[atom]
    raise CapabilityError(
        f"the SDP relaxation takes clauses (Or of Boolean literals) only; {term!r} is not a literal "
        "(encode the problem to CNF first)"
    )


def _clause(term: Term, index: dict[Term, int]) -> tuple[int, ...] | None:
    """The clause's distinct literals, or None when it is always true."""
    lits: list[int] = []
    for arg in term.args if term.op == "or" else (term,):
        lit = _literal(arg, index)
        if lit is True or (not isinstance(lit, bool) and -lit in lits):
            return None
        if lit is not False and lit not in lits:
            lits.append(lit)
    return tuple(lits)


def to_weighted_cnf(problem: Problem) -> WeightedCnf:
    """``problem`` as a weighted CNF; CapabilityError when a constraint is not a clause."""
    variables = tuple(problem.variables)
    for v in variables:
        if not v.sort.is_bool:
            raise CapabilityError(f"the SDP relaxation takes Boolean variables only; {v.name!r} is {v.sort}")
    index = {v: i + 1 for i, v in enumerate(variables)}
    soft_total = sum((s.weight for s in problem.soft), Fraction(0))
    hard_weight = soft_total + 1
    clauses: list[tuple[int, ...]] = []
    weights: list[Fraction] = []
    hard: list[bool] = []
    unsat = False
    entries = [(t, hard_weight, True) for t in problem.hard] + [(s.term, s.weight, False) for s in problem.soft]
    for term, weight, is_hard in entries:
        lits = _clause(term, index)
        if lits is None:
            continue
        if not lits:
            unsat |= is_hard
            continue
        clauses.append(lits)
        weights.append(weight)
        hard.append(is_hard)
    return WeightedCnf(variables, tuple(clauses), tuple(weights), tuple(hard), unsat)


def literal_signs(cnf: WeightedCnf) -> torch.Tensor:
    """``(m, n)`` float64: +1 / -1 where variable ``i`` occurs positively / negatively in clause ``j``."""
    lits = [(j, abs(lit) - 1, 1.0 if lit > 0 else -1.0) for j, c in enumerate(cnf.clauses) for lit in c]
    signs = torch.zeros(len(cnf.clauses), len(cnf.variables), dtype=torch.float64)
    if lits:
        rows, cols, vals = zip(*lits)
        signs[list(rows), list(cols)] = torch.tensor(vals, dtype=torch.float64)
    return signs


def clause_matrix(cnf: WeightedCnf, dtype: torch.dtype = torch.float64, device: Any = "cpu") -> torch.Tensor:
    """SATNet's ``S`` (n + 1, m): row 0 the truth variable (-1), rows 1..n the literal signs,
    column ``j`` scaled by ``sqrt(w_j / (4 |c_j|))``."""
    S = torch.cat([-torch.ones(1, len(cnf.clauses), dtype=torch.float64), literal_signs(cnf).t()])
    scale = torch.tensor([math.sqrt(float(w) / (4 * len(c))) for w, c in zip(cnf.weights, cnf.clauses)],
                         dtype=torch.float64)
    return (S * scale).to(device=device, dtype=dtype).contiguous()


def _costs(X: torch.Tensor, signs: torch.Tensor, weights: torch.Tensor, hard: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Violated hard weight and soft cost of each assignment row of ``X`` (C, n) in {0, 1}."""
    pos, neg = (signs > 0).to(X.dtype), (signs < 0).to(X.dtype)
    true_lits = X @ pos.t() + (1 - X) @ neg.t()  # (C, m)
    violated = (true_lits < 0.5).to(weights.dtype)
    return violated @ torch.where(hard, weights, 0.0), violated @ torch.where(hard, 0.0, weights)


class MixingMaxSat(SdpRelaxation):
    """An :class:`~solverlayers.interfaces.SdpRelaxation` on any :class:`MixingKernels`
    (``kernels`` is also what the SATNet layer uses)."""

    def __init__(
        self,
        kernels: MixingKernels,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        k: int = 0,
        max_iter: int = 200,
        eps: float = 1e-8,
        restarts: int = 4,
    ) -> None:
        if restarts < 1 or max_iter < 1 or k < 0 or k == 1:
            raise ValueError(f"need restarts >= 1, max_iter >= 1 and k = 0 or k >= 2; got {restarts}, {max_iter}, {k}")
        self.kernels = kernels
        self.device = torch.device(device)
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.k, self.max_iter, self.eps, self.restarts = k, max_iter, eps, restarts

    def solve(
        self,
        problem: Problem,
        *,
        roundings: int = 64,
        generator: torch.Generator | None = None,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """The best of ``roundings`` hyperplane roundings per restart (see the module docstring)."""
        if timeout is not None:
            raise CapabilityError("the satnet backends take no timeout; bound the work with max_iter and restarts")
        if roundings < 1:
            raise ValueError(f"roundings must be >= 1, got {roundings}")
        cnf = to_weighted_cnf(problem)
        if cnf.trivially_unsat:
            return OptimizeResult(OptStatus.UNSAT, reason="a hard clause has no literal")
        n = len(cnf.variables)
        if not cnf.clauses:
            return self._result(problem, cnf, torch.zeros(n, dtype=torch.bool))
        k = self.k or math.ceil(math.sqrt(2 * (n + 1))) + 1
        dev, dt = self.device, self.dtype
        gen_dev = generator.device if generator is not None else dev
        S = clause_matrix(cnf, dt, dev)
        R = torch.randn(self.restarts, n + 1, k, generator=generator, device=gen_dev, dtype=dt).to(dev)
        V0 = R / R.norm(dim=-1, keepdim=True)
        V0[:, 0] = 0
        V0[:, 0, 0] = 1
        free = torch.ones(self.restarts, n + 1, dtype=torch.bool, device=dev)
        free[:, 0] = False
        order = (torch.randperm(n, generator=generator, device=gen_dev) + 1).to(dev)
        V, _ = self.kernels.forward(S, V0.contiguous(), free, order, self.max_iter, self.eps)
        planes = torch.randn(roundings, k, generator=generator, device=gen_dev, dtype=dt).to(dev)
        proj = torch.einsum("bik,rk->bri", V[:, 1:], planes)  # (restarts, roundings, n)
        X = proj * planes[None, :, 0:1] > 0
        X = torch.cat([X, (V[:, None, 1:, 0] > 0)], dim=1).reshape(-1, n).to(torch.float64)
        signs = literal_signs(cnf).to(dev)
        weights = torch.tensor([float(w) for w in cnf.weights], dtype=torch.float64, device=dev)
        hard = torch.tensor(cnf.hard, dtype=torch.bool, device=dev)
        hard_viol, soft_cost = _costs(X, signs, weights, hard)
        best = int(torch.argmin(hard_viol * (float(weights.sum()) + 1) + soft_cost))
        return self._result(problem, cnf, X[best].bool().cpu())

    @staticmethod
    def _result(problem: Problem, cnf: WeightedCnf, x: torch.Tensor) -> OptimizeResult:
        model = Model({v: bool(b) for v, b in zip(cnf.variables, x.tolist())})
        if not problem.satisfied_by(model):
            return OptimizeResult(OptStatus.UNKNOWN, reason="no rounding satisfied the hard clauses")
        return OptimizeResult(OptStatus.SATISFIABLE, cost=problem.cost(model), model=model)
