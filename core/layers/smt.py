"""SMTLayer (Fredrikson et al., "Learning Modulo Theories", ICML 2023): an SMT formula as a layer.

The layer is defined by a formula ``phi`` over Boolean input variables ``z`` (``p``), Boolean
output variables ``y`` (``q``) and any other variables of any theory the backend supports.
It takes logits ``(..., p)`` and returns ``(..., q)`` floats in {-1, 1}, computed from the
signs of the logits by F_smt (Algorithm 2: a satisfying assignment; 0 when the signs are
inconsistent with ``phi``) or F_max (Algorithm 1: the MaxSMT assignment that keeps the most
``softmax(|z|)`` weight of the signs). The backward pass is a gradient strategy chosen by name:
``b_core`` (Algorithm 4), ``b_max`` (Algorithm 3), ``ste`` or ``blackbox``, or a plugin's.

::

    layer = SMTLayer(phi, inputs=z_bits, outputs=y_bits, backend="cvc5", gradient="b_max")
    y = layer(logits, mask=given)          # mask: which inputs each example gives (default all)
    layer.last_status, layer.stats         # per-example LayerStatus codes, running counters

Inputs that an example's ``mask`` leaves out are free variables for the solver (as the empty
cells of a Sudoku) and get a zero gradient. Inputs and outputs may share variables: an output
that is also a given input is that input's sign.

Outputs are deterministic: F_smt returns the lexicographically least output of a satisfying
assignment (``y_0`` first, false before true) and B_core the minimal core found by deletion in
input order, whatever the backend, executor, worker count or cache state. Two backends can only
disagree where a MaxSMT optimum is tied (equal weights), or on a timeout.

An example whose forward is UNSAT (F_smt) or UNKNOWN (timeout) gets output 0, a status, a count
in ``layer.stats`` and a :class:`SolverLayerWarning`; likewise a backward whose corrected output
no input admits gets gradient 0 and status INFEASIBLE.

The layer holds only its formula and configuration: it pickles, deep-copies, goes to DataLoader
workers and DistributedDataParallel ranks, and compiles under ``torch.compile(fullgraph=True)``
(the solver runs inside the custom op ``solverlayers::smt_layer``). Each process compiles the
formula into its own solver session on first use.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import resolve
from ..gradients import GradientSpec
from ..problem import Problem
from ..registry import Registry, default_registry
from ..results import Status
from ..smtlib import term_to_smtlib
from ..terms import Term, variables
from .engine import RESERVED_PREFIX, Engine, LayerSpec, LayerStats, LayerStatus, SolverLayerWarning, engine_for, worker
from .executors import Executor, make_executor

__all__ = ["SMTLayer", "smt_layer", "LayerStatus", "LayerStats", "SolverLayerWarning"]

FORWARD_MODES = ("smt", "max")


# -- the custom ops: tensors and an int handle in, tensors out --------------------------------------

def _numpy(t: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    return t.detach().to("cpu", dtype).numpy()


@torch.library.custom_op("solverlayers::smt_layer", mutates_args=())
def _forward_op(z: torch.Tensor, mask: torch.Tensor, handle: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, status)`` for logits ``z`` ``(N, p)`` and given-input ``mask`` ``(N, p)``."""
    engine = engine_for(handle)
    logits = _numpy(z, torch.float64)
    bad = ~np.isfinite(logits)
    if bad.any():
        raise ValueError(f"SMTLayer got {int(bad.sum())} NaN or infinite logits; the signs of such inputs are undefined")
    if len(logits) == 0:
        return z.new_zeros((0, engine.q)), torch.zeros(0, dtype=torch.int8, device=z.device)
    y, code = engine.forward(logits, _numpy(mask, torch.bool))
    return torch.from_numpy(y).to(device=z.device, dtype=z.dtype), torch.from_numpy(code).to(z.device)


@_forward_op.register_fake
def _(z: torch.Tensor, mask: torch.Tensor, handle: int) -> tuple[torch.Tensor, torch.Tensor]:
    return z.new_empty((z.shape[0], engine_for(handle).q)), z.new_empty((z.shape[0],), dtype=torch.int8)


@torch.library.custom_op("solverlayers::smt_layer_backward", mutates_args=())
def _backward_op(z: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, grad_y: torch.Tensor, handle: int) -> torch.Tensor:
    """The gradient strategy's ``grad_z`` ``(N, p)``."""
    if len(z) == 0:
        return torch.zeros_like(z)
    grad = engine_for(handle).backward(
        _numpy(z, torch.float64), _numpy(mask, torch.bool), _numpy(y, torch.float64), _numpy(grad_y, torch.float64)
    )
    return torch.from_numpy(grad).to(device=z.device, dtype=z.dtype)


@_backward_op.register_fake
def _(z: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, grad_y: torch.Tensor, handle: int) -> torch.Tensor:
    return torch.empty_like(z)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[torch.Tensor, torch.Tensor]) -> None:
    z, mask, handle = inputs
    ctx.save_for_backward(z, mask, output[0])
    ctx.handle = handle
    ctx.engine = engine_for(handle)  # the graph keeps the engine alive, even if the layer goes first


def _backward(ctx: Any, grad_y: torch.Tensor, grad_status: torch.Tensor | None) -> tuple[torch.Tensor, None, None]:
    z, mask, y = ctx.saved_tensors
    return _backward_op(z, mask, y, grad_y, ctx.handle), None, None


_forward_op.register_autograd(_backward, setup_context=_setup_context)


def _apply(z: torch.Tensor, mask: torch.Tensor | None, handle: int, p: int, q: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes, flatten the leading dimensions, run the op, restore them. Plain ints only,
    so that ``torch.compile`` traces this without touching the engine."""
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"SMTLayer takes a floating-point tensor of logits, got {getattr(z, 'dtype', type(z).__name__)}")
    if z.dim() == 0 or z.shape[-1] != p:
        raise ValueError(f"SMTLayer expects logits of shape (..., {p}) for its {p} inputs, got {tuple(z.shape)}")
    lead = z.shape[:-1]
    if mask is None:
        mask = torch.ones((), dtype=torch.bool, device=z.device)
    elif not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a tensor, got {type(mask).__name__}")
    try:
        mask = torch.broadcast_to(mask.to(torch.bool), z.shape)
    except RuntimeError:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the logits' {tuple(z.shape)}") from None
    y, status = _forward_op(z.reshape(-1, p), mask.reshape(-1, p), handle)
    return y.reshape(*lead, q), status.reshape(lead)


# -- the module -------------------------------------------------------------------------------------

def _as_formula(formula: Term | Iterable[Term] | Problem) -> tuple[Term, ...]:
    if isinstance(formula, Problem):
        if formula.soft:
            raise ValueError("SMTLayer's formula is hard constraints only; the problem has soft constraints")
        formula = formula.hard
    terms = (formula,) if isinstance(formula, Term) else tuple(formula)
    problem = Problem(terms)  # validates: Boolean terms, one sort per variable name
    clash = [v.name for v in problem.variables if v.name.startswith(RESERVED_PREFIX)]
    if clash:
        raise ValueError(f"variable names starting with {RESERVED_PREFIX!r} are reserved: {', '.join(clash)}")
    return problem.hard


def _as_variables(terms: Sequence[Term], what: str, formula: tuple[Term, ...]) -> tuple[Term, ...]:
    out = tuple(terms)
    if not out:
        raise ValueError(f"SMTLayer needs at least one {what} variable")
    present = set(variables(formula))
    for v in out:
        if not isinstance(v, Term) or not v.is_var:
            raise TypeError(f"SMTLayer {what}s must be variables, got {v!r}")
        if not v.sort.is_bool:
            raise TypeError(
                f"SMTLayer {what} {v.name!r} is {v.sort}, not Boolean: declare Boolean {what}s and tie them "
                "to it in the formula (for a bit-vector a: Eq(bit_i, Eq(Extract(i, i, a), 1)))"
            )
        if v not in present:
            raise ValueError(f"SMTLayer {what} {v.name!r} does not occur in the formula")
    if len(set(out)) != len(out):
        raise ValueError(f"SMTLayer {what}s contain a variable twice")
    return out


class SMTLayer(nn.Module):
    """An SMT formula as a PyTorch layer (see the module docstring).

    Args:
        formula: the constraints ``phi`` (a Boolean term, terms, or a Problem without soft ones).
        inputs: the ``p`` Boolean input variables ``z``, in logit order.
        outputs: the ``q`` Boolean output variables ``y``, in output order.
        forward_mode: ``"smt"`` (F_smt) or ``"max"`` (F_max).
        gradient: a gradient strategy's name (default: config file, else ``"b_core"``).
        gradient_options: the strategy's options (``blackbox``: ``lam``).
        backend: the backend's name (default: config file, ``SOLVERLAYERS_BACKEND``, else z3).
        options: backend options; ``config_file`` as for :func:`solverlayers.config.resolve`.
        executor: ``"serial"``, ``"process"`` (a pool; the default), ``"ray"``, or an Executor.
        workers: the pool's size (default: the number of CPUs).
        timeout: seconds per solver call; a call that runs out gives status UNKNOWN.
        cache_size: entries per memo when the key space is too big for a dense table.
        table_bits: tabulate ``phi`` on ``(z, y)`` when ``p + q <= table_bits`` (weighted queries
            become vectorised argmaxes over the consistent pairs, found once by ``2**q`` model
            enumerations: raise it for formulas with few models, such as the liar's puzzle's 24
            bits); 0 solves every weighted query one by one: by enumeration when its hard outputs
            leave at most 16 assignments of the soft literals (as B_max's corrected outputs
            often do), else by MaxSMT.
        registry: where the backend and the gradient strategy are looked up (default: the
            process-wide registry, which an unpickled layer always uses).
    """

    def __init__(
        self,
        formula: Term | Iterable[Term] | Problem,
        inputs: Sequence[Term],
        outputs: Sequence[Term],
        *,
        forward_mode: str = "smt",
        gradient: str | None = None,
        gradient_options: Mapping[str, Any] | None = None,
        backend: str | None = None,
        options: Mapping[str, Any] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        executor: str | Executor = "process",
        workers: int | None = None,
        timeout: float | None = None,
        cache_size: int = 1 << 16,
        table_bits: int = 16,
        registry: Registry | None = None,
    ) -> None:
        super().__init__()
        phi = _as_formula(formula)
        spec_inputs = _as_variables(inputs, "input", phi)
        spec_outputs = _as_variables(outputs, "output", phi)
        if forward_mode not in FORWARD_MODES:
            raise ValueError(f"forward_mode must be one of {', '.join(FORWARD_MODES)}, got {forward_mode!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        registry = registry or default_registry()
        cfg = resolve(backend, options, config_file=config_file, gradient=gradient, default_gradient="b_core")
        grad_spec: GradientSpec = registry.get_gradient(cfg.gradient)
        needs = replace(
            grad_spec.requirements,
            theories=grad_spec.requirements.theories | Problem(phi).theories,
            maxsmt=grad_spec.requirements.maxsmt or forward_mode == "max",
        )
        backend_spec = registry.select(cfg.backend, needs)
        resolved = backend_spec.resolve_options(cfg.options)
        self.spec = LayerSpec(phi, spec_inputs, spec_outputs, cfg.backend, tuple(sorted(resolved.items())),
                              None if timeout is None else float(timeout))
        self.forward_mode = forward_mode
        self.gradient = cfg.gradient
        self.gradient_options = grad_spec.resolve_options(gradient_options or {})
        self.cache_size = cache_size
        self.table_bits = table_bits
        self._executor, self._workers = executor, workers
        self._attach(grad_spec)
        if worker(self.spec).check([]).status is Status.UNSAT:
            raise ValueError("the formula is unsatisfiable for every input: SMTLayer would only ever output 0")

    def _attach(self, grad_spec: GradientSpec | None = None) -> None:
        """Build this process's engine (also after unpickling)."""
        grad_spec = grad_spec or default_registry().get_gradient(self.gradient)
        executor = self._executor
        if isinstance(executor, str):  # each worker process compiles the formula as it starts
            executor = make_executor(executor, self._workers, initializer=worker, initargs=(self.spec,))
        self._engine = Engine(self.spec, self.forward_mode, grad_spec, self.gradient_options, executor,
                              cache_size=self.cache_size, table_bits=self.table_bits)
        self._handle, self._p, self._q = self._engine.handle, self.spec.p, self.spec.q

    # -- use ------------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs ``(..., q)`` in {-1, 1} (0 for UNSAT/UNKNOWN examples) for logits ``(..., p)``;
        ``mask`` (broadcastable to the logits, bool) marks the inputs each example gives."""
        return _apply(z, mask, self._handle, self._p, self._q)[0]

    @property
    def p(self) -> int:
        return self.spec.p

    @property
    def q(self) -> int:
        return self.spec.q

    @property
    def backend(self) -> str:
        return self.spec.backend

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def stats(self) -> LayerStats:
        """Counters of this process: examples, cache hits, solver queries, statuses."""
        return self._engine.stats

    @property
    def last_status(self) -> torch.Tensor:
        """:class:`LayerStatus` codes (int8) of the latest forward's examples (flattened)."""
        return torch.from_numpy(self._engine.last_status.copy())

    @property
    def last_backward_status(self) -> torch.Tensor:
        """:class:`LayerStatus` codes (int8) of the latest backward's examples (flattened)."""
        return torch.from_numpy(self._engine.last_backward_status.copy())

    def extra_repr(self) -> str:
        return (f"p={self.p}, q={self.q}, backend={self.backend!r}, forward_mode={self.forward_mode!r}, "
                f"gradient={self.gradient!r}")

    # -- persistence ---------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A digest of the formula and the input/output variables (not the backend or options)."""
        text = "\n".join([*map(term_to_smtlib, self.spec.formula), "inputs", *map(term_to_smtlib, self.spec.inputs),
                          "outputs", *map(term_to_smtlib, self.spec.outputs)])
        return hashlib.sha256(text.encode()).hexdigest()

    def get_extra_state(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint(), "p": self.p, "q": self.q}

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint():
            raise ValueError("this state_dict was saved from an SMTLayer with a different formula or variables")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_engine"], state["_handle"]  # this process's; the unpickling one builds its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._attach()


_layers: dict[tuple[Any, ...], SMTLayer] = {}


def smt_layer(
    z: torch.Tensor,
    formula: Term | Iterable[Term],
    inputs: Sequence[Term],
    outputs: Sequence[Term],
    mask: torch.Tensor | None = None,
    *,
    return_status: bool = False,
    **config: Any,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Functional SMTLayer: ``config`` takes :class:`SMTLayer`'s keyword arguments.

    Layers are kept per (formula, variables, config) in this process, so repeated calls share
    one compiled session and memo. ``return_status=True`` also returns the per-example
    :class:`LayerStatus` codes (shape of the leading dimensions).
    """
    phi, ins, outs = _as_formula(formula), tuple(inputs), tuple(outputs)
    key = (phi, ins, outs, tuple(sorted((k, _hashable(v)) for k, v in config.items())))
    layer = _layers.get(key)
    if layer is None:
        layer = _layers[key] = SMTLayer(phi, ins, outs, **config)
    y, status = _apply(z, mask, layer._handle, layer.p, layer.q)
    return (y, status) if return_status else y


def _hashable(value: Any) -> Any:
    return tuple(sorted(value.items())) if isinstance(value, Mapping) else value
