"""SMTLayer against brute-force versions of the paper's Algorithms 1-4 and the other strategies.

The formula is a 2-bit adder with a twist: digits ``a`` (inputs z0, z1) and ``b`` (z2, z3),
``a != 3`` (so some inputs are UNSAT), the 3-bit sum on outputs y0..y2, and an output y3 that
must be false when ``a == 0`` but is otherwise free (so F_smt's choice of output matters).
``phi`` below restates that in plain Python, independently of the library's evaluator.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import sys
import time
from itertools import product

import numpy as np
import pytest
import torch

import solverlayers as sl
from solverlayers.capabilities import Requirements
from solverlayers.gradients import GradientSpec
from solverlayers.interfaces import CapabilityError
from solverlayers.layers import LayerStatus, SMTLayer, SolverLayerWarning, smt_layer
from solverlayers.layers.executors import ProcessExecutor, SerialExecutor
from solverlayers.registry import Registry, default_registry

from ddp_worker import ddp_rank  # a module of its own: spawned DDP ranks import it, not this one

P, Q = 4, 4
Z = [sl.Bool(f"z{i}") for i in range(P)]
Y = [sl.Bool(f"y{j}") for j in range(Q)]
_a, _b, _s = sl.BitVec("a", 2), sl.BitVec("b", 2), sl.BitVec("s", 3)
FORMULA = [
    *(sl.Eq(Z[i], sl.Eq(sl.Extract(i % 2, i % 2, _a if i < 2 else _b), 1)) for i in range(P)),
    sl.Not(sl.Eq(_a, 3)),
    sl.Eq(_s, sl.ZeroExt(1, _a) + sl.ZeroExt(1, _b)),
    *(sl.Eq(Y[j], sl.Eq(sl.Extract(j, j, _s), 1)) for j in range(3)),
    sl.Implies(Y[3], sl.Not(sl.Eq(_a, 0))),
]


def phi(z: tuple[int, ...], y: tuple[int, ...]) -> bool:
    a, b = z[0] + 2 * z[1], z[2] + 2 * z[3]
    s = a + b
    return a != 3 and all(y[j] == (s >> j) & 1 for j in range(3)) and not (y[3] and a == 0)


PAIRS = [(z, y) for z in product((0, 1), repeat=P) for y in product((0, 1), repeat=Q) if phi(z, y)]
GRADIENTS = ("b_core", "b_max", "ste", "blackbox")
BACKENDS = [name for name in ("z3", "cvc5", "pysat") if name in default_registry().backends()]


def usable(backend: str) -> bool:
    try:
        sl.Solver([Z[0]], backend=backend)
    except Exception:
        return False
    return True


AVAILABLE = [b for b in BACKENDS if usable(b)]
pytestmark = pytest.mark.filterwarnings("ignore::solverlayers.layers.SolverLayerWarning")


def layer(**kw) -> SMTLayer:
    kw.setdefault("executor", "serial")
    return SMTLayer(FORMULA, Z, Y, **kw)


# -- brute force --------------------------------------------------------------------------------

def given(z: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    return {i: int(z[i] > 0) for i in range(P) if mask[i]}


def agrees(zz: tuple[int, ...], lits: dict[int, int]) -> bool:
    return all(zz[i] == v for i, v in lits.items())


def softmax_abs(z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.zeros(P)
    e = np.where(mask, np.exp(np.abs(z) - np.abs(z[mask]).max()), 0.0)
    return e / e.sum()


def ref_smt(z: np.ndarray, mask: np.ndarray) -> tuple[int, list[float]]:
    """Algorithm 2, the output being the lexicographically least satisfying one."""
    ys = sorted(y for zz, y in PAIRS if agrees(zz, given(z, mask)))
    return (LayerStatus.SAT, [2.0 * b - 1 for b in ys[0]]) if ys else (LayerStatus.UNSAT, [0.0] * Q)


def best_z(z: np.ndarray, mask: np.ndarray, candidates: list[tuple[int, ...]], weights: np.ndarray) -> tuple[int, ...]:
    zb = z > 0
    return max(candidates, key=lambda zz: sum(weights[i] for i in range(P) if mask[i] and zz[i] == zb[i]))


def ref_max(z: np.ndarray, mask: np.ndarray) -> tuple[int, list[float]]:
    """Algorithm 1: the y of the MaxSMT optimum with soft z_i = zb_i of weight softmax(|z|)_i."""
    code, y = ref_smt(z, mask)
    if code == LayerStatus.SAT:
        return code, y
    zz = best_z(z, mask, sorted({zz for zz, _ in PAIRS}), softmax_abs(z, mask))
    return LayerStatus.RELAXED, ref_smt(np.array([1.0 if v else -1.0 for v in zz]), mask)[1]


def bce(z: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sig = 1 / (1 + np.exp(-z))
    zb = (z > 0).astype(float)
    return np.where(mask, sig - zb, 0.0), np.where(mask, sig - (1 - zb), 0.0)


def yhat_of(y: np.ndarray, g: np.ndarray) -> tuple[tuple[int, ...], bool]:
    yhat = np.sign(y) - 2 * np.sign(g)
    return tuple(int(v > 0) for v in yhat), bool((np.sign(yhat) != np.sign(y)).any())


def ref_b_max(z, mask, y, g):
    """Algorithm 3."""
    init, flipped = bce(z, mask)
    yh, changed = yhat_of(y, g)
    if not changed:
        return init
    feasible = [zz for zz, yy in PAIRS if yy == yh]
    if not feasible:
        return np.zeros(P)
    zz = best_z(z, mask, feasible, softmax_abs(z, mask))
    return np.array([flipped[i] if mask[i] and zz[i] != (z[i] > 0) else init[i] for i in range(P)])


def ref_b_core(z, mask, y, g):
    """Algorithm 4 with the minimal core found by deletion in input order (checked minimal)."""
    init, flipped = bce(z, mask)
    yh, changed = yhat_of(y, g)
    if not changed:
        return init
    feasible = [zz for zz, yy in PAIRS if yy == yh]

    def unsat(lits: dict[int, int]) -> bool:
        return not any(agrees(zz, lits) for zz in feasible)

    core = given(z, mask)
    if not feasible or not unsat(core):
        return np.zeros(P)
    for i in sorted(core):
        if unsat({k: v for k, v in core.items() if k != i}):
            del core[i]
    assert all(not unsat({k: v for k, v in core.items() if k != i}) for i in core)  # minimal
    return np.array([flipped[i] if i in core else 0.0 for i in range(P)])


def ref_ste(z, mask, y, g, forward):
    grad = np.zeros(P)
    for i in range(P):
        if mask[i]:
            flipped = z.copy()
            flipped[i] = -z[i]
            y_flip = np.array(forward(flipped, mask)[1])
            grad[i] = (1 if z[i] > 0 else -1) * g @ (y - y_flip) / 2
    return grad


def ref_blackbox(z, mask, y, g, lam):
    zw = np.where(mask, np.abs(z), 0.0)

    def argmax(yw):
        def score(pair):
            zz, yy = pair
            return sum(zw[i] for i in range(P) if zz[i] == (z[i] > 0)) + sum(
                yw[j] for j in range(Q) if yy[j] == (g[j] < 0))
        return np.array(max(PAIRS, key=score)[0], dtype=float)

    s, s_lam = argmax(np.zeros(Q)), argmax(lam * np.abs(g))
    return np.where(mask, 2 * (s - s_lam) / lam, 0.0)


def batch(n: int, seed: int, masked: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, P, generator=gen, dtype=torch.float64) * 2
    mask = torch.rand(n, P, generator=gen) < 0.8 if masked else torch.ones(n, P, dtype=torch.bool)
    mask[: n // 2] = True
    return z, mask


def run(lay: SMTLayer, z: torch.Tensor, mask: torch.Tensor | None, seed: int = 1):
    x = z.clone().requires_grad_(True)
    y = lay(x, mask)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    y.backward(g)
    return y.detach(), x.grad, g


# -- semantics ----------------------------------------------------------------------------------

@pytest.mark.parametrize("table_bits", [16, 0])
@pytest.mark.parametrize("mode", ["smt", "max"])
def test_forward_matches_algorithms_1_and_2(mode, table_bits):
    lay = layer(forward_mode=mode, table_bits=table_bits)
    z, mask = batch(96, seed=3)
    y = lay(z, mask)
    ref = ref_max if mode == "max" else ref_smt
    expected = [ref(z[n].numpy(), mask[n].numpy()) for n in range(len(z))]
    assert torch.equal(y, torch.tensor([e[1] for e in expected], dtype=torch.float64))
    assert lay.last_status.tolist() == [int(e[0]) for e in expected]
    assert {int(e[0]) for e in expected} >= ({LayerStatus.SAT, LayerStatus.RELAXED} if mode == "max"
                                             else {LayerStatus.SAT, LayerStatus.UNSAT})


@pytest.mark.parametrize("table_bits", [16, 0])
@pytest.mark.parametrize("gradient", GRADIENTS)
@pytest.mark.parametrize("mode", ["smt", "max"])
def test_backward_matches_bruteforce(gradient, mode, table_bits):
    lam = 3.0
    lay = layer(forward_mode=mode, gradient=gradient, table_bits=table_bits,
                gradient_options={"lam": lam} if gradient == "blackbox" else None)
    z, mask = batch(64 if table_bits else 32, seed=5)  # one MaxSMT call per example without the table
    y, grad, g = run(lay, z, mask)
    forward = ref_max if mode == "max" else ref_smt
    for n in range(len(z)):
        args = (z[n].numpy(), mask[n].numpy(), y[n].numpy(), g[n].numpy())
        if gradient == "b_max":
            expected = ref_b_max(*args)
        elif gradient == "b_core":
            expected = ref_b_core(*args)
        elif gradient == "ste":
            expected = ref_ste(*args, forward)
        else:
            expected = ref_blackbox(*args, lam)
        np.testing.assert_allclose(grad[n].numpy(), expected, atol=1e-12, err_msg=f"example {n}")
    assert (lay.last_backward_status == LayerStatus.CORRECTED).any()


@pytest.mark.parametrize("gradient", ["b_max", "blackbox"])
def test_table_keeps_only_consistent_inputs_and_agrees_with_maxsmt(gradient):
    """p = 20 one-hot inputs (20 of the 2**20 vectors are consistent): the table holds those 20,
    and its answers equal per-example MaxSMT's (F_max forward and the gradient)."""
    x = [sl.Bool(f"x{i}") for i in range(20)]
    y = [sl.Bool(f"y{j}") for j in range(3)]
    phi = [sl.Exactly(1, x)] + [sl.Eq(y[j], sl.Or(*(x[i] for i in range(20) if (i >> j) & 1))) for j in range(3)]
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(24, 20, generator=gen, dtype=torch.float64) * 2
    grad_y = torch.randn(24, 3, generator=gen, dtype=torch.float64)
    results = []
    for table_bits in (23, 0):
        lay = SMTLayer(phi, x, y, forward_mode="max", gradient=gradient, table_bits=table_bits, executor="serial",
                       gradient_options={"lam": 2.0} if gradient == "blackbox" else None)
        zz = z.clone().requires_grad_()
        out = lay(zz)
        out.backward(grad_y)
        results.append((out.detach(), zz.grad, lay._engine.tabulated and lay._engine.table()[0].shape))
    (tab_y, tab_grad, shape), (max_y, max_grad, _) = results
    assert shape == (20, 20)
    assert torch.equal(tab_y, max_y) and (tab_y.abs() == 1).all()
    torch.testing.assert_close(tab_grad, max_grad, rtol=0, atol=1e-12)
    assert tab_grad.abs().sum() > 0


def test_maxsmt_is_skipped_when_the_corrected_output_forces_the_inputs(monkeypatch):
    """y = x: a corrected output leaves one input vector, so B_max needs no MaxSMT call; its
    gradient equals the table's. An infeasible correction (x0 and not x1 required) is reported."""
    x = [sl.Bool(f"x{i}") for i in range(6)]
    y = [sl.Bool(f"y{i}") for i in range(6)]
    phi = [sl.Eq(a, b) for a, b in zip(x, y)] + [sl.Implies(x[0], x[1])]
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(16, 6, generator=gen, dtype=torch.float64)
    grad_y = torch.randn(16, 6, generator=gen, dtype=torch.float64)
    grads, codes = [], []
    for table_bits in (16, 0):
        lay = SMTLayer(phi, x, y, gradient="b_max", table_bits=table_bits, executor="serial")
        calls = count_maxsmt(monkeypatch)
        zz = z.clone().requires_grad_()
        lay(zz).backward(grad_y)
        grads.append(zz.grad)
        codes.append(lay.last_backward_status.tolist())
    assert not calls
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)
    assert codes[0] == codes[1] and LayerStatus.INFEASIBLE in codes[0] and LayerStatus.CORRECTED in codes[0]


def count_maxsmt(monkeypatch) -> list[int]:
    """The list that each MaxSMT call of a solver in this process appends to (the class is
    patched: a worker may compile a fresh session mid-batch)."""
    calls: list[int] = []
    optimize = sl.Solver.optimize
    monkeypatch.setattr(sl.Solver, "optimize", lambda *a, **k: calls.append(1) or optimize(*a, **k))
    return calls


@pytest.mark.parametrize("backend", BACKENDS)
def test_few_corrected_assignments_are_enumerated_and_agree_with_maxsmt(monkeypatch, backend):
    """A corrected sum leaves at most 3 digit pairs here: B_max enumerates them instead of calling
    MaxSMT, and its gradient equals the table's (exact argmax) and, with ENUMERATION_LIMIT = 1,
    the MaxSMT path's."""
    from solverlayers.layers import engine

    z, mask = batch(48, seed=21)
    grad_y = torch.randn(48, Q, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    results = {}
    for how in ("table", "enumerated", "maxsmt"):
        lay = layer(backend=backend, gradient="b_max", table_bits=16 if how == "table" else 0)
        if how == "maxsmt":
            monkeypatch.setattr(engine, "ENUMERATION_LIMIT", 1)
        calls = count_maxsmt(monkeypatch)
        zz = z.clone().requires_grad_()
        lay(zz, mask).backward(grad_y)
        results[how] = (zz.grad, lay.last_backward_status.tolist())
        assert bool(calls) == (how == "maxsmt"), how
    for how in ("enumerated", "maxsmt"):
        torch.testing.assert_close(results[how][0], results["table"][0], rtol=0, atol=1e-12)
        assert results[how][1] == results["table"][1]
    assert LayerStatus.CORRECTED in results["table"][1]


def test_hand_worked_example():
    """a = 1, b = 1 (sum 2); the loss raises y0, asking for sum 3 = (0, 3), (1, 2) or (2, 1)."""
    z = torch.tensor([[2.0, -1.0, 3.0, -0.5]], dtype=torch.float64)
    assert layer()(z).tolist() == [[-1.0, 1.0, -1.0, -1.0]]  # s = 2 and y3 = false, the least choice
    g = torch.tensor([[-1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    sig = torch.sigmoid(z[0])
    grads = {}
    for gradient in ("b_core", "b_max"):
        x = z.clone().requires_grad_(True)
        layer(gradient=gradient)(x).backward(g)
        grads[gradient] = x.grad[0]
    # deletion in order: z0 is redundant (z1 = z3 = 0 caps the sum at 2), z1 needed, z2 redundant, z3 needed
    assert torch.allclose(grads["b_core"], torch.stack([sig[0] * 0, sig[1] - 1, sig[2] * 0, sig[3] - 1]))
    # MaxSMT keeps the heaviest consistent subset: z1, z2 (e^1 + e^3) via (a, b) = (0, 3): flips z0, z3
    assert torch.allclose(grads["b_max"], torch.stack([sig[0], sig[1], sig[2] - 1, sig[3] - 1]))


def test_lru_memo_evicts_least_recent():
    from solverlayers.layers.engine import _Memo

    memo = _Memo([3, 3], 2, capacity=2, dense_limit=0)
    rows = np.array([[0, 1], [1, 1], [2, 1]], np.uint8)
    memo.put(rows[:2], np.array([[0, 5], [0, 6]], np.int8))
    memo.get(rows[:1])  # row 0 is now the most recent
    memo.put(rows[2:], np.array([[0, 7]], np.int8))
    values, hit = memo.get(rows)
    assert hit.tolist() == [True, False, True] and values[2].tolist() == [0, 7]
    memo.put(rows[1:2], np.array([[LayerStatus.UNKNOWN, 0]], np.int8))  # never kept
    assert not memo.get(rows[1:2])[1][0]


# -- backends, executors, caches, masks ----------------------------------------------------------

@pytest.mark.skipif(len(AVAILABLE) < 2, reason="needs two working backends")
@pytest.mark.parametrize("mode", ["smt", "max"])
def test_backends_agree(mode):
    z, mask = batch(64, seed=7)
    results = {b: run(layer(backend=b, forward_mode=mode, table_bits=0,
                            gradient="b_max" if mode == "max" else "b_core"), z, mask)
               for b in AVAILABLE}
    first = results[AVAILABLE[0]]
    for b in AVAILABLE[1:]:
        assert torch.equal(results[b][0], first[0]), b
        assert torch.equal(results[b][1], first[1]), b


def test_executors_workers_and_cache_states_agree():
    z, mask = batch(80, seed=11)
    reference = run(layer(gradient="b_core"), z, mask)
    pool = ProcessExecutor(2)
    assert os.getpid() not in pool.map(_pid, [0, 1])
    try:
        for lay in (layer(gradient="b_core", executor=pool), layer(gradient="b_core", executor=ProcessExecutor(1)),
                    layer(gradient="b_core", executor=SerialExecutor())):
            cold = run(lay, z, mask)
            solved = lay.stats.solved
            warm = run(lay, z, mask)
            for got in (cold, warm):
                assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])
            assert lay.stats.solved == solved  # the warm pass hit the memo only
    finally:
        pool.close()


def _pid(_: object) -> int:
    return os.getpid()


@pytest.mark.slow  # ray.init alone takes 10-15 s here
def test_ray_executor_agrees():
    ray = pytest.importorskip("ray")
    from solverlayers.layers.executors import RayExecutor

    z, mask = batch(40, seed=12)
    reference = run(layer(gradient="b_core", table_bits=0), z, mask)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor(2)
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import tests
        assert os.getpid() not in executor.map(_pid, [0, 1])
        got = run(layer(gradient="b_core", table_bits=0, executor=executor), z, mask)
    finally:
        ray.shutdown()
    assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])


def test_dedupe_and_memo_counts():
    lay = layer()
    z = torch.tensor([[1.0, -1.0, 1.0, 1.0]] * 5 + [[-1.0, -1.0, 1.0, 1.0]] * 3, dtype=torch.float64)
    lay(z)
    assert lay.stats.solved == 2 and lay.stats.cache_hits == 0
    lay(z * 3)  # same signs
    assert lay.stats.solved == 2 and lay.stats.cache_hits == 8 and lay.stats.forward_examples == 16
    lay.stats.reset()
    assert not any(lay.stats.as_dict().values())


@pytest.mark.parametrize("backend", ["z3", "pysat"])
def test_functional_outputs_take_two_solver_calls(backend, monkeypatch):
    """F_smt proves a unique output with one blocking call, whatever ``q``; a formula with several
    outputs per input still gets the least one."""
    from solverlayers.layers.engine import LayerSpec, run_queries, worker

    x = [sl.Bool(f"x{i}") for i in range(12)]
    free = sl.Bool("free")
    spec = LayerSpec((sl.Or(free, sl.Not(free)),), tuple(x), tuple(x) + (free,), backend)
    calls = []
    w = worker(spec)
    check = w.solver.check
    monkeypatch.setattr(w.solver, "check", lambda *a, **k: calls.append(1) or check(*a, **k))
    row = np.array([[1] * 12 + [2]], np.uint8)  # x given all true; `free` is an unconstrained output
    assert run_queries(spec, "smt", row).tolist() == [[0] + [1] * 12 + [0]]
    calls.clear()
    functional = LayerSpec((), tuple(x), tuple(x), backend)
    w2 = worker(functional)
    check2 = w2.solver.check
    monkeypatch.setattr(w2.solver, "check", lambda *a, **k: calls.append(1) or check2(*a, **k))
    assert run_queries(functional, "smt", np.ones((1, 12), np.uint8)).tolist() == [[0] + [1] * 12]
    assert len(calls) == 2  # the model, then "no other output": not one call per true bit


def test_layer_spec_pickles_once_per_process(monkeypatch):
    """Batches send the spec to workers: it pickles to a digest and bytes computed once, a
    process that has the spec gets the same object back (no deep comparison in ``worker``), and
    a fresh process rebuilds an equal spec from the bytes."""
    from solverlayers.layers import engine
    from solverlayers.layers.engine import LayerSpec

    spec = LayerSpec(tuple(FORMULA), tuple(Z), tuple(Y), "pysat", (("engine", "minisat22"),), 2.0)
    blob = pickle.dumps(spec)
    assert pickle.loads(blob) is spec and pickle.dumps(spec) == blob
    other = LayerSpec(tuple(FORMULA), tuple(Z), tuple(Y), "z3")
    assert pickle.loads(pickle.dumps(other)) is other
    monkeypatch.setattr(engine, "_unpacked", {})  # as in a worker that has not seen the spec
    fresh = pickle.loads(blob)
    assert fresh == spec and fresh is not spec and pickle.loads(blob) is fresh


def test_session_is_recompiled_after_retired_clauses_and_answers_stay(monkeypatch):
    """Each uniqueness check leaves a retired blocking clause; past RETIRED_LIMIT the worker
    compiles a fresh session, and the answers are the same before and after."""
    from solverlayers.layers import engine
    from solverlayers.layers.engine import LayerSpec, run_queries, worker

    monkeypatch.setattr(engine, "RETIRED_LIMIT", 3)
    x = [sl.Bool(f"rx{i}") for i in range(4)]
    spec = LayerSpec((), tuple(x), tuple(x), "pysat")
    rows = np.array([[(k >> i) & 1 for i in range(4)] for k in range(16)], np.uint8)
    first = worker(spec).solver
    answers = run_queries(spec, "smt", rows)
    assert worker(spec).solver is not first and worker(spec).retired < 3
    assert answers.tolist() == [[0, *row] for row in rows.tolist()]
    assert run_queries(spec, "smt", rows).tolist() == answers.tolist()


def test_per_example_masks_equal_unbatched():
    lay = layer(gradient="b_max", forward_mode="max")
    z, mask = batch(48, seed=13)
    y, grad, g = run(lay, z, mask)
    fresh = layer(gradient="b_max", forward_mode="max")
    for n in range(len(z)):
        one = z[n:n + 1].clone().requires_grad_(True)
        out = fresh(one, mask[n])  # a 1-D mask broadcasts
        out.backward(g[n:n + 1])
        assert torch.equal(out.detach(), y[n:n + 1]) and torch.equal(one.grad, grad[n:n + 1])
    assert (~mask).any(axis=1).any() and (lay.last_backward_status == LayerStatus.CORRECTED).any()


def test_masked_inputs_are_free_and_get_no_gradient():
    lay = layer()
    z = torch.tensor([[5.0, 5.0, -1.0, -1.0]], dtype=torch.float64, requires_grad=True)  # a = 3: UNSAT
    with pytest.warns(SolverLayerWarning):
        assert lay(z).abs().sum() == 0
    mask = torch.tensor([[True, False, True, True]])
    y = lay(z, mask)  # z1 free: a = 1 (least output: s = 1 beats s = 3? y0 = 1 both; y1: 0 < 1)
    assert y.tolist() == [[1.0, -1.0, -1.0, -1.0]]
    y.backward(torch.ones_like(y))
    assert z.grad[0, 1] == 0


def test_leading_dims_dtype_and_empty_batch():
    lay = layer()
    z = torch.randn(2, 3, P)
    y = lay(z)
    assert y.shape == (2, 3, Q) and y.dtype == torch.float32 and lay.last_status.shape == (6,)
    assert lay(z.to(torch.bfloat16)).dtype == torch.bfloat16
    assert lay(torch.zeros(0, P)).shape == (0, Q)
    assert torch.equal(lay(z.double()).float(), y)


# -- statuses -----------------------------------------------------------------------------------

def test_unsat_forward_and_infeasible_correction_are_reported():
    lay = layer(gradient="b_max")
    z = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    with pytest.warns(SolverLayerWarning, match="UNSAT"):
        y = lay(z)
    assert lay.last_status.tolist() == [LayerStatus.UNSAT, LayerStatus.SAT]
    assert y[0].abs().sum() == 0 and lay.stats.unsat == 1
    # example 1: a=1, b=3, s=4 (y = -1,-1,1,-1); asking for y2 off and y1,y0 on means s = 3, fine;
    # asking for all of y0..y2 on means s = 7: no input reaches it
    g = torch.tensor([[0.0, 0.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0]], dtype=torch.float64)
    with pytest.warns(SolverLayerWarning, match="infeasible"):
        y.backward(g)
    assert lay.last_backward_status.tolist()[1] == LayerStatus.INFEASIBLE
    assert z.grad[1].abs().sum() == 0 and lay.stats.infeasible == 1


@pytest.mark.parametrize("backend", AVAILABLE)
def test_infeasible_correction_on_the_maxsmt_path(backend):
    lay = layer(backend=backend, gradient="b_max", table_bits=0)
    z = torch.tensor([[1.0, -1.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)  # s = 4
    lay(z).backward(torch.tensor([[-1.0, -1.0, 0.0, 0.0]], dtype=torch.float64))  # asks for s = 7
    assert lay.last_backward_status.tolist() == [LayerStatus.INFEASIBLE] and z.grad.abs().sum() == 0


def test_unknown_is_reported_and_not_cached():
    lay = layer(options={"rlimit": 1}, backend="z3")  # z3 gives up at once
    z = torch.ones(3, P)
    with pytest.warns(SolverLayerWarning, match="UNKNOWN"):
        y = lay(z)
    assert (lay.last_status == LayerStatus.UNKNOWN).all() and y.abs().sum() == 0
    solved = lay.stats.solved
    with pytest.warns(SolverLayerWarning):
        lay(z)
    assert lay.stats.solved == solved + 1 and lay.stats.unknown == 6


# -- bad input ----------------------------------------------------------------------------------

def test_bad_inputs():
    lay = layer()
    with pytest.raises(ValueError, match="NaN or infinite"):
        lay(torch.tensor([[0.5, math.nan, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        lay(torch.tensor([[0.5, math.inf, 1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        lay(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        lay(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="broadcast"):
        lay(torch.zeros(3, 4), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="not Boolean"):
        SMTLayer(FORMULA, [_a, *Z[2:]], Y)
    with pytest.raises(ValueError, match="does not occur"):
        SMTLayer(FORMULA, Z, [*Y, sl.Bool("w")])
    with pytest.raises(ValueError, match="twice"):
        SMTLayer(FORMULA, [Z[0], Z[0]], Y)
    with pytest.raises(ValueError, match="unsatisfiable for every input"):
        SMTLayer([*FORMULA, sl.Eq(_a, 3)], Z, Y, executor="serial")
    with pytest.raises(ValueError, match="forward_mode"):
        layer(forward_mode="fast")
    with pytest.raises(LookupError, match="gradient strategy"):
        layer(gradient="magic")
    with pytest.raises(ValueError, match="unknown executor"):
        layer(executor="threads")
    with pytest.raises(ValueError, match="gradient strategy 'b_core' has no option 'lam'"):
        layer(gradient_options={"lam": 1.0})
    with pytest.raises(ValueError, match="lam must be positive"):
        layer(gradient="blackbox", gradient_options={"lam": 0})(torch.ones(1, P, requires_grad=True)).sum().backward()


@pytest.mark.skipif("pysat" not in BACKENDS, reason="needs the pysat backend")
def test_backend_lacking_a_theory_is_refused_at_construction():
    n = sl.Int("n")
    with pytest.raises(CapabilityError, match=r"pysat.*theory lia.*backends that can: .*z3"):
        SMTLayer([sl.Eq(Z[0], n > 2), sl.Eq(Y[0], n > 5)], [Z[0]], [Y[0]], backend="pysat")
    lay = SMTLayer([sl.Eq(Z[0], n > 2), sl.Eq(Y[0], n > 5)], [Z[0]], [Y[0]], backend="z3", executor="serial")
    assert lay(torch.tensor([[-1.0], [1.0]])).tolist() == [[-1.0], [-1.0]]  # n > 5 is optional: least is false


def test_gradient_plugins_and_config_file(tmp_path):
    calls = []

    def double_init(engine, z, mask, y, grad_y, options):
        calls.append(options["scale"])
        return options["scale"] * z, np.full(len(z), LayerStatus.CORRECTED, np.int8)

    class Plugin:
        @sl.hookimpl
        def solverlayers_gradients(self):
            return [GradientSpec("scaled", double_init, Requirements(), "test",
                                 (sl.OptionSpec("scale", float, 2.0),))]

    registry = Registry()
    registry.register(Plugin(), name="test-gradients")
    lay = layer(gradient="scaled", registry=registry, gradient_options={"scale": 3})
    x = torch.ones(2, P, dtype=torch.float64, requires_grad=True)
    lay(x).sum().backward()
    assert calls == [3.0] and torch.equal(x.grad, 3 * torch.ones(2, P, dtype=torch.float64))

    config = tmp_path / "solverlayers.toml"
    config.write_text('[solverlayers]\nbackend = "pysat"\ngradient = "b_max"\n')
    from_file = layer(config_file=config)
    assert (from_file.backend, from_file.gradient) == ("pysat", "b_max")


# -- torch integration --------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])  # inductor: ~1 min
def test_torch_compile_fullgraph_matches_eager(backend):
    lay = layer(gradient="b_max")
    torch.manual_seed(0)
    head = torch.nn.Linear(6, P).double()
    model = torch.nn.Sequential(head, lay)
    x = torch.randn(32, 6, dtype=torch.float64)
    target = (torch.rand(32, Q) > 0.5).double()

    def step(m):
        head.zero_grad()
        out = m(x)
        torch.nn.functional.binary_cross_entropy_with_logits(out, target).backward()
        return out.detach(), head.weight.grad.clone()

    eager = step(model)
    compiled = step(torch.compile(model, fullgraph=True, backend=backend))
    assert torch.equal(eager[0], compiled[0]) and torch.equal(eager[1], compiled[1])


def test_opcheck():
    lay = layer()
    z, mask = batch(8, seed=17)
    torch.library.opcheck(torch.ops.solverlayers.smt_layer.default, (z.requires_grad_(), mask, lay._handle),
                          test_utils=("test_schema", "test_faketensor", "test_aot_dispatch_dynamic"))


def test_pickle_deepcopy_and_state_dict(tmp_path):
    lay = layer(gradient="b_max", forward_mode="max")
    z, mask = batch(16, seed=19)
    expected = run(lay, z, mask)
    for clone in (pickle.loads(pickle.dumps(lay)), copy.deepcopy(lay)):
        assert clone._handle != lay._handle
        got = run(clone, z, mask)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    model = torch.nn.Sequential(torch.nn.Linear(3, P), lay)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    fresh = torch.nn.Sequential(torch.nn.Linear(3, P), layer())
    fresh.load_state_dict(torch.load(path, weights_only=True))
    other = torch.nn.Sequential(torch.nn.Linear(3, P), SMTLayer(FORMULA[:-1], Z, Y[:3], executor="serial"))
    with pytest.raises(ValueError, match="different formula"):
        other.load_state_dict(torch.load(path, weights_only=True))


class _Solved(torch.utils.data.Dataset):
    def __init__(self, lay: SMTLayer, z: torch.Tensor) -> None:
        self.lay, self.z = lay, z

    def __len__(self) -> int:
        return len(self.z)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.lay(self.z[i])


def test_dataloader_workers():
    lay = layer(executor="process", workers=2)
    z, _ = batch(24, seed=23)
    expected = lay(z)
    loader = torch.utils.data.DataLoader(_Solved(lay, z), batch_size=6, num_workers=2)
    assert torch.equal(torch.cat(list(loader)), expected)


def test_distributed_data_parallel(tmp_path):
    """Two gloo ranks, spawned (a fork of a process that runs solver and torch threads can
    deadlock), each with a pickled copy of the layer: their gradients are averaged to equal."""
    ranks = torch.multiprocessing.spawn(ddp_rank, args=(layer(gradient="b_max"), str(tmp_path / "init"),
                                                          str(tmp_path / "grad")), nprocs=2, join=False)
    deadline = time.monotonic() + 60
    while not ranks.join(timeout=max(0.0, deadline - time.monotonic())):
        if time.monotonic() >= deadline:
            for proc in ranks.processes:
                proc.kill()
                proc.join()
            pytest.fail("the DDP ranks did not finish within 60 s")
    g0, g1 = (torch.load(tmp_path / f"grad.{r}") for r in range(2))
    assert torch.equal(g0, g1) and g0.abs().sum() > 0


def test_functional_form_shares_one_layer():
    z, mask = batch(16, seed=29)
    y, status = smt_layer(z, FORMULA, Z, Y, mask, return_status=True, executor="serial")
    again = smt_layer(z, FORMULA, Z, Y, mask, executor="serial")
    assert torch.equal(y, again) and status.shape == (16,)
    assert torch.equal(y, layer()(z, mask))
