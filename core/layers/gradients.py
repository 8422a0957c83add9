"""The built-in gradient strategies of SMTLayer (registered by :mod:`solverlayers.gradients`).

Notation for one example: logits ``z`` (``p``), given-input mask ``m``, forward output ``y`` in
{-1, 0, 1} (``q``), upstream gradient ``g = dL/dy``, sign bits ``zb = [z > 0]``. Inputs that are
not given get a zero gradient in every strategy: the solver never saw them.

* ``b_core`` and ``b_max`` are Algorithms 4 and 3 of Fredrikson et al. (ICML 2023). Both start
  from ``G_z = d/dz BCE(z, zb) = sigmoid(z) - zb``, build the corrected output
  ``yhat = sign(y) - 2 sign(g)`` and, when ``sign(yhat) != sign(y)``, give the selected inputs
  ``d/dz BCE(z, 1 - zb) = sigmoid(z) - (1 - zb)``. The gradient is not scaled by ``|g|``: only
  its sign enters, as in the paper.
* ``ste`` and ``blackbox`` are defined in their docstrings.

Examples without a solver answer (a corrected output no input admits, a timeout) get a zero
gradient and a status that the engine counts and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .engine import Engine, LayerStatus

__all__ = ["b_core", "b_max", "ste", "blackbox", "corrected_outputs"]

Arrays = tuple[np.ndarray, np.ndarray]


def corrected_outputs(y: np.ndarray, grad_y: np.ndarray) -> Arrays:
    """``(yhat_b, changed)``: the bits ``[yhat > 0]`` of ``yhat = sign(y) - 2 sign(g)`` and
    whether ``sign(yhat) != sign(y)`` for the example (lines 3 of Algorithms 3 and 4)."""
    sign_y = np.sign(y)
    yhat = sign_y - 2.0 * np.sign(grad_y)
    return (yhat > 0).astype(np.uint8), (np.sign(yhat) != sign_y).any(axis=1)


def _bce_grads(z: np.ndarray, mask: np.ndarray) -> Arrays:
    """``d/dz BCE(z, zb)`` and ``d/dz BCE(z, 1 - zb)``, zero at inputs that are not given."""
    sigmoid = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|
    zb = z > 0
    return np.where(mask, sigmoid - zb, 0.0), np.where(mask, sigmoid - ~zb, 0.0)


def b_core(engine: Engine, z: np.ndarray, mask: np.ndarray, y: np.ndarray, grad_y: np.ndarray,
           options: Mapping[str, Any]) -> Arrays:
    """Algorithm 4: the inputs of a minimal unsat core of ``phi and y = yhat and z = zb`` get the
    flipped-target gradient, every other input 0. When the given inputs already admit ``yhat``
    there is no core and the gradient is 0 (status CONSISTENT)."""
    init, flipped = _bce_grads(z, mask)
    yhat, changed = corrected_outputs(y, grad_y)
    grad = init.copy()
    code = np.full(len(z), LayerStatus.UNCHANGED, np.int8)
    rows = np.flatnonzero(changed)
    if len(rows):
        in_core, code[rows] = engine.core(z[rows] > 0, mask[rows], yhat[rows])
        grad[rows] = np.where(in_core, flipped[rows], 0.0)
    return grad, code


def b_max(engine: Engine, z: np.ndarray, mask: np.ndarray, y: np.ndarray, grad_y: np.ndarray,
          options: Mapping[str, Any]) -> Arrays:
    """Algorithm 3: the inputs that the MaxSMT solution (soft ``z_i = zb_i`` of weight
    ``softmax(|z|)_i``, hard ``phi and y = yhat``) changes get the flipped-target gradient, the
    others keep ``G_z``'s initial value. No input admits ``yhat``: gradient 0 (INFEASIBLE)."""
    init, flipped = _bce_grads(z, mask)
    yhat, changed = corrected_outputs(y, grad_y)
    grad = init.copy()
    code = np.full(len(z), LayerStatus.UNCHANGED, np.int8)
    rows = np.flatnonzero(changed)
    if len(rows):
        flips, code[rows] = engine.max_flips(z[rows], mask[rows], yhat[rows])
        answered = np.isin(code[rows], (LayerStatus.CORRECTED, LayerStatus.CONSISTENT))
        grad[rows] = np.where(answered[:, None], np.where(flips, flipped[rows], init[rows]), 0.0)
    return grad, code


def ste(engine: Engine, z: np.ndarray, mask: np.ndarray, y: np.ndarray, grad_y: np.ndarray,
        options: Mapping[str, Any]) -> Arrays:
    """Straight-through estimator.

    The layer computes ``y = f(sign(z))`` for a function ``f`` of the Boolean cube (F_smt or
    F_max, whichever the layer uses; UNSAT outputs count as their value 0). The estimator takes
    the derivative of ``sign`` as 1 and differentiates ``f`` as its multilinear extension at the
    vertex ``s = sign(z)``: ``d f_j / d s_i = (f(s with s_i = +1) - f(s with s_i = -1))_j / 2``,
    so ``grad_z_i = s_i * sum_j g_j (y - f(s with s_i flipped))_j / 2``. That costs one forward
    per given input (cached like any forward); a zero logit flips to ``+1``. Status CORRECTED,
    or UNKNOWN (gradient 0) when a flipped forward got no answer.
    """
    n, p = z.shape
    eye = np.eye(p, dtype=bool)
    neighbours = np.where(eye, np.where(z != 0, -z, 1.0)[:, None, :], z[:, None, :])  # (n, p, p)
    y_flip, flip_code = engine.forward(neighbours.reshape(n * p, p), np.repeat(mask, p, axis=0), record=False)
    sign = np.where(z > 0, 1.0, -1.0)
    grad = sign * np.einsum("nj,nij->ni", grad_y, y[:, None, :] - y_flip.reshape(n, p, -1)) / 2
    unknown = (flip_code.reshape(n, p) == LayerStatus.UNKNOWN).any(axis=1)
    grad = np.where(mask & ~unknown[:, None], grad, 0.0)
    return grad, np.where(unknown, LayerStatus.UNKNOWN, LayerStatus.CORRECTED).astype(np.int8)


def blackbox(engine: Engine, z: np.ndarray, mask: np.ndarray, y: np.ndarray, grad_y: np.ndarray,
             options: Mapping[str, Any]) -> Arrays:
    """Blackbox differentiation of combinatorial solvers (Vlastelica et al., ICLR 2020).

    The layer is viewed as the linear program ``(s, t) = argmax <z, s>`` over the assignments
    ``s`` in {-1, 1}^p (given inputs) and ``t`` in {-1, 1}^q of inputs and outputs that satisfy
    ``phi``; ``s = sign(z)`` whenever that is consistent. The interpolated loss perturbs the
    output part of the objective: ``(s', t') = argmax <z, s> - lam <g, t>``, i.e. MaxSMT with
    soft ``z_i = zb_i`` of weight ``|z_i|`` and soft ``y_j = [g_j < 0]`` of weight ``lam |g_j|``.
    The gradient is ``(s - s') / lam``. Status CORRECTED when ``s' != s``, UNCHANGED (gradient
    0: raise ``lam``) when the perturbation moves nothing, UNKNOWN on a timeout.
    """
    lam = options["lam"]
    if not lam > 0:
        raise ValueError(f"blackbox option lam must be positive, got {lam}")
    s, code = engine.linear_argmax(z, mask)
    s_lam, code_lam = engine.linear_argmax(z, mask, (grad_y < 0).astype(np.uint8), lam * np.abs(grad_y))
    answered = (code == LayerStatus.SAT) & (code_lam == LayerStatus.SAT)
    grad = np.where(mask & answered[:, None], 2.0 * (s.astype(np.float64) - s_lam) / lam, 0.0)
    moved = (s != s_lam).any(axis=1)
    status = np.where(answered, np.where(moved, LayerStatus.CORRECTED, LayerStatus.UNCHANGED), LayerStatus.UNKNOWN)
    return grad, status.astype(np.int8)
