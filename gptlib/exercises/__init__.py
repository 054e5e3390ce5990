"""Checkers for the exercises that end each notebook.

Every exercise has one checker here, named ``check_<exercise>``. A checker calls the student's
function on cases it knows the answer to and returns a :class:`Feedback` that says *what* is
wrong ("row 2 sums to 3.0, not 1"), not just pass/fail. Solutions live in
``notebooks/solutions/<notebook>.py``; the test suite runs each through its checker, and each
checker against wrong answers it must reject.

>>> from gptlib.exercises import check_smoothed_bigram_probs
>>> check_smoothed_bigram_probs(lambda counts, alpha: counts)   # doctest: +SKIP
❌ 00_welcome.smoothed_bigram_probs: ...
"""

from ._core import EXERCISES, Feedback
from .welcome import check_smoothed_bigram_probs

__all__ = ["EXERCISES", "Feedback", "check_smoothed_bigram_probs"]
