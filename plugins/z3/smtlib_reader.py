"""Read SMT-LIB2 scripts into core problems, using Z3's parser.

The script is parsed in a fresh Z3 context (so errors never leak between calls), then the
asserted Z3 expressions are translated back into core terms. Z3's ``assert-soft`` extension is
supported (``:weight`` and ``:id``); variables that are declared but never asserted on are not
part of the result. Quantifiers, uninterpreted functions of arity > 0 and sorts other than
Bool, Int, Real and bit-vectors are rejected with a ``ValueError`` naming the construct.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import z3
from z3 import z3consts as k

from solverlayers.problem import Problem
from solverlayers.terms import (
    AShr, AtLeast, AtMost, BitVec, BitVecVal, Bool, Concat, Distinct, Eq, Extract, FALSE, Implies,
    Int, IntVal, Ite, LShr, Not, And, Or, PbEq, PbGe, PbLe, Real, RealVal, SDiv, SGE, SGT, SLE, SLT,
    SRem, Shl, SignExt, Sum, Term, ToReal, TRUE, UDiv, UGE, UGT, ULE, ULT, URem, Xor, ZeroExt,
)

__all__ = ["parse_smtlib"]

# -- assert-soft: rewritten into marked hard assertions before Z3 parses the script ------------

_TOKEN = re.compile(r'\s+|;[^\n]*|"(?:[^"]|"")*"|\|[^|]*\||[()]|[^\s()";|]+|.', re.S)


def _spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """The spans of the top-level s-expressions of ``text[lo:hi]``."""
    spans: list[tuple[int, int]] = []
    depth = start = 0
    for m in _TOKEN.finditer(text, lo, hi):
        tok = m.group()
        if tok[0].isspace() or tok[0] == ";":
            continue
        if tok == "(":
            if depth == 0:
                start = m.start()
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth == 0:
                spans.append((start, m.end()))
        elif depth == 0:
            spans.append((m.start(), m.end()))
    return spans


def _rewrite_soft(text: str) -> tuple[str, dict[str, tuple[Fraction, str | None]]]:
    """``text`` with each ``(assert-soft t :weight w :id n)`` replaced by ``(assert (= m t))``
    for a fresh Boolean marker ``m``, and the weight and id of each marker."""
    if "assert-soft" not in text:
        return text, {}
    prefix = "sl_soft"
    while prefix in text:
        prefix += "_"
    pieces: list[str] = []
    marks: dict[str, tuple[Fraction, str | None]] = {}
    done = 0
    for lo, hi in _spans(text, 0, len(text)):
        if text[lo] != "(":
            continue
        items = _spans(text, lo + 1, hi - 1)
        if not items or text[items[0][0]:items[0][1]] != "assert-soft":
            continue
        if len(items) < 2:
            raise ValueError(f"assert-soft without a term: {text[lo:hi]}")
        attrs = [text[a:b] for a, b in items[2:]]
        options = dict(zip(attrs[::2], attrs[1::2]))
        try:
            weight = Fraction(options.get(":weight", "1"))
        except ValueError:
            raise ValueError(f"assert-soft weight {options[':weight']!r} is not a number") from None
        marker = f"{prefix}{len(marks)}"
        marks[marker] = (weight, options.get(":id"))
        term = text[items[1][0]:items[1][1]]
        pieces += [text[done:lo], f"(declare-fun {marker} () Bool)(assert (= {marker} {term}))"]
        done = hi
    pieces.append(text[done:])
    return "".join(pieces), marks


# -- z3 expression -> core term -----------------------------------------------------------------

def _fold(fn: Callable[[Any, Any], Term]) -> Callable[[z3.ExprRef, list[Term]], Term]:
    def build(e: z3.ExprRef, a: list[Term]) -> Term:
        out = a[0]
        for x in a[1:]:
            out = fn(out, x)
        return out

    return build


def _chain_eq(e: z3.ExprRef, a: list[Term]) -> Term:
    return And([Eq(x, y) for x, y in zip(a, a[1:])])


def _implies(e: z3.ExprRef, a: list[Term]) -> Term:
    out = a[-1]
    for x in reversed(a[:-1]):
        out = Implies(x, out)
    return out


def _bit(condition: Term) -> Term:
    return Ite(condition, BitVecVal(1, 1), BitVecVal(0, 1))


def _rotate_left(a: Term, n: int) -> Term:
    w = a.sort.width
    n %= w
    return a if n == 0 else Concat(Extract(w - 1 - n, 0, a), Extract(w - 1, w - n, a))


def _params(e: z3.ExprRef) -> list[int]:
    return [int(p) for p in e.decl().params()]


def _neg(e: z3.ExprRef, a: list[Term]) -> Term:
    x = a[0]
    if x.is_const:
        return IntVal(-x.value) if x.sort.kind == "int" else RealVal(-x.value)
    return -x


def _div(e: z3.ExprRef, a: list[Term]) -> Term:
    x, y = a
    if x.is_const and y.is_const and y.value != 0:
        return RealVal(Fraction(x.value) / y.value)
    return x / y


def _bvsmod(e: z3.ExprRef, a: list[Term]) -> Term:
    """SMT-LIB's ``bvsmod`` (remainder with the sign of the divisor) from core operations."""
    s, t = a
    w = s.sort.width
    zero = BitVecVal(0, w)
    neg_s, neg_t = SLT(s, zero), SLT(t, zero)
    u = URem(Ite(neg_s, -s, s), Ite(neg_t, -t, t))
    return Ite(
        Eq(u, zero), u,
        Ite(Not(neg_s) & Not(neg_t), u,
            Ite(neg_s & Not(neg_t), -u + t,
                Ite(Not(neg_s) & neg_t, u + t, -u))),
    )


_Convert = Callable[[z3.ExprRef, list[Term]], Term]

_CONVERT: dict[int, _Convert] = {
    k.Z3_OP_TRUE: lambda e, a: TRUE,
    k.Z3_OP_FALSE: lambda e, a: FALSE,
    k.Z3_OP_AND: lambda e, a: And(a),
    k.Z3_OP_OR: lambda e, a: Or(a),
    k.Z3_OP_NOT: lambda e, a: Not(a[0]),
    k.Z3_OP_XOR: _fold(Xor),
    k.Z3_OP_IMPLIES: _implies,
    k.Z3_OP_ITE: lambda e, a: Ite(a[0], a[1], a[2]),
    k.Z3_OP_EQ: _chain_eq,
    k.Z3_OP_IFF: _chain_eq,
    k.Z3_OP_DISTINCT: lambda e, a: Distinct(a),
    k.Z3_OP_ADD: lambda e, a: Sum(a),
    k.Z3_OP_SUB: _fold(lambda x, y: x - y),
    k.Z3_OP_MUL: _fold(lambda x, y: x * y),
    k.Z3_OP_UMINUS: _neg,
    k.Z3_OP_DIV: _div,
    k.Z3_OP_TO_REAL: lambda e, a: ToReal(a[0]),
    k.Z3_OP_LE: lambda e, a: a[0] <= a[1],
    k.Z3_OP_LT: lambda e, a: a[0] < a[1],
    k.Z3_OP_GE: lambda e, a: a[0] >= a[1],
    k.Z3_OP_GT: lambda e, a: a[0] > a[1],
    k.Z3_OP_PB_AT_MOST: lambda e, a: AtMost(_params(e)[0], a),
    k.Z3_OP_PB_AT_LEAST: lambda e, a: AtLeast(_params(e)[0], a),
    k.Z3_OP_PB_LE: lambda e, a: PbLe(list(zip(_params(e)[1:], a)), _params(e)[0]),
    k.Z3_OP_PB_GE: lambda e, a: PbGe(list(zip(_params(e)[1:], a)), _params(e)[0]),
    k.Z3_OP_PB_EQ: lambda e, a: PbEq(list(zip(_params(e)[1:], a)), _params(e)[0]),
    k.Z3_OP_BIT1: lambda e, a: BitVecVal(1, 1),
    k.Z3_OP_BIT0: lambda e, a: BitVecVal(0, 1),
    k.Z3_OP_BNEG: lambda e, a: -a[0],
    k.Z3_OP_BADD: _fold(lambda x, y: x + y),
    k.Z3_OP_BSUB: _fold(lambda x, y: x - y),
    k.Z3_OP_BMUL: _fold(lambda x, y: x * y),
    k.Z3_OP_BSDIV: lambda e, a: SDiv(a[0], a[1]),
    k.Z3_OP_BUDIV: lambda e, a: UDiv(a[0], a[1]),
    k.Z3_OP_BSREM: lambda e, a: SRem(a[0], a[1]),
    k.Z3_OP_BUREM: lambda e, a: URem(a[0], a[1]),
    k.Z3_OP_BSMOD: _bvsmod,
    k.Z3_OP_ULEQ: lambda e, a: ULE(a[0], a[1]),
    k.Z3_OP_SLEQ: lambda e, a: SLE(a[0], a[1]),
    k.Z3_OP_UGEQ: lambda e, a: UGE(a[0], a[1]),
    k.Z3_OP_SGEQ: lambda e, a: SGE(a[0], a[1]),
    k.Z3_OP_ULT: lambda e, a: ULT(a[0], a[1]),
    k.Z3_OP_SLT: lambda e, a: SLT(a[0], a[1]),
    k.Z3_OP_UGT: lambda e, a: UGT(a[0], a[1]),
    k.Z3_OP_SGT: lambda e, a: SGT(a[0], a[1]),
    k.Z3_OP_BAND: _fold(lambda x, y: x & y),
    k.Z3_OP_BOR: _fold(lambda x, y: x | y),
    k.Z3_OP_BXOR: _fold(lambda x, y: x ^ y),
    k.Z3_OP_BNOT: lambda e, a: ~a[0],
    k.Z3_OP_BNAND: lambda e, a: ~_fold(lambda x, y: x & y)(e, a),
    k.Z3_OP_BNOR: lambda e, a: ~_fold(lambda x, y: x | y)(e, a),
    k.Z3_OP_BXNOR: lambda e, a: ~_fold(lambda x, y: x ^ y)(e, a),
    k.Z3_OP_CONCAT: lambda e, a: Concat(*a),
    k.Z3_OP_SIGN_EXT: lambda e, a: SignExt(_params(e)[0], a[0]),
    k.Z3_OP_ZERO_EXT: lambda e, a: ZeroExt(_params(e)[0], a[0]),
    k.Z3_OP_EXTRACT: lambda e, a: Extract(_params(e)[0], _params(e)[1], a[0]),
    k.Z3_OP_REPEAT: lambda e, a: Concat(*[a[0]] * _params(e)[0]),
    k.Z3_OP_BREDOR: lambda e, a: _bit(Not(Eq(a[0], 0))),
    k.Z3_OP_BREDAND: lambda e, a: _bit(Eq(a[0], (1 << a[0].sort.width) - 1)),
    k.Z3_OP_BCOMP: lambda e, a: _bit(Eq(a[0], a[1])),
    k.Z3_OP_BSHL: lambda e, a: Shl(a[0], a[1]),
    k.Z3_OP_BLSHR: lambda e, a: LShr(a[0], a[1]),
    k.Z3_OP_BASHR: lambda e, a: AShr(a[0], a[1]),
    k.Z3_OP_ROTATE_LEFT: lambda e, a: _rotate_left(a[0], _params(e)[0]),
    k.Z3_OP_ROTATE_RIGHT: lambda e, a: _rotate_left(a[0], -_params(e)[0]),
}

_SORTS = {k.Z3_BOOL_SORT: "Bool", k.Z3_INT_SORT: "Int", k.Z3_REAL_SORT: "Real", k.Z3_BV_SORT: "BitVec"}


def _leaf(e: z3.ExprRef) -> Term | None:
    """Variables and numerals; None for other applications."""
    kind = e.decl().kind()
    if kind == k.Z3_OP_UNINTERPRETED:
        name = e.decl().name()
        if e.num_args():
            raise ValueError(
                f"uninterpreted function {name!r} of arity {e.num_args()} is not supported "
                "(only constants: declare-fun with no arguments)"
            )
        sort = e.sort_kind()
        if sort == k.Z3_BOOL_SORT:
            return Bool(name)
        if sort == k.Z3_INT_SORT:
            return Int(name)
        if sort == k.Z3_REAL_SORT:
            return Real(name)
        return BitVec(name, e.size())
    if kind == k.Z3_OP_ANUM:
        if e.is_int():
            return IntVal(e.as_long())
        return RealVal(Fraction(e.numerator_as_long(), e.denominator_as_long()))
    if kind == k.Z3_OP_BNUM:
        return BitVecVal(e.as_long(), e.size())
    return None


def _convert(e: z3.ExprRef, args: list[Term]) -> Term:
    leaf = _leaf(e)
    if leaf is not None:
        return leaf
    convert = _CONVERT.get(e.decl().kind())
    if convert is None:
        raise ValueError(f"the SMT-LIB construct {e.decl().name()!r} is not supported (in {_excerpt(e)})")
    return convert(e, args)


def _excerpt(e: z3.ExprRef) -> str:
    text = " ".join(e.sexpr().split())
    return text if len(text) <= 80 else text[:77] + "..."


def _check_supported(e: z3.ExprRef) -> None:
    if z3.is_quantifier(e):
        raise ValueError(f"quantifiers (forall, exists, lambda) are not supported (in {_excerpt(e)})")
    if z3.is_var(e):
        raise ValueError("bound variables are not supported")
    if e.sort_kind() not in _SORTS:
        raise ValueError(
            f"the sort {e.sort().sexpr()} is not supported (only Bool, Int, Real and bit-vectors), "
            f"in {_excerpt(e)}"
        )


def _to_terms(roots: list[z3.ExprRef]) -> list[Term]:
    """Translate Z3 expressions into core terms, sharing subterms (iterative, no recursion)."""
    memo: dict[int, Term] = {}
    for root in roots:
        stack: list[tuple[z3.ExprRef, bool]] = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            key = e.get_id()
            if key in memo:
                continue
            children = e.children()
            if expanded:
                memo[key] = _convert(e, [memo[c.get_id()] for c in children])
                continue
            _check_supported(e)
            stack.append((e, True))
            stack.extend((c, False) for c in reversed(children) if c.get_id() not in memo)
    return [memo[r.get_id()] for r in roots]


def _message(exc: z3.Z3Exception) -> str:
    value = exc.value
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    text = " ".join(text.split())
    match = re.fullmatch(r'\(error "(.*)"\)', text)
    return match.group(1) if match else text


def parse_smtlib(text: str) -> Problem:
    """The hard constraints (``assert``) and soft constraints (``assert-soft``) of an
    SMT-LIB2 script as a :class:`~solverlayers.problem.Problem`."""
    if not isinstance(text, str):
        raise TypeError(f"parse_smtlib takes SMT-LIB2 text, got {type(text).__name__}")
    script, marks = _rewrite_soft(text)
    ctx = z3.Context()
    try:
        assertions = list(z3.parse_smt2_string(script, ctx=ctx))
    except z3.Z3Exception as exc:
        raise ValueError(f"SMT-LIB2 parse error: {_message(exc)}") from None
    hard: list[z3.ExprRef] = []
    soft: list[tuple[z3.ExprRef, str]] = []
    for a in assertions:
        if z3.is_eq(a) and z3.is_const(a.arg(0)) and a.arg(0).decl().name() in marks:
            soft.append((a.arg(1), a.arg(0).decl().name()))
        else:
            hard.append(a)
    terms = _to_terms(hard + [s for s, _ in soft])
    problem = Problem(terms[: len(hard)])
    for term, (_, marker) in zip(terms[len(hard):], soft):
        weight, name = marks[marker]
        problem.add_soft(term, weight, name)
    return problem
