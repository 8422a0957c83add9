"""The Z3 backend: translation of every term operation, cores, timeouts, MaxSMT and SMT-LIB reading."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest

import solverlayers as sl
from solverlayers.capabilities import CoreKind, Theory
from solverlayers.descriptors import OptionError
from solverlayers.evaluate import evaluate, evaluate_many
from solverlayers.problem import Problem, Soft
from solverlayers.results import OptStatus, Status
from solverlayers.plugins.z3 import solverlayers_backends
from solverlayers.terms import Term

z3 = pytest.importorskip("z3")

SPEC = solverlayers_backends()[0]


def open_session(**options: object) -> sl.SolverSession:
    session = SPEC.open(SPEC.resolve_options(options))
    assert isinstance(session, sl.SolverSession)
    return session


@pytest.fixture
def session() -> Iterator[sl.SolverSession]:
    s = open_session()
    yield s
    s.close()


def parse(text: str) -> Problem:
    assert SPEC.parse_smtlib is not None
    problem = SPEC.parse_smtlib(text)
    assert isinstance(problem, Problem)
    return problem


# -- the plugin ---------------------------------------------------------------------------------

def test_importing_the_plugin_does_not_import_z3() -> None:
    code = (
        "import sys, solverlayers.plugins.z3 as p\n"
        "spec = p.solverlayers_backends()[0]\n"
        "assert spec.name == 'z3' and spec.version != '-', spec.version\n"
        "assert 'z3' not in sys.modules, 'z3 was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_descriptor() -> None:
    caps = SPEC.capabilities
    assert caps.theories == frozenset(Theory)
    assert caps.cores is CoreKind.MINIMAL and caps.native_maxsmt and caps.smtlib_parser and caps.timeouts
    assert not caps.crosses_processes and not caps.crosses_threads
    assert SPEC.resolve_options({}) == {"maxsat_engine": "maxres", "rlimit": 0, "random_seed": 0,
                                        "arith_solver": 6, "params": ""}
    with pytest.raises(ValueError, match="choose one of: 6, 2"):
        SPEC.resolve_options({"arith_solver": 3})
    assert SPEC.resolve_options({"arith_solver": "2"})["arith_solver"] == 2  # as from a config file
    with pytest.raises(ValueError, match="choose one of"):
        SPEC.resolve_options({"maxsat_engine": "nope"})
    with pytest.raises(ValueError, match="valid options"):
        SPEC.resolve_options({"timeout": 3})


# -- translation of every operation -------------------------------------------------------------

_OUTPUTS = itertools.count()


def assert_translates(session: sl.SolverSession, term: Term, inputs: list[Term], domain: list[list[object]]) -> None:
    """For every input tuple in ``domain``, Z3's value of ``term`` equals the core evaluator's."""
    out = Term("var", (), term.sort, f"out{next(_OUTPUTS)}")
    session.add(sl.Eq(out, term))
    for values in domain:
        fix = [sl.Eq(v, sl.as_term(x, v.sort)) for v, x in zip(inputs, values)]
        result = session.check(fix, model_vars=[*inputs, out])
        assert result.status is Status.SAT, (term, values)
        model = result.model
        assert model is not None
        assert [model[v] for v in inputs] == [evaluate(sl.as_term(x, v.sort), {}) for v, x in zip(inputs, values)]
        expected = evaluate(term, model)
        assert model[out] == expected, (term, values, model[out], expected)
        assert type(model[out]) is type(expected)


BV_BINARY: list[Callable[[Term, Term], Term]] = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a & b, lambda a, b: a | b,
    lambda a, b: a ^ b, sl.Shl, sl.LShr, sl.AShr, sl.UDiv, sl.URem, sl.SDiv, sl.SRem,
    sl.ULT, sl.ULE, sl.UGT, sl.UGE, sl.SLT, sl.SLE, sl.SGT, sl.SGE, sl.Eq, sl.Distinct,
    lambda a, b: sl.Concat(a, b, a),
]
BV_UNARY: list[Callable[[Term], Term]] = [
    lambda a: -a, lambda a: ~a, lambda a: sl.Extract(2, 1, a), lambda a: sl.Extract(0, 0, a),
    lambda a: sl.ZeroExt(3, a), lambda a: sl.SignExt(2, a),
]


@pytest.mark.parametrize("op", range(len(BV_BINARY)))
def test_bitvector_binary_operations(session: sl.SolverSession, op: int) -> None:
    a, b = sl.BitVec("a", 3), sl.BitVec("b", 3)
    assert_translates(session, BV_BINARY[op](a, b), [a, b], [list(p) for p in itertools.product(range(8), repeat=2)])


@pytest.mark.parametrize("op", range(len(BV_UNARY)))
def test_bitvector_unary_operations(session: sl.SolverSession, op: int) -> None:
    a = sl.BitVec("a", 3)
    assert_translates(session, BV_UNARY[op](a), [a], [[v] for v in range(8)])


BOOL_OPS: list[Callable[[Term, Term, Term], Term]] = [
    lambda x, y, z: ~x, lambda x, y, z: sl.And(x, y, z), lambda x, y, z: sl.Or(x, y, z),
    lambda x, y, z: sl.Xor(x, y), lambda x, y, z: sl.Implies(x, y), lambda x, y, z: sl.Ite(x, y, z),
    lambda x, y, z: sl.Iff(x, y), lambda x, y, z: sl.Distinct(x, y), lambda x, y, z: sl.Distinct(x, y, z),
    lambda x, y, z: sl.AtMost(1, [x, y, z]), lambda x, y, z: sl.AtLeast(2, [x, y, z]),
    lambda x, y, z: sl.Exactly(2, [x, y, z]), lambda x, y, z: sl.AtMost(-1, [x, y]),
    lambda x, y, z: sl.AtLeast(0, []), lambda x, y, z: sl.PbLe([(3, x), (-2, y), (1, z)], 1),
    lambda x, y, z: sl.PbGe([(2, x), (2, y), (5, z)], 4), lambda x, y, z: sl.PbEq([(1, x), (2, y), (3, z)], 3),
    lambda x, y, z: sl.PbLe([(2**40, x), (1, y)], 2**40),  # beyond Z3's C ints
    lambda x, y, z: sl.Ite(x, sl.BitVecVal(5, 3), sl.BitVecVal(2, 3)),
    lambda x, y, z: sl.Ite(y, sl.IntVal(-4), sl.IntVal(7)),
]


@pytest.mark.parametrize("op", range(len(BOOL_OPS)))
def test_boolean_and_pseudo_boolean_operations(session: sl.SolverSession, op: int) -> None:
    x, y, z = sl.Bool("x"), sl.Bool("y"), sl.Bool("z")
    domain = [list(p) for p in itertools.product([False, True], repeat=3)]
    assert_translates(session, BOOL_OPS[op](x, y, z), [x, y, z], domain)


INT_VALUES = [-7, -1, 0, 1, 3, 12]
REAL_VALUES = [Fraction(-5, 2), Fraction(0), Fraction(1, 3), Fraction(7)]
ARITH_OPS: list[Callable[[Term, Term], Term]] = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: -a, lambda a, b: sl.Sum(a, b, 4),
    lambda a, b: a * 3 + b * -2, lambda a, b: a / 3, lambda a, b: a < b, lambda a, b: a <= b,
    lambda a, b: a > b, lambda a, b: a >= b, lambda a, b: sl.Eq(a, b), lambda a, b: sl.Distinct(a, b, 0),
    lambda a, b: sl.Ite(a < b, a, b),
]


@pytest.mark.parametrize("op", range(len(ARITH_OPS)))
def test_integer_operations(session: sl.SolverSession, op: int) -> None:
    a, b = sl.Int("a"), sl.Int("b")
    assert_translates(session, ARITH_OPS[op](a, b), [a, b], [list(p) for p in itertools.product(INT_VALUES, repeat=2)])


@pytest.mark.parametrize("op", range(len(ARITH_OPS)))
def test_real_operations(session: sl.SolverSession, op: int) -> None:
    a, b = sl.Real("a"), sl.Real("b")
    assert_translates(session, ARITH_OPS[op](a, b), [a, b], [list(p) for p in itertools.product(REAL_VALUES, repeat=2)])


def test_mixed_integer_real_and_to_real(session: sl.SolverSession) -> None:
    i, r = sl.Int("i"), sl.Real("r")
    for term in (sl.ToReal(i) + r, i * r, i < r, sl.Eq(i, r), (i + 1) / 2):
        assert_translates(session, term, [i, r], [[x, y] for x in INT_VALUES[:4] for y in REAL_VALUES])


def test_constants_of_every_sort(session: sl.SolverSession) -> None:
    x = sl.Bool("x")
    for term in (sl.TRUE, sl.FALSE, sl.IntVal(-(2**70)), sl.RealVal("-3/7"), sl.BitVecVal(2**65 - 1, 65)):
        assert_translates(session, sl.Ite(x, term, term), [x], [[True]])


def test_solved_models_satisfy_random_formulas() -> None:
    rng = random.Random(7)
    xs = [sl.Bool(f"x{i}") for i in range(5)]
    bv = sl.BitVec("v", 4)
    n = sl.Int("n")
    atoms = [*xs, sl.ULT(bv, 5), sl.Eq(sl.Extract(1, 0, bv), 2), n > 2, n < -1, sl.Eq(n * 2, 4)]
    for _ in range(25):
        s = open_session()
        formula = []
        for _ in range(6):
            lits = [a if rng.random() < 0.5 else ~a for a in rng.sample(atoms, 3)]
            formula.append(sl.Or(lits))
        formula.append(sl.AtMost(2, xs))
        s.add(*formula)
        result = s.check()
        if result.sat:
            assert result.model is not None
            assert all(evaluate_many(formula, result.model))
        else:  # the domain is small enough to confirm unsatisfiability by brute force
            for bits in itertools.product([False, True], repeat=5):
                for v, k in itertools.product(range(16), range(-3, 6)):
                    assign = {**dict(zip(xs, bits)), bv: v, n: k}
                    assert not all(evaluate_many(formula, assign))
        s.close()


def test_model_values_and_default_model_variables(session: sl.SolverSession) -> None:
    b, i, r, v = sl.Bool("b"), sl.Int("i"), sl.Real("r"), sl.BitVec("v", 8)
    session.add(sl.Eq(i, -(2**80)), sl.Eq(r * 3, 1), sl.Eq(v, 200))
    result = session.check([b])
    assert result.sat and result.model is not None
    model = result.model
    assert set(model) == {b, i, r, v}  # every variable of the constraints and assumptions
    assert model[b] is True and model[i] == -(2**80) and model[r] == Fraction(1, 3) and model["v"] == 200
    assert type(model[i]) is int and type(model[r]) is Fraction and type(model[v]) is int
    unseen = sl.Int("unseen")
    result = session.check(model_vars=[unseen, b])
    assert result.model is not None and set(result.model) == {unseen, b} and result.model[unseen] == 0


def test_irrational_values_are_close_fractions(session: sl.SolverSession) -> None:
    x = sl.Real("x")
    session.add(sl.Eq(x * x, 2), x > 0)
    result = session.check()
    assert result.sat and result.model is not None
    value = result.model[x]
    assert isinstance(value, Fraction)
    assert abs(value * value - 2) < Fraction(1, 10**15)


def test_variable_used_with_two_sorts_is_an_error(session: sl.SolverSession) -> None:
    session.add(sl.Bool("x"))
    with pytest.raises(TypeError, match="both"):
        session.add(sl.Int("x") > 1)


def test_non_boolean_constraints_are_rejected(session: sl.SolverSession) -> None:
    with pytest.raises(TypeError, match="did you write"):
        session.add(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Boolean"):
        session.check([sl.Int("x")])


def test_switch_to_the_general_solver_keeps_everything(session: sl.SolverSession) -> None:
    v, x = sl.BitVec("v", 4), sl.Bool("x")
    tracked = sl.ULT(v, 3)
    session.add(sl.Implies(x, sl.UGT(v, 10)))
    assert session.check([tracked, x], want_core=True).core == (tracked, x)
    n = sl.Int("n")
    session.add(sl.Eq(n, sl.Ite(x, sl.IntVal(5), sl.IntVal(-5))))  # arithmetic: moves to the general solver
    assumptions = [tracked, x, n > 0]
    core = session.check(assumptions, want_core=True).core
    assert core is not None and len(core) == 2
    assert_minimal_core(session, assumptions, core)
    result = session.check([tracked])
    assert result.sat and result.model is not None and result.model[n] == -5


# -- cores --------------------------------------------------------------------------------------

def assert_minimal_core(session: sl.SolverSession, assumptions: list[Term], core: tuple[Term, ...]) -> None:
    assert all(any(c is a for a in assumptions) for c in core), "core terms must be the caller's objects"
    assert session.check(list(core)).unsat
    for i in range(len(core)):
        assert session.check([*core[:i], *core[i + 1:]]).sat, "core is not minimal"


def test_cores_are_minimal_subsets_of_the_assumptions() -> None:
    rng = random.Random(3)
    xs = [sl.Bool(f"x{i}") for i in range(8)]
    unsat_seen = 0
    for _ in range(30):
        s = open_session()
        s.add(*(sl.Or([x if rng.random() < 0.5 else ~x for x in rng.sample(xs, 3)]) for _ in range(14)))
        assumptions = [x if rng.random() < 0.5 else ~x for x in rng.sample(xs, 6)]
        result = s.check(assumptions, want_core=True)
        if result.unsat:
            unsat_seen += 1
            assert result.core is not None
            assert_minimal_core(s, assumptions, result.core)
        s.close()
    assert unsat_seen >= 5


def test_cores_of_non_literal_assumptions_map_back_to_the_callers_terms(session: sl.SolverSession) -> None:
    v, w, p = sl.BitVec("v", 4), sl.BitVec("w", 4), sl.Bool("p")
    session.add(sl.Implies(p, sl.ULT(v, w)))
    assumptions = [sl.Eq(v, 9), sl.Or(p, sl.Eq(w, 0)), sl.Eq(w, 3), ~p, sl.UGT(w, 1), p]
    result = session.check(assumptions, want_core=True)
    assert result.unsat and result.core is not None
    assert_minimal_core(session, assumptions, result.core)
    # equal terms built afresh reuse the cached tracking literals and map back to the new objects
    again = [sl.Eq(v, 9), sl.Eq(w, 3), p]
    result = session.check(again, want_core=True)
    assert result.core is not None and [id(t) for t in result.core] == [id(t) for t in again]
    assert session.check(again).core is None  # no core unless asked


def test_empty_core_when_the_constraints_alone_are_unsat(session: sl.SolverSession) -> None:
    x = sl.Bool("x")
    session.add(x, ~x)
    result = session.check([sl.Bool("y")], want_core=True)
    assert result.unsat and result.core == ()


# -- timeouts and limits ------------------------------------------------------------------------

def pigeonhole(pigeons: int, holes: int, guard: Term) -> list[Term]:
    """Put ``pigeons`` into ``holes``, one per hole (hard to refute), when ``guard`` holds."""
    p = [[sl.Bool(f"{guard.name}{i}_{j}") for j in range(holes)] for i in range(pigeons)]
    clauses = [sl.Or(row) for row in p]
    clauses += [sl.Or(~p[i][j], ~p[k][j]) for j in range(holes) for i in range(pigeons) for k in range(i + 1, pigeons)]
    return [sl.Implies(guard, c) for c in clauses]


def test_timeout_is_unknown_and_applies_to_one_call(session: sl.SolverSession) -> None:
    g, h = sl.Bool("g"), sl.Bool("h")
    session.add(*pigeonhole(10, 9, g), *pigeonhole(9, 8, h))
    started = time.perf_counter()
    result = session.check([g], timeout=0.05)
    assert result.status is Status.UNKNOWN and result.reason == "timeout"
    assert time.perf_counter() - started < 2
    assert session.check([h]).unsat  # takes longer than 0.05 s: the limit was for one call only
    assert session.check([g], timeout=0).status is Status.UNKNOWN
    with pytest.raises(ValueError):
        session.check([g], timeout=-1)


def test_resource_limit_option() -> None:
    s = open_session(rlimit=20000)
    g = sl.Bool("g")
    s.add(*pigeonhole(10, 9, g))
    result = s.check([g])
    assert result.status is Status.UNKNOWN and result.reason == "resource limit"
    s.close()


@pytest.mark.parametrize(("arith_solver", "statistic"), [(6, "arith-make-feasible"), (2, "arith pivots")])
def test_arith_solver_option_picks_z3s_arithmetic_solver(arith_solver: int, statistic: str) -> None:
    """Z3's two arithmetic solvers keep differently named statistics: checks and MaxSMT use the chosen one."""
    s = open_session(arith_solver=arith_solver)
    x, y = sl.Real("x"), sl.Real("y")
    s.add(x + 2 * y >= 3, x - y <= 1, sl.Or(y <= Fraction(1, 2), y >= 2))
    assert s.check().status is Status.SAT
    assert statistic in s._solver.statistics().keys()  # type: ignore[attr-defined]
    assert s.optimize([Soft.make(x <= 0, 1)]).status is OptStatus.OPTIMAL
    assert statistic in s._opt.statistics().keys()  # type: ignore[attr-defined]
    s.close()


def test_params_reach_both_solvers() -> None:
    g = sl.Bool("g")
    for arithmetic in (False, True):  # the SAT-based bit-vector solver, then the general one
        for params, status in (("max_conflicts=1, smt.relevancy=0", Status.UNKNOWN), ("", Status.UNSAT)):
            s = open_session(params=params)
            s.add(*pigeonhole(6, 5, g), *([sl.Int("i") >= 0] if arithmetic else []))
            assert s.check([g]).status is status  # refuting takes more than one conflict
            s.close()


@pytest.mark.parametrize(("params", "message"), [
    ("relevancy", "not name=value; write e.g. 'smt.relevancy=0'"),
    ("smt.relevence=0", "unknown parameter 'smt.relevence'; did you mean relevancy\\?"),
    ("relevancy=x", "expected unsigned int"),
    ("smt.arith.solver=2", "use the z3 option arith_solver"),
    ("timeout=5", "pass timeout= to check or optimize"),
])
def test_bad_params_fail_when_the_session_opens(params: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        open_session(params=params)


def test_optimize_timeout_is_a_status(session: sl.SolverSession) -> None:
    holes = 11
    p = [[sl.Bool(f"p{i}_{j}") for j in range(holes)] for i in range(holes + 1)]
    session.add(*(sl.AtMost(1, [row[j] for row in p]) for j in range(holes)))
    soft = [Soft.make(sl.Or(row), Fraction(1, 3)) for row in p]
    result = session.optimize(soft, timeout=0.05)
    assert result.status in (OptStatus.SATISFIABLE, OptStatus.UNKNOWN, OptStatus.OPTIMAL)
    if result.model is not None:
        assert result.cost == Problem(soft=soft).cost(result.model)


# -- MaxSMT -------------------------------------------------------------------------------------

def brute_force_cost(variables: list[Term], hard: list[Term], soft: list[Soft]) -> Fraction | None:
    best = None
    problem = Problem(hard, soft)
    for bits in itertools.product([False, True], repeat=len(variables)):
        assign = dict(zip(variables, bits))
        if problem.satisfied_by(assign):
            cost = problem.cost(assign)
            best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("engine", ["maxres", "wmax", "rc2"])
def test_optimize_matches_brute_force(engine: str) -> None:
    rng = random.Random(11)
    xs = [sl.Bool(f"x{i}") for i in range(6)]
    reused = open_session(maxsat_engine=engine)  # one session, instance constraints as assumptions
    for _ in range(8):
        hard = [sl.Or([x if rng.random() < 0.5 else ~x for x in rng.sample(xs, 3)]) for _ in range(rng.randint(4, 14))]
        soft = [
            Soft.make(sl.Or([x if rng.random() < 0.5 else ~x for x in rng.sample(xs, rng.randint(1, 2))]),
                      Fraction(rng.randint(1, 9), rng.randint(1, 4)))
            for _ in range(6)
        ]
        expected = brute_force_cost(xs, hard, soft)
        fresh = open_session(maxsat_engine=engine)
        fresh.add(*hard)
        for result in (fresh.optimize(soft), reused.optimize(soft, hard)):
            if expected is None:
                assert result.status is OptStatus.UNSAT
                continue
            assert result.status is OptStatus.OPTIMAL and result.model is not None
            assert result.cost == expected == result.lower_bound
            assert all(evaluate_many(hard, result.model, default=False))
        fresh.close()
    reused.close()


def test_optimize_with_arithmetic_and_tiny_weights(session: sl.SolverSession) -> None:
    n, v = sl.Int("n"), sl.BitVec("v", 3)
    session.add(n >= 0, n <= 5, sl.ULE(v, 6))
    soft = [
        Soft.make(n >= 4, Fraction(1, 10**9)), Soft.make(n <= 1, Fraction(3, 7)),
        Soft.make(sl.Eq(sl.ZeroExt(5, v), 6), 2), Soft.make(sl.UGT(v, 5), Fraction(1, 3)),
    ]
    result = session.optimize(soft)
    assert result.status is OptStatus.OPTIMAL and result.model is not None
    best = min(
        Problem(soft=soft).cost({n: a, v: b}) for a in range(6) for b in range(7)
    )
    assert result.cost == best == Fraction(1, 10**9)
    assert session.optimize(soft, [sl.Eq(v, 2), n > 5]).status is OptStatus.UNSAT
    assert session.optimize([]).cost == 0


# -- sessions -----------------------------------------------------------------------------------

def test_close_is_idempotent() -> None:
    s = open_session()
    s.add(sl.Bool("x"))
    s.close()
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.check()
    with open_session() as t:
        assert t.check().sat


# -- SMT-LIB reading ----------------------------------------------------------------------------

def round_trip_problem() -> Problem:
    b = [sl.Bool(f"b{i}") for i in range(3)]
    v, w = sl.BitVec("v", 3), sl.BitVec("w", 3)
    n, m = sl.Int("n"), sl.Int("m")
    r = sl.Real("r")
    odd = sl.Bool("odd name")
    problem = Problem([
        sl.Or(b[0], sl.Xor(b[1], b[2])), sl.Implies(b[0], sl.Distinct(v, w)), sl.AtMost(2, b), sl.AtLeast(1, b),
        sl.Exactly(1, [b[0], odd]), sl.PbLe([(3, b[0]), (-2, b[1])], 1), sl.PbEq([(1, b[1]), (2, b[2])], 2),
        sl.Ite(b[1], sl.ULT(v + w, 5), sl.SGE(v * w, sl.BitVecVal(-2, 3))),
        sl.Eq(sl.Concat(sl.Extract(1, 0, v), w), sl.ZeroExt(2, w) | sl.SignExt(2, ~v)),
        sl.ULE(sl.UDiv(v, w) ^ sl.URem(v, w), sl.SDiv(v, w) & sl.SRem(v, w)) | sl.Eq(sl.Shl(v, w), sl.LShr(w, v)),
        sl.Distinct(sl.AShr(v, 1), -w),
        n + 2 * m - 3 <= 7, -n < m, sl.Eq(n * m, 6) | (n > 2), r / 4 + sl.ToReal(n) >= Fraction(-1, 3),
        sl.Distinct(sl.Ite(r > 1, sl.RealVal("5/2"), r), 0),
        r * r <= 9,
    ])
    problem.add_soft(b[0], 2, "first")
    problem.add_soft(sl.Eq(v, 3), 5)
    return problem


def random_assignment(problem: Problem, rng: random.Random) -> dict[Term, object]:
    out: dict[Term, object] = {}
    for var in problem.variables:
        kind = var.sort.kind
        out[var] = (
            rng.random() < 0.5 if kind == "bool" else rng.randrange(1 << var.sort.width) if kind == "bv"
            else rng.randint(-4, 4) if kind == "int" else Fraction(rng.randint(-12, 12), rng.randint(1, 4))
        )
    return out


def test_round_trip_through_smtlib_keeps_the_meaning() -> None:
    original = round_trip_problem()
    parsed = parse(original.to_smtlib())
    assert {(v.name, v.sort) for v in parsed.variables} == {(v.name, v.sort) for v in original.variables}
    assert [(s.weight, s.name) for s in parsed.soft] == [(s.weight, s.name) for s in original.soft]
    rng = random.Random(5)
    for _ in range(400):
        assign = random_assignment(original, rng)
        assert evaluate_many(original.hard, assign) == evaluate_many(parsed.hard, assign)
        assert original.cost(assign) == parsed.cost(assign)
    # equisatisfiable, and models of one are models of the other
    for source, other in ((original, parsed), (parsed, original)):
        s = open_session()
        s.add(*source.hard)
        result = s.check()
        assert result.sat and result.model is not None
        assert other.satisfied_by(result.model)
        s.close()


def test_parse_smtlib_extended_bitvector_operations_match_z3() -> None:
    cases = {
        "(bvsmod x y)": 3, "(bvnand x y)": 3, "(bvnor x y)": 3, "(bvxnor x y)": 3, "(bvcomp x y)": 1,
        "((_ repeat 2) x)": 6, "(bvredor x)": 1, "(bvredand x)": 1, "((_ rotate_left 1) x)": 3,
        "((_ rotate_right 2) x)": 3, "((_ rotate_left 5) x)": 3,
    }
    decls = "(declare-const x (_ BitVec 3))(declare-const y (_ BitVec 3))"
    for text, width in cases.items():
        (constraint,) = parse(f"{decls}(declare-const r (_ BitVec {width}))(assert (= r {text}))").hard
        ctx = z3.Context()
        expr = z3.parse_smt2_string(f"{decls}(assert (= {text} {text}))", ctx=ctx)[0].arg(0)
        x, y = z3.BitVec("x", 3, ctx), z3.BitVec("y", 3, ctx)
        for xv, yv in itertools.product(range(8), repeat=2):
            fixed = z3.substitute(expr, (x, z3.BitVecVal(xv, 3, ctx)), (y, z3.BitVecVal(yv, 3, ctx)))
            expected = z3.simplify(fixed).as_long()
            assign = {sl.BitVec("x", 3): xv, sl.BitVec("y", 3): yv, sl.BitVec("r", width): expected}
            assert evaluate(constraint, assign, default=0) is True, (text, xv, yv, expected)


def test_parse_smtlib_reads_z3_extensions_and_folds_constants() -> None:
    problem = parse(
        "; comment with (assert-soft junk\n"
        "(declare-fun |a b| () Bool)(declare-const c Bool)(declare-const d Bool)(declare-const x Real)\n"
        "(define-fun both () Bool (and |a b| c))\n"
        "(assert ((_ at-most 1) |a b| c d))(assert ((_ pble 2 1 3) c d))(assert (= x (- (/ 1.0 3.0))))\n"
        "(assert (=> |a b| c d))(assert (xor |a b| c d))(assert (= c d |a b|))(assert (not both))\n"
        "(assert-soft c :weight 0.25 :id goal)(assert-soft (not d))\n"
        "(check-sat)\n"
    )
    a, c, d, x = sl.Bool("a b"), sl.Bool("c"), sl.Bool("d"), sl.Real("x")
    assert sl.Eq(x, sl.RealVal(Fraction(-1, 3))) in problem.hard
    assert [(s.term, s.weight, s.name) for s in problem.soft] == [(c, Fraction(1, 4), "goal"), (~d, 1, None)]
    for bits in itertools.product([False, True], repeat=3):
        assign = {a: bits[0], c: bits[1], d: bits[2], x: Fraction(-1, 3)}
        expected = (
            sum(bits) <= 1 and bits[1] + 3 * bits[2] <= 2 and (not bits[0] or (not bits[1] or bits[2]))
            and (bits[0] ^ bits[1] ^ bits[2]) and bits[1] == bits[2] == bits[0] and not (bits[0] and bits[1])
        )
        assert all(evaluate_many(problem.hard, assign)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(declare-const x Int)(assert (forall ((y Int)) (> y x)))", "quantifiers"),
        ("(declare-fun f (Int) Int)(assert (= (f 1) 2))", "uninterpreted function 'f' of arity 1"),
        ("(declare-const a (Array Int Int))(assert (= (select a 1) 2))", "Array"),
        ('(declare-const s String)(assert (= s "hi"))', "String"),
        ("(declare-const x Int)(assert (= (div x 2) 1))", "'div'"),
        ("(declare-const x Real)(declare-const y Real)(assert (= (/ x y) 1.0))", "division"),
        ("(declare-const x Int)\n(assert (< x 1)\n", "parse error"),
        ("(declare-const x Int)\n(assert (< x y))", "line 2"),
        ("(assert-soft)", "assert-soft"),
    ],
)
def test_parse_smtlib_rejects_unsupported_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_parse_errors_do_not_stick() -> None:
    with pytest.raises(ValueError):
        parse("(assert (< x 1))")
    assert parse("(declare-const x Int)(assert (< x 1))").hard == (sl.Int("x") < 1,)


# -- throughput ---------------------------------------------------------------------------------

def mnist_addition(session: sl.SolverSession) -> tuple[list[Term], list[Term]]:
    a, b, s = sl.BitVec("a", 4), sl.BitVec("b", 4), sl.BitVec("s", 5)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{i}") for i in range(5)]
    session.add(sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(s, sl.ZeroExt(1, a) + sl.ZeroExt(1, b)))
    for i in range(4):
        session.add(sl.Eq(z[i], sl.Eq(sl.Extract(i, i, a), 1)), sl.Eq(z[4 + i], sl.Eq(sl.Extract(i, i, b), 1)))
    session.add(*(sl.Eq(y[j], sl.Eq(sl.Extract(j, j, s), 1)) for j in range(5)))
    return z, y


def digits(z: list[Term], a: int, b: int) -> list[Term]:
    """The 8 literals saying that the digit bits are those of ``a`` and ``b``."""
    bits = [(a >> i) & 1 for i in range(4)] + [(b >> i) & 1 for i in range(4)]
    return [v if bit else ~v for v, bit in zip(z, bits)]


def test_mnist_addition_answers(session: sl.SolverSession) -> None:
    z, y = mnist_addition(session)
    for da, db in [(0, 0), (9, 9), (3, 8)]:
        result = session.check(digits(z, da, db), model_vars=z + y)
        assert result.model is not None
        assert sum(result.model[y[j]] << j for j in range(5)) == da + db
    assert session.check([z[3], z[1]], want_core=True).core == (z[3], z[1])


@pytest.mark.benchmark
def test_mnist_addition_throughput(session: sl.SolverSession) -> None:
    z, y = mnist_addition(session)
    rng = random.Random(0)
    queries = []
    for _ in range(5000):
        da, db = rng.randrange(10), rng.randrange(10)
        queries.append(digits(z, da, db))
    model_vars = z + y
    session.check(queries[0], model_vars=model_vars)
    cpu, wall = time.process_time(), time.perf_counter()
    for q in queries:
        session.check(q, model_vars=model_vars)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"\nz3 MNIST-addition checks with 13-variable models: {len(queries) / cpu:,.0f}/s CPU time, "
          f"{len(queries) / wall:,.0f}/s wall clock")
    assert len(queries) / cpu > 5000
