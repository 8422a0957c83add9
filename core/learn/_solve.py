"""What the learners share: the error for data no model fits, and a check that rejects UNKNOWN."""

from __future__ import annotations

from collections.abc import Iterable

from ..results import Model, Status
from ..solver import Solver
from ..terms import Term

__all__ = ["NoFitError", "check"]


class NoFitError(ValueError):
    """No model of the requested kind and size fits the data."""


def check(solver: Solver, assumptions: Iterable[Term] = (), timeout: float | None = None) -> Model | None:
    """The model when SAT, ``None`` when UNSAT; a ``TimeoutError`` when the backend gives no answer."""
    result = solver.check(assumptions, timeout=timeout)
    if result.status is Status.UNKNOWN:
        raise TimeoutError(f"backend {solver.backend!r} gave no answer ({result.reason or 'unknown'})")
    return result.model if result.sat else None
