"""Neural-network layers built on solvers: ``SATNet`` (differentiable MaxSAT SDP relaxation)."""

from .satnet import SATNet

__all__ = ["SATNet"]
