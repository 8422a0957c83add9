"""Digit images: scikit-learn's bundled 8x8 digits by default, real MNIST from IDX files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

Images = tuple[torch.Tensor, torch.Tensor]  # images (n, 1, h, w) in [0, 1], labels (n,) int64


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as an array of its declared shape."""
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = raw[3]
    shape = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} bytes of data")
    return data.reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    names = (stem, stem.replace("-idx", ".idx"))
    for name in names + tuple(f"{n}.gz" for n in names):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"no {stem} (or .idx / .gz variants) in {folder}: give the folder holding the MNIST "
                            "IDX files, or no folder for the bundled digits")


def load_digit_images(mnist_dir: str | Path | None = None, *, test_fraction: float = 0.3,
                      seed: int = 0) -> tuple[Images, Images]:
    """``(train, test)`` digit images in [0, 1] with their labels.

    With ``mnist_dir``, MNIST's own train/test split from its IDX files; otherwise scikit-learn's
    1,797 8x8 digits, split at random (``seed``) with ``test_fraction`` held out.
    """
    if mnist_dir:
        folder = Path(mnist_dir)
        parts = [(read_idx(_find(folder, f"{s}-images-idx3-ubyte")), read_idx(_find(folder, f"{s}-labels-idx1-ubyte")))
                 for s in ("train", "t10k")]
        return tuple((torch.tensor(x[:, None] / 255.0, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
                     for x, y in parts)  # type: ignore[return-value]
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    cut = int(len(order) * (1 - test_fraction))
    images = torch.tensor(digits.images[:, None] / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target, dtype=torch.long)
    return (images[order[:cut]], labels[order[:cut]]), (images[order[cut:]], labels[order[cut:]])
