"""Data for the papers' experiments, embedded or generated: nothing is downloaded.

* :mod:`.digits`: handwritten digit images (scikit-learn's 8x8 digits, or MNIST IDX files
  from a folder the user names).
"""

from .digits import load_digit_images, read_idx

__all__ = ["load_digit_images", "read_idx"]
