"""Backend-neutral CNF encodings: Tseitin gates, cardinality, pseudo-Boolean constraints and
bit-blasting, driven by :class:`CnfBuilder`. Pure Python; no SAT solver is imported here."""

from .cardinality import (
    ENCODINGS, Encoding, at_least_k, at_most_k, at_most_one, exactly_k, exactly_one, unary_counter,
)
from .cnf import CnfBuilder, Encoded
from .pb import pb_eq, pb_ge, pb_le
from .tseitin import FALSE, TRUE, Gates

__all__ = [
    "CnfBuilder", "Encoded", "Gates", "TRUE", "FALSE", "ENCODINGS", "Encoding",
    "at_most_one", "exactly_one", "at_most_k", "at_least_k", "exactly_k", "unary_counter",
    "pb_le", "pb_ge", "pb_eq",
]
