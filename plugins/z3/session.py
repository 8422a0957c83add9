"""Z3 sessions: incremental checks under assumptions, minimal unsat cores and native MaxSMT.

Each session owns one ``z3.Context`` and one reused solver: Z3's incremental SAT-based QF_BV
solver while the constraints are Boolean, pseudo-Boolean and bit-vector only (about twice as fast
per small check as the general SMT core), replaced once by the general solver when integer or
real terms appear. Terms are translated once and cached (``Term -> z3 expression``), assumption
literals are cached too, and the hot path of :meth:`Z3Session.check` calls the Z3 C API
directly: one call to check, one to read every Boolean and bit-vector variable of the model at
once (packed into a single bit-vector), and one per integer or real variable.

Real values that are irrational algebraic numbers (nonlinear real arithmetic) come back as a
``Fraction`` within ``10**-20`` of the exact value: such a model satisfies the formula only up
to that approximation.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3
from z3 import z3core as _api
from z3.z3types import Ast

from solverlayers.descriptors import OptionError
from solverlayers.evaluate import evaluate_many
from solverlayers.interfaces import SolverSession
from solverlayers.plugins.z3 import ARITH_SOLVERS, MAXSAT_ENGINES
from solverlayers.problem import Soft, check_constraint, validate_weight
from solverlayers.results import CheckResult, Model, OptimizeResult, OptStatus, Status
from solverlayers.terms import Term, postorder

__all__ = ["Z3Session"]

_UINT_MAX = 4294967295  # the largest value of Z3's unsigned parameters
_NO_TIMEOUT = _UINT_MAX  # Z3's "no timeout"
_INT32 = 1 << 31
_ALGEBRAIC_DIGITS = 20  # decimal precision of irrational real values
_PLAN_CACHE_SIZE = 256

_check_assumptions = _api.Z3_solver_check_assumptions
_solver_model = _api.Z3_solver_get_model
_model_eval = _api.Z3_model_eval
_model_inc_ref = _api.Z3_model_inc_ref
_model_dec_ref = _api.Z3_model_dec_ref
_numeral_string = _api.Z3_get_numeral_string


# -- translation: core Term -> z3 expression ----------------------------------------------------

_Args = list[Any]
_Builder = Callable[[Term, _Args], Any]


def _fold(fn: Callable[[Any, Any], Any]) -> _Builder:
    def build(t: Term, a: _Args) -> Any:
        out = a[0]
        for x in a[1:]:
            out = fn(out, x)
        return out

    return build


_BUILDERS: dict[str, _Builder] = {
    "not": lambda t, a: z3.Not(a[0]),
    "and": lambda t, a: z3.And(*a),
    "or": lambda t, a: z3.Or(*a),
    "xor": lambda t, a: z3.Xor(a[0], a[1]),
    "implies": lambda t, a: z3.Implies(a[0], a[1]),
    "ite": lambda t, a: z3.If(a[0], a[1], a[2]),
    "eq": lambda t, a: a[0] == a[1],
    "distinct": lambda t, a: z3.Distinct(*a),
    "add": lambda t, a: z3.Sum(*a),
    "sub": lambda t, a: a[0] - a[1],
    "mul": lambda t, a: z3.Product(*a),
    "neg": lambda t, a: -a[0],
    "div": lambda t, a: a[0] / a[1],
    "to_real": lambda t, a: z3.ToReal(a[0]),
    "lt": lambda t, a: a[0] < a[1],
    "le": lambda t, a: a[0] <= a[1],
    "gt": lambda t, a: a[0] > a[1],
    "ge": lambda t, a: a[0] >= a[1],
    "bvadd": _fold(lambda x, y: x + y),
    "bvsub": lambda t, a: a[0] - a[1],
    "bvmul": _fold(lambda x, y: x * y),
    "bvneg": lambda t, a: -a[0],
    "bvnot": lambda t, a: ~a[0],
    "bvand": _fold(lambda x, y: x & y),
    "bvor": _fold(lambda x, y: x | y),
    "bvxor": _fold(lambda x, y: x ^ y),
    "bvshl": lambda t, a: a[0] << a[1],
    "bvlshr": lambda t, a: z3.LShR(a[0], a[1]),
    "bvashr": lambda t, a: a[0] >> a[1],  # z3's >> is arithmetic
    "bvudiv": lambda t, a: z3.UDiv(a[0], a[1]),
    "bvurem": lambda t, a: z3.URem(a[0], a[1]),
    "bvsdiv": lambda t, a: a[0] / a[1],  # z3's / on bit-vectors is signed
    "bvsrem": lambda t, a: z3.SRem(a[0], a[1]),
    "bvult": lambda t, a: z3.ULT(a[0], a[1]),
    "bvule": lambda t, a: z3.ULE(a[0], a[1]),
    "bvugt": lambda t, a: z3.UGT(a[0], a[1]),
    "bvuge": lambda t, a: z3.UGE(a[0], a[1]),
    "bvslt": lambda t, a: a[0] < a[1],
    "bvsle": lambda t, a: a[0] <= a[1],
    "bvsgt": lambda t, a: a[0] > a[1],
    "bvsge": lambda t, a: a[0] >= a[1],
    "concat": lambda t, a: z3.Concat(*a),
    "extract": lambda t, a: z3.Extract(t.value[0], t.value[1], a[0]),
    "zero_extend": lambda t, a: z3.ZeroExt(t.value, a[0]),
    "sign_extend": lambda t, a: z3.SignExt(t.value, a[0]),
}

_PB_RELATIONS = {
    "atmost": "le", "atleast": "ge", "exactly": "eq", "pble": "le", "pbge": "ge", "pbeq": "eq",
}


def _pseudo_boolean(t: Term, lits: _Args, ctx: z3.Context) -> Any:
    """Cardinality and pseudo-Boolean constraints: natively when the numbers fit Z3's C ints,
    else as a signed bit-vector sum wide enough never to overflow."""
    if t.op in ("atmost", "atleast", "exactly"):
        coeffs, k = (1,) * len(lits), t.value
    else:
        coeffs, k = t.value
    rel = _PB_RELATIONS[t.op]
    if not lits:
        return z3.BoolVal(0 <= k if rel == "le" else 0 >= k if rel == "ge" else k == 0, ctx)
    if all(-_INT32 < c < _INT32 for c in (*coeffs, k)):
        pairs = list(zip(lits, coeffs))
        return z3.PbLe(pairs, k) if rel == "le" else z3.PbGe(pairs, k) if rel == "ge" else z3.PbEq(pairs, k)
    width = max(sum(map(abs, coeffs)), abs(k)).bit_length() + 2
    zero = z3.BitVecVal(0, width, ctx)
    total = z3.Sum([z3.If(lit, z3.BitVecVal(c, width, ctx), zero) for lit, c in zip(lits, coeffs)])
    bound = z3.BitVecVal(k, width, ctx)
    return total <= bound if rel == "le" else total >= bound if rel == "ge" else total == bound


def _z3_sort(t: Term, ctx: z3.Context) -> z3.SortRef:
    kind = t.sort.kind
    if kind == "bool":
        return z3.BoolSort(ctx)
    if kind == "int":
        return z3.IntSort(ctx)
    if kind == "real":
        return z3.RealSort(ctx)
    return z3.BitVecSort(t.sort.width, ctx)


def _z3_const(t: Term, ctx: z3.Context) -> Any:
    kind = t.sort.kind
    if kind == "bool":
        return z3.BoolVal(t.value, ctx)
    if kind == "int":
        return z3.IntVal(t.value, ctx)
    if kind == "real":
        return z3.RealVal(str(t.value), ctx)
    return z3.BitVecVal(t.value, t.sort.width, ctx)


# -- reading models -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _ReadPlan:
    """How to read a list of variables from a model.

    Boolean and bit-vector variables are packed into one bit-vector expression (the first
    variable in the least significant bits) and read with a single evaluation; integers and
    reals are read one by one.
    """

    packer: Any  # z3 bit-vector expression, or None when nothing is packed
    packed: tuple[tuple[Term, int, bool], ...]  # (variable, width, is_bool)
    arith: tuple[tuple[Term, Any, bool], ...]  # (variable, z3 expression, is_real)

    @staticmethod
    def build(variables: Sequence[Term], exprs: Sequence[Any], ctx: z3.Context) -> _ReadPlan:
        parts: list[Any] = []
        packed: list[tuple[Term, int, bool]] = []
        arith: list[tuple[Term, Any, bool]] = []
        one, zero = z3.BitVecVal(1, 1, ctx), z3.BitVecVal(0, 1, ctx)
        for var, expr in zip(variables, exprs):
            if var.sort.is_bool:
                parts.append(z3.If(expr, one, zero))
                packed.append((var, 1, True))
            elif var.sort.is_bv:
                parts.append(expr)
                packed.append((var, var.sort.width, False))
            else:
                arith.append((var, expr, var.sort.kind == "real"))
        packer = None
        if parts:
            packer = parts[0] if len(parts) == 1 else z3.Concat(*reversed(parts))
        return _ReadPlan(packer, tuple(packed), tuple(arith))

    def read(self, ctx_ref: Any, model: Any) -> dict[Term, Any]:
        values: dict[Term, Any] = {}
        out = (Ast * 1)()
        if self.packer is not None:
            _model_eval(ctx_ref, model, self.packer.as_ast(), True, out)
            bits = int(_numeral_string(ctx_ref, out[0]))
            for var, width, is_bool in self.packed:
                if is_bool:
                    values[var] = bool(bits & 1)
                    bits >>= 1
                else:
                    values[var] = bits & ((1 << width) - 1)
                    bits >>= width
        for var, expr, is_real in self.arith:
            _model_eval(ctx_ref, model, expr.as_ast(), True, out)
            value = out[0]
            if not is_real:
                values[var] = int(_numeral_string(ctx_ref, value))
            elif _api.Z3_is_algebraic_number(ctx_ref, value):
                values[var] = _approximate(ctx_ref, value)
            else:
                values[var] = Fraction(_numeral_string(ctx_ref, value))
        return values


def _approximate(ctx_ref: Any, value: Any) -> Fraction:
    """A rational within ``10**-_ALGEBRAIC_DIGITS`` of an irrational algebraic number."""
    lower = Fraction(_numeral_string(ctx_ref, _api.Z3_get_algebraic_number_lower(ctx_ref, value, _ALGEBRAIC_DIGITS)))
    upper = Fraction(_numeral_string(ctx_ref, _api.Z3_get_algebraic_number_upper(ctx_ref, value, _ALGEBRAIC_DIGITS)))
    return (lower + upper) / 2


def _reason(raw: str, timeout: float | None, rlimit: int, elapsed: float) -> str:
    """Z3's reason for ``unknown`` in the vocabulary of :class:`CheckResult`."""
    text = raw.lower()
    if "resource" in text or "rlimit" in text:
        return "resource limit"
    if "timeout" in text or "canceled" in text or "cancelled" in text:
        # Z3 reports an exhausted rlimit as "canceled" too: attribute it to the limit that was hit.
        if rlimit and (timeout is None or elapsed < timeout):
            return "resource limit"
        return "timeout"
    return raw or "unknown"


def _timeout_ms(timeout: float) -> int:
    if timeout < 0:
        raise ValueError(f"timeout must be non-negative seconds, got {timeout}")
    # Z3 reads a timeout of 0 as "no timeout": 1 ms is the shortest limit it can express.
    return max(1, min(_NO_TIMEOUT - 1, round(timeout * 1000)))


# Z3 parameters that the params option may not set, and why
_RESERVED_PARAMS = {
    "random_seed": "use the z3 option random_seed", "rlimit": "use the z3 option rlimit",
    "maxsat_engine": "use the z3 option maxsat_engine", "arith.solver": "use the z3 option arith_solver",
    "timeout": "pass timeout= to check or optimize", "core.minimize": "the session sets it per check",
    "model": "the session needs models", "model.compact": "the session needs full models",
}
_PARAM_TYPES: dict[int, type] = {z3.Z3_PK_UINT: int, z3.Z3_PK_DOUBLE: float}


def _z3_message(error: z3.Z3Exception) -> str:
    value = error.value
    return (value.decode() if isinstance(value, bytes) else str(value)).splitlines()[0]


def _param_value(name: str, text: str, descrs: z3.ParamDescrsRef) -> Any:
    """``text`` as the type of Z3 parameter ``name``; left a string (which Z3 then rejects, naming
    the type it expects) when it does not read as that type."""
    kind = descrs.get_kind(name)
    if kind == z3.Z3_PK_INVALID and "." in name:  # module-qualified, as smt.relevancy
        kind = descrs.get_kind(name.split(".", 1)[1])
    if kind == z3.Z3_PK_BOOL:
        return {"true": True, "false": False}.get(text.lower(), text)
    try:
        value = _PARAM_TYPES[kind](text)
    except (KeyError, ValueError):
        return text
    return value if kind != z3.Z3_PK_UINT or 0 <= value <= _UINT_MAX else text


def _known(name: str, descrs: z3.ParamDescrsRef) -> str:
    """Where to look, when ``name`` is not one of Z3's solver parameters."""
    names = [descrs.get_name(i) for i in range(descrs.size())]
    if name in names:
        return ""
    close = difflib.get_close_matches(name, names, n=3)
    guess = f" did you mean {' or '.join(close)}?" if close else ""
    return f";{guess} python -c \"import z3; z3.Solver().help()\" lists Z3's solver parameters"


def _extra_params(text: str, ctx: z3.Context) -> tuple[tuple[str, Any], ...]:
    """The ``params`` option: ``name=value`` pairs, typed and checked by Z3's own solvers and
    optimizer, so that a bad name or value fails when the session opens."""
    items = text.replace(",", " ").split()
    if not items:
        return ()
    solvers = [z3.Solver(ctx=ctx), z3.SolverFor("QF_BV", ctx=ctx)]
    for solver in solvers:
        solver.sexpr()  # an initialised solver checks each parameter as it is set
    targets = [*solvers, z3.Optimize(ctx=ctx)]
    descrs = solvers[0].param_descrs()
    out = []
    for item in items:
        name, _, value = item.partition("=")
        if not name or not value:
            raise OptionError(f"z3 option 'params': {item!r} is not name=value; write e.g. 'smt.relevancy=0'")
        base = name.removeprefix("smt.")
        if base in _RESERVED_PARAMS:
            raise OptionError(f"z3 option 'params' may not set {name!r}: {_RESERVED_PARAMS[base]}")
        typed = _param_value(name, value, descrs)
        for target in targets:
            try:
                target.set(name, typed)
            except z3.Z3Exception as e:
                why = _z3_message(e) + _known(base, descrs)
                raise OptionError(f"z3 option 'params': Z3 rejects {item!r}: {why}") from None
        out.append((name, typed))
    return tuple(out)


class Z3Session(SolverSession):
    """An incremental Z3 solver over core terms (one context per session, not thread-safe).

    Translations and assumption literals are cached for the session's lifetime, so memory
    grows with the number of distinct terms it has seen. ``arith_solver`` and ``params`` (more
    Z3 parameters, ``"name=value name=value"``) apply to every solver and to the optimizer; a
    parameter that Z3 rejects fails here, when the session opens.
    """

    def __init__(
        self,
        maxsat_engine: str = "maxres",
        rlimit: int = 0,
        random_seed: int = 0,
        arith_solver: int = 6,
        params: str = "",
    ) -> None:
        if maxsat_engine not in MAXSAT_ENGINES:
            raise ValueError(f"unknown maxsat_engine {maxsat_engine!r}; choose one of: {', '.join(MAXSAT_ENGINES)}")
        if arith_solver not in ARITH_SOLVERS:
            choices = ", ".join(map(str, ARITH_SOLVERS))
            raise ValueError(f"unknown arith_solver {arith_solver!r}; choose one of: {choices}")
        for name, value in (("rlimit", rlimit), ("random_seed", random_seed)):
            if not 0 <= value <= _UINT_MAX:
                raise ValueError(f"{name} must be an unsigned 32-bit int, got {value}")
        self._engine = maxsat_engine
        self._rlimit = rlimit
        self._ctx = z3.Context()
        # set on every solver and on the optimizer
        self._params = ("random_seed", random_seed, "rlimit", rlimit, "smt.arith.solver", arith_solver,
                        *(x for pair in _extra_params(params, self._ctx) for x in pair))
        self._ctx_ref = self._ctx.ref()
        self._logic: str | None = "QF_BV"
        self._solver = self._new_solver(self._logic)
        self._solver_ref = self._solver.solver
        self._minimize_cores = False
        self._minimizing = False
        self._exprs: dict[Term, Any] = {}  # translation cache
        self._vars: dict[Term, Any] = {}  # every variable seen, in order of first occurrence
        self._sorts: dict[str, Term] = {}
        self._lits: dict[Term, int] = {}  # assumption -> address of its z3 literal
        self._hard: list[Term] = []
        self._hard_exprs: list[Any] = []
        self._asserted: list[Any] = []  # everything the solver holds: hard constraints and trackers
        self._plans: dict[tuple[Term, ...], _ReadPlan] = {}
        self._default_plan: _ReadPlan | None = None
        self._last: tuple[tuple[Term, ...], _ReadPlan] | None = None  # the latest model_vars and plan
        self._opt: z3.Optimize | None = None
        self._opt_synced = 0
        self._closed = False

    # -- translation ------------------------------------------------------------------------
    def _translate(self, term: Term) -> Any:
        cache = self._exprs
        expr = cache.get(term)
        if expr is not None:
            return expr
        ctx = self._ctx
        for t in postorder((term,)):
            if t in cache:
                continue
            op = t.op
            if op == "var":
                expr = self._declare(t)
            elif op == "const":
                expr = _z3_const(t, ctx)
            else:
                args = [cache[a] for a in t.args]
                if op in _PB_RELATIONS:
                    expr = _pseudo_boolean(t, args, ctx)
                elif op in ("and", "or") and len(args) < 2:
                    expr = args[0] if args else z3.BoolVal(op == "and", ctx)
                elif op == "distinct" and len(args) < 2:
                    expr = z3.BoolVal(True, ctx)
                else:
                    builder = _BUILDERS.get(op)
                    if builder is None:
                        raise ValueError(f"the z3 backend cannot translate the operation {op!r}")
                    expr = builder(t, args)
            cache[t] = expr
        return cache[term]

    def _declare(self, var: Term) -> Any:
        known = self._sorts.setdefault(var.value, var)
        if known.sort != var.sort:
            raise TypeError(f"variable {var.value!r} is used as both {known.sort} and {var.sort}; rename one")
        expr = z3.Const(var.value, _z3_sort(var, self._ctx))
        self._vars[var] = expr
        self._default_plan = None
        return expr

    def _literal(self, term: Term) -> int:
        """The address of the z3 literal standing for assumption ``term`` (created once)."""
        check_constraint(term, "assumption")
        expr = self._translate(term)
        if not (term.op == "var" or (term.op == "not" and term.args[0].op == "var")):
            tracker = z3.FreshBool("sl_assume", self._ctx)
            self._assert(z3.Implies(tracker, expr), term)
            expr = tracker
        address: int = expr.as_ast().value
        self._lits[term] = address
        return address

    def _new_solver(self, logic: str | None) -> z3.Solver:
        solver = z3.Solver(ctx=self._ctx) if logic is None else z3.SolverFor(logic, ctx=self._ctx)
        solver.set(*self._params, "model.compact", False)
        return solver

    def _assert(self, expr: Any, term: Term) -> None:
        """Assert ``expr`` (the translation of ``term``), first moving to Z3's general solver
        (once, replaying every assertion) if ``term`` brings integer or real arithmetic."""
        if self._logic == "QF_BV" and any(t.sort.is_arith for t in postorder((term,))):
            self._solver = self._new_solver(None)
            self._solver_ref = self._solver.solver
            self._logic = None
            self._minimize_cores = False
            for old in self._asserted:
                self._solver.add(old)
        self._solver.add(expr)
        self._asserted.append(expr)

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("this z3 session is closed")

    # -- the SolverSession interface --------------------------------------------------------
    def add(self, *constraints: Term) -> None:
        """Assert Boolean terms permanently."""
        self._require_open()
        for c in constraints:
            expr = self._translate(check_constraint(c))
            self._assert(expr, c)
            self._hard.append(c)
            self._hard_exprs.append(expr)

    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult:
        """Decide the constraints plus ``assumptions``; see :class:`SolverSession`."""
        if self._closed:
            raise RuntimeError("this z3 session is closed")
        if not isinstance(assumptions, (list, tuple)):
            assumptions = list(assumptions)
        lits = self._lits
        try:
            addresses = [lits[a] for a in assumptions]
        except KeyError:
            addresses = [lits[a] if a in lits else self._literal(a) for a in assumptions]
        n = len(addresses)
        if want_core != self._minimize_cores:
            self._solver.set("core.minimize", want_core)
            self._minimize_cores = want_core
        if timeout is None:
            started = 0.0
            answer = _check_assumptions(self._ctx_ref, self._solver_ref, n, (Ast * n)(*addresses))
        else:
            self._solver.set("timeout", _timeout_ms(timeout))
            started = time.perf_counter()
            try:
                answer = _check_assumptions(self._ctx_ref, self._solver_ref, n, (Ast * n)(*addresses))
            finally:
                self._solver.set("timeout", _NO_TIMEOUT)
        if answer == 1:
            return CheckResult(Status.SAT, model=self._solver_model(model_vars))
        if answer == -1:
            if not want_core:
                return CheckResult(Status.UNSAT)
            core = self._core(assumptions, addresses)
            if core and not self._minimizing:
                core = self._minimized(core, timeout, started)
            return CheckResult(Status.UNSAT, core=core)
        elapsed = time.perf_counter() - started
        return CheckResult(
            Status.UNKNOWN, reason=_reason(self._solver.reason_unknown(), timeout, self._rlimit, elapsed)
        )

    def _minimized(self, core: tuple[Term, ...], timeout: float | None, started: float) -> tuple[Term, ...]:
        """Z3's ``core.minimize`` is not always minimal (seen on nonlinear reals, and with the
        SAT-based BV solver when the hard part alone is unsatisfiable), so every core gets a
        deletion pass; on a core that is already minimal it costs one check per member."""
        from solverlayers.algorithms.cores import minimize_core

        left = None if timeout is None else max(timeout - (time.perf_counter() - started), 1e-3)
        self._minimizing = True
        try:
            return minimize_core(self, core, timeout=left)
        finally:
            self._minimizing = False

    def _core(self, assumptions: Sequence[Term], addresses: list[int]) -> tuple[Term, ...]:
        position: dict[int, int] = {}
        for i, address in enumerate(addresses):
            position.setdefault(address, i)
        ctx_ref = self._ctx_ref
        core = _api.Z3_solver_get_unsat_core(ctx_ref, self._solver_ref)
        _api.Z3_ast_vector_inc_ref(ctx_ref, core)
        try:
            size = _api.Z3_ast_vector_size(ctx_ref, core)
            chosen = sorted(position[_api.Z3_ast_vector_get(ctx_ref, core, i).value] for i in range(size))
        finally:
            _api.Z3_ast_vector_dec_ref(ctx_ref, core)
        return tuple(assumptions[i] for i in chosen)

    def _plan(self, model_vars: Sequence[Term] | None) -> _ReadPlan:
        if model_vars is None:
            plan = self._default_plan
            if plan is None:
                plan = self._default_plan = _ReadPlan.build(list(self._vars), list(self._vars.values()), self._ctx)
            return plan
        key = tuple(model_vars)
        if self._last is not None and key == self._last[0]:  # cheap for the same variables again
            return self._last[1]
        plan = self._plans.get(key)
        if plan is None:
            for v in key:
                if not isinstance(v, Term) or v.op != "var":
                    raise TypeError(f"model_vars must be variables, got {v!r}")
            exprs = [self._translate(v) for v in key]
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._plans[key] = _ReadPlan.build(key, exprs, self._ctx)
        self._last = (key, plan)
        return plan

    def _solver_model(self, model_vars: Sequence[Term] | None) -> Model:
        plan = self._plan(model_vars)
        ctx_ref = self._ctx_ref
        model = _solver_model(ctx_ref, self._solver_ref)
        _model_inc_ref(ctx_ref, model)
        try:
            return Model(plan.read(ctx_ref, model))
        finally:
            _model_dec_ref(ctx_ref, model)

    # -- MaxSMT -----------------------------------------------------------------------------
    def _optimizer(self) -> z3.Optimize:
        """One ``z3.Optimize`` per session holding the hard constraints; each query is a push/pop."""
        if self._opt is None:
            self._opt = z3.Optimize(ctx=self._ctx)
            self._opt.set("maxsat_engine", self._engine, *self._params)
        for expr in self._hard_exprs[self._opt_synced:]:
            self._opt.add(expr)
        self._opt_synced = len(self._hard_exprs)
        return self._opt

    def optimize(
        self,
        soft: Sequence[Soft],
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """Minimise the total weight of violated ``soft`` constraints under the hard
        constraints and ``assumptions``. The cost is recomputed exactly from the model."""
        self._require_open()
        soft = list(soft)
        weights = [validate_weight(s.weight, s.name) for s in soft]
        soft_exprs = [self._translate(check_constraint(s.term, "soft constraint")) for s in soft]
        hyps = [self._translate(check_constraint(a, "assumption")) for a in assumptions]
        opt = self._optimizer()
        opt.push()
        try:
            for expr in hyps:
                opt.add(expr)
            for expr, w in zip(soft_exprs, weights):
                opt.add_soft(expr, str(w))  # exact rational string, never a float
            if timeout is not None:
                opt.set("timeout", _timeout_ms(timeout))
            started = time.perf_counter()
            answer = opt.check()
            elapsed = time.perf_counter() - started
            if answer == z3.unsat:
                return OptimizeResult(OptStatus.UNSAT)
            reason = None if answer == z3.sat else _reason(opt.reason_unknown(), timeout, self._rlimit, elapsed)
            model = self._optimizer_model(opt)
            if model is None or (
                answer != z3.sat and not all(evaluate_many([*self._hard, *assumptions], model, default=False))
            ):
                return OptimizeResult(OptStatus.UNKNOWN, reason=reason)
            values = evaluate_many([s.term for s in soft], model, default=False)
            cost = sum((w for w, ok in zip(weights, values) if not ok), Fraction(0))
            if answer == z3.sat:
                return OptimizeResult(OptStatus.OPTIMAL, cost=cost, model=model, lower_bound=cost)
            return OptimizeResult(OptStatus.SATISFIABLE, cost=cost, model=model, reason=reason)
        finally:
            opt.pop()
            if timeout is not None:
                opt.set("timeout", _NO_TIMEOUT)

    def _optimizer_model(self, opt: z3.Optimize) -> Model | None:
        """The optimizer's (best) model over every variable seen, or None when it has none."""
        try:
            z3_model = opt.model()
        except z3.Z3Exception:
            return None
        return Model(self._plan(None).read(self._ctx_ref, z3_model.model))

    def close(self) -> None:
        """Release the solver, the optimizer and the context (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._plans.clear()
        self._default_plan = self._last = None
        self._lits.clear()
        self._asserted.clear()
        self._hard_exprs.clear()
        self._exprs.clear()
        self._vars.clear()
        self._opt = None
        self._solver = None
        self._solver_ref = None
        self._ctx_ref = None
        self._ctx = None
