"""SATNet's SDP relaxation as an approximate weighted MaxSAT backend (mixing method + rounding)."""

from __future__ import annotations

import importlib.util
import itertools
import random
import statistics
from fractions import Fraction

import pytest
import solverlayers as sl
import torch
from solverlayers.algorithms.sdp_maxsat import MixingMaxSat, clause_matrix, literal_signs, to_weighted_cnf
from solverlayers.interfaces import CapabilityError, SdpRelaxation
from solverlayers.registry import get_backend
from solverlayers.results import OptStatus


def open_backend(name: str, **options: object) -> MixingMaxSat:
    spec = get_backend(name)
    solver = spec.open(spec.resolve_options(options))
    assert isinstance(solver, SdpRelaxation) and isinstance(solver, MixingMaxSat)
    return solver


def random_instance(seed: int, n: int, m: int, hard: int) -> sl.Problem:
    """Clauses of 1-3 literals, integer weights 1-5; hard clauses satisfied by a planted model."""
    rng = random.Random(seed)
    xs = [sl.Bool(f"x{i}") for i in range(n)]
    planted = [rng.random() < 0.5 for _ in range(n)]

    def clause(satisfied_by_plant: bool) -> sl.Term:
        while True:
            idx = rng.sample(range(n), rng.randint(1, 3))
            signs = [rng.random() < 0.5 for _ in idx]
            if not satisfied_by_plant or any(s == planted[i] for i, s in zip(idx, signs)):
                return sl.Or(*[xs[i] if s else ~xs[i] for i, s in zip(idx, signs)])

    problem = sl.Problem([clause(True) for _ in range(hard)])
    for _ in range(m):
        problem.add_soft(clause(False), rng.randint(1, 5))
    return problem


def brute_force(problem: sl.Problem) -> Fraction:
    """The optimum over all assignments (vectorised; the weights here are integers)."""
    cnf = to_weighted_cnf(problem)
    X = torch.tensor(list(itertools.product([0.0, 1.0], repeat=len(cnf.variables))), dtype=torch.float64)
    signs = literal_signs(cnf)
    true_lits = X @ (signs > 0).double().t() + (1 - X) @ (signs < 0).double().t()
    violated = true_lits < 0.5
    hard = torch.tensor(cnf.hard)
    weights = torch.tensor([float(w) for w in cnf.weights], dtype=torch.float64)
    cost = (violated & ~hard).double() @ weights
    feasible = ~(violated & hard).any(1)
    return Fraction(int(cost[feasible].min()))


def check_result(problem: sl.Problem, result: sl.OptimizeResult) -> Fraction:
    assert result.status is OptStatus.SATISFIABLE and not result.optimal
    assert result.model is not None and result.cost is not None
    assert problem.satisfied_by(result.model)
    assert result.cost == problem.cost(result.model)  # exact, not the relaxation's float
    return result.cost


def test_cost_close_to_brute_force_optimum() -> None:
    solver = open_backend("satnet-cpu")
    ratios = []
    for seed in range(12):
        problem = random_instance(seed, n=10, m=40, hard=4)
        opt = brute_force(problem)
        cost = check_result(problem, solver.solve(problem, generator=torch.Generator().manual_seed(seed)))
        assert cost >= opt
        ratios.append(float((cost + 1) / (opt + 1)))
    assert statistics.mean(ratios) <= 1.2, ratios
    assert min(ratios) == 1.0  # small instances: often exactly optimal


def test_torch_reference_backend_solves_too() -> None:
    problem = random_instance(3, n=8, m=25, hard=3)
    opt = brute_force(problem)
    cost = check_result(problem, open_backend("satnet-torch", restarts=2).solve(
        problem, roundings=32, generator=torch.Generator().manual_seed(0)))
    assert opt <= cost <= opt + 5


@pytest.mark.skipif(importlib.util.find_spec("pysat") is None, reason="python-sat is not installed")
def test_against_rc2_on_larger_instances() -> None:
    from pysat.examples.rc2 import RC2
    from pysat.formula import WCNF

    solver = open_backend("satnet-cpu")
    ratios = []
    for seed in range(4):
        problem = random_instance(100 + seed, n=40, m=200, hard=10)
        cnf = to_weighted_cnf(problem)
        wcnf = WCNF()
        for lits, w, hard in zip(cnf.clauses, cnf.weights, cnf.hard):
            wcnf.append(list(lits)) if hard else wcnf.append(list(lits), weight=int(w))
        with RC2(wcnf) as rc2:
            rc2.compute()
            opt = rc2.cost
        cost = check_result(problem, solver.solve(problem, generator=torch.Generator().manual_seed(seed)))
        assert cost >= opt
        ratios.append(float(cost) / opt)
    assert statistics.mean(ratios) <= 1.3, ratios


def test_clause_matrix_encoding() -> None:
    x, y = sl.Bool("x"), sl.Bool("y")
    problem = sl.Problem([x | ~y])
    problem.add_soft(y, 4)
    cnf = to_weighted_cnf(problem)
    assert cnf.clauses == ((1, -2), (2,)) and cnf.hard == (True, False) and cnf.weights == (5, 4)
    S = clause_matrix(cnf)
    expected = torch.tensor([[-1.0, -1.0], [1.0, 0.0], [-1.0, 1.0]]) * torch.tensor([(5 / 8) ** 0.5, 1.0])
    assert torch.allclose(S, expected.double())


def test_special_clauses() -> None:
    x, y = sl.Bool("x"), sl.Bool("y")
    solver = open_backend("satnet-cpu")
    tautology = sl.Problem([sl.Or(x, ~x)])
    tautology.add_soft(y, 2)
    assert check_result(tautology, solver.solve(tautology)) == 0
    assert solver.solve(sl.Problem([sl.Or(sl.FALSE, sl.FALSE)])).status is OptStatus.UNSAT
    assert solver.solve(sl.Problem([x])).cost == 0
    with pytest.raises(CapabilityError, match="clauses"):
        solver.solve(sl.Problem([sl.And(x, y) | ~x]))
    with pytest.raises(CapabilityError, match="Boolean"):
        solver.solve(sl.Problem([sl.Int("i") > 0]))
    with pytest.raises(CapabilityError, match="timeout"):
        solver.solve(tautology, timeout=1.0)


def test_backends_advertise_the_relaxation() -> None:
    for name in ("satnet-torch", "satnet-cpu", "satnet-triton"):
        caps = get_backend(name).capabilities
        assert caps.sdp_relaxation and caps.batching and not caps.smt
    assert get_backend("satnet-triton").capabilities.gpu
