"""Typed descriptors that plugins register: one per backend, each naming its options.

A descriptor is cheap: it holds no solver object, and ``open`` imports the solver only when a
session is actually created, so listing backends imports no solver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from .capabilities import Capabilities

__all__ = ["OptionSpec", "BackendSpec", "OptionError"]


class OptionError(ValueError):
    """A backend option is unknown or has a bad value."""


@dataclass(frozen=True)
class OptionSpec:
    """One option a backend accepts, with its type, default and allowed values."""

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None

    def coerce(self, value: Any, backend: str) -> Any:
        """``value`` checked (and parsed from a string, as from an env var) against this spec."""
        if isinstance(value, str) and self.type is not str:
            value = _parse_scalar(value, self.type, f"{backend} option {self.name!r}")
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise OptionError(
                f"{backend} option {self.name!r} must be {self.type.__name__}, got {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            raise OptionError(
                f"{backend} option {self.name!r} = {value!r} is not allowed; "
                f"choose one of: {', '.join(map(str, self.choices))}"
            )
        return value


def _parse_scalar(text: str, kind: type, what: str) -> Any:
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        return kind(text)
    except ValueError:
        raise OptionError(f"{what}: cannot read {text!r} as {kind.__name__}") from None


@dataclass(frozen=True)
class BackendSpec:
    """What a plugin registers for one backend.

    ``open(options)`` returns a :class:`~solverlayers.interfaces.SolverSession` (or an
    :class:`~solverlayers.interfaces.SdpRelaxation` for relaxation backends); it is called with
    the validated options and must do any heavy import itself.
    """

    name: str
    open: Callable[[Mapping[str, Any]], Any]
    capabilities: Capabilities
    description: str = ""
    solver_distribution: str | None = None  # pip distribution of the wrapped solver, for its version
    install_hint: str = ""
    options: tuple[OptionSpec, ...] = ()
    parse_smtlib: Callable[[str], Any] | None = None  # SMT-LIB2 text -> Problem (lazy import inside)
    plugin_distribution: str = field(default="", compare=False)  # filled in by the registry

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"backend name {self.name!r} must be alphanumeric (with - or _)")

    @property
    def version(self) -> str:
        """The wrapped solver's version, read from package metadata without importing it."""
        if not self.solver_distribution:
            return "-"
        try:
            return metadata.version(self.solver_distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``, every value checked; unknown names are errors."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(sorted(known)) or "(none)"
            raise OptionError(
                f"backend {self.name!r} has no option {', '.join(map(repr, unknown))}; valid options: {valid}"
            )
        out = {name: o.default for name, o in known.items()}
        out.update({k: known[k].coerce(v, self.name) for k, v in given.items()})
        return out
