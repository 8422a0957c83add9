"""Bit-blasting: circuits for the SMT-LIB bit-vector operations over literal vectors.

A bit-vector is a list of literals, least significant bit first. Each function builds gates in a
:class:`~solverlayers.encodings.tseitin.Gates` and returns the result's literals (a literal for
predicates). Semantics are SMT-LIB's: ``bvudiv`` by zero is all ones, ``bvurem`` by zero is the
dividend, shifts by the width or more give zero (or the sign for ``bvashr``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .tseitin import FALSE, TRUE, Gates

__all__ = [
    "Bits", "constant", "add", "neg", "sub", "mul", "udivrem", "udiv", "urem", "sdiv", "srem",
    "shl", "lshr", "ashr", "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "ult", "ule", "slt", "sle", "equal", "ite", "PREDICATES", "BINARY",
]

Bits = list[int]


def constant(value: int, width: int) -> Bits:
    """The literals of an unsigned constant."""
    return [TRUE if value >> i & 1 else FALSE for i in range(width)]


def add(g: Gates, a: Sequence[int], b: Sequence[int], carry: int = FALSE) -> tuple[Bits, int]:
    """Ripple-carry sum of two equal-width vectors and the carry out."""
    out: Bits = []
    for x, y in zip(a, b, strict=True):
        half = g.xor_(x, y)
        out.append(g.xor_(half, carry))
        carry = g.ite(half, carry, x)  # majority(x, y, carry)
    return out, carry


def bitwise_not(a: Sequence[int]) -> Bits:
    return [-x for x in a]


def neg(g: Gates, a: Sequence[int]) -> Bits:
    """Two's complement negation."""
    return add(g, bitwise_not(a), constant(0, len(a)), TRUE)[0]


def sub(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return add(g, a, bitwise_not(b), TRUE)[0]


def mul(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    """Shift-and-add product, truncated to the width."""
    w = len(a)
    acc = [g.and_((a[j], b[0])) for j in range(w)]
    for i in range(1, w):
        row = [g.and_((a[j], b[i])) for j in range(w - i)]
        acc = acc[:i] + add(g, acc[i:], row)[0]
    return acc


def udivrem(g: Gates, a: Sequence[int], b: Sequence[int]) -> tuple[Bits, Bits]:
    """Restoring division: quotient and remainder, with SMT-LIB's division by zero.

    With ``b = 0`` every trial subtraction succeeds, so the quotient is all ones and the
    remainder collects the dividend's bits, exactly as SMT-LIB defines it.
    """
    w = len(a)
    wide_b = [*b, FALSE]
    rem: Bits = constant(0, w)
    quot: Bits = [FALSE] * w
    for i in reversed(range(w)):
        shifted = [a[i], *rem]  # (rem << 1) | a[i], on w + 1 bits
        diff, no_borrow = add(g, shifted, bitwise_not(wide_b), TRUE)
        quot[i] = no_borrow  # shifted >= b
        rem = [g.ite(no_borrow, d, s) for d, s in zip(diff[:w], shifted[:w])]
    return quot, rem


def udiv(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return udivrem(g, a, b)[0]


def urem(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return udivrem(g, a, b)[1]


def _abs(g: Gates, a: Sequence[int]) -> Bits:
    return ite(g, a[-1], neg(g, a), a)


def sdiv(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    """Signed division rounding toward zero, via unsigned division of absolute values."""
    q = udiv(g, _abs(g, a), _abs(g, b))
    return ite(g, g.xor_(a[-1], b[-1]), neg(g, q), q)


def srem(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    """Signed remainder with the sign of the dividend."""
    r = urem(g, _abs(g, a), _abs(g, b))
    return ite(g, a[-1], neg(g, r), r)


def _shift(g: Gates, a: Sequence[int], b: Sequence[int], step: Callable[[Bits, int], Bits], fill: int) -> Bits:
    """Barrel shifter: one stage per bit of ``b`` below the width, then overflow to ``fill``."""
    w = len(a)
    cur = list(a)
    overflow: list[int] = []
    for j, bit in enumerate(b):
        if (1 << j) < w:
            moved = step(cur, 1 << j)
            cur = [g.ite(bit, m, c) for m, c in zip(moved, cur)]
        else:
            overflow.append(bit)
    big = g.or_(overflow)
    return [g.ite(big, fill, c) for c in cur]


def shl(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return _shift(g, a, b, lambda v, s: [FALSE] * s + v[: len(v) - s], FALSE)


def lshr(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return _shift(g, a, b, lambda v, s: v[s:] + [FALSE] * s, FALSE)


def ashr(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    sign = a[-1]
    return _shift(g, a, b, lambda v, s: v[s:] + [sign] * s, sign)


def bitwise_and(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return [g.and_((x, y)) for x, y in zip(a, b, strict=True)]


def bitwise_or(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return [g.or_((x, y)) for x, y in zip(a, b, strict=True)]


def bitwise_xor(g: Gates, a: Sequence[int], b: Sequence[int]) -> Bits:
    return [g.xor_(x, y) for x, y in zip(a, b, strict=True)]


def ult(g: Gates, a: Sequence[int], b: Sequence[int]) -> int:
    """Unsigned ``a < b``: the most significant differing bit decides."""
    less = FALSE
    for x, y in zip(a, b, strict=True):
        less = g.ite(g.xor_(x, y), y, less)
    return less


def ule(g: Gates, a: Sequence[int], b: Sequence[int]) -> int:
    return -ult(g, b, a)


def _flip_sign(a: Sequence[int]) -> Bits:
    return [*a[:-1], -a[-1]]


def slt(g: Gates, a: Sequence[int], b: Sequence[int]) -> int:
    """Signed ``a < b``: unsigned comparison with the sign bits inverted."""
    return ult(g, _flip_sign(a), _flip_sign(b))


def sle(g: Gates, a: Sequence[int], b: Sequence[int]) -> int:
    return -slt(g, b, a)


def equal(g: Gates, a: Sequence[int], b: Sequence[int]) -> int:
    return g.equal(a, b)


def ite(g: Gates, c: int, t: Sequence[int], e: Sequence[int]) -> Bits:
    return [g.ite(c, x, y) for x, y in zip(t, e, strict=True)]


# Term operation name -> circuit, for the binary operations and predicates of solverlayers.terms.
BINARY: dict[str, Callable[[Gates, Sequence[int], Sequence[int]], Bits]] = {
    "bvadd": lambda g, a, b: add(g, a, b)[0],
    "bvsub": sub, "bvmul": mul, "bvudiv": udiv, "bvurem": urem, "bvsdiv": sdiv, "bvsrem": srem,
    "bvshl": shl, "bvlshr": lshr, "bvashr": ashr,
    "bvand": bitwise_and, "bvor": bitwise_or, "bvxor": bitwise_xor,
}

PREDICATES: dict[str, Callable[[Gates, Sequence[int], Sequence[int]], int]] = {
    "bvult": ult, "bvule": ule, "bvslt": slt, "bvsle": sle,
    "bvugt": lambda g, a, b: ult(g, b, a), "bvuge": lambda g, a, b: ule(g, b, a),
    "bvsgt": lambda g, a, b: slt(g, b, a), "bvsge": lambda g, a, b: sle(g, b, a),
}
