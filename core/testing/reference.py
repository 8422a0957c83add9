"""A brute-force reference backend: the test oracle for small Bool and bit-vector problems.

:class:`ReferenceSession` decides formulas by exhaustive search in pure Python, so its answers
depend on nothing but the term semantics of :mod:`solverlayers.evaluate`. The search assigns one
variable at a time and evaluates every constraint in three-valued (Kleene) logic, so a branch is
cut as soon as a constraint is false, a constraint with one open Boolean variable fixes it, and
the search stops once every constraint is true whatever the open variables are. This lets it
handle auxiliary variables (selectors, encodings) on top of a user formula whose own search
space is small (about ``2**16`` assignments). Every model it returns is checked
with :func:`~solverlayers.evaluate.evaluate_many`.

Int and Real variables are refused (:class:`ReferenceLimitError`), and so is a search that needs
more than ``max_nodes`` nodes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, Literal

from ..evaluate import _OPS, _bv, evaluate_many
from ..interfaces import CapabilityError, SolverSession
from ..problem import Soft, check_constraint
from ..results import CheckResult, Model, OptimizeResult, OptStatus, Status
from ..terms import Term, postorder

__all__ = ["ReferenceSession", "ReferenceLimitError", "MAX_WIDTH"]

MAX_WIDTH = 16  # widest bit-vector variable the search enumerates
_TIME_CHECK_EVERY = 64  # search nodes between two looks at the clock


class ReferenceLimitError(CapabilityError):
    """The reference backend cannot decide this problem (Int/Real variables, or too large)."""


class _Timeout(Exception):
    pass


_Partial = dict[Term, Any]  # subterm -> value, None where still open


def _kleene(t: Term, a: list[Any]) -> Any:
    """The value of ``t`` from its argument values ``a`` (None = unknown), in Kleene logic."""
    op = t.op
    if op == "not":
        return None if a[0] is None else not a[0]
    if op in ("and", "or"):
        decisive = op == "or"  # the value that settles the connective
        if any(x is decisive for x in a):
            return decisive
        return None if any(x is None for x in a) else not decisive
    if op == "implies":
        if a[0] is False or a[1] is True:
            return True
        return False if (a[0] is True and a[1] is False) else None
    if op == "ite":
        if a[0] is None:
            return a[1] if a[1] is not None and a[1] == a[2] else None
        return a[1] if a[0] else a[2]
    if op in ("atmost", "atleast", "exactly", "pble", "pbge", "pbeq"):
        return _bounded_sum(t, a)
    if any(x is None for x in a):
        return None
    fn = _OPS.get(op)
    return fn(t, a) if fn is not None else _bv(t, a)


def _bounded_sum(t: Term, a: list[Any]) -> bool | None:
    if t.op in ("atmost", "atleast", "exactly"):
        coeffs, k = (1,) * len(a), t.value
        rel = {"atmost": "le", "atleast": "ge", "exactly": "eq"}[t.op]
    else:
        (coeffs, k), rel = t.value, t.op[2:]
    fixed = sum(c for c, x in zip(coeffs, a) if x is True)
    low = fixed + sum(min(c, 0) for c, x in zip(coeffs, a) if x is None)
    high = fixed + sum(max(c, 0) for c, x in zip(coeffs, a) if x is None)
    if rel == "le":
        return True if high <= k else False if low > k else None
    if rel == "ge":
        return True if low >= k else False if high < k else None
    if low == high:
        return low == k
    return False if not low <= k <= high else None


class _Search:
    """Backtracking search for assignments satisfying ``constraints``; with ``soft``, the
    assignment of least violated weight (branch and bound)."""

    def __init__(self, constraints: Sequence[Term], soft: Sequence[Soft], order: Sequence[Term],
                 deadline: float | None, max_nodes: int) -> None:
        self.constraints = list(dict.fromkeys(constraints))
        self.soft = sorted(soft, key=lambda s: -s.weight)
        rank = {v: i for i, v in enumerate(order)}
        self.nodes = {t: list(postorder((t,))) for t in (*self.constraints, *(s.term for s in self.soft))}
        self.vars = {t: sorted((n for n in ns if n.op == "var"), key=rank.__getitem__) for t, ns in self.nodes.items()}
        self.deadline = deadline
        self.max_nodes = max_nodes
        self.visited = 0
        self.best: tuple[Fraction, dict[Term, Any]] | None = None

    def _value(self, t: Term, assign: dict[Term, Any], memo: _Partial) -> Any:
        for n in self.nodes[t]:
            if n not in memo:
                if n.op == "var":
                    memo[n] = assign.get(n)
                elif n.op == "const":
                    memo[n] = n.value
                else:
                    memo[n] = _kleene(n, [memo[x] for x in n.args])
        return memo[t]

    def _tick(self) -> None:
        self.visited += 1
        if self.visited > self.max_nodes:
            raise ReferenceLimitError(
                f"the reference backend gave up after {self.max_nodes} search nodes: the problem is too "
                "large for brute force (keep the user variables' search space to about 2**16)"
            )
        if self.deadline is not None and self.visited % _TIME_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise _Timeout

    def _propagate(self, assign: dict[Term, Any], open_: list[Term], trail: list[Term]) -> list[Term] | None:
        """Constraints still open after unit propagation (extending ``assign``, recording new
        variables in ``trail``), or None on a conflict."""
        while True:
            memo: _Partial = {}
            still: list[Term] = []
            for c in open_:
                v = self._value(c, assign, memo)
                if v is False:
                    return None
                if v is None:
                    still.append(c)
            forced = self._unit(assign, still)
            if forced is None:
                return still
            if forced is False:
                return None
            var, value = forced
            assign[var] = value
            trail.append(var)
            open_ = still

    def _unit(self, assign: dict[Term, Any], open_: list[Term]) -> tuple[Term, bool] | Literal[False] | None:
        """A forced (variable, value) from a constraint with one open Boolean variable, False on
        a conflict, None when nothing is forced."""
        for c in open_:
            free = [v for v in self.vars[c] if v not in assign]
            if len(free) != 1 or not free[0].sort.is_bool:
                continue
            var = free[0]
            ok = []
            for value in (True, False):
                assign[var] = value
                ok.append(self._value(c, assign, {}) is not False)
                del assign[var]
            if ok[0] != ok[1]:
                return var, ok[0]
            if not ok[0]:
                return False
        return None

    def _bound(self, assign: dict[Term, Any]) -> tuple[Fraction, list[Soft]]:
        memo: _Partial = {}
        lost, open_soft = Fraction(0), []
        for s in self.soft:
            v = self._value(s.term, assign, memo)
            if v is False:
                lost += s.weight
            elif v is None:
                open_soft.append(s)
        return lost, open_soft

    def run(self, assign: dict[Term, Any], open_: list[Term]) -> bool:
        """Search below ``assign``; True (with ``self.best`` set) at the first model found when
        there are no soft constraints, else False once the subtree is exhausted."""
        self._tick()
        trail: list[Term] = []
        try:
            still = self._propagate(assign, open_, trail)
            if still is None:
                return False
            lost, open_soft = self._bound(assign) if self.soft else (Fraction(0), [])
            if self.best is not None and lost >= self.best[0]:
                return False
            pending = still or [s.term for s in open_soft]
            if not pending:
                self.best = (lost, dict(assign))
                return not self.soft
            var = next(v for v in self.vars[pending[0]] if v not in assign)
            values: Iterable[Any] = (True, False) if var.sort.is_bool else range(1 << var.sort.width)
            for value in values:
                assign[var] = value
                if self.run(assign, still):
                    return True
            del assign[var]
            return False
        finally:
            for v in trail:
                del assign[v]


def _default(var: Term) -> Any:
    return False if var.sort.is_bool else 0


class ReferenceSession(SolverSession):
    """An exhaustive-search backend for small Bool/BitVec problems (the test oracle).

    ``check`` returns subset-minimal cores (by deletion, one exhaustive search per assumption)
    and ``optimize`` exact optima (branch and bound). ``max_nodes`` caps each search.
    """

    def __init__(self, *, max_nodes: int = 1 << 18) -> None:
        self._hard: list[Term] = []
        self._vars: dict[Term, None] = {}
        self.max_nodes = max_nodes

    @staticmethod
    def _admit(terms: Iterable[Term], what: str) -> list[Term]:
        out = []
        for t in terms:
            check_constraint(t, what)
            for v in postorder((t,)):
                if v.op != "var":
                    continue
                if v.sort.is_arith:
                    raise ReferenceLimitError(
                        f"the reference backend handles Bool and BitVec variables only; {v.name!r} is {v.sort}"
                    )
                if v.sort.is_bv and v.sort.width > MAX_WIDTH:
                    raise ReferenceLimitError(
                        f"the reference backend enumerates bit-vectors of at most {MAX_WIDTH} bits; "
                        f"{v.name!r} has {v.sort.width}"
                    )
            out.append(t)
        return out

    def add(self, *constraints: Term) -> None:
        for c in self._admit(constraints, "constraint"):
            self._hard.append(c)
            self._vars.update(dict.fromkeys(v for v in postorder((c,)) if v.op == "var"))

    def _search(self, assumptions: Sequence[Term], soft: Sequence[Soft], deadline: float | None) -> _Search:
        extra = [v for v in postorder([*assumptions, *(s.term for s in soft)]) if v.op == "var"]
        order = list(dict.fromkeys([*self._vars, *extra]))
        return _Search([*assumptions, *self._hard], soft, order, deadline, self.max_nodes)

    def _model(self, assign: dict[Term, Any], assumptions: Sequence[Term], soft: Sequence[Soft],
               model_vars: Sequence[Term] | None) -> Model:
        """``assign`` completed with defaults, checked against the formula, over ``model_vars``."""
        seen = [*self._vars, *(v for v in postorder([*assumptions, *(s.term for s in soft)]) if v.op == "var")]
        full = {v: assign.get(v, _default(v)) for v in seen}
        if not all(evaluate_many([*assumptions, *self._hard], full)):
            raise AssertionError("reference search returned an assignment that violates the formula")
        wanted = seen if model_vars is None else model_vars
        return Model({v: full.get(v, _default(v)) for v in wanted})

    def _sat(self, assumptions: Sequence[Term], deadline: float | None) -> dict[Term, Any] | None:
        search = self._search(assumptions, (), deadline)
        search.run({}, search.constraints)
        return None if search.best is None else search.best[1]

    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        assumed = self._admit(assumptions, "assumption")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            assign = self._sat(assumed, deadline)
            if assign is not None:
                return CheckResult(Status.SAT, model=self._model(assign, assumed, (), model_vars))
            if not want_core:
                return CheckResult(Status.UNSAT)
            core = list(dict.fromkeys(assumed))
            i = 0
            while i < len(core):
                trial = core[:i] + core[i + 1:]
                if self._sat(trial, deadline) is None:
                    core = trial
                else:
                    i += 1
            return CheckResult(Status.UNSAT, core=tuple(core))
        except _Timeout:
            return CheckResult(Status.UNKNOWN, reason="timeout")

    def optimize(
        self,
        soft: Sequence[Soft],
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        self._admit([s.term for s in soft], "soft constraint")
        softs = [Soft.make(s.term, s.weight, s.name) for s in soft]
        assumed = self._admit(assumptions, "assumption")
        deadline = None if timeout is None else time.monotonic() + timeout
        search = self._search(assumed, softs, deadline)
        try:
            search.run({}, search.constraints)
            status = OptStatus.OPTIMAL
        except _Timeout:
            status = OptStatus.SATISFIABLE
        if search.best is None:
            if status is OptStatus.OPTIMAL:
                return OptimizeResult(OptStatus.UNSAT)
            return OptimizeResult(OptStatus.UNKNOWN, reason="timeout")
        cost, assign = search.best
        model = self._model(assign, assumed, softs, None)
        values = evaluate_many([s.term for s in softs], model)
        if cost != sum((s.weight for s, ok in zip(softs, values) if not ok), Fraction(0)):
            raise AssertionError("reference search miscounted the cost of its model")
        return OptimizeResult(status, cost=cost, model=model,
                              lower_bound=cost if status is OptStatus.OPTIMAL else None,
                              reason=None if status is OptStatus.OPTIMAL else "timeout")
