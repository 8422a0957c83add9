"""Backend-neutral terms: sorts, variables, constants and the builder API.

A :class:`Term` is an immutable node ``(op, args, sort, value)``. Equality and hashing are
structural, so terms are safe dictionary keys; building a constraint is therefore done with
functions (``Eq(x, 3)``) or comparison operators on numbers (``x <= 3``), never with ``==``.

Semantics follow SMT-LIB: bit-vectors are fixed width, unsigned values in ``[0, 2**w)``,
``bvudiv`` by zero is all ones and ``bvurem`` by zero is the dividend. Real division is only
by a nonzero constant, so every backend agrees on what a formula means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

__all__ = [
    "Sort", "BOOL", "INT", "REAL", "BitVecSort", "Term", "TermLike",
    "Bool", "Int", "Real", "BitVec", "BoolVal", "IntVal", "RealVal", "BitVecVal", "TRUE", "FALSE",
    "Not", "And", "Or", "Xor", "Implies", "Iff", "Ite", "Eq", "Distinct",
    "AtMost", "AtLeast", "Exactly", "PbLe", "PbGe", "PbEq", "Sum", "ToReal",
    "ULT", "ULE", "UGT", "UGE", "SLT", "SLE", "SGT", "SGE", "UDiv", "URem", "SDiv", "SRem",
    "Shl", "LShr", "AShr", "Concat", "Extract", "ZeroExt", "SignExt",
    "postorder", "variables", "clause_variables", "as_term",
]


@dataclass(frozen=True)
class Sort:
    """The sort of a term: ``bool``, ``int``, ``real`` or ``bv`` with a width."""

    kind: str
    width: int = 0

    def __str__(self) -> str:
        return f"BitVec({self.width})" if self.kind == "bv" else self.kind.capitalize()

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    @property
    def is_bv(self) -> bool:
        return self.kind == "bv"

    @property
    def is_arith(self) -> bool:
        return self.kind in ("int", "real")


BOOL = Sort("bool")
INT = Sort("int")
REAL = Sort("real")


def BitVecSort(width: int) -> Sort:
    """The sort of bit-vectors of ``width`` bits (``width >= 1``)."""
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"bit-vector width must be a positive int, got {width!r}")
    return Sort("bv", width)


TermLike = Union["Term", bool, int, float, Fraction]


class Term:
    """An immutable formula node. Build terms with the functions of this module."""

    __slots__ = ("op", "args", "sort", "value", "_hash")

    op: str
    args: tuple[Term, ...]
    sort: Sort
    value: Any

    def __init__(self, op: str, args: tuple[Term, ...], sort: Sort, value: Any = None) -> None:
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "sort", sort)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_hash", hash((op, args, sort, value)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Term is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Term) or self._hash != other._hash:
            return False
        return (self.op, self.sort, self.value, self.args) == (other.op, other.sort, other.value, other.args)

    def __bool__(self) -> bool:
        raise TypeError(
            "a Term has no Python truth value; combine terms with And/Or/Not and compare with Eq(a, b)"
        )

    def __reduce__(self) -> tuple[Callable[..., Term], tuple[Any, ...]]:
        return (Term, (self.op, self.args, self.sort, self.value))

    # -- inspection --------------------------------------------------------------------------
    @property
    def is_var(self) -> bool:
        return self.op == "var"

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    @property
    def name(self) -> str:
        """The name of a variable."""
        if self.op != "var":
            raise TypeError(f"only variables have a name, this is a {self.op!r} term")
        return self.value

    def __repr__(self) -> str:
        from .smtlib import term_to_smtlib  # local import: printing is rare

        return term_to_smtlib(self)

    # -- operators ---------------------------------------------------------------------------
    def __invert__(self) -> Term:
        return Not(self) if self.sort.is_bool else _bv_unary("bvnot", self)

    def __and__(self, other: TermLike) -> Term:
        return And(self, other) if self.sort.is_bool else _bv_binary("bvand", self, other)

    def __rand__(self, other: TermLike) -> Term:
        return And(other, self) if self.sort.is_bool else _bv_binary("bvand", other, self)

    def __or__(self, other: TermLike) -> Term:
        return Or(self, other) if self.sort.is_bool else _bv_binary("bvor", self, other)

    def __ror__(self, other: TermLike) -> Term:
        return Or(other, self) if self.sort.is_bool else _bv_binary("bvor", other, self)

    def __xor__(self, other: TermLike) -> Term:
        return Xor(self, other) if self.sort.is_bool else _bv_binary("bvxor", self, other)

    def __rxor__(self, other: TermLike) -> Term:
        return Xor(other, self) if self.sort.is_bool else _bv_binary("bvxor", other, self)

    def __add__(self, other: TermLike) -> Term:
        return _arith("add", self, other)

    def __radd__(self, other: TermLike) -> Term:
        return _arith("add", other, self)

    def __sub__(self, other: TermLike) -> Term:
        return _arith("sub", self, other)

    def __rsub__(self, other: TermLike) -> Term:
        return _arith("sub", other, self)

    def __mul__(self, other: TermLike) -> Term:
        return _arith("mul", self, other)

    def __rmul__(self, other: TermLike) -> Term:
        return _arith("mul", other, self)

    def __neg__(self) -> Term:
        if self.sort.is_bv:
            return _bv_unary("bvneg", self)
        _require_arith(self, "-")
        return Term("neg", (self,), self.sort)

    def __truediv__(self, other: TermLike) -> Term:
        return _divide(self, other)

    def __lt__(self, other: TermLike) -> Term:
        return _compare("lt", self, other)

    def __le__(self, other: TermLike) -> Term:
        return _compare("le", self, other)

    def __gt__(self, other: TermLike) -> Term:
        return _compare("gt", self, other)

    def __ge__(self, other: TermLike) -> Term:
        return _compare("ge", self, other)

    def __lshift__(self, other: TermLike) -> Term:
        return Shl(self, other)

    def __rshift__(self, other: TermLike) -> Term:
        raise TypeError("'>>' is ambiguous for bit-vectors: use LShr (logical) or AShr (arithmetic)")


# -- constructors -----------------------------------------------------------------------------

def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a variable name must be a non-empty string, got {name!r}")
    return name


def Bool(name: str) -> Term:
    """A Boolean variable."""
    return Term("var", (), BOOL, _check_name(name))


def Int(name: str) -> Term:
    """An (unbounded) integer variable."""
    return Term("var", (), INT, _check_name(name))


def Real(name: str) -> Term:
    """A real variable."""
    return Term("var", (), REAL, _check_name(name))


def BitVec(name: str, width: int) -> Term:
    """A bit-vector variable of ``width`` bits."""
    return Term("var", (), BitVecSort(width), _check_name(name))


def BoolVal(value: bool) -> Term:
    return Term("const", (), BOOL, bool(value))


TRUE = BoolVal(True)
FALSE = BoolVal(False)


def IntVal(value: int) -> Term:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"IntVal takes an int, got {type(value).__name__}")
    return Term("const", (), INT, value)


def exact_fraction(value: Any, what: str = "value") -> Fraction:
    """Convert an int, float, Fraction or decimal string to an exact Fraction.

    Floats are converted exactly (``0.1`` becomes ``3602879701896397/36028797018963968``);
    NaN and infinities are rejected.
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number, got a bool")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{what} must be finite, got {value}")
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not a number") from None
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        return Fraction(value.numerator, value.denominator)
    try:  # numpy and torch scalars
        return exact_fraction(value.item(), what)
    except AttributeError:
        raise TypeError(f"{what} must be a number, got {type(value).__name__}") from None


def RealVal(value: int | float | Fraction | str) -> Term:
    return Term("const", (), REAL, exact_fraction(value, "real constant"))


def BitVecVal(value: int, width: int) -> Term:
    """A bit-vector constant. ``value`` may be in ``[-2**(w-1), 2**w)``; it is stored unsigned."""
    sort = BitVecSort(width)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"BitVecVal takes an int, got {type(value).__name__}")
    if not -(1 << (width - 1)) <= value < (1 << width):
        raise ValueError(f"{value} does not fit in {width} bits")
    return Term("const", (), sort, value & ((1 << width) - 1))


def as_term(value: TermLike, like: Sort | None = None) -> Term:
    """Coerce a Python literal to a constant term, using ``like`` to pick the sort."""
    if isinstance(value, Term):
        return value
    if isinstance(value, bool):
        if like is not None and not like.is_bool:
            raise TypeError(f"cannot use the Python bool {value} where a {like} is expected")
        return BoolVal(value)
    if like is not None and like.is_bv:
        if not isinstance(value, int):
            raise TypeError(f"bit-vector constants must be ints, got {value!r}")
        return BitVecVal(value, like.width)
    if like is not None and like.is_bool:
        raise TypeError(f"expected a Boolean term, got the Python value {value!r}")
    if isinstance(value, int) and (like is None or like == INT):
        return IntVal(value)
    if isinstance(value, (int, float, Fraction)):
        return RealVal(value)
    raise TypeError(f"cannot make a term from {type(value).__name__} {value!r}")


# -- Boolean connectives ----------------------------------------------------------------------

def _bool_args(args: Iterable[TermLike], what: str) -> tuple[Term, ...]:
    out = []
    for a in args:
        t = as_term(a, BOOL)
        if not t.sort.is_bool:
            raise TypeError(f"{what} takes Boolean terms, got a {t.sort} term")
        out.append(t)
    return tuple(out)


def _flatten(op: str, args: tuple[Term, ...]) -> tuple[Term, ...]:
    if not any(a.op == op for a in args):
        return args
    return tuple(b for a in args for b in (a.args if a.op == op else (a,)))


def _varargs(args: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(args) == 1 and not isinstance(args[0], Term) and isinstance(args[0], Iterable):
        return tuple(args[0])
    return args


def Not(a: TermLike) -> Term:
    (t,) = _bool_args([a], "Not")
    return t.args[0] if t.op == "not" else Term("not", (t,), BOOL)


def And(*args: TermLike | Iterable[TermLike]) -> Term:
    """Conjunction; ``And()`` is true. Accepts terms or one iterable of terms."""
    ts = _flatten("and", _bool_args(_varargs(args), "And"))
    if not ts:
        return TRUE
    return ts[0] if len(ts) == 1 else Term("and", ts, BOOL)


def Or(*args: TermLike | Iterable[TermLike]) -> Term:
    """Disjunction; ``Or()`` is false. Accepts terms or one iterable of terms."""
    ts = _flatten("or", _bool_args(_varargs(args), "Or"))
    if not ts:
        return FALSE
    return ts[0] if len(ts) == 1 else Term("or", ts, BOOL)


def Xor(a: TermLike, b: TermLike) -> Term:
    return Term("xor", _bool_args([a, b], "Xor"), BOOL)


def Implies(a: TermLike, b: TermLike) -> Term:
    return Term("implies", _bool_args([a, b], "Implies"), BOOL)


def Iff(a: TermLike, b: TermLike) -> Term:
    return Eq(*_bool_args([a, b], "Iff"))


def _same_sort(a: TermLike, b: TermLike, what: str) -> tuple[Term, Term]:
    ta = a if isinstance(a, Term) else None
    tb = b if isinstance(b, Term) else None
    if ta is None and tb is None:
        raise TypeError(f"{what} needs at least one Term argument, got {a!r} and {b!r}")
    ta = as_term(a, tb.sort if tb is not None else None)
    tb = as_term(b, ta.sort)
    if ta.sort.is_arith and tb.sort.is_arith and ta.sort != tb.sort:
        return ToReal(ta), ToReal(tb)
    if ta.sort != tb.sort:
        raise TypeError(f"{what}: sorts differ ({ta.sort} and {tb.sort})")
    return ta, tb


def Eq(a: TermLike, b: TermLike) -> Term:
    """``a = b`` for two terms of the same sort (ints are promoted to reals when mixed)."""
    return Term("eq", _same_sort(a, b, "Eq"), BOOL)


def Distinct(*args: TermLike | Iterable[TermLike]) -> Term:
    items = _varargs(args)
    if len(items) < 2:
        return TRUE
    first = next((x for x in items if isinstance(x, Term)), None)
    if first is None:
        raise TypeError("Distinct needs at least one Term argument")
    ts = tuple(as_term(x, first.sort) for x in items)
    if len({t.sort for t in ts}) != 1:
        raise TypeError(f"Distinct: sorts differ ({', '.join(sorted({str(t.sort) for t in ts}))})")
    return Term("distinct", ts, BOOL)


def Ite(cond: TermLike, then: TermLike, other: TermLike) -> Term:
    """If-then-else on terms of any (matching) sort."""
    (c,) = _bool_args([cond], "Ite condition")
    t, e = _same_sort(then, other, "Ite branches")
    return Term("ite", (c, t, e), t.sort)


# -- cardinality and pseudo-Boolean -----------------------------------------------------------

def _card(op: str, k: int, lits: Iterable[TermLike]) -> Term:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"the bound of a cardinality constraint must be an int, got {k!r}")
    return Term(op, _bool_args(lits, op), BOOL, k)


def AtMost(k: int, lits: Iterable[TermLike]) -> Term:
    """At most ``k`` of ``lits`` are true."""
    return _card("atmost", k, lits)


def AtLeast(k: int, lits: Iterable[TermLike]) -> Term:
    """At least ``k`` of ``lits`` are true."""
    return _card("atleast", k, lits)


def Exactly(k: int, lits: Iterable[TermLike]) -> Term:
    """Exactly ``k`` of ``lits`` are true."""
    return _card("exactly", k, lits)


def _pb(op: str, terms: Sequence[tuple[int, TermLike]], k: int) -> Term:
    coeffs = []
    for c, _ in terms:
        if isinstance(c, bool) or not isinstance(c, int):
            raise TypeError(f"pseudo-Boolean coefficients must be ints, got {c!r}")
        coeffs.append(c)
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"the bound of a pseudo-Boolean constraint must be an int, got {k!r}")
    lits = _bool_args([t for _, t in terms], op)
    return Term(op, lits, BOOL, (tuple(coeffs), k))


def PbLe(terms: Sequence[tuple[int, TermLike]], k: int) -> Term:
    """``sum(c * lit) <= k`` over (coefficient, literal) pairs with integer coefficients."""
    return _pb("pble", terms, k)


def PbGe(terms: Sequence[tuple[int, TermLike]], k: int) -> Term:
    """``sum(c * lit) >= k``."""
    return _pb("pbge", terms, k)


def PbEq(terms: Sequence[tuple[int, TermLike]], k: int) -> Term:
    """``sum(c * lit) == k``."""
    return _pb("pbeq", terms, k)


# -- arithmetic -------------------------------------------------------------------------------

def _require_arith(t: Term, op: str) -> None:
    if not t.sort.is_arith:
        raise TypeError(f"'{op}' needs Int or Real terms, got a {t.sort} term")


def ToReal(a: Term) -> Term:
    """Convert an integer term to a real one (a no-op on reals)."""
    _require_arith(a, "ToReal")
    if a.sort == REAL:
        return a
    if a.is_const:
        return RealVal(a.value)
    return Term("to_real", (a,), REAL)


_BV_ARITH = {"add": "bvadd", "sub": "bvsub", "mul": "bvmul"}


def _arith(op: str, a: TermLike, b: TermLike) -> Term:
    ta, tb = _same_sort(a, b, f"'{op}'")
    if ta.sort.is_bv:
        return Term(_BV_ARITH[op], (ta, tb), ta.sort)
    _require_arith(ta, op)
    if op in ("add", "mul"):
        return Term(op, _flatten(op, (ta, tb)), ta.sort)
    return Term(op, (ta, tb), ta.sort)


def Sum(*args: TermLike | Iterable[TermLike]) -> Term:
    """The sum of Int/Real terms (a flat n-ary node); ``Sum()`` is 0."""
    items = _varargs(args)
    if not items:
        return IntVal(0)
    total = as_term(items[0])
    for x in items[1:]:
        total = _arith("add", total, x)
    return total


def _divide(a: TermLike, b: TermLike) -> Term:
    ta, tb = _same_sort(a, b, "'/'")
    if ta.sort.is_bv:
        raise TypeError("'/' is ambiguous for bit-vectors: use UDiv or SDiv")
    if not tb.is_const or tb.value == 0:
        raise ValueError("real division is only by a nonzero constant; multiply instead")
    ta, tb = ToReal(ta), ToReal(tb)
    return Term("div", (ta, tb), REAL)


def _compare(op: str, a: TermLike, b: TermLike) -> Term:
    ta, tb = _same_sort(a, b, f"'{op}'")
    if ta.sort.is_bv:
        raise TypeError(
            "'<', '<=', '>', '>=' are ambiguous for bit-vectors: use ULT/ULE/UGT/UGE (unsigned) "
            "or SLT/SLE/SGT/SGE (signed)"
        )
    _require_arith(ta, op)
    return Term(op, (ta, tb), BOOL)


# -- bit-vectors ------------------------------------------------------------------------------

def _bv_pair(op: str, a: TermLike, b: TermLike) -> tuple[Term, Term]:
    ta, tb = _same_sort(a, b, op)
    if not ta.sort.is_bv:
        raise TypeError(f"{op} needs bit-vector terms, got {ta.sort}")
    return ta, tb


def _bv_unary(op: str, a: Term) -> Term:
    if not a.sort.is_bv:
        raise TypeError(f"{op} needs a bit-vector term, got {a.sort}")
    return Term(op, (a,), a.sort)


def _bv_binary(op: str, a: TermLike, b: TermLike) -> Term:
    ta, tb = _bv_pair(op, a, b)
    return Term(op, (ta, tb), ta.sort)


def _bv_pred(op: str) -> Callable[[TermLike, TermLike], Term]:
    def pred(a: TermLike, b: TermLike) -> Term:
        return Term(op, _bv_pair(op, a, b), BOOL)

    pred.__name__ = op.upper()
    pred.__doc__ = f"SMT-LIB ``{op}`` on two bit-vectors of the same width."
    return pred


ULT, ULE, UGT, UGE = (_bv_pred(o) for o in ("bvult", "bvule", "bvugt", "bvuge"))
SLT, SLE, SGT, SGE = (_bv_pred(o) for o in ("bvslt", "bvsle", "bvsgt", "bvsge"))


def UDiv(a: TermLike, b: TermLike) -> Term:
    """Unsigned division (``x / 0`` is all ones, as in SMT-LIB)."""
    return _bv_binary("bvudiv", a, b)


def URem(a: TermLike, b: TermLike) -> Term:
    """Unsigned remainder (``x % 0`` is ``x``)."""
    return _bv_binary("bvurem", a, b)


def SDiv(a: TermLike, b: TermLike) -> Term:
    """Signed division rounding toward zero (SMT-LIB ``bvsdiv``)."""
    return _bv_binary("bvsdiv", a, b)


def SRem(a: TermLike, b: TermLike) -> Term:
    """Signed remainder with the sign of the dividend (SMT-LIB ``bvsrem``)."""
    return _bv_binary("bvsrem", a, b)


def Shl(a: TermLike, b: TermLike) -> Term:
    return _bv_binary("bvshl", a, b)


def LShr(a: TermLike, b: TermLike) -> Term:
    return _bv_binary("bvlshr", a, b)


def AShr(a: TermLike, b: TermLike) -> Term:
    return _bv_binary("bvashr", a, b)


def Concat(*args: Term) -> Term:
    """Concatenation; the first argument holds the most significant bits."""
    if len(args) < 1 or not all(isinstance(a, Term) and a.sort.is_bv for a in args):
        raise TypeError("Concat takes one or more bit-vector terms")
    if len(args) == 1:
        return args[0]
    return Term("concat", tuple(args), BitVecSort(sum(a.sort.width for a in args)))


def Extract(hi: int, lo: int, a: Term) -> Term:
    """Bits ``hi`` down to ``lo`` (inclusive) of ``a``."""
    if not isinstance(a, Term) or not a.sort.is_bv:
        raise TypeError("Extract takes a bit-vector term")
    if not 0 <= lo <= hi < a.sort.width:
        raise ValueError(f"Extract({hi}, {lo}) is out of range for a {a.sort.width}-bit vector")
    return Term("extract", (a,), BitVecSort(hi - lo + 1), (hi, lo))


def _extend(op: str, extra: int, a: Term) -> Term:
    if not isinstance(a, Term) or not a.sort.is_bv:
        raise TypeError(f"{op} takes a bit-vector term")
    if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
        raise ValueError(f"{op} needs a non-negative number of extra bits, got {extra!r}")
    return a if extra == 0 else Term(op, (a,), BitVecSort(a.sort.width + extra), extra)


def ZeroExt(extra: int, a: Term) -> Term:
    return _extend("zero_extend", extra, a)


def SignExt(extra: int, a: Term) -> Term:
    return _extend("sign_extend", extra, a)


# -- traversal --------------------------------------------------------------------------------

def postorder(roots: Iterable[Term]) -> Iterator[Term]:
    """Every distinct subterm of ``roots``, each after its arguments (iterative, no recursion)."""
    seen: set[Term] = set()
    for root in roots:
        if root in seen:
            continue
        stack: list[tuple[Term, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if node not in seen:
                    seen.add(node)
                    yield node
                continue
            if node in seen:
                continue
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if a not in seen)


def clause_variables(t: Term) -> list[Term] | None:
    """The variables of a Boolean literal, or of an ``And`` / ``Or`` of literals (a blocking
    clause, say), found without a traversal; ``None`` for any other term."""
    if t.op == "var" and t.sort.is_bool:
        return [t]
    if t.op == "not" and t.args[0].op == "var":
        return [t.args[0]]
    if t.op not in ("and", "or"):
        return None
    out = []
    for a in t.args:
        v = a.args[0] if a.op == "not" else a
        if v.op != "var":
            return None
        out.append(v)
    return out


def variables(roots: Iterable[Term] | Term) -> list[Term]:
    """The variables occurring in ``roots``, in order of first occurrence."""
    if isinstance(roots, Term):
        roots = (roots,)
    return [t for t in postorder(roots) if t.op == "var"]
