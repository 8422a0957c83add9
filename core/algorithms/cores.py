"""Unsat-core minimisation on any session that returns cores under assumptions."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..interfaces import SolverSession
from ..results import Status
from ..terms import Term

__all__ = ["minimize_core"]


def minimize_core(
    session: SolverSession,
    core: Sequence[Term],
    *,
    timeout: float | None = None,
    keep: Sequence[Term] = (),
) -> tuple[Term, ...]:
    """A subset-minimal unsatisfiable subset of ``core``, in the input order.

    Deletion with clause-set refinement: drop assumptions (one at first, twice as many after
    each success, half as many after a failure); while the rest is still UNSAT, continue from
    the (smaller) core the solver returns. Every assumption kept was dropped alone once, so
    the result is irredundant. ``keep`` is assumed in every check but never part of the result.
    When ``timeout`` (seconds) runs out, the smallest core found so far comes back:
    unsatisfiable, possibly not minimal.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    current = list(dict.fromkeys(core))
    i = 0  # current[:i] are proven necessary
    width = 1  # how many assumptions to try dropping at once
    while i < len(current):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        width = min(width, len(current) - i)
        trial = current[:i] + current[i + width:]
        result = session.check([*keep, *trial], timeout=remaining, want_core=True, model_vars=())
        if result.status is Status.UNSAT:
            refined = set(trial if result.core is None else result.core)
            current = [t for t in trial if t in refined]
            width *= 2
        elif result.status is Status.SAT:
            if width == 1:
                i += 1
            width = max(1, width // 2)
        else:
            break
    return tuple(current)
