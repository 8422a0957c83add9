"""The evaluator follows SMT-LIB semantics; it is the oracle every backend is checked against."""

from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

import solverlayers as sl
from solverlayers.evaluate import MissingValueError

W = 4
a, b = sl.BitVec("a", W), sl.BitVec("b", W)


def signed(v, w=W):
    return v - (1 << w) if v >> (w - 1) else v


@pytest.mark.parametrize(
    "term, av, bv, expected",
    [
        (sl.UDiv(a, b), 7, 0, 15),  # x / 0 = all ones
        (sl.URem(a, b), 7, 0, 7),  # x % 0 = x
        (sl.SDiv(a, b), 0b1001, 2, (-3) & 15),  # -7 / 2 rounds toward zero
        (sl.SRem(a, b), 0b1001, 2, (-1) & 15),  # sign of the dividend
        (sl.SDiv(a, b), 0b1001, 0, 1),  # negative / 0 = 1
        (sl.AShr(a, b), 0b1000, 9, 15),  # shifting past the width fills with the sign
        (sl.LShr(a, b), 0b1000, 9, 0),
        (sl.Shl(a, b), 0b0011, 2, 0b1100),
        (sl.SignExt(2, a), 0b1000, 0, 0b111000),
        (sl.Concat(a, b), 0b0001, 0b0010, 0b00010010),
    ],
)
def test_bitvector_corner_cases(term, av, bv, expected):
    assert sl.evaluate(term, {"a": av, "b": bv}) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.integers(0, 15))
def test_signed_comparisons_and_arithmetic_wrap(av, bv):
    m = {"a": av, "b": bv}
    assert sl.evaluate(sl.SLT(a, b), m) == (signed(av) < signed(bv))
    assert sl.evaluate(sl.ULT(a, b), m) == (av < bv)
    assert sl.evaluate(a * b, m) == (av * bv) % 16
    assert sl.evaluate(a - b, m) == (av - bv) % 16


def test_cardinality_and_pseudo_boolean():
    xs = [sl.Bool(f"x{i}") for i in range(4)]
    m = {"x0": True, "x1": True, "x2": False, "x3": True}
    assert sl.evaluate(sl.AtMost(3, xs), m) and not sl.evaluate(sl.AtMost(2, xs), m)
    assert sl.evaluate(sl.Exactly(3, xs), m)
    pb = sl.PbLe([(3, xs[0]), (-2, xs[1]), (5, xs[2])], 1)
    assert sl.evaluate(pb, m)  # 3 - 2 = 1


def test_arithmetic_is_exact():
    x, i = sl.Real("x"), sl.Int("i")
    m = {"x": Fraction(1, 3), "i": 2}
    assert sl.evaluate(x * 3 + i, m) == 3
    assert sl.evaluate(x / 2, m) == Fraction(1, 6)
    assert sl.evaluate(sl.Eq(x * 3, 1), m) is True


def test_missing_values_raise_unless_defaulted():
    with pytest.raises(MissingValueError, match="'a'"):
        sl.evaluate(sl.ULT(a, b), {"b": 1})
    assert sl.evaluate(sl.ULT(a, b), {"b": 1}, default=0) is True
