"""The contracts a backend implements. Backend objects (z3 or cvc5 terms) never cross them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .problem import Problem, Soft
from .results import CheckResult, OptimizeResult
from .terms import Term

__all__ = ["SolverSession", "SdpRelaxation", "CapabilityError", "BackendError"]


class CapabilityError(RuntimeError):
    """A backend was asked for something it does not do."""


class BackendError(RuntimeError):
    """A backend misbehaved (crashed, or returned a model that does not satisfy the formula)."""


class SolverSession(ABC):
    """One incremental solver instance holding a growing set of hard constraints.

    Contract (checked by ``solverlayers.testing``):

    * ``add`` asserts Boolean terms permanently.
    * ``check`` decides the constraints plus ``assumptions`` (Boolean terms, typically literals).
      SAT comes with a model over ``model_vars`` (default: every variable seen so far);
      UNSAT with ``want_core`` comes with ``core``, a subset of the assumptions that is
      unsatisfiable together with the constraints. A timeout is ``Status.UNKNOWN`` with
      reason ``"timeout"``, never an exception.
    * ``optimize`` exists only when the backend declares ``native_maxsmt``.
    """

    @abstractmethod
    def add(self, *constraints: Term) -> None: ...

    @abstractmethod
    def check(
        self,
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
        want_core: bool = False,
        model_vars: Sequence[Term] | None = None,
    ) -> CheckResult: ...

    def optimize(
        self,
        soft: Sequence[Soft],
        assumptions: Sequence[Term] = (),
        *,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """Minimise the total weight of violated ``soft`` constraints (native MaxSMT)."""
        raise CapabilityError(f"{type(self).__name__} has no native MaxSMT")

    def close(self) -> None:
        """Release solver resources (idempotent)."""

    def __enter__(self) -> SolverSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SdpRelaxation(ABC):
    """Approximate weighted MaxSAT through an SDP relaxation (SATNet's mixing method)."""

    @abstractmethod
    def solve(
        self,
        problem: Problem,
        *,
        roundings: int = 64,
        generator: "torch.Generator | None" = None,
        timeout: float | None = None,
    ) -> OptimizeResult:
        """A rounded assignment of ``problem``'s Boolean variables and its cost.
        The status is never OPTIMAL: a relaxation proves nothing."""
