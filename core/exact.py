"""Exact training of step-activation networks with a solver, and their export to PyTorch and C.

A :class:`StepNetwork` computes ``step(W h + b)`` layer after layer with ``step(z) = 1 if z > 0
else -1`` (the units of the seed's XOR network 2-3-1). :func:`train_exact` turns "classify every
training example" into one formula over the weights and asks the backend named by config: SAT
gives a network that classifies every training example, UNSAT proves that this architecture
cannot, and the architecture then grows until it can, up to the limit the caller sets::

    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]); y = torch.tensor([0, 1, 1, 0])
    result = train_exact(x, y, hidden=(1,), max_width=3, backend="pysat")
    [a.hidden for a in result.attempts]     # [(1,), (2,)]: one unit proven unable, two found
    print(to_c(result.network))             # a standalone C function

Two encodings, both exact for what they claim:

* ``encoding="bv"`` (default): integer weights and biases in ``[-2**(b-1), 2**(b-1) - 1]`` for
  ``b = weight_bits``, sums in bit-vectors wide enough never to overflow; inputs must be
  integers. Runs on every backend with bit-vectors (``pysat``, ``z3``, ``cvc5``), which give the
  same answers. UNSAT proves that no network of this architecture *with weights in that range*
  fits the data.
* ``encoding="real"``: real weights, linear real arithmetic (``z3``, ``cvc5``; ``pysat`` raises
  :class:`~solverlayers.CapabilityError`). Every unit is asked for ``|W h + b| >= 1`` on every
  example, which loses nothing (shift the bias off zero, then scale the unit: its outputs do not
  change), so UNSAT proves that no real weights exist at all, and float evaluation of the
  result (PyTorch, C) stays a unit away from every threshold.

Hidden units are ordered by their first weight (a permutation of units changes nothing), which
removes symmetric duplicates from UNSAT proofs.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import torch
from torch import nn

from .config import resolve
from .problem import Problem
from .results import Model, Status
from .solver import Solver
from .terms import (
    SGT,
    SLE,
    BitVec,
    BitVecVal,
    Ite,
    Or,
    Real,
    SignExt,
    Sum,
    Term,
    exact_fraction,
)

__all__ = ["Attempt", "ExactResult", "StepNetwork", "fit_architecture", "to_c", "train_exact"]


class StepNetwork(nn.Module):
    """A feed-forward network of sign units: ``h <- step(W h + b)`` per layer, outputs in ``{-1, 1}``.

    Weights are float64 buffers (no gradients: these networks are trained by a solver).
    ``forward`` returns the ``±1`` outputs, :meth:`predict` the ``0/1`` classes.
    """

    def __init__(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> None:
        super().__init__()
        if not weights or len(weights) != len(biases):
            raise ValueError("a StepNetwork needs one bias vector per weight matrix, and at least one layer")
        prev: torch.Tensor | None = None
        for i, (w, b) in enumerate(zip(weights, biases)):
            w = torch.as_tensor(w, dtype=torch.float64)
            b = torch.as_tensor(b, dtype=torch.float64)
            if w.dim() != 2 or b.shape != (w.shape[0],):
                raise ValueError(f"layer {i}: weight must be (out, in) and bias (out,), got {tuple(w.shape)}, {tuple(b.shape)}")
            if prev is not None and w.shape[1] != prev.shape[0]:
                raise ValueError(f"layer {i} takes {w.shape[1]} inputs but layer {i - 1} has {prev.shape[0]} units")
            self.register_buffer(f"weight{i}", w.clone())
            self.register_buffer(f"bias{i}", b.clone())
            prev = w
        self.depth = len(weights)

    @property
    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(weight, bias)`` per layer."""
        return [(getattr(self, f"weight{i}"), getattr(self, f"bias{i}")) for i in range(self.depth)]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Inputs, hidden units per layer, outputs: ``(2, 3, 1)`` for the seed's XOR network."""
        ws = [w for w, _ in self.layers]
        return (ws[0].shape[1], *(w.shape[0] for w in ws))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.to(torch.float64)
        for w, b in self.layers:
            h = torch.where(h @ w.T + b > 0, 1.0, -1.0).to(torch.float64)
        return h

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``1`` where an output unit fires, else ``0``."""
        return (self.forward(x) > 0).long()


@dataclass(frozen=True)
class Attempt:
    """One architecture tried: SAT (found), UNSAT (proven impossible) or UNKNOWN (timeout)."""

    hidden: tuple[int, ...]
    status: Status
    seconds: float
    reason: str | None = None


@dataclass(frozen=True)
class ExactResult:
    """The outcome of :func:`train_exact`: the network found (``None`` if none), every attempt in
    order, and the backend and encoding used."""

    network: StepNetwork | None
    attempts: tuple[Attempt, ...]
    backend: str
    encoding: str

    @property
    def solved(self) -> bool:
        return self.network is not None

    @property
    def hidden(self) -> tuple[int, ...] | None:
        """The hidden layer widths of the network found."""
        return self.attempts[-1].hidden if self.network is not None else None


def _targets(y: torch.Tensor, n: int) -> list[list[bool]]:
    """``y`` as one list of firing flags per example (``1``, or ``-1``/``0`` for not firing)."""
    y = torch.as_tensor(y)
    if y.numel() == 0 or y.numel() % n or not bool(((y == 0) | (y == 1) | (y == -1)).all()):
        raise ValueError("targets must be 0/1 or -1/+1, one row per example")
    y = y.reshape(n, -1)
    return (y > 0).tolist()


def _check_data(x: torch.Tensor, y: torch.Tensor, encoding: str) -> tuple[list[list[Fraction]], list[list[bool]]]:
    x = torch.as_tensor(x)
    if x.dim() != 2 or len(x) == 0:
        raise ValueError("x must be a non-empty (examples, inputs) matrix")
    values = [[exact_fraction(v, "input") for v in row] for row in x.tolist()]
    if encoding == "bv" and any(v.denominator != 1 for row in values for v in row):
        raise ValueError("encoding='bv' needs integer inputs: scale or quantize them, or use encoding='real'")
    targets = _targets(y, len(values))
    seen: dict[tuple[Fraction, ...], list[bool]] = {}
    for row, t in zip(values, targets):
        if seen.setdefault(tuple(row), t) != t:
            raise ValueError(f"the input {[str(v) for v in row]} appears with two different targets: no network fits")
    return values, targets


class _Encoder:
    """The formula "this architecture classifies every example", in one of the two encodings."""

    def __init__(self, sizes: Sequence[int], encoding: str, weight_bits: int, max_input: int) -> None:
        self.encoding = encoding
        self.bits = weight_bits
        self.weights = [[[self._var(f"w{l}_{j}_{k}") for k in range(n_in)] for j in range(n_out)]
                        for l, (n_in, n_out) in enumerate(itertools.pairwise(sizes))]
        self.biases = [[self._var(f"b{l}_{j}") for j in range(n_out)] for l, n_out in enumerate(sizes[1:])]
        # widths that hold every pre-activation without overflow (signed)
        top = 1 << (weight_bits - 1)
        bounds = [top * (max_input * sizes[0] + 1), *(top * (n + 1) for n in sizes[1:-1])]
        self.widths = [bound.bit_length() + 1 for bound in bounds]

    def _var(self, name: str) -> Term:
        return BitVec(name, self.bits) if self.encoding == "bv" else Real(name)

    def _wide(self, w: Term, layer: int) -> Term:
        return SignExt(self.widths[layer] - self.bits, w) if self.encoding == "bv" else w

    def _times(self, w: Term, c: Fraction, layer: int) -> Term:
        """``w * c`` for a constant input ``c``."""
        if self.encoding == "real":
            return w * c
        wide = self._wide(w, layer)
        return wide if c == 1 else -wide if c == -1 else wide * BitVecVal(int(c), self.widths[layer])

    def _positive(self, z: Term, layer: int) -> Term:
        return SGT(z, BitVecVal(0, self.widths[layer])) if self.encoding == "bv" else z >= 1

    def _negative(self, z: Term, layer: int) -> Term:
        return SLE(z, BitVecVal(0, self.widths[layer])) if self.encoding == "bv" else z <= -1

    def constraints(self, inputs: list[list[Fraction]], targets: list[list[bool]]) -> list[Term]:
        last = len(self.weights) - 1
        cons: list[Term] = []
        for row, wanted in zip(inputs, targets):
            fired: list[Term] = []
            for l, (ws, bs) in enumerate(zip(self.weights, self.biases)):
                z = []
                for w_row, b in zip(ws, bs):
                    if l == 0:
                        terms = [self._times(w, c, l) for w, c in zip(w_row, row) if c != 0]
                    else:
                        terms = [Ite(a, self._wide(w, l), -self._wide(w, l)) for w, a in zip(w_row, fired)]
                    z.append(Sum([*terms, self._wide(b, l)]))
                if l < last:
                    fired = [self._positive(zj, l) for zj in z]
                    if self.encoding == "real":  # keep every hidden unit a unit away from its threshold
                        cons += [Or(f, self._negative(zj, l)) for f, zj in zip(fired, z)]
            cons += [self._positive(zj, last) if t else self._negative(zj, last) for zj, t in zip(z, wanted)]
        for ws in self.weights[:-1]:  # symmetry: hidden units sorted by their first weight
            firsts = [w_row[0] for w_row in ws]
            cons += [SLE(a, b) if self.encoding == "bv" else a <= b for a, b in itertools.pairwise(firsts)]
        return cons

    def _value(self, model: Model, v: Term) -> float:
        raw = model[v]
        if self.encoding == "bv":
            return float(raw - (1 << self.bits) if raw >> (self.bits - 1) else raw)
        return float(raw)

    def network(self, model: Model) -> StepNetwork:
        weights = [torch.tensor([[self._value(model, w) for w in row] for row in ws], dtype=torch.float64)
                   for ws in self.weights]
        biases = [torch.tensor([self._value(model, b) for b in bs], dtype=torch.float64) for bs in self.biases]
        return StepNetwork(weights, biases)


def fit_architecture(
    x: torch.Tensor,
    y: torch.Tensor,
    hidden: Sequence[int],
    *,
    backend: str | None = None,
    encoding: Literal["bv", "real"] = "bv",
    weight_bits: int = 4,
    timeout: float | None = None,
    config_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> tuple[Attempt, StepNetwork | None]:
    """Solve one architecture (``hidden`` = widths of the hidden layers): the attempt, and the
    network when SAT. Arguments as for :func:`train_exact`."""
    if encoding not in ("bv", "real"):
        raise ValueError(f"encoding must be 'bv' or 'real', got {encoding!r}")
    if isinstance(weight_bits, bool) or not isinstance(weight_bits, int) or weight_bits < 2:
        raise ValueError(f"weight_bits must be an int >= 2, got {weight_bits!r}")
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1:
        raise ValueError(f"hidden must list at least one layer of at least one unit, got {hidden}")
    inputs, targets = _check_data(x, y, encoding)
    max_input = max(int(abs(v)) + 1 for row in inputs for v in row)
    encoder = _Encoder((len(inputs[0]), *hidden, len(targets[0])), encoding, weight_bits, max_input)
    started = time.perf_counter()
    problem = Problem(encoder.constraints(inputs, targets))
    with Solver(problem, backend, config_file=config_file, verify=True, **options) as solver:
        result = solver.check(timeout=timeout)
    attempt = Attempt(hidden, result.status, time.perf_counter() - started, result.reason)
    if result.status is not Status.SAT:
        return attempt, None
    assert result.model is not None
    network = encoder.network(result.model)
    fits = torch.equal(network.predict(torch.as_tensor(x)), torch.tensor(targets, dtype=torch.long))
    if not fits:  # the formula says every example is classified; float evaluation must agree
        raise RuntimeError(f"the {encoding} network found for {hidden} misclassifies in float arithmetic")
    return attempt, network


def _growth(hidden: tuple[int, ...], max_width: int, max_layers: int) -> Iterator[tuple[int, ...]]:
    """``hidden``, then one more unit in the last hidden layer up to ``max_width``, then a new
    hidden layer of two units (one unit could only copy or negate one unit before it), and so on."""
    h = list(hidden)
    yield tuple(h)
    while True:
        if h[-1] < max_width:
            h[-1] += 1
        elif len(h) < max_layers:
            h.append(2)
        else:
            return
        yield tuple(h)


def train_exact(
    x: torch.Tensor,
    y: torch.Tensor,
    hidden: Sequence[int] = (1,),
    *,
    max_width: int = 8,
    max_layers: int = 2,
    backend: str | None = None,
    encoding: Literal["bv", "real"] = "bv",
    weight_bits: int = 4,
    timeout: float | None = None,
    config_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> ExactResult:
    """Train a step network that classifies every example of ``(x, y)`` exactly, growing the
    architecture from ``hidden`` while the solver proves it too small.

    ``x`` is ``(examples, inputs)``; ``y`` holds ``0/1`` (or ``-1/+1``) targets, one column per
    output unit. Growth widens the last hidden layer one unit at a time up to ``max_width``, then
    adds a hidden layer (two units), up to ``max_layers`` hidden layers. ``timeout`` (seconds)
    applies to each architecture; an architecture that times out is recorded as UNKNOWN (not
    proven impossible) and growth goes on. ``backend`` and ``options`` are chosen as for
    :class:`~solverlayers.Solver`; see the module docstring for the encodings.
    """
    start = tuple(int(h) for h in hidden)
    if not start or max(start) > max_width or len(start) > max_layers:
        raise ValueError(f"hidden {start} must be non-empty and within max_width={max_width}, max_layers={max_layers}")
    name = resolve(backend, config_file=config_file).backend
    attempts: list[Attempt] = []
    for arch in _growth(start, max_width, max_layers):
        attempt, network = fit_architecture(x, y, arch, backend=backend, encoding=encoding, weight_bits=weight_bits,
                                            timeout=timeout, config_file=config_file, **options)
        attempts.append(attempt)
        if network is not None:
            return ExactResult(network, tuple(attempts), name, encoding)
    return ExactResult(None, tuple(attempts), name, encoding)


_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def to_c(network: StepNetwork, name: str = "propagate") -> str:
    """A standalone C99 function ``void name(const double *input, double *output)`` computing
    ``network`` (outputs ``1.0`` or ``-1.0``), with the weights as literals (exact round trip)."""
    if not _C_IDENT.fullmatch(name):
        raise ValueError(f"{name!r} is not a C identifier")
    sizes = network.sizes
    lines = [
        f"/* A {'-'.join(map(str, sizes))} step network exported by solverlayers.exact: */",
        "/* each unit outputs 1 if its weighted sum plus bias is > 0, else -1. */",
        f"void {name}(const double *input, double *output) {{",
    ]
    prev = "input"
    for l, (w, b) in enumerate(network.layers):
        dest = "output" if l == network.depth - 1 else f"h{l}"
        if dest != "output":
            lines.append(f"    double {dest}[{w.shape[0]}];")
        for j in range(w.shape[0]):
            terms = " + ".join(f"{float(w[j, k])!r} * {prev}[{k}]" for k in range(w.shape[1]))
            lines.append(f"    {dest}[{j}] = ({terms} + {float(b[j])!r} > 0.0) ? 1.0 : -1.0;")
        prev = dest
    lines.append("}")
    return "\n".join(lines) + "\n"
