"""Property tests of the CNF encodings (Tseitin, cardinality, pseudo-Boolean, bit-blasting),
solved by a PySAT solver and compared with :func:`solverlayers.evaluate.evaluate`."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pysat_solvers = pytest.importorskip("pysat.solvers")

import solverlayers as sl  # noqa: E402
from solverlayers.encodings import (  # noqa: E402
    FALSE, TRUE, CnfBuilder, at_least_k, at_most_k, at_most_one, exactly_k, exactly_one,
)
from solverlayers.encodings.cardinality import ENCODINGS, unary_counter  # noqa: E402
from solverlayers.evaluate import evaluate  # noqa: E402
from solverlayers.terms import Term  # noqa: E402

Solver = pysat_solvers.Solver
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def solver_for(builder: CnfBuilder) -> pysat_solvers.Solver:
    return Solver(name="minisat22", bootstrap_with=builder.new_clauses())


def fix(builder: CnfBuilder, values: dict[Term, int | bool]) -> list[int]:
    """Assumption literals giving every variable in ``values`` its value."""
    lits: list[int] = []
    for var, value in values.items():
        if var.sort.is_bool:
            lit = builder.literal(var)
            lits.append(lit if value else -lit)
        else:
            lits += [b if value >> i & 1 else -b for i, b in enumerate(builder.bits(var))]
    return lits


# -- bit-vectors ------------------------------------------------------------------------------

BINARY: list[Callable[[Term, Term], Term]] = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, sl.UDiv, sl.URem, sl.SDiv, sl.SRem,
    sl.Shl, sl.LShr, sl.AShr, lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b,
]
PREDICATES: list[Callable[[Term, Term], Term]] = [
    sl.ULT, sl.ULE, sl.UGT, sl.UGE, sl.SLT, sl.SLE, sl.SGT, sl.SGE, sl.Eq,
    lambda a, b: sl.Distinct(a, b), lambda a, b: sl.Distinct(a, b, a + 1),
]


@st.composite
def bv_terms(draw: st.DrawFn, width: int, depth: int) -> Term:
    """A random bit-vector term of ``width`` bits over every operation of solverlayers.terms."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        if draw(st.booleans()):
            return sl.BitVec(f"{draw(st.sampled_from('abc'))}{width}", width)
        return sl.BitVecVal(draw(st.integers(0, (1 << width) - 1)), width)
    kinds = ["binary", "unary", "ite", "extract"] + (["concat", "extend"] if width > 1 else [])
    kind = draw(st.sampled_from(kinds))
    sub = lambda w: bv_terms(w, depth - 1)  # noqa: E731
    if kind == "binary":
        return draw(st.sampled_from(BINARY))(draw(sub(width)), draw(sub(width)))
    if kind == "unary":
        a = draw(sub(width))
        return -a if draw(st.booleans()) else ~a
    if kind == "ite":
        return sl.Ite(draw(bool_preds(depth - 1)), draw(sub(width)), draw(sub(width)))
    if kind == "extract":
        wider = draw(st.integers(width, 6))
        lo = draw(st.integers(0, wider - width))
        return sl.Extract(lo + width - 1, lo, draw(sub(wider)))
    if kind == "concat":
        left = draw(st.integers(1, width - 1))
        return sl.Concat(draw(sub(left)), draw(sub(width - left)))
    extra = draw(st.integers(1, width - 1))
    ext = sl.ZeroExt if draw(st.booleans()) else sl.SignExt
    return ext(extra, draw(sub(width - extra)))


@st.composite
def bool_preds(draw: st.DrawFn, depth: int) -> Term:
    width = draw(st.integers(1, 5))
    a, b = draw(bv_terms(width, depth)), draw(bv_terms(width, depth))
    return draw(st.sampled_from(PREDICATES))(a, b)


def random_values(data: st.DataObject, term: Term) -> dict[Term, int | bool]:
    out: dict[Term, int | bool] = {}
    for v in sl.variables(term):
        out[v] = data.draw(st.booleans()) if v.sort.is_bool else data.draw(st.integers(0, (1 << v.sort.width) - 1))
    return out


@pytest.mark.parametrize("width, n", [(1, 3), (2, 3), (2, 4), (3, 4)])
def test_distinct_of_narrow_vectors_holds_exactly_for_different_values(width: int, n: int) -> None:
    """Three or more narrow bit-vectors also get value-indicator clauses: the Distinct literal
    still holds exactly when the values differ pairwise, asserted and negated, on every assignment."""
    xs = [sl.BitVec(f"d{i}", width) for i in range(n)]
    builder = CnfBuilder()
    pairwise_only = CnfBuilder()
    d = builder.literal(sl.Distinct(*xs))
    pairwise_only.literal(sl.And(*(sl.Distinct(a, b) for a, b in itertools.combinations(xs, 2))))
    assert len(builder.clauses) > len(pairwise_only.clauses)  # the value clauses are there
    with solver_for(builder) as solver:
        for values in itertools.product(range(1 << width), repeat=n):
            lits = fix(builder, dict(zip(xs, values)))
            distinct = len(set(values)) == n
            assert solver.solve(assumptions=[*lits, d]) == distinct, values
            assert solver.solve(assumptions=[*lits, -d]) == (not distinct), values


def check_function(term: Term, values: dict[Term, int | bool]) -> None:
    """With the inputs fixed, the encoding has a model, its output is the evaluated value, and
    no model gives another output."""
    builder = CnfBuilder()
    expected = evaluate(term, values)
    if term.sort.is_bool:
        out = builder.literal(term)
        differs = -out if expected else out
    else:
        out_bits = builder.bits(term)
        differs = builder.literal(sl.Distinct(term, sl.BitVecVal(expected, term.sort.width)))
    inputs = fix(builder, values)
    with solver_for(builder) as solver:
        assert solver.solve(assumptions=inputs)
        model = solver.get_model()
        if term.sort.is_bool:
            assert builder.value(out, model) == expected
        else:
            got = sum(1 << i for i, b in enumerate(out_bits) if builder.value(b, model))
            assert got == expected, (term, values, got, expected)
            assert builder.decode(model, list(values)) == values
        solver.append_formula(builder.new_clauses())
        assert not solver.solve(assumptions=[*inputs, differs]), (term, values)


@SETTINGS
@given(st.data())
def test_bitvector_terms_match_evaluate(data: st.DataObject) -> None:
    term = data.draw(bv_terms(data.draw(st.integers(1, 5)), 3))
    check_function(term, random_values(data, term))


@SETTINGS
@given(st.data())
def test_bitvector_predicates_match_evaluate(data: st.DataObject) -> None:
    term = data.draw(bool_preds(2))
    check_function(term, random_values(data, term))


@pytest.mark.parametrize("op", [sl.UDiv, sl.URem, sl.SDiv, sl.SRem, sl.Shl, sl.LShr, sl.AShr, sl.SLT])
def test_division_and_shifts_exhaustive_3_bits(op: Callable[[Term, Term], Term]) -> None:
    a, b = sl.BitVec("a", 3), sl.BitVec("b", 3)
    for x, y in itertools.product(range(8), repeat=2):
        check_function(op(a, b), {a: x, b: y})


def test_smtlib_division_by_zero() -> None:
    a = sl.BitVec("a", 4)
    zero = sl.BitVecVal(0, 4)
    for x in range(16):
        check_function(sl.UDiv(a, zero), {a: x})
        check_function(sl.URem(a, zero), {a: x})
    builder = CnfBuilder()
    assert builder.bits(sl.UDiv(sl.BitVecVal(5, 4), zero)) == [TRUE] * 4


# -- cardinality ------------------------------------------------------------------------------

def counter(start: int) -> Callable[[], int]:
    it = itertools.count(start)
    return lambda: next(it)


def assignments(n: int) -> list[tuple[bool, ...]]:
    return list(itertools.product((False, True), repeat=n))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("n", range(7))
def test_cardinality_agrees_with_counting(encoding: str, n: int) -> None:
    lits = list(range(1, n + 1))
    builders = {"atmost": (at_most_k, int.__le__), "atleast": (at_least_k, int.__ge__), "exactly": (exactly_k, int.__eq__)}
    for k in range(-1, n + 2):
        for name, (encode, holds) in builders.items():
            clauses = encode(lits, k, counter(n + 1), encoding)  # type: ignore[arg-type]
            with Solver(name="minisat22", bootstrap_with=clauses) as solver:
                for bits in assignments(n):
                    assumptions = [lit if on else -lit for lit, on in zip(lits, bits)]
                    assert solver.solve(assumptions=assumptions) == holds(sum(bits), k), (name, k, bits)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("n", range(1, 7))
def test_unary_counter_outputs_are_equivalent_to_counts(encoding: str, n: int) -> None:
    lits = list(range(1, n + 1))
    for upto in range(1, n + 2):
        outputs, clauses = unary_counter(lits, upto, counter(n + 1), encoding)  # type: ignore[arg-type]
        assert len(outputs) == min(upto, n)
        with Solver(name="minisat22", bootstrap_with=clauses) as solver:
            for bits in assignments(n):
                fixed = [lit if on else -lit for lit, on in zip(lits, bits)]
                assert solver.solve(assumptions=fixed)
                for j, out in enumerate(outputs, start=1):
                    expected = sum(bits) >= j
                    assert not solver.solve(assumptions=[*fixed, -out if expected else out])


@pytest.mark.parametrize("n", range(7))
def test_pairwise_one_hot(n: int) -> None:
    lits = list(range(1, n + 1))
    for clauses, holds in ((at_most_one(lits), lambda c: c <= 1), (exactly_one(lits), lambda c: c == 1)):
        with Solver(name="minisat22", bootstrap_with=clauses) as solver:
            for bits in assignments(n):
                assumptions = [lit if on else -lit for lit, on in zip(lits, bits)]
                assert solver.solve(assumptions=assumptions) == holds(sum(bits))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cardinality_terms_reified_and_asserted(encoding: str) -> None:
    xs = [sl.Bool(f"x{i}") for i in range(5)]
    args = [*xs[:4], sl.TRUE, sl.FALSE, xs[4] & xs[0]]
    for k in range(-1, 8):
        for make in (sl.AtMost, sl.AtLeast, sl.Exactly):
            term = make(k, args)
            for formula in (term, ~term, term | xs[1]):
                check_models(formula, xs, encoding)


# -- pseudo-Boolean ---------------------------------------------------------------------------

@SETTINGS
@given(
    st.lists(st.tuples(st.integers(-6, 6), st.integers(0, 3), st.booleans()), max_size=6),
    st.integers(-20, 20),
    st.sampled_from([sl.PbLe, sl.PbGe, sl.PbEq]),
    st.sampled_from([0, 10_000]),
)
def test_pseudo_boolean_with_negative_coefficients(
    items: list[tuple[int, int, bool]], k: int, make: Callable[..., Term], bdd_limit: int
) -> None:
    xs = [sl.Bool(f"x{i}") for i in range(4)]
    term = make([(c, xs[i] if positive else ~xs[i]) for c, i, positive in items], k)
    builder = CnfBuilder(bdd_limit=bdd_limit)  # 0 forces the adder network
    out = builder.literal(term)
    with solver_for(builder) as solver:
        for bits in assignments(4):
            values = dict(zip(xs, bits))
            inputs = fix(builder, values)
            expected = evaluate(term, values)
            assert solver.solve(assumptions=inputs)
            assert not solver.solve(assumptions=[*inputs, -out if expected else out]), (term, values)


def test_pseudo_boolean_large_coefficients_use_both_encodings() -> None:
    xs = [sl.Bool(f"x{i}") for i in range(6)]
    coeffs = [1_000_003, -999_999, 7, 123_456, -5, 31]
    term = sl.PbLe(list(zip(coeffs, xs)), 123_460)
    for limit in (0, 3, 10_000):
        check_models(term, xs, "totalizer", bdd_limit=limit)


# -- Tseitin ----------------------------------------------------------------------------------

BOOL_VARS = [sl.Bool(f"p{i}") for i in range(4)]


def bool_formulas(depth: int = 4) -> st.SearchStrategy[Term]:
    leaves = st.sampled_from([*BOOL_VARS, sl.TRUE, sl.FALSE])

    def extend(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
        two = st.tuples(children, children)
        return st.one_of(
            children.map(sl.Not),
            st.lists(children, min_size=0, max_size=3).map(sl.And),
            st.lists(children, min_size=0, max_size=3).map(sl.Or),
            two.map(lambda ab: sl.Xor(*ab)),
            two.map(lambda ab: sl.Implies(*ab)),
            two.map(lambda ab: sl.Eq(*ab)),
            st.lists(children, min_size=2, max_size=3).map(sl.Distinct),
            st.tuples(children, children, children).map(lambda t: sl.Ite(*t)),
            st.tuples(st.integers(-1, 3), st.lists(children, max_size=3)).map(lambda kl: sl.AtMost(*kl)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def check_models(formula: Term, xs: list[Term], encoding: str = "totalizer", *, bdd_limit: int = 10_000) -> None:
    """The projections of the CNF's models on ``xs`` are exactly the formula's models."""
    expected = {
        bits for bits in assignments(len(xs))
        if evaluate(formula, dict(zip(xs, bits)), default=False)
    }
    builder = CnfBuilder(encoding, bdd_limit=bdd_limit)  # type: ignore[arg-type]
    builder.add(formula)
    lits = [builder.literal(x) for x in xs]
    found: set[tuple[bool, ...]] = set()
    with solver_for(builder) as solver:
        while solver.solve():
            model = solver.get_model()
            bits = tuple(builder.value(lit, model) for lit in lits)
            assert bits in expected, (formula, bits)
            found.add(bits)
            solver.add_clause([-lit if on else lit for lit, on in zip(lits, bits)])
    assert found == expected, formula


@SETTINGS
@given(bool_formulas())
def test_tseitin_models_are_the_formula_models(formula: Term) -> None:
    check_models(formula, BOOL_VARS)


@SETTINGS
@given(bool_formulas())
def test_tseitin_literal_is_equivalent(formula: Term) -> None:
    for bits in assignments(len(BOOL_VARS)):
        check_function(formula, dict(zip(BOOL_VARS, bits)))


# -- the builder ------------------------------------------------------------------------------

def test_shared_subterms_encoded_once_and_constants_propagate() -> None:
    p, q = BOOL_VARS[:2]
    builder = CnfBuilder()
    shared = sl.Xor(p, q)
    lit = builder.literal(sl.And(shared, sl.Or(p, shared)))
    top, size = builder.top, len(builder.clauses)
    assert builder.literal(sl.Xor(sl.Bool("p0"), sl.Bool("p1"))) == builder.literal(shared)
    assert builder.literal(sl.And(shared, sl.Or(p, shared))) == lit
    assert (builder.top, len(builder.clauses)) == (top, size)
    assert builder.literal(sl.And(p, sl.FALSE)) == FALSE
    assert builder.literal(sl.Or(p, ~p)) == TRUE
    assert builder.literal(sl.Implies(sl.FALSE, q)) == TRUE
    assert builder.literal(sl.Ite(sl.TRUE, p, q)) == builder.literal(p)
    assert builder.bits(sl.BitVecVal(5, 3) + sl.BitVecVal(3, 3)) == [FALSE, FALSE, FALSE]


def test_top_level_clauses_are_flat_and_incremental() -> None:
    p, q, r, s = BOOL_VARS
    builder = CnfBuilder()
    first = builder.new_clauses()
    assert first == [[TRUE]]
    builder.add(sl.And(p | q, ~(r & s), sl.Implies(p, r), sl.Eq(p, s), ~sl.Xor(q, r)))
    fresh = builder.new_clauses()
    lp, lq, lr, ls = (builder.literal(x) for x in BOOL_VARS)
    expected = [[lp, lq], [-lr, -ls], [-lp, lr], [-lp, ls], [lp, -ls], [-lq, lr], [lq, -lr]]
    assert sorted(map(sorted, fresh)) == sorted(map(sorted, expected))
    assert builder.top == 5  # no Tseitin variables
    assert builder.new_clauses() == []
    builder.add(sl.FALSE)
    assert builder.new_clauses() == [[FALSE]]


def test_arithmetic_terms_raise_capability_error() -> None:
    builder = CnfBuilder()
    with pytest.raises(sl.CapabilityError, match=r"lia.*z3.*cvc5"):
        builder.add(sl.And(BOOL_VARS[0], sl.Int("i") > 3))
    with pytest.raises(sl.CapabilityError, match="lra"):
        builder.literal(sl.Eq(sl.Real("r"), 0.5))
    assert builder.new_clauses() == [[TRUE]]  # nothing was asserted


def test_type_errors() -> None:
    builder = CnfBuilder()
    with pytest.raises(TypeError, match="bit-vector"):
        builder.bits(BOOL_VARS[0])
    with pytest.raises(TypeError, match="Boolean"):
        builder.literal(sl.BitVec("v", 3))
    with pytest.raises(ValueError, match="choose one of"):
        CnfBuilder("ladder")  # type: ignore[arg-type]


def test_decode_bitvectors_and_unknown_variables() -> None:
    v = sl.BitVec("v", 5)
    builder = CnfBuilder()
    builder.add(sl.Eq(v, 19))
    with solver_for(builder) as solver:
        assert solver.solve()
        model = builder.decode(solver.get_model(), [v, sl.Bool("unused"), sl.BitVec("w", 3)])
    assert dict(model.items()) == {v: 19, sl.Bool("unused"): False, sl.BitVec("w", 3): 0}
