"""``make_task``: the train and test examples of one task, deterministic and disjoint.

- :data:`TASKS`, :data:`SPLITS`  the task names and the two kinds of split
- :func:`task_size`              how many distinct examples a task has
- :func:`make_task`              ``(train, test)`` lists of :class:`~gptlib.tasks.formats.Example`

The tasks, their space, and what the compositional split holds out (the two *parts* of an item;
see :mod:`gptlib.tasks.splits`):

===================  ==========================================  ======================================
task                 items                                       compositional split holds out
===================  ==========================================  ======================================
``translate_en_zh``  the numbers 0..999                          (hundreds digit, last two digits)
``words_to_digits``  the numbers 0..999                          (hundreds digit, last two digits)
``dates``            every date of 1950..2049 (36 525)           (month, day of month)
``qa``               (person, field) of the 576-person table     (person, field)
``summarize``        every weather report (90 720)               (city, template)
===================  ==========================================  ======================================

Read the last column as: a test number's hundreds digit is in training, and so are its last two
digits (305: some 3xx and some x05 are trained on), but never that hundreds digit with those last
two digits (305 itself); a test date's day-month ("the fifth of June") is never in training in any
year, though June and the fifth are; a test question asks for a field of a person never asked that
field in training, though that person (for another field) and that field (for other people) were;
a test report puts a city in a sentence template it never had in training.

Everything is drawn with ``random.Random(seed)``: the same seed gives the same lists, and no test
prompt is a training prompt.

>>> train, test = make_task("words_to_digits", n_train=5, n_test=2, seed=0)
>>> len(train), len(test), train == make_task("words_to_digits", 5, 2, seed=0)[0]
(5, 2, True)
>>> set(e.prompt for e in train) & set(e.prompt for e in test)
set()
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .._checks import check_int, is_int
from . import facts, reports
from .dates import all_dates
from .formats import Example, dates_example, qa_example, summarize_example, translate_en_zh_example
from .formats import words_to_digits_example
from .splits import compositional_split, random_split

__all__ = ["TASKS", "SPLITS", "NUMBER_RANGE", "YEAR_RANGE", "task_size", "make_task"]

TASKS = ("translate_en_zh", "words_to_digits", "dates", "qa", "summarize")
SPLITS = ("random", "compositional")
NUMBER_RANGE = range(0, 1000)  # the numbers of the two number tasks
YEAR_RANGE = (1950, 2049)  # the years of the dates task, both included


@dataclass(frozen=True)
class _Setup:
    items: Sequence[Any]
    parts: Callable[[Any], tuple[Hashable, Hashable]]
    example: Callable[[Any, random.Random], Example]  # item, rng -> Example
    min_held_cells: int  # the compositional split holds out at least this many cells


@lru_cache(maxsize=1)
def _dates() -> tuple:
    return tuple(all_dates(*YEAR_RANGE))


@lru_cache(maxsize=1)
def _weather() -> tuple:
    return tuple(reports.all_weather())


def _setup(name: str, seed: int) -> _Setup:
    if name in ("translate_en_zh", "words_to_digits"):
        to_example = translate_en_zh_example if name == "translate_en_zh" else words_to_digits_example
        return _Setup(NUMBER_RANGE, lambda n: divmod(n, 100), lambda n, rng: to_example(n), 1)
    if name == "dates":
        return _Setup(_dates(), lambda d: (d.month, d.day), lambda d, rng: dates_example(d), 24)
    if name == "qa":
        table = facts.fact_table(seed)

        def qa(item: tuple[int, str], rng: random.Random) -> Example:
            person, field = table[item[0]], item[1]
            other = rng.randrange(len(table) - 1)
            distractor = table[other + (other >= item[0])]  # anyone but the person asked about
            return qa_example(*facts.qa_triple(person, field, distractor, person_first=rng.random() < 0.5))

        items = [(i, field) for i in range(len(table)) for field in facts.FIELDS]
        return _Setup(items, lambda item: item, qa, 1)
    if name == "summarize":

        def summarize(w: reports.Weather, rng: random.Random) -> Example:
            return summarize_example(reports.report(w), reports.summary(w))

        return _Setup(_weather(), lambda w: (w.city, w.template), summarize, 12)
    raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")


def _check_name(name: object) -> str:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return name  # type: ignore[return-value]


def task_size(name: str) -> int:
    """How many distinct examples the task ``name`` has (``n_train + n_test`` can be at most this).

    >>> [task_size(name) for name in TASKS]
    [1000, 1000, 36525, 1728, 90720]
    """
    return len(_setup(_check_name(name), seed=0).items)


def make_task(
    name: str, n_train: int, n_test: int, seed: int, split: str = "random"
) -> tuple[list[Example], list[Example]]:
    """``(train, test)`` examples of task ``name`` (see :data:`TASKS`), disjoint, drawn with ``seed``.

    ``split="random"`` draws ``n_train + n_test`` distinct items; ``split="compositional"`` holds
    out combinations whose parts are all in training (the table in the module docstring).

    >>> make_task("translate", 10, 10, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: unknown task 'translate'; known tasks: translate_en_zh, words_to_digits, dates, qa, summarize
    >>> make_task("words_to_digits", 990, 20, seed=0)
    Traceback (most recent call last):
    ...
    ValueError: make_task('words_to_digits'): n_train + n_test = 1010, but the task has only 1000 distinct examples
    """
    name = _check_name(name)
    if split not in SPLITS:
        raise ValueError(f"make_task: split must be one of {SPLITS}, got {split!r}")
    n_train = check_int("make_task: n_train", n_train, minimum=0)
    n_test = check_int("make_task: n_test", n_test, minimum=0)
    if not is_int(seed):
        raise ValueError(f"make_task: seed must be an integer, got {seed!r}")
    setup = _setup(name, int(seed))
    if n_train + n_test > len(setup.items):
        raise ValueError(
            f"make_task({name!r}): n_train + n_test = {n_train + n_test}, but the task has only "
            f"{len(setup.items)} distinct examples"
        )
    rng = random.Random(int(seed))
    try:
        if split == "random":
            train_items, test_items = random_split(setup.items, n_train, n_test, rng)
        else:
            train_items, test_items = compositional_split(
                setup.items, setup.parts, n_train, n_test, rng, setup.min_held_cells
            )
    except ValueError as err:
        raise ValueError(f"make_task({name!r}, split={split!r}): {err}") from None
    train = [setup.example(item, rng) for item in train_items]
    test = [setup.example(item, rng) for item in test_items]
    seen = {ex.prompt for ex in train}
    if len(seen) != len(train) or any(ex.prompt in seen for ex in test):  # items are distinct, so prompts are
        raise RuntimeError(f"make_task({name!r}): a prompt repeats; the item -> prompt map is not one-to-one")
    return train, test
