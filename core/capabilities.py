"""What a backend can do, what a caller needs, and the check that matches the two."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from .terms import Term, postorder

__all__ = ["Theory", "CoreKind", "Capabilities", "Requirements", "theories_of"]


class Theory(str, Enum):
    """Logic fragments. ``BOOL`` includes cardinality and pseudo-Boolean constraints."""

    BOOL = "bool"
    BV = "bv"
    LIA = "lia"
    LRA = "lra"
    NIA = "nia"
    NRA = "nra"


class CoreKind(str, Enum):
    """Quality of the unsat cores a backend returns."""

    NONE = "none"
    ANY = "any"  # unsatisfiable, possibly redundant
    MINIMAL = "minimal"  # subset-minimal (irredundant)


@dataclass(frozen=True)
class Capabilities:
    """A backend's honest self-description; the conformance kit checks each claim."""

    theories: frozenset[Theory]
    cores: CoreKind = CoreKind.NONE
    native_maxsmt: bool = False
    incremental: bool = True
    batching: bool = False
    gpu: bool = False
    crosses_threads: bool = False  # a session may be used from a thread other than its creator's
    crosses_processes: bool = False  # a session may be pickled to another process
    timeouts: bool = True
    smtlib_parser: bool = False
    sdp_relaxation: bool = False
    smt: bool = True  # exact SMT/SAT checking (False for relaxation-only backends)

    def summary(self) -> str:
        parts = [",".join(sorted(t.value for t in self.theories))]
        if self.smt:
            parts.append(f"cores={self.cores.value}")
        flags = [
            ("maxsmt", self.native_maxsmt), ("incremental", self.incremental and self.smt),
            ("batch", self.batching), ("gpu", self.gpu), ("threads", self.crosses_threads),
            ("processes", self.crosses_processes), ("smtlib", self.smtlib_parser),
            ("sdp", self.sdp_relaxation),
        ]
        parts.extend(name for name, on in flags if on)
        return " ".join(parts)


@dataclass(frozen=True)
class Requirements:
    """What a caller needs. Gaps that core algorithms can fill count as met:
    MaxSMT from assumptions + cores (core-guided OLL), minimal cores from any cores (deletion)."""

    theories: frozenset[Theory] = field(default_factory=frozenset)
    smt: bool = True
    maxsmt: bool = False
    cores: CoreKind = CoreKind.NONE
    batching: bool = False
    gpu: bool = False
    smtlib_parser: bool = False
    sdp_relaxation: bool = False

    def unmet(self, caps: Capabilities) -> list[str]:
        """Human-readable reasons ``caps`` falls short; empty when every need is met."""
        missing = [f"theory {t.value}" for t in sorted(self.theories - caps.theories, key=lambda t: t.value)]
        core_capable = caps.smt and caps.incremental and caps.cores is not CoreKind.NONE
        if self.smt and not caps.smt:
            missing.append("exact SMT solving")
        if self.maxsmt and not (caps.native_maxsmt or core_capable):
            missing.append("MaxSMT (native, or unsat cores under assumptions)")
        if self.cores is not CoreKind.NONE and not core_capable:
            missing.append("unsat cores under assumptions")
        for name in ("batching", "gpu", "smtlib_parser", "sdp_relaxation"):
            if getattr(self, name) and not getattr(caps, name):
                missing.append(name.replace("_", " "))
        return missing


_ARITH_OPS = {"add", "sub", "neg", "mul", "div", "to_real", "lt", "le", "gt", "ge"}


def theories_of(terms: Iterable[Term]) -> frozenset[Theory]:
    """The theories that ``terms`` use (``mul`` of two non-constants is nonlinear)."""
    found: set[Theory] = set()
    for t in postorder(terms):
        kind = t.sort.kind
        if kind == "bool":
            found.add(Theory.BOOL)
        elif kind == "bv":
            found.add(Theory.BV)
        elif kind in ("int", "real"):
            linear = Theory.LIA if kind == "int" else Theory.LRA
            nonlinear = Theory.NIA if kind == "int" else Theory.NRA
            if t.op == "mul" and sum(not a.is_const for a in t.args) > 1:
                found.add(nonlinear)
            else:
                found.add(linear)
    return frozenset(found)
