"""Learning with SAT: models fitted exactly by a solver on any backend chosen by name.

* :class:`MinimalDecisionTree` (:mod:`.decision_tree`): the decision tree of fewest nodes that
  classifies binary data perfectly (Narodytska et al., IJCAI 2018).
* :class:`BinaryNeuralNetwork` (:mod:`.bnn`): +-1 weights and sign activations, one layer or
  several, fitted exactly or with at most ``E`` training errors by MaxSAT.
* :func:`chromatic_number` (:mod:`.coloring`): graph colouring with the fewest colours.

Every model is encoded as pure Boolean terms, its counting constraints by the constructions of
:mod:`solverlayers.encodings.constructions`, so it runs on pysat, z3, cvc5 or any plugin with
Boolean logic, chosen by name as everywhere in solverlayers.

Names are imported lazily, so the decision trees and colouring do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MinimalDecisionTree": "decision_tree",
    "TreeNode": "decision_tree",
    "BinaryNeuralNetwork": "bnn",
    "NoFitError": "_solve",
    "chromatic_number": "coloring",
    "ChromaticResult": "coloring",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
