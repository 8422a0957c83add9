"""Incremental compilation of Boolean and bit-vector terms to CNF.

:class:`CnfBuilder` maps every distinct subterm to a literal (Boolean terms) or a vector of
literals (bit-vectors, least significant bit first) exactly once, so shared subterms are encoded
once however often they occur. Clauses accumulate in ``clauses``; :meth:`CnfBuilder.new_clauses`
hands out those added since its last call, to feed an incremental SAT solver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..capabilities import Theory, theories_of
from ..interfaces import CapabilityError
from ..results import Model
from ..terms import Term
from . import bitblast
from .cardinality import ENCODINGS, Encoding, at_least_k, at_most_k, exactly_k, unary_counter
from .pb import BDD_LIMIT, pb_eq, pb_ge, pb_le
from .tseitin import FALSE, TRUE, Gates

__all__ = ["CnfBuilder", "Encoded"]

Encoded = int | tuple[int, ...]  # a literal, or a bit-vector's literals (LSB first)

_ARITH_THEORIES = (Theory.LIA, Theory.LRA, Theory.NIA, Theory.NRA)
_CARD_OPS = frozenset({"atmost", "atleast", "exactly"})
VALUE_CLAUSE_BUDGET = 4096  # at most this many value clauses per Distinct (see distinct_vectors)


class CnfBuilder(Gates):
    """Tseitin encoding and bit-blasting of terms into a growing clause list.

    ``cardinality`` picks the encoding of AtMost/AtLeast/Exactly (``"totalizer"`` or
    ``"seqcounter"``); pseudo-Boolean constraints use a BDD up to ``bdd_limit`` nodes.
    """

    def __init__(self, cardinality: Encoding = "totalizer", *, bdd_limit: int = BDD_LIMIT) -> None:
        if cardinality not in ENCODINGS:
            raise ValueError(f"unknown cardinality encoding {cardinality!r}; choose one of: {', '.join(ENCODINGS)}")
        super().__init__()
        self.cardinality: Encoding = cardinality
        self.bdd_limit = bdd_limit
        self._memo: dict[Term, Encoded] = {}
        self._vars: dict[Term, Encoded] = {}
        self._emitted = 0
        self._plan_key: tuple[Term, ...] = ()
        self._plan_known = 0  # how many variables were encoded when the plan was made; -1: all of its own
        self._plan: list[tuple[Term, Encoded]] = []

    # -- public API ---------------------------------------------------------------------------
    @property
    def variables(self) -> list[Term]:
        """The core variables encoded so far, in order of first encoding."""
        return list(self._vars)

    def literal(self, term: Term) -> int:
        """The literal equivalent to the Boolean ``term`` (encoded on first use)."""
        enc = self._memo.get(term)
        if type(enc) is int:
            return enc
        _require(term, "bool")
        lit = self._encode(term)
        assert isinstance(lit, int)
        return lit

    def literals(self, terms: Iterable[Term]) -> list[int]:
        """:meth:`literal` of each term: one memo lookup per term already encoded (assumption
        lists of hundreds of literals are translated on every check)."""
        terms = list(terms)
        out = list(map(self._memo.get, terms))
        for i, enc in enumerate(out):
            if type(enc) is not int:
                out[i] = self.literal(terms[i])
        return out  # type: ignore[return-value]

    def bits(self, term: Term) -> list[int]:
        """The literals of the bit-vector ``term``, least significant bit first."""
        enc = self._memo.get(term)
        if type(enc) is not tuple:
            _require(term, "bv")
            enc = self._encode(term)
        assert isinstance(enc, tuple)
        return list(enc)

    def add(self, term: Term) -> None:
        """Assert the Boolean ``term``. Top-level conjunctions, disjunctions, implications,
        Boolean equalities and xors (and their negations) become clauses directly, with no
        Tseitin variable; cardinality constraints are encoded one-way.

        Nothing is asserted if encoding fails (e.g. on an Int term).
        """
        _require(term, "bool")
        lit = self.literal
        pending: list[tuple[Term, bool]] = [(term, True)]
        out: list[list[int]] = []
        while pending:
            t, positive = pending.pop()
            op = t.op
            if op == "not":
                pending.append((t.args[0], not positive))
            elif op == ("and" if positive else "or"):
                pending.extend((a, positive) for a in t.args)
            elif op in ("and", "or"):
                sign = 1 if positive else -1
                out.append([sign * lit(a) for a in t.args])
            elif op in ("eq", "xor") and t.args[0].sort.is_bool:
                a, b = lit(t.args[0]), lit(t.args[1])
                if (op == "eq") is not positive:  # a xor b
                    out += [[a, b], [-a, -b]]
                else:
                    out += [[-a, b], [a, -b]]
            elif op == "implies":
                if positive:
                    out.append([-lit(t.args[0]), lit(t.args[1])])
                else:
                    pending += [(t.args[0], True), (t.args[1], False)]
            elif op == "const":
                if t.value is not positive:
                    out.append([FALSE])
            elif op in _CARD_OPS and positive:
                out += self._card_clauses(t)
            else:
                out.append([lit(t) if positive else -lit(t)])
        self.add_clauses(out)

    def new_clauses(self) -> list[list[int]]:
        """The clauses added since the previous call (all of them on the first call)."""
        fresh = self.clauses[self._emitted:]
        self._emitted = len(self.clauses)
        return fresh

    @staticmethod
    def value(lit: int, model: Sequence[int]) -> bool:
        """The truth of ``lit`` in a SAT model (a list of signed literals, variable ``v`` at
        index ``v - 1``, as PySAT returns it); variables beyond the model are false."""
        var = lit if lit > 0 else -lit
        true = var <= len(model) and model[var - 1] > 0
        return true if lit > 0 else not true

    def decode(self, model: Sequence[int], variables: Iterable[Term] | None = None) -> Model:
        """The :class:`Model` of ``variables`` (default: all encoded ones) in a SAT model.

        Booleans decode to ``bool``, bit-vectors to unsigned ``int``. A variable that was never
        encoded is unconstrained and decodes to ``False`` / ``0``.
        """
        n = len(model)
        values: dict[Term, bool | int] = {}
        for var, enc in self._decode_plan(variables):
            if type(enc) is int:
                v = enc if enc > 0 else -enc
                values[var] = (v <= n and model[v - 1] > 0) is (enc > 0)
            else:
                total = 0
                for i, b in enumerate(enc):  # type: ignore[arg-type]
                    v = b if b > 0 else -b
                    if (v <= n and model[v - 1] > 0) is (b > 0):
                        total |= 1 << i
                values[var] = total
        return Model(values)

    def _decode_plan(self, variables: Iterable[Term] | None) -> list[tuple[Term, Encoded]]:
        """``(variable, encoding)`` pairs, cached for a repeated list of variables."""
        if variables is None:
            return list(self._vars.items())
        key = tuple(variables)
        stale = self._plan_known >= 0 and len(self._vars) != self._plan_known  # a missing one may be encoded now
        if key != self._plan_key or stale:
            self._plan = [(v, self._var_encoding(v)) for v in key]
            complete = all(v in self._vars for v in key)  # then later encodings cannot change the plan
            self._plan_key, self._plan_known = key, -1 if complete else len(self._vars)
        return self._plan

    # -- encoding -----------------------------------------------------------------------------
    def _var_encoding(self, var: Term) -> Encoded:
        enc = self._vars.get(var)
        if enc is not None:
            return enc
        if not isinstance(var, Term) or not var.is_var:
            raise TypeError(f"models are over variables, got {var!r}")
        if var.sort.is_arith:
            raise _theory_error(var)
        return FALSE if var.sort.is_bool else (FALSE,) * var.sort.width

    def _encode(self, root: Term) -> Encoded:
        """Encode ``root`` and its unencoded subterms, children first, without recursion."""
        memo = self._memo
        stack = [root]
        while stack:
            t = stack[-1]
            if t in memo:
                stack.pop()
                continue
            pending = [a for a in t.args if a not in memo]
            if pending:
                stack += pending
                continue
            stack.pop()
            if t.sort.is_arith:
                raise _theory_error(root)
            memo[t] = self._encode_node(t)
        return memo[root]

    def _encode_node(self, t: Term) -> Encoded:
        op = t.op
        if op == "var":
            enc: Encoded = self.new_var() if t.sort.is_bool else tuple(self.new_var() for _ in range(t.sort.width))
            self._vars[t] = enc
            return enc
        if op == "const":
            if t.sort.is_bool:
                return TRUE if t.value else FALSE
            return tuple(bitblast.constant(t.value, t.sort.width))
        args = [self._memo[a] for a in t.args]
        if t.sort.is_bool:
            return self._bool_node(t, args)
        return tuple(self._bv_node(t, args))

    def _bool_node(self, t: Term, args: list[Encoded]) -> int:
        op = t.op
        if op in _CARD_OPS:
            return self._card_literal(t)
        if op in ("pble", "pbge", "pbeq"):
            coeffs, k = t.value
            encode = {"pble": pb_le, "pbge": pb_ge, "pbeq": pb_eq}[op]
            return encode(self, list(zip(coeffs, _lits(args))), k, bdd_limit=self.bdd_limit)
        if op in bitblast.PREDICATES:
            a, b = _vectors(args)
            return bitblast.PREDICATES[op](self, a, b)
        if op == "eq":
            x, y = args
            return self.iff(x, y) if isinstance(x, int) and isinstance(y, int) else self.equal(*_vectors(args))
        if op == "distinct":
            if all(isinstance(a, int) for a in args):
                return self.distinct(_lits(args))
            return self.distinct_vectors(_vectors(args))
        lits = _lits(args)
        if op == "not":
            return -lits[0]
        if op == "and":
            return self.and_(lits)
        if op == "or":
            return self.or_(lits)
        if op == "xor":
            return self.xor_(lits[0], lits[1])
        if op == "implies":
            return self.implies(lits[0], lits[1])
        if op == "ite":
            return self.ite(lits[0], lits[1], lits[2])
        raise ValueError(f"cannot encode the Boolean operation {op!r}")

    def distinct_vectors(self, vecs: Sequence[Sequence[int]]) -> int:
        """A literal equivalent to the bit-vectors ``vecs`` being pairwise different.

        Three or more narrow vectors (``pairs * 2**width <= VALUE_CLAUSE_BUDGET``) also get the
        implied clauses "when distinct, no two take value ``v``" over one indicator literal per
        vector and value (shared between constraints). They add no models, but unit propagation
        then reasons about values as on a one-hot encoding: SAT calls on visual Sudoku's 4-bit
        cells got 3-9x faster."""
        pairs = [(vecs[i], vecs[j]) for i in range(len(vecs)) for j in range(i)]
        out = self.and_(-self.equal(a, b) for a, b in pairs)
        width = len(vecs[0]) if vecs else 0
        if len(vecs) < 3 or len(pairs) << width > VALUE_CLAUSE_BUDGET or out in (TRUE, FALSE):
            return out
        for value in range(1 << width):
            takes = [self.and_(b if value >> k & 1 else -b for k, b in enumerate(vec)) for vec in vecs]
            for i in range(len(takes)):
                for j in range(i):
                    self.add_clause([-out, -takes[i], -takes[j]])
        return out

    def _bv_node(self, t: Term, args: list[Encoded]) -> list[int]:
        op = t.op
        if op == "ite":
            c, x, y = args
            assert isinstance(c, int) and isinstance(x, tuple) and isinstance(y, tuple)
            return bitblast.ite(self, c, x, y)
        vecs = _vectors(args)
        if op in bitblast.BINARY:
            fn = bitblast.BINARY[op]
            acc = vecs[0]
            for v in vecs[1:]:
                acc = fn(self, acc, v)
            return acc
        if op == "bvneg":
            return bitblast.neg(self, vecs[0])
        if op == "bvnot":
            return bitblast.bitwise_not(vecs[0])
        if op == "concat":
            return [b for v in reversed(vecs) for b in v]
        if op == "extract":
            hi, lo = t.value
            return vecs[0][lo:hi + 1]
        if op == "zero_extend":
            return vecs[0] + [FALSE] * t.value
        if op == "sign_extend":
            return vecs[0] + [vecs[0][-1]] * t.value
        raise ValueError(f"cannot bit-blast the operation {op!r}")

    # -- cardinality --------------------------------------------------------------------------
    def _card_args(self, t: Term) -> tuple[list[int], int]:
        """The non-constant literals of a cardinality term and its bound less the true ones."""
        k = t.value
        lits: list[int] = []
        for a in t.args:
            x = self.literal(a)
            if x == TRUE:
                k -= 1
            elif x != FALSE:
                lits.append(x)
        return lits, k

    def _card_clauses(self, t: Term) -> list[list[int]]:
        """Clauses asserting a cardinality term (one-directional counters)."""
        lits, k = self._card_args(t)
        encode = {"atmost": at_most_k, "atleast": at_least_k, "exactly": exactly_k}[t.op]
        return encode(lits, k, self.new_var, self.cardinality)

    def _card_literal(self, t: Term) -> int:
        """A literal equivalent to a cardinality term (a counter encoded both ways)."""
        lits, k = self._card_args(t)
        n, op = len(lits), t.op
        lo = 0 if op == "atmost" else k  # the counts that make it true are lo..hi
        hi = n if op == "atleast" else k
        if lo > hi or hi < 0 or lo > n:
            return FALSE
        lo, hi = max(lo, 0), min(hi, n)
        if lo == 0 and hi == n:
            return TRUE
        if hi == 0:
            return self.and_(-x for x in lits)
        if lo == n:
            return self.and_(lits)
        if lo == 1 and hi == n:
            return self.or_(lits)
        out, clauses = unary_counter(lits, hi + 1 if hi < n else lo, self.new_var, self.cardinality)
        self.add_clauses(clauses)
        return self.and_((out[lo - 1] if lo else TRUE, -out[hi] if hi < n else TRUE))


def _require(term: Term, kind: str) -> None:
    if not isinstance(term, Term):
        raise TypeError(f"expected a Term, got {type(term).__name__} {term!r}")
    if term.sort.kind != kind:
        if term.sort.is_arith:
            raise _theory_error(term)
        expected = "Boolean" if kind == "bool" else "bit-vector"
        raise TypeError(f"expected a {expected} term, got a {term.sort} term")


def _theory_error(term: Term) -> CapabilityError:
    needed = sorted(t.value for t in theories_of([term]) if t in _ARITH_THEORIES)
    return CapabilityError(
        f"the formula needs theory {', '.join(needed)} (Int/Real terms), which CNF encoding "
        "(the pysat backend) does not support: it handles Bool and BitVec only. "
        "Use a backend with arithmetic, such as z3 or cvc5."
    )


def _lits(args: list[Encoded]) -> list[int]:
    assert all(isinstance(a, int) for a in args)
    return args  # type: ignore[return-value]


def _vectors(args: list[Encoded]) -> list[list[int]]:
    return [list(a) for a in args]  # type: ignore[arg-type]
