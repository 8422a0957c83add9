"""DIMACS CNF and WCNF: reading into a :class:`~solverlayers.problem.Problem`, writing clause problems.

Formats read:

* CNF: a ``p cnf NVARS NCLAUSES`` header, then clauses.
* WCNF, old format (MaxSAT Evaluations up to 2021): ``p wcnf NVARS NCLAUSES [TOP]``; every clause
  line starts with its weight, and a weight >= TOP makes the clause hard (without TOP, all are soft).
* WCNF, 2022 format: no ``p`` line; ``h LITS 0`` is a hard clause, ``WEIGHT LITS 0`` a soft one.

Rules common to all three: one clause per line, ending in ``0``; ``c`` lines are comments; a line
holding only ``%`` ends the clauses (as in the SATLIB benchmarks); a literal is a nonzero integer
whose variable lies within the header's NVARS. Weights are positive integers or decimals (``2.5``),
kept exact. A clause count that differs from the header's is only a :class:`DimacsWarning`
(published files often get it wrong), also kept in :attr:`ClauseFile.warnings`; anything else
malformed raises :class:`ParseError` naming the file and line.

DIMACS variable ``i`` is the Boolean variable ``x<i>``. The writers keep that numbering when every
variable is named so (round trips are exact) and otherwise number variables in order of first
occurrence (:func:`clause_numbering`).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from ..problem import Problem
from ..smtlib import format_exact
from ..terms import BOOL, FALSE, TRUE, Bool, Not, Term
from .files import read_text

__all__ = [
    "ClauseFile", "ParseError", "DimacsWarning", "parse_dimacs", "read_dimacs",
    "write_cnf", "write_wcnf", "clause_numbering", "format_exact",
]

Kind = Literal["cnf", "wcnf"]

_CLAUSE = re.compile(r"(?:-?0*[1-9][0-9]*\s+)*0")  # nonzero literals, then the terminating 0
_INT = re.compile(r"-?[0-9]+")
_COUNT = re.compile(r"[0-9]+")
_WEIGHT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_XNAME = re.compile(r"x([1-9][0-9]*)")


class ParseError(ValueError):
    """Malformed DIMACS input; the message reads ``FILE:LINE: problem``."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


class DimacsWarning(UserWarning):
    """A suspicious but readable DIMACS file (the header's clause count is wrong)."""


@dataclass(frozen=True)
class ClauseFile:
    """A parsed DIMACS file. DIMACS variable ``i`` is ``variables[i - 1]`` (the Bool ``x<i>``),
    including variables the header declares but no clause uses."""

    problem: Problem
    variables: list[Term]
    kind: Kind
    warnings: tuple[str, ...] = ()


class _Reader:
    """Line-by-line DIMACS parser state."""

    def __init__(self, source: str, expect: Kind | None) -> None:
        self.source = source
        self.expect = expect
        self.pos: list[Term] = []
        self.neg: list[Term] = []
        self.header: tuple[Kind, int, int, int | Fraction | None] | None = None
        self.header_line = 0
        self.hard: list[Term] = []
        self.soft: list[tuple[Term, int | Fraction]] = []

    def error(self, line: int, problem: str) -> ParseError:
        return ParseError(self.source, line, problem)

    def grow(self, n: int) -> None:
        for i in range(len(self.pos) + 1, n + 1):
            v = Bool(f"x{i}")
            self.pos.append(v)
            self.neg.append(Not(v))

    def run(self, text: str) -> ClauseFile:
        lineno = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] == "c":
                continue
            if line == "%":
                break
            if line[0] == "p":
                self.read_header(line, lineno)
            elif self.header is not None:
                self.read_old(line, lineno)
            elif self.expect == "cnf":
                raise self.error(lineno, "clause before the 'p cnf NVARS NCLAUSES' header")
            else:
                self.read_new(line, lineno)
        if self.header is None and self.expect == "cnf":
            raise self.error(max(lineno, 1), "no 'p cnf NVARS NCLAUSES' header")
        found: list[str] = []
        kind: Kind = "wcnf"
        if self.header is not None:
            kind, _, nclauses, _ = self.header
            count = len(self.hard) + len(self.soft)
            if count != nclauses:
                found.append(
                    f"{self.source}:{self.header_line}: the header declares {nclauses} clauses "
                    f"but the file has {count}"
                )
                warnings.warn(found[-1], DimacsWarning, stacklevel=3)
        problem = Problem(self.hard)
        for term, weight in self.soft:
            problem.add_soft(term, weight)
        return ClauseFile(problem, self.pos, kind, tuple(found))

    def read_header(self, line: str, lineno: int) -> None:
        if self.header is not None:
            raise self.error(lineno, f"a second 'p' line (the header is on line {self.header_line})")
        if self.hard or self.soft:
            raise self.error(lineno, "the 'p' line must come before the clauses")
        toks = line.split()
        fmt = toks[1] if len(toks) > 1 else ""
        counts = toks[2:]
        if (
            toks[0] != "p" or fmt not in ("cnf", "wcnf")
            or len(counts) not in ((2,) if fmt == "cnf" else (2, 3))
            or not all(_COUNT.fullmatch(t) for t in counts[:2])
        ):
            raise self.error(
                lineno, f"bad header {line!r}: expected 'p cnf NVARS NCLAUSES' or 'p wcnf NVARS NCLAUSES [TOP]'"
            )
        if self.expect == "wcnf" and fmt == "cnf":
            raise self.error(lineno, "a WCNF file has a 'p wcnf' header (old format) or none (2022 format)")
        if self.expect == "cnf" and fmt == "wcnf":
            raise self.error(lineno, "a CNF file has a 'p cnf' header; weighted files are .wcnf")
        top = self.weight(counts[2], lineno, "top weight") if len(counts) == 3 else None
        nvars = int(counts[0])
        self.header = ("cnf" if fmt == "cnf" else "wcnf", nvars, int(counts[1]), top)
        self.header_line = lineno
        self.grow(nvars)

    def read_old(self, line: str, lineno: int) -> None:
        """A clause under a header: plain literals (CNF) or a weight first (old WCNF)."""
        assert self.header is not None
        kind, _, _, top = self.header
        if kind == "cnf":
            self.hard.append(self.clause(line, lineno))
            return
        head, rest = _split_first(line)
        weight = self.weight(head, lineno, "weight")
        clause = self.clause(rest, lineno)
        if top is not None and weight >= top:
            self.hard.append(clause)
        else:
            self.soft.append((clause, weight))

    def read_new(self, line: str, lineno: int) -> None:
        """A 2022-format WCNF line: ``h LITS 0`` or ``WEIGHT LITS 0``."""
        head, rest = _split_first(line)
        if head == "h":
            self.hard.append(self.clause(rest, lineno))
        else:
            self.soft.append((self.clause(rest, lineno), self.weight(head, lineno, "weight")))

    def weight(self, tok: str, lineno: int, what: str) -> int | Fraction:
        if not _WEIGHT.fullmatch(tok):
            raise self.error(lineno, f"bad {what} {tok!r}: expected a positive integer or decimal")
        value = int(tok) if _INT.fullmatch(tok) else Fraction(tok)
        if value <= 0:
            raise self.error(lineno, f"{what} {tok} is not positive")
        return value

    def clause(self, text: str, lineno: int) -> Term:
        if not _CLAUSE.fullmatch(text):
            raise self.error(lineno, _diagnose(text))
        nums = list(map(int, text.split()))
        nums.pop()
        pos, neg = self.pos, self.neg
        try:
            lits = tuple([pos[n - 1] if n > 0 else neg[-n - 1] for n in nums])
        except IndexError:  # a variable beyond those made so far
            if self.header is not None:
                lit = next(n for n in nums if abs(n) > self.header[1])
                raise self.error(
                    lineno, f"literal {lit} is out of range: the header declares {self.header[1]} variables"
                ) from None
            self.grow(max(map(abs, nums)))
            return self.clause(text, lineno)
        if len(lits) > 1:
            return Term("or", lits, BOOL)  # what Or(*lits) builds, without its per-argument checks
        return lits[0] if lits else FALSE


def _split_first(line: str) -> tuple[str, str]:
    parts = line.split(None, 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _diagnose(text: str) -> str:
    """Why ``text`` is not a clause (literals ending in 0)."""
    toks = text.split()
    for i, tok in enumerate(toks):
        if not _INT.fullmatch(tok):
            return f"bad token {tok!r}: a literal is a nonzero integer"
        if int(tok) == 0:
            if tok != "0":
                return f"bad token {tok!r}: a literal is a nonzero integer"
            if i < len(toks) - 1:
                return "0 before the end of the clause: write one clause per line, each ending in 0"
    return "missing terminating 0"


def parse_dimacs(text: str, source: str = "<string>", expect: Kind | None = None) -> ClauseFile:
    """Parse DIMACS text. ``expect`` insists on ``"cnf"`` (a ``p cnf`` header is then required)
    or ``"wcnf"`` (old or 2022 format); ``None`` decides by the header (none: 2022 WCNF)."""
    return _Reader(source, expect).run(text)


def read_dimacs(path: str | os.PathLike[str], expect: Kind | None = None) -> ClauseFile:
    """Read a DIMACS file (optionally ``.gz``/``.bz2``/``.xz`` compressed); see :func:`parse_dimacs`."""
    return parse_dimacs(read_text(path), os.fspath(path), expect)


# -- writing ----------------------------------------------------------------------------------

def clause_numbering(problem: Problem) -> list[Term]:
    """The variables in DIMACS order: if all are Bools named ``x<i>``, ``x<i>`` is number ``i``
    (unused numbers are filled in); otherwise in order of first occurrence."""
    found = problem.variables
    indices = []
    for v in found:
        m = _XNAME.fullmatch(v.value)
        if m is None or not v.sort.is_bool:
            return found
        indices.append(int(m[1]))
    return [Bool(f"x{i}") for i in range(1, max(indices, default=0) + 1)]


def _index(problem: Problem, variables: Sequence[Term] | None) -> dict[Term, int]:
    order = clause_numbering(problem) if variables is None else list(variables)
    return {v: i for i, v in enumerate(order, 1)}


def _clause(term: Term, index: dict[Term, int], what: str) -> str:
    """The DIMACS line body (literals and 0) of a clause term."""
    parts = term.args if term.op == "or" else () if term == FALSE else (term,)
    out = []
    for lit in parts:
        var = lit.args[0] if lit.op == "not" else lit
        if var.op != "var" or not var.sort.is_bool:
            raise ValueError(
                f"{what} {term!r} is not a clause (a Boolean literal or an Or of literals); "
                "DIMACS holds clauses only"
            )
        if var not in index:
            raise ValueError(f"variable {var.value!r} of {what} {term!r} is not in `variables`")
        out.append(-index[var] if lit.op == "not" else index[var])
    out.append(0)
    return " ".join(map(str, out))


def _hard_clauses(problem: Problem, index: dict[Term, int]) -> list[str]:
    """Hard constraints as clause lines; a conjunction is split, ``TRUE`` dropped."""
    out: list[str] = []
    stack = list(reversed(problem.hard))
    while stack:
        term = stack.pop()
        if term.op == "and":
            stack.extend(reversed(term.args))
        elif term != TRUE:
            out.append(_clause(term, index, "hard constraint"))
    return out


def _weight_text(weight: Fraction, term: Term) -> str:
    text = format_exact(weight)
    if "/" in text:
        raise ValueError(
            f"the weight {text} of soft constraint {term!r} is not an integer or finite decimal; "
            "scale the weights to write them in WCNF"
        )
    return text


def write_cnf(problem: Problem, variables: Sequence[Term] | None = None) -> str:
    """DIMACS CNF text of a problem of clauses (literals, Ors of literals, and conjunctions of
    these). ``variables`` fixes the numbering (variable ``i`` is ``variables[i-1]``);
    by default :func:`clause_numbering`."""
    if problem.soft:
        raise ValueError(f"the problem has {len(problem.soft)} soft constraints; write it with write_wcnf")
    index = _index(problem, variables)
    lines = _hard_clauses(problem, index)
    return "\n".join([f"p cnf {len(index)} {len(lines)}", *lines]) + "\n"


def write_wcnf(problem: Problem, new_format: bool = True, variables: Sequence[Term] | None = None) -> str:
    """DIMACS WCNF text: the 2022 format (``h`` lines) or, with ``new_format=False``, the old one
    (``p wcnf`` header; hard clauses weigh TOP = 1 + the integer part of the total soft weight).
    Soft constraints must be clauses with integer or finite-decimal weights; ``TRUE`` ones are
    dropped (they are never violated)."""
    index = _index(problem, variables)
    hard = _hard_clauses(problem, index)
    soft = [
        (_weight_text(s.weight, s.term), _clause(s.term, index, "soft constraint"))
        for s in problem.soft if s.term != TRUE
    ]
    if new_format:
        lines = [f"h {c}" for c in hard] + [f"{w} {c}" for w, c in soft]
    else:
        top = math.floor(sum((s.weight for s in problem.soft), Fraction(0))) + 1
        lines = [f"p wcnf {len(index)} {len(hard) + len(soft)} {top}"]
        lines += [f"{top} {c}" for c in hard] + [f"{w} {c}" for w, c in soft]
    return "\n".join(lines) + "\n"
