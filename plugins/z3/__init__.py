"""The Z3 backend plugin: registers the ``z3`` backend descriptor.

Importing this module does not import z3: the session module and the SMT-LIB reader are
imported only when a session is opened or a script is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from solverlayers.capabilities import Capabilities, CoreKind, Theory
from solverlayers.descriptors import BackendSpec, OptionSpec
from solverlayers.hookspecs import hookimpl

if TYPE_CHECKING:
    from solverlayers.problem import Problem

    from .session import Z3Session

__all__ = ["solverlayers_backends", "CAPABILITIES", "OPTIONS", "MAXSAT_ENGINES", "ARITH_SOLVERS"]

MAXSAT_ENGINES = ("maxres", "wmax", "rc2", "pd-maxres", "maxres-bin")
ARITH_SOLVERS = (6, 2)  # Z3's smt.arith.solver: 6 its LRA solver (the default), 2 its older simplex

CAPABILITIES = Capabilities(
    theories=frozenset(Theory),
    cores=CoreKind.MINIMAL,
    native_maxsmt=True,
    incremental=True,
    crosses_threads=False,
    crosses_processes=False,
    timeouts=True,
    smtlib_parser=True,
)

OPTIONS = (
    OptionSpec(
        "maxsat_engine", str, "maxres",
        "Z3's MaxSAT algorithm for optimize()",
        choices=MAXSAT_ENGINES,
    ),
    OptionSpec("rlimit", int, 0, "resource limit per check, machine-independent (0 = none)"),
    OptionSpec("random_seed", int, 0, "Z3's random seed"),
    OptionSpec(
        "arith_solver", int, 6,
        "Z3's arithmetic solver (smt.arith.solver): 6 its LRA solver (the default), 2 its older simplex solver",
        choices=ARITH_SOLVERS,
    ),
    OptionSpec(
        "params", str, "",
        "more Z3 parameters for every solver and the optimizer, 'name=value' pairs separated by "
        "spaces, e.g. 'smt.relevancy=0 smt.phase_selection=5'",
    ),
)


def _open(options: Mapping[str, Any]) -> Z3Session:
    from .session import Z3Session

    return Z3Session(**options)


def _parse(text: str) -> Problem:
    from .smtlib_reader import parse_smtlib

    return parse_smtlib(text)


@hookimpl
def solverlayers_backends() -> list[BackendSpec]:
    """The ``z3`` backend."""
    return [
        BackendSpec(
            name="z3",
            open=_open,
            capabilities=CAPABILITIES,
            description="Z3 SMT solver: all theories, minimal unsat cores, native MaxSMT, SMT-LIB2 parsing",
            solver_distribution="z3-solver",
            install_hint="pip install z3-solver",
            options=OPTIONS,
            parse_smtlib=_parse,
        )
    ]
