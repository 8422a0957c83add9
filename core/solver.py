"""The user-facing solver: a backend chosen by name, with core algorithms filling its gaps.

``Solver`` validates input, checks at construction that the backend can do what is asked (the
error names the backends that can), optionally verifies every model against the formula, and
provides unsat-core minimisation and MaxSMT for backends that lack them natively.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from .capabilities import CoreKind, Requirements, Theory, theories_of
from .config import resolve
from .descriptors import BackendSpec
from .interfaces import BackendError, CapabilityError, SolverSession
from .problem import Problem, Soft, check_constraint
from .registry import Registry, default_registry
from .results import CheckResult, OptimizeResult, Status
from .terms import Term, clause_variables

__all__ = ["Solver", "solve", "maxsmt"]


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    return float(timeout)


class Solver:
    """An incremental solver over a :class:`Problem`, on the backend named by config.

    >>> s = Solver(Problem([x | y]), backend="pysat")   # doctest: +SKIP
    >>> s.check([~x]).model[y]                          # doctest: +SKIP
    True
    """

    def __init__(
        self,
        problem: Problem | Iterable[Term] = (),
        backend: str | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        needs: Requirements | None = None,
        verify: bool = False,
        registry: Registry | None = None,
        **options: Any,
    ) -> None:
        self._problem = problem.copy() if isinstance(problem, Problem) else Problem(problem)
        cfg = resolve(backend, options, config_file=config_file)
        self._registry = registry or default_registry()
        self._needs = needs or Requirements()
        full_needs = replace(self._needs, theories=self._needs.theories | self._problem.theories)
        self.spec: BackendSpec = self._registry.select(cfg.backend, full_needs)
        self.backend = cfg.backend
        self.verify = verify
        self._literals: set[Term] = set()  # literal (clause) assumptions already accepted
        self._session: SolverSession = self.spec.open(self.spec.resolve_options(cfg.options))
        if not isinstance(self._session, SolverSession):
            raise CapabilityError(f"backend {self.backend!r} does not provide exact solving")
        if self._problem.hard:
            self._session.add(*self._problem.hard)

    # -- building ---------------------------------------------------------------------------
    @property
    def problem(self) -> Problem:
        """A copy of the constraints added so far."""
        return self._problem.copy()

    @property
    def capabilities(self):  # noqa: ANN201  (Capabilities; avoids a re-export cycle in docs)
        return self.spec.capabilities

    def _require_theories(self, terms: Sequence[Term]) -> None:
        supported = self.spec.capabilities.theories
        if len(supported) == len(Theory):
            return
        rest = [t for t in terms if clause_variables(t) is None]  # clauses are Boolean: no walk
        missing = theories_of(rest) - supported if rest else None
        if missing:
            self._registry.select(self.backend, Requirements(theories=frozenset(missing)))

    def add(self, *constraints: Term) -> Solver:
        """Add hard constraints permanently."""
        for c in constraints:
            check_constraint(c)
        self._require_theories(constraints)
        self._problem.add(*constraints)
        self._session.add(*constraints)
        return self

    # -- checking ---------------------------------------------------------------------------
    def _assumptions(self, assumptions: Iterable[Term]) -> list[Term]:
        """``assumptions`` as a list, checked: a Boolean literal or clause of literals (the usual
        assumption) once per solver, anything else every time."""
        out = list(assumptions)
        known = self._literals
        try:
            fresh = [a for a in out if a not in known]
        except TypeError:  # something unhashable: check_constraint names it
            fresh = out
        other = []
        for a in fresh:
            if type(a) is Term and clause_variables(a) is not None:
                known.add(a)
            else:
                other.append(check_constraint(a, "assumption"))
        self._require_theories(other)
        return out

    def _verified(self, result: CheckResult, assumptions: Sequence[Term]) -> CheckResult:
        if self.verify and result.status is Status.SAT:
            if result.model is None or not self._problem.satisfied_by(result.model, assumptions):
                raise BackendError(f"backend {self.backend!r} returned a model that violates the formula")
        return result

    def check(
        self,
        assumptions: Iterable[Term] = (),
        *,
        timeout: float | None = None,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        """Satisfiability of the constraints plus ``assumptions``; UNKNOWN on timeout."""
        assumed = self._assumptions(assumptions)
        result = self._session.check(assumed, timeout=_check_timeout(timeout), model_vars=model_vars)
        return self._verified(result, assumed)

    def unsat_core(
        self,
        assumptions: Iterable[Term],
        *,
        minimize: bool = True,
        timeout: float | None = None,
    ) -> CheckResult:
        """Check under ``assumptions``; when UNSAT, ``result.core`` is an unsatisfiable subset,
        subset-minimal if ``minimize`` (by deletion when the backend's own cores may be redundant)."""
        needs = Requirements(cores=CoreKind.MINIMAL if minimize else CoreKind.ANY)
        self._registry.select(self.backend, needs)
        assumed = self._assumptions(assumptions)
        result = self._session.check(assumed, timeout=_check_timeout(timeout), want_core=True)
        if result.status is Status.UNSAT and minimize and self.spec.capabilities.cores is not CoreKind.MINIMAL:
            from .algorithms.cores import minimize_core

            core = minimize_core(self._session, result.core or (), timeout=timeout)
            result = CheckResult(Status.UNSAT, core=core)
        return self._verified(result, assumed)

    def check_batch(
        self,
        assumption_sets: Iterable[Iterable[Term]],
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> list[CheckResult]:
        """Many checks sharing the loaded formula, one assumption set each (the formula is built once)."""
        t = _check_timeout(timeout)
        results = []
        for assumptions in assumption_sets:
            assumed = self._assumptions(assumptions)
            r = self._session.check(assumed, timeout=t, want_core=want_core, model_vars=model_vars)
            results.append(self._verified(r, assumed))
        return results

    # -- optimisation -----------------------------------------------------------------------
    def optimize(
        self,
        soft: Iterable[Soft] | None = None,
        assumptions: Iterable[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """Minimise the weight of violated soft constraints (default: the problem's own).

        Native MaxSMT when the backend has it, else core-guided OLL with stratification."""
        self._registry.select(self.backend, Requirements(maxsmt=True))
        softs = list(self._problem.soft if soft is None else (Soft.make(s.term, s.weight, s.name) for s in soft))
        self._require_theories([s.term for s in softs])
        assumed = self._assumptions(assumptions)
        t = _check_timeout(timeout)
        if self.spec.capabilities.native_maxsmt:
            result = self._session.optimize(softs, assumed, timeout=t)
        else:
            from .algorithms.maxsat import oll

            result = oll(self._session, softs, assumed, timeout=t, model_vars=self._problem.variables)
        if self.verify and result.model is not None:
            if not self._problem.satisfied_by(result.model, assumed):
                raise BackendError(f"backend {self.backend!r} returned a model that violates the formula")
            if result.cost != self._problem.cost(result.model, softs):
                raise BackendError(f"backend {self.backend!r} reported a cost its model does not have")
        return result

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Solver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Solver(backend={self.backend!r}, {self._problem!r})"


def solve(problem: Problem | Iterable[Term], backend: str | None = None, *, timeout: float | None = None,
          **kwargs: Any) -> CheckResult:
    """One-shot satisfiability check."""
    with Solver(problem, backend, **kwargs) as s:
        return s.check(timeout=timeout)


def maxsmt(problem: Problem, backend: str | None = None, *, timeout: float | None = None,
           **kwargs: Any) -> OptimizeResult:
    """One-shot MaxSMT over ``problem``'s soft constraints."""
    with Solver(problem, backend, needs=Requirements(maxsmt=True), **kwargs) as s:
        return s.optimize(timeout=timeout)
