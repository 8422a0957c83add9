"""The cvc5 backend plugin: registers the ``cvc5`` descriptor without importing cvc5.

``import solverlayers.plugins.cvc5`` is cheap; cvc5 itself is imported by ``open``, when a
session is first created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from solverlayers.capabilities import Capabilities, CoreKind, Theory
from solverlayers.descriptors import BackendSpec, OptionSpec
from solverlayers.hookspecs import hookimpl

if TYPE_CHECKING:
    from .session import Cvc5Session

__all__ = ["SPEC", "solverlayers_backends"]


def _open(options: Mapping[str, Any]) -> Cvc5Session:
    from .session import Cvc5Session

    return Cvc5Session(**options)


SPEC = BackendSpec(
    name="cvc5",
    open=_open,
    # Cores are ANY: cvc5's assumption cores are often redundant, and its minimal-unsat-cores
    # option does not shrink them (measured: same cores, 17x slower), so it is not offered; the
    # core library minimises by deletion when a caller needs MINIMAL.
    capabilities=Capabilities(
        theories=frozenset(Theory),
        cores=CoreKind.ANY,
        native_maxsmt=False,
        incremental=True,
        timeouts=True,
    ),
    description="cvc5 SMT solver: Booleans, bit-vectors, linear and nonlinear integer/real arithmetic; "
    "unsat cores under assumptions (MaxSMT comes from the core-guided algorithms)",
    solver_distribution="cvc5",
    install_hint="pip install cvc5",
    options=(
        OptionSpec("random_seed", int, 0, "seed of cvc5's and its SAT solver's random choices"),
        OptionSpec(
            "simplify", bool, True,
            "cvc5 preprocessing on each check; False is about 35% faster on small incremental "
            "queries but can be slower on hard ones",
        ),
    ),
)


@hookimpl
def solverlayers_backends() -> list[BackendSpec]:
    """The cvc5 backend descriptor."""
    return [SPEC]
