"""The CP-SAT session: solverlayers terms compiled into one growing ``CpModel``.

Every Boolean subterm becomes a CP-SAT literal equivalent to it (full reification), so any
subterm can serve as an assumption or a soft constraint, and adding the definitions never changes
what the asserted constraints mean. Integer subterms become linear expressions with interval
bounds; an integer ``ite`` gets a fresh variable. CP-SAT needs finite domains, so integer
variables live in ``[-int_bound, int_bound]``: answers that this box could change (UNSAT, or an
optimum) are reported as UNKNOWN / SATISFIABLE unless hard constraints bound every integer
variable inside the box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ortools.sat.python import cp_model
from solverlayers import CheckResult, Model, OptimizeResult, OptStatus, Soft, SolverSession, Status
from solverlayers.interfaces import BackendError, CapabilityError
from solverlayers.problem import check_constraint
from solverlayers.terms import Term, postorder

__all__ = ["CpSatSession", "OBJECTIVE_LIMIT"]

OBJECTIVE_LIMIT = 2**53
"""Largest total of integer-scaled soft weights given to CP-SAT; beyond it (weights with very
different denominators, such as ``0.1`` next to ``1/3``) the session falls back to the exact,
core-guided OLL of :mod:`solverlayers.algorithms.maxsat`."""

_SOLVED = (cp_model.OPTIMAL, cp_model.FEASIBLE)
_CARDINALITY = {"atmost": "le", "atleast": "ge", "exactly": "eq", "pble": "le", "pbge": "ge", "pbeq": "eq"}
_COMPARISON = {"lt": (None, -1), "le": (None, 0), "gt": (1, None), "ge": (0, None), "eq": (0, 0)}


@dataclass(frozen=True)
class _Int:
    """A linear expression with bounds that hold for every value of its variables."""

    expr: Any
    lo: int
    hi: int


def _domain(lo: int | None, hi: int | None) -> cp_model.Domain:
    return cp_model.Domain(cp_model.INT_MIN if lo is None else lo, cp_model.INT_MAX if hi is None else hi)


class CpSatSession(SolverSession):
    """An incremental CP-SAT session (each check solves the whole model, warm data aside)."""

    def __init__(self, *, workers: int = 1, seed: int = 0, presolve: bool = True,
                 linearization_level: int = 1, int_bound: int = 2**31 - 1) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0 (0: one per core), got {workers}")
        if not 0 < int_bound < 2**40:
            raise ValueError(f"int_bound must be in [1, 2**40), got {int_bound}")
        self._params = {"num_workers": workers, "random_seed": seed, "cp_model_presolve": presolve,
                        "linearization_level": linearization_level}
        self._bound = int_bound
        self._model = cp_model.CpModel()
        self._true = self._model.new_bool_var("true")
        self._model.add_bool_or([self._true])
        self._lits: dict[Term, Any] = {}
        self._ints: dict[Term, _Int] = {}
        self._vars: dict[Term, Any] = {}  # user variables, in order of first use
        self._hard_vars: dict[Term, None] = {}  # variables of the asserted constraints
        self._box: dict[Term, tuple[int | None, int | None]] = {}  # bounds stated by hard constraints

    # -- compiling terms ------------------------------------------------------------------------
    def _encode(self, term: Term) -> None:
        for t in postorder((term,)):
            if t in self._lits or t in self._ints:
                continue
            if t.sort.is_bool:
                self._lits[t] = self._bool(t)
            elif t.sort.kind == "int":
                self._ints[t] = self._int(t)
            else:
                raise CapabilityError(f"the ortools backend handles Bool and Int terms, not {t.sort} ({t.op!r})")

    def _lit(self, term: Term) -> Any:
        self._encode(term)
        return self._lits[term]

    def _new(self) -> Any:
        return self._model.new_bool_var("")

    def _and(self, lits: list[Any]) -> Any:
        b = self._new()
        for x in lits:
            self._model.add_implication(b, x)
        self._model.add_bool_or([b, *(~x for x in lits)])
        return b

    def _xor(self, x: Any, y: Any) -> Any:
        b = self._new()
        self._model.add_bool_xor([x, y, ~b])  # odd parity: b == x xor y
        return b

    def _reify(self, expr: Any, lo: int | None, hi: int | None) -> Any:
        """A literal equivalent to ``lo <= expr <= hi`` (None: unbounded side)."""
        b = self._new()
        domain = _domain(lo, hi)
        self._model.add_linear_expression_in_domain(expr, domain).only_enforce_if(b)
        self._model.add_linear_expression_in_domain(expr, domain.complement()).only_enforce_if(~b)
        return b

    def _bool(self, t: Term) -> Any:
        op = t.op
        if op == "var":
            self._vars[t] = self._model.new_bool_var(t.name)
            return self._vars[t]
        if op == "const":
            return self._true if t.value else ~self._true
        if t.args and not t.args[0].sort.is_bool:  # comparisons of integers
            e = [self._ints[x] for x in t.args]
            if op == "distinct":
                return self._and([~self._reify(a.expr - b.expr, 0, 0) for i, a in enumerate(e) for b in e[i + 1:]])
            lo, hi = _COMPARISON[op]
            return self._reify(e[0].expr - e[1].expr, lo, hi)
        a = [self._lits[x] for x in t.args]
        if op == "not":
            return ~a[0]
        if op == "and":
            return self._and(a)
        if op == "or":
            return ~self._and([~x for x in a])
        if op == "implies":
            return ~self._and([a[0], ~a[1]])
        if op == "xor":
            return self._xor(a[0], a[1])
        if op == "eq":
            return ~self._xor(a[0], a[1])
        if op == "distinct":  # of Booleans: two can differ, three cannot
            return self._xor(a[0], a[1]) if len(a) == 2 else ~self._true
        if op == "ite":
            c, x, y = a
            b = self._new()
            for clause in ([~c, ~x, b], [~c, x, ~b], [c, ~y, b], [c, y, ~b]):
                self._model.add_bool_or(clause)
            return b
        if op in _CARDINALITY:
            coeffs, k = ((1,) * len(a), t.value) if op in ("atmost", "atleast", "exactly") else t.value
            rel = _CARDINALITY[op]
            lo, hi = (None if rel == "le" else k), (None if rel == "ge" else k)
            return self._reify(sum(c * x for c, x in zip(coeffs, a)), lo, hi)
        raise CapabilityError(f"the ortools backend cannot encode {op!r}")

    def _int(self, t: Term) -> _Int:
        op = t.op
        if op == "var":
            v = self._vars[t] = self._model.new_int_var(-self._bound, self._bound, t.name)
            return _Int(v, -self._bound, self._bound)
        if op == "const":
            return _Int(t.value, t.value, t.value)
        if op == "ite":
            c = self._lits[t.args[0]]
            x, y = self._ints[t.args[1]], self._ints[t.args[2]]
            lo, hi = min(x.lo, y.lo), max(x.hi, y.hi)
            v = self._model.new_int_var(lo, hi, "")
            self._model.add(v == x.expr).only_enforce_if(c)
            self._model.add(v == y.expr).only_enforce_if(~c)
            return _Int(v, lo, hi)
        a = [self._ints[x] for x in t.args]
        if op == "add":
            return _Int(sum(x.expr for x in a), sum(x.lo for x in a), sum(x.hi for x in a))
        if op == "sub":
            return _Int(a[0].expr - a[1].expr, a[0].lo - a[1].hi, a[0].hi - a[1].lo)
        if op == "neg":
            return _Int(-a[0].expr, -a[0].hi, -a[0].lo)
        if op == "mul":
            variable = [x for x, arg in zip(a, t.args) if not arg.is_const]
            if len(variable) > 1:
                raise CapabilityError("the ortools backend handles linear integer arithmetic only, not products")
            c = math.prod(arg.value for arg in t.args if arg.is_const)
            x = variable[0] if variable else _Int(1, 1, 1)
            lo, hi = sorted((c * x.lo, c * x.hi))
            return _Int(c * x.expr, lo, hi)
        raise CapabilityError(f"the ortools backend cannot encode the integer operation {op!r}")

    # -- bounds stated by hard constraints --------------------------------------------------
    def _note_bounds(self, constraint: Term) -> None:
        stack = [constraint]
        while stack:
            t = stack.pop()
            if t.op == "and":
                stack.extend(t.args)
                continue
            if t.op not in _COMPARISON or len(t.args) != 2:
                continue
            left, right = t.args
            lo, hi = _COMPARISON[t.op]  # bounds on left - right
            if left.op == "var" and right.is_const and left.sort.kind == "int":
                var, shift, flip = left, right.value, False
            elif right.op == "var" and left.is_const and right.sort.kind == "int":
                var, shift, flip = right, left.value, True
            else:
                continue
            # left - right in [lo, hi]  =>  var in [shift + lo, shift + hi] (or its mirror)
            if flip:
                lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
            old_lo, old_hi = self._box.get(var, (None, None))
            new_lo = None if lo is None else shift + lo
            new_hi = None if hi is None else shift + hi
            self._box[var] = (
                new_lo if old_lo is None else old_lo if new_lo is None else max(old_lo, new_lo),
                new_hi if old_hi is None else old_hi if new_hi is None else min(old_hi, new_hi),
            )

    def _incomplete(self, active: Sequence[Term]) -> str | None:
        """Why an UNSAT answer or an optimum may be an artefact of the artificial box: the integer
        variables of the hard constraints and ``active`` terms that no hard constraint bounds.
        (Variables only in the definitions of inactive literals cannot cause infeasibility.)"""
        unboxed = []
        for var in dict.fromkeys([*self._hard_vars, *(t for t in postorder(active) if t.op == "var")]):
            lo, hi = self._box.get(var, (None, None))
            if var.sort.kind == "int" and (lo is None or hi is None or lo < -self._bound or hi > self._bound):
                unboxed.append(var.name)
        if not unboxed:
            return None
        return (f"incomplete: integer variables {', '.join(unboxed)} are not bounded by hard constraints "
                f"and were searched in [-{self._bound}, {self._bound}] only")

    # -- solving ----------------------------------------------------------------------------
    def add(self, *constraints: Term) -> None:
        for c in constraints:
            check_constraint(c)
            self._model.add_bool_or([self._lit(c)])
            self._note_bounds(c)
            self._hard_vars.update((t, None) for t in postorder((c,)) if t.op == "var")

    def _assume(self, assumptions: Sequence[Term]) -> list[Any]:
        lits = [self._lit(check_constraint(a, "assumption")) for a in assumptions]
        self._model.clear_assumptions()
        self._model.add_assumptions(lits)
        return lits

    def _solve(self, timeout: float | None, core: bool = False) -> tuple[Any, cp_model.CpSolver]:
        solver = cp_model.CpSolver()
        for name, value in self._params.items():
            setattr(solver.parameters, name, value)
        if core:
            # With presolve, CP-SAT 9.15 may report a core literal of the presolved model that is
            # not among the assumptions (seen for an assumption presolve proves always true).
            solver.parameters.cp_model_presolve = False
        if timeout is not None:
            solver.parameters.max_time_in_seconds = timeout
        status = solver.solve(self._model)
        if status == cp_model.MODEL_INVALID:
            raise BackendError(f"CP-SAT rejected the model: {self._model.validate()}")
        return status, solver

    def _model_of(self, solver: cp_model.CpSolver, model_vars: Sequence[Term] | None) -> Model:
        values: dict[Term, Any] = {}
        for var in self._vars if model_vars is None else model_vars:
            cp = self._vars.get(var)
            if var.sort.is_bool:
                values[var] = False if cp is None else bool(solver.boolean_value(cp))
            elif var.sort.kind == "int":
                values[var] = 0 if cp is None else int(solver.value(cp))
            else:
                raise CapabilityError(f"the ortools backend has no {var.sort} variables ({var.name!r})")
        return Model(values)

    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        lits = self._assume(assumptions)
        status, solver = self._solve(timeout, core=want_core and bool(lits))
        if status in _SOLVED:
            return CheckResult(Status.SAT, model=self._model_of(solver, model_vars))
        if status == cp_model.INFEASIBLE:
            reason = self._incomplete(assumptions)
            if reason:
                return CheckResult(Status.UNKNOWN, reason=reason)
            core = None
            if want_core:
                sufficient = set(solver.sufficient_assumptions_for_infeasibility())
                core = tuple(a for a, lit in zip(assumptions, lits) if lit.index in sufficient)
            return CheckResult(Status.UNSAT, core=core)
        return CheckResult(Status.UNKNOWN, reason="timeout" if timeout is not None else "CP-SAT gave up")

    def optimize(
        self,
        soft: Sequence[Soft],
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """Minimise the violated weight with CP-SAT's objective over the soft terms' negations,
        weights scaled to integers by their common denominator."""
        softs = list(soft)
        violated = [~self._lit(check_constraint(s.term, "soft constraint")) for s in softs]
        scale = math.lcm(*(Fraction(s.weight).denominator for s in softs)) if softs else 1
        weights = [int(s.weight * scale) for s in softs]
        if sum(weights) > OBJECTIVE_LIMIT:
            from solverlayers.algorithms.maxsat import oll

            return oll(self, softs, assumptions, timeout=timeout, model_vars=list(self._vars))
        self._assume(assumptions)
        self._model.minimize(sum(w * v for w, v in zip(weights, violated)))
        try:
            status, solver = self._solve(timeout)
        finally:
            self._model.clear_objective()
        if status in _SOLVED:
            model = self._model_of(solver, None)
            cost = sum((s.weight for s, v in zip(softs, violated) if solver.boolean_value(v)), Fraction(0))
            if status == cp_model.FEASIBLE:
                return OptimizeResult(OptStatus.SATISFIABLE, cost, model, reason="timeout")
            reason = self._incomplete([*assumptions, *(s.term for s in softs)])
            if reason:
                return OptimizeResult(OptStatus.SATISFIABLE, cost, model, reason=reason)
            return OptimizeResult(OptStatus.OPTIMAL, cost, model, lower_bound=cost)
        if status == cp_model.INFEASIBLE:
            reason = self._incomplete([*assumptions, *(s.term for s in softs)])
            return OptimizeResult(OptStatus.UNKNOWN, reason=reason) if reason else OptimizeResult(OptStatus.UNSAT)
        return OptimizeResult(OptStatus.UNKNOWN, reason="timeout" if timeout is not None else "CP-SAT gave up")

    def close(self) -> None:
        self._lits.clear()
        self._ints.clear()
