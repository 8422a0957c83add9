"""solverlayers.datasets.digits: the bundled digits and MNIST IDX files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from solverlayers.datasets import load_digit_images, read_idx


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    (gzip.open if compress else open)(path, "wb").write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips_plain_and_gzipped(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 3, 4), dtype=np.uint8)
    write_idx(tmp_path / "a-idx3-ubyte", array)
    write_idx(tmp_path / "b-idx3-ubyte.gz", array, compress=True)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), array)


def test_read_idx_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        read_idx(tmp_path / "x")
    write_idx(tmp_path / "short", np.zeros((4, 2), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short")


def test_mnist_folder_gives_its_own_split_scaled_to_unit_interval(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for split, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{split}-labels.idx1-ubyte.gz", rng.integers(0, 10, n), compress=True)  # other spelling
    (x_tr, y_tr), (x_te, y_te) = load_digit_images(tmp_path)
    assert x_tr.shape == (6, 1, 28, 28) and x_te.shape == (4, 1, 28, 28)
    assert y_tr.dtype == torch.long and 0 <= float(x_tr.min()) and float(x_tr.max()) <= 1


def test_missing_mnist_files_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_digit_images(tmp_path)


def test_bundled_digits_split_is_disjoint_and_seeded() -> None:
    (x_tr, y_tr), (x_te, y_te) = load_digit_images(test_fraction=0.25, seed=3)
    assert len(y_tr) + len(y_te) == 1797 and abs(len(y_te) - 0.25 * 1797) < 2
    flat = {tuple(x.flatten().tolist()) for x in x_tr}
    assert sum(tuple(x.flatten().tolist()) in flat for x in x_te) < 20  # the data has a few duplicate images
    again = load_digit_images(test_fraction=0.25, seed=3)
    assert torch.equal(again[0][0], x_tr) and not torch.equal(load_digit_images(test_fraction=0.25, seed=4)[0][1], y_tr)
    with pytest.raises(ValueError, match="test_fraction"):
        load_digit_images(test_fraction=1.0)
