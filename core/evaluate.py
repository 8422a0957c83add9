"""Evaluate terms under an assignment, so a backend's model can be checked without trusting it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any, Callable

from .terms import Term, postorder

__all__ = ["evaluate", "Value", "MissingValueError"]

Value = bool | int | Fraction

_Assignment = Mapping[Term, Any] | Mapping[str, Any]


class MissingValueError(KeyError):
    """The assignment gives no value to a variable the term needs."""


def _signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) else v


def _bvsdiv(a: int, b: int, w: int) -> int:
    sa, sb = _signed(a, w), _signed(b, w)
    if sb == 0:
        return (1 if sa < 0 else (1 << w) - 1) & ((1 << w) - 1)
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & ((1 << w) - 1)


def _bvsrem(a: int, b: int, w: int) -> int:
    sa, sb = _signed(a, w), _signed(b, w)
    if sb == 0:
        return a
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & ((1 << w) - 1)


def _pb_sum(t: Term, vals: list[Any]) -> int:
    coeffs, _ = t.value
    return sum(c for c, v in zip(coeffs, vals) if v)


def _shift_amount(b: int, w: int) -> int:
    return min(b, w)


_OPS: dict[str, Callable[[Term, list[Any]], Any]] = {
    "not": lambda t, v: not v[0],
    "and": lambda t, v: all(v),
    "or": lambda t, v: any(v),
    "xor": lambda t, v: v[0] != v[1],
    "implies": lambda t, v: (not v[0]) or v[1],
    "ite": lambda t, v: v[1] if v[0] else v[2],
    "eq": lambda t, v: v[0] == v[1],
    "distinct": lambda t, v: len(set(v)) == len(v),
    "atmost": lambda t, v: sum(map(bool, v)) <= t.value,
    "atleast": lambda t, v: sum(map(bool, v)) >= t.value,
    "exactly": lambda t, v: sum(map(bool, v)) == t.value,
    "pble": lambda t, v: _pb_sum(t, v) <= t.value[1],
    "pbge": lambda t, v: _pb_sum(t, v) >= t.value[1],
    "pbeq": lambda t, v: _pb_sum(t, v) == t.value[1],
    "add": lambda t, v: sum(v[1:], v[0]),
    "sub": lambda t, v: v[0] - v[1],
    "mul": lambda t, v: _product(v),
    "neg": lambda t, v: -v[0],
    "div": lambda t, v: Fraction(v[0]) / v[1],
    "to_real": lambda t, v: Fraction(v[0]),
    "lt": lambda t, v: v[0] < v[1],
    "le": lambda t, v: v[0] <= v[1],
    "gt": lambda t, v: v[0] > v[1],
    "ge": lambda t, v: v[0] >= v[1],
}


def _product(v: list[Any]) -> Any:
    out = v[0]
    for x in v[1:]:
        out = out * x
    return out


def _bv(t: Term, v: list[int]) -> Any:
    w = t.args[0].sort.width
    mask = (1 << w) - 1
    a = v[0]
    b = v[1] if len(v) > 1 else 0
    op = t.op
    if op == "bvadd":
        return (a + b) & mask
    if op == "bvsub":
        return (a - b) & mask
    if op == "bvmul":
        return (a * b) & mask
    if op == "bvneg":
        return (-a) & mask
    if op == "bvnot":
        return ~a & mask
    if op == "bvand":
        return a & b
    if op == "bvor":
        return a | b
    if op == "bvxor":
        return a ^ b
    if op == "bvshl":
        return (a << _shift_amount(b, w)) & mask
    if op == "bvlshr":
        return a >> _shift_amount(b, w)
    if op == "bvashr":
        return (_signed(a, w) >> _shift_amount(b, w)) & mask
    if op == "bvudiv":
        return mask if b == 0 else a // b
    if op == "bvurem":
        return a if b == 0 else a % b
    if op == "bvsdiv":
        return _bvsdiv(a, b, w)
    if op == "bvsrem":
        return _bvsrem(a, b, w)
    if op == "bvult":
        return a < b
    if op == "bvule":
        return a <= b
    if op == "bvugt":
        return a > b
    if op == "bvuge":
        return a >= b
    if op in ("bvslt", "bvsle", "bvsgt", "bvsge"):
        sa, sb = _signed(a, w), _signed(b, w)
        return {"bvslt": sa < sb, "bvsle": sa <= sb, "bvsgt": sa > sb, "bvsge": sa >= sb}[op]
    if op == "concat":
        out = 0
        for arg, val in zip(t.args, v):
            out = (out << arg.sort.width) | val
        return out
    if op == "extract":
        hi, lo = t.value
        return (a >> lo) & ((1 << (hi - lo + 1)) - 1)
    if op == "zero_extend":
        return a
    if op == "sign_extend":
        return _signed(a, w) & ((1 << t.sort.width) - 1)
    raise ValueError(f"unknown bit-vector operation {op!r}")


def _lookup(var: Term, model: Mapping[Any, Any]) -> Any:
    if var in model:
        value = model[var]
    elif var.value in model:
        value = model[var.value]
    else:
        raise MissingValueError(f"the assignment has no value for variable {var.name!r}")
    sort = var.sort
    if sort.is_bool:
        return bool(value)
    if sort.is_bv:
        return int(value) & ((1 << sort.width) - 1)
    if sort.kind == "int":
        return int(value)
    return Fraction(value)


def evaluate(term: Term, model: _Assignment, *, default: Any = None) -> Value:
    """The value of ``term`` under ``model`` (keyed by variable terms or names).

    Booleans come back as ``bool``, integers and bit-vectors (unsigned) as ``int``, reals as
    ``Fraction``. A variable the model lacks raises :class:`MissingValueError` unless ``default``
    is given (solvers may leave irrelevant variables out of a model; ``False``/``0`` then works).
    """
    return evaluate_many((term,), model, default=default)[0]


def evaluate_many(terms: Iterable[Term], model: _Assignment, *, default: Any = None) -> list[Value]:
    """Evaluate several terms sharing one memo of subterm values."""
    terms = list(terms)
    values: dict[Term, Any] = {}
    for t in postorder(terms):
        if t.op == "const":
            values[t] = t.value
        elif t.op == "var":
            try:
                values[t] = _lookup(t, model)
            except MissingValueError:
                if default is None:
                    raise
                values[t] = _lookup(t, {t: default})
        else:
            args = [values[a] for a in t.args]
            fn = _OPS.get(t.op)
            values[t] = fn(t, args) if fn is not None else _bv(t, args)
    return [values[t] for t in terms]
