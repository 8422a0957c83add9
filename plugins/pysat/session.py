"""A PySAT solver session fed incrementally from a :class:`~solverlayers.encodings.CnfBuilder`."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from fractions import Fraction
from math import lcm
from typing import Any

from pysat.examples.rc2 import RC2, RC2Stratified
from pysat.formula import WCNF
from pysat.solvers import Solver

from solverlayers.encodings import FALSE, TRUE, CnfBuilder, Encoding
from solverlayers.evaluate import evaluate_many
from solverlayers.interfaces import BackendError, SolverSession
from solverlayers.problem import Soft, check_constraint
from solverlayers.results import CheckResult, Model, OptimizeResult, OptStatus, Status
from solverlayers.terms import Term

from . import ENGINES, INTERRUPTIBLE_ENGINES
from .watchdog import deadline

__all__ = ["PysatSession"]


class _Stop:
    """What the watchdog interrupts for RC2: RC2 itself, remembering that it did."""

    def __init__(self, rc2: Any) -> None:
        self.rc2, self.fired = rc2, False

    def interrupt(self) -> None:
        self.fired = True
        self.rc2.interrupt()


_TIMEOUT = CheckResult(Status.UNKNOWN, reason="timeout")


class PysatSession(SolverSession):
    """One incremental PySAT solver over the CNF of the asserted terms.

    Timed checks use ``solve_limited`` and a timer that interrupts the solver. Engines that
    cannot be interrupted (CaDiCaL, Lingeling) hand timed checks to a second, ``interruptible``
    solver that is fed the same clauses, created on the first timed check.
    """

    def __init__(
        self,
        engine: str = "cadical195",
        cardinality: Encoding = "totalizer",
        interruptible: str = "minisat22",
        maxsat_oracle: str = "glucose4",
        stratified: bool = True,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unsupported pysat engine {engine!r}; choose one of: {', '.join(ENGINES)}")
        if interruptible not in INTERRUPTIBLE_ENGINES:
            raise ValueError(f"{interruptible!r} cannot be interrupted; choose one of: {', '.join(INTERRUPTIBLE_ENGINES)}")
        self._builder = CnfBuilder(cardinality)
        self._solver: Solver | None = Solver(name=engine)
        self._can_interrupt = engine in INTERRUPTIBLE_ENGINES
        self._interruptible = interruptible
        if maxsat_oracle not in INTERRUPTIBLE_ENGINES:
            raise ValueError(f"RC2 needs an interruptible oracle; choose one of: {', '.join(INTERRUPTIBLE_ENGINES)}")
        self._oracle = maxsat_oracle
        self._stratified = stratified
        self._timed: Solver | None = None  # the stand-in for timed checks, when needed
        self._timed_fed = 0

    @property
    def builder(self) -> CnfBuilder:
        """The CNF builder holding the encoding of everything asserted so far."""
        return self._builder

    def add(self, *constraints: Term) -> None:
        for c in constraints:
            self._builder.add(check_constraint(c))

    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        solver = self._live()
        lits = self._builder.literals(assumptions)
        fresh = self._builder.new_clauses()
        if fresh:
            solver.append_formula(fresh)
        if timeout is None:
            sat: bool | None = solver.solve(assumptions=lits)
        else:
            sat, solver = self._solve_timed(lits, timeout)
            if sat is None:
                return _TIMEOUT
        if sat:
            return CheckResult(Status.SAT, model=self._builder.decode(solver.get_model(), model_vars))
        if not want_core:
            return CheckResult(Status.UNSAT)
        in_core = set(solver.get_core() or ())
        core: dict[int, Term] = {}  # in the order of the assumptions, one term per literal
        for term, lit in zip(assumptions, lits):
            if lit in in_core:
                core.setdefault(lit, term)
        return CheckResult(Status.UNSAT, core=tuple(core.values()))

    def _live(self) -> Solver:
        if self._solver is None:
            raise RuntimeError("this pysat session is closed")
        return self._solver

    def _solve_timed(self, lits: list[int], timeout: float) -> tuple[bool | None, Solver]:
        """``solve_limited`` under a timer; ``None`` when the time ran out."""
        solver = self._live() if self._can_interrupt else self._timed_solver()
        if timeout <= 0:
            return None, solver
        try:
            with deadline(solver, timeout):
                return solver.solve_limited(assumptions=lits, expect_interrupt=True), solver
        finally:
            solver.clear_interrupt()

    def _timed_solver(self) -> Solver:
        if self._timed is None:
            self._timed = Solver(name=self._interruptible)
        clauses = self._builder.clauses
        if self._timed_fed < len(clauses):
            self._timed.append_formula(clauses[self._timed_fed:])
            self._timed_fed = len(clauses)
        return self._timed

    def optimize(
        self,
        soft: Sequence[Soft],
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """Weighted MaxSAT by RC2 over the asserted clauses plus ``assumptions`` as units.

        Exact weights are scaled to integers by the LCM of their denominators. On timeout the
        result is UNKNOWN with the lower bound RC2 proved (RC2 finds no model before the optimum).
        """
        self._live()
        softs = [Soft.make(s.term, s.weight, s.name) for s in soft]
        scale = lcm(*(s.weight.denominator for s in softs))
        builder = self._builder
        hard_units = [builder.literal(a) for a in assumptions]
        weights: dict[int, int] = {}
        fixed = Fraction(0)  # weight of soft constraints that are false whatever the model
        for s in softs:
            lit = builder.literal(s.term)
            if lit == FALSE:
                fixed += s.weight
            elif lit != TRUE:
                weights[lit] = weights.get(lit, 0) + int(s.weight * scale)
        if timeout is not None and timeout <= 0:
            return OptimizeResult(OptStatus.UNKNOWN, reason="timeout", lower_bound=fixed)
        wcnf = WCNF()  # filled directly: WCNF.append would copy and scan every hard clause per call
        wcnf.hard = builder.clauses + [[lit] for lit in hard_units]
        wcnf.soft = [[lit] for lit in weights]
        wcnf.wght = list(weights.values())
        wcnf.nv = builder.top
        wcnf.topw = sum(wcnf.wght) + 1
        # stratification only matters with distinct weights (and RC2Stratified fails on no softs)
        stratified = self._stratified and len(set(weights.values())) > 1
        raw, rc2_cost, timed_out = self._run_rc2(wcnf, timeout, stratified)
        if raw is None:
            if timed_out:
                return OptimizeResult(
                    OptStatus.UNKNOWN, reason="timeout", lower_bound=Fraction(rc2_cost, scale) + fixed
                )
            return OptimizeResult(OptStatus.UNSAT)
        full = [0] * builder.top
        for lit in raw:
            if abs(lit) <= builder.top:
                full[abs(lit) - 1] = lit
        model = builder.decode(full)
        cost = self._cost(model, softs, assumptions)
        if cost != Fraction(rc2_cost, scale) + fixed:
            raise BackendError(f"RC2 reported cost {Fraction(rc2_cost, scale) + fixed}, the model costs {cost}")
        return OptimizeResult(OptStatus.OPTIMAL, cost=cost, model=model, lower_bound=cost)

    def _run_rc2(self, wcnf: WCNF, timeout: float | None, stratified: bool) -> tuple[list[int] | None, int, bool]:
        """RC2's model (or ``None``), its cost, and whether the timer interrupted it."""
        rc2: Any = (RC2Stratified if stratified else RC2)(wcnf, solver=self._oracle)
        stop = _Stop(rc2)
        try:
            with deadline(stop, timeout) if timeout is not None else nullcontext():
                raw = rc2.compute(expect_interrupt=timeout is not None)
        finally:
            cost = rc2.cost
            rc2.delete()
        return raw, cost, stop.fired

    @staticmethod
    def _cost(model: Model, softs: list[Soft], assumptions: Sequence[Term]) -> Fraction:
        """The weight of the soft constraints ``model`` violates, checking the assumptions hold."""
        values = evaluate_many([*assumptions, *(s.term for s in softs)], model, default=False)
        if not all(values[: len(assumptions)]):
            raise BackendError("RC2 returned a model that violates the assumptions")
        return sum((s.weight for s, ok in zip(softs, values[len(assumptions):]) if not ok), Fraction(0))

    def close(self) -> None:
        for solver in (self._solver, self._timed):
            if solver is not None:
                solver.delete()
        self._solver = self._timed = None
