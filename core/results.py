"""Solver answers: statuses, models, check and optimization results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any

from .evaluate import Value, evaluate
from .terms import Term

__all__ = ["Status", "OptStatus", "Model", "CheckResult", "OptimizeResult"]


class Status(str, Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


class OptStatus(str, Enum):
    OPTIMAL = "optimal"
    SATISFIABLE = "satisfiable"  # a model, not proven optimal (e.g. on timeout)
    UNSAT = "unsat"  # the hard constraints are unsatisfiable
    UNKNOWN = "unknown"


class Model(Mapping[Term, Value]):
    """An assignment of Python values to variables; index it by variable term or by name.

    A plain ``dict`` passed in is taken over, not copied: backends build a fresh one per check."""

    __slots__ = ("_values", "_by_name")

    def __init__(self, values: Mapping[Term, Value]) -> None:
        self._values = values if type(values) is dict else dict(values)
        self._by_name: dict[str, Term] | None = None  # built on the first lookup by name

    def _names(self) -> dict[str, Term]:
        if self._by_name is None:
            self._by_name = {v.value: v for v in self._values}
        return self._by_name

    def __getitem__(self, key: Term | str) -> Value:
        if isinstance(key, str):
            names = self._names()
            if key not in names:
                raise KeyError(f"the model has no variable named {key!r}")
            key = names[key]
        if isinstance(key, Term) and not key.is_var:
            return evaluate(key, self._values)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values or (isinstance(key, str) and key in self._names())

    def __iter__(self) -> Iterator[Term]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def evaluate(self, term: Term, *, default: Any = None) -> Value:
        """The value of any term under this model."""
        return evaluate(term, self._values, default=default)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k.value}={v}" for k, v in self._values.items())
        return f"Model({inner})"


@dataclass(frozen=True)
class CheckResult:
    """The answer to one satisfiability check.

    ``core`` (when UNSAT under assumptions and a core was asked for) is a subset of the
    assumptions, as the caller's own terms. ``reason`` explains an UNKNOWN
    (``"timeout"``, ``"resource limit"``, ``"incomplete"``, ...).
    """

    status: Status
    model: Model | None = None
    core: tuple[Term, ...] | None = None
    reason: str | None = None

    @property
    def sat(self) -> bool:
        return self.status is Status.SAT

    @property
    def unsat(self) -> bool:
        return self.status is Status.UNSAT


@dataclass(frozen=True)
class OptimizeResult:
    """The answer to a MaxSMT query: minimum total weight of violated soft constraints."""

    status: OptStatus
    cost: Fraction | None = None
    model: Model | None = None
    reason: str | None = None
    lower_bound: Fraction | None = None

    @property
    def optimal(self) -> bool:
        return self.status is OptStatus.OPTIMAL
