"""Core-guided MaxSMT (OLL) for any backend with assumptions and unsat cores.

The algorithm only calls ``session.check(assumptions, want_core=True)``:

* every soft constraint is assumed as it is (a backend turns a non-literal assumption into a
  literal of its own), so its violation is the negated term;
* each unsat core with least residual weight ``m`` raises the lower bound by ``m``; a core of
  several assumptions is relaxed by a totalizer over their violations, and "at most one of them
  is violated" becomes a new assumption of weight ``m`` (the next bound is assumed once that
  one appears in a core);
* weights are stratified in geometric levels, heaviest first: each level admits the assumptions
  weighing more than half the heaviest one the last model violates.

The totalizer is a pure Boolean term, not an integer sum: "at least ``j`` of a node's inputs"
is ``Or(And(left >= i, right >= j - i))``, a DAG shared between bounds that backends clausify
with one definition per node. OLL asserts nothing, so the session's formula is the same after a
call as before and no auxiliary variable can reach a model. (Per-call clauses guarded by an
activation literal were measured first: every cvc5 check slows down linearly with all clauses
ever asserted, guarded or not, so they made each later query slower.) Totalizer inputs are
ordered canonically, so a core that recurs in a later query gives the same terms, which the
backend has translated already. Costs are exact Fractions, evaluated from the soft terms on
each model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from ..evaluate import evaluate_many
from ..interfaces import SolverSession
from ..problem import Soft
from ..results import CheckResult, Model, OptimizeResult, OptStatus, Status
from ..terms import And, Not, Or, Term, postorder

__all__ = ["oll"]

_LEVEL_RATIO = 2  # a level admits weights above 1/_LEVEL_RATIO of the heaviest violated one


@dataclass(eq=False)
class _Node:
    """A totalizer node over ``size`` inputs (a leaf holds its input)."""

    size: int
    kids: tuple[_Node, ...] = ()  # none, or left and right
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
    sums: dict[Term, list[tuple[_Sum, int]]] = field(default_factory=dict)  # bound -> [(sum, j)]
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

    def _bound(self, s: _Sum, j: int) -> Term:
        lit = s.bound(j)
        self.sums.setdefault(lit, []).append((s, j))  # equal cores give equal terms
        return lit

    def _assume(self, lit: Term, weight: Fraction) -> None:
        self.weights[lit] = self.weights.get(lit, Fraction(0)) + weight

    def _relax(self, core: list[Term]) -> None:
        """Charge ``core``'s least weight to the lower bound and reformulate: every member loses
        that weight, and the extra violations of the core (and of the sums in it) cost it."""
        m = min(self.weights[lit] for lit in core)
        self.lower += m
        for lit in core:
            self.weights[lit] -= m
            if not self.weights[lit]:
                del self.weights[lit]
            for s, j in self.sums.get(lit, ()):
                if j == s.top and j < s.root.size:
                    s.top += 1
                    self._assume(self._bound(s, s.top), s.weight)
        if len(core) > 1:
            self._assume(self._bound(_Sum(_tree(sorted((Not(lit) for lit in core), key=hash)), m), 2), m)

    def run(self) -> OptimizeResult:
        user = set(self.user)
        for s in self.soft:
            if s.term not in user:  # an assumed soft constraint is never violated
                self._assume(s.term, s.weight)
        threshold = max(self.weights.values(), default=Fraction(0)) / _LEVEL_RATIO if self.stratify else Fraction(0)
        while True:
            if self.best is not None and self.best[0] == self.lower:
                return self._result(OptStatus.OPTIMAL)
            active = [lit for lit, w in self.weights.items() if w > threshold]
            result = self._check(active)
            if result.status is Status.UNKNOWN:
                status = OptStatus.SATISFIABLE if self.best else OptStatus.UNKNOWN
                return self._result(status, result.reason or "unknown")
            if result.status is Status.SAT:
                waiting = [(lit, w) for lit, w in self.weights.items() if w <= threshold]
                values = evaluate_many([lit for lit, _ in waiting], result.model or {}, default=False)
                violated = [w for (_, w), ok in zip(waiting, values) if not ok]
                if not violated:  # the model satisfies every assumption: nothing left to relax
                    return self._result(OptStatus.OPTIMAL)
                threshold = max(violated) / _LEVEL_RATIO
                continue
            wanted = set(active)
            core = [lit for lit in dict.fromkeys(active if result.core is None else result.core) if lit in wanted]
            if not core:
                return OptimizeResult(OptStatus.UNSAT)
            self._relax(core)

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
    model found, or UNKNOWN; ``lower_bound`` holds the proven bound either way. Weights must be
    positive (ValueError otherwise).
    """
    softs = [Soft.make(s.term, s.weight, s.name) for s in soft]  # positive exact weights
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
