"""Core-guided MaxSMT (OLL) and core minimisation against the brute-force reference backend."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import solverlayers as sl
from solverlayers import OptStatus, Soft, Status
from solverlayers.algorithms.cores import minimize_core
from solverlayers.algorithms.maxsat import oll
from solverlayers.evaluate import evaluate_many
from solverlayers.interfaces import SolverSession
from solverlayers.results import CheckResult
from solverlayers.testing.reference import ReferenceLimitError, ReferenceSession

BOOLS = [sl.Bool(f"b{i}") for i in range(4)]
U = sl.BitVec("u", 3)
V = sl.BitVec("v", 2)
USER_VARS = [*BOOLS, U, V]


# -- instances ----------------------------------------------------------------------------------

@st.composite
def atoms(draw: st.DrawFn) -> sl.Term:
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        b = draw(st.sampled_from(BOOLS))
        return b if kind == 0 else ~b
    if kind == 3:
        return sl.ULE(U, draw(st.integers(0, 7)))
    if kind == 4:
        return sl.Eq(U + sl.ZeroExt(1, V), draw(st.integers(0, 7)))
    return sl.Eq(sl.Extract(draw(st.integers(0, 1)), 0, V), 1) if draw(st.booleans()) else sl.UGT(V, 1)


@st.composite
def formulas(draw: st.DrawFn) -> sl.Term:
    parts = draw(st.lists(atoms(), min_size=1, max_size=3))
    shape = draw(st.integers(0, 4))
    if shape == 0 or len(parts) == 1:
        return sl.Or(parts)
    if shape == 1:
        return sl.And(parts)
    if shape == 2:
        return sl.Xor(parts[0], parts[1])
    if shape == 3:
        return sl.Implies(parts[0], parts[-1])
    return sl.AtMost(1, parts)


weights = st.one_of(
    st.integers(1, 5),
    st.fractions(min_value=Fraction(1, 10), max_value=3, max_denominator=12),
    st.floats(min_value=1e-3, max_value=1.0),
)


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[sl.Term], list[Soft], list[sl.Term]]:
    hard = draw(st.lists(formulas(), max_size=4))
    soft = [Soft.make(t, w) for t, w in draw(st.lists(st.tuples(st.one_of(atoms(), formulas()), weights),
                                                        min_size=1, max_size=7))]
    assumptions = draw(st.lists(atoms(), max_size=2))
    return hard, soft, assumptions


def reference(hard: Sequence[sl.Term]) -> ReferenceSession:
    s = ReferenceSession()
    s.add(*hard)
    return s


def cost(model: sl.Model, soft: Sequence[Soft]) -> Fraction:
    values = evaluate_many([s.term for s in soft], model, default=False)
    return sum((s.weight for s, ok in zip(soft, values) if not ok), Fraction(0))


def assert_optimum(result: sl.OptimizeResult, hard, soft, assumptions, model_vars=USER_VARS) -> None:
    expected = reference(hard).optimize(soft, assumptions)
    assert result.status is expected.status, (result, expected)
    if expected.status is OptStatus.OPTIMAL:
        assert result.cost == expected.cost
        assert result.lower_bound == expected.cost
        assert all(evaluate_many([*hard, *assumptions], result.model, default=False))
        assert cost(result.model, soft) == expected.cost
        assert set(result.model) <= set(model_vars)


# -- backends -----------------------------------------------------------------------------------

def _backend(module: str, cls: str) -> Callable[[], SolverSession]:
    def make() -> SolverSession:
        mod = pytest.importorskip(module)
        return getattr(mod, cls)()

    return make


BACKENDS = {
    "reference": ReferenceSession,
    "z3": _backend("solverlayers.plugins.z3.session", "Z3Session"),
    "cvc5": _backend("solverlayers.plugins.cvc5.session", "Cvc5Session"),
    "pysat": _backend("solverlayers.plugins.pysat.session", "PysatSession"),
}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the reference backend itself ---------------------------------------------------------------

def naive_optimum(hard, soft, assumptions) -> Fraction | None:
    """Plain enumeration over every user variable."""
    best = None
    domains = [[False, True]] * len(BOOLS) + [range(8), range(4)]
    for values in itertools.product(*domains):
        model = dict(zip(USER_VARS, values))
        if all(evaluate_many([*hard, *assumptions], model)):
            c = cost(model, soft)
            best = c if best is None else min(best, c)
    return best


@FAST
@given(instances())
def test_reference_optimize_matches_plain_enumeration(instance):
    hard, soft, assumptions = instance
    result = reference(hard).optimize(soft, assumptions)
    expected = naive_optimum(hard, soft, assumptions)
    if expected is None:
        assert result.status is OptStatus.UNSAT
    else:
        assert result.status is OptStatus.OPTIMAL and result.cost == expected == cost(result.model, soft)


def test_reference_refuses_what_it_cannot_enumerate():
    s = ReferenceSession()
    with pytest.raises(ReferenceLimitError, match="Bool and BitVec"):
        s.add(sl.Int("i") > 0)
    with pytest.raises(ReferenceLimitError, match="at most 16 bits"):
        s.add(sl.ULT(sl.BitVec("w", 32), 5))
    big = ReferenceSession(max_nodes=1000)
    x, y = sl.BitVec("x", 8), sl.BitVec("y", 8)
    big.add(sl.Eq(x * y, 7 * 11), sl.UGT(x, 1), sl.UGT(y, 1), sl.UGT(x, y))
    with pytest.raises(ReferenceLimitError, match="too large"):
        big.check()


# -- OLL --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stratify", [True, False])
@FAST
@given(instance=instances())
def test_oll_on_reference_matches_brute_force(instance, stratify):
    hard, soft, assumptions = instance
    result = oll(reference(hard), soft, assumptions, model_vars=USER_VARS, stratify=stratify)
    assert_optimum(result, hard, soft, assumptions)


@pytest.mark.parametrize("backend", ["z3", "cvc5", "pysat"])
@settings(max_examples=30, deadline=None)
@given(instance=instances())
def test_oll_on_backends_matches_brute_force(instance, backend):
    hard, soft, assumptions = instance
    session = BACKENDS[backend]()
    session.add(*hard)
    try:
        assert_optimum(oll(session, soft, assumptions, model_vars=USER_VARS), hard, soft, assumptions)
    finally:
        session.close()


@pytest.mark.parametrize("backend", list(BACKENDS))
@settings(max_examples=20, deadline=None)
@given(first=instances(), second=instances())
def test_successive_calls_on_one_session_do_not_leak(first, second, backend):
    hard = first[0] + second[0]
    session = BACKENDS[backend]()
    session.add(*hard)
    try:
        for _, soft, assumptions in (first, second, first):
            assert_optimum(oll(session, soft, assumptions, model_vars=USER_VARS), hard, soft, assumptions)
        plain = session.check(model_vars=USER_VARS)
        assert plain.status is reference(hard).check().status
    finally:
        session.close()


def test_oll_handles_cores_over_totalizers_and_duplicates():
    # at most 2 of 6 can hold; soft terms repeat and include non-literals
    xs = BOOLS + [sl.Bool("b4"), sl.Bool("b5")]
    hard = [sl.AtMost(2, xs)]
    soft = [Soft.make(x, w) for x, w in zip(xs, [5, 4, 3, 3, 2, Fraction(1, 2)])]
    soft += [Soft.make(xs[0], 1), Soft.make(sl.Or(xs[4], xs[5]), Fraction(7, 3))]
    for stratify in (True, False):
        assert_optimum(oll(reference(hard), soft, model_vars=xs, stratify=stratify), hard, soft, [], xs)


def test_oll_unsat_hard_part_and_empty_soft_set():
    x = BOOLS[0]
    assert oll(reference([x, ~x]), [Soft.make(x)]).status is OptStatus.UNSAT
    assert oll(reference([x]), [Soft.make(x)], [~x]).status is OptStatus.UNSAT
    result = oll(reference([x]), [], model_vars=[x])
    assert result.status is OptStatus.OPTIMAL and result.cost == 0 and result.model[x] is True


class _Flaky(ReferenceSession):
    """Answers UNKNOWN (a timeout) from the ``budget``-th check on."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def check(self, assumptions=(), *, timeout=None, want_core=False, model_vars=None) -> CheckResult:
        self.budget -= 1
        if self.budget < 0:
            return CheckResult(Status.UNKNOWN, reason="timeout")
        return super().check(assumptions, timeout=timeout, want_core=want_core, model_vars=model_vars)


def test_oll_timeout_gives_a_status_not_an_exception():
    xs = BOOLS
    hard = [sl.AtMost(1, xs), sl.Or(xs)]
    soft = [Soft.make(x, i + 1) for i, x in enumerate(xs)] + [Soft.make(~xs[3], 10)]
    assert oll(_Flaky(0), soft).status is OptStatus.UNKNOWN
    optimum = reference(hard).optimize(soft).cost
    statuses = set()
    for budget in range(1, 12):
        session = _Flaky(budget)
        session.add(*hard)
        result = oll(session, soft, timeout=30)
        statuses.add(result.status)
        if result.status is OptStatus.SATISFIABLE:
            assert result.model is not None and result.cost == cost(result.model, soft)
            assert result.lower_bound <= optimum <= result.cost
            assert result.reason == "timeout"
    assert statuses >= {OptStatus.SATISFIABLE, OptStatus.OPTIMAL}
    session = reference(hard)
    assert oll(session, soft, timeout=1e-9).status in (OptStatus.UNKNOWN, OptStatus.SATISFIABLE)


# -- core minimisation --------------------------------------------------------------------------

@pytest.mark.parametrize("backend", list(BACKENDS))
@settings(max_examples=30, deadline=None)
@given(hard=st.lists(formulas(), max_size=3), assumptions=st.lists(st.one_of(atoms(), formulas()), min_size=1,
                                                                   max_size=7))
def test_minimize_core_is_unsat_and_subset_minimal(hard, assumptions, backend):
    session = BACKENDS[backend]()
    session.add(*hard)
    try:
        result = session.check(assumptions, want_core=True)
        if result.status is not Status.UNSAT:
            return
        core = minimize_core(session, assumptions)
        assert list(core) == [a for a in dict.fromkeys(assumptions) if a in set(core)]  # order kept
        oracle = reference(hard)
        assert oracle.check(core).status is Status.UNSAT
        for i in range(len(core)):
            assert oracle.check(core[:i] + core[i + 1:]).status is Status.SAT
    finally:
        session.close()


def test_minimize_core_timeout_returns_an_unsat_core():
    xs = BOOLS
    session = reference([sl.AtMost(1, xs)])
    core = minimize_core(session, xs, timeout=1e-9)
    assert session.check(core).status is Status.UNSAT


# -- the facade -----------------------------------------------------------------------------------

def test_solver_optimize_on_cvc5_end_to_end():
    pytest.importorskip("solverlayers.plugins.cvc5.session")
    if "cvc5" not in sl.default_registry().backends():
        pytest.skip("the cvc5 plugin does not register yet")
    a, b = sl.BitVec("a", 4), sl.BitVec("b", 4)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    problem = sl.Problem([sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(sl.ZeroExt(1, a) + sl.ZeroExt(1, b), 12)])
    problem.add(*(sl.Eq(z[i], sl.Eq(sl.Extract(i % 4, i % 4, a if i < 4 else b), 1)) for i in range(8)))
    for i, w in enumerate([0.9, 0.2, 0.7, 0.1, 0.3, 0.6, 0.8, 0.4]):
        problem.add_soft(z[i] if i % 3 else ~z[i], w)
    with sl.Solver(problem, backend="cvc5", verify=True) as solver:
        result = solver.optimize()
    expected = reference(problem.hard).optimize(problem.soft)
    assert result.status is OptStatus.OPTIMAL and result.cost == expected.cost
    assert set(result.model) == set(problem.variables)



def test_oll_rejects_weights_that_would_never_converge():
    with pytest.raises(ValueError, match="positive"):
        oll(reference([]), [Soft(BOOLS[0], Fraction(0))])
