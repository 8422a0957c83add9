"""solverlayers.datasets.glyphs: seeded, distinct, recognisable symbol images."""

import numpy as np
import pytest
import torch

from solverlayers.datasets import LETTERS, OPERATORS, SYMBOLS, load_glyph_images, render_glyphs


def test_shape_range_and_darkest_pixel() -> None:
    for size in (8, 28):
        images = render_glyphs("+", 5, size=size, seed=1)
        assert images.shape == (5, 1, size, size) and images.dtype == torch.float32
        assert images.min() >= 0 and torch.allclose(images.amax(dim=(1, 2, 3)), torch.ones(5))


def test_seed_repeats_and_samples_differ() -> None:
    a, b = render_glyphs("x", 10, seed=3), render_glyphs("x", 10, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, render_glyphs("x", 10, seed=4))
    flat = a.flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) == 10  # every sample its own
    assert (torch.cdist(flat, flat) + torch.eye(10) * 1e9).min() > 0.1


def test_shared_generator_advances() -> None:
    rng = np.random.default_rng(0)
    assert not torch.equal(render_glyphs("=", 4, seed=rng), render_glyphs("=", 4, seed=rng))


def test_symbol_set() -> None:
    assert OPERATORS == ("*", "+", "=") and "x" in LETTERS and SYMBOLS == OPERATORS + LETTERS


def test_symbols_are_told_apart_by_nearest_centroid() -> None:
    """Fresh samples sit nearest their own symbol's mean image: the symbols are distinct."""
    train, labels = load_glyph_images(per_symbol=40, seed=0)
    centroids = torch.stack([train[labels == k].mean(0).flatten() for k in range(len(SYMBOLS))])
    test, truth = load_glyph_images(per_symbol=10, seed=1)
    guess = torch.cdist(test.flatten(1), centroids).argmin(1)
    assert (guess == truth).float().mean() > 0.85


def test_ink_like_the_digits() -> None:
    """About as much ink as scikit-learn's 8x8 digits (mean intensity 0.31)."""
    images, _ = load_glyph_images(per_symbol=10, seed=0)
    assert 0.2 < float(images.mean()) < 0.45


def test_bad_input_names_the_fix() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        render_glyphs("Q", 1)
    with pytest.raises(ValueError, match="size >= 2"):
        render_glyphs("+", 1, size=1)
    with pytest.raises(ValueError, match="thickness"):
        render_glyphs("+", 1, thickness=(0.2, 0.1))
