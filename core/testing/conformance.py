"""The conformance kit: pytest tests every solverlayers backend should pass, for its own CI.

Subclass :class:`BackendConformance` in a test module of the plugin package::

    from solverlayers.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        backend = "mysolver"
        options = {"threads": 1}        # optional: passed to every Solver

The tests check each claim of the backend's :class:`~solverlayers.capabilities.Capabilities`
against an independent oracle, never trusting the backend: models are evaluated with
:mod:`solverlayers.evaluate`; verdicts, cores and MaxSMT optima are compared with the brute-force
:class:`~solverlayers.testing.reference.ReferenceSession` for Bool and bit-vector problems, and
with another installed backend that declares the theory for arithmetic (skipped with a reason
when there is none). Run only one backend's tests with ``pytest --solverlayers-backend=NAME``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from importlib import metadata
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..capabilities import CoreKind, Requirements, Theory, theories_of
from ..descriptors import BackendSpec, OptionError
from ..evaluate import evaluate_many
from ..hookspecs import ENTRY_POINT_GROUP
from ..interfaces import CapabilityError
from ..problem import Problem
from ..registry import default_registry
from ..results import CheckResult, Model, OptimizeResult, OptStatus, Status
from ..solver import Solver
from ..terms import UGT, ULT, BitVec, Bool, Eq, Exactly, Int, Real, Term
from .reference import ReferenceSession
from .strategies import (
    THEORIES,
    problems,
    problems_with_assumptions,
    required_theories,
    weighted_problems,
)

__all__ = ["BackendConformance", "assert_model", "KNOWN_SOLVER_MODULES"]

KNOWN_SOLVER_MODULES: tuple[str, ...] = ("z3", "cvc5", "pysat", "ortools", "gurobipy", "pyscipopt", "pysmt")
"""Modules that listing backends must never import (plus the backend's own solver distribution)."""

_FINITE = frozenset({Theory.BOOL, Theory.BV})
_REFERENCE_THEORIES = frozenset({Theory.BOOL, Theory.BV})
_T = TypeVar("_T")


# -- checks usable on their own -----------------------------------------------------------------

def _value_ok(var: Term, value: Any) -> bool:
    kind = var.sort.kind
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "bv":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (1 << var.sort.width)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, Fraction)


def assert_model(model: Model | None, terms: Sequence[Term], variables: Sequence[Term], who: str = "backend") -> Model:
    """``model``, after failing unless it gives every variable in ``variables`` a value of the
    documented type (bool; int; unsigned int for bit-vectors; Fraction for reals) and makes every
    term true."""
    assert model is not None, f"{who} answered SAT without a model"
    missing = [v.name for v in variables if v not in model]
    assert not missing, f"{who}'s model lacks variables {missing}"
    wrong = [f"{v.name}={model[v]!r} ({v.sort})" for v in variables if not _value_ok(v, model[v])]
    assert not wrong, f"{who}'s model has values of the wrong type: {wrong}"
    values = evaluate_many(terms, {v: model[v] for v in model})
    false = [t for t, ok in zip(terms, values) if ok is not True]
    assert not false, f"{who}'s model {model} falsifies {false}"
    return model


# -- samples for the capability checks ----------------------------------------------------------

def _samples(theory: Theory) -> tuple[list[Term], list[Term]]:
    """A satisfiable and an unsatisfiable formula that need ``theory`` (and Bool)."""
    p, q = Bool("p"), Bool("q")
    x, y = BitVec("x", 4), BitVec("y", 4)
    i, j = Int("i"), Int("j")
    r = Real("r")
    return {
        Theory.BOOL: ([p | q, ~p, Exactly(1, [p, q])], [p | q, ~p, ~q]),
        Theory.BV: ([ULT(x, 3), Eq(x * y, 6)], [ULT(x, 2), UGT(x, 5)]),
        Theory.LIA: ([i > 2, i < 5, Eq(2 * i, 6)], [Eq(2 * i, 7)]),
        Theory.LRA: ([Eq(2 * r, 7), r > 3], [r > 1, r < 1]),
        Theory.NIA: ([Eq(i * j, 6), i > 1, j > 2], [Eq(i * i, 2)]),
        Theory.NRA: ([Eq(r * r, 4), r > 0], [r * r < 0]),
    }[theory]


_PROBE = {
    "import_check": textwrap.dedent(
        """
        import json, sys
        from importlib import metadata
        from solverlayers.registry import Registry
        dist, group, ep_name, backend, heavy = json.loads(sys.argv[1])
        (ep,) = [e for e in metadata.distribution(dist).entry_points if e.group == group and e.name == ep_name]
        registry = Registry(autoload=False)
        registry.register(ep.load(), name=ep.name, distribution=dist)
        specs = registry.backends()
        found = backend in specs
        if found:
            spec = specs[backend]
            spec.capabilities.summary(), spec.options, spec.version
        print(json.dumps({"found": found, "imported": sorted(m for m in heavy if m in sys.modules)}))
        """
    ),
    "timeout": textwrap.dedent(
        """
        import json, sys, time
        from solverlayers import Solver, Problem, Requirements
        from solverlayers.testing.strategies import random_3sat
        backend, options, timeout, optimize = json.loads(sys.argv[1])
        clauses = random_3sat()
        soft = Problem()
        for c in clauses[:50]:
            soft.add_soft(c.args[0], 1)
        out = {}
        with Solver(clauses, backend, **options) as solver:
            for call in ("check", "optimize") if optimize else ("check",):
                start = time.monotonic()
                if call == "optimize":
                    result = solver.optimize(soft.soft, timeout=timeout)
                else:
                    result = solver.check(timeout=timeout)
                elapsed = time.monotonic() - start
                out[call] = {"status": result.status.value, "reason": result.reason, "elapsed": elapsed}
        print(json.dumps(out))
        """
    ),
}


def _probe(kind: str, argument: Any, limit: float) -> dict[str, Any]:
    """Run a probe script in a fresh interpreter and return the JSON it prints."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE[kind], json.dumps(argument)],
            capture_output=True, text=True, timeout=limit,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind} probe did not finish within {limit:.0f} s")
    assert done.returncode == 0, f"{kind} probe failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- oracles ------------------------------------------------------------------------------------

TRUSTED_ORACLES = ("z3", "cvc5")
"""Preferred arithmetic oracles (before other installed backends, in name order)."""
ORACLE_TIMEOUT = 30.0
"""Seconds per oracle call: an oracle that runs out says UNKNOWN, and the tests accept it."""


class _Oracle:
    """Independent answers: brute force for Bool/BV, another declared backend for arithmetic."""

    def __init__(self, backend: str | None) -> None:
        self.backend = backend
        self.name = backend or "the reference backend"

    @classmethod
    def find(cls, theory: Theory, exclude: str, *, maxsmt: bool = False) -> _Oracle:
        """The oracle for ``theory`` formulas, or a pytest skip naming what is missing."""
        if theory in _REFERENCE_THEORIES:
            return cls(None)
        needs = Requirements(theories=required_theories(theory), maxsmt=maxsmt)
        others = [n for n in default_registry().capable(needs) if n != exclude]
        if not others:
            pytest.skip(f"no other installed backend declares {theory.value} (needed as the oracle)")
        return cls(min(others, key=lambda n: (n not in TRUSTED_ORACLES, n)))

    def session(self) -> ReferenceSession | Solver:
        """An empty incremental oracle (``add`` / ``check`` / ``optimize``)."""
        return ReferenceSession() if self.backend is None else Solver((), self.backend)

    def check(self, hard: Sequence[Term], assumptions: Sequence[Term] = ()) -> Status:
        """SAT, UNSAT, or UNKNOWN (also after ``ORACLE_TIMEOUT``, which the tests accept)."""
        with self.session() as oracle:
            oracle.add(*hard)
            return oracle.check(assumptions, timeout=ORACLE_TIMEOUT).status

    def optimize(self, problem: Problem) -> OptimizeResult:
        with self.session() as oracle:
            oracle.add(*problem.hard)
            return oracle.optimize(problem.soft, timeout=ORACLE_TIMEOUT)


# -- the kit ------------------------------------------------------------------------------------

_theories = pytest.mark.parametrize("theory", THEORIES, ids=lambda t: t.value)
_all_theories = pytest.mark.parametrize("theory", list(Theory), ids=lambda t: t.value)


class BackendConformance:
    """Conformance tests for the backend named ``backend``; subclass it as ``Test...``.

    Class attributes to set: ``backend`` (required), ``options`` (passed to every
    :class:`~solverlayers.Solver`), ``max_examples`` (random problems per property),
    ``timeout_limit`` (seconds the timeout probe may take in all, including start-up),
    ``timeout_slack`` (seconds a call with a 0.2 s timeout may overrun it),
    ``call_timeout`` (seconds per solver call on random problems: one that runs out counts as
    undecided, so a hard random instance cannot hang the test run; None waits),
    ``heavy_modules`` (modules listing the backend must not import, besides
    :data:`KNOWN_SOLVER_MODULES` and the backend's solver distribution) and
    ``skip_if_missing`` (skip instead of fail when the backend is not registered).
    """

    __solverlayers_conformance__: ClassVar[bool] = True
    backend: ClassVar[str]
    options: ClassVar[Mapping[str, Any]] = {}
    max_examples: ClassVar[int] = 10
    timeout_limit: ClassVar[float] = 30.0
    timeout_slack: ClassVar[float] = 2.0
    call_timeout: ClassVar[float | None] = 30.0
    heavy_modules: ClassVar[tuple[str, ...]] = ()
    skip_if_missing: ClassVar[bool] = False

    # -- helpers --------------------------------------------------------------------------------
    @property
    def spec(self) -> BackendSpec:
        """The backend's descriptor (skips or fails when it is not registered)."""
        specs = default_registry().backends()
        if self.backend not in specs:
            message = f"backend {self.backend!r} is not registered (installed: {', '.join(specs) or 'none'})"
            if self.skip_if_missing:
                pytest.skip(message)
            pytest.fail(message)
        spec = specs[self.backend]
        if not spec.capabilities.smt:
            pytest.skip(f"backend {self.backend!r} is a relaxation backend; the kit checks exact solvers")
        return spec

    def solver(self, problem: Problem | Sequence[Term] = (), **options: Any) -> Solver:
        """A :class:`~solverlayers.Solver` on this backend with the class's options."""
        return Solver(problem, self.backend, **{**self.options, **options})

    def need(self, theories: frozenset[Theory] | set[Theory]) -> None:
        """Skip unless the backend declares every theory in ``theories``."""
        missing = set(theories) - self.spec.capabilities.theories
        if missing:
            pytest.skip(f"{self.backend} does not declare {', '.join(sorted(t.value for t in missing))}")

    def run_property(self, strategy: st.SearchStrategy[_T], check: Callable[[_T], None]) -> None:
        """Run ``check`` on ``max_examples`` values of ``strategy`` (hypothesis, no deadline)."""
        prop = given(strategy)(check)
        settings(max_examples=self.max_examples, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(prop)()

    def decided(self, result: CheckResult | OptimizeResult, theories: frozenset[Theory]) -> bool:
        """Whether ``result`` (of a call limited by ``call_timeout``) is a verdict. A timeout is
        not; otherwise UNKNOWN fails on Bool and bit-vector problems (finite domains), and on
        arithmetic it must say why (e.g. "incomplete")."""
        if result.status.value != "unknown":
            return True
        if result.reason == "timeout" and self.call_timeout is not None:
            return False
        assert not theories <= _FINITE, f"{self.backend} answered unknown on a finite-domain problem: {result.reason}"
        assert result.reason and result.reason != "timeout", (
            f"{self.backend} answered unknown without a timeout; the reason must say why, got {result.reason!r}"
        )
        return False

    # -- descriptor and plugin ------------------------------------------------------------------
    def test_descriptor(self) -> None:
        spec = self.spec
        assert spec.name == self.backend
        names = [o.name for o in spec.options]
        assert len(names) == len(set(names)), f"duplicate option names in {names}"
        for o in spec.options:
            if o.choices is not None:
                assert o.default in o.choices, f"option {o.name!r}: default {o.default!r} is not a choice"
            if o.default is not None:
                assert o.coerce(o.default, spec.name) == o.default
        if spec.solver_distribution:
            assert spec.version != "not installed", f"{spec.solver_distribution} is not installed"
        assert not (spec.capabilities.cores is not CoreKind.NONE and not spec.capabilities.incremental), (
            "cores are only usable under assumptions on an incremental session"
        )

    def test_listing_imports_no_solver(self) -> None:
        spec = self.spec
        if spec.plugin_distribution in ("", "<runtime>"):
            pytest.skip(f"backend {self.backend!r} was registered at runtime, not through an entry point")
        dist = metadata.distribution(spec.plugin_distribution)
        heavy = set(KNOWN_SOLVER_MODULES) | set(self.heavy_modules)
        if spec.solver_distribution:
            heavy |= {m for m, ds in metadata.packages_distributions().items()
                      if spec.solver_distribution.lower() in (d.lower() for d in ds)}
        group = [e for e in dist.entry_points if e.group == ENTRY_POINT_GROUP]
        # probe the entry point whose module defines ``open`` first (usually the only one needed)
        group.sort(key=lambda e: not spec.open.__module__.startswith(e.module))
        name = dist.metadata["Name"]
        for ep in group:
            out = _probe("import_check", [name, ENTRY_POINT_GROUP, ep.name, self.backend, sorted(heavy)], 60)
            if out["found"]:
                assert not out["imported"], (
                    f"importing the plugin and listing backend {self.backend!r} imported {out['imported']}; "
                    "import the solver inside BackendSpec.open"
                )
                return
        pytest.fail(f"no entry point of {name} registers backend {self.backend!r}")

    @_all_theories
    def test_declared_theory_is_accepted(self, theory: Theory) -> None:
        self.need({theory})
        sat, unsat = _samples(theory)
        self.need(theories_of(sat + unsat))
        for formula, expected in ((sat, Status.SAT), (unsat, Status.UNSAT)):
            with self.solver(formula) as solver:
                result = solver.check()
            if self.decided(result, theories_of(formula)):
                assert result.status is expected, f"{self.backend} says {result.status.value} for {formula}"
            if result.status is Status.SAT:
                assert_model(result.model, formula, Problem(formula).variables, self.backend)

    @_all_theories
    def test_undeclared_theory_is_refused(self, theory: Theory) -> None:
        if theory in self.spec.capabilities.theories:
            pytest.skip(f"{self.backend} declares {theory.value}")
        sat, _ = _samples(theory)
        with pytest.raises(CapabilityError, match=theory.value):
            self.solver(sat)
        with self.solver() as solver, pytest.raises(CapabilityError, match=theory.value):
            solver.add(*sat)

    def test_declared_options_are_accepted(self) -> None:
        p, q = Bool("p"), Bool("q")
        for o in self.spec.options:
            values = list(o.choices) if o.choices is not None else [True, False] if o.type is bool else [o.default]
            for value in (v for v in values if v is not None):
                chosen: dict[str, Any] = {o.name: value}
                with self.solver([p | q, ~p], **chosen) as solver:
                    result = solver.check()
                assert result.status is Status.SAT, f"option {o.name}={value!r}: {result.status.value}"
                assert result.model is not None and result.model[q] is True, f"option {o.name}={value!r}"

    def test_bad_options_are_rejected(self) -> None:
        spec = self.spec
        with pytest.raises(OptionError, match="no_such_option"):
            self.solver(no_such_option=1)
        for o in spec.options:
            if o.choices is not None:
                bogus: dict[str, Any] = {o.name: "not-a-choice" if o.type is str else object()}
                with pytest.raises(OptionError, match=o.name):
                    self.solver(**bogus)

    # -- solving --------------------------------------------------------------------------------
    @_theories
    def test_models_and_verdicts(self, theory: Theory) -> None:
        self.need(required_theories(theory))
        oracle = _Oracle.find(theory, self.backend)

        def check(problem: Problem) -> None:
            with self.solver(problem) as solver:
                result = solver.check(timeout=self.call_timeout)
            if not self.decided(result, problem.theories):
                return
            if result.status is Status.SAT:
                assert_model(result.model, problem.hard, problem.variables, self.backend)
            expected = oracle.check(problem.hard)
            if expected is not Status.UNKNOWN:
                assert result.status is expected, (
                    f"{self.backend} says {result.status.value}, {oracle.name} says {expected.value}: {problem.hard}"
                )

        self.run_property(problems(theory), check)

    @_theories
    def test_incremental_adds_and_assumptions(self, theory: Theory) -> None:
        self.need(required_theories(theory))
        if not self.spec.capabilities.incremental:
            pytest.skip(f"{self.backend} is not incremental")
        oracle = _Oracle.find(theory, self.backend)

        def check(pair: tuple[Problem, list[Term]]) -> None:
            problem, assumptions = pair
            added: list[Term] = []
            with self.solver() as solver, oracle.session() as reference:
                for constraint in [*problem.hard, None]:
                    # under the assumptions after each add; without them at the end (not persisted)
                    for assumed in (assumptions, []) if constraint is None else (assumptions,):
                        result = solver.check(assumed, model_vars=Problem(added + assumed).variables,
                                              timeout=self.call_timeout)
                        if not self.decided(result, problem.theories):
                            continue
                        if result.status is Status.SAT:
                            terms = added + assumed
                            assert_model(result.model, terms, Problem(terms).variables, self.backend)
                        expected = reference.check(assumed, timeout=ORACLE_TIMEOUT).status
                        if expected is not Status.UNKNOWN:
                            assert result.status is expected, (
                                f"{self.backend} says {result.status.value}, {oracle.name} says "
                                f"{expected.value} after adding {added} under assumptions {assumed}"
                            )
                    if constraint is not None:
                        solver.add(constraint)
                        reference.add(constraint)
                        added.append(constraint)

        self.run_property(problems_with_assumptions(theory, max_constraints=3), check)

    @_theories
    def test_unsat_cores(self, theory: Theory) -> None:
        caps = self.spec.capabilities
        if caps.cores is CoreKind.NONE:
            pytest.skip(f"{self.backend} declares no unsat cores")
        self.need(required_theories(theory))
        minimal = caps.cores is CoreKind.MINIMAL
        oracle = _Oracle.find(theory, self.backend)

        def check(pair: tuple[Problem, list[Term]]) -> None:
            problem, assumptions = pair
            with self.solver(problem) as solver:
                # minimize=True returns a MINIMAL backend's own core untouched
                result = solver.unsat_core(assumptions, minimize=minimal, timeout=self.call_timeout)
            if result.status is not Status.UNSAT:
                if self.decided(result, problem.theories):
                    assert oracle.check(problem.hard, assumptions) in (Status.SAT, Status.UNKNOWN), (
                        f"{self.backend} says sat, {oracle.name} says unsat: {problem.hard} under {assumptions}"
                    )
                return
            core = result.core
            assert core is not None, f"{self.backend} returned no core"
            strangers = [c for c in core if c not in assumptions]
            assert not strangers, f"core {core} has terms that are not assumptions: {strangers}"
            verdict = oracle.check(problem.hard, core)
            assert verdict in (Status.UNSAT, Status.UNKNOWN), f"core {core} is satisfiable with {problem.hard}"
            if minimal:
                unique = list(dict.fromkeys(core))
                for i, dropped in enumerate(unique):
                    rest = unique[:i] + unique[i + 1:]
                    assert oracle.check(problem.hard, rest) in (Status.SAT, Status.UNKNOWN), (
                        f"core {core} declared MINIMAL, but {problem.hard} stays unsatisfiable without {dropped}"
                    )

        self.run_property(problems_with_assumptions(theory), check)

    @_theories
    @pytest.mark.parametrize("fractional", [False, True], ids=["int-weights", "fractional-weights"])
    def test_maxsmt_optimum(self, theory: Theory, fractional: bool) -> None:
        caps = self.spec.capabilities
        if Requirements(maxsmt=True).unmet(caps):
            pytest.skip(f"{self.backend} has neither native MaxSMT nor cores for OLL")
        self.need(required_theories(theory))
        oracle = _Oracle.find(theory, self.backend, maxsmt=True)

        def check(problem: Problem) -> None:
            with self.solver(problem) as solver:
                result = solver.optimize(timeout=self.call_timeout)
            if result.status is OptStatus.SATISFIABLE and result.reason == "timeout":
                return  # not proven optimal within call_timeout: undecided
            if not self.decided(result, problem.theories):
                return
            expected = oracle.optimize(problem)
            if result.status is OptStatus.UNSAT:
                assert expected.status is not OptStatus.OPTIMAL, (
                    f"{self.backend} says unsat, {oracle.name} finds optimum {expected.cost}"
                )
                return
            model = assert_model(result.model, problem.hard, problem.variables, self.backend)
            cost = problem.cost(model)
            assert result.cost == cost, f"{self.backend} reports cost {result.cost} for a model of cost {cost}"
            if result.status is OptStatus.SATISFIABLE:  # not proven optimal, without a timeout
                assert not problem.theories <= _FINITE and result.reason, (
                    f"{self.backend} did not prove optimality of a finite-domain problem: {result.reason!r}"
                )
            assert expected.status is not OptStatus.UNSAT, f"{oracle.name} says unsat, but {self.backend}'s model holds"
            if expected.status is OptStatus.OPTIMAL and expected.cost is not None:
                exact = result.status is OptStatus.OPTIMAL
                assert cost == expected.cost if exact else cost >= expected.cost, (
                    f"{self.backend} {result.status.value} cost {cost}, {oracle.name} optimum {expected.cost}"
                )

        self.run_property(weighted_problems(theory, fractional=fractional), check)

    def test_timeout_is_unknown(self) -> None:
        """check() and (with MaxSMT) optimize() on a hard instance with a 0.2 s timeout, in a
        subprocess, so a backend that ignores the timeout cannot hang the test run."""
        caps = self.spec.capabilities
        if not caps.timeouts:
            pytest.skip(f"{self.backend} does not declare timeouts")
        timeout = 0.2
        maxsmt = not Requirements(maxsmt=True).unmet(caps)
        out = _probe("timeout", [self.backend, dict(self.options), timeout, maxsmt], self.timeout_limit)
        for call, answer in out.items():
            assert answer["status"] == "unknown", f"{call}: expected unknown on a hard instance, got {answer}"
            assert answer["reason"] == "timeout", (
                f"{call}: an UNKNOWN after a timeout must say reason='timeout', got {answer['reason']!r}"
            )
            assert answer["elapsed"] < timeout + self.timeout_slack, (
                f"{call}: a {timeout} s timeout took {answer['elapsed']:.1f} s"
            )
