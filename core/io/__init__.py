"""File input and output: DIMACS CNF/WCNF (read and write) and SMT-LIB2 (read as text).

Files may be compressed (``.gz``, ``.bz2``, ``.xz``): ``problem.wcnf.xz`` reads as WCNF.
"""

from __future__ import annotations

import os

from .dimacs import (
    ClauseFile, DimacsWarning, ParseError, clause_numbering, format_exact, parse_dimacs, read_dimacs,
    write_cnf, write_wcnf,
)
from .files import format_suffix, read_text

__all__ = [
    "read_file", "UnsupportedFormatError", "SUFFIXES", "ClauseFile", "ParseError", "DimacsWarning",
    "parse_dimacs", "read_dimacs", "write_cnf", "write_wcnf", "clause_numbering", "format_exact",
]

SUFFIXES = (".cnf", ".wcnf", ".smt2")


class UnsupportedFormatError(ValueError):
    """The file's suffix names no format this package reads."""


def read_file(path: str | os.PathLike[str]) -> ClauseFile | str:
    """Read ``path`` by its suffix: ``.cnf`` and ``.wcnf`` parse to a :class:`ClauseFile`
    (:class:`ParseError` if malformed); ``.smt2`` returns the text, for a backend's parser."""
    suffix = format_suffix(path)
    if suffix == ".cnf":
        return read_dimacs(path, "cnf")
    if suffix == ".wcnf":
        return read_dimacs(path, "wcnf")
    if suffix == ".smt2":
        return read_text(path)
    raise UnsupportedFormatError(
        f"{os.fspath(path)}: unknown file type {suffix or '(no suffix)'!r}; "
        f"expected one of {', '.join(SUFFIXES)} (optionally .gz, .bz2 or .xz compressed)"
    )
