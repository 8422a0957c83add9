"""A problem: hard constraints plus named, weighted soft constraints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .capabilities import Theory, theories_of
from .evaluate import evaluate_many
from .smtlib import decimal_text, declarations, term_to_smtlib
from .terms import Term, clause_variables, exact_fraction, postorder

__all__ = ["Soft", "Problem", "validate_weight", "check_constraint"]


def validate_weight(weight: Any, name: str | None = None) -> Fraction:
    """An exact positive weight. Floats are converted exactly; zero, negative, NaN and
    infinite weights are errors (PySAT would silently harden a weight-0 clause)."""
    label = f"weight of soft constraint {name!r}" if name else "soft-constraint weight"
    w = exact_fraction(weight, label)
    if w <= 0:
        raise ValueError(
            f"{label} must be positive, got {weight}; drop the constraint instead of weighting it 0, "
            "or negate it to reward its violation"
        )
    return w


def check_constraint(term: Any, what: str = "constraint") -> Term:
    """``term`` if it is a Boolean Term, else a clear TypeError."""
    if isinstance(term, bool):
        raise TypeError(
            f"{what} is the Python bool {term}, not a Term: did you write `a == b`? use Eq(a, b)"
        )
    if not isinstance(term, Term):
        raise TypeError(f"{what} must be a Boolean Term, got {type(term).__name__}")
    if not term.sort.is_bool:
        raise TypeError(f"{what} must be Boolean, got a {term.sort} term")
    return term


@dataclass(frozen=True)
class Soft:
    """A soft constraint: violating it costs ``weight`` (an exact positive Fraction)."""

    term: Term
    weight: Fraction
    name: str | None = None

    @staticmethod
    def make(term: Term, weight: Any = 1, name: str | None = None) -> Soft:
        return Soft(check_constraint(term, "soft constraint"), validate_weight(weight, name), name)


class Problem:
    """Hard constraints and weighted soft constraints over typed variables.

    ``Problem([x | y, ~x]).add_soft(y, 2)``. Terms are immutable, so building a problem never
    changes what the caller passed in.
    """

    def __init__(self, constraints: Iterable[Term] = (), soft: Iterable[Soft] = ()) -> None:
        self._hard: list[Term] = []
        self._soft: list[Soft] = []
        self._sorts: dict[str, Term] = {}
        self.add(*constraints)
        for s in soft:
            self._soft.append(Soft.make(s.term, s.weight, s.name))
            self._register(s.term)

    # -- building ---------------------------------------------------------------------------
    def _register(self, *terms: Term) -> None:
        deep: list[Term] = []
        found: list[Term] = []
        for t in terms:  # literals and clauses of them (blocking clauses) need no traversal
            flat = clause_variables(t)
            if flat is None:
                deep.append(t)
            else:
                found += flat
        found += (v for v in postorder(deep) if v.op == "var")  # one traversal: shared subterms once
        for v in found:
            known = self._sorts.setdefault(v.value, v)
            if known.sort != v.sort:
                raise TypeError(
                    f"variable {v.value!r} is used as both {known.sort} and {v.sort}; rename one"
                )

    def add(self, *constraints: Term) -> Problem:
        """Add hard constraints; returns the problem for chaining."""
        for c in constraints:
            check_constraint(c)
        self._register(*constraints)
        self._hard.extend(constraints)
        return self

    def add_soft(self, term: Term, weight: Any = 1, name: str | None = None) -> Soft:
        """Add a soft constraint of positive ``weight`` (int, float, Fraction or decimal string)."""
        soft = Soft.make(term, weight, name)
        self._register(term)
        self._soft.append(soft)
        return soft

    def copy(self) -> Problem:
        return Problem(self._hard, self._soft)

    # -- inspection -------------------------------------------------------------------------
    @property
    def hard(self) -> tuple[Term, ...]:
        return tuple(self._hard)

    @property
    def soft(self) -> tuple[Soft, ...]:
        return tuple(self._soft)

    @property
    def variables(self) -> list[Term]:
        """All variables, in order of first occurrence."""
        return list(self._sorts.values())

    @property
    def theories(self) -> frozenset[Theory]:
        return theories_of([*self._hard, *(s.term for s in self._soft)])

    def __len__(self) -> int:
        return len(self._hard)

    def __repr__(self) -> str:
        return f"Problem({len(self._hard)} hard, {len(self._soft)} soft, {len(self._sorts)} variables)"

    # -- checking models --------------------------------------------------------------------
    def satisfied_by(self, model: Mapping[Any, Any], assumptions: Iterable[Term] = ()) -> bool:
        """Whether ``model`` satisfies every hard constraint (and the assumptions)."""
        terms = [*self._hard, *assumptions]
        return all(evaluate_many(terms, model, default=False))

    def cost(self, model: Mapping[Any, Any], soft: Iterable[Soft] | None = None) -> Fraction:
        """Total weight of the soft constraints ``model`` violates."""
        softs = list(self._soft if soft is None else soft)
        values = evaluate_many([s.term for s in softs], model, default=False)
        return sum((s.weight for s, ok in zip(softs, values) if not ok), Fraction(0))

    # -- output -----------------------------------------------------------------------------
    def to_smtlib(self, *, soft: bool = True) -> str:
        """An SMT-LIB2 script; soft constraints use the widely read ``assert-soft`` extension.

        Weights are exact decimals when they have a finite expansion (every float does); other
        fractions (``1/3``) are written to 30 decimal places."""
        terms = [*self._hard, *(s.term for s in self._soft)]
        lines = ["(set-logic ALL)", *declarations(terms)]
        lines += [f"(assert {term_to_smtlib(t)})" for t in self._hard]
        if soft:
            for s in self._soft:
                weight = decimal_text(s.weight)
                ident = f" :id {s.name}" if s.name else ""
                lines.append(f"(assert-soft {term_to_smtlib(s.term)} :weight {weight}{ident})")
        lines.append("(check-sat)")
        return "\n".join(lines) + "\n"
