"""Core-guided MaxSMT (OLL) for any backend with assumptions and unsat cores.

The algorithm only calls ``session.check(assumptions, want_core=True)``:

* every soft constraint is assumed as it is (a backend turns a non-literal assumption into a
  literal of its own), so its violation is the negated term;
* each unsat core with least residual weight ``m`` raises the lower bound by ``m``; a core of
  several assumptions is relaxed by a totalizer over their violations, and "at most one of them
  is violated" becomes a new assumption of weight ``m`` (the next bound is assumed once that
  one appears in a core);
* weights are stratified in geometric levels, heaviest first, and assumptions created by cores
  wait until the current level is satisfiable (weight-aware core extraction).

The totalizer is a pure Boolean term, not an integer sum: "at least ``j`` of a node's inputs"
is ``Or(And(left >= i, right >= j - i))``, a DAG shared between bounds, which every backend
clausifies with one definition per node. Nothing is asserted, so the session's formula is the
same after a call as before (one cvc5 check slows down linearly with every clause ever
asserted, guarded or not, so asserting per-call encodings would slow every later query), and
no auxiliary variable can leak into a model. Inputs are ordered canonically so a core that
recurs in a later query yields the same terms, which backends have already translated.
Costs are exact Fractions, evaluated on each model from the soft terms themselves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from ..evaluate import evaluate_many
from .cores import minimize_core
from ..interfaces import SolverSession
from ..problem import Soft
from ..results import CheckResult, Model, OptimizeResult, OptStatus, Status
from ..terms import And, Not, Or, Term, postorder

__all__ = ["oll"]

_EXHAUST = False
_RATIO = 2
_WCE = True
_TRIM = 0
_MINIMIZE = False


@dataclass(eq=False)
class _Node:
    """A totalizer node over ``size`` inputs (a leaf holds its input)."""

    size: int
    kids: tuple[_Node, _Node] | tuple[()] = ()
    leaf: Term | None = None
    memo: dict[int, Term] = field(default_factory=dict)

    def at_least(self, j: int) -> Term:
        """The term "at least ``j`` (``1 <= j <= size``) of my inputs are true"."""
        if self.leaf is not None:
            return self.leaf
        out = self.memo.get(j)
        if out is None:
            left, right = self.kids
            out = self.memo[j] = Or([
                And(([left.at_least(i)] if i else []) + ([right.at_least(j - i)] if j > i else []))
                for i in range(max(0, j - right.size), min(j, left.size) + 1)
            ])
        return out


def _tree(inputs: Sequence[Term]) -> _Node:
    if len(inputs) == 1:
        return _Node(1, leaf=inputs[0])
    half = len(inputs) // 2
    return _Node(len(inputs), (_tree(inputs[:half]), _tree(inputs[half:])))


@dataclass(eq=False)
class _Sum:
    """A relaxed core: its totalizer, the weight of each violation beyond the first, and the
    highest bound assumed so far."""

    root: _Node
    weight: Fraction
    top: int = 2

    def bound(self, j: int) -> Term:
        """The assumption "fewer than ``j`` inputs are violated"."""
        return Not(self.root.at_least(j))


@dataclass(eq=False)
class _Oll:
    session: SolverSession
    soft: list[Soft]
    user: list[Term]
    deadline: float | None
    check_vars: list[Term]
    stratify: bool
    weights: dict[Term, Fraction] = field(default_factory=dict)  # assumption -> residual weight
    sums: dict[Term, tuple[_Sum, int]] = field(default_factory=dict)  # bound assumption -> (sum, j)
    lower: Fraction = Fraction(0)
    best: tuple[Fraction, Model] | None = None

    def _check(self, assumptions: Sequence[Term]) -> CheckResult:
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return CheckResult(Status.UNKNOWN, reason="timeout")
        result = self.session.check([*self.user, *assumptions], timeout=remaining, want_core=True,
                                    model_vars=self.check_vars)
        if result.status is Status.SAT and result.model is not None:
            values = evaluate_many([s.term for s in self.soft], result.model, default=False)
            cost = sum((s.weight for s, ok in zip(self.soft, values) if not ok), Fraction(0))
            if self.best is None or cost < self.best[0]:
                self.best = (cost, result.model)
        return result

    def _shrink(self, core: list[Term]) -> list[Term]:
        for _ in range(_TRIM):
            if len(core) < 3:
                break
            result = self._check(core)
            if result.status is not Status.UNSAT or result.core is None or len(result.core) >= len(core):
                break
            kept = set(result.core)
            core = [lit for lit in core if lit in kept]
        if _MINIMIZE and len(core) > 2:
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            core = list(minimize_core(self.session, core, keep=self.user, timeout=remaining))
        return core

    def _bound(self, s: _Sum, j: int) -> Term:
        lit = s.bound(j)
        self.sums[lit] = (s, j)
        return lit

    def _relax(self, core: list[Term]) -> list[tuple[Term, Fraction]]:
        """Charge ``core``'s least weight to the lower bound; the assumptions it creates."""
        m = min(self.weights[lit] for lit in core)
        self.lower += m
        new: list[tuple[Term, Fraction]] = []
        for lit in core:
            self.weights[lit] -= m
            if not self.weights[lit]:
                del self.weights[lit]
            if lit in self.sums:
                s, j = self.sums[lit]
                if j == s.top and j < s.root.size:
                    s.top += 1
                    new.append((self._bound(s, s.top), s.weight))
        if len(core) > 1:
            s = _Sum(_tree(sorted((Not(lit) for lit in core), key=hash)), m)
            while s.top <= s.root.size:
                lit = self._bound(s, s.top)
                if not _EXHAUST or self._check([lit]).status is not Status.UNSAT:
                    new.append((lit, m))
                    break
                self.lower += m
                s.top += 1
        return new

    def run(self) -> OptimizeResult:
        user = set(self.user)
        for s in self.soft:
            if s.term not in user:  # an assumed soft constraint is never violated
                self.weights[s.term] = self.weights.get(s.term, Fraction(0)) + s.weight
        threshold = max(self.weights.values(), default=Fraction(0)) / _RATIO if self.stratify else Fraction(0)
        delayed: list[tuple[Term, Fraction]] = []
        while True:
            if self.best is not None and self.best[0] == self.lower:
                return self._result(OptStatus.OPTIMAL)
            active = [lit for lit, w in self.weights.items() if w > threshold]
            result = self._check(active)
            if result.status is Status.UNKNOWN:
                status = OptStatus.SATISFIABLE if self.best else OptStatus.UNKNOWN
                return self._result(status, result.reason or "unknown")
            if result.status is Status.SAT:
                for lit, w in delayed:
                    self.weights[lit] = self.weights.get(lit, Fraction(0)) + w
                if any(w > threshold for _, w in delayed):
                    delayed.clear()
                    continue
                delayed.clear()
                waiting = [w for w in self.weights.values() if w <= threshold]
                if not waiting:
                    return self._result(OptStatus.OPTIMAL)
                threshold = max(waiting) / _RATIO
                continue
            wanted = set(active)
            core = [lit for lit in dict.fromkeys(active if result.core is None else result.core) if lit in wanted]
            if not core:
                return OptimizeResult(OptStatus.UNSAT)
            created = self._relax(self._shrink(core))
            if _WCE:
                delayed.extend(created)
            else:
                for lit, w in created:
                    self.weights[lit] = self.weights.get(lit, Fraction(0)) + w

    def _result(self, status: OptStatus, reason: str | None = None) -> OptimizeResult:
        if self.best is None:
            return OptimizeResult(status, reason=reason, lower_bound=self.lower)
        cost, model = self.best
        return OptimizeResult(status, cost=cost, model=model, reason=reason, lower_bound=self.lower)


def oll(
    session: SolverSession,
    soft: Sequence[Soft],
    assumptions: Sequence[Term] = (),
    *,
    timeout: float | None = None,
    model_vars: Sequence[Term] | None = None,
    stratify: bool = True,
) -> OptimizeResult:
    """Minimise the total weight of the violated ``soft`` constraints under the session's
    constraints and ``assumptions``, with core-guided OLL.

    OPTIMAL comes with the exact cost and a model over ``model_vars`` (default: the variables of
    the soft terms and assumptions); UNSAT means the hard part and assumptions are
    unsatisfiable. When ``timeout`` (seconds) runs out, the result is SATISFIABLE with the best
    model found, or UNKNOWN; ``lower_bound`` holds the proven bound either way.
    """
    softs = list(soft)
    user = list(dict.fromkeys(assumptions))
    soft_vars = [t for t in postorder(s.term for s in softs) if t.op == "var"]
    wanted = list(dict.fromkeys(
        model_vars if model_vars is not None else [*soft_vars, *(t for t in postorder(user) if t.op == "var")]
    ))
    deadline = None if timeout is None else time.monotonic() + timeout
    state = _Oll(session, softs, user, deadline, list(dict.fromkeys([*wanted, *soft_vars])), stratify)
    result = state.run()
    if result.model is None:
        return result
    model = Model({v: result.model[v] for v in wanted if v in result.model})
    return OptimizeResult(result.status, cost=result.cost, model=model, reason=result.reason,
                          lower_bound=result.lower_bound)
