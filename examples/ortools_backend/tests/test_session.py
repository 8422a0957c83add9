"""Behaviour specific to the CP-SAT backend, beyond what the conformance kit checks."""

from __future__ import annotations

from fractions import Fraction

import pytest
import solverlayers.algorithms.maxsat as maxsat
from solverlayers import Bool, Eq, Int, Not, OptStatus, Problem, Solver, Status
from solverlayers.testing.reference import ReferenceSession
from solverlayers_ortools.session import OBJECTIVE_LIMIT


def test_unbounded_integers_make_unsat_unknown_not_wrong() -> None:
    i = Int("i")
    result = Solver([Eq(2 * i, 2**33)], "ortools").check()  # i = 2**32 lies outside the box
    assert result.status is Status.UNKNOWN and result.reason.startswith("incomplete")
    assert Solver([i > 0, Eq(2 * i, 7)], "ortools").check().status is Status.UNKNOWN
    assert Solver([i > 0, i <= 10, Eq(2 * i, 7)], "ortools").check().status is Status.UNSAT


def test_optimum_over_unbounded_integers_is_not_claimed_optimal() -> None:
    i = Int("i")
    problem = Problem([i >= 0])
    problem.add_soft(i > 5, 1)
    result = Solver(problem, "ortools").optimize()
    assert result.status is OptStatus.SATISFIABLE and result.cost == 0 and "incomplete" in result.reason
    problem.add(i <= 3)
    result = Solver(problem, "ortools").optimize()
    assert result.status is OptStatus.OPTIMAL and result.cost == 1


def test_core_of_an_assumption_presolve_proves_true() -> None:
    """CP-SAT's presolve once made the core name a literal that is not an assumption."""
    i = Int("i")
    needed = i < 0
    with Solver([i >= -4, i <= 4, 0 < i], "ortools") as solver:
        result = solver.unsat_core([Not(i < i), needed], minimize=False)
    assert result.status is Status.UNSAT and result.core == (needed,)


def test_weights_too_fine_for_the_objective_fall_back_to_exact_oll(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = maxsat.oll

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(maxsat, "oll", spy)
    p, q, r = Bool("p"), Bool("q"), Bool("r")
    problem = Problem([p | q, q | r, ~p | ~r])
    weights = [0.1, Fraction(1, 3), Fraction(2, 7)]
    for term, weight in zip((~p, ~q, ~r), weights):
        problem.add_soft(term, weight)
    scale = 2**55 * 21  # the common denominator of 0.1 (a binary fraction), 1/3 and 2/7
    assert sum(Fraction(w) * scale for w in weights) > OBJECTIVE_LIMIT
    result = Solver(problem, "ortools").optimize()
    reference = ReferenceSession()
    reference.add(*problem.hard)
    assert calls and result.status is OptStatus.OPTIMAL
    assert result.cost == reference.optimize(problem.soft).cost == Fraction(1, 3)


def test_integers_of_past_assumptions_do_not_make_answers_incomplete() -> None:
    p, k = Bool("p"), Int("k")
    with Solver([p, ~p | p], "ortools") as solver:
        assert solver.check([k > 2**40]).status is Status.UNKNOWN  # k is unbounded while assumed
        assert solver.check([~p]).status is Status.UNSAT
