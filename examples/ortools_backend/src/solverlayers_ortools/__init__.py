"""solverlayers plugin: the ``ortools`` backend, Google OR-Tools CP-SAT.

This module is what the ``solverlayers`` entry point names. It must stay cheap: it imports no
OR-Tools, only solverlayers' descriptor types. CP-SAT is imported by :func:`_open`, when a
session is actually created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from solverlayers import BackendSpec, Capabilities, CoreKind, OptionSpec, Theory, hookimpl

__all__ = ["solverlayers_backends", "SPEC"]
__version__ = "0.1.0"


def _open(options: Mapping[str, Any]) -> Any:
    from .session import CpSatSession  # the heavy import happens here, not at plugin load

    return CpSatSession(**options)


SPEC = BackendSpec(
    name="ortools",
    open=_open,
    capabilities=Capabilities(
        theories=frozenset({Theory.BOOL, Theory.LIA}),
        cores=CoreKind.ANY,  # sufficient_assumptions_for_infeasibility: unsat, not always minimal
        native_maxsmt=True,  # a weighted objective over the soft constraints' indicators
        incremental=True,
        timeouts=True,
    ),
    description="OR-Tools CP-SAT: Boolean, cardinality, pseudo-Boolean and bounded linear integer "
    "constraints; native weighted MaxSMT",
    solver_distribution="ortools",
    install_hint="pip install solverlayers-ortools",
    options=(
        OptionSpec("workers", int, 1, "CP-SAT search workers (num_workers); 1 is deterministic"),
        OptionSpec("seed", int, 0, "random seed of the search"),
        OptionSpec("presolve", bool, True, "run CP-SAT's presolve"),
        OptionSpec("linearization_level", int, 1, "how much of the model goes into the LP relaxation", (0, 1, 2)),
        OptionSpec(
            "int_bound", int, 2**31 - 1,
            "integer variables not bounded by hard constraints are searched in [-int_bound, int_bound]; "
            "answers that depend on this box come back as UNKNOWN (or SATISFIABLE, not OPTIMAL)",
        ),
    ),
)


@hookimpl
def solverlayers_backends() -> list[BackendSpec]:
    """The backends this plugin provides (called once by the registry)."""
    return [SPEC]
