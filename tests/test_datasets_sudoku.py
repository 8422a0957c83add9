"""The Sudoku generator: unique solutions (checked by a brute-force solver here), givens, seeds,
encodings, input errors and the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import solverlayers as sl
from solverlayers.datasets import sudoku
from solverlayers.datasets.sudoku import (
    decode, generate_sudoku, is_valid_solution, load_sudoku, one_hot, valid_solutions,
)


def count_solutions(puzzle: np.ndarray, limit: int = 2) -> tuple[int, np.ndarray | None]:
    """Solutions of ``puzzle`` counted up to ``limit`` by backtracking, and the first one found."""
    grid = puzzle.astype(int).copy()
    found: list[np.ndarray] = []

    def candidates(r: int, c: int) -> set[int]:
        b = grid[r // 3 * 3:r // 3 * 3 + 3, c // 3 * 3:c // 3 * 3 + 3]
        return set(range(1, 10)) - set(grid[r]) - set(grid[:, c]) - set(b.ravel())

    def search() -> None:
        blanks = [(len(candidates(r, c)), r, c) for r, c in zip(*np.nonzero(grid == 0))]
        if not blanks:
            found.append(grid.copy())
            return
        _, r, c = min(blanks)
        for d in candidates(r, c):
            grid[r, c] = d
            search()
            grid[r, c] = 0
            if len(found) >= limit:
                return

    search()
    return len(found), (found[0] if found else None)


def check_puzzles(puzzles: np.ndarray, solutions: np.ndarray, givens: int) -> None:
    assert puzzles.shape == solutions.shape and puzzles.shape[1:] == (9, 9)
    assert puzzles.dtype == solutions.dtype == np.int8
    assert ((puzzles != 0).sum((1, 2)) == givens).all()
    assert ((puzzles == solutions) | (puzzles == 0)).all()
    assert valid_solutions(solutions).all()
    for puzzle, solution in zip(puzzles, solutions):
        count, first = count_solutions(puzzle)
        assert count == 1
        np.testing.assert_array_equal(first, solution)


def test_brute_force_counter_sees_several_solutions() -> None:
    assert count_solutions(np.zeros((9, 9), np.int8))[0] == 2


@pytest.fixture(scope="module")
def generated() -> tuple[np.ndarray, np.ndarray]:
    return generate_sudoku(12, seed=3)


def test_pysat_puzzles_have_unique_solutions(generated) -> None:
    puzzles, solutions = generated
    check_puzzles(puzzles, solutions, 36)
    assert len({p.tobytes() for p in puzzles}) == 12


@pytest.mark.parametrize(("backend", "n", "givens"), [("z3", 2, 36), ("cvc5", 1, 45)])
def test_other_backends_generate_unique_puzzles(backend: str, n: int, givens: int) -> None:
    if backend not in {spec.name for spec in sl.list_backends()}:
        pytest.skip(f"{backend} is not installed")
    puzzles, solutions = generate_sudoku(n, givens=givens, seed=5, backend=backend)
    check_puzzles(puzzles, solutions, givens)


def test_givens_target_and_full_grids() -> None:
    check_puzzles(*generate_sudoku(1, givens=25, seed=1), givens=25)
    puzzles, solutions = generate_sudoku(2, givens=81, seed=1)
    np.testing.assert_array_equal(puzzles, solutions)


def test_seeds_reproduce_and_differ(generated) -> None:
    again = generate_sudoku(4, seed=3)  # the same seed: the same puzzles, a prefix of the longer run
    for a, b in zip(generated, again):
        np.testing.assert_array_equal(a[:4], b)
    other = generate_sudoku(4, seed=8)
    assert not (other[0] == generated[0][:4]).all((1, 2)).any()
    assert not (other[1] == generated[1][:4]).all((1, 2)).any()


def test_valid_solutions_rejects_broken_grids(generated) -> None:
    solution = generated[1][0]
    assert is_valid_solution(solution) and is_valid_solution(torch.from_numpy(solution))
    swapped = solution.copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # rows still hold 1..9; two columns no longer do
    blank, big = solution.copy(), solution.astype(np.int64)
    blank[4, 4] = 0
    big[0, 0] = 10
    assert valid_solutions(np.stack([solution, swapped, blank, solution])).tolist() == [True, False, False, True]
    assert not is_valid_solution(big)
    latin = (np.arange(9)[:, None] + np.arange(9)) % 9 + 1  # rows and columns fine, boxes not
    assert not is_valid_solution(latin)


def test_one_hot_and_decode_round_trip(generated) -> None:
    puzzles, solutions = generated[0][:3], generated[1][:3]
    codes = one_hot(solutions)
    assert codes.shape == (3, 729) and codes.dtype == np.float32 and (codes.sum(1) == 81).all()
    np.testing.assert_array_equal(decode(codes), solutions)
    assert codes[0, 9 * 9 * 2 + 9 * 5 + int(solutions[0, 2, 5]) - 1] == 1  # index (r * 9 + c) * 9 + d - 1
    given = one_hot(puzzles).reshape(3, 81, 9)
    assert (given.sum(2) == (puzzles.reshape(3, 81) != 0)).all()  # blank cells are all zero
    tensor = one_hot(torch.from_numpy(solutions))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    assert torch.equal(decode(tensor + 0.1 * torch.rand(3, 729)), torch.from_numpy(solutions).long())


@pytest.mark.parametrize(("call", "message"), [
    (lambda: generate_sudoku(0), "n must be"),
    (lambda: generate_sudoku(2, givens=16), "givens must be an int from 17 to 81"),
    (lambda: generate_sudoku(2, givens=82), "givens must be"),
    (lambda: generate_sudoku(2, givens=True), "givens must be"),
    (lambda: generate_sudoku(2, seed=-1), "seed must be"),
    (lambda: load_sudoku(1, givens=3), "givens must be"),
    (lambda: load_sudoku(1, seed=-2), "seed must be"),
    (lambda: one_hot(np.zeros((9, 9), int)), "add a batch axis"),
    (lambda: one_hot(np.zeros((2, 9, 8), int)), "shape"),
    (lambda: one_hot(np.full((1, 9, 9), 10)), "digits 1..9"),
    (lambda: one_hot(np.zeros((1, 9, 9), float)), "integers"),
    (lambda: decode(np.zeros((2, 81))), r"\(n, 729\)"),
    (lambda: valid_solutions(np.zeros((2, 81), int)), "shape"),
    (lambda: is_valid_solution(np.zeros((2, 9, 9), int)), "valid_solutions"),
])
def test_bad_input_is_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_load_caches_atomically(tmp_path, monkeypatch) -> None:
    puzzles, solutions = load_sudoku(3, seed=6, cache_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["sudoku_n3_givens36_seed6_pysat.npz"]
    check_puzzles(puzzles, solutions, 36)

    def no_generation(*args, **kwargs):
        raise AssertionError("the cached file should have been read")

    monkeypatch.setattr(sudoku, "generate_sudoku", no_generation)
    cached = load_sudoku(3, seed=6, cache_dir=tmp_path)
    np.testing.assert_array_equal(cached[0], puzzles)
    np.testing.assert_array_equal(cached[1], solutions)
    with pytest.raises(AssertionError, match="cached"):
        load_sudoku(3, seed=9, cache_dir=tmp_path)  # another key is another file
