"""``satnet-cpu``: the fast CPU path of :class:`~solverlayers.mixing.MixingKernels`.

A small C library compiled with the system C compiler on first use (``-O3 -march=native
-fopenmp``; about a second) and cached under ``$SOLVERLAYERS_CACHE`` (default
``~/.cache/solverlayers``), keyed by the source, the flags and this CPU. It runs batch items in
parallel (OpenMP, ``torch.get_num_threads()`` threads; one thread for small problems). Within an item it works with the Gram
matrix ``C = S S^T`` (zero diagonal, computed once per call by torch) instead of ``W = S^T V``:
``g_i = sum_j C_ij v_j`` is a constant part from the fixed rows (computed once) plus a product
over the free rows. The sweep runs in blocks of 64 consecutive free rows: the field from the rows
outside a block is one matrix product (register-tiled, vectorised), the block's own rows are added
one update at a time, which keeps the Gauss-Seidel order exactly while reading the free rows' vectors
once per block instead of once per update. Each thread holds the free rows' Gram matrix
(``|free|^2`` numbers).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch
from solverlayers.interfaces import CapabilityError
from solverlayers.mixing import MixingKernels, check_backward_args, check_forward_args

__all__ = ["CpuMixingKernels", "load_library"]

# One copy per precision: ``real_t`` and ``SFX`` are substituted before compiling.
_TEMPLATE = r"""
typedef real_t vec_SFX __attribute__((vector_size(32)));
typedef real_t uvec_SFX __attribute__((vector_size(32), aligned(sizeof(real_t))));
#define VL_SFX ((int64_t)(32 / sizeof(real_t)))

/* H[r, c0:c0+CW vectors] += sum_q A[r, q] X[q, same columns] for rows r0..r0+R-1: a register
   tile of R x CW vectors (CW, R compile-time constants after inlining). */
static inline __attribute__((always_inline)) void tile_SFX(
        real_t *restrict H, const real_t *restrict A, int64_t lda, const real_t *restrict X,
        int64_t len, int64_t k, int64_t c0, const int CW, const int R) {
    vec_SFX acc[12][4];
    for (int i = 0; i < R; i++) for (int j = 0; j < CW; j++) acc[i][j] = (vec_SFX){0};
    for (int64_t q = 0; q < len; q++) {
        const uvec_SFX *x = (const uvec_SFX *)(X + q * k + c0 * VL_SFX);
        vec_SFX xv[4];
        for (int j = 0; j < CW; j++) xv[j] = x[j];
        for (int i = 0; i < R; i++) {
            const real_t a = A[i * lda + q];
            for (int j = 0; j < CW; j++) acc[i][j] += a * xv[j];
        }
    }
    for (int i = 0; i < R; i++) {
        uvec_SFX *h = (uvec_SFX *)(H + i * k + c0 * VL_SFX);
        for (int j = 0; j < CW; j++) h[j] += acc[i][j];
    }
}

#define PANEL_SFX(CW, R)                                                                         \
static void panel##CW##_SFX(real_t *H, const real_t *A, int64_t lda, const real_t *X, int64_t len, \
                            int64_t nb, int64_t k, int64_t c0) {                                 \
    int64_t r = 0;                                                                               \
    for (; r + R <= nb; r += R) tile_SFX(H + r * k, A + r * lda, lda, X, len, k, c0, CW, R);    \
    for (; r < nb; r++) tile_SFX(H + r * k, A + r * lda, lda, X, len, k, c0, CW, 1);            \
}
PANEL_SFX(1, 12) PANEL_SFX(2, 6) PANEL_SFX(3, 3) PANEL_SFX(4, 3)

/* H (nb x k) += A (nb x len, row stride lda) X (len x k). */
static void gemm_SFX(real_t *H, const real_t *A, int64_t lda, const real_t *X, int64_t len, int64_t nb, int64_t k) {
    if (len <= 0) return;
    if (k % VL_SFX) {
        for (int64_t r = 0; r < nb; r++)
            for (int64_t q = 0; q < len; q++) {
                const real_t a = A[r * lda + q], *x = X + q * k;
                real_t *h = H + r * k;
                for (int64_t c = 0; c < k; c++) h[c] += a * x[c];
            }
        return;
    }
    const int64_t nv = k / VL_SFX;
    for (int64_t c0 = 0; c0 < nv; c0 += 4) {
        switch (nv - c0 < 4 ? nv - c0 : 4) {
            case 1: panel1_SFX(H, A, lda, X, len, nb, k, c0); break;
            case 2: panel2_SFX(H, A, lda, X, len, nb, k, c0); break;
            case 3: panel3_SFX(H, A, lda, X, len, nb, k, c0); break;
            default: panel4_SFX(H, A, lda, X, len, nb, k, c0);
        }
    }
}

/* Per item: the free rows in update order (fidx), their Gram matrix CF (zero diagonal), a compact
   copy X of their vectors, the constant field b from the fixed rows, and a block's field H. */
typedef struct { int64_t nf; int64_t *fidx; real_t *CF, *X, *b, *H; } work_SFX;

static void setup_SFX(work_SFX *w, const real_t *C, const real_t *V, const uint8_t *free_,
                      const int64_t *order, int64_t L, int64_t n1, int64_t k, int with_fixed) {
    int64_t nf = 0;
    for (int64_t p = 0; p < L; p++) if (free_[order[p]]) w->fidx[nf++] = order[p];
    w->nf = nf;
    for (int64_t p = 0; p < nf; p++) {
        const real_t *ci = C + w->fidx[p] * n1;
        for (int64_t q = 0; q < nf; q++) w->CF[p * nf + q] = ci[w->fidx[q]];
        memcpy(w->X + p * k, V + w->fidx[p] * k, sizeof(real_t) * k);
    }
    memset(w->b, 0, sizeof(real_t) * nf * k);
    if (!with_fixed) return;
    for (int64_t p = 0; p < nf; p++) {
        const real_t *ci = C + w->fidx[p] * n1;
        real_t *bp = w->b + p * k;
        for (int64_t j = 0; j < n1; j++) {
            if (free_[j]) continue;
            const real_t a = ci[j], *vj = V + j * k;
            for (int64_t c = 0; c < k; c++) bp[c] += a * vj[c];
        }
    }
}

/* Gauss-Seidel in blocks of BLOCK rows: the field from rows outside the block is one product
   (the block's rows do not change meanwhile), the block's own rows are added one by one. */
#define BLOCK 64

static void block_field_SFX(work_SFX *w, int64_t k, int64_t p0, int64_t pe) {
    const int64_t nf = w->nf, nb = pe - p0;
    memcpy(w->H, w->b + p0 * k, sizeof(real_t) * nb * k);
    gemm_SFX(w->H, w->CF + p0 * nf, nf, w->X, p0, nb, k);
    gemm_SFX(w->H, w->CF + p0 * nf + pe, nf, w->X + pe * k, nf - pe, nb, k);
}

/* g (in H's row for p) += sum over the block's rows q of CF[p, q] X[q]. */
static inline void own_block_SFX(work_SFX *w, int64_t k, int64_t p0, int64_t pe, int64_t p, real_t *g) {
    const real_t *a = w->CF + p * w->nf;
    for (int64_t q = p0; q < pe; q++) {
        const real_t c = a[q], *x = w->X + q * k;
        for (int64_t j = 0; j < k; j++) g[j] += c * x[j];
    }
}

static int64_t forward_item_SFX(const real_t *C, real_t *V, const uint8_t *free_, const int64_t *order,
                                int64_t L, int64_t n1, int64_t k, int64_t max_iter, double eps, work_SFX *w) {
    setup_SFX(w, C, V, free_, order, L, n1, k, 1);
    double first = 0;
    int64_t t = 1;
    for (; t <= max_iter; t++) {
        double delta = 0;
        for (int64_t p0 = 0; p0 < w->nf; p0 += BLOCK) {
            const int64_t pe = p0 + BLOCK < w->nf ? p0 + BLOCK : w->nf;
            block_field_SFX(w, k, p0, pe);
            for (int64_t p = p0; p < pe; p++) {
                real_t *g = w->H + (p - p0) * k, *x = w->X + p * k, gn2 = 0, moved = 0;
                own_block_SFX(w, k, p0, pe, p, g);
                for (int64_t c = 0; c < k; c++) gn2 += g[c] * g[c];
                const real_t gn = sqrt(gn2);
                if (!(gn > 0)) continue;
                for (int64_t c = 0; c < k; c++) {
                    const real_t vn = -g[c] / gn, d = vn - x[c];
                    moved += d * d; x[c] = vn;
                }
                delta += 0.5 * (double)gn * (double)moved;
            }
        }
        if (t == 1) first = delta;
        if (delta <= eps * first) break;
    }
    for (int64_t p = 0; p < w->nf; p++) memcpy(V + w->fidx[p] * k, w->X + p * k, sizeof(real_t) * k);
    return t > max_iter ? max_iter : t;
}

static void backward_item_SFX(const real_t *C, const real_t *V, const uint8_t *free_, const int64_t *order,
                              int64_t L, int64_t n1, int64_t k, int64_t sweeps, const real_t *diag,
                              const real_t *rhs, real_t *U, work_SFX *w) {
    setup_SFX(w, C, U, free_, order, L, n1, k, 0);  /* U starts at 0: X = 0, b = 0 */
    for (int64_t t = 1; t <= sweeps; t++) {
        for (int64_t p0 = 0; p0 < w->nf; p0 += BLOCK) {
            const int64_t pe = p0 + BLOCK < w->nf ? p0 + BLOCK : w->nf;
            block_field_SFX(w, k, p0, pe);
            for (int64_t p = p0; p < pe; p++) {
                const int64_t i = w->fidx[p];
                const real_t *v = V + i * k, *r = rhs + i * k, d = diag[i];
                real_t *g = w->H + (p - p0) * k, *x = w->X + p * k, dot = 0;
                own_block_SFX(w, k, p0, pe, p, g);
                for (int64_t c = 0; c < k; c++) { g[c] -= r[c]; dot += v[c] * g[c]; }
                for (int64_t c = 0; c < k; c++) x[c] = -(g[c] - dot * v[c]) / d;
            }
        }
    }
    for (int64_t p = 0; p < w->nf; p++) memcpy(U + w->fidx[p] * k, w->X + p * k, sizeof(real_t) * k);
}

static int work_alloc_SFX(work_SFX *w, int64_t n1, int64_t k) {
    w->fidx = malloc(sizeof(int64_t) * n1);
    w->CF = malloc(sizeof(real_t) * (n1 * n1 + 2 * n1 * k + BLOCK * k));
    if (!w->fidx || !w->CF) { free(w->fidx); free(w->CF); return 0; }
    w->X = w->CF + n1 * n1; w->b = w->X + n1 * k; w->H = w->b + n1 * k;
    return 1;
}

static void work_free_SFX(work_SFX *w) { free(w->fidx); free(w->CF); }

/* Return 0 on success, 1 when a thread's work space could not be allocated. */
int satnet_forward_SFX(const real_t *C, real_t *V, const uint8_t *free_, const int64_t *order,
                       int64_t B, int64_t L, int64_t n1, int64_t k, int64_t max_iter,
                       double eps, int64_t *sweeps, int nthreads) {
    int failed = 0;
    #pragma omp parallel num_threads(nthreads) reduction(|:failed)
    {
        work_SFX w;
        if (!work_alloc_SFX(&w, n1, k)) failed = 1;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < B; b++)
            if (!failed)
                sweeps[b] = forward_item_SFX(C, V + b * n1 * k, free_ + b * n1, order, L, n1, k, max_iter, eps, &w);
        if (!failed) work_free_SFX(&w);
    }
    return failed;
}

int satnet_backward_SFX(const real_t *C, const real_t *V, const uint8_t *free_, const int64_t *order,
                        const int64_t *sweeps, const real_t *diag, const real_t *rhs, real_t *U,
                        int64_t B, int64_t L, int64_t n1, int64_t k, int nthreads) {
    int failed = 0;
    #pragma omp parallel num_threads(nthreads) reduction(|:failed)
    {
        work_SFX w;
        if (!work_alloc_SFX(&w, n1, k)) failed = 1;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < B; b++)
            if (!failed)
                backward_item_SFX(C, V + b * n1 * k, free_ + b * n1, order, L, n1, k, sweeps[b], diag + b * n1,
                                  rhs + b * n1 * k, U + b * n1 * k, &w);
        if (!failed) work_free_SFX(&w);
    }
    return failed;
}
"""

_HEADER = "#include <math.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
_SOURCE = _HEADER + "".join(
    _TEMPLATE.replace("real_t", real).replace("SFX", sfx) for real, sfx in (("float", "f32"), ("double", "f64"))
)
_FLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-fopenmp", "-fPIC", "-shared", "-std=c11"]

_lock = threading.Lock()
_library: ctypes.CDLL | None = None


def _cpu_fingerprint() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() + platform.machine()
    lines = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags"))]
    return platform.machine() + "\n".join(sorted(set(lines)))


def _cache_dir() -> Path:
    root = os.environ.get("SOLVERLAYERS_CACHE") or Path.home() / ".cache" / "solverlayers"
    return Path(root) / "satnet-cpu"


def load_library() -> ctypes.CDLL:
    """The compiled kernels, built on first use; a clear CapabilityError if no C compiler works."""
    global _library
    with _lock:
        if _library is not None:
            return _library
        compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
        if compiler is None:
            raise CapabilityError("satnet-cpu needs a C compiler with OpenMP (gcc); none was found on PATH")
        key = hashlib.sha256("\0".join([_SOURCE, compiler, *_FLAGS, _cpu_fingerprint()]).encode()).hexdigest()
        target = _cache_dir() / f"libsatnet-{key[:16]}.so"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                src, out = Path(tmp) / "satnet.c", Path(tmp) / "satnet.so"
                src.write_text(_SOURCE)
                proc = subprocess.run([compiler, *_FLAGS, str(src), "-o", str(out), "-lm"],
                                      capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise CapabilityError(f"satnet-cpu: compiling the kernels failed:\n{proc.stderr[-2000:]}")
                os.replace(out, target)
        lib = ctypes.CDLL(str(target))
        p, i64, f64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_int
        for sfx in ("f32", "f64"):
            fwd = getattr(lib, f"satnet_forward_{sfx}")
            fwd.argtypes = [p, p, p, p, i64, i64, i64, i64, i64, f64, p, i32]
            fwd.restype = ctypes.c_int
            bwd = getattr(lib, f"satnet_backward_{sfx}")
            bwd.argtypes = [p, p, p, p, p, p, p, p, i64, i64, i64, i64, i32]
            bwd.restype = ctypes.c_int
        _library = lib
        return lib


def _suffix(dtype: torch.dtype) -> str:
    return "f32" if dtype == torch.float32 else "f64"


def _require_cpu(S: torch.Tensor) -> None:
    if S.device.type != "cpu":
        raise CapabilityError(f"satnet-cpu runs on the CPU only; got a tensor on {S.device} (use satnet-torch)")


#: below this many multiply-adds per sweep (batch x free rows^2 x k) one thread does the work:
#: starting a parallel region costs more than it saves, and much more on a loaded machine.
PARALLEL_MIN_WORK = 1 << 22


def _threads(free: torch.Tensor, k: int) -> int:
    B, n1 = free.shape
    return torch.get_num_threads() if B > 1 and B * n1 * n1 * k >= PARALLEL_MIN_WORK else 1


def _check(failed: int, n1: int, k: int) -> None:
    if failed:
        raise MemoryError(f"satnet-cpu: no memory for a thread's work space ({n1} x ({n1} + 2 k) numbers, k = {k})")


def _gram(S: torch.Tensor) -> torch.Tensor:
    """``S S^T`` with a zero diagonal, contiguous."""
    C = S @ S.t()
    C.diagonal().zero_()
    return C.contiguous()


class CpuMixingKernels(MixingKernels):
    """Compiled C kernels for the CPU, parallel over batch items."""

    name = "satnet-cpu"

    def __init__(self) -> None:
        self._lib = load_library()

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        return torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64)

    def forward(
        self,
        S: torch.Tensor,
        V: torch.Tensor,
        free: torch.Tensor,
        order: torch.Tensor,
        max_iter: int,
        eps: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_forward_args(S, V, free, order, max_iter, eps)
        _require_cpu(S)
        C, free, order = _gram(S), free.contiguous(), order.contiguous()
        out = V.clone(memory_format=torch.contiguous_format)
        B, n1, k = out.shape
        sweeps = torch.zeros(B, dtype=torch.int64)
        failed = getattr(self._lib, f"satnet_forward_{_suffix(S.dtype)}")(
            C.data_ptr(), out.data_ptr(), free.data_ptr(), order.data_ptr(), B, order.numel(), n1, k,
            max_iter, eps, sweeps.data_ptr(), _threads(free, k),
        )
        _check(failed, n1, k)
        return out, sweeps

    def backward(
        self,
        S: torch.Tensor,
        V: torch.Tensor,
        free: torch.Tensor,
        order: torch.Tensor,
        sweeps: torch.Tensor,
        diag: torch.Tensor,
        rhs: torch.Tensor,
    ) -> torch.Tensor:
        check_backward_args(S, V, free, order, sweeps, diag, rhs)
        _require_cpu(S)
        C, V, free, order = _gram(S), V.contiguous(), free.contiguous(), order.contiguous()
        sweeps, diag, rhs = sweeps.contiguous(), diag.contiguous(), rhs.contiguous()
        U = torch.zeros_like(V)
        B, n1, k = V.shape
        failed = getattr(self._lib, f"satnet_backward_{_suffix(S.dtype)}")(
            C.data_ptr(), V.data_ptr(), free.data_ptr(), order.data_ptr(), sweeps.data_ptr(),
            diag.data_ptr(), rhs.data_ptr(), U.data_ptr(), B, order.numel(), n1, k, _threads(free, k),
        )
        _check(failed, n1, k)
        return U
