"""Small real and synthetic sequence data sets.

- :func:`make_shape_sequences`: synthetic variable-length sequences whose
  classes share mean and variance and differ only in the shape of their
  per-step value distribution.
- :func:`load_japanese_vowels`: the JapaneseVowels speaker recognition data
  (UCI, CC BY 4.0), shipped with the package.
"""

from ._japanese_vowels import load_japanese_vowels
from ._shape_sequences import make_shape_sequences

__all__ = ["load_japanese_vowels", "make_shape_sequences"]
