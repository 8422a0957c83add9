"""SMT-LIB2 text for terms and problems (writing only; parsing is a backend capability)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

from .terms import Sort, Term, postorder

__all__ = ["term_to_smtlib", "sort_to_smtlib", "symbol", "format_exact", "decimal_text"]

_SIMPLE_SYMBOL = re.compile(r"^[A-Za-z~!@$%^&*_+=<>.?/\-][A-Za-z0-9~!@$%^&*_+=<>.?/\-]*$")

_NAMES = {
    "not": "not", "and": "and", "or": "or", "xor": "xor", "implies": "=>", "ite": "ite",
    "eq": "=", "distinct": "distinct", "add": "+", "sub": "-", "mul": "*", "neg": "-",
    "div": "/", "to_real": "to_real", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
}


def symbol(name: str) -> str:
    """``name`` as an SMT-LIB symbol, quoted with ``|...|`` when needed."""
    if _SIMPLE_SYMBOL.match(name):
        return name
    if "|" in name or "\\" in name:
        raise ValueError(f"variable name {name!r} cannot be written in SMT-LIB (contains | or \\)")
    return f"|{name}|"


def sort_to_smtlib(sort: Sort) -> str:
    if sort.is_bv:
        return f"(_ BitVec {sort.width})"
    return {"bool": "Bool", "int": "Int", "real": "Real"}[sort.kind]


def _number(value: Fraction | int, real: bool) -> str:
    value = Fraction(value)
    num, den = abs(value.numerator), value.denominator
    text = f"{num}.0" if real and den == 1 else (str(num) if den == 1 else f"(/ {num}.0 {den}.0)" if real else str(num))
    return f"(- {text})" if value < 0 else text


def _const(t: Term) -> str:
    if t.sort.is_bool:
        return "true" if t.value else "false"
    if t.sort.is_bv:
        return f"#b{t.value:0{t.sort.width}b}"
    return _number(t.value, t.sort.kind == "real")


def _card(t: Term, args: list[str]) -> str:
    ones = [f"(ite {a} 1 0)" for a in args] or ["0"]
    total = ones[0] if len(ones) == 1 else f"(+ {' '.join(ones)})"
    rel = {"atmost": "<=", "atleast": ">=", "exactly": "="}[t.op]
    return f"({rel} {total} {_number(t.value, False)})"


def _pb(t: Term, args: list[str]) -> str:
    coeffs, k = t.value
    parts = [f"(ite {a} {_number(c, False)} 0)" for c, a in zip(coeffs, args)] or ["0"]
    total = parts[0] if len(parts) == 1 else f"(+ {' '.join(parts)})"
    rel = {"pble": "<=", "pbge": ">=", "pbeq": "="}[t.op]
    return f"({rel} {total} {_number(k, False)})"


def _node(t: Term, args: list[str]) -> str:
    op = t.op
    if op == "const":
        return _const(t)
    if op == "var":
        return symbol(t.value)
    if op in ("atmost", "atleast", "exactly"):
        return _card(t, args)
    if op in ("pble", "pbge", "pbeq"):
        return _pb(t, args)
    if op == "extract":
        hi, lo = t.value
        return f"((_ extract {hi} {lo}) {args[0]})"
    if op in ("zero_extend", "sign_extend"):
        return f"((_ {op} {t.value}) {args[0]})"
    name = _NAMES.get(op, op)
    return f"({name} {' '.join(args)})"


def term_to_smtlib(term: Term) -> str:
    """The SMT-LIB2 text of ``term`` (shared subterms are written out in full)."""
    text: dict[Term, str] = {}
    for t in postorder((term,)):
        text[t] = _node(t, [text[a] for a in t.args])
    return text[term]


def declarations(terms: Iterable[Term]) -> list[str]:
    """``declare-fun`` lines for the variables of ``terms``, in order of first occurrence."""
    return [
        f"(declare-fun {symbol(v.value)} () {sort_to_smtlib(v.sort)})"
        for v in postorder(terms) if v.op == "var"
    ]


def format_exact(value: int | Fraction) -> str:
    """``value`` exactly: an integer (``3``), else a finite decimal (``2.25``), else ``p/q``."""
    q = Fraction(value)
    if q.denominator == 1:
        return str(q.numerator)
    rest, twos, fives = q.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{q.numerator}/{q.denominator}"
    places = max(twos, fives)
    digits = str(abs(q.numerator) * 10**places // q.denominator).rjust(places + 1, "0")
    return f"{'-' if q < 0 else ''}{digits[:-places]}.{digits[-places:]}"


def decimal_text(value: Fraction) -> str:
    """``value`` as a decimal numeral: exact when it has a finite expansion, else 30 digits."""
    text = format_exact(value)
    if "/" in text:
        scaled = abs(value.numerator) * 10**30 // value.denominator
        digits = str(scaled).rjust(31, "0")
        text = f"{'-' if value < 0 else ''}{digits[:-30]}.{digits[-30:]}"
    return text
