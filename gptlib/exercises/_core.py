"""The machinery every exercise checker shares: feedback, mistakes, the registry, calling student code safely.

A checker knows the typical mistakes of its exercise, its *catalogue*. Each :class:`Mistake` has a
short id, the message that explains it (a ``str.format`` template the checker fills in with the
case at hand) and an example wrong answer that makes it. The checker raises ``mistake.wrong(...)``
when it recognises the mistake, and where it recognises it by its output it compares with what
the example gives, so each wrong formula is written once. The tests feed every example to its
checker and expect its own message back.

>>> DOUBLED = Mistake("doubled", "you doubled {x}: {got}", example=lambda x: 2 * x)
>>> @exercise("99_demo", "identity", "correct.", signature="x", mistakes=Catalogue(DOUBLED))
... def check_identity(student):
...     got = call(student, 3)
...     if got == DOUBLED.example(3):
...         raise DOUBLED.wrong(x=3, got=got)
>>> feedback = check_identity(lambda x: x + x)
>>> feedback
❌ 99_demo.identity: you doubled 3: 6
>>> feedback.mistake, DOUBLED.explains(feedback.message), check_identity.stub
('doubled', True, 'def identity(x):')
>>> del EXERCISES["99_demo.identity"]
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import string
import traceback
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import torch

from .._checks import is_number


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker; shows as one line in a notebook, and is truthy when passed.

    ``mistake`` is the id of the catalogued mistake the message explains (``None`` when passed or
    not attempted)."""

    exercise: str
    passed: bool
    message: str
    attempted: bool = True
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "✅" if self.passed else ("❌" if self.attempted else "⏳")
        return f"{mark} {self.exercise}: {self.message}"


class Wrong(Exception):
    """Raised inside a checker, by :meth:`Mistake.wrong`, with the message the student should read."""

    def __init__(self, message: str, mistake: str):
        super().__init__(message)
        self.mistake = mistake

    def student_raised(self, error: str) -> bool:
        """Whether this reports that the student's function raised an exception with ``error`` in its
        report (its type's name, say), so a checker can add a hint."""
        return self.mistake == RAISED.id and error in str(self)


class _NotAttempted(Exception):
    pass


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer to an exercise, and what its checker says about it.

    - ``id``: a short name, unique in its catalogue (``"linear_decay"``).
    - ``message``: what the student reads, a ``str.format`` template; :meth:`wrong` fills it in.
    - ``example``: a wrong answer (with the exercise's signature) that makes this mistake. The
      tests check that the checker rejects it with this message; a checker that recognises the
      mistake by its output compares the student's output with the example's.
    - ``shows``: a piece of the filled-in message the example must get, when the numbers matter.
    """

    id: str
    message: str
    example: Callable | None = None
    shows: str | None = None

    def wrong(self, **values) -> Wrong:
        """The :class:`Wrong` to raise, its message filled in with ``values``."""
        return Wrong(self.message.format(**values), self.id)

    def with_example(self, example: Callable, shows: str | None = None) -> Mistake:
        """This mistake (one every checker shares, say) with an exercise's own example."""
        return replace(self, example=example, shows=shows)

    def explains(self, message: str) -> bool:
        """Whether ``message`` is this mistake's template with some values filled in."""
        pattern = "".join(re.escape(literal) + ("" if field is None else ".*?")
                          for literal, field, _, _ in string.Formatter().parse(self.message))
        return re.fullmatch(pattern, message, flags=re.DOTALL) is not None


class Catalogue:
    """The mistakes one checker can explain, each with an example; ``catalogue.<id>`` is one of them."""

    def __init__(self, *mistakes: Mistake):
        self._mistakes: dict[str, Mistake] = {}
        for mistake in mistakes:
            if mistake.id in self._mistakes:
                raise ValueError(f"two mistakes have the id {mistake.id!r}")
            if mistake.example is None:
                raise ValueError(f"mistake {mistake.id!r} needs an example wrong answer")
            self._mistakes[mistake.id] = mistake

    def __getattr__(self, name: str) -> Mistake:
        try:
            return self.__dict__["_mistakes"][name]
        except KeyError:
            raise AttributeError(f"no mistake {name!r} in this catalogue") from None

    def __iter__(self) -> Iterator[Mistake]:
        return iter(self._mistakes.values())

    def __len__(self) -> int:
        return len(self._mistakes)


# Mistakes every checker can meet; a catalogue lists the ones its checker can meet, with its own example.
NOT_CALLABLE = Mistake("not_callable", "expected your function, got {got}")
RAISED = Mistake("raised", "your function raised {error}: {detail} (line {line}: {code})")
NOT_A_TENSOR = Mistake("not_a_tensor", "{what} returned a {got}, expected a torch.Tensor")
WRONG_SHAPE = Mistake("wrong_shape", "{what} returned shape {got}, expected {want}")
NOT_FLOAT = Mistake("not_float", "{what} returned dtype {got}; expected a floating-point tensor "
                                 "(convert with .float())")
NOT_FINITE = Mistake("not_finite", "{what} returned {bad} values (a division by zero?)")


def parse_signature(params: str) -> inspect.Signature:
    """The parameters of a ``def`` as a signature: ``"x, weight, bias=None"`` (defaults must be literals)."""
    args = ast.parse(f"def stub({params}): pass").body[0].args
    if args.posonlyargs or args.vararg or args.kwarg:
        raise ValueError(f"an exercise's parameters are plain names, with or without defaults: {params!r}")

    def parameter(arg: ast.arg, default: ast.expr | None, kind) -> inspect.Parameter:
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        return inspect.Parameter(arg.arg, kind, default=value)

    positional_defaults = [None] * (len(args.args) - len(args.defaults)) + args.defaults
    return inspect.Signature(
        [parameter(a, d, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a, d in zip(args.args, positional_defaults)]
        + [parameter(a, d, inspect.Parameter.KEYWORD_ONLY) for a, d in zip(args.kwonlyargs, args.kw_defaults)])


EXERCISES: dict[str, Callable[[Callable], Feedback]] = {}  # "00_welcome.name" -> checker


def exercise(notebook: str, name: str, passed_message: str, *, signature: str, mistakes: Catalogue):
    """Register ``check`` as the checker of exercise ``<notebook>.<name>``.

    ``check(student_fn)`` raises a catalogued mistake's :meth:`Mistake.wrong` at the first problem
    it finds; the wrapper turns that (or the student's own exception) into a :class:`Feedback`.
    ``signature`` is the parameter list the checker calls the student's function with, written as
    the notebook's stub writes it (``"counts, alpha=1.0"``); ``mistakes`` is what it can explain.
    The checker keeps both, as ``checker.signature`` (parsed) and ``checker.mistakes``, and the
    stub's first line as ``checker.stub``.
    """
    exercise_id = f"{notebook}.{name}"

    def register(check: Callable[[Callable], None]) -> Callable[[Callable], Feedback]:
        @functools.wraps(check)
        def checker(student: Callable) -> Feedback:
            if not callable(student):
                return Feedback(exercise_id, False, NOT_CALLABLE.message.format(got=type(student).__name__),
                                mistake=NOT_CALLABLE.id)
            try:
                check(student)
            except _NotAttempted:
                return Feedback(exercise_id, False, "not attempted yet: replace `raise NotImplementedError` "
                                                    "with your code, then run this cell again", attempted=False)
            except Wrong as wrong:
                return Feedback(exercise_id, False, str(wrong), mistake=wrong.mistake)
            return Feedback(exercise_id, True, passed_message)

        if exercise_id in EXERCISES:
            raise RuntimeError(f"exercise {exercise_id!r} registered twice")
        checker.signature = parse_signature(signature)
        checker.stub = f"def {name}({signature}):"
        checker.mistakes = mistakes
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
        raise RAISED.wrong(error=type(err).__name__, detail=err, line=where.lineno, code=where.line) from None


def expect_tensor(value, shape: tuple[int, ...], what: str = "your function", *, allow_inf: bool = False) -> torch.Tensor:
    """Check that ``value`` is a floating-point tensor of ``shape``; say what it is otherwise.

    Its values must be finite, or with ``allow_inf`` may be ``-inf``/``inf`` (filtered logits), never nan."""
    if not isinstance(value, torch.Tensor):
        raise NOT_A_TENSOR.wrong(what=what, got=type(value).__name__)
    if tuple(value.shape) != tuple(shape):
        raise WRONG_SHAPE.wrong(what=what, got=tuple(value.shape), want=tuple(shape))
    if not value.is_floating_point():
        raise NOT_FLOAT.wrong(what=what, got=value.dtype)
    if torch.isnan(value).any() if allow_inf else not torch.isfinite(value).all():
        raise NOT_FINITE.wrong(what=what, bad="nan" if allow_inf else "inf or nan")
    return value


def as_float(value) -> float | None:
    """``value`` as a float when it is one number (a Python or numpy number, a one-element tensor), else None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return float(value) if is_number(value) else None


def fmt(values) -> str:
    """A row of numbers as ``[0.062, 0.688]`` (3 decimals), for messages: ``values`` a tensor or a list."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-6) -> bool:
    """Same shape and equal within ``tol`` (absolute and relative), compared in float64."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=tol, rtol=tol)


def first_match(out, mistakes, *args, same: Callable = close) -> Mistake | None:
    """The first of ``mistakes`` whose example, given ``args``, gives ``out``, or ``None``.

    ``same(out, example_output)`` decides whether two answers agree: :func:`close` for tensors by
    default; a checker of numbers passes its own.
    """
    for mistake in mistakes:
        if same(out, mistake.example(*args)):
            return mistake
    return None


def furthest(out: torch.Tensor, expected) -> tuple[int, ...]:
    """The index at which ``out`` is furthest from ``expected`` (a tensor of its shape, or a number)."""
    diff = (out - expected).abs()
    return tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
