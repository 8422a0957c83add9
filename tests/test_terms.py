"""The builder API: sorts, coercions, operator dispatch, clear errors, traversal."""

import pickle
from fractions import Fraction

import pytest

import solverlayers as sl
from solverlayers.capabilities import Theory, theories_of
from solverlayers.terms import postorder, variables


def test_structural_equality_and_hashing():
    x1, x2 = sl.Bool("x"), sl.Bool("x")
    assert x1 == x2 and hash(x1) == hash(x2)
    assert sl.Bool("x") != sl.Int("x")
    assert len({sl.And(x1, sl.Bool("y")), sl.And(x2, sl.Bool("y"))}) == 1


def test_terms_have_no_truth_value():
    x = sl.Int("x")
    with pytest.raises(TypeError, match="no Python truth value"):
        bool(x < 3)


def test_python_literals_coerce_to_the_other_sort():
    a = sl.BitVec("a", 4)
    assert (a + 1).args[1] == sl.BitVecVal(1, 4)
    assert (a + -1).args[1] == sl.BitVecVal(15, 4)
    r = sl.Real("r")
    assert (r * 0.5).args[1] == sl.RealVal(Fraction(1, 2))
    i = sl.Int("i")
    mixed = i + r
    assert mixed.sort == sl.REAL and mixed.args[0].op == "to_real"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: sl.BitVec("a", 4) < sl.BitVec("b", 4), "ULT"),
        (lambda: sl.BitVec("a", 4) >> 1, "LShr"),
        (lambda: sl.BitVec("a", 4) / sl.BitVec("b", 4), "UDiv"),
        (lambda: sl.BitVec("a", 4) + sl.BitVec("b", 5), "sorts differ"),
        (lambda: sl.And(sl.Bool("x"), sl.Int("i")), "Boolean"),
        (lambda: sl.Real("r") / sl.Real("s"), "nonzero constant"),
        (lambda: sl.BitVecVal(16, 4), "does not fit"),
        (lambda: sl.Extract(4, 0, sl.BitVec("a", 4)), "out of range"),
        (lambda: sl.Bool(""), "non-empty"),
        (lambda: sl.AtMost(1.5, [sl.Bool("x")]), "must be an int"),
        (lambda: sl.RealVal(float("nan")), "finite"),
    ],
)
def test_bad_input_gets_a_clear_error(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_and_or_flatten_and_accept_iterables():
    xs = [sl.Bool(f"x{i}") for i in range(4)]
    t = sl.And(sl.And(xs[0], xs[1]), xs[2]) & xs[3]
    assert t.op == "and" and t.args == tuple(xs)
    assert sl.Or(xs).args == tuple(xs)
    assert sl.And() == sl.TRUE and sl.Or() == sl.FALSE
    assert sl.Not(sl.Not(xs[0])) == xs[0]


def test_deep_terms_traverse_without_recursion():
    x = sl.Int("x")
    t = x
    for i in range(20000):
        t = sl.Ite(sl.Bool(f"b{i % 7}"), t, x)
    nodes = list(postorder([t]))
    assert nodes[-1] == t
    assert {v.name for v in variables(t)} == {"x"} | {f"b{i}" for i in range(7)}
    assert sl.evaluate(t, {"x": 5, **{f"b{i}": True for i in range(7)}}) == 5


def test_terms_pickle():
    a = sl.BitVec("a", 8)
    t = sl.And(sl.ULT(a, 200), sl.Eq(sl.Extract(3, 0, a), 5))
    assert pickle.loads(pickle.dumps(t)) == t


def test_theories_of_detects_nonlinearity():
    x, y = sl.Real("x"), sl.Real("y")
    assert theories_of([x * 2 <= y]) == {Theory.BOOL, Theory.LRA}
    assert Theory.NRA in theories_of([x * y <= 1])
    assert Theory.BV in theories_of([sl.ULT(sl.BitVec("a", 3), 2)])


def test_repr_is_smtlib():
    a = sl.BitVec("a", 4)
    assert repr(sl.ULE(a, 9)) == "(bvule a #b1001)"
    assert repr(sl.Bool("needs quotes")) == "|needs quotes|"
