"""Handwritten-looking letters and operator symbols, drawn here from strokes (nothing downloaded).

Stand-ins for EMNIST letters and HASY symbols at the resolution of the digit images: each symbol
is a few polylines in a unit box; every sample gets its own random rotation, scale, shear, shift,
smooth wobble, per-point jitter and stroke thickness from a seeded generator, is rasterised with
anti-aliasing at 4x resolution (2x above 16 pixels) and area-averaged down to ``size x size`` in [0, 1]::

    images = render_glyphs("+", 100, size=8, seed=0)         # (100, 1, 8, 8)
    images, labels = load_glyph_images(per_symbol=50, size=28)  # every symbol, MNIST-sized
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["OPERATORS", "LETTERS", "SYMBOLS", "render_glyphs", "load_glyph_images"]

Stroke = list[tuple[float, float]]  # points (x right, y down) in the unit box


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 10) -> Stroke:
    """Points of an elliptic arc from ``start`` to ``stop`` degrees (0 = right, 90 = down)."""
    t = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


# x-height letters sit in y 0.35..0.85; ascenders reach 0.1, descenders 1.0
_STROKES: dict[str, list[Stroke]] = {
    "*": [[(0.5, 0.25), (0.5, 0.75)], [(0.28, 0.37), (0.72, 0.63)], [(0.28, 0.63), (0.72, 0.37)]],
    "+": [[(0.5, 0.15), (0.5, 0.85)], [(0.15, 0.5), (0.85, 0.5)]],
    "=": [[(0.15, 0.35), (0.85, 0.35)], [(0.15, 0.65), (0.85, 0.65)]],
    "a": [_arc(0.45, 0.6, 0.25, 0.25, -20, 340, 14), [(0.72, 0.35), (0.72, 0.85)]],
    "b": [[(0.3, 0.1), (0.3, 0.85)], _arc(0.5, 0.62, 0.22, 0.23, 180, 540, 14)],
    "c": [_arc(0.52, 0.6, 0.27, 0.25, -40, -320, 12)],
    "d": [[(0.7, 0.1), (0.7, 0.85)], _arc(0.5, 0.62, 0.22, 0.23, 0, 360, 14)],
    "e": [[(0.25, 0.6), (0.75, 0.6)] + _arc(0.5, 0.6, 0.25, 0.25, 0, -320, 12)],
    "h": [[(0.3, 0.1), (0.3, 0.85)], [(0.3, 0.6)] + _arc(0.5, 0.6, 0.2, 0.2, 180, 360, 7) + [(0.7, 0.85)]],
    "k": [[(0.3, 0.1), (0.3, 0.85)], [(0.7, 0.35), (0.3, 0.62), (0.72, 0.85)]],
    "m": [[(0.15, 0.35), (0.15, 0.85)], _arc(0.325, 0.52, 0.175, 0.17, 180, 360, 6) + [(0.5, 0.85)],
          _arc(0.675, 0.52, 0.175, 0.17, 180, 360, 6) + [(0.85, 0.85)]],
    "n": [[(0.3, 0.35), (0.3, 0.85)], [(0.3, 0.6)] + _arc(0.5, 0.6, 0.2, 0.22, 180, 360, 7) + [(0.7, 0.85)]],
    "p": [[(0.3, 0.35), (0.3, 1.0)], _arc(0.5, 0.55, 0.22, 0.2, 180, 540, 14)],
    "r": [[(0.35, 0.35), (0.35, 0.85)], [(0.35, 0.55)] + _arc(0.55, 0.55, 0.2, 0.17, 180, 300, 6)],
    "s": [_arc(0.5, 0.47, 0.2, 0.12, -30, -270, 8) + _arc(0.5, 0.71, 0.2, 0.12, -90, 150, 8)],
    "t": [[(0.45, 0.12), (0.45, 0.78)] + _arc(0.6, 0.78, 0.15, 0.08, 180, 90, 4), [(0.22, 0.35), (0.72, 0.35)]],
    "u": [[(0.3, 0.35)] + _arc(0.5, 0.62, 0.2, 0.23, 180, 0, 8), [(0.7, 0.35), (0.72, 0.85)]],
    "v": [[(0.22, 0.35), (0.5, 0.85), (0.78, 0.35)]],
    "w": [[(0.12, 0.35), (0.3, 0.85), (0.5, 0.5), (0.7, 0.85), (0.88, 0.35)]],
    "x": [[(0.25, 0.35), (0.75, 0.85)], [(0.75, 0.35), (0.25, 0.85)]],
    "y": [[(0.25, 0.35), (0.5, 0.75)], [(0.75, 0.35), (0.4, 1.0)]],
    "z": [[(0.25, 0.35), (0.75, 0.35), (0.25, 0.85), (0.75, 0.85)]],
}

OPERATORS: tuple[str, ...] = ("*", "+", "=")
LETTERS: tuple[str, ...] = tuple(s for s in _STROKES if s.isalpha())
SYMBOLS: tuple[str, ...] = OPERATORS + LETTERS

def _segments(symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """The symbol's points ``(k, 2)`` and its segments as point-index pairs ``(s, 2)``."""
    if symbol not in _STROKES:
        raise ValueError(f"no glyph for {symbol!r}; choose one of: {' '.join(SYMBOLS)}")
    points, pairs = [], []
    for stroke in _STROKES[symbol]:
        start = len(points)
        points += stroke
        pairs += [(start + i, start + i + 1) for i in range(len(stroke) - 1)]
    return np.array(points, np.float64), np.array(pairs, np.int64)


def _distort(points: np.ndarray, n: int, rng: np.random.Generator, rotation: float, shift: float,
             jitter: float) -> np.ndarray:
    """``(n, k, 2)`` randomly distorted copies of ``points``, still centred near the unit box."""
    centred = points - 0.5
    angle = np.radians(rng.uniform(-rotation, rotation, n))
    scale = rng.uniform(0.8, 1.05, (n, 2))
    shear = rng.uniform(-0.2, 0.2, n)
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    shape = np.zeros((n, 2, 2))
    shape[:, 0, 0], shape[:, 1, 1], shape[:, 0, 1] = scale[:, 0], scale[:, 1], shear
    out = np.einsum("nij,njk,pk->npi", rot, shape, centred)
    phase, freq = rng.uniform(0, 2 * np.pi, (n, 1, 2)), rng.uniform(2.0, 5.0, (n, 1, 2))
    out += 0.03 * np.sin(freq * out[:, :, ::-1] + phase)  # a smooth wobble of the whole glyph
    out += rng.normal(0.0, jitter, out.shape)
    lo, hi = out.min(axis=1, keepdims=True), out.max(axis=1, keepdims=True)  # as MNIST: the longer side
    span = (hi - lo).max(axis=2, keepdims=True)                               # fills the box, centred
    out = (out - (lo + hi) / 2) / np.maximum(span, 1e-6) * rng.uniform(0.85, 1.0, (n, 1, 1))
    return out + 0.5 + rng.uniform(-shift, shift, (n, 1, 2))


def _rasterise(points: np.ndarray, pairs: np.ndarray, radius: np.ndarray, size: int, fill: float) -> np.ndarray:
    """``(n, size, size)`` ink in [0, 1]: distance to the nearest segment, anti-aliased at
    ``k`` times the resolution, then area-averaged."""
    k = 4 if size <= 16 else 2
    hi = size * k
    axis = ((np.arange(hi) + 0.5) / hi - 0.5) / fill + 0.5  # pixel centres in glyph coordinates
    grid = np.stack(np.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2).astype(np.float32)
    out = np.empty((len(points), size, size), np.float32)
    chunk = max(1, (1 << 23) // (len(grid) * len(pairs)))
    for lo in range(0, len(points), chunk):
        p = points[lo:lo + chunk].astype(np.float32)
        a, b = p[:, pairs[:, 0]], p[:, pairs[:, 1]]  # (m, s, 2)
        ab = b - a
        t = ((grid[None, :, None] - a[:, None]) * ab[:, None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9)[:, None]
        nearest = a[:, None] + np.clip(t, 0, 1)[..., None] * ab[:, None]
        dist = np.sqrt(((grid[None, :, None] - nearest) ** 2).sum(-1)).min(-1)  # (m, hi*hi)
        soft = 1.0 / (hi * fill)  # one fine pixel of anti-aliasing
        ink = np.clip((radius[lo:lo + chunk, None] - dist) / soft + 0.5, 0, 1).reshape(-1, size, k, size, k)
        out[lo:lo + chunk] = ink.mean(axis=(2, 4))
    return out


def render_glyphs(symbol: str, n: int, *, size: int = 8, seed: int | np.random.Generator = 0,
                  rotation: float = 15.0, shift: float = 0.06, jitter: float = 0.015,
                  thickness: tuple[float, float] = (0.11, 0.2), fill: float | None = None) -> torch.Tensor:
    """``n`` distinct handwritten-looking images ``(n, 1, size, size)`` of ``symbol`` in [0, 1].

    Args:
        symbol: one of :data:`SYMBOLS` (``*``, ``+``, ``=`` and lower-case letters).
        n: how many samples.
        size: the image side (8 matches scikit-learn's digits, 28 MNIST).
        seed: an int or a NumPy generator (drawn from, so successive calls differ).
        rotation: the largest rotation in degrees, either way.
        shift: the largest translation, as a fraction of the glyph box.
        jitter: the standard deviation of each stroke point's noise, as a fraction of the box.
        thickness: the range of stroke widths, as fractions of the box.
        fill: the fraction of the image the glyph box spans (default 0.95 up to 16 pixels, else
            20/28 as MNIST's digit box).
    """
    if n < 0 or size < 2:
        raise ValueError(f"need n >= 0 and size >= 2, got n={n}, size={size}")
    if not 0 < thickness[0] <= thickness[1]:
        raise ValueError(f"thickness must be a range (lo, hi) with 0 < lo <= hi, got {thickness}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    points, pairs = _segments(symbol)
    fill = fill if fill is not None else (0.95 if size <= 16 else 20 / 28)
    moved = _distort(points, n, rng, rotation, shift, jitter)
    radius = rng.uniform(*thickness, n).astype(np.float32) / 2
    ink = _rasterise(moved, pairs, radius, size, fill)
    ink /= np.maximum(ink.max(axis=(1, 2), keepdims=True), 1e-6)  # darkest pixel 1, as the digits
    return torch.from_numpy(ink[:, None])


def load_glyph_images(symbols: Sequence[str] = SYMBOLS, per_symbol: int = 100, *, size: int = 8,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(len(symbols) * per_symbol, 1, size, size)`` and labels (indices into ``symbols``),
    grouped by symbol; the same ``seed`` gives the same images."""
    rng = np.random.default_rng(seed)
    images = [render_glyphs(s, per_symbol, size=size, seed=rng) for s in symbols]
    labels = torch.arange(len(symbols)).repeat_interleave(per_symbol)
    return torch.cat(images) if images else torch.zeros(0, 1, size, size), labels
