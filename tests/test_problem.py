"""Problems: exact weights, clear errors for bad input, no mutation of what the user gave."""

from fractions import Fraction

import pytest

import solverlayers as sl


def test_float_weights_are_converted_exactly():
    p = sl.Problem()
    s = p.add_soft(sl.Bool("x"), 0.1)
    assert s.weight == Fraction(0.1) and s.weight != Fraction(1, 10)
    assert p.add_soft(sl.Bool("y"), "1/3").weight == Fraction(1, 3)
    assert p.add_soft(sl.Bool("z"), 1e-7).weight > 0  # z3 would round this to 0


@pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf"), -0.5, "abc", True])
def test_bad_weights_are_rejected(weight):
    with pytest.raises((ValueError, TypeError), match="weight|number"):
        sl.Problem().add_soft(sl.Bool("x"), weight, name="s1")


def test_python_bool_constraint_names_the_mistake():
    x = sl.Int("x")
    with pytest.raises(TypeError, match="Eq"):
        sl.Problem([x == 3])


def test_variable_with_two_sorts_is_an_error():
    with pytest.raises(TypeError, match="both"):
        sl.Problem([sl.Bool("v"), sl.Eq(sl.Int("v"), 1)])


def test_cost_and_satisfaction():
    x, y = sl.Bool("x"), sl.Bool("y")
    p = sl.Problem([x | y])
    p.add_soft(~x, 2)
    p.add_soft(~y, "1/2")
    assert p.satisfied_by({"x": False, "y": True})
    assert not p.satisfied_by({"x": False, "y": False})
    assert p.cost({"x": True, "y": False}) == 2
    assert p.cost({"x": False, "y": True}) == Fraction(1, 2)


def test_copy_is_independent_and_inputs_untouched():
    constraints = [sl.Bool("x")]
    p = sl.Problem(constraints)
    q = p.copy().add(sl.Bool("y"))
    assert len(p) == 1 and len(q) == 2 and constraints == [sl.Bool("x")]


def test_smtlib_output_declares_and_asserts():
    a = sl.BitVec("a", 4)
    p = sl.Problem([sl.ULE(a, 9)])
    p.add_soft(sl.Eq(a, 3), 2, name="three")
    text = p.to_smtlib()
    assert "(declare-fun a () (_ BitVec 4))" in text
    assert "(assert (bvule a #b1001))" in text
    assert "(assert-soft (= a #b0011) :weight 2 :id three)" in text
