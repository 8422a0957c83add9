"""The pysat backend: models, cores, timeouts, RC2 MaxSAT, errors and its light plugin module."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from fractions import Fraction

import pytest

pysat_solvers = pytest.importorskip("pysat.solvers")

import solverlayers as sl  # noqa: E402
from solverlayers.evaluate import evaluate  # noqa: E402
from solverlayers.plugins import pysat as plugin  # noqa: E402
from solverlayers.plugins.pysat.session import PysatSession  # noqa: E402
from solverlayers.terms import Term  # noqa: E402

XS = [sl.Bool(f"x{i}") for i in range(5)]
V = sl.BitVec("v", 3)


def random_formula(rng: random.Random, depth: int = 3) -> Term:
    """A random Boolean formula over XS and the 3-bit vector V."""
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.25:
            pred = rng.choice([sl.ULT, sl.ULE, sl.SLT, sl.Eq])
            return pred(V, sl.BitVecVal(rng.randrange(8), 3))
        x = rng.choice(XS)
        return x if rng.random() < 0.5 else ~x
    op = rng.choice(["and", "or", "xor", "implies", "ite", "atmost"])
    sub = [random_formula(rng, depth - 1) for _ in range(3)]
    if op == "and":
        return sl.And(sub)
    if op == "or":
        return sl.Or(sub)
    if op == "xor":
        return sl.Xor(sub[0], sub[1])
    if op == "implies":
        return sl.Implies(sub[0], sub[1])
    if op == "ite":
        return sl.Ite(*sub)
    return sl.AtMost(rng.randrange(3), sub)


def all_models() -> list[dict[Term, int | bool]]:
    return [
        {**dict(zip(XS, bits)), V: v}
        for bits in itertools.product((False, True), repeat=len(XS)) for v in range(8)
    ]


MODELS = all_models()


def brute_satisfiable(formulas: list[Term]) -> bool:
    return any(all(evaluate(f, m) for f in formulas) for m in MODELS)


@pytest.mark.parametrize("engine", ["cadical195", "glucose4"])
def test_models_satisfy_formulas(engine: str) -> None:
    rng = random.Random(1)
    for _ in range(40):
        hard = [random_formula(rng) for _ in range(3)]
        assumptions = [rng.choice(XS) if rng.random() < 0.5 else ~rng.choice(XS) for _ in range(2)]
        with PysatSession(engine=engine) as session:
            session.add(*hard)
            result = session.check(assumptions)
            assert result.status is (sl.Status.SAT if brute_satisfiable(hard + assumptions) else sl.Status.UNSAT)
            if result.sat:
                assert result.model is not None
                assert all(result.model.evaluate(f, default=False) for f in hard + assumptions)


def test_incremental_checks_and_model_vars() -> None:
    x, y, z = XS[:3]
    session = PysatSession()
    session.add(x | y)
    assert session.check([~x]).model[y] is True  # type: ignore[index]
    session.add(~y)
    result = session.check(model_vars=[x, V])
    assert result.sat and dict(result.model.items()) == {x: True, V: 0}  # type: ignore[union-attr]
    assert session.check([~x]).unsat
    session.add(sl.Eq(V + 3, 1))
    result = session.check()
    assert result.model is not None and result.model[V] == 6 and set(result.model) == {x, y, V}
    assert session.check([z, ~z]).unsat


def test_cores_are_unsatisfiable_subsets_of_the_assumptions() -> None:
    rng = random.Random(7)
    seen_unsat = 0
    for _ in range(80):
        hard = [random_formula(rng, 2) for _ in range(2)]
        assumptions = [sl.Not(x) if rng.random() < 0.5 else x for x in rng.sample(XS, 4)]
        assumptions.append(sl.ULE(V, rng.randrange(8)))
        session = PysatSession()
        session.add(*hard)
        result = session.check(assumptions, want_core=True)
        if result.sat:
            continue
        seen_unsat += 1
        assert result.core is not None
        assert all(any(c is a for a in assumptions) for c in result.core)  # the caller's objects
        assert not brute_satisfiable(hard + list(result.core))
        assert session.check(result.core).unsat
    assert seen_unsat >= 10


def test_core_without_assumptions_is_empty() -> None:
    session = PysatSession()
    session.add(XS[0], ~XS[0])
    assert session.check([XS[1]], want_core=True).core == ()


def pigeonhole(pigeons: int, holes: int) -> list[Term]:
    p = [[sl.Bool(f"p{i}_{j}") for j in range(holes)] for i in range(pigeons)]
    clauses = [sl.Or(row) for row in p]
    for j in range(holes):
        clauses += [~p[i][j] | ~p[k][j] for i in range(pigeons) for k in range(i)]
    return clauses


@pytest.mark.parametrize("engine", ["cadical195", "glucose4", "lingeling"])
def test_timeout_gives_unknown(engine: str) -> None:
    session = PysatSession(engine=engine)
    session.add(*pigeonhole(10, 9))
    start = time.perf_counter()
    result = session.check(timeout=0.05)
    assert result.status is sl.Status.UNKNOWN and result.reason == "timeout"
    assert time.perf_counter() - start < 2
    p = sl.Bool("p0_0")
    assert session.check([p, ~p], timeout=5.0).unsat  # the interrupt was cleared
    assert session.check([p, ~p], want_core=True, timeout=5.0).core == (p, ~p)


def test_concurrent_timed_checks_stop_at_their_own_deadlines() -> None:
    """One watchdog thread serves every session: hard checks in two threads time out at their
    own deadlines, and an easy timed check meanwhile runs to its answer."""
    import threading

    results: dict[str, tuple[sl.Status, float]] = {}

    def hard(name: str, timeout: float) -> None:
        session = PysatSession(engine="glucose4")
        session.add(*pigeonhole(11, 10))
        start = time.perf_counter()
        results[name] = (session.check(timeout=timeout).status, time.perf_counter() - start)

    threads = [threading.Thread(target=hard, args=a) for a in (("short", 0.1), ("long", 0.8))]
    for t in threads:
        t.start()
    easy = PysatSession()
    easy.add(XS[0] | XS[1])
    assert all(easy.check([~XS[0]], timeout=5.0).sat for _ in range(50))
    for t in threads:
        t.join()
    assert results["short"][0] is results["long"][0] is sl.Status.UNKNOWN
    assert results["short"][1] < 0.6 and 0.8 <= results["long"][1] < 3


def test_optimize_timeout_never_raises() -> None:
    session = PysatSession()
    session.add(*pigeonhole(10, 9))
    result = session.optimize([sl.Soft.make(sl.Bool("p0_0"), 1)], timeout=0.05)
    assert result.status is sl.OptStatus.UNKNOWN and result.reason == "timeout"
    assert result.lower_bound is not None


WEIGHTS = [1, 2, 3, Fraction(1, 3), Fraction(5, 7), 0.25, 1.5, "2/9"]


@pytest.mark.parametrize("stratified", [False, True])
def test_rc2_matches_brute_force(stratified: bool) -> None:
    rng = random.Random(3)
    for _ in range(40):
        hard = [random_formula(rng, 2) for _ in range(rng.randrange(3))]
        softs = [sl.Soft.make(random_formula(rng, 2), rng.choice(WEIGHTS)) for _ in range(rng.randrange(1, 6))]
        assumptions = [rng.choice(XS)] if rng.random() < 0.3 else []
        feasible = [m for m in MODELS if all(evaluate(f, m) for f in hard + assumptions)]
        session = PysatSession(stratified=stratified)
        session.add(*hard)
        result = session.optimize(softs, assumptions)
        if not feasible:
            assert result.status is sl.OptStatus.UNSAT
            continue
        best = min(sum((s.weight for s in softs if not evaluate(s.term, m)), Fraction(0)) for m in feasible)
        assert result.status is sl.OptStatus.OPTIMAL and result.cost == best
        assert result.model is not None
        assert all(result.model.evaluate(f, default=False) for f in hard + assumptions)


def test_optimize_constant_softs_and_session_reuse() -> None:
    x = XS[0]
    session = PysatSession()
    session.add(x)
    result = session.optimize([sl.Soft.make(~x, 2), sl.Soft.make(sl.FALSE, "1/2"), sl.Soft.make(sl.TRUE, 9)])
    assert result.optimal and result.cost == Fraction(5, 2)
    assert session.check([~x]).unsat  # optimize leaves the session's constraints as they were


def test_bad_soft_weights_are_rejected_before_pysat() -> None:
    session = PysatSession()
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            session.optimize([sl.Soft(XS[0], bad)])  # type: ignore[arg-type]


def test_arithmetic_raises_clear_error() -> None:
    session = PysatSession()
    i = sl.Int("i")
    with pytest.raises(sl.CapabilityError, match=r"lia.*z3"):
        session.add(i > 3)
    with pytest.raises(sl.CapabilityError, match="lia"):
        session.check([sl.Eq(i, 1)])
    with pytest.raises(sl.CapabilityError, match="lra"):
        session.optimize([sl.Soft.make(sl.Real("r") <= 1)])
    assert session.check().sat


def test_closed_session() -> None:
    session = PysatSession()
    session.close()
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.check()


def test_descriptor_and_engines() -> None:
    (spec,) = plugin.solverlayers_backends()
    assert spec.name == "pysat" and spec.capabilities.native_maxsmt
    assert spec.capabilities.theories == frozenset({sl.Theory.BOOL, sl.Theory.BV})
    bundled = {n for n in vars(pysat_solvers.SolverNames) if not n.startswith("_")}
    engine_choices = next(o.choices for o in spec.options if o.name == "engine")
    assert engine_choices is not None and set(engine_choices) <= bundled
    x, y = XS[:2]
    for engine in engine_choices:
        session = spec.open(spec.resolve_options({"engine": engine}))
        session.add(x | y)
        assert session.check([~x]).model[y] is True, engine
        assert session.check([~x, ~y], want_core=True).core == (~x, ~y), engine
        session.close()
    for name in plugin.INTERRUPTIBLE_ENGINES:  # they really can be interrupted
        with pysat_solvers.Solver(name=name, bootstrap_with=[[1, 2]]) as solver:
            solver.interrupt()
            solver.clear_interrupt()
            assert solver.solve_limited(expect_interrupt=True)


def test_plugin_import_does_not_import_pysat() -> None:
    code = (
        "import sys, solverlayers.plugins.pysat as p; p.solverlayers_backends(); "
        "bad = [m for m in sys.modules if m == 'pysat' or m.startswith('pysat.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mnist_addition_throughput() -> None:
    """Small incremental queries under 8 literal assumptions (see README's figure)."""
    session, z, y = mnist_addition()
    queries = [[zi if (d >> (i % 4)) & 1 else ~zi for i, zi in enumerate(z)] for d in (3, 9, 0, 6)]
    for q in queries:
        result = session.check(q, model_vars=z + y)
        assert result.sat and result.model is not None
        a = sum(1 << i for i in range(4) if result.model[z[i]])
        s = sum(1 << i for i in range(5) if result.model[y[i]])
        assert s == 2 * a
    start = time.perf_counter()
    for _ in range(250):
        for q in queries:
            session.check(q, model_vars=z + y)
    rate = 1000 / (time.perf_counter() - start)
    assert rate > 1000  # a loose floor for loaded CI machines; ~20k/s measured


@pytest.mark.benchmark
def test_mnist_addition_checks_per_second() -> None:
    """The target: at least 10,000 checks/s under 8 literal assumptions (``-m benchmark``)."""
    session, z, y = mnist_addition()
    rng = random.Random(0)
    queries = []
    for _ in range(1000):
        a, b = rng.randrange(10), rng.randrange(10)
        queries.append([zi if ((a, b)[i // 4] >> (i % 4)) & 1 else ~zi for i, zi in enumerate(z)])
    model_vars = z + y
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        for q in queries:
            session.check(q, model_vars=model_vars)
        done += len(queries)
    rate = done / (time.perf_counter() - start)
    print(f"pysat MNIST-addition: {rate:,.0f} checks/s")
    assert rate >= 10_000


def mnist_addition() -> tuple[PysatSession, list[Term], list[Term]]:
    a, b, s = sl.BitVec("a", 4), sl.BitVec("b", 4), sl.BitVec("s", 5)
    z = [sl.Bool(f"z{i}") for i in range(8)]
    y = [sl.Bool(f"y{i}") for i in range(5)]
    one = sl.BitVecVal(1, 1)
    session = PysatSession()
    session.add(sl.ULE(a, 9), sl.ULE(b, 9), sl.Eq(s, sl.ZeroExt(1, a) + sl.ZeroExt(1, b)))
    for i in range(4):
        session.add(sl.Eq(z[i], sl.Eq(sl.Extract(i, i, a), one)), sl.Eq(z[4 + i], sl.Eq(sl.Extract(i, i, b), one)))
    for i in range(5):
        session.add(sl.Eq(y[i], sl.Eq(sl.Extract(i, i, s), one)))
    return session, z, y
