"""Hypothesis strategies for random solverlayers problems, one family per theory.

Each theory draws a small *vocabulary* of variables first, then formulas over it, so a whole
problem stays small enough for brute force (the reference backend) and every variable keeps one
sort. Integer and real variables are bounded by hard constraints (``-bound <= x <= bound``),
which :func:`formulas` conjoins and :func:`problems` adds as separate constraints.

Nonlinear real formulas use strict inequalities under ``And``/``Or`` only: their solution sets
are open, so a satisfiable one always has a rational model, which a backend can report exactly.

    from hypothesis import given
    from solverlayers.capabilities import Theory
    from solverlayers.testing.strategies import problems

    @given(problems(Theory.BV))
    def test_something(problem): ...
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import strategies as st

from ..capabilities import Theory
from ..problem import Problem
from ..terms import (
    FALSE, SGE, SGT, SLE, SLT, TRUE, UGE, UGT, ULE, ULT, And, AShr, AtLeast, AtMost, BitVec,
    BitVecVal, Bool, Concat, Distinct, Eq, Exactly, Extract, Iff, Implies, Int, IntVal, Ite, LShr,
    Not, Or, PbEq, PbGe, PbLe, Real, RealVal, SDiv, Shl, SignExt, SRem, Sum, Term, UDiv, URem, Xor,
    ZeroExt,
)

__all__ = [
    "THEORIES", "required_theories", "formulas", "bool_formulas", "bv_formulas",
    "lia_formulas", "lra_formulas", "nra_formulas", "problems", "weights", "weighted_problems",
    "problems_with_assumptions", "random_3sat",
]

THEORIES: tuple[Theory, ...] = (Theory.BOOL, Theory.BV, Theory.LIA, Theory.LRA, Theory.NRA)
"""The theories these strategies generate formulas for."""

Draw = st.DrawFn


def required_theories(theory: Theory) -> frozenset[Theory]:
    """Every theory a backend must declare to accept the formulas generated for ``theory``."""
    extra = {Theory.NRA: {Theory.LRA}}.get(theory, set())
    return frozenset({Theory.BOOL, theory, *extra})


# -- Boolean structure over theory atoms --------------------------------------------------------

def _connective(draw: Draw, sub: Callable[[], Term], monotone: bool) -> Term:
    """One Boolean connective over subformulas drawn by ``sub`` (And/Or only if ``monotone``)."""
    if monotone:
        return draw(st.sampled_from([And, Or]))([sub() for _ in range(draw(st.integers(2, 3)))])
    op = draw(st.integers(0, 13))
    if op == 0:
        return Not(sub())
    if op in (1, 2):
        return (And, Or)[op - 1]([sub() for _ in range(draw(st.integers(1, 3)))])
    if op in (3, 4, 5, 6):
        return (Xor, Implies, Iff, Distinct)[op - 3](sub(), sub())
    if op == 7:
        return Ite(sub(), sub(), sub())
    args = [sub() for _ in range(draw(st.integers(1, 4)))]
    if op in (8, 9, 10):
        k = draw(st.integers(-1, len(args) + 1))
        return (AtMost, AtLeast, Exactly)[op - 8](k, args)
    coeffs = [draw(st.integers(-3, 4)) for _ in args]
    k = draw(st.integers(-3, 6))
    return (PbLe, PbGe, PbEq)[op - 11](list(zip(coeffs, args)), k)


def _structure(draw: Draw, atom: Callable[[int], Term], depth: int, monotone: bool = False) -> Term:
    """A formula of nesting ``depth`` at most, with leaves from ``atom(depth)``."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return atom(depth)
    return _connective(draw, lambda: _structure(draw, atom, depth - 1, monotone), monotone)


# -- theories -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Family:
    """How one theory draws its vocabulary, a formula over it, and its bounding constraints."""

    vocabulary: Callable[[Draw], tuple[Term, ...]]
    formula: Callable[[Draw, tuple[Term, ...], int], Term]
    bounds: Callable[[tuple[Term, ...]], list[Term]]


def _no_bounds(_: tuple[Term, ...]) -> list[Term]:
    return []


# Bool

def _bool_vocab(draw: Draw, num_vars: int = 5) -> tuple[Term, ...]:
    return tuple(Bool(f"p{i}") for i in range(draw(st.integers(1, num_vars))))


def _bool_formula(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
    def atom(_: int) -> Term:
        i = draw(st.integers(0, len(vocab) + 1))
        return vocab[i] if i < len(vocab) else (TRUE, FALSE)[i - len(vocab)]

    return _structure(draw, atom, depth)


# Bit-vectors

MAX_WIDTH = 6
_BV_BINARY: tuple[Callable[[Term, Term], Term], ...] = (
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a & b,
    lambda a, b: a | b, lambda a, b: a ^ b, Shl, LShr, AShr, UDiv, URem, SDiv, SRem,
)
_BV_PREDICATES: tuple[Callable[[Term, Term], Term], ...] = (
    Eq, ULT, ULE, UGT, UGE, SLT, SLE, SGT, SGE, lambda a, b: Distinct(a, b),
)


def _bv_vocab(draw: Draw, max_width: int = MAX_WIDTH, max_bits: int = 10) -> tuple[Term, ...]:
    vocab: list[Term] = []
    bits = 0
    for i in range(draw(st.integers(1, 3))):
        width = draw(st.integers(1, max(1, min(max_width, max_bits - bits))))
        if vocab and bits + width > max_bits:
            break
        vocab.append(BitVec(f"v{i}_w{width}", width))
        bits += width
    return tuple(vocab)


def _bv_leaf(draw: Draw, vocab: tuple[Term, ...], width: int) -> Term:
    """A variable fitted to ``width`` (by extraction or extension), or a constant."""
    i = draw(st.integers(0, len(vocab)))
    if i == len(vocab):
        return BitVecVal(draw(st.integers(0, (1 << width) - 1)), width)
    var = vocab[i]
    have = var.sort.width
    if have > width:
        lo = draw(st.integers(0, have - width))
        return Extract(lo + width - 1, lo, var)
    if have < width:
        return draw(st.sampled_from([ZeroExt, SignExt]))(width - have, var)
    return var


def _bv_term(draw: Draw, vocab: tuple[Term, ...], width: int, depth: int) -> Term:
    """A bit-vector term of ``width`` bits using every operation of :mod:`solverlayers.terms`."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return _bv_leaf(draw, vocab, width)

    def sub(w: int = width) -> Term:
        return _bv_term(draw, vocab, w, depth - 1)

    op = draw(st.integers(0, 6))
    if op == 0:
        return draw(st.sampled_from(_BV_BINARY))(sub(), sub())
    if op == 1:
        return -sub()
    if op == 2:
        return ~sub()
    if op == 3:
        return Ite(_bv_atom(draw, vocab, depth - 1), sub(), sub())
    if op == 4 and width >= 2:
        split = draw(st.integers(1, width - 1))
        return Concat(sub(width - split), sub(split))
    if op == 5 and width < MAX_WIDTH:
        wider = draw(st.integers(width + 1, MAX_WIDTH))
        lo = draw(st.integers(0, wider - width))
        return Extract(lo + width - 1, lo, sub(wider))
    if op == 6 and width >= 2:
        narrow = draw(st.integers(1, width - 1))
        return draw(st.sampled_from([ZeroExt, SignExt]))(width - narrow, sub(narrow))
    return draw(st.sampled_from(_BV_BINARY))(sub(), sub())


def _bv_atom(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
    width = draw(st.sampled_from(sorted({v.sort.width for v in vocab} | {1, MAX_WIDTH})))
    pred = draw(st.sampled_from(_BV_PREDICATES))
    return pred(_bv_term(draw, vocab, width, depth), _bv_term(draw, vocab, width, depth))


def _bv_formula(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
    return _structure(draw, lambda d: _bv_atom(draw, vocab, d), depth)


# Arithmetic (linear integer, linear real, nonlinear real)

def _arith_vocab(make: Callable[[str], Term], prefix: str, num_vars: int) -> Callable[[Draw], tuple[Term, ...]]:
    def vocab(draw: Draw) -> tuple[Term, ...]:
        return tuple(make(f"{prefix}{i}") for i in range(draw(st.integers(1, num_vars))))

    return vocab


def _bounds(bound: int, strict: bool) -> Callable[[tuple[Term, ...]], list[Term]]:
    def make(vocab: tuple[Term, ...]) -> list[Term]:
        if strict:
            return [c for v in vocab for c in (v > -bound, v < bound)]
        return [c for v in vocab for c in (v >= -bound, v <= bound)]

    return make


def _number(draw: Draw, real: bool) -> int | Fraction:
    n = draw(st.integers(-5, 5))
    return Fraction(n, draw(st.integers(1, 4))) if real else n


def _linear_term(draw: Draw, vocab: tuple[Term, ...], depth: int, real: bool) -> Term:
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        i = draw(st.integers(0, len(vocab)))
        if i < len(vocab):
            return vocab[i]
        value = _number(draw, real)
        return RealVal(value) if real else IntVal(int(value))

    def sub() -> Term:
        return _linear_term(draw, vocab, depth - 1, real)

    op = draw(st.integers(0, 5))
    if op == 0:
        return Sum([sub() for _ in range(draw(st.integers(2, 3)))])
    if op == 1:
        return sub() - sub()
    if op == 2:
        return -sub()
    if op == 3:
        return _number(draw, real) * sub()
    if op == 4:
        return Ite(_linear_atom(draw, vocab, depth - 1, real), sub(), sub())
    divisor = _number(draw, True)
    return sub() / divisor if real and divisor != 0 else sub() + sub()


_COMPARISONS: tuple[Callable[[Term, Term], Term], ...] = (
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b, Eq,
    lambda a, b: Distinct(a, b),
)


def _linear_atom(draw: Draw, vocab: tuple[Term, ...], depth: int, real: bool) -> Term:
    cmp = draw(st.sampled_from(_COMPARISONS))
    return cmp(_linear_term(draw, vocab, depth, real), _linear_term(draw, vocab, depth, real))


def _linear_formula(real: bool) -> Callable[[Draw, tuple[Term, ...], int], Term]:
    def formula(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
        return _structure(draw, lambda d: _linear_atom(draw, vocab, d, real), depth)

    return formula


def _poly_term(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        i = draw(st.integers(0, len(vocab)))
        return vocab[i] if i < len(vocab) else RealVal(_number(draw, True))
    a, b = _poly_term(draw, vocab, depth - 1), _poly_term(draw, vocab, depth - 1)
    op = draw(st.integers(0, 3))
    if op == 0:
        return a + b
    if op == 1:
        return a - b
    if op == 2:
        return _number(draw, True) * a
    return a * b


def _nra_formula(draw: Draw, vocab: tuple[Term, ...], depth: int) -> Term:
    def atom(d: int) -> Term:
        a, b = _poly_term(draw, vocab, max(d, 1)), _poly_term(draw, vocab, max(d, 1))
        # at least one product of two variables, so the atom is nonlinear
        x, y = draw(st.sampled_from(vocab)), draw(st.sampled_from(vocab))
        return (a + x * y < b) if draw(st.booleans()) else (a + x * y > b)

    return _structure(draw, atom, depth, monotone=True)


_FAMILIES: dict[Theory, _Family] = {
    Theory.BOOL: _Family(_bool_vocab, _bool_formula, _no_bounds),
    Theory.BV: _Family(_bv_vocab, _bv_formula, _no_bounds),
    Theory.LIA: _Family(_arith_vocab(Int, "i", 3), _linear_formula(False), _bounds(4, False)),
    Theory.LRA: _Family(_arith_vocab(Real, "r", 3), _linear_formula(True), _bounds(4, False)),
    Theory.NRA: _Family(_arith_vocab(Real, "n", 2), _nra_formula, _bounds(3, True)),
}


def _family(theory: Theory) -> _Family:
    try:
        return _FAMILIES[Theory(theory)]
    except KeyError:
        raise ValueError(
            f"no formula strategy for theory {Theory(theory).value!r}; "
            f"choose one of: {', '.join(t.value for t in THEORIES)}"
        ) from None


# -- public strategies --------------------------------------------------------------------------

def formulas(theory: Theory, *, max_depth: int = 3) -> st.SearchStrategy[Term]:
    """One Boolean formula of ``theory``, its variable bounds conjoined (a bounded problem)."""
    family = _family(theory)

    @st.composite
    def draw_formula(draw: Draw) -> Term:
        vocab = family.vocabulary(draw)
        return And(*family.bounds(vocab), family.formula(draw, vocab, max_depth))

    return draw_formula()


def bool_formulas(*, max_depth: int = 3) -> st.SearchStrategy[Term]:
    """Boolean formulas over ``p0..p4`` with every connective, cardinality and pseudo-Boolean."""
    return formulas(Theory.BOOL, max_depth=max_depth)


def bv_formulas(*, max_depth: int = 2) -> st.SearchStrategy[Term]:
    """Bit-vector formulas: one to three variables of widths 1-6 (10 bits in all), every operation."""
    return formulas(Theory.BV, max_depth=max_depth)


def lia_formulas(*, max_depth: int = 2) -> st.SearchStrategy[Term]:
    """Linear integer formulas over up to three variables bounded to ``[-4, 4]``."""
    return formulas(Theory.LIA, max_depth=max_depth)


def lra_formulas(*, max_depth: int = 2) -> st.SearchStrategy[Term]:
    """Linear real formulas (rational coefficients, division by constants), variables in ``[-4, 4]``."""
    return formulas(Theory.LRA, max_depth=max_depth)


def nra_formulas(*, max_depth: int = 2) -> st.SearchStrategy[Term]:
    """Small nonlinear real formulas: strict polynomial inequalities under And/Or, variables in ``(-3, 3)``."""
    return formulas(Theory.NRA, max_depth=max_depth)


def problems(theory: Theory, *, max_constraints: int = 3, max_depth: int = 2) -> st.SearchStrategy[Problem]:
    """A :class:`Problem` of 1 to ``max_constraints`` formulas of ``theory`` (plus variable bounds)."""
    family = _family(theory)

    @st.composite
    def draw_problem(draw: Draw) -> Problem:
        vocab = family.vocabulary(draw)
        count = draw(st.integers(1, max_constraints))
        return Problem([*family.bounds(vocab), *(family.formula(draw, vocab, max_depth) for _ in range(count))])

    return draw_problem()


def weights(*, fractional: bool | None = None) -> st.SearchStrategy[int | float | Fraction]:
    """Positive soft-constraint weights: ints, or fractional ones (Fractions and floats such as
    ``0.1``, which are exact binary fractions); ``fractional=None`` mixes both."""
    whole = st.integers(1, 5) | st.sampled_from([10, 100])
    frac = st.fractions(min_value=Fraction(1, 12), max_value=5, max_denominator=12) | st.sampled_from(
        [0.5, 0.25, 1.5, 0.1, 0.3, 2.75]
    )
    return {True: frac, False: whole, None: whole | frac}[fractional]


def weighted_problems(
    theory: Theory,
    *,
    max_constraints: int = 2,
    max_soft: int = 5,
    fractional: bool | None = None,
) -> st.SearchStrategy[Problem]:
    """A :class:`Problem` with hard constraints and 1 to ``max_soft`` weighted soft constraints."""
    family = _family(theory)

    @st.composite
    def draw_problem(draw: Draw) -> Problem:
        vocab = family.vocabulary(draw)
        hard = [family.formula(draw, vocab, 2) for _ in range(draw(st.integers(0, max_constraints)))]
        problem = Problem([*family.bounds(vocab), *hard])
        for i in range(draw(st.integers(1, max_soft))):
            term = family.formula(draw, vocab, draw(st.integers(0, 1)))
            problem.add_soft(term, draw(weights(fractional=fractional)), name=f"s{i}" if draw(st.booleans()) else None)
        return problem

    return draw_problem()


def problems_with_assumptions(
    theory: Theory, *, max_constraints: int = 2, max_assumptions: int = 4
) -> st.SearchStrategy[tuple[Problem, list[Term]]]:
    """A problem and a list of assumptions (small formulas, mostly literals for Bool) over the
    same variables: the input of a check under assumptions or an unsat-core query."""
    family = _family(theory)

    @st.composite
    def draw_pair(draw: Draw) -> tuple[Problem, list[Term]]:
        vocab = family.vocabulary(draw)
        hard = [family.formula(draw, vocab, 2) for _ in range(draw(st.integers(0, max_constraints)))]
        assumptions = [
            family.formula(draw, vocab, draw(st.integers(0, 1))) for _ in range(draw(st.integers(0, max_assumptions)))
        ]
        return Problem([*family.bounds(vocab), *hard]), assumptions

    return draw_pair()


def random_3sat(num_vars: int = 300, ratio: float = 4.26, seed: int = 1) -> list[Term]:
    """Clauses of a random 3-SAT instance at the phase transition. The default one is
    unsatisfiable and takes CaDiCaL about 100 s: it is hard for every complete solver, unlike
    pigeonhole formulas, which solvers with clique or LP reasoning (CP-SAT) refute in
    milliseconds. Used to check that timeouts come back as UNKNOWN."""
    rng = random.Random(seed)
    xs = [Bool(f"h{i}") for i in range(num_vars)]
    return [
        Or([x if rng.random() < 0.5 else Not(x) for x in rng.sample(xs, 3)])
        for _ in range(int(num_vars * ratio))
    ]
