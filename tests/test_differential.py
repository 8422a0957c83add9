"""Differential tests: every installed backend that declares a theory must agree with the others
(and, for Bool/BV, with the brute-force reference) on random problems of that theory: the same
verdict, models that satisfy the formula, and the same MaxSMT optimum."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from solverlayers import OptStatus, Problem, Requirements, Solver, Status, Theory, default_registry
from solverlayers.testing.conformance import assert_model
from solverlayers.testing.reference import ReferenceSession
from solverlayers.testing.strategies import THEORIES, problems, required_theories, weighted_problems

REFERENCE = "reference"
FINITE = {Theory.BOOL, Theory.BV}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
theories = pytest.mark.parametrize("theory", THEORIES, ids=lambda t: t.value)


def participants(theory: Theory, *, maxsmt: bool = False) -> list[str]:
    """Backends that declare ``theory`` (and MaxSMT), plus the reference for Bool/BV; skips
    unless at least two can be compared."""
    needs = Requirements(theories=required_theories(theory), maxsmt=maxsmt)
    names = default_registry().capable(needs)
    if theory in FINITE:
        names.append(REFERENCE)
    if len(names) < 2:
        pytest.skip(f"fewer than two backends for {theory.value}: {names}")
    return names


def check(name: str, problem: Problem) -> tuple[Status, str | None]:
    if name == REFERENCE:
        session = ReferenceSession()
        session.add(*problem.hard)
        result = session.check()
    else:
        with Solver(problem, name) as solver:
            result = solver.check()
    if result.status is Status.SAT:
        assert_model(result.model, problem.hard, problem.variables, name)
    return result.status, result.reason


def optimize(name: str, problem: Problem) -> tuple[OptStatus, Fraction | None]:
    if name == REFERENCE:
        session = ReferenceSession()
        session.add(*problem.hard)
        result = session.optimize(problem.soft)
    else:
        with Solver(problem, name) as solver:
            result = solver.optimize()
    if result.model is not None:
        assert_model(result.model, problem.hard, problem.variables, name)
        assert result.cost == problem.cost(result.model), f"{name}: reported cost differs from its model's"
    return result.status, result.cost


@theories
def test_backends_agree_on_verdicts(theory: Theory) -> None:
    names = participants(theory)

    @SETTINGS
    @given(problems(theory))
    def agree(problem: Problem) -> None:
        answers = {name: check(name, problem) for name in names}
        for name, (status, reason) in answers.items():
            if status is Status.UNKNOWN:  # allowed on arithmetic, with a reason, never on Bool/BV
                assert theory not in FINITE and reason, f"{name} answered unknown: {reason!r}"
        verdicts = {name: s for name, (s, _) in answers.items() if s is not Status.UNKNOWN}
        assert len(set(verdicts.values())) <= 1, f"backends disagree on {problem.hard}: {verdicts}"

    agree()


@theories
def test_backends_agree_on_optima(theory: Theory) -> None:
    names = participants(theory, maxsmt=True)

    @SETTINGS
    @given(weighted_problems(theory))
    def agree(problem: Problem) -> None:
        answers = {name: optimize(name, problem) for name in names}
        proven = {name: a for name, a in answers.items() if a[0] in (OptStatus.OPTIMAL, OptStatus.UNSAT)}
        if theory in FINITE:
            assert proven == answers, f"unproven answers on a finite-domain problem: {answers}"
        assert len(set(proven.values())) <= 1, f"backends disagree on {problem!r} {problem.soft}: {proven}"

    agree()


@theories
def test_strategies_stay_in_their_theory(theory: Theory) -> None:
    """Generated problems use only the theories a backend must declare for them, every variable
    keeps one sort, and Bool/BV problems stay small enough for the brute-force reference."""

    @settings(max_examples=40, deadline=None)
    @given(weighted_problems(theory))
    def within(problem: Problem) -> None:
        assert problem.theories <= required_theories(theory)
        assert theory in problem.theories or not problem.hard
        if theory in FINITE:
            bits = sum(1 if v.sort.is_bool else v.sort.width for v in problem.variables)
            assert bits <= 10

    within()
