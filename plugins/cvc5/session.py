"""A cvc5 solver session: translates solverlayers terms and answers checks under assumptions.

Notes on the translation:

* Cardinality and pseudo-Boolean constraints (coefficients made positive and divided by their
  gcd) become an ordered decision diagram of Boolean ``ite`` nodes memoised on the partial sum.
  On cvc5 this refuted random cardinality instances in 0.1-0.5 s where integer or bit-vector
  sums ran out a 20 s limit, and random small-coefficient PB instances 4-20x faster than Int
  sums; it also scaled linearly where an AND/OR sequential counter went quadratic (cvc5
  flattens its nested ORs). When a bound on the diagram's size exceeds
  ``_DIAGRAM_BUDGET`` nodes (long constraints with wide bounds or large, varied coefficients),
  the constraint becomes an Int sum of ``ite(lit, c, 0)``, which was faster there.
* Nonlinear real arithmetic uses cvc5's cylindrical algebraic coverings (``nl-cov``), which
  logic ``ALL`` does not enable by itself (see :meth:`Cvc5Session._arithmetic_seen` for when they
  are on, and why not alongside Int variables). Such models may assign irrational algebraic numbers;
  they come back as a :class:`~fractions.Fraction` within about ``2**-64`` (relative) of the
  true value, found by bisecting cvc5's isolating interval on the defining polynomial, so a
  model like ``x = sqrt(2)`` satisfies ``x * x == 2`` only approximately.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from operator import is_
from typing import Any

import cvc5
from cvc5 import Kind, UnknownExplanation

from solverlayers.interfaces import BackendError, SolverSession
from solverlayers.problem import check_constraint
from solverlayers.results import CheckResult, Model, Status
from solverlayers.terms import Sort, Term, postorder

__all__ = ["Cvc5Session"]

_KINDS: dict[str, Kind] = {
    "not": Kind.NOT, "xor": Kind.XOR, "implies": Kind.IMPLIES, "ite": Kind.ITE,
    "eq": Kind.EQUAL, "distinct": Kind.DISTINCT,
    "add": Kind.ADD, "sub": Kind.SUB, "mul": Kind.MULT, "neg": Kind.NEG, "div": Kind.DIVISION,
    "to_real": Kind.TO_REAL, "lt": Kind.LT, "le": Kind.LEQ, "gt": Kind.GT, "ge": Kind.GEQ,
    "bvadd": Kind.BITVECTOR_ADD, "bvsub": Kind.BITVECTOR_SUB, "bvmul": Kind.BITVECTOR_MULT,
    "bvneg": Kind.BITVECTOR_NEG, "bvnot": Kind.BITVECTOR_NOT, "bvand": Kind.BITVECTOR_AND,
    "bvor": Kind.BITVECTOR_OR, "bvxor": Kind.BITVECTOR_XOR, "bvshl": Kind.BITVECTOR_SHL,
    "bvlshr": Kind.BITVECTOR_LSHR, "bvashr": Kind.BITVECTOR_ASHR, "bvudiv": Kind.BITVECTOR_UDIV,
    "bvurem": Kind.BITVECTOR_UREM, "bvsdiv": Kind.BITVECTOR_SDIV, "bvsrem": Kind.BITVECTOR_SREM,
    "bvult": Kind.BITVECTOR_ULT, "bvule": Kind.BITVECTOR_ULE, "bvugt": Kind.BITVECTOR_UGT,
    "bvuge": Kind.BITVECTOR_UGE, "bvslt": Kind.BITVECTOR_SLT, "bvsle": Kind.BITVECTOR_SLE,
    "bvsgt": Kind.BITVECTOR_SGT, "bvsge": Kind.BITVECTOR_SGE, "concat": Kind.BITVECTOR_CONCAT,
}
# Associative n-ary operators: a one-argument node is its argument (cvc5 wants two or more).
_ASSOCIATIVE = frozenset({"and", "or", "add", "mul", "concat"})
_INDEXED: dict[str, Kind] = {
    "extract": Kind.BITVECTOR_EXTRACT,
    "zero_extend": Kind.BITVECTOR_ZERO_EXTEND,
    "sign_extend": Kind.BITVECTOR_SIGN_EXTEND,
}
_CARD_BOUNDS: dict[str, Callable[[int, int], tuple[int, int]]] = {
    "atmost": lambda k, n: (0, k),
    "atleast": lambda k, n: (k, n),
    "exactly": lambda k, n: (k, k),
}
_REASONS: dict[UnknownExplanation, str] = {
    UnknownExplanation.TIMEOUT: "timeout",
    UnknownExplanation.RESOURCEOUT: "resource limit",
    UnknownExplanation.INCOMPLETE: "incomplete",
    UnknownExplanation.MEMOUT: "memory limit",
    UnknownExplanation.INTERRUPTED: "interrupted",
    UnknownExplanation.UNSUPPORTED: "unsupported",
}
_ModelView = tuple[list[Term], list[cvc5.Term], list[Callable[[cvc5.Term], Any]]]
_PRECISION = Fraction(1, 1 << 64)  # relative width at which an algebraic number is approximated
_MAX_BISECTIONS = 512
_DIAGRAM_BUDGET = 5_000  # largest cardinality/pseudo-Boolean decision diagram (bound on nodes)


class Cvc5Session(SolverSession):
    """One cvc5 ``TermManager`` + ``Solver`` (logic ALL, incremental) holding hard constraints.

    Terms are translated once and cached per session. Assumptions that are not Boolean
    variables or negated variables are guarded by a fresh literal (``lit => term``, asserted
    once), so unsat cores come back as the caller's own terms. Models give ``bool``, ``int``
    (bit-vectors unsigned) and ``Fraction`` values; a check that runs out of ``timeout``
    seconds (cvc5's ``tlimit-per``) is ``Status.UNKNOWN`` with reason ``"timeout"``.

    ``random_seed`` seeds cvc5 and its SAT solver; ``simplify=False`` turns off cvc5's
    preprocessing of each check (faster on many small queries, slower on some hard ones).
    """

    def __init__(self, random_seed: int = 0, simplify: bool = True) -> None:
        self._options: tuple[tuple[str, str], ...] = (
            ("incremental", "true"),
            ("produce-models", "true"),
            ("produce-unsat-assumptions", "true"),
            ("seed", str(random_seed)),
            ("sat-random-seed", str(random_seed)),
            ("simplification", "batch" if simplify else "none"),
        )
        self._coverings = False  # see _arithmetic_seen
        self._nonlinear_reals = False
        self._integers = False
        self._assertions: list[cvc5.Term] = []  # everything asserted, to rebuild the solver
        self._tlimit = "0"  # the tlimit-per now set, in ms ("0": none)
        self._tm: cvc5.TermManager | None = cvc5.TermManager()
        self._solver: cvc5.Solver | None = self._new_solver()
        self._terms: dict[Term, cvc5.Term] = {}
        self._sorts: dict[Sort, cvc5.Sort] = {}
        self._names: dict[str, Term] = {}
        # variable -> (cvc5 constant, value converter), in order of first occurrence
        self._vars: dict[Term, tuple[cvc5.Term, Callable[[cvc5.Term], Any]]] = {}
        # (variables, constants, converters) of the default model and of the last model_vars
        self._default_model: _ModelView | None = None
        self._last_model: _ModelView | None = None
        self._assumed: dict[Term, cvc5.Term] = {}  # assumption -> literal passed to cvc5
        self._converters: dict[str, Callable[[cvc5.Term], Any]] = {
            "bool": cvc5.Term.getBooleanValue,
            "int": cvc5.Term.getIntegerValue,
            "real": self._real_value,
            "bv": _bv_value,
        }

    # -- the SolverSession contract -----------------------------------------------------------
    def add(self, *constraints: Term) -> None:
        self._live()
        for c in constraints:
            self._assert(self._translate(check_constraint(c)))

    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        if self._solver is None:
            raise RuntimeError("this cvc5 session is closed")
        if not isinstance(assumptions, (list, tuple)):
            assumptions = tuple(assumptions)
        assumed = self._assumed
        lits = []
        for a in assumptions:
            lit = assumed.get(a)
            lits.append(self._assumption_literal(a) if lit is None else lit)
        keys, consts, convs = self._model_view(model_vars)
        solver = self._solver  # read after translating: a new variable may rebuild it
        tlimit = "0" if timeout is None or timeout == math.inf else str(max(1, math.ceil(timeout * 1000)))
        if tlimit != self._tlimit:  # it applies to each later check
            solver.setOption("tlimit-per", tlimit)
            self._tlimit = tlimit
        try:
            result = solver.checkSatAssuming(*lits) if lits else solver.checkSat()
        except RuntimeError as exc:
            raise BackendError(f"cvc5 failed: {exc}") from exc
        if result.isSat():
            values = solver.getValue(consts) if consts else []
            return CheckResult(Status.SAT, model=Model({k: f(v) for k, f, v in zip(keys, convs, values)}))
        if result.isUnsat():
            if not want_core:
                return CheckResult(Status.UNSAT)
            failed = set(solver.getUnsatAssumptions())
            core = dict.fromkeys(a for a, lit in zip(assumptions, lits) if lit in failed)
            return CheckResult(Status.UNSAT, core=tuple(core))
        why = result.getUnknownExplanation()
        return CheckResult(Status.UNKNOWN, reason=_REASONS.get(why, why.name.lower().replace("_", " ")))

    def close(self) -> None:
        """Drop the solver and every cvc5 object of this session (idempotent)."""
        self._terms.clear()
        self._vars.clear()
        self._names.clear()
        self._assumed.clear()
        self._sorts.clear()
        self._assertions.clear()
        self._default_model = self._last_model = None
        self._solver = None
        self._tm = None

    # -- internals ----------------------------------------------------------------------------
    def _live(self) -> cvc5.Solver:
        if self._solver is None:
            raise RuntimeError("this cvc5 session is closed")
        return self._solver

    def _new_solver(self) -> cvc5.Solver:
        """A solver configured for the arithmetic seen so far, holding every assertion."""
        solver = cvc5.Solver(self._tm)
        options = self._options
        if self._coverings:
            options += (("nl-cov", "true"), ("decision", "internal"))
        for name, value in options:  # all before the first assertion, as cvc5 requires
            solver.setOption(name, value)
        solver.setLogic("ALL")
        for assertion in self._assertions:
            solver.assertFormula(assertion)
        self._tlimit = "0"
        return solver

    def _arithmetic_seen(self, *, nonlinear_reals: bool = False, integers: bool = False) -> None:
        """Record a first nonlinear real product or Int variable, reconfiguring when that changes
        whether cvc5's cylindrical algebraic coverings are on.

        Coverings are complete for nonlinear reals and give algebraic models (logic ALL leaves
        them off); they run with cvc5's internal decision heuristic, without which they overran
        ``tlimit-per`` without bound. With Int variables present (in nonlinear products, or
        linked to nonlinear reals) coverings ignored time limits whatever the options, so they
        are on only while the session has nonlinear real products and no Int variables;
        otherwise nonlinear arithmetic uses cvc5's incomplete default (UNKNOWN is possible).
        Switching rebuilds the solver, as these options cannot change after an assertion.
        """
        before = self._coverings
        self._nonlinear_reals |= nonlinear_reals
        self._integers |= integers
        self._coverings = self._nonlinear_reals and not self._integers
        if self._coverings != before:
            self._solver = self._new_solver()

    def _assert(self, assertion: cvc5.Term) -> None:
        solver = self._solver
        assert solver is not None
        solver.assertFormula(assertion)
        self._assertions.append(assertion)

    def _assumption_literal(self, a: Term) -> cvc5.Term:
        """The cvc5 literal standing for assumption ``a`` (created on first use, then cached)."""
        self._live()
        check_constraint(a, "assumption")
        if a.op == "var" or (a.op == "not" and a.args[0].op == "var"):
            lit = self._translate(a)
        else:
            tm = self._tm
            assert tm is not None
            lit = tm.mkConst(tm.getBooleanSort())
            self._assert(tm.mkTerm(Kind.IMPLIES, lit, self._translate(a)))
        self._assumed[a] = lit
        return lit

    def _model_view(self, model_vars: Sequence[Term] | None) -> _ModelView:
        """The variables a SAT answer's model covers, their constants and value converters."""
        if model_vars is None:
            if self._default_model is None:
                pairs = list(self._vars.values())
                self._default_model = (list(self._vars), [p[0] for p in pairs], [p[1] for p in pairs])
            return self._default_model
        last = self._last_model
        if last is not None and len(last[0]) == len(model_vars) and all(map(is_, model_vars, last[0])):
            return last  # the same variables as last time: skip the lookups
        keys = list(model_vars)
        known = self._vars
        pairs = [known.get(v) or self._declare(v) for v in keys]
        self._last_model = (keys, [p[0] for p in pairs], [p[1] for p in pairs])
        return self._last_model

    def _declare(self, v: Term) -> tuple[cvc5.Term, Callable[[cvc5.Term], Any]]:
        """Translate model variable ``v`` (which may not occur in any constraint yet)."""
        if not isinstance(v, Term) or not v.is_var:
            raise TypeError(f"model_vars must be variables, got {v!r}")
        self._translate(v)
        return self._vars[v]

    def _sort(self, sort: Sort) -> cvc5.Sort:
        s = self._sorts.get(sort)
        if s is None:
            tm = self._tm
            assert tm is not None
            if sort.is_bv:
                s = tm.mkBitVectorSort(sort.width)
            else:
                s = {"bool": tm.getBooleanSort, "int": tm.getIntegerSort, "real": tm.getRealSort}[sort.kind]()
            self._sorts[sort] = s
        return s

    def _translate(self, term: Term) -> cvc5.Term:
        """The cvc5 term for ``term``, translating (iteratively) only the subterms not cached."""
        cache = self._terms
        hit = cache.get(term)
        if hit is not None:
            return hit
        self._live()
        for t in postorder((term,)):
            if t not in cache:
                cache[t] = self._node(t, [cache[a] for a in t.args])
        return cache[term]

    def _node(self, t: Term, args: list[cvc5.Term]) -> cvc5.Term:
        tm = self._tm
        assert tm is not None
        op = t.op
        if op in _ASSOCIATIVE and len(args) == 1:
            return args[0]
        kind = _KINDS.get(op)
        if kind is not None:
            nonlinear = op == "mul" and t.sort.kind == "real" and sum(not a.is_const for a in t.args) > 1
            if nonlinear and not self._nonlinear_reals:
                self._arithmetic_seen(nonlinear_reals=True)
            return tm.mkTerm(kind, *args)
        if op == "and" or op == "or":
            if not args:
                return tm.mkBoolean(op == "and")
            return tm.mkTerm(Kind.AND if op == "and" else Kind.OR, *args)
        if op == "var":
            return self._variable(t)
        if op == "const":
            return self._constant(t)
        if op in _CARD_BOUNDS:
            lo, hi = _CARD_BOUNDS[op](t.value, len(args))
            return self._bounded_sum([(1, lit) for lit in args], lo, hi)
        if op in ("pble", "pbge", "pbeq"):
            return self._pseudo_boolean(t, args)
        if op in _INDEXED:
            indices = t.value if op == "extract" else (t.value,)
            return tm.mkTerm(tm.mkOp(_INDEXED[op], *indices), *args)
        raise ValueError(f"the cvc5 backend cannot translate the operation {op!r}")

    def _variable(self, t: Term) -> cvc5.Term:
        known = self._names.setdefault(t.value, t)
        if known.sort != t.sort:
            raise TypeError(f"variable {t.value!r} is used as both {known.sort} and {t.sort}; rename one")
        tm = self._tm
        assert tm is not None
        const = tm.mkConst(self._sort(t.sort), t.value)
        if t.sort.kind == "int" and not self._integers:
            self._arithmetic_seen(integers=True)
        self._vars[t] = (const, self._converters[t.sort.kind])
        self._default_model = None
        return const

    def _constant(self, t: Term) -> cvc5.Term:
        tm = self._tm
        assert tm is not None
        kind = t.sort.kind
        if kind == "bool":
            return tm.mkBoolean(t.value)
        if kind == "int":
            return tm.mkInteger(str(t.value))
        if kind == "real":
            return tm.mkReal(str(t.value))
        return tm.mkBitVector(t.sort.width, str(t.value), 10)

    def _pseudo_boolean(self, t: Term, lits: list[cvc5.Term]) -> cvc5.Term:
        """``sum(c * lit) <op> k``, rewritten over positive coefficients for :meth:`_bounded_sum`."""
        coeffs, k = t.value
        terms: list[tuple[int, cvc5.Term]] = []
        shift = 0  # c * lit = c + |c| * not(lit) for c < 0
        for c, lit in zip(coeffs, lits):
            if c > 0:
                terms.append((c, lit))
            elif c < 0:
                terms.append((-c, lit.notTerm()))
                shift += c
        total = sum(c for c, _ in terms)
        lo = k - shift if t.op != "pble" else 0
        hi = k - shift if t.op != "pbge" else total
        return self._bounded_sum(terms, lo, hi)

    def _bounded_sum(self, terms: list[tuple[int, cvc5.Term]], lo: int, hi: int) -> cvc5.Term:
        """``lo <= sum(c * lit) <= hi`` for positive ``c``: a decision diagram, or an Int sum of
        ``ite(lit, c, 0)`` when the diagram could exceed ``_DIAGRAM_BUDGET`` nodes."""
        tm = self._tm
        assert tm is not None
        divisor = math.gcd(*(c for c, _ in terms)) if terms else 1
        if divisor > 1:
            terms = [(c // divisor, lit) for c, lit in terms]
            lo, hi = -(-lo // divisor), hi // divisor
        total = sum(c for c, _ in terms)
        lo, hi = max(lo, 0), min(hi, total)
        if lo > hi or (lo == 0 and hi == total):
            return tm.mkBoolean(lo == 0 and hi == total)
        terms = sorted(terms, key=lambda term: -term[0])
        rest = [0] * (len(terms) + 1)  # rest[i]: the largest sum terms[i:] can add
        for i in range(len(terms) - 1, -1, -1):
            rest[i] = rest[i + 1] + terms[i][0]
        # Undecided diagram nodes at depth i have a partial sum in [lo - rest[i], hi].
        size = sum(min(1 << min(i, 62), hi - max(0, lo - rest[i]) + 1) for i in range(len(terms)))
        if size <= _DIAGRAM_BUDGET:
            return self._diagram(terms, rest, lo, hi)
        zero = tm.mkInteger(0)
        parts = [tm.mkTerm(Kind.ITE, lit, tm.mkInteger(c), zero) for c, lit in terms]
        total_term = tm.mkTerm(Kind.ADD, *parts)
        at_least = tm.mkTerm(Kind.GEQ, total_term, tm.mkInteger(lo))
        return tm.mkTerm(Kind.AND, at_least, tm.mkTerm(Kind.LEQ, total_term, tm.mkInteger(hi)))

    def _diagram(self, terms: list[tuple[int, cvc5.Term]], rest: list[int], lo: int, hi: int) -> cvc5.Term:
        """``lo <= sum(c * lit) <= hi`` (positive ``c``; ``rest[i]`` the sum of ``terms[i:]``'s
        coefficients) as an ordered decision diagram of Boolean ``ite`` nodes memoised on the
        partial sum, built iteratively."""
        tm = self._tm
        assert tm is not None
        true, false = tm.mkTrue(), tm.mkFalse()

        def settled(i: int, acc: int) -> cvc5.Term | None:
            if acc > hi or acc + rest[i] < lo:
                return false
            return true if acc >= lo and acc + rest[i] <= hi else None

        nodes: dict[tuple[int, int], cvc5.Term] = {}
        stack = [(0, 0)]
        while stack:
            i, acc = stack[-1]
            if (i, acc) in nodes:  # pushed by two parents
                stack.pop()
                continue
            c, lit = terms[i]
            branches = []
            for key in ((i + 1, acc + c), (i + 1, acc)):
                node = settled(*key)
                if node is None:
                    node = nodes.get(key)
                    if node is None:
                        stack.append(key)
                branches.append(node)
            when, unless = branches
            if when is None or unless is None:
                continue
            stack.pop()
            nodes[(i, acc)] = when if when == unless else tm.mkTerm(Kind.ITE, lit, when, unless)
        return nodes[(0, 0)]

    def _real_value(self, value: cvc5.Term) -> Fraction:
        if value.isRealValue():
            return value.getRealValue()
        tm = self._tm
        assert tm is not None
        lo = value.getRealAlgebraicNumberLowerBound().getRealValue()
        hi = value.getRealAlgebraicNumberUpperBound().getRealValue()
        x = tm.mkVar(tm.getRealSort(), "x")
        coeffs = _polynomial(value.getRealAlgebraicNumberDefiningPolynomial(x))
        return (lo + hi) / 2 if coeffs is None else _bisect(coeffs, lo, hi)


def _bv_value(value: cvc5.Term) -> int:
    return int(value.getBitVectorValue(10))


_NUMERALS = (Kind.CONST_RATIONAL, Kind.CONST_INTEGER)


def _polynomial(poly: cvc5.Term) -> list[Fraction] | None:
    """Coefficients (constant first) of a univariate cvc5 polynomial built from ``+`` and ``*``;
    None for any other shape."""
    done: dict[cvc5.Term, list[Fraction]] = {}
    stack = [(poly, False)]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        kind = node.getKind()
        if kind in _NUMERALS:
            done[node] = [node.getRealValue()]
        elif kind == Kind.VARIABLE:
            done[node] = [Fraction(0), Fraction(1)]
        elif kind not in (Kind.ADD, Kind.MULT) or node.getNumChildren() == 0:
            return None
        elif expanded:
            combine = _poly_add if kind == Kind.ADD else _poly_mul
            children = [done[c] for c in node]
            acc = children[0]
            for c in children[1:]:
                acc = combine(acc, c)
            done[node] = acc
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in node)
    return done[poly]


def _poly_add(p: list[Fraction], q: list[Fraction]) -> list[Fraction]:
    if len(p) < len(q):
        p, q = q, p
    return [a + (q[i] if i < len(q) else 0) for i, a in enumerate(p)]


def _poly_mul(p: list[Fraction], q: list[Fraction]) -> list[Fraction]:
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        if a:
            for j, b in enumerate(q):
                out[i + j] += a * b
    return out


def _sign(coeffs: list[Fraction], x: Fraction) -> int:
    acc = Fraction(0)
    for c in reversed(coeffs):
        acc = acc * x + c
    return (acc > 0) - (acc < 0)


def _bisect(coeffs: list[Fraction], lo: Fraction, hi: Fraction) -> Fraction:
    """The root of ``coeffs`` in ``(lo, hi)`` to ``_PRECISION`` (relative); the midpoint when
    the polynomial does not change sign there."""
    s_lo, s_hi = _sign(coeffs, lo), _sign(coeffs, hi)
    if s_lo == 0:
        return lo
    if s_hi == 0:
        return hi
    if s_lo == s_hi:
        return (lo + hi) / 2
    for _ in range(_MAX_BISECTIONS):
        if hi - lo <= _PRECISION * max(Fraction(1), abs(lo)):
            break
        mid = (lo + hi) / 2
        s = _sign(coeffs, mid)
        if s == 0:
            return mid
        if s == s_lo:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
