"""The character-level tokenizer: every distinct character of a training text gets one id.

- :class:`CharTokenizer`   ``from_text``, ``encode``, ``decode``, ``save`` / ``load``

The simplest tokenizer there is: a tiny vocabulary (tiny Shakespeare has 65 characters), long
sequences (one token per character), and no way to encode a character it has not seen. The
byte-level BPE in :mod:`gptlib.tokenizers.bpe` fixes all three.

>>> tok = CharTokenizer("abc")
>>> tok.encode("cab"), tok.decode([2, 0, 1])
([2, 0, 1], 'cab')
"""

from __future__ import annotations

from collections.abc import Iterable

from . import saved_files
from ._helpers import PathLike, as_id_list, bad_id_error, codepoint, preview

__all__ = ["CharTokenizer"]


class CharTokenizer:
    """One id per character; the vocabulary is a fixed list of characters.

    >>> tok = CharTokenizer.from_text("hello world")
    >>> tok.chars
    ' dehlorw'
    >>> tok.encode("hello")
    [3, 2, 4, 4, 5]
    >>> tok.decode([3, 2, 4, 4, 5])
    'hello'
    >>> tok.vocab_size
    8
    """

    def __init__(self, chars: Iterable[str]) -> None:
        """Build a tokenizer whose id ``i`` is ``chars[i]``; the characters must be distinct.

        ``chars`` may be a string or any iterable of one-character strings.
        """
        char_list = list(chars)
        index: dict[str, int] = {}
        for i, ch in enumerate(char_list):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"CharTokenizer: entry {i} of chars is {ch!r}, not a single character")
            if ch in index:
                raise ValueError(
                    f"CharTokenizer: character {ch!r} ({codepoint(ch)}) appears twice in chars, "
                    f"at positions {index[ch]} and {i}"
                )
            index[ch] = i
        self._chars: list[str] = char_list
        self._stoi: dict[str, int] = index
        self._itos: dict[int, str] = dict(enumerate(char_list))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer for the sorted distinct characters of ``text`` (sorted by code point)."""
        return cls(sorted(set(text)))

    @property
    def chars(self) -> str:
        """The vocabulary as one string: character ``i`` has id ``i``."""
        return "".join(self._chars)

    @property
    def vocab_size(self) -> int:
        """The number of ids, ``0 .. vocab_size - 1``."""
        return len(self._chars)

    def encode(self, text: str) -> list[int]:
        """The ids of the characters of ``text``.

        Raises ``ValueError`` naming the first character that is not in the vocabulary, its code
        point and its position in ``text``, and listing the characters that are allowed.
        """
        stoi = self._stoi
        try:
            return [stoi[ch] for ch in text]
        except KeyError:
            pass
        for position, ch in enumerate(text):
            if ch not in stoi:
                raise ValueError(
                    f"character {ch!r} ({codepoint(ch)}) at position {position} is not in this "
                    f"CharTokenizer's vocabulary; allowed are its {self.vocab_size} characters: "
                    f"{preview(self.chars)}"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def decode(self, ids: Iterable[int]) -> str:
        """The text for ``ids`` (a list, or a 1-D numpy array / torch tensor).

        Raises ``ValueError`` naming the first id outside ``0 .. vocab_size - 1`` and its position.
        """
        ids = as_id_list(ids)
        itos = self._itos
        try:
            return "".join([itos[i] for i in ids])
        except (KeyError, TypeError):
            pass
        raise bad_id_error(ids, itos, "CharTokenizer")

    def save(self, path: PathLike) -> None:
        """Write the tokenizer to ``path`` as JSON (format ``gptlib-char``, see ``saved_files``)."""
        saved_files.write_char(path, self._chars)

    @classmethod
    def load(cls, path: PathLike) -> CharTokenizer:
        """Read a tokenizer written by :meth:`save`; a file of another kind is a ``ValueError``."""
        chars = saved_files.read_char(path)
        try:
            return cls(chars)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={preview(self.chars, 40)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self._chars == other._chars

    __hash__ = None  # type: ignore[assignment]
