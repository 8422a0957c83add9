"""The batch engine behind :class:`~solverlayers.layers.smt.SMTLayer`.

Every per-example question the layer asks is a *canonical query*: its answer depends only on
the formula and the query, never on which solver session answered it or what that session was
asked before. That is what makes results identical across executors, worker counts and cache
states, and what makes them safe to memoise:

* ``smt`` (F_smt): given inputs -> the lexicographically least output ``y`` (``y_0`` first,
  false before true) of a satisfying assignment, or UNSAT;
* ``core`` (B_core): given inputs and a corrected output -> the minimal unsatisfiable subset of
  the given input literals found by deletion in input order (``phi`` and the output literals
  held fixed), or CONSISTENT / INFEASIBLE;
* ``max`` (F_max, B_max, blackbox): soft input/output literals with exact float64 weights and
  hard output literals -> an optimal assignment of the inputs: by enumeration when the hard outputs leave the
  soft literals at most ``ENUMERATION_LIMIT`` assignments, else by the backend's MaxSMT;
* ``column``: an output vector -> which of the ``2**p`` input vectors are consistent with it.

Queries of a batch are deduplicated, looked up in a memo (a dense table indexed by the key when
the key space is small, else a bounded LRU dictionary) and only the misses are solved, in this
process or on an :class:`~solverlayers.layers.executors.Executor`. Each process compiles the
formula once into one incremental :class:`~solverlayers.solver.Solver` per layer spec; every
query is a set of assumptions on it.

When ``p + q <= table_bits`` the weighted queries (F_max, B_max, blackbox) skip the per-example
MaxSMT: the engine solves the ``2**q`` ``column`` queries once, keeps the input vectors that some
output admits (formulas usually admit few of the ``2**p``) and takes each example's argmax over
that table of consistent ``(z, y)`` pairs with vectorised NumPy. Ties between
equally weighted optima go to the smallest input index (``z_0`` least significant); the MaxSMT
path breaks such ties as the backend does. Exact ties need equal weights (equal ``|z_i|``) or
float64 sums that round equal.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import pickle
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from enum import IntEnum
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..problem import Soft
from ..results import OptStatus, Status
from ..solver import Solver
from ..terms import Bool, Not, Or, Term

if TYPE_CHECKING:
    from ..gradients import GradientSpec
    from .executors import Executor

__all__ = [
    "LayerStatus", "LayerSpec", "LayerStats", "Engine", "SolverLayerWarning", "run_queries", "engine_for",
]


class LayerStatus(IntEnum):
    """What happened to one example. Forward codes first, then backward codes."""

    SAT = 0  # forward: solved from the given inputs
    UNSAT = 1  # forward (F_smt): the given inputs are inconsistent with phi; the output is 0
    UNKNOWN = 2  # the solver gave up (timeout, resource limit); output / gradient is 0
    RELAXED = 3  # forward (F_max): inputs inconsistent; output of the MaxSMT-optimal assignment
    UNCHANGED = 4  # backward: the corrected output equals the output; the gradient is G_z's init
    CORRECTED = 5  # backward: the gradient comes from a counterfactual (core, MaxSMT, re-solve)
    CONSISTENT = 6  # backward: the given inputs already admit the corrected output (B_core: 0)
    INFEASIBLE = 7  # backward: no input admits the corrected output; the gradient is 0


class SolverLayerWarning(RuntimeWarning):
    """Some examples of a batch got no solver answer (UNSAT, UNKNOWN, infeasible correction)."""


@dataclass(frozen=True)
class LayerSpec:
    """Everything a process needs to compile the layer's formula: picklable, hashable, small."""

    formula: tuple[Term, ...]
    inputs: tuple[Term, ...]
    outputs: tuple[Term, ...]
    backend: str
    options: tuple[tuple[str, Any], ...] = ()
    timeout: float | None = None  # seconds per solver call

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled once per process as ``(digest, bytes)``; a process that has unpickled a spec
        before gets that same object back. Every batch sends the spec to the executor's workers,
        and pickling a large formula (visual Sudoku's: 84 kB) per batch cost more than solving."""
        packed = _packed.get(self)
        if packed is None:
            blob = pickle.dumps(tuple(getattr(self, f.name) for f in fields(self)), pickle.HIGHEST_PROTOCOL)
            packed = _packed[self] = (hashlib.sha256(blob).hexdigest(), blob)
            _unpacked.setdefault(packed[0], self)
        return _unpack_spec, packed

    @property
    def p(self) -> int:
        return len(self.inputs)

    @property
    def q(self) -> int:
        return len(self.outputs)


_packed: dict[LayerSpec, tuple[str, bytes]] = {}  # spec -> its pickle (digest, bytes)
_unpacked: dict[str, LayerSpec] = {}  # digest -> the spec this process unpickled


def _unpack_spec(digest: str, blob: bytes) -> LayerSpec:
    spec = _unpacked.get(digest)
    if spec is None:
        spec = _unpacked[digest] = LayerSpec(*pickle.loads(blob))
        _packed[spec] = (digest, blob)
    return spec


@dataclass
class LayerStats:
    """Running counters of one layer in this process (examples unless said otherwise)."""

    forward_examples: int = 0
    backward_examples: int = 0
    cache_hits: int = 0  # query lookups answered by the memo
    solved: int = 0  # distinct queries sent to a solver
    unsat: int = 0
    unknown: int = 0  # forward and backward
    relaxed: int = 0
    corrected: int = 0
    unchanged: int = 0
    consistent: int = 0
    infeasible: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


# -- the worker side: one compiled session per (process, spec) ------------------------------------

RESERVED_PREFIX = "__sl_smtlayer_"  # names of the engine's own variables
RETIRED_LIMIT = 256  # retired blocking clauses a session carries before it is compiled afresh
ENUMERATION_LIMIT = 16  # soft-literal assignments a weighted query enumerates before MaxSMT decides
_CODE = {Status.SAT: LayerStatus.SAT, Status.UNSAT: LayerStatus.UNSAT, Status.UNKNOWN: LayerStatus.UNKNOWN}


class _Worker:
    """The compiled formula of one spec in one process, answering canonical queries."""

    def __init__(self, spec: LayerSpec) -> None:
        self.pid = os.getpid()
        self.spec = spec
        self.z = [(Not(v), v) for v in spec.inputs]  # literal of value b: self.z[i][b]
        self.y = [(Not(v), v) for v in spec.outputs]
        self.variables = (*spec.inputs, *spec.outputs)
        self.lits = self.z + self.y
        self.guards = itertools.count()
        self._compile()

    def _compile(self) -> None:
        # os.devnull: the spec's options are already resolved; no config file may add to them here
        self.solver = Solver(self.spec.formula, self.spec.backend, config_file=os.devnull, **dict(self.spec.options))
        self.retired = 0  # blocking clauses added under guards since then

    def check(self, lits: list[Term], model_vars: Sequence[Term] = ()) -> Any:
        return self.solver.check(lits, timeout=self.spec.timeout, model_vars=model_vars)

    @contextmanager
    def guard(self) -> Iterator[Term]:
        """A fresh literal ``g`` for :meth:`block` clauses inside the block; asserted false on exit,
        which retires them. Retired clauses stay in the session and slow it (z3 and RC2's rebuilt
        oracle most), so after ``RETIRED_LIMIT`` of them the formula is compiled afresh: answers
        never depend on a session's history."""
        g = Bool(f"{RESERVED_PREFIX}{next(self.guards)}")
        try:
            yield g
        finally:
            self.solver.add(Not(g))
            if self.retired >= RETIRED_LIMIT:
                self.solver.close()
                self._compile()

    def block(self, g: Term, lits: Iterable[Term]) -> None:
        """Assert ``Or(Not(g), *lits)``: under guard ``g``, one of ``lits`` holds."""
        self.solver.add(Or(Not(g), *lits))
        self.retired += 1

    def given(self, tern: np.ndarray) -> list[Term]:
        return [self.z[i][b] for i, b in enumerate(tern.tolist()) if b < 2]

    def smt(self, row: np.ndarray) -> list[int]:
        """Lexicographically least output consistent with the given inputs (greedy, model-guided)."""
        assumed = self.given(row)
        r = self.check(assumed, self.spec.outputs)
        if r.status is not Status.SAT:
            return [_CODE[r.status]] + [0] * self.spec.q
        y = [bool(r.model[v]) for v in self.spec.outputs]
        if sum(y) > 1 and self.unique(assumed, y):  # one call instead of one per true bit
            return [LayerStatus.SAT] + [int(b) for b in y]
        for j in range(self.spec.q):
            if y[j]:  # the current model satisfies assumed + y[:j]; can y_j be false too?
                r = self.check(assumed + [self.y[j][0]], self.spec.outputs)
                if r.status is Status.UNKNOWN:
                    return [LayerStatus.UNKNOWN] + [0] * self.spec.q
                if r.status is Status.SAT:
                    y = [bool(r.model[v]) for v in self.spec.outputs]
            assumed.append(self.y[j][y[j]])
        return [LayerStatus.SAT] + [int(b) for b in y]

    def unique(self, assumed: list[Term], y: list[bool]) -> bool:
        """Whether ``y`` is the only output consistent with ``assumed`` (False when unknown):
        functional formulas answer F_smt in two calls, whatever ``q``."""
        with self.guard() as g:
            self.block(g, (self.y[j][not b] for j, b in enumerate(y)))
            return self.check(assumed + [g]).status is Status.UNSAT

    def core(self, row: np.ndarray) -> list[int]:
        """A minimal core of the given input literals against phi and the corrected output."""
        p = self.spec.p
        fixed = [self.y[j][b] for j, b in enumerate(row[p:].tolist())]
        keep = [(i, self.z[i][b]) for i, b in enumerate(row[:p].tolist()) if b < 2]
        first = self.check([lit for _, lit in keep] + fixed).status
        if first is Status.SAT:
            return [LayerStatus.CONSISTENT] + [0] * p
        reachable = self.check(fixed).status if first is Status.UNSAT else Status.UNKNOWN
        if reachable is not Status.SAT:  # no input at all admits the corrected output, or unknown
            return [LayerStatus.INFEASIBLE if reachable is Status.UNSAT else LayerStatus.UNKNOWN] + [0] * p
        k = 0
        while k < len(keep):  # deletion: drop each literal the rest stays inconsistent without
            trial = keep[:k] + keep[k + 1:]
            status = self.check([lit for _, lit in trial] + fixed).status
            if status is Status.UNKNOWN:
                return [LayerStatus.UNKNOWN] + [0] * p
            if status is Status.UNSAT:
                keep = trial
            else:
                k += 1
        flags = [0] * p
        for i, _ in keep:
            flags[i] = 1
        return [LayerStatus.CORRECTED] + flags

    def max(self, row: np.ndarray) -> list[int]:
        """MaxSMT over ``[tern p | ypat q | z weights 8p | y weights 8q]``: given inputs with a
        positive weight are soft; outputs are soft with a positive weight, hard with weight 0 and
        a value < 2, free with value 2. The answer is the status and the optimal inputs."""
        p, q = self.spec.p, self.spec.q
        weights = np.frombuffer(row[p + q:].tobytes(), np.float64).tolist()
        hard: list[Term] = []
        soft: list[tuple[int, int, float]] = []  # (variable index, value, weight)
        for i, b in enumerate(row[:p + q].tolist()):
            if b == 2:
                continue
            if weights[i] > 0:
                soft.append((i, b, weights[i]))
            elif i >= p:
                hard.append(self.lits[i][b])
        few = self.few(hard, soft) if hard else None  # no hard output: rarely few assignments
        if few is not None:
            return few
        r = self.solver.optimize([Soft.make(self.lits[i][b], Fraction(w)) for i, b, w in soft], hard,
                                 timeout=self.spec.timeout)
        if r.status is OptStatus.UNSAT:
            return [LayerStatus.INFEASIBLE] + [0] * p
        if not r.optimal:
            return [LayerStatus.UNKNOWN] + [0] * p
        return [LayerStatus.SAT] + [int(bool(r.model[v])) for v in self.spec.inputs]

    def few(self, hard: list[Term], soft: list[tuple[int, int, float]]) -> list[int] | None:
        """``max``'s exact answer without MaxSMT when ``hard`` is infeasible or leaves the soft
        literals at most ``ENUMERATION_LIMIT`` assignments: each is found by one SAT call and
        blocked under a guard, and the least costly is kept (on equal cost, the least tuple of
        violated soft positions). ``None`` when there are more, or a call is UNKNOWN: MaxSMT
        decides. Visual Sudoku's B_max queries admit one to a few: the corrected solution fixes
        the blank cells and leaves the given cells few completions."""
        best: tuple[Fraction, tuple[int, ...], list[int]] | None = None
        watched = self.variables if soft and soft[-1][0] >= self.spec.p else self.spec.inputs  # soft outputs?
        with self.guard() as g:
            assumed = hard + [g]
            for _ in range(ENUMERATION_LIMIT + 1):
                r = self.check(assumed, watched)
                if r.status is Status.UNSAT:
                    break
                if r.status is not Status.SAT:
                    return None
                bits = [int(bool(r.model[v])) for v in watched]
                violated = tuple(k for k, (i, b, _) in enumerate(soft) if bits[i] != b)
                cost = sum((Fraction(soft[k][2]) for k in violated), Fraction(0))
                if best is None or (cost, violated) < best[:2]:
                    best = (cost, violated, bits)
                self.block(g, (self.lits[i][1 - bits[i]] for i, _, _ in soft))
            else:
                return None
        if best is None:
            return [LayerStatus.INFEASIBLE] + [0] * self.spec.p
        return [LayerStatus.SAT] + best[2][:self.spec.p]

    def column(self, row: np.ndarray) -> list[int]:
        """Which input vectors (index ``sum z_i 2**i``) are consistent with output ``row``: all
        models enumerated under blocking clauses guarded by a fresh literal, retired at the end."""
        out = [LayerStatus.SAT] + [0] * (1 << self.spec.p)
        with self.guard() as g:
            fixed = [g] + [self.y[j][b] for j, b in enumerate(row.tolist())]
            while True:
                r = self.check(fixed, self.spec.inputs)
                if r.status is Status.UNSAT:
                    return out
                if r.status is Status.UNKNOWN:
                    return [LayerStatus.UNKNOWN] + [0] * (1 << self.spec.p)
                bits = [int(bool(r.model[v])) for v in self.spec.inputs]
                out[1 + sum(b << i for i, b in enumerate(bits))] = 1
                self.block(g, (self.z[i][1 - b] for i, b in enumerate(bits)))


_workers: dict[LayerSpec, _Worker] = {}


@atexit.register
def _close_workers() -> None:
    """Close this process's sessions before interpreter teardown, which would otherwise find the
    solver libraries' modules half gone (PySAT's ``__del__`` raises then)."""
    for w in _workers.values():
        if w.pid == os.getpid():
            w.solver.close()
    _workers.clear()


def worker(spec: LayerSpec) -> _Worker:
    """This process's compiled session of ``spec`` (rebuilt after a fork)."""
    w = _workers.get(spec)
    if w is None or w.pid != os.getpid():
        w = _workers[spec] = _Worker(spec)
    return w


def run_queries(spec: LayerSpec, kind: str, rows: np.ndarray) -> np.ndarray:
    """Answer canonical queries of ``kind`` (one uint8 row each); runs in any process."""
    w = worker(spec)
    answer = getattr(w, kind)
    return np.array([answer(r) for r in rows], dtype=np.int8).reshape(len(rows), -1)


# -- the main side: memo, dedupe, dispatch --------------------------------------------------------

def _dedupe(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows (first occurrences, in order) and each row's index among them; hashes
    row bytes (``np.unique(axis=0)`` is slow on wide rows such as weighted queries)."""
    seen: dict[bytes, int] = {}
    firsts: list[int] = []
    inverse = np.empty(len(rows), np.int64)
    for i, row in enumerate(rows):
        j = seen.setdefault(row.tobytes(), len(firsts))
        if j == len(firsts):
            firsts.append(i)
        inverse[i] = j
    return rows[firsts], inverse


def _bits_of(index: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` bits of each index (least significant first), one row each."""
    return ((index[:, None] >> np.arange(n)) & 1).astype(np.uint8)


def _bit_rows(n: int) -> np.ndarray:
    """All ``2**n`` bit vectors, row ``k`` holding the bits of ``k``."""
    return _bits_of(np.arange(1 << n), n)


class _Memo:
    """Query results by key row: a dense table when ``prod(radix) <= dense_limit``, else an
    LRU dictionary of at most ``capacity`` entries. Rows with status UNKNOWN are not kept."""

    def __init__(self, radix: list[int] | None, width: int, capacity: int, dense_limit: int) -> None:
        size = int(np.prod(radix, dtype=object)) if radix is not None else None
        self.place: np.ndarray | None = None
        if size is not None and size <= dense_limit:
            self.place = np.cumprod([1, *radix[:-1]], dtype=np.int64)
            self.table = np.full((size, width), -1, dtype=np.int8)
        self.lru: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.capacity = capacity
        self.width = width

    def get(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.place is not None:
            values = self.table[rows.astype(np.int64) @ self.place]
            return values, values[:, 0] >= 0
        values = np.full((len(rows), self.width), -1, dtype=np.int8)
        for i, row in enumerate(rows):
            key = row.tobytes()
            hit = self.lru.get(key)
            if hit is not None:
                self.lru.move_to_end(key)
                values[i] = hit
        return values, values[:, 0] >= 0

    def put(self, rows: np.ndarray, values: np.ndarray) -> None:
        keep = values[:, 0] != LayerStatus.UNKNOWN
        rows, values = rows[keep], values[keep]
        if self.place is not None:
            self.table[rows.astype(np.int64) @ self.place] = values
            return
        for row, value in zip(rows, values):
            self.lru[row.tobytes()] = value
            if len(self.lru) > self.capacity:
                self.lru.popitem(last=False)


_engines: weakref.WeakValueDictionary[int, Engine] = weakref.WeakValueDictionary()
_next_handle = 0


def engine_for(handle: int) -> Engine:
    """The engine registered under ``handle`` in this process (custom ops take ints, not objects)."""
    try:
        return _engines[handle]
    except KeyError:
        raise RuntimeError(f"no SMTLayer engine with handle {handle} in this process") from None


@dataclass(eq=False)
class Engine:
    """Answers one layer's forward and backward passes for batches of examples (NumPy in/out)."""

    spec: LayerSpec
    mode: str  # "smt" (F_smt) or "max" (F_max)
    gradient: GradientSpec
    gradient_options: Mapping[str, Any]
    executor: Executor
    cache_size: int = 1 << 16
    table_bits: int = 16
    dense_limit: int = 1 << 20
    stats: LayerStats = field(default_factory=LayerStats)
    last_status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    last_backward_status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    p: int = field(init=False)  # the spec's input and output counts
    q: int = field(init=False)

    def __post_init__(self) -> None:
        global _next_handle
        p, q = self.spec.p, self.spec.q
        self.p, self.q = p, q
        self.handle = _next_handle
        _next_handle += 1
        _engines[self.handle] = self
        self._memos = {
            "smt": _Memo([3] * p, 1 + q, self.cache_size, self.dense_limit),
            "core": _Memo([3] * p + [2] * q, 1 + p, self.cache_size, self.dense_limit),
            "max": _Memo(None, 1 + p, self.cache_size, self.dense_limit),
        }
        self._table: tuple[np.ndarray, np.ndarray] | None = None  # see table()

    @property
    def tabulated(self) -> bool:
        """Whether weighted queries use the table of consistent ``(z, y)`` pairs."""
        return self.p + self.q <= self.table_bits

    # -- dispatch -------------------------------------------------------------------------
    def _solve(self, kind: str, rows: np.ndarray) -> np.ndarray:
        workers = self.executor.workers
        if workers > 1 and len(rows) >= 2 * workers:
            parts = self.executor.map(partial(run_queries, self.spec, kind), np.array_split(rows, workers))
            return np.concatenate(parts)
        return run_queries(self.spec, kind, rows)

    def _resolve(self, kind: str, rows: np.ndarray) -> np.ndarray:
        """Answers for ``rows`` (one per example): memo hits, then the distinct misses solved."""
        memo = self._memos[kind]
        values, hit = memo.get(rows)
        miss = np.flatnonzero(~hit)
        self.stats.cache_hits += len(rows) - len(miss)
        if len(miss):
            unique, inverse = _dedupe(rows[miss])
            solved = self._solve(kind, unique)
            self.stats.solved += len(unique)
            memo.put(unique, solved)
            values[miss] = solved[inverse.reshape(-1)]
        return values

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``K`` input vectors that phi admits with some output, as bits ``(K, p)`` in
        increasing index order, and which of the ``2**q`` outputs each admits ``(K, 2**q)``
        (solved once: ``2**q`` column queries)."""
        if self._table is None:
            answers = self._solve("column", _bit_rows(self.q))
            self.stats.solved += len(answers)
            if (answers[:, 0] == LayerStatus.UNKNOWN).any():
                raise RuntimeError(
                    "a solver call timed out while tabulating the formula; raise the timeout or "
                    "set table_bits=0 to solve weighted queries one by one"
                )
            index = np.flatnonzero(answers[:, 1:].any(axis=0))
            self._table = (_bits_of(index, self.p), answers[:, 1 + index].T.astype(bool))
        return self._table

    # -- queries ----------------------------------------------------------------------------
    def smt(self, zb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F_smt's output (+-1, 0 when UNSAT/UNKNOWN) and status for sign bits ``zb``."""
        values = self._resolve("smt", np.where(mask, zb, 2).astype(np.uint8))
        code = values[:, 0].copy()
        y = np.where(code[:, None] == LayerStatus.SAT, 2.0 * values[:, 1:] - 1.0, 0.0)
        return y, code

    def forward(self, z: np.ndarray, mask: np.ndarray, *, record: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The layer's forward (F_smt or F_max) on logits ``z``; ``record`` updates status and stats."""
        zb = z > 0
        y, code = self.smt(zb, mask)
        if self.mode == "max":
            relax = np.flatnonzero(code == LayerStatus.UNSAT)
            if len(relax):
                y[relax], code[relax] = self._relax(z[relax], zb[relax], mask[relax])
        if record:
            self.last_status = code
            self._count(code, backward=False)
        return y, code

    def _relax(self, z: np.ndarray, zb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F_max for inconsistent inputs: the MaxSMT-optimal inputs, then F_smt of those."""
        weights = softmax_weights(z, mask)
        if self.tabulated:
            zstar = self._best_z(zb, weights, np.ones((len(z), len(self.table()[0])), bool))
            code = np.full(len(z), LayerStatus.SAT, np.int8)
        else:
            values = self._resolve("max", self._max_rows(zb, mask, weights))
            code, zstar = values[:, 0], values[:, 1:]
        y, smt_code = self.smt(zstar.astype(bool), mask)
        ok = (code == LayerStatus.SAT) & (smt_code == LayerStatus.SAT)
        return np.where(ok[:, None], y, 0.0), np.where(ok, LayerStatus.RELAXED, LayerStatus.UNKNOWN).astype(np.int8)

    def core(self, zb: np.ndarray, mask: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """B_core's query: (inputs in the minimal core, status) for corrected outputs ``yhat``."""
        rows = np.concatenate([np.where(mask, zb, 2), yhat], axis=1).astype(np.uint8)
        values = self._resolve("core", rows)
        return values[:, 1:].astype(bool), values[:, 0].copy()

    def max_flips(self, z: np.ndarray, mask: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """B_max's query: the given inputs that the softmax(|z|)-weighted MaxSMT solution under
        the hard outputs ``yhat`` changes, and the status (CORRECTED, CONSISTENT, INFEASIBLE,
        UNKNOWN)."""
        zb = z > 0
        weights = softmax_weights(z, mask)
        if self.tabulated:
            column = yhat.astype(np.int64) @ (1 << np.arange(self.q))
            feasible = self.table()[1][:, column].T
            found = feasible.any(axis=1)
            zstar = self._best_z(zb, weights, feasible)
            code = np.where(found, LayerStatus.SAT, LayerStatus.INFEASIBLE).astype(np.int8)
        else:
            values = self._resolve("max", self._max_rows(zb, mask, weights, yhat))
            code, zstar = values[:, 0], values[:, 1:].astype(bool)
        flips = (zstar != zb) & mask & (code == LayerStatus.SAT)[:, None]
        solved = np.where(flips.any(axis=1), LayerStatus.CORRECTED, LayerStatus.CONSISTENT)
        return flips, np.where(code == LayerStatus.SAT, solved, code).astype(np.int8)

    def linear_argmax(
        self, z: np.ndarray, mask: np.ndarray, target: np.ndarray | None = None, y_weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Input part of ``argmax sum_i |z_i| [s_i = sign z_i] + sum_j w_j [t_j = target_j]`` over
        satisfying assignments (given inputs only; outputs with ``w_j = 0`` are free), and status
        SAT or UNKNOWN."""
        zb = z > 0
        zw = np.where(mask, np.abs(z), 0.0)
        if y_weights is None:
            target, y_weights = np.zeros((len(z), self.q), np.uint8), np.zeros((len(z), self.q))
        if self.tabulated:
            return self._table_linear(zb, zw, target, y_weights)
        values = self._resolve("max", self._max_rows(zb, mask, zw, np.where(y_weights > 0, target, 2), y_weights))
        return values[:, 1:].astype(bool), values[:, 0].copy()

    # -- helpers ----------------------------------------------------------------------------
    def _max_rows(
        self, zb: np.ndarray, mask: np.ndarray, zw: np.ndarray, ypat: np.ndarray | None = None,
        yw: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(zb)
        ypat = np.full((n, self.q), 2) if ypat is None else ypat
        yw = np.zeros((n, self.q)) if yw is None else yw
        parts = [np.where(mask, zb, 2).astype(np.uint8), ypat.astype(np.uint8),
                 np.ascontiguousarray(zw, np.float64).view(np.uint8), np.ascontiguousarray(yw, np.float64).view(np.uint8)]
        return np.concatenate(parts, axis=1)

    @staticmethod
    def _agreement(zb: np.ndarray, weights: np.ndarray, zbits: np.ndarray) -> np.ndarray:
        """``(N, len(zbits))``: the total weight of given inputs each input vector agrees with."""
        signed = weights * (2.0 * zb - 1.0)
        return signed @ zbits.T + (weights * (1.0 - zb)).sum(axis=1, keepdims=True)

    def _best_z(self, zb: np.ndarray, weights: np.ndarray, feasible: np.ndarray) -> np.ndarray:
        """Per example, the bits of the feasible tabulated input of greatest agreement (the
        smallest index on ties; all 0 where none is feasible). ``feasible`` is ``(N, K)``; only
        the inputs feasible for some example of the batch are scored."""
        zbits = self.table()[0]
        columns = np.flatnonzero(feasible.any(axis=0))
        if len(columns) == 0:
            return np.zeros((len(zb), self.p), bool)
        score = np.where(feasible[:, columns], self._agreement(zb, weights, zbits[columns]), -np.inf)
        best = score.argmax(axis=1)
        none = np.isneginf(score[np.arange(len(zb)), best])
        return np.where(none[:, None], False, zbits[columns[best]].astype(bool))

    def _table_linear(
        self, zb: np.ndarray, zw: np.ndarray, target: np.ndarray, yw: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        zbits, admits = self.table()
        if not len(zbits):  # phi is unsatisfiable
            return np.zeros((len(zb), self.p), bool), np.full(len(zb), LayerStatus.INFEASIBLE, np.int8)
        ybits = _bit_rows(self.q)
        zscore = self._agreement(zb, zw, zbits)
        yscore = (yw * (2.0 * target - 1.0)) @ ybits.T + (yw * (1.0 - target)).sum(axis=1, keepdims=True)
        step = max(1, (1 << 22) // admits.size)  # examples per chunk of the (n, K, 2**q) scores
        best = np.concatenate([
            np.where(admits, zscore[i:i + step, :, None] + yscore[i:i + step, None, :], -np.inf)
            .reshape(-1, admits.size).argmax(axis=1) >> self.q
            for i in range(0, len(zb), step)
        ])
        return zbits[best].astype(bool), np.full(len(zb), LayerStatus.SAT, np.int8)

    # -- backward -------------------------------------------------------------------------
    def backward(self, z: np.ndarray, mask: np.ndarray, y: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
        """The gradient strategy's ``grad_z``; statuses and counters recorded."""
        grad, code = self.gradient.backward(self, z, mask, y, grad_y, self.gradient_options)
        self.last_backward_status = code
        self._count(code, backward=True)
        return grad

    def _count(self, code: np.ndarray, *, backward: bool) -> None:
        counts = np.bincount(code.astype(np.int64), minlength=len(LayerStatus))
        s = self.stats
        if backward:
            s.backward_examples += len(code)
        else:
            s.forward_examples += len(code)
        for status in LayerStatus:
            name = status.name.lower()
            if status is not LayerStatus.SAT:
                setattr(s, name, getattr(s, name) + int(counts[status]))
        bad = counts[LayerStatus.UNKNOWN] + (counts[LayerStatus.INFEASIBLE] if backward else counts[LayerStatus.UNSAT])
        if bad:
            what = ("some corrected outputs were infeasible, or the solver gave up (UNKNOWN): those gradients are 0"
                    if backward else "some examples were UNSAT or UNKNOWN: their outputs are 0")
            warnings.warn(f"SMTLayer: {what} (see layer.last_status, layer.last_backward_status and layer.stats)",
                          SolverLayerWarning, stacklevel=2)

    def close(self) -> None:
        self.executor.close()


def softmax_weights(z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``softmax(|z|)`` over each example's given inputs (0 elsewhere), float64, every given
    weight at least the smallest normal float so that it stays a positive soft weight."""
    a = np.where(mask, np.abs(z), -np.inf)
    top = a.max(axis=1, keepdims=True)
    e = np.exp(a - np.where(np.isfinite(top), top, 0.0))
    w = e / np.maximum(e.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return np.where(mask, np.maximum(w, np.finfo(np.float64).tiny), 0.0)
