"""solverlayers: logic solvers inside PyTorch models, with swappable backends.

Describe a problem once with the builder API, then solve it with any installed backend::

    import solverlayers as sl
    x, y = sl.Bool("x"), sl.Bool("y")
    problem = sl.Problem([x | y, ~x])
    result = sl.solve(problem, backend="z3")      # or "cvc5", "pysat", any plugin
    assert result.model[y] is True
"""

from .capabilities import Capabilities, CoreKind, Requirements, Theory
from .descriptors import BackendSpec, OptionSpec
from .evaluate import evaluate
from .hookspecs import PLUGIN_API_VERSION, hookimpl
from .interfaces import BackendError, CapabilityError, SdpRelaxation, SolverSession
from .problem import Problem, Soft
from .registry import default_registry, get_backend, list_backends
from .results import CheckResult, Model, OptimizeResult, OptStatus, Status
from .solver import Solver, maxsmt, solve
from .terms import *  # noqa: F403  (the builder API)
from .terms import __all__ as _terms_all

__version__ = "0.1.0"

__all__ = [
    *_terms_all,
    "Problem", "Soft", "evaluate", "Status", "OptStatus", "Model", "CheckResult", "OptimizeResult",
    "Capabilities", "Requirements", "Theory", "CoreKind", "BackendSpec", "OptionSpec", "hookimpl", "PLUGIN_API_VERSION",
    "SolverSession", "SdpRelaxation", "CapabilityError", "BackendError",
    "Solver", "solve", "maxsmt", "default_registry", "get_backend", "list_backends",
]
