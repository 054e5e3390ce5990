"""Argument checks shared by every module: is it an integer, is it a number, is it big enough.

``True`` is an ``int`` to Python (``isinstance(True, int)``), but ``n_layer=True`` or
``max_steps=False`` is always a mistake, so booleans are refused everywhere. numpy and torch
integers (``numpy.int64``) count as integers: they register as :class:`numbers.Integral`.

>>> is_int(3), is_int(True), is_int(3.0), is_number(0.5), is_number(False)
(True, False, False, True, False)
>>> check_int("max_new_tokens", -1, minimum=0)
Traceback (most recent call last):
...
ValueError: max_new_tokens must be an integer >= 0, got -1
"""

from __future__ import annotations

import numbers

__all__ = ["is_int", "is_number", "check_int"]


def is_int(value: object) -> bool:
    """A whole number (Python, numpy or torch integer), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A real number (int or float, numpy's too), not a bool. Infinity and nan count: check them apart."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``; else ``ValueError`` naming both."""
    if is_int(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return int(value)
    if minimum is not None and maximum is not None:
        allowed = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        allowed = f"an integer >= {minimum}"
    elif maximum is not None:
        allowed = f"an integer <= {maximum}"
    else:
        allowed = "an integer"
    raise ValueError(f"{name} must be {allowed}, got {value!r}")
