"""The machinery every exercise checker shares: feedback, the registry, calling student code safely."""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker; shows as one line in a notebook, and is truthy when passed."""

    exercise: str
    passed: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✅" if self.passed else ("❌" if self.attempted else "⏳")
        return f"{mark} {self.exercise}: {self.message}"


class Wrong(Exception):
    """Raised inside a checker with the message the student should read."""


class _NotAttempted(Exception):
    pass


EXERCISES: dict[str, Callable[[Callable], Feedback]] = {}  # "00_welcome.name" -> checker


def exercise(notebook: str, name: str, passed_message: str):
    """Register ``check`` as the checker of exercise ``<notebook>.<name>``.

    ``check(student_fn)`` raises :class:`Wrong` with a helpful message at the first problem it
    finds; the wrapper turns that (or the student's own exception) into a :class:`Feedback`.
    """
    exercise_id = f"{notebook}.{name}"

    def register(check: Callable[[Callable], None]) -> Callable[[Callable], Feedback]:
        @functools.wraps(check)
        def checker(student: Callable) -> Feedback:
            if not callable(student):
                return Feedback(exercise_id, False, f"expected your function, got {type(student).__name__}")
            try:
                check(student)
            except _NotAttempted:
                return Feedback(exercise_id, False, "not attempted yet: replace `raise NotImplementedError` "
                                                    "with your code, then run this cell again", attempted=False)
            except Wrong as wrong:
                return Feedback(exercise_id, False, str(wrong))
            return Feedback(exercise_id, True, passed_message)

        if exercise_id in EXERCISES:
            raise RuntimeError(f"exercise {exercise_id!r} registered twice")
        EXERCISES[exercise_id] = checker
        return checker

    return register


def call(student: Callable, *args, **kwargs):
    """Run the student's function; its exceptions become feedback, not a traceback to decode."""
    try:
        return student(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted() from None
    except Exception as err:  # noqa: BLE001 - any error in student code is reported, not raised
        where = traceback.extract_tb(err.__traceback__)[-1]
        raise Wrong(f"your function raised {type(err).__name__}: {err} (line {where.lineno}: "
                    f"{where.line})") from None


def expect_tensor(value, shape: tuple[int, ...], what: str = "your function", *, allow_inf: bool = False) -> torch.Tensor:
    """Check that ``value`` is a floating-point tensor of ``shape``; say what it is otherwise.

    Its values must be finite, or with ``allow_inf`` may be ``-inf``/``inf`` (filtered logits), never nan."""
    if not isinstance(value, torch.Tensor):
        raise Wrong(f"{what} returned a {type(value).__name__}, expected a torch.Tensor")
    if tuple(value.shape) != tuple(shape):
        raise Wrong(f"{what} returned shape {tuple(value.shape)}, expected {tuple(shape)}")
    if not value.is_floating_point():
        raise Wrong(f"{what} returned dtype {value.dtype}; expected a floating-point tensor (convert with .float())")
    if torch.isnan(value).any() if allow_inf else not torch.isfinite(value).all():
        raise Wrong(f"{what} returned {'nan' if allow_inf else 'inf or nan'} values (a division by zero?)")
    return value


def fmt(values) -> str:
    """A row of numbers as ``[0.062, 0.688]`` (3 decimals), for messages: ``values`` a tensor or a list."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"
