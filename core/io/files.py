"""Reading text files that may be compressed (``.gz``, ``.bz2``, ``.xz``/``.lzma``)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["read_text", "format_suffix", "COMPRESSIONS"]

COMPRESSIONS: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open,
}


def format_suffix(path: str | os.PathLike[str]) -> str:
    """The lower-case format suffix of ``path``, ignoring a compression suffix (``a.cnf.xz`` -> ``.cnf``)."""
    p = Path(path)
    if p.suffix.lower() in COMPRESSIONS:
        p = p.with_suffix("")
    return p.suffix.lower()


def read_text(path: str | os.PathLike[str]) -> str:
    """The decoded text of ``path`` (decompressed by suffix). Undecodable bytes become U+FFFD,
    so a parser reports them as a bad token on the right line instead of failing to decode."""
    opener = COMPRESSIONS.get(Path(path).suffix.lower(), open)
    with opener(path, "rb") as handle:
        data: bytes = handle.read()
    return data.decode("utf-8", errors="replace")
