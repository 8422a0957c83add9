"""The ``pysat`` backend: Bool and bit-vector formulas compiled to CNF, solved by PySAT.

Importing this module imports no solver; :func:`_open` imports PySAT when a session is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solverlayers.capabilities import Capabilities, CoreKind, Theory
from solverlayers.descriptors import BackendSpec, OptionSpec
from solverlayers.encodings import ENCODINGS
from solverlayers.hookspecs import hookimpl

__all__ = ["ENGINES", "INTERRUPTIBLE_ENGINES", "solverlayers_backends"]

# SAT engines bundled with python-sat 1.9 that support incremental solving under assumptions and
# unsat cores (checked against pysat.solvers.SolverNames by the tests). Kissat is left out: it
# takes no assumptions.
INTERRUPTIBLE_ENGINES = (
    "glucose4", "glucose42", "glucose3", "gluecard3", "gluecard4", "maplechrono", "maplecm",
    "maplesat", "mergesat3", "minicard", "minisat22", "minisatep",
)
ENGINES = ("cadical195", "cadical153", "cadical103", "cadical300", "lingeling", *INTERRUPTIBLE_ENGINES)


def _open(options: Mapping[str, Any]) -> Any:
    from .session import PysatSession

    return PysatSession(**options)


@hookimpl
def solverlayers_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="pysat",
            open=_open,
            capabilities=Capabilities(
                theories=frozenset({Theory.BOOL, Theory.BV}),
                cores=CoreKind.ANY,
                native_maxsmt=True,
                incremental=True,
                timeouts=True,
                crosses_processes=False,
            ),
            description="SAT solvers of PySAT on a Tseitin/bit-blasted CNF; weighted MaxSAT by RC2",
            solver_distribution="python-sat",
            install_hint="pip install python-sat",
            options=(
                OptionSpec("engine", str, "cadical195", "the incremental SAT solver", ENGINES),
                OptionSpec(
                    "cardinality", str, "totalizer", "encoding of AtMost/AtLeast/Exactly", ENCODINGS
                ),
                OptionSpec(
                    "interruptible", str, "minisat22",
                    "solver for timed checks when `engine` cannot be interrupted (CaDiCaL, "
                    "Lingeling); minisat22 reacts to an interrupt fastest",
                    INTERRUPTIBLE_ENGINES,
                ),
                OptionSpec(
                    "maxsat_oracle", str, "glucose4", "the SAT oracle of RC2 (interruptible, for timeouts)",
                    INTERRUPTIBLE_ENGINES,
                ),
                OptionSpec(
                    "stratified", bool, True,
                    "RC2Stratified (weight levels, BLO) rather than plain RC2: 8x faster on bit-vector "
                    "Sudoku with softmax weights (examples/benchmarks/maxsmt_bench.md)",
                ),
            ),
        )
    ]
