"""Train/test splits of a task's items: random, and compositional.

- :func:`random_split`         ``n_train + n_test`` distinct items drawn at random, cut in two
- :func:`compositional_split`  test items are *combinations* never seen in training, whose parts were

Every item has two parts, ``parts(item) -> (a, b)``; a *cell* is one ``(a, b)`` pair, and may hold
many items (the dates task: the cell (month, day) holds that day in every year). The compositional
split

1. holds out whole cells, in a seeded order, keeping for each one at least one other cell with the
   same ``a`` and one with the same ``b`` (so both parts stay learnable), until the held-out cells
   hold ``n_test`` items and number at least ``min_held_cells``;
2. draws the test items from the held-out cells;
3. draws the training items from the other cells, first one for every part of the test set that
   is not yet shown (so every test ``a`` and every test ``b`` appears in training), then at random.

So no training item shares a cell with a test item, yet each part of each test item is in training.

>>> import random
>>> numbers = range(100)   # parts: (tens digit, units digit)
>>> train, test = compositional_split(numbers, lambda n: divmod(n, 10), 60, 10, random.Random(0))
>>> sorted(set(train) & set(test))
[]
>>> all(any(m // 10 == n // 10 for m in train) and any(m % 10 == n % 10 for m in train) for n in test)
True
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from .._checks import check_int

__all__ = ["random_split", "compositional_split"]

T = TypeVar("T")


def _check_sizes(n_train: object, n_test: object, who: str) -> tuple[int, int]:
    return check_int(f"{who}: n_train", n_train, minimum=0), check_int(f"{who}: n_test", n_test, minimum=0)


def random_split(items: Sequence[T], n_train: int, n_test: int, rng: random.Random) -> tuple[list[T], list[T]]:
    """``n_train`` and ``n_test`` items, all distinct, drawn at random with ``rng``.

    >>> train, test = random_split("abcdef", 2, 1, random.Random(0))
    >>> len(train), len(test), len(set(train + test))
    (2, 1, 3)
    """
    n_train, n_test = _check_sizes(n_train, n_test, "random_split")
    if n_train + n_test > len(items):
        raise ValueError(
            f"random_split: n_train + n_test = {n_train + n_test}, but there are only {len(items)} distinct items"
        )
    chosen = rng.sample(items, n_train + n_test)
    return chosen[:n_train], chosen[n_train:]


def compositional_split(
    items: Sequence[T],
    parts: Callable[[T], tuple[Hashable, Hashable]],
    n_train: int,
    n_test: int,
    rng: random.Random,
    min_held_cells: int = 1,
) -> tuple[list[T], list[T]]:
    """Train and test items such that no test cell ``parts(item)`` is in training, but its parts are.

    See the module docstring for the procedure. ``ValueError`` when the held-out cells cannot hold
    ``n_test`` items, when ``n_train`` is too small to show every part of the test set, or when too
    few training items are left.
    """
    n_train, n_test = _check_sizes(n_train, n_test, "compositional_split")
    min_held_cells = check_int("compositional_split: min_held_cells", min_held_cells, minimum=0)
    cells: dict[tuple[Hashable, Hashable], list[T]] = {}  # insertion-ordered: no set order leaks in
    for item in items:
        cells.setdefault(tuple(parts(item)), []).append(item)  # type: ignore[arg-type]
    order = list(cells)
    rng.shuffle(order)

    a_left = Counter(a for a, _ in order)  # cells per part still available to training
    b_left = Counter(b for _, b in order)
    held: list[tuple[Hashable, Hashable]] = []
    n_held_items = 0
    for cell in order:
        if n_held_items >= n_test and len(held) >= min_held_cells:
            break
        a, b = cell
        if a_left[a] > 1 and b_left[b] > 1:
            held.append(cell)
            a_left[a] -= 1
            b_left[b] -= 1
            n_held_items += len(cells[cell])
    if n_held_items < n_test:
        raise ValueError(
            f"compositional_split: n_test = {n_test}, but at most {n_held_items} items can be held out "
            "while every part stays in training"
        )
    test = rng.sample([item for cell in held for item in cells[cell]], n_test)

    held_set = set(held)
    pool = [item for cell in order if cell not in held_set for item in cells[cell]]
    rng.shuffle(pool)
    need_a = {parts(item)[0] for item in test}  # sets for membership only; never iterated
    need_b = {parts(item)[1] for item in test}
    taken: list[int] = []
    for both in (True, False):  # first items that show a missing a *and* a missing b, then either
        for i, item in enumerate(pool):
            a, b = parts(item)
            if (a in need_a and b in need_b) if both else (a in need_a or b in need_b):
                taken.append(i)
                need_a.discard(a)
                need_b.discard(b)
    if need_a or need_b:  # cannot happen: each held cell kept a training cell for both its parts
        raise RuntimeError("compositional_split: a part of the test set has no training item")
    if len(taken) > n_train:
        raise ValueError(
            f"compositional_split: n_train = {n_train} is too small: showing every part of the "
            f"{n_test} test items in training takes {len(taken)} training items"
        )
    taken_set = set(taken)
    rest = [item for i, item in enumerate(pool) if i not in taken_set]
    if n_train - len(taken) > len(rest):
        raise ValueError(
            f"compositional_split: n_train = {n_train}, but only {len(pool)} items are left outside the "
            f"held-out cells"
        )
    train = [pool[i] for i in taken] + rest[: n_train - len(taken)]
    rng.shuffle(train)
    return train, test
