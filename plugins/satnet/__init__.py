"""SATNet's mixing method as backends: ``satnet-torch`` (pure PyTorch reference, any device),
``satnet-cpu`` (compiled C, CPU) and ``satnet-triton`` (Triton kernels, CUDA).

Each ``open`` returns a :class:`~solverlayers.algorithms.sdp_maxsat.MixingMaxSat`: an
:class:`~solverlayers.interfaces.SdpRelaxation` (approximate weighted MaxSAT) whose ``kernels``
attribute is the :class:`~solverlayers.mixing.MixingKernels` that the SATNet layer uses. Importing
this module imports neither torch extensions nor Triton.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from solverlayers.capabilities import Capabilities, Theory
from solverlayers.descriptors import BackendSpec, OptionSpec
from solverlayers.hookspecs import hookimpl
from solverlayers.interfaces import CapabilityError

if TYPE_CHECKING:
    from solverlayers.algorithms.sdp_maxsat import MixingMaxSat
    from solverlayers.mixing import MixingKernels

__all__ = ["open_kernels", "solverlayers_backends"]

TRITON_MODULE = "solverlayers.triton_kernels.satnet"
TRITON_CLASS = "TritonMixingKernels"


def _options(device: str) -> tuple[OptionSpec, ...]:
    return (
        OptionSpec("device", str, device, "torch device of the SDP solve"),
        OptionSpec("dtype", str, "float32", "floating dtype of the SDP solve", ("float32", "float64")),
        OptionSpec("k", int, 0, "rank of the relaxation; 0 picks ceil(sqrt(2n))+1"),
        OptionSpec("max_iter", int, 200, "maximum mixing-method sweeps"),
        OptionSpec("eps", float, 1e-8, "stop when a sweep decreases the objective by less than eps x the first"),
        OptionSpec("restarts", int, 4, "independent random initialisations solved as one batch"),
    )


def _torch_kernels() -> MixingKernels:
    from .torch_kernels import TorchMixingKernels

    return TorchMixingKernels()


def _cpu_kernels() -> MixingKernels:
    from .cpu_kernels import CpuMixingKernels

    return CpuMixingKernels()


def _triton_kernels() -> MixingKernels:
    import importlib

    from solverlayers.mixing import MixingKernels

    try:
        module = importlib.import_module(TRITON_MODULE)
    except ImportError as exc:
        raise CapabilityError(
            f"satnet-triton needs {TRITON_MODULE} and the `triton` package with a CUDA GPU "
            f"(pip install 'solverlayers[triton]'): {exc}"
        ) from exc
    cls = getattr(module, TRITON_CLASS, None)
    if not (isinstance(cls, type) and issubclass(cls, MixingKernels)):
        raise CapabilityError(f"{TRITON_MODULE} defines no MixingKernels class named {TRITON_CLASS}")
    return cls()


_KERNELS: dict[str, Callable[[], MixingKernels]] = {
    "satnet-torch": _torch_kernels,
    "satnet-cpu": _cpu_kernels,
    "satnet-triton": _triton_kernels,
}


def open_kernels(name: str) -> MixingKernels:
    """The MixingKernels of the satnet backend called ``name`` (imports it now)."""
    return _KERNELS[name]()


def _opener(name: str) -> Callable[[Mapping[str, Any]], MixingMaxSat]:
    def open_(options: Mapping[str, Any]) -> MixingMaxSat:
        from solverlayers.algorithms.sdp_maxsat import MixingMaxSat

        return MixingMaxSat(open_kernels(name), **options)

    return open_


def _caps(gpu: bool) -> Capabilities:
    return Capabilities(
        theories=frozenset({Theory.BOOL}), smt=False, incremental=False, timeouts=False,
        sdp_relaxation=True, batching=True, gpu=gpu,
    )


@hookimpl
def solverlayers_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            "satnet-torch", _opener("satnet-torch"), _caps(gpu=True),
            "SATNet mixing method in pure PyTorch (reference; any device): SATNet layer and approximate weighted MaxSAT",
            solver_distribution="torch", options=_options("cpu"),
        ),
        BackendSpec(
            "satnet-cpu", _opener("satnet-cpu"), _caps(gpu=False),
            "SATNet mixing method as compiled C with OpenMP (fast CPU path; built with gcc on first use)",
            solver_distribution="torch", install_hint="needs gcc with OpenMP on PATH", options=_options("cpu"),
        ),
        BackendSpec(
            "satnet-triton", _opener("satnet-triton"), _caps(gpu=True),
            "SATNet mixing method as Triton kernels (CUDA)",
            solver_distribution="triton", install_hint="pip install 'solverlayers[triton]' (needs a CUDA GPU)",
            options=_options("cuda"),
        ),
    ]
