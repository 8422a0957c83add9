"""The term-level SAT constructions of :mod:`solverlayers.encodings.constructions`, solved on
every registered exact backend among pysat, z3 and cvc5 and compared with counting."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

import solverlayers as sl
from solverlayers.encodings.constructions import (
    RESERVED_PREFIX, Fresh, at_least_k, at_most_k, at_most_one, exactly_k, exactly_one, guard, tseitin,
)
from solverlayers.evaluate import evaluate
from solverlayers.terms import Term
from solverlayers.testing.strategies import bool_formulas

BACKENDS = ("pysat", "z3", "cvc5")
ENCODINGS = ("seqcounter", "totalizer")
CARDINALITY: dict[str, tuple[Callable[..., list[Term]], Callable[[int, int], bool]]] = {
    "at_most_k": (at_most_k, lambda count, k: count <= k),
    "at_least_k": (at_least_k, lambda count, k: count >= k),
    "exactly_k": (exactly_k, lambda count, k: count == k),
}
X = [sl.Bool(f"x{i}") for i in range(6)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = request.param
    if name not in {spec.name for spec in sl.list_backends()}:
        pytest.skip(f"backend {name!r} is not registered")
    return name


def assignments(variables: list[Term]) -> list[dict[Term, bool]]:
    return [dict(zip(variables, bits)) for bits in itertools.product((False, True), repeat=len(variables))]


def fix(values: dict[Term, bool]) -> list[Term]:
    return [v if b else sl.Not(v) for v, b in values.items()]


def projected_verdicts(solver: sl.Solver, variables: list[Term]) -> list[bool]:
    """SAT or not under each assignment of ``variables`` (in :func:`assignments` order)."""
    results = solver.check_batch([fix(a) for a in assignments(variables)])
    assert all(r.status is not sl.Status.UNKNOWN for r in results)
    return [r.sat for r in results]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", list(CARDINALITY))
def test_cardinality_agrees_with_counting(backend: str, name: str, encoding: str) -> None:
    """For every n <= 6 and bound -1..n+1: SAT under an assignment of the originals iff the
    count condition holds (the auxiliary variables are existentially projected away)."""
    build, holds = CARDINALITY[name]
    for n in range(7):
        lits = X[:n]
        for k in range(-1, n + 2):
            with sl.Solver(build(k, lits, encoding), backend) as solver:
                got = projected_verdicts(solver, lits)
            want = [holds(sum(a.values()), k) for a in assignments(lits)]
            assert got == want, (name, encoding, n, k)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cardinality_over_negations_and_constants(backend: str, encoding: str) -> None:
    lits: list[Term] = [X[0], sl.Not(X[1]), sl.TRUE, X[2], sl.FALSE]
    for name, (build, holds) in CARDINALITY.items():
        for k in range(0, 5):
            with sl.Solver(build(k, lits, encoding), backend) as solver:
                got = projected_verdicts(solver, X[:3])
            want = [holds(sum(evaluate(lit, a) for lit in lits), k) for a in assignments(X[:3])]
            assert got == want, (name, k)


def test_exactly_one_and_at_most_one(backend: str) -> None:
    for n in range(5):
        lits = X[:n]
        for clauses, holds in ((exactly_one(lits), lambda c: c == 1), (at_most_one(lits), lambda c: c <= 1)):
            assert all(v.name.startswith("x") for v in sl.variables(clauses))  # no auxiliaries
            with sl.Solver(clauses, backend) as solver:
                assert projected_verdicts(solver, lits) == [holds(sum(a.values())) for a in assignments(lits)]


# the tutorial's equations 1 and 3, and formulas over every Boolean operation
x1, x2, x3, x4 = X[:4]
FORMULAS = [
    sl.And(sl.Implies(x1, ~x2 & x3), sl.Iff(x2, ~x3 | x1)),
    sl.Implies(sl.Iff(x1 | x2, x3), ~x4),
    sl.Xor(sl.Ite(x1, x2, x3), sl.Distinct(x3, x4)) | sl.AtMost(2, [x1, x2, x3, x4]),
    sl.And(sl.Exactly(2, [x1, ~x2, x3]), sl.PbLe([(3, x1), (-2, x2), (1, x4)], 1)),
    sl.Or(x1 & sl.TRUE, sl.FALSE),
]


@pytest.mark.parametrize("index", range(len(FORMULAS)))
def test_tseitin_literal_equals_the_formula(backend: str, index: int) -> None:
    formula = FORMULAS[index]
    originals = sl.variables(formula)
    definitions, literal = tseitin(formula)
    assert all(c.op in ("or", "not", "var", "const") for c in definitions)  # clauses
    with sl.Solver(definitions, backend) as solver:
        for a in assignments(originals):
            value = evaluate(formula, a)
            for polarity, want in ((literal, value), (sl.Not(literal), not value)):
                result = solver.check([*fix(a), polarity])
                assert result.sat is want, (a, polarity)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bool_formulas())
def test_tseitin_defines_each_fresh_variable_once(formula: Term) -> None:
    """Exactly one extension of each assignment of the originals satisfies the definitions,
    and there the literal has the formula's value (checked by blocking the extension)."""
    originals = sl.variables(formula)
    definitions, literal = tseitin(formula, "t_")
    fresh = [v for v in sl.variables(definitions) if v not in originals]
    assert all(v.name.startswith("t_") for v in fresh)
    with sl.Solver(definitions, "pysat") as solver:
        for a in assignments(originals):
            result = solver.check(fix(a))
            assert result.sat
            assert result.model.evaluate(literal, default=False) is evaluate(formula, a)
            extension = {v: result.model.evaluate(v, default=False) for v in fresh}
            if fresh:
                assert solver.check([*fix(a), sl.Not(sl.And(fix(extension)))]).unsat


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_guard_enforces_only_under_its_condition(backend: str, encoding: str) -> None:
    s = sl.Bool("s")
    lits = X[:4]
    clauses = guard(s, at_least_k(3, lits, encoding)) + guard(~s, at_most_k(1, lits, encoding))
    with sl.Solver(clauses, backend) as solver:
        got = projected_verdicts(solver, [s, *lits])
    want = [(sum(a.values()) - a[s] >= 3) if a[s] else (sum(a.values()) <= 1) for a in assignments([s, *lits])]
    assert got == want


def test_fresh_variables_do_not_collide() -> None:
    a, b = at_least_k(2, X[:4]), at_most_k(2, X[:4])
    names_a = {v.name for v in sl.variables(a)} - {x.name for x in X}
    names_b = {v.name for v in sl.variables(b)} - {x.name for x in X}
    assert names_a and names_b and not names_a & names_b
    assert all(n.startswith(RESERVED_PREFIX) for n in names_a | names_b)
    shared = Fresh("aux_")
    c, d = at_least_k(2, X[:4], "totalizer", shared), at_most_k(2, X[:4], "totalizer", shared)
    names_c = {v.name for v in sl.variables(c)} - {x.name for x in X}
    names_d = {v.name for v in sl.variables(d)} - {x.name for x in X}
    assert names_c and names_d and not names_c & names_d
    with sl.Solver(c + d, "pysat") as solver:  # together: exactly two
        assert projected_verdicts(solver, X[:4]) == [sum(a.values()) == 2 for a in assignments(X[:4])]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown cardinality encoding"):
        at_most_k(1, X[:3], "pairwise")
    with pytest.raises(TypeError, match="must be an int"):
        at_least_k(1.5, X[:3])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Boolean literals"):
        exactly_k(1, [sl.Int("i")])
    with pytest.raises(TypeError, match="pure Boolean"):
        tseitin(sl.Int("i") <= 3)
    with pytest.raises(ValueError, match="non-empty"):
        Fresh("")
