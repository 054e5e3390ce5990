"""Checkers for the exercises that end each notebook.

Every exercise has one checker, ``check_<exercise>``, in the module of its notebook
(``welcome.py`` for 00_welcome, ...), or, for a notebook whose checkers would make one long module,
in a package with a module per exercise (``training/`` for 06_training); all of them are importable
from here. A checker calls the
student's function on cases it knows the answer to and returns a :class:`Feedback` that says
*what* is wrong ("row 2 sums to 3.000"), not just pass/fail.

Each checker knows the typical mistakes of its exercise, a catalogue of :class:`Mistake` entries next
to it (``check_<exercise>.mistakes``): the message each one gets and an example wrong answer that
makes it. It declares the parameters it calls the student's function with as the notebook's stub
writes them (``check_<exercise>.stub``). Solutions live in ``notebooks/solutions/<notebook>.py``;
the test suite runs each through its checker, feeds every catalogued example to its checker
(and the few other wrong answers in ``tests/wrong_answers/<notebook>.py``), and compares each
stub in the notebooks with its solution and its checker.

>>> from gptlib.exercises import check_smoothed_bigram_probs
>>> feedback = check_smoothed_bigram_probs(lambda counts, alpha: counts.float())
>>> feedback
❌ 00_welcome.smoothed_bigram_probs: with alpha=1.0, your weights do not sum to 1 along the last axis: row 0 sums to 6.000
>>> feedback.mistake, check_smoothed_bigram_probs.stub
('rows_do_not_sum_to_one', 'def smoothed_bigram_probs(counts, alpha=1.0):')
"""

import importlib
import pkgutil

from ._core import EXERCISES, Catalogue, Feedback, Mistake

__all__ = ["EXERCISES", "Catalogue", "Feedback", "Mistake"]

# Import every notebook's module (which registers its checkers) and re-export its check_* functions.
for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in dir(_module):
            if _name.startswith("check_"):
                globals()[_name] = getattr(_module, _name)
                __all__.append(_name)
