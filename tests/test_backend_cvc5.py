"""The cvc5 backend: translation of every term operation, models, cores, timeouts, nonlinear
models, the light plugin import, and (on demand) a throughput benchmark."""

from __future__ import annotations

import itertools
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest

pytest.importorskip("cvc5")

import solverlayers as sl  # noqa: E402
from solverlayers.capabilities import CoreKind, Theory  # noqa: E402
from solverlayers.descriptors import OptionError  # noqa: E402
from solverlayers.evaluate import evaluate  # noqa: E402
from solverlayers.plugins import cvc5 as plugin  # noqa: E402
from solverlayers.plugins.cvc5 import session as session_module  # noqa: E402
from solverlayers.plugins.cvc5.session import Cvc5Session  # noqa: E402
from solverlayers.results import Status  # noqa: E402
from solverlayers.terms import Term  # noqa: E402


def open_session(**options: object) -> Cvc5Session:
    (spec,) = plugin.solverlayers_backends()
    return spec.open(spec.resolve_options(options))


@pytest.fixture
def s() -> Iterator[Cvc5Session]:
    session = open_session()
    yield session
    session.close()


def assert_model_satisfies(model: sl.Model, *formulas: Term) -> None:
    for f in formulas:
        assert evaluate(f, model) is True, f


# -- descriptor and plugin --------------------------------------------------------------------

def test_plugin_import_does_not_import_cvc5() -> None:
    code = (
        "import sys, solverlayers.plugins.cvc5 as p\n"
        "(spec,) = p.solverlayers_backends()\n"
        "assert spec.name == 'cvc5' and spec.version not in ('-', 'not installed')\n"
        "assert 'cvc5' not in sys.modules, 'cvc5 imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_descriptor() -> None:
    (spec,) = plugin.solverlayers_backends()
    caps = spec.capabilities
    assert caps.theories == frozenset(Theory)
    assert caps.cores is CoreKind.ANY and not caps.native_maxsmt
    assert caps.incremental and caps.timeouts and caps.smt
    assert spec.resolve_options({"random_seed": "7", "simplify": "false"}) == {"random_seed": 7, "simplify": False}
    with pytest.raises(OptionError):
        spec.resolve_options({"minimal_cores": True})
    assert isinstance(spec.open(spec.resolve_options({"random_seed": 3, "simplify": False})), Cvc5Session)


# -- translation of every operation, checked against solverlayers.evaluate --------------------

BOOL_FORMULAS: list[Callable[[Term, Term, Term], Term]] = [
    lambda x, y, z: ~x,
    lambda x, y, z: sl.And(x, y, z),
    lambda x, y, z: sl.Or(x, ~y, z),
    lambda x, y, z: sl.Xor(x, y),
    lambda x, y, z: sl.Implies(x, y),
    lambda x, y, z: sl.Ite(x, y, z),
    lambda x, y, z: sl.Iff(x, sl.Xor(y, z)),
    lambda x, y, z: sl.Distinct(x, y),
    lambda x, y, z: sl.Distinct(x, y, z),  # three Booleans are never pairwise distinct
    lambda x, y, z: sl.And(sl.Or(x, y), sl.Implies(z, sl.Eq(x, sl.TRUE))),
    lambda x, y, z: Term("and", (x,), sl.BOOL),  # one-argument nodes, as a caller may build them
    lambda x, y, z: Term("or", (), sl.BOOL),
]


@pytest.mark.parametrize("make", BOOL_FORMULAS)
def test_boolean_operations_exhaustively(s: Cvc5Session, make: Callable[[Term, Term, Term], Term]) -> None:
    xs = [sl.Bool("x"), sl.Bool("y"), sl.Bool("z")]
    f = make(*xs)
    for bits in itertools.product((False, True), repeat=3):
        lits = [v if b else ~v for v, b in zip(xs, bits)]
        expected = evaluate(f, dict(zip(xs, bits)))
        assert s.check([*lits, f]).sat is expected
        assert s.check([*lits, ~f]).sat is not expected


def card_and_pb_formulas(lits: list[Term]) -> Iterator[Term]:
    n = len(lits)
    for k in range(-1, n + 2):
        yield sl.AtMost(k, lits)
        yield sl.AtLeast(k, lits)
        yield sl.Exactly(k, lits)
    rng = random.Random(5)
    for _ in range(12):
        coeffs = [rng.choice([-3, -1, 0, 1, 2, 5]) for _ in lits]
        k = rng.randint(-4, 8)
        pairs = list(zip(coeffs, lits))
        yield sl.PbLe(pairs, k)
        yield sl.PbGe(pairs, k)
        yield sl.PbEq(pairs, k)
    yield sl.PbLe([(2, lits[0]), (2, lits[1]), (2, lits[2])], 3)  # equal coefficients: a counter
    yield sl.AtLeast(2, [lits[0], lits[0], ~lits[1]])  # repeated and negated literals


@pytest.mark.parametrize("budget", [session_module._DIAGRAM_BUDGET, 0], ids=["diagram", "int-sum"])
def test_cardinality_and_pseudo_boolean_exhaustively(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    monkeypatch.setattr(session_module, "_DIAGRAM_BUDGET", budget)
    session = open_session()
    xs = [sl.Bool(f"c{i}") for i in range(4)]
    formulas = list(card_and_pb_formulas(xs))
    for bits in itertools.product((False, True), repeat=len(xs)):
        lits = [v if b else ~v for v, b in zip(xs, bits)]
        for f in formulas:
            assert session.check([*lits, f]).sat is evaluate(f, dict(zip(xs, bits))), f
    session.close()


def test_large_pseudo_boolean_falls_back_to_int_sums(s: Cvc5Session) -> None:
    rng = random.Random(1)
    xs = [sl.Bool(f"w{i}") for i in range(40)]
    pairs = [(rng.randint(1, 10**6), x) for x in xs]
    total = sum(c for c, _ in pairs)
    f = sl.And(sl.PbGe(pairs, total // 3), sl.PbLe(pairs, total // 3 + 1000))
    s.add(f)
    result = s.check()
    assert result.sat
    assert_model_satisfies(result.model, f)


BV_EDGES = [0, 1, 3, 7, 8, 9, 15]
BV_BINARY: list[Callable[[Term, Term], Term]] = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
    lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b,
    sl.Shl, sl.LShr, sl.AShr, sl.UDiv, sl.URem, sl.SDiv, sl.SRem,
    sl.ULT, sl.ULE, sl.UGT, sl.UGE, sl.SLT, sl.SLE, sl.SGT, sl.SGE, sl.Eq, sl.Distinct,
    lambda a, b: sl.Concat(a, b, sl.Extract(2, 1, a)),
    lambda a, b: sl.Ite(sl.ULT(a, b), -a, ~b),
    lambda a, b: sl.Extract(3, 1, a) + sl.Extract(2, 0, b),
    lambda a, b: sl.ZeroExt(3, a) + sl.SignExt(3, b),
]


def test_bit_vector_operations(s: Cvc5Session) -> None:
    a, b = sl.BitVec("a", 4), sl.BitVec("b", 4)
    results = []
    for i, op in enumerate(BV_BINARY):
        term = op(a, b)
        r = sl.Bool(f"r{i}") if term.sort.is_bool else sl.BitVec(f"r{i}", term.sort.width)
        s.add(sl.Eq(r, term))
        results.append((r, term))
    for va, vb in itertools.product(BV_EDGES, repeat=2):
        result = s.check([sl.Eq(a, va), sl.Eq(b, vb)])
        assert result.sat
        model = result.model
        assert (model[a], model[b]) == (va, vb)
        for r, term in results:
            assert model[r] == evaluate(term, {a: va, b: vb}), term
            assert type(model[r]) is (bool if term.sort.is_bool else int)


def test_wide_bit_vectors_and_big_integers(s: Cvc5Session) -> None:
    v, n = sl.BitVec("v", 100), sl.Int("n")
    big = 2**99 + 12345
    f = sl.And(sl.Eq(v, sl.BitVecVal(big, 100) + 1), sl.Eq(n, -(2**80) + 3))
    s.add(f)
    model = s.check().model
    assert model[v] == big + 1 and model[n] == -(2**80) + 3


ARITH_VALUES = [-3, 0, 2, 7]


def test_integer_and_real_arithmetic(s: Cvc5Session) -> None:
    x, y = sl.Int("x"), sl.Int("y")
    p, q = sl.Real("p"), sl.Real("q")
    terms = [
        x + y, x - y, x * y, -x, sl.Sum(x, y, 5), x * 3 - 2 * y,
        x < y, x <= y, x > y, x >= y, sl.Eq(x, y), sl.Distinct(x, y, 2), sl.Ite(x < y, x, y),
        p + q, p - q, p * q, -p, p / 3, (p + x) / Fraction(-2, 7), sl.ToReal(x) * Fraction(1, 3),
        p < x, p <= q, p > q, p >= y, sl.Eq(p, sl.ToReal(y)), sl.Ite(p > q, p, q),
        Term("add", (x,), sl.INT),
    ]
    results = []
    for i, term in enumerate(terms):
        r = sl.Bool(f"t{i}") if term.sort.is_bool else Term("var", (), term.sort, f"t{i}")
        s.add(sl.Eq(r, term))
        results.append((r, term))
    for vx, vy in itertools.product(ARITH_VALUES, repeat=2):
        vp, vq = Fraction(vx, 3), Fraction(vy + 1, 2)
        env = {x: vx, y: vy, p: vp, q: vq}
        result = s.check([sl.Eq(x, vx), sl.Eq(y, vy), sl.Eq(p, vp), sl.Eq(q, vq)])
        assert result.sat
        for r, term in results:
            assert result.model[r] == evaluate(term, env), term
        assert type(result.model[p]) is Fraction and type(result.model[x]) is int


def test_random_mixed_formulas_models_satisfy(s: Cvc5Session) -> None:
    rng = random.Random(3)
    bools = [sl.Bool(f"m{i}") for i in range(6)]
    a, b = sl.BitVec("ma", 6), sl.BitVec("mb", 6)
    x = sl.Int("mx")
    atoms = [*bools, sl.ULT(a, b), sl.SLE(a + b, 9), sl.Eq(sl.Extract(2, 0, a), 5), x > 3, x * 2 - 7 < 40]
    added: list[Term] = []
    for _ in range(15):
        clause = sl.Or(*(rng.choice([t, ~t]) for t in rng.sample(atoms, 3)))
        s.add(clause)
        added.append(clause)
        result = s.check()
        if not result.sat:
            break
        assert_model_satisfies(result.model, *added)


# -- cores ------------------------------------------------------------------------------------

def random_3sat(rng: random.Random, xs: list[Term], clauses: int) -> list[Term]:
    return [sl.Or(*(rng.choice([v, ~v]) for v in rng.sample(xs, 3))) for _ in range(clauses)]


def test_cores_are_unsatisfiable_subsets() -> None:
    session = open_session()
    rng = random.Random(11)
    xs = [sl.Bool(f"v{i}") for i in range(12)]
    clauses = random_3sat(rng, xs, 30)
    session.add(*clauses)
    seen = {Status.SAT: 0, Status.UNSAT: 0}
    for _ in range(40):
        assumptions = [rng.choice([v, ~v]) for v in rng.sample(xs, 6)]
        result = session.check(assumptions, want_core=True)
        seen[result.status] += 1
        if result.sat:
            assert_model_satisfies(result.model, *clauses, *assumptions)
            continue
        core = result.core
        assert core is not None
        assert all(any(c is a for a in assumptions) for c in core)
        assert session.check(core).unsat
    assert seen[Status.SAT] and seen[Status.UNSAT]
    session.close()


def test_non_literal_assumptions_map_back_to_the_callers_terms(s: Cvc5Session) -> None:
    x, y, z = sl.Bool("x"), sl.Bool("y"), sl.Bool("z")
    a = sl.BitVec("a", 8)
    s.add(sl.Implies(x, sl.UGT(a, 10)), sl.Or(y, z))
    small, five, both = sl.ULT(a, 3), sl.Eq(a, 5), sl.And(~y, ~z)
    assumptions = [x, sl.Or(x, y), small, ~z]
    result = s.check(assumptions, want_core=True)
    assert result.unsat and result.core is not None
    assert [c for c in result.core] == [assumptions[0], assumptions[2]]
    assert result.core[0] is assumptions[0] and result.core[1] is assumptions[2]
    assert s.check(iter(assumptions), want_core=True).core == result.core  # any iterable works
    r = s.check([five])  # a cached guard literal is reusable on its own
    assert r.sat and r.model[a] == 5
    r = s.check([five, small, both], want_core=True)
    assert r.unsat and set(r.core) <= {five, small, both}
    assert all(any(c is t for t in (five, small, both)) for c in r.core)
    assert s.check([five, small]).unsat and s.check([both]).unsat
    r = s.check([sl.FALSE, x], want_core=True)
    assert r.unsat and r.core == (sl.FALSE,)
    s.add(~x, x)
    assert s.check(want_core=True).core == ()


# -- models -----------------------------------------------------------------------------------

def test_model_vars_and_default_model(s: Cvc5Session) -> None:
    x, y = sl.Bool("x"), sl.Bool("y")
    n, late = sl.Int("n"), sl.Real("late")
    s.add(sl.Or(x, y), n > 4)
    r = s.check([~x])
    assert set(r.model) == {x, y, n} and r.model[y] is True and r.model["n"] > 4
    r = s.check([sl.Eq(sl.Bool("only_in_assumption"), y)])
    assert "only_in_assumption" in r.model
    r = s.check(model_vars=[n, late])
    assert set(r.model) == {n, late} and type(r.model[late]) is Fraction
    with pytest.raises(TypeError):
        s.check(model_vars=[n + 1])
    with pytest.raises(TypeError):
        s.add(sl.Eq(sl.Int("x"), 1))  # x is already a Bool
    with pytest.raises(TypeError):
        s.add(True)  # type: ignore[arg-type]


def test_nonlinear_real_models_approximate_algebraic_numbers(s: Cvc5Session) -> None:
    x, w = sl.Real("x"), sl.Real("w")
    s.add(sl.Eq(x * x, 2), x > 0, sl.Eq(w * w * w, 17))
    r = s.check()
    assert r.sat
    assert type(r.model[x]) is Fraction
    assert abs(r.model[x] - Fraction(math.sqrt(2))) < Fraction(1, 10**15)
    assert abs(r.model[x] ** 2 - 2) < Fraction(1, 10**15)
    assert abs(float(r.model[w]) - 17 ** (1 / 3)) < 1e-12
    assert s.check([x < 0]).unsat
    assert s.check([x < 0], timeout=5).unsat


def test_nonlinear_integers(s: Cvc5Session) -> None:
    i, j, k = sl.Int("i"), sl.Int("j"), sl.Int("k")
    f = sl.And(sl.Eq(i * j, 391), i > 1, j > 1)
    r = s.check([f])
    assert r.sat
    assert_model_satisfies(r.model, f)
    # No positive cubes with i^3 + j^3 = k^3: cvc5 cannot prove it, but must stop on time.
    s.add(i > 0, j > 0, k > 0, sl.Eq(i * i * i + j * j * j, k * k * k))
    start = time.perf_counter()
    assert s.check(timeout=0.5).status is Status.UNKNOWN
    assert time.perf_counter() - start < 5


def test_nonlinear_reals_beside_integers_stop_on_time(s: Cvc5Session) -> None:
    x, y, z = sl.Real("x"), sl.Real("y"), sl.Real("z")
    s.add(sl.Eq(x * x, 2))
    assert s.check(timeout=5).sat  # coverings: complete for nonlinear reals
    r = s.check(model_vars=[x, sl.Int("fresh")], timeout=0.5)  # an Int turns coverings off
    assert r.status is Status.UNKNOWN or (r.sat and "fresh" in r.model)
    i, j, k = sl.Int("i"), sl.Int("j"), sl.Int("k")
    s.add(i > 0, j > 0, k > 0, sl.Eq(x, i), sl.Eq(y, j), sl.Eq(z, k), sl.Eq(y * y * y + z * z * z, x * x * x))
    start = time.perf_counter()
    assert s.check(timeout=0.5).status is not Status.SAT  # x = sqrt(2) is not an integer
    assert time.perf_counter() - start < 5


# -- timeouts and lifetime --------------------------------------------------------------------

def pigeonhole(holes: int) -> list[Term]:
    p = [[sl.Bool(f"p{i}_{j}") for j in range(holes)] for i in range(holes + 1)]
    clauses = [sl.Or(row) for row in p]
    for j in range(holes):
        for i, k in itertools.combinations(range(holes + 1), 2):
            clauses.append(sl.Or(~p[i][j], ~p[k][j]))
    return clauses


def test_timeout_is_unknown(s: Cvc5Session) -> None:
    guard = sl.Bool("guard")
    s.add(*(sl.Implies(guard, c) for c in pigeonhole(11)))  # about 1.6 s for cvc5 to refute
    start = time.perf_counter()
    result = s.check([guard], timeout=0.05)
    assert result.status is Status.UNKNOWN and result.reason == "timeout"
    assert time.perf_counter() - start < 1.0
    assert s.check([~guard], timeout=0.05).sat
    assert s.check([~guard]).sat
    assert s._solver is not None and s._solver.getOption("tlimit-per") == "0"  # the limit is lifted


def test_close_is_idempotent() -> None:
    session = open_session()
    session.add(sl.Bool("x"))
    session.close()
    session.close()
    with pytest.raises(RuntimeError):
        session.check()
    with pytest.raises(RuntimeError):
        session.add(sl.Bool("y"))
    with open_session() as inner:
        assert inner.check().sat


# -- throughput (run on demand: pytest -m benchmark -s) ---------------------------------------

def mnist_addition(session: Cvc5Session) -> tuple[list[Term], list[Term]]:
    """Two 4-bit digits a, b <= 9, a 5-bit sum, Booleans z0..z7 for the digit bits, y0..y4 for the sum."""
    a, b = sl.BitVec("a", 4), sl.BitVec("b", 4)
    total = sl.ZeroExt(1, a) + sl.ZeroExt(1, b)
    one = sl.BitVecVal(1, 1)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{i}") for i in range(5)]
    session.add(sl.ULE(a, 9), sl.ULE(b, 9))
    for i in range(4):
        session.add(sl.Eq(z[i], sl.Eq(sl.Extract(i, i, a), one)))
        session.add(sl.Eq(z[4 + i], sl.Eq(sl.Extract(i, i, b), one)))
    for i in range(5):
        session.add(sl.Eq(y[i], sl.Eq(sl.Extract(i, i, total), one)))
    return z, y


@pytest.mark.benchmark
@pytest.mark.parametrize("simplify", [True, False])
def test_benchmark_mnist_addition_checks_per_second(simplify: bool) -> None:
    session = open_session(simplify=simplify)
    z, y = mnist_addition(session)
    rng = random.Random(0)
    digits = [(rng.randrange(10), rng.randrange(10)) for _ in range(200)]
    queries = [
        [z[i] if (da >> i) & 1 else ~z[i] for i in range(4)]
        + [z[4 + i] if (db >> i) & 1 else ~z[4 + i] for i in range(4)]
        for da, db in digits
    ]
    model_vars = z + y
    for q in queries[:5]:
        r = session.check(q, model_vars=model_vars)
        da = sum(r.model[z[i]] << i for i in range(4))
        db = sum(r.model[z[4 + i]] << i for i in range(4))
        assert sum(r.model[y[i]] << i for i in range(5)) == da + db
    start, checks = time.process_time(), 0
    while time.process_time() - start < 3.0:
        for q in queries:
            session.check(q, model_vars=model_vars)
        checks += len(queries)
    rate = checks / (time.process_time() - start)
    print(f"\ncvc5 MNIST-addition (simplify={simplify}): {rate:.0f} checks/s (CPU time)")
    assert rate > 100
    session.close()
