"""Triton kernels (optional ``triton`` dependency).

Importing this package imports no Triton: ``solverlayers.triton_kernels.satnet`` does, and the
``satnet-triton`` backend opens it (``TritonMixingKernels``) only when a session is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .satnet import TritonMixingKernels

__all__ = ["TritonMixingKernels"]


def __getattr__(name: str) -> Any:
    if name == "TritonMixingKernels":
        from .satnet import TritonMixingKernels

        return TritonMixingKernels
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
