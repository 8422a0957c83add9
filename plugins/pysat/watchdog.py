"""One thread per process that interrupts PySAT solvers (and RC2) whose time is up.

A ``threading.Timer`` per timed check (a thread started and joined each time) cost about 0.5 ms,
as much as many of SMTLayer's SAT calls themselves.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["deadline"]

_cond = threading.Condition()
_armed: dict[int, tuple[float, Any]] = {}  # token -> (monotonic deadline, solver)
_tokens = itertools.count()
_owner = -1  # the process whose watchdog thread runs


def _watch() -> None:
    with _cond:
        while True:
            now = time.monotonic()
            for token, (due, solver) in list(_armed.items()):
                if due <= now:
                    solver.interrupt()
                    del _armed[token]
            _cond.wait(min((due for due, _ in _armed.values()), default=now + 3600) - now)


@contextmanager
def deadline(solver: Any, seconds: float) -> Iterator[None]:
    """Interrupt ``solver`` (its ``interrupt()``) if the block runs past ``seconds``. The caller
    clears the solver's interrupt flag after the block: an interrupt cannot come after it."""
    global _owner
    with _cond:
        if _owner != os.getpid():  # first use, or a forked child: no watchdog thread here yet
            _armed.clear()
            threading.Thread(target=_watch, name="pysat-watchdog", daemon=True).start()
            _owner = os.getpid()
        token = next(_tokens)
        _armed[token] = (time.monotonic() + seconds, solver)
        _cond.notify()
    try:
        yield
    finally:
        with _cond:
            _armed.pop(token, None)
