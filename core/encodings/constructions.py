"""The standard SAT constructions as core Terms: Tseitin transformation, ExactlyOne and
AtMostK / AtLeastK / ExactlyK by sequential counter or totalizer.

Every function returns clauses (``Or`` terms, single literals, or ``FALSE`` for the empty
clause) over the caller's literals and fresh Boolean variables, so the result is pure Boolean
and every backend accepts it. The algorithms are the integer-literal ones of
:mod:`.cardinality` and :mod:`.cnf`: the caller's literals are numbered, the integer encoding is
run, and its auxiliary variables become fresh :class:`Term` variables.

Fresh variables are named ``{prefix}{n}``. Pass a :class:`Fresh` (shared across calls) or a
prefix string; by default each call gets its own reserved prefix ``__sl_enc_<call>_``, so
constructions added to one problem never share an auxiliary variable by accident.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from ..terms import FALSE, TRUE, Bool, BoolVal, Not, Or, Term, TermLike, as_term, postorder
from . import cardinality
from .cardinality import ENCODINGS, Encoding
from .cnf import CnfBuilder
from .tseitin import TRUE as TRUE_LIT

__all__ = [
    "RESERVED_PREFIX", "Fresh", "tseitin", "at_most_one", "exactly_one",
    "at_most_k", "at_least_k", "exactly_k", "guard",
]

RESERVED_PREFIX = "__sl_enc_"
_calls = itertools.count()


class Fresh:
    """An allocator of fresh Boolean variables ``{prefix}1``, ``{prefix}2``, ...

    Without a prefix it takes a reserved one unique to this allocator. A caller-given prefix must
    not start any of the caller's own variable names.
    """

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = f"{RESERVED_PREFIX}{next(_calls)}_" if prefix is None else prefix
        if not self.prefix:
            raise ValueError("the prefix of fresh variables must be a non-empty string")
        self.count = 0

    def __call__(self) -> Term:
        self.count += 1
        return Bool(f"{self.prefix}{self.count}")


FreshLike = Fresh | str | None


def _allocator(fresh: FreshLike) -> Fresh:
    return fresh if isinstance(fresh, Fresh) else Fresh(fresh)


def _clause(lits: Iterable[Term]) -> Term | None:
    """A clause term with constants folded; ``None`` when it is trivially true."""
    out: list[Term] = []
    for lit in lits:
        if lit == TRUE:
            return None
        if lit != FALSE:
            out.append(lit)
    return Or(out)


class _Numbering:
    """Terms for DIMACS variables: ``known`` ones, and a fresh Term for any other on first use."""

    def __init__(self, known: dict[int, Term], fresh: FreshLike) -> None:
        self.known = known
        self.top = max(known, default=0)
        self._fresh = fresh
        self._allocated: Fresh | None = None

    @classmethod
    def of(cls, lits: Iterable[TermLike], fresh: FreshLike) -> tuple[_Numbering, list[int]]:
        """A numbering of the caller's literals as ``1..n``, and those numbers."""
        known: dict[int, Term] = {}
        for i, lit in enumerate(lits, 1):
            t = as_term(lit)
            if not t.sort.is_bool:
                raise TypeError(f"cardinality constructions take Boolean literals, got a {t.sort} term")
            known[i] = t
        return cls(known, fresh), list(known)

    def new_var(self) -> int:
        self.top += 1
        return self.top

    def term(self, lit: int) -> Term:
        var = abs(lit)
        t = self.known.get(var)
        if t is None:
            if self._allocated is None:
                self._allocated = _allocator(self._fresh)
            t = self.known[var] = self._allocated()
        if t.is_const:
            return BoolVal(t.value is (lit > 0))
        return t if lit > 0 else Not(t)

    def clauses(self, clauses: Iterable[Iterable[int]]) -> list[Term]:
        out = (_clause(self.term(lit) for lit in clause) for clause in clauses)
        return [c for c in out if c is not None]


def _check_encoding(encoding: str) -> Encoding:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown cardinality encoding {encoding!r}; choose one of: {', '.join(ENCODINGS)}")
    return encoding  # type: ignore[return-value]


def _check_bound(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"the bound of a cardinality constraint must be an int, got {k!r}")
    return k


def tseitin(term: Term, fresh: FreshLike = None, *, cardinality: str = "totalizer") -> tuple[list[Term], Term]:
    """The Tseitin transformation of a pure Boolean ``term``: ``(definitions, literal)``.

    ``definitions`` are CNF clauses that define one fresh variable per gate by an equivalence
    (the recipes of the tutorial's equation 6, with constant folding and shared subterms encoded
    once); ``literal`` is a variable of ``term``, a fresh variable, a negation of one, or a
    constant. For every assignment of ``term``'s variables exactly one extension to the fresh
    variables satisfies ``definitions``, and under it ``literal`` has the value of ``term``; so
    ``definitions + [literal]`` is an equisatisfiable CNF of ``term``. Cardinality and
    pseudo-Boolean subterms are encoded too (``cardinality`` picks the counter).
    """
    bad = next((t for t in postorder([term]) if not t.sort.is_bool), None)
    if bad is not None:
        raise TypeError(f"tseitin takes pure Boolean terms; this one contains a {bad.sort} term")
    builder = CnfBuilder(_check_encoding(cardinality))
    root = builder.literal(term)
    known = {builder.literal(v): v for v in builder.variables}
    numbering = _Numbering({**known, TRUE_LIT: TRUE}, fresh)
    return numbering.clauses(builder.clauses), numbering.term(root)


def at_most_one(lits: Sequence[TermLike]) -> list[Term]:
    """Pairwise at-most-one: ``~a | ~b`` for every pair (no auxiliary variables)."""
    n, ids = _Numbering.of(lits, None)
    return n.clauses(cardinality.at_most_one(ids))


def exactly_one(lits: Sequence[TermLike]) -> list[Term]:
    """The tutorial's ExactlyOne (equation 12): the clause of all ``lits`` plus at-most-one."""
    n, ids = _Numbering.of(lits, None)
    return n.clauses(cardinality.exactly_one(ids))


def at_most_k(k: int, lits: Sequence[TermLike], encoding: str = "seqcounter", fresh: FreshLike = None) -> list[Term]:
    """At most ``k`` of ``lits`` are true, by ``"seqcounter"`` or ``"totalizer"``."""
    n, ids = _Numbering.of(lits, fresh)
    return n.clauses(cardinality.at_most_k(ids, _check_bound(k), n.new_var, _check_encoding(encoding)))


def at_least_k(k: int, lits: Sequence[TermLike], encoding: str = "seqcounter", fresh: FreshLike = None) -> list[Term]:
    """At least ``k`` of ``lits`` are true, by ``"seqcounter"`` or ``"totalizer"``."""
    n, ids = _Numbering.of(lits, fresh)
    return n.clauses(cardinality.at_least_k(ids, _check_bound(k), n.new_var, _check_encoding(encoding)))


def exactly_k(k: int, lits: Sequence[TermLike], encoding: str = "seqcounter", fresh: FreshLike = None) -> list[Term]:
    """Exactly ``k`` of ``lits`` are true, by ``"seqcounter"`` or ``"totalizer"``."""
    n, ids = _Numbering.of(lits, fresh)
    return n.clauses(cardinality.exactly_k(ids, _check_bound(k), n.new_var, _check_encoding(encoding)))


def guard(condition: TermLike, clauses: Iterable[Term]) -> list[Term]:
    """``condition -> clause`` for each clause, as clauses: ``~condition`` joins each one.

    Guarding every clause of a one-directional counter (``at_least_k`` and friends) gives a
    constraint that is enforced only when ``condition`` holds: the counter's auxiliary
    variables can always be set to satisfy the clauses that remain.
    """
    neg = Not(as_term(condition))
    out = (_clause([neg, *(c.args if c.op == "or" else (c,))]) for c in clauses)
    return [c for c in out if c is not None]
