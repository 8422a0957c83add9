"""The solver side of :func:`solverlayers.init.smt_`: margin constraints, encoded and solved in a
child process that is killed at the deadline.

A backend's own timeout is no hard stop: z3's nonlinear arithmetic reads its timeout (and its
interrupt) rarely, so one all-layers problem of the digits network overran its budget by 13 s,
and building a large formula, in Python or in the backend, cannot be interrupted at all. So
:func:`solve_within` runs encoding and solving in a fresh Python process (it imports neither torch
nor the caller's script, so it starts in a fraction of a second) that gets the rest of the budget
as its solver timeout and is killed :data:`GRACE` seconds after the deadline. The child reports
each step as it finishes it, so a killed child still leaves an account of its time.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .interfaces import BackendError
from .problem import Problem
from .results import CheckResult, Status
from .solver import Solver
from .terms import Ite, Or, Real, Sum, Term

__all__ = ["Job", "Encoded", "Checked", "GRACE", "weight_var", "bias_var", "encode", "solve", "solve_within"]

GRACE = 0.5  # seconds past the deadline in which a backend that keeps its timeout can still answer

_CHILD = "from solverlayers.init_solver import _child; _child()"


def weight_var(layer: int, out: int, inp: int) -> Term:
    return Real(f"w{layer}_{out}_{inp}")


def bias_var(layer: int, out: int) -> Term:
    return Real(f"b{layer}_{out}")


def encode(
    shapes: Sequence[tuple[int, int]],
    features: list[list[Fraction]],
    support: list[list[int]],
    labels: list[int],
    outputs: Sequence[int] | None,
    targets: str,
    margin: Fraction,
    min_abs: Fraction,
    max_abs: Fraction | None,
    error: Fraction | None,
) -> list[Term]:
    """Margin constraints of ``features`` through the solved layers of ``shapes`` (out, in).

    ``outputs`` restricts a one-vs-rest last layer to some of its units (one independent
    problem each); ``None`` keeps every unit. ``support`` lists each sample's features that are
    not exactly zero. ``error`` (one solved layer only) bounds how far a weight times the
    rounding error of one feature moves an output: each margin is raised by ``error`` per
    nonzero feature and output involved, so it holds for the unrounded features too.
    """
    last = len(shapes) - 1
    keep = [list(range(out)) for out, _ in shapes]
    if outputs is not None:
        keep[last] = list(outputs)
    w = [[[weight_var(l, j, k) for k in range(n_in)] for j in range(n_out)] for l, (n_out, n_in) in enumerate(shapes)]
    b = [[bias_var(l, j) for j in range(n_out)] for l, (n_out, _) in enumerate(shapes)]
    cons: list[Term] = []
    for f, nonzero, label in zip(features, support, labels):
        z = [Sum([w[0][j][k] * f[k] for k in nonzero if f[k] != 0] + [b[0][j]]) for j in keep[0]]
        for l in range(1, len(shapes)):
            h = [Ite(zj > 0, zj, 0) for zj in z]
            z = [Sum([wk * hk for wk, hk in zip(w[l][j], h)] + [b[l][j]]) for j in keep[l]]

        one = margin + (0 if error is None else error * len(nonzero))  # one output's margin
        two = 2 * one - margin  # a difference of two outputs doubles the rounding error
        out = dict(zip(keep[last], z))
        if shapes[last][0] == 1:
            cons.append(out[0] >= one if label == 1 else out[0] <= -one)
        elif targets == "pairwise":
            cons += [out[label] - zc >= two for c, zc in out.items() if c != label]
        else:
            cons += [zc >= one if c == label else zc <= -one for c, zc in out.items()]
    for l in range(len(shapes)):
        for j in keep[l]:
            for v in w[l][j]:
                if min_abs > 0:
                    cons.append(Or(v >= min_abs, v <= -min_abs))
                if max_abs is not None:
                    cons += [v <= max_abs, v >= -max_abs]
            if max_abs is not None:
                cons += [b[l][j] <= max_abs, b[l][j] >= -max_abs]
    return cons


@dataclass(frozen=True)
class Job:
    """What the child solves: :func:`encode`'s arguments, one problem per entry of ``groups``."""

    shapes: tuple[tuple[int, int], ...]
    features: list[list[Fraction]]
    support: list[list[int]]
    labels: list[int]
    groups: list[list[int] | None]
    settings: tuple[Any, ...]  # targets, margin, min_abs, max_abs, error
    backend: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Encoded:
    """One problem built and loaded into the backend."""

    seconds: float
    ended: float  # time.time() when the step ended
    variables: int
    constraints: int


@dataclass(frozen=True)
class Checked:
    """One problem's check: ``result`` is None when the budget was spent before it began."""

    seconds: float
    ended: float
    result: CheckResult | None


@dataclass(frozen=True)
class _Failed:
    """The exception that ended the child's work."""

    error: BaseException


def solve(job: Job, deadline: float) -> Iterator[Encoded | Checked]:
    """Encode and check ``job``'s problems in turn, until one is not SAT or ``deadline`` (a
    ``time.time()``) passes; each step as it ends."""
    for outputs in job.groups:
        started = time.perf_counter()
        problem = Problem(encode(job.shapes, job.features, job.support, job.labels, outputs, *job.settings))
        with Solver(problem, job.backend, verify=True, **job.options) as solver:
            now = time.perf_counter()
            yield Encoded(now - started, time.time(), len(problem.variables), len(problem))
            remaining = deadline - time.time()
            result = solver.check(timeout=remaining, model_vars=problem.variables) if remaining > 0 else None
            yield Checked(time.perf_counter() - now, time.time(), result)
        if result is None or result.status is not Status.SAT:
            return


def _child() -> None:
    """The child process: a pickled ``(job, deadline)`` on stdin, pickled steps on stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a solver prints goes to stderr, never into the steps
    job, deadline = pickle.load(sys.stdin.buffer)
    try:
        for step in solve(job, deadline):
            pickle.dump(step, out)
            out.flush()
    except Exception as exc:  # handed to the parent, which raises it
        exc.add_note("(raised in solverlayers.init's solver process:)\n" + traceback.format_exc().rstrip())
        try:
            data = pickle.dumps(_Failed(exc))
            pickle.loads(data)
        except Exception:
            data = pickle.dumps(_Failed(RuntimeError(traceback.format_exc())))
        out.write(data)
    out.flush()
    sys.stderr.flush()
    os._exit(0)  # no teardown of the solver's state: the process ends here


def solve_within(job: Job, deadline: float) -> tuple[list[Encoded | Checked], bool]:
    """:func:`solve` in a child process, stopped :data:`GRACE` seconds after ``deadline`` (a
    ``time.perf_counter()``): the steps it finished, and whether it had to be killed.

    Exceptions raised in the child (a bad option, a capability the backend lacks) are raised
    here; a child that dies without answering raises :class:`~solverlayers.BackendError`."""
    data = pickle.dumps((job, time.time() + deadline - time.perf_counter()))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    killed = False
    try:
        out, err = proc.communicate(data, timeout=max(0.0, deadline - time.perf_counter()) + GRACE)
    except subprocess.TimeoutExpired:
        killed = True
        proc.kill()
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:  # interrupted (KeyboardInterrupt): never leave the child running
            proc.kill()
            proc.wait()
    steps = _read_steps(out)
    if not killed and proc.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise BackendError(f"the solver process ended with exit code {proc.returncode} before it answered:\n{tail}")
    if err:
        sys.stderr.write(err.decode(errors="replace"))
    return steps, killed


def _read_steps(data: bytes) -> list[Encoded | Checked]:
    """The steps pickled in ``data`` (one cut short by the kill is dropped); a failure is raised."""
    buffer, steps = io.BytesIO(data), []
    while buffer.tell() < len(data):
        try:
            step = pickle.load(buffer)
        except (EOFError, pickle.UnpicklingError):
            break
        if isinstance(step, _Failed):
            raise step.error
        steps.append(step)
    return steps
