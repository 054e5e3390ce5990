"""Small helpers that several tokenizer modules share; none of them is part of the public API.

- ``PathLike``, ``Pair``     the types the modules pass to each other
- :func:`compiled`          ``regex.compile`` with a cache keyed by the pattern
- :func:`codepoint`, :func:`preview`   how error messages show a character and a long text
- :func:`check_encodable`   the ``ValueError`` for a lone surrogate (it has no UTF-8 bytes)
- :func:`as_id_list`, :func:`bad_id_error`   ids from lists, numpy arrays or tensors; the error for a bad one

>>> codepoint("é"), preview("abcdef", limit=3)
('U+00E9', "'abc' ... (3 more)")
>>> bad_id_error([0, 1, 7], {0: "a", 1: "b"}, "CharTokenizer")
ValueError('id 7 at position 2 is not a valid id for this CharTokenizer: ids run from 0 to 1')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Union

import regex

from .._checks import is_int

PathLike = Union[str, "os.PathLike[str]"]
Pair = tuple[int, int]


_PATTERNS: dict[str, Any] = {}


def compiled(pattern: str) -> Any:
    """``regex.compile`` with a small cache (the ``regex`` module's own cache is per-flags)."""
    result = _PATTERNS.get(pattern)
    if result is None:
        result = _PATTERNS[pattern] = regex.compile(pattern)
    return result


def codepoint(ch: str) -> str:
    """``'U+0041'`` for ``'A'``."""
    return f"U+{ord(ch):04X}"


def preview(text: str, limit: int = 200) -> str:
    """``repr(text)``, cut to about ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r} ... ({len(text) - limit} more)"


def check_encodable(text: str, offset: int = 0) -> None:
    """Raise ``ValueError`` at the first lone surrogate of ``text``: it has no UTF-8 bytes.

    ``offset`` is added to the position in the message (for a piece cut from a longer text).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        ch = text[err.start]
        raise ValueError(
            f"character {ch!r} ({codepoint(ch)}) at position {offset + err.start} is a lone surrogate, "
            f"which has no UTF-8 bytes and cannot be encoded"
        ) from None


def as_id_list(ids: Iterable[int]) -> list[Any]:
    """A list of ids; numpy arrays and torch tensors become lists of Python ints."""
    tolist = getattr(ids, "tolist", None)
    if tolist is not None:
        ids = tolist()
    return ids if isinstance(ids, list) else list(ids)


def bad_id_error(ids: list[Any], valid: Mapping[int, Any], owner: str) -> ValueError:
    """The error for the first entry of ``ids`` that is not a key of ``valid`` (ids ``0 .. len(valid) - 1``)."""
    for position, token_id in enumerate(ids):
        if not is_int(token_id) or token_id not in valid:
            return ValueError(
                f"id {token_id!r} at position {position} is not a valid id for this {owner}: "
                f"ids run from 0 to {len(valid) - 1}"
            )
    raise AssertionError("unreachable")  # pragma: no cover
