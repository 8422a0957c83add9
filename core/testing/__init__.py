"""Testing tools for solverlayers and its plugins.

* :class:`BackendConformance` (:mod:`.conformance`): the pytest conformance kit for backends.
* :mod:`.strategies`: hypothesis strategies for random problems of every theory.
* :mod:`.reference`: :class:`ReferenceSession`, the brute-force oracle for Bool/BV problems.
* :mod:`.pytest_plugin`: the ``--solverlayers-backend`` option (loaded by pytest automatically).

Names are imported lazily, so importing this package (as pytest does when it loads the plugin)
pulls in neither pytest-heavy modules nor hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BackendConformance": "conformance",
    "assert_model": "conformance",
    "ReferenceSession": "reference",
    "strategies": None,
    "formulas": "strategies",
    "bool_formulas": "strategies",
    "bv_formulas": "strategies",
    "lia_formulas": "strategies",
    "lra_formulas": "strategies",
    "nra_formulas": "strategies",
    "problems": "strategies",
    "problems_with_assumptions": "strategies",
    "weighted_problems": "strategies",
    "weights": "strategies",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
