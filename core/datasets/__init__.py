"""Data for the papers' experiments, embedded or generated: nothing is downloaded.

* :mod:`.digits`: handwritten digit images (scikit-learn's 8x8 digits, or MNIST IDX files
  from a folder the user names).
* :mod:`.glyphs`: handwritten-looking letters and operator symbols drawn from strokes, at the
  digits' resolution (stand-ins for EMNIST and HASY).
* :mod:`.liars`: the liar's puzzle, three generated sentences per instance, and its split.
* :mod:`.sudoku`: Sudoku puzzles with unique solutions, generated (and cached) with the SAT
  backends, their validity check and the 729-wide one-hot layout.
"""

from .digits import load_digit_images, read_idx
from .glyphs import LETTERS, OPERATORS, SYMBOLS, load_glyph_images, render_glyphs
from .liars import LiarsBatch, LiarsPuzzles
from .sudoku import decode, generate_sudoku, is_valid_solution, load_sudoku, one_hot, valid_solutions

__all__ = ["load_digit_images", "read_idx", "LETTERS", "OPERATORS", "SYMBOLS", "load_glyph_images", "render_glyphs",
           "LiarsPuzzles", "LiarsBatch", "generate_sudoku", "load_sudoku", "is_valid_solution", "valid_solutions",
           "one_hot", "decode"]
