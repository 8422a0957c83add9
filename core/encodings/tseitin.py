"""Tseitin gates over integer literals, with constant propagation and structural hashing.

Literals follow the DIMACS convention: variable ``v >= 1``, its negation ``-v``. Variable 1 is
reserved for the constant true (:data:`TRUE`, fixed by the unit clause ``[1]``), so ``-1`` is
false. Every gate returns a literal that is *equivalent* to its function (both implication
directions are encoded), so gate outputs may be used under any polarity, as assumptions, or
negated later. Identical gates are built once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["TRUE", "FALSE", "Gates"]

TRUE = 1
FALSE = -1

Clause = list[int]


class Gates:
    """A clause store with a variable allocator and hashed, simplifying Boolean gates."""

    def __init__(self) -> None:
        self.top = 1
        self.clauses: list[Clause] = [[TRUE]]
        self._cache: dict[tuple[object, ...], int] = {}

    # -- variables and clauses ----------------------------------------------------------------
    def new_var(self) -> int:
        """A fresh variable."""
        self.top += 1
        return self.top

    def add_clause(self, clause: Iterable[int]) -> None:
        """Add a clause, dropping false literals and skipping clauses that are trivially true.

        A clause that simplifies to nothing is stored as ``[FALSE]`` (unsatisfiable).
        """
        out: list[int] = []
        seen: set[int] = set()
        for lit in clause:
            if lit == TRUE or -lit in seen:
                return
            if lit != FALSE and lit not in seen:
                seen.add(lit)
                out.append(lit)
        self.clauses.append(out or [FALSE])

    def add_clauses(self, clauses: Iterable[Iterable[int]]) -> None:
        for clause in clauses:
            self.add_clause(clause)

    # -- gates --------------------------------------------------------------------------------
    def and_(self, lits: Iterable[int]) -> int:
        """A literal equivalent to the conjunction of ``lits`` (true when empty)."""
        args: set[int] = set()
        for lit in lits:
            if lit == FALSE or -lit in args:
                return FALSE
            if lit != TRUE:
                args.add(lit)
        if not args:
            return TRUE
        if len(args) == 1:
            return next(iter(args))
        key = ("and", *sorted(args))
        out = self._cache.get(key)
        if out is None:
            out = self.new_var()
            self._cache[key] = out
            for lit in args:
                self.clauses.append([-out, lit])
            self.clauses.append([out, *(-lit for lit in args)])
        return out

    def or_(self, lits: Iterable[int]) -> int:
        """A literal equivalent to the disjunction of ``lits`` (false when empty)."""
        return -self.and_(-lit for lit in lits)

    def xor_(self, a: int, b: int) -> int:
        """A literal equivalent to ``a xor b``."""
        if a == TRUE:
            return -b
        if a == FALSE:
            return b
        if b == TRUE:
            return -a
        if b == FALSE:
            return a
        if a == b:
            return FALSE
        if a == -b:
            return TRUE
        negated = (a < 0) != (b < 0)
        x, y = sorted((abs(a), abs(b)))
        key = ("xor", x, y)
        out = self._cache.get(key)
        if out is None:
            out = self.new_var()
            self._cache[key] = out
            self.clauses += [[-out, x, y], [-out, -x, -y], [out, -x, y], [out, x, -y]]
        return -out if negated else out

    def iff(self, a: int, b: int) -> int:
        """A literal equivalent to ``a <-> b``."""
        return -self.xor_(a, b)

    def implies(self, a: int, b: int) -> int:
        """A literal equivalent to ``a -> b``."""
        return self.or_((-a, b))

    def ite(self, c: int, t: int, e: int) -> int:
        """A literal equivalent to ``if c then t else e``."""
        if c == TRUE or t == e:
            return t
        if c == FALSE:
            return e
        if t == -e:
            return self.iff(c, t)
        if t == TRUE or t == c:
            return self.or_((c, e))
        if t == FALSE or t == -c:
            return self.and_((-c, e))
        if e == TRUE or e == -c:
            return self.or_((-c, t))
        if e == FALSE or e == c:
            return self.and_((c, t))
        if c < 0:
            c, t, e = -c, e, t
        negated = t < 0
        if negated:
            t, e = -t, -e
        key = ("ite", c, t, e)
        out = self._cache.get(key)
        if out is None:
            out = self.new_var()
            self._cache[key] = out
            self.clauses += [
                [-c, -t, out], [-c, t, -out], [c, -e, out], [c, e, -out],
                [-t, -e, out], [t, e, -out],
            ]
        return -out if negated else out

    def distinct(self, lits: Sequence[int]) -> int:
        """A literal equivalent to ``lits`` being pairwise different (at most two can be)."""
        if len(lits) < 2:
            return TRUE
        if len(lits) > 2:
            return FALSE
        return self.xor_(lits[0], lits[1])

    def equal(self, a: Sequence[int], b: Sequence[int]) -> int:
        """A literal equivalent to two literal vectors being equal bit by bit."""
        return self.and_(self.iff(x, y) for x, y in zip(a, b, strict=True))
