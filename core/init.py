"""SMT weight initialization for ReLU multilayer perceptrons, in the style of ``torch.nn.init``.

:func:`smt_` encodes the network on a few training samples as an SMT problem over its weights (the
classification margin constraints, every weight bounded away from zero), solves it on the backend
named by config within a time budget, and writes the solution into the model in place::

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))   # default init
    report = solverlayers.init.smt_(model, x_train, y_train, samples=20, timeout=30)
    report.status          # InitStatus.SOLVED, TIMEOUT, UNSAT or UNKNOWN

Nothing is written unless the solver answers SAT: on a timeout or UNSAT the model keeps its
current (standard) initialization, and the report says so.

What the solver sets, and what it costs (``n`` samples, ``d`` inputs of the first solved layer,
``c`` outputs; measured with z3 on the 8x8 digits, 64 hidden units, on a shared 2-core machine;
``examples/smt_init`` records a sweep):

* ``layers="last"`` (default): the earlier layers keep their random weights and the solver sets
  the last layer from the fixed hidden features: linear real arithmetic, plus one disjunction
  per weight for ``min_abs_weight``. ``targets="pairwise"`` (the seed's ``y_true > y_other``) is
  one problem of ``c*(d+1)`` unknowns and ``n*(c-1)`` margin constraints;
  ``targets="one_vs_rest"`` (output ``>= margin`` on its class, ``<= -margin`` elsewhere, a
  stronger condition) splits into ``c`` independent problems of ``d+1`` unknowns and ``n``
  constraints, which reaches more samples in the same time.
* ``layers=k`` (an int) or ``"all"``: the last ``k`` (every) Linear layers are unknowns; products
  of unknown weights and unknown ReLU outputs make it nonlinear real arithmetic: toy sizes only
  (XOR through 3 hidden units: well under a second; the digits network: no answer in 40 s even
  for 10 samples, the formula alone takes seconds to build).
* ``samples``: the formula grows linearly, the solving time much faster; infeasible or barely
  feasible problems are the slow ones (the disjunctions make refutation a search).
* ``resolution``: the features are rounded to this grid, because exact simplex arithmetic grows
  with the size of the numbers: one 50-sample class took 0.01 s at ``2**-3``, 0.07 s at
  ``2**-5``, about 1 s at ``2**-7`` and over 15 s at ``2**-10``. The margin is kept exact for the
  unrounded features by raising it by ``resolution/2 * max_abs_weight`` per nonzero feature and
  output involved, so a coarse grid costs feasibility instead (hence ``max_abs_weight`` is
  required with a resolution; ``resolution=None`` encodes the exact float values). With more
  than one solved layer the features enter exactly.
* ``timeout`` covers building the formula and solving it, and is a hard stop: both run in a child
  process (:mod:`solverlayers.init_solver`; it starts in about half a second) that is killed
  half a second past the deadline if the backend has not answered by then. z3's nonlinear
  solver can run many seconds past its own timeout, and a large formula takes seconds to build.

With ``rescale=True`` (default) each solved layer is multiplied by a positive factor (biases by
the running product, which ReLU's positive homogeneity allows) so that its weights have the
root-mean-square of the weights they replace: every sample keeps its predicted class and the
margins scale by ``report.scale``. Solver solutions sit on the bounds (``±max_abs_weight``);
without a bound they are often in the thousands.

Backends need real arithmetic (``z3``, ``cvc5``); ``pysat`` raises the core's
:class:`~solverlayers.CapabilityError` before anything is written.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Any, Literal

import torch
from torch import nn

from .capabilities import Requirements, Theory
from .config import resolve
from .init_solver import Checked, Encoded, Job, bias_var, solve_within, weight_var
from .registry import default_registry
from .results import Status
from .terms import Term, exact_fraction

__all__ = ["InitReport", "InitStatus", "mlp_layers", "smt_"]

_TRANSPARENT = (nn.Dropout, nn.Identity)


class InitStatus(str, Enum):
    """What :func:`smt_` did: ``SOLVED`` means the solution was written, anything else means the
    model was left exactly as it was."""

    SOLVED = "solved"
    TIMEOUT = "timeout"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class InitReport:
    """The outcome of one SMT initialization.

    ``layers`` are indices into :func:`mlp_layers`; ``samples`` are rows of ``x``. ``problems``
    counts the solver calls (one per class with ``targets="one_vs_rest"`` on the last layer).
    ``encode_seconds`` is spent building formulas (including the backend's translation and
    starting the solver process), ``solve_seconds`` in the solver's search. ``min_margin`` is the
    smallest margin of the written model on the samples, computed by the model in float
    arithmetic: the true class's logit minus the largest other one (a single logit signed by the
    label); it is at least ``margin * scale`` (``2 * margin * scale`` with ``one_vs_rest``).
    """

    status: InitStatus
    backend: str
    layers: tuple[int, ...]
    samples: tuple[int, ...]
    problems: int
    variables: int
    constraints: int
    encode_seconds: float
    solve_seconds: float
    scale: float | None = None
    min_margin: float | None = None
    reason: str | None = None

    @property
    def written(self) -> bool:
        """Whether the model's weights were replaced."""
        return self.status is InitStatus.SOLVED

    @property
    def seconds(self) -> float:
        """Encoding plus solving time."""
        return self.encode_seconds + self.solve_seconds


def mlp_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a ReLU multilayer perceptron, in order.

    The model's leaf modules, in registration order, must read ``[Flatten] Linear (ReLU Linear)*``
    (Dropout and Identity are allowed anywhere): an ``nn.Sequential`` MLP, or a module that
    registers its layers in the order its ``forward`` applies them.
    """
    linears: list[nn.Linear] = []
    relu_pending = False
    for m in model.modules():
        if next(m.children(), None) is not None or isinstance(m, _TRANSPARENT):
            continue
        if isinstance(m, nn.Flatten) and not linears:
            continue
        if isinstance(m, nn.Linear):
            if linears and not relu_pending:
                raise ValueError("smt_ needs a ReLU between consecutive Linear layers")
            linears.append(m)
            relu_pending = False
        elif isinstance(m, nn.ReLU) and linears and not relu_pending:
            relu_pending = True
        else:
            raise ValueError(
                f"smt_ initializes ReLU multilayer perceptrons ([Flatten] Linear (ReLU Linear)*); "
                f"found {type(m).__name__} at an unsupported position"
            )
    if not linears:
        raise ValueError("the model has no Linear layer")
    if relu_pending:
        raise ValueError("the model ends with a ReLU: its outputs must be the last Linear layer's logits")
    return linears


def _pick_samples(y: torch.Tensor, samples: int | Sequence[int], seed: int) -> list[int]:
    """``samples`` rows: the given indices, or a class-balanced random draw of that many."""
    if not isinstance(samples, int):
        rows = [int(i) for i in samples]
        if not rows or not all(0 <= i < len(y) for i in rows):
            raise ValueError(f"sample indices must be non-empty and within [0, {len(y)})")
        return rows
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    g = torch.Generator().manual_seed(seed)
    by_class = [idx[torch.randperm(len(idx), generator=g)].tolist()
                for idx in (torch.nonzero(y == c).flatten() for c in torch.unique(y))]
    rows: list[int] = []
    while len(rows) < min(samples, len(y)):  # round-robin over the classes
        for idx in by_class:
            if idx and len(rows) < samples:
                rows.append(idx.pop())
    return rows


def _quantize(v: float, resolution: Fraction | None) -> Fraction:
    if resolution is None:
        return Fraction(v)
    return round(Fraction(v) / resolution) * resolution


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).mean().sqrt())


def smt_(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    backend: str | None = None,
    samples: int | Sequence[int] = 20,
    layers: Literal["last", "all"] | int = "last",
    targets: Literal["pairwise", "one_vs_rest"] = "pairwise",
    margin: float = 0.1,
    min_abs_weight: float = 0.01,
    max_abs_weight: float | None = 1.0,
    resolution: float | None = 2.0**-7,
    rescale: bool = True,
    timeout: float = 60.0,
    seed: int = 0,
    config_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> InitReport:
    """Initialize ``model``'s solved layers so that it classifies the chosen samples of ``(x, y)``
    with ``margin``; in place, all layers or none.

    ``y`` holds class indices (``0/1`` when the model has a single output, read as the sign of
    the logit). ``samples`` is a count (a class-balanced draw seeded by ``seed``) or row indices.
    ``layers`` (``"last"``, ``"all"`` or how many of the last Linear layers) and ``targets``
    (``"pairwise"`` or ``"one_vs_rest"``) choose the problem; ``min_abs_weight`` keeps every
    solved weight out of ``(-m, m)``; ``max_abs_weight`` bounds solved weights and biases;
    ``resolution`` rounds the features (the margin stays exact); ``rescale`` restores the
    replaced weights' scale. ``timeout`` (seconds) covers encoding and solving. ``backend`` and
    ``options`` are chosen as for :class:`~solverlayers.Solver` (argument, ``config_file``,
    environment); a backend without real arithmetic raises
    :class:`~solverlayers.CapabilityError` before anything is written. See the module docstring
    for the cost of each choice.
    """
    started = time.perf_counter()
    deadline = started + timeout
    linears = mlp_layers(model)
    x = x.reshape(len(x), -1)
    y = y.reshape(-1).long()
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    n_out = linears[-1].out_features
    n_classes = 2 if n_out == 1 else n_out
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class indices in [0, {n_classes})")
    if targets not in ("pairwise", "one_vs_rest"):
        raise ValueError(f"targets must be 'pairwise' or 'one_vs_rest', got {targets!r}")
    k = len(linears) if layers == "all" else 1 if layers == "last" else layers
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(linears):
        raise ValueError(f"layers must be 'last', 'all' or an int in [1, {len(linears)}], got {layers!r}")
    if not (margin > 0 and min_abs_weight >= 0 and 0 < timeout < math.inf):
        raise ValueError("margin and timeout must be positive (timeout finite) and min_abs_weight non-negative")
    solved = list(range(len(linears) - k, len(linears)))
    rows = _pick_samples(y, samples, seed)
    if any(linears[i].bias is None for i in solved):
        raise ValueError("smt_ solves weights and biases: every solved Linear layer needs a bias")
    res = None if resolution is None or k > 1 else exact_fraction(resolution, "resolution")
    if res is not None and max_abs_weight is None:
        raise ValueError("rounding features (resolution) needs max_abs_weight to keep the margin exact; "
                         "pass resolution=None to encode the exact features")

    with torch.no_grad():  # the fixed prefix, in float64
        h = x[rows].detach().to("cpu", torch.float64)
        for layer in linears[: solved[0]]:
            h = h @ layer.weight.detach().cpu().double().T
            h = torch.relu(h if layer.bias is None else h + layer.bias.detach().cpu().double())
    features = [[_quantize(v, res) for v in row] for row in h.tolist()]
    support = [torch.nonzero(row).flatten().tolist() for row in h]
    labels = y[rows].tolist()
    shapes = [(linears[i].out_features, linears[i].in_features) for i in solved]
    split = k == 1 and n_out > 1 and targets == "one_vs_rest"
    groups: list[list[int] | None] = [[c] for c in range(n_out)] if split else [None]
    max_abs = None if max_abs_weight is None else exact_fraction(max_abs_weight, "max_abs_weight")
    settings = (targets, exact_fraction(margin, "margin"), exact_fraction(min_abs_weight, "min_abs_weight"),
                max_abs, None if res is None or max_abs is None else res / 2 * max_abs)

    cfg = resolve(backend, options, config_file=config_file)  # bad names and options fail here, not in the child
    needs = Requirements(theories=frozenset({Theory.LRA if k == 1 else Theory.NRA}))
    resolved = default_registry().select(cfg.backend, needs).resolve_options(cfg.options)
    job = Job(tuple(shapes), features, support, labels, groups, settings, cfg.backend, resolved)
    launched = time.perf_counter()
    steps, killed = solve_within(job, deadline)
    encoded = [s for s in steps if isinstance(s, Encoded)]
    checked = [s for s in steps if isinstance(s, Checked)]
    solve_s = sum(s.seconds for s in checked)
    solving = len(encoded) > len(checked)  # the child was killed in the middle of a check
    if solving:
        solve_s += time.time() - encoded[-1].ended
    report = {"backend": cfg.backend, "layers": tuple(solved), "samples": tuple(rows), "problems": len(groups),
              "variables": sum(s.variables for s in encoded), "constraints": sum(s.constraints for s in encoded),
              "encode_seconds": time.perf_counter() - launched - solve_s, "solve_seconds": solve_s}
    status, reason = _outcome(checked, killed, solving, len(rows))
    if status is not InitStatus.SOLVED:
        return InitReport(status, reason=reason, **report)
    values: dict[Term, Any] = {}
    for step in checked:
        assert step.result is not None and step.result.model is not None
        values.update(step.result.model)

    new: list[tuple[torch.Tensor, torch.Tensor]] = []
    scale = 1.0
    for l, ((n_o, n_i), i) in enumerate(zip(shapes, solved)):
        wt = torch.tensor([[float(values[weight_var(l, j, kk)]) for kk in range(n_i)] for j in range(n_o)],
                          dtype=torch.float64)
        bt = torch.tensor([float(values[bias_var(l, j)]) for j in range(n_o)], dtype=torch.float64)
        old, now = _rms(linears[i].weight), _rms(wt)
        factor = old / now if rescale and old > 0 and now > 0 else 1.0
        scale *= factor
        new.append((wt * factor, bt * scale))
    with torch.no_grad():  # everything is computed: write all layers at once
        for (wt, bt), i in zip(new, solved):
            linears[i].weight.copy_(wt)
            linears[i].bias.copy_(bt)
    return InitReport(InitStatus.SOLVED, scale=scale, min_margin=_min_margin(model, x[rows], y[rows]), **report)


def _outcome(checked: list[Checked], killed: bool, solving: bool, samples: int) -> tuple[InitStatus, str | None]:
    """The status and reason of a solve whose child process finished ``checked`` (and was killed
    at the deadline, while ``solving`` or encoding)."""
    if killed:
        return InitStatus.TIMEOUT, (
            "the solver ran past its timeout and was stopped at the deadline" if solving
            else "the time budget was spent encoding")
    result = checked[-1].result
    if result is None:
        return InitStatus.TIMEOUT, "the time budget was spent encoding"
    if result.status is Status.UNKNOWN:
        timed_out = result.reason in ("timeout", "resource limit")
        return InitStatus.TIMEOUT if timed_out else InitStatus.UNKNOWN, result.reason
    if result.status is Status.UNSAT:
        return InitStatus.UNSAT, f"no weights meet the constraints on these {samples} samples"
    return InitStatus.SOLVED, None


def _min_margin(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The smallest classification margin of ``model`` on ``(x, y)`` (negative if one is wrong)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x).double()
    finally:
        model.train(was_training)
    out = out.reshape(len(x), -1)
    if out.shape[1] == 1:
        return float(((2 * y.double() - 1) * out[:, 0]).min())
    right = out.gather(1, y[:, None].to(out.device))[:, 0]
    others = out.scatter(1, y[:, None].to(out.device), -math.inf).amax(1)
    return float((right - others).min())
