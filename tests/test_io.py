"""DIMACS CNF/WCNF reading and writing: exact round trips, precise errors, both WCNF formats."""

from __future__ import annotations

import gzip
import lzma
import random
import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solverlayers as sl
from solverlayers.io import (
    ClauseFile, DimacsWarning, ParseError, UnsupportedFormatError, clause_numbering, format_exact,
    parse_dimacs, read_file, write_cnf, write_wcnf,
)

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


def lit(n: int) -> sl.Term:
    return sl.Bool(f"x{n}") if n > 0 else sl.Not(sl.Bool(f"x{-n}"))


def clause(nums: list[int]) -> sl.Term:
    return sl.Or(*[lit(n) for n in nums])


def contents(problem: sl.Problem) -> tuple[tuple[sl.Term, ...], list[tuple[sl.Term, Fraction]]]:
    return problem.hard, [(s.term, s.weight) for s in problem.soft]


clauses = st.lists(
    st.lists(st.integers(1, 9).flatmap(lambda v: st.sampled_from([v, -v])), max_size=5), max_size=12
)
weights = st.one_of(
    st.integers(1, 10**12),
    st.builds(lambda n, places: Fraction(n, 10**places), st.integers(1, 10**6), st.integers(0, 4)),
)


# -- round trips ------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(clauses)
def test_cnf_round_trip(cls):
    problem = sl.Problem([clause(c) for c in cls])
    text = write_cnf(problem)
    back = parse_dimacs(text, expect="cnf")
    assert back.kind == "cnf" and not back.warnings
    assert back.problem.hard == problem.hard
    assert write_cnf(back.problem, back.variables) == text


@settings(max_examples=150, deadline=None)
@given(clauses, st.lists(st.tuples(st.lists(st.integers(-9, 9).filter(bool), max_size=4), weights), max_size=10),
       st.booleans())
def test_wcnf_round_trip(hard, soft, new_format):
    problem = sl.Problem([clause(c) for c in hard])
    for c, w in soft:
        problem.add_soft(clause(c), w)
    text = write_wcnf(problem, new_format=new_format)
    back = parse_dimacs(text, expect="wcnf")
    assert back.kind == "wcnf" and not back.warnings
    assert contents(back.problem) == contents(problem)
    assert ("p wcnf" in text) is not new_format


@settings(max_examples=100, deadline=None)
@given(clauses, st.lists(st.tuples(st.lists(st.integers(-9, 9).filter(bool), max_size=4), st.integers(1, 99)),
                         max_size=10))
def test_old_and_new_wcnf_parse_to_the_same_problem(hard, soft):
    problem = sl.Problem([clause(c) for c in hard])
    for c, w in soft:
        problem.add_soft(clause(c), w)
    new = parse_dimacs(write_wcnf(problem, new_format=True))
    old = parse_dimacs(write_wcnf(problem, new_format=False))
    assert contents(new.problem) == contents(old.problem) == contents(problem)


def test_shipped_old_and_new_wcnf_examples_agree():
    new, old = read_file(DATA / "example.wcnf"), read_file(DATA / "example_old.wcnf")
    assert isinstance(new, ClauseFile) and isinstance(old, ClauseFile)
    assert contents(new.problem) == contents(old.problem)
    assert len(new.problem.hard) == 5 and len(new.problem.soft) == 6
    assert new.variables == old.variables == [sl.Bool(f"x{i}") for i in range(1, 6)]


# -- reading ----------------------------------------------------------------------------------

def test_reading_builds_typed_clauses():
    cf = parse_dimacs("c comment\np cnf 4 3\n1 -2 0\n  3   0\n0\n", expect="cnf")
    x1, x2, x3, _ = cf.variables
    assert [v.name for v in cf.variables] == ["x1", "x2", "x3", "x4"]  # x4: declared, unused
    assert cf.problem.hard == (sl.Or(x1, ~x2), x3, sl.FALSE)
    assert cf.problem.variables == [x1, x2, x3]


def test_weights_are_exact_and_top_decides_hardness():
    new = parse_dimacs("h 1 2 0\n2.5 -1 0\n0.125 -2 0\n3 1 -2 0\n")
    assert [s.weight for s in new.problem.soft] == [Fraction(5, 2), Fraction(1, 8), Fraction(3)]
    old = parse_dimacs("p wcnf 2 3 10\n10 1 2 0\n12 -1 0\n9 -2 0\n")
    assert len(old.problem.hard) == 2 and [s.weight for s in old.problem.soft] == [9]
    no_top = parse_dimacs("p wcnf 2 2\n10 1 2 0\n1000 -1 0\n")
    assert not no_top.problem.hard and [s.weight for s in no_top.problem.soft] == [10, 1000]


def test_percent_line_ends_the_clauses():
    cf = parse_dimacs("p cnf 2 1\n1 2 0\n%\n0\n\n", expect="cnf")
    assert len(cf.problem.hard) == 1 and not cf.warnings


def test_empty_new_format_file_is_an_empty_problem():
    cf = parse_dimacs("c nothing here\n")
    assert cf.kind == "wcnf" and not cf.problem.hard and not cf.problem.soft and cf.variables == []


def test_clause_count_mismatch_is_a_warning_naming_the_header_line():
    with pytest.warns(DimacsWarning, match=r"f\.cnf:2: the header declares 3 clauses but the file has 1"):
        cf = parse_dimacs("c x\np cnf 2 3\n1 2 0\n", "f.cnf")
    assert cf.warnings == ("f.cnf:2: the header declares 3 clauses but the file has 1",)


@pytest.mark.parametrize(
    "text, expect, line, message",
    [
        ("p cnf 2 2\n1 -2 0\n1 x 0\n", "cnf", 3, "bad token 'x'"),
        ("p cnf 2 2\n1 -2 0\n1 2.0 0\n", "cnf", 3, "bad token '2.0'"),
        ("p cnf 2 1\nc\n1 -0\n", "cnf", 3, "bad token '-0'"),
        ("p cnf 2 1\n\n1 2\n", "cnf", 3, "missing terminating 0"),
        ("p cnf 2 2\n1 0 2 0\n", "cnf", 2, "0 before the end of the clause"),
        ("p cnf 2 1\n1 -3 0\n", "cnf", 2, "literal -3 is out of range: the header declares 2 variables"),
        ("p wcnf 2 1 9\n5 1 3 0\n", "wcnf", 2, "literal 3 is out of range"),
        ("1 2 0\n", "cnf", 1, "clause before the 'p cnf"),
        ("c only a comment\n", "cnf", 1, "no 'p cnf"),
        ("p cnf 2\n", "cnf", 1, "bad header"),
        ("p cnf two 1\n", None, 1, "bad header"),
        ("p dnf 2 1\n", None, 1, "bad header"),
        ("p cnf 2 1\np cnf 2 1\n", None, 2, "second 'p' line (the header is on line 1)"),
        ("h 1 0\np wcnf 2 1\n", None, 2, "before the clauses"),
        ("p cnf 2 1\n1 0\n", "wcnf", 1, "a WCNF file has a 'p wcnf' header"),
        ("p wcnf 2 1 4\n4 1 0\n", "cnf", 1, "weighted files are .wcnf"),
        ("h 1 2 0\nc\n0 1 0\n", None, 3, "weight 0 is not positive"),
        ("h 1 2 0\n-3 1 0\n", "wcnf", 2, "weight -3 is not positive"),
        ("h 1 2 0\nw 1 0\n", "wcnf", 2, "bad weight 'w'"),
        ("h 1 2 0\n1e3 1 0\n", "wcnf", 2, "bad weight '1e3'"),
        ("h 1 2\n", "wcnf", 1, "missing terminating 0"),
        ("h\n", "wcnf", 1, "missing terminating 0"),
        ("p wcnf 2 1 0\n", "wcnf", 1, "top weight 0 is not positive"),
        ("p wcnf 2 2 10\n10 1 0\n0 2 0\n", "wcnf", 3, "weight 0 is not positive"),
    ],
)
def test_malformed_input_names_file_and_line(text, expect, line, message):
    with pytest.raises(ParseError) as info:
        parse_dimacs(text, "bad.dimacs", expect)
    assert info.value.line == line and info.value.source == "bad.dimacs"
    assert str(info.value).startswith(f"bad.dimacs:{line}: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_file_dispatches_on_suffix_and_decompresses(tmp_path):
    text = "p cnf 3 2\n1 2 0\n-3 0\n"
    for name, opener in (("a.cnf", open), ("a.cnf.gz", gzip.open), ("a.cnf.xz", lzma.open)):
        with opener(tmp_path / name, "wt") as handle:
            handle.write(text)
        cf = read_file(tmp_path / name)
        assert isinstance(cf, ClauseFile) and cf.kind == "cnf" and len(cf.problem.hard) == 2
    smt = tmp_path / "a.smt2"
    smt.write_text("(check-sat)\n")
    assert read_file(smt) == "(check-sat)\n"
    (tmp_path / "a.txt").write_text(text)
    with pytest.raises(UnsupportedFormatError, match=r"a\.txt.*\.cnf, \.wcnf, \.smt2"):
        read_file(tmp_path / "a.txt")
    (tmp_path / "b.wcnf").write_text(text)
    with pytest.raises(ParseError, match=r"b\.wcnf:1: a WCNF file"):
        read_file(tmp_path / "b.wcnf")


def test_undecodable_bytes_are_a_bad_token(tmp_path):
    (tmp_path / "u.cnf").write_bytes(b"p cnf 1 1\n1 \xff 0\n")
    with pytest.raises(ParseError, match=r"u\.cnf:2: bad token"):
        read_file(tmp_path / "u.cnf")


# -- writing ----------------------------------------------------------------------------------

def test_writers_number_other_names_by_first_occurrence_and_split_conjunctions():
    a, b, c = sl.Bool("a"), sl.Bool("b"), sl.Bool("c")
    problem = sl.Problem([sl.And(a | ~b, c), sl.TRUE, sl.FALSE])
    assert clause_numbering(problem) == [a, b, c]
    assert write_cnf(problem) == "p cnf 3 3\n1 -2 0\n3 0\n0\n"
    assert write_cnf(problem, variables=[c, b, a, sl.Bool("d")]) == "p cnf 4 3\n3 -2 0\n1 0\n0\n"
    with pytest.raises(ValueError, match="'c' .* is not in `variables`"):
        write_cnf(problem, variables=[a, b])


def test_writers_fill_gaps_in_x_numbering():
    problem = sl.Problem([sl.Bool("x2") | sl.Bool("x5")])
    assert write_cnf(problem) == "p cnf 5 1\n2 5 0\n"


def test_writers_reject_what_is_not_a_clause():
    x, y = sl.Bool("x"), sl.Bool("y")
    with pytest.raises(ValueError, match="hard constraint .* is not a clause"):
        write_cnf(sl.Problem([sl.Xor(x, y)]))
    with pytest.raises(ValueError, match="is not a clause"):
        write_cnf(sl.Problem([sl.Eq(sl.BitVec("v", 2), 1)]))
    soft = sl.Problem([x])
    soft.add_soft(sl.And(x, y), 2)
    with pytest.raises(ValueError, match="1 soft constraints; write it with write_wcnf"):
        write_cnf(soft)
    with pytest.raises(ValueError, match="soft constraint .* is not a clause"):
        write_wcnf(soft)


def test_weights_without_a_decimal_form_are_rejected_and_true_softs_dropped():
    p = sl.Problem()
    p.add_soft(sl.TRUE, 5)
    p.add_soft(sl.Bool("x1"), "2.75")
    assert write_wcnf(p) == "2.75 1 0\n"
    assert write_wcnf(p, new_format=False) == "p wcnf 1 1 8\n2.75 1 0\n"
    p.add_soft(sl.Bool("x1"), Fraction(1, 3))
    with pytest.raises(ValueError, match="1/3 .* scale the weights"):
        write_wcnf(p)


@pytest.mark.parametrize(
    "value, text",
    [(Fraction(7), "7"), (Fraction(5, 2), "2.5"), (Fraction(1, 80), "0.0125"), (Fraction(-5, 4), "-1.25"),
     (Fraction(1, 3), "1/3"), (Fraction(0), "0"), (12, "12")],
)
def test_format_exact(value, text):
    assert format_exact(value) == text
    assert Fraction(text) == value


@pytest.mark.slow
def test_100k_clauses_load_in_seconds():
    rnd = random.Random(0)
    lines = ["p cnf 20000 100000"] + [
        " ".join(str(rnd.choice((1, -1)) * rnd.randint(1, 20000)) for _ in range(3)) + " 0" for _ in range(100000)
    ]
    start = time.perf_counter()
    cf = parse_dimacs("\n".join(lines))
    assert len(cf.problem.hard) == 100000
    assert time.perf_counter() - start < 15  # about 3 s on an idle core
