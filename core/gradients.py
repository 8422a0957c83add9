"""Gradient strategies for solver layers: the ``GradientSpec`` descriptor and the built-in ones.

A gradient strategy computes the backward pass of an :class:`~solverlayers.layers.smt.SMTLayer`.
Plugins register strategies through the ``solverlayers_gradients`` hook, exactly as backends
register through ``solverlayers_backends``; a layer picks one by name (``gradient="b_max"``).

This module is the plugin of the four built-ins and stays light: it imports neither torch nor a
solver; each built-in's backward function is imported from :mod:`solverlayers.layers.gradients`
on its first call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .capabilities import Requirements
from .descriptors import OptionError, OptionSpec
from .hookspecs import hookimpl

__all__ = ["GradientSpec", "Backward", "solverlayers_gradients"]

Backward = Callable[..., Any]
"""``backward(engine, z, mask, y, grad_y, options) -> (grad_z, status)``.

All arrays are NumPy, one row per example: ``z`` the input logits (float64, ``(N, p)``),
``mask`` which inputs are given (bool, ``(N, p)``), ``y`` the forward output (+-1 or 0,
``(N, q)``), ``grad_y`` the gradient of the loss with respect to ``y`` (float64, ``(N, q)``),
``options`` the strategy's resolved options. It returns the gradient with respect to ``z``
(float64, ``(N, p)``, zero at inputs that are not given) and one
:class:`~solverlayers.layers.engine.LayerStatus` code per example (int8, ``(N,)``). ``engine``
(:class:`~solverlayers.layers.engine.Engine`) answers the solver queries: ``forward``,
``core``, ``max_flips`` and ``linear_argmax``.
"""


@dataclass(frozen=True)
class GradientSpec:
    """What a plugin registers for one gradient strategy.

    ``requirements`` are checked against the layer's backend when the layer is built, so a
    backend that cannot serve the strategy is refused with the names of those that can.
    """

    name: str
    backward: Backward
    requirements: Requirements = Requirements()
    description: str = ""
    options: tuple[OptionSpec, ...] = ()

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``, every value checked; unknown names are errors."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise OptionError(
                f"gradient strategy {self.name!r} has no option {', '.join(map(repr, unknown))}; "
                f"valid options: {', '.join(sorted(known)) or '(none)'}"
            )
        return {**{n: o.default for n, o in known.items()}, **{k: known[k].coerce(v, self.name) for k, v in given.items()}}


def _builtin(function: str) -> Backward:
    """A backward function of :mod:`solverlayers.layers.gradients`, imported on first call."""

    def backward(*args: Any, **kwargs: Any) -> Any:
        module = importlib.import_module("solverlayers.layers.gradients")
        return getattr(module, function)(*args, **kwargs)

    backward.__name__ = backward.__qualname__ = function
    return backward


@hookimpl
def solverlayers_gradients() -> list[GradientSpec]:
    """The built-in strategies: ``b_core``, ``b_max``, ``ste`` and ``blackbox``."""
    return [
        GradientSpec(
            "b_core", _builtin("b_core"), Requirements(),
            "SMTLayer's unsat-core backward (Algorithm 4): flip the inputs of a minimal core of the "
            "given inputs against the corrected output; the core is found by deletion in input order",
        ),
        GradientSpec(
            "b_max", _builtin("b_max"), Requirements(maxsmt=True),
            "SMTLayer's MaxSMT backward (Algorithm 3): flip the inputs that the softmax(|z|)-weighted "
            "MaxSMT solution consistent with the corrected output changes",
        ),
        GradientSpec(
            "ste", _builtin("ste"), Requirements(),
            "straight-through estimator: derivative 1 through sign(z), the layer's Boolean function "
            "differentiated as its multilinear extension at the vertex sign(z) (p extra forwards)",
        ),
        GradientSpec(
            "blackbox", _builtin("blackbox"), Requirements(maxsmt=True),
            "blackbox differentiation by interpolation (Vlastelica et al., ICLR 2020) of the layer "
            "seen as the argmax of <z, s> over satisfying assignments, re-solved with MaxSMT",
            options=(OptionSpec("lam", float, 10.0, "interpolation strength lambda (> 0)"),),
        ),
    ]
