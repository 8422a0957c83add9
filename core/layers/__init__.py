"""Neural-network layers built on solvers: ``SATNet`` (differentiable MaxSAT SDP relaxation)."""

from .satnet import SATNet

__all__ = ["SATNet"]

from .smt import LayerStatus, SMTLayer, SolverLayerWarning, smt_layer  # noqa: E402

__all__ += ["SMTLayer", "smt_layer", "LayerStatus", "SolverLayerWarning"]
