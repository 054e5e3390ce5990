"""Tokenizers: turn text into a list of integer ids and back.

Two tokenizers, from the simplest to GPT-2's:

- :class:`CharTokenizer` gives every distinct character of a training text one id. Tiny
  vocabulary, long sequences, and it cannot encode a character it has not seen.
- :class:`BPETokenizer` is a byte-level byte-pair encoder, the scheme GPT-2 uses. It can encode
  any text (every string is a sequence of UTF-8 bytes, and the 256 byte values are the first
  256 tokens), and it learns *merges* that glue frequent neighbouring tokens into new tokens.

Byte-level BPE in four steps (the notebook builds each one by hand, then calls the functions here):

1. :func:`pretokenize` splits the text into chunks with :data:`GPT2_SPLIT_PATTERN`: words with
   their leading space, runs of digits, runs of punctuation, runs of whitespace. Merges never
   cross a chunk boundary, so "dog." and "dog!" share the token for "dog".
2. Each chunk becomes its UTF-8 bytes, one token per byte.
3. Training counts neighbouring pairs (:func:`get_pair_counts`), replaces the most frequent pair
   everywhere with a new token (:func:`merge`), and repeats until the vocabulary is big enough.
4. Encoding new text applies the learned merges in the order they were learned.

Everything here is plain Python plus the ``regex`` package (for the ``\\p{L}`` letter classes in
GPT-2's split pattern).

Choices worth knowing
---------------------
- Training ties: of equally frequent pairs, the lexicographically smallest ``(left_id, right_id)``
  is merged first (see :meth:`BPETokenizer.train`).
- ``<|endoftext|>`` in the text to encode is ordinary text unless ``allowed_special`` names it
  (see :meth:`BPETokenizer.encode`); in training text it separates documents.
- Decoding ids whose bytes are not valid UTF-8 (half a character) gives U+FFFD '�' in their place
  (``errors="replace"``); ``decode_bytes`` gives the raw bytes.
- Bad input is a ``ValueError`` that names the offending character, id, file, line or entry.

Saved files
-----------
``save(path)`` writes UTF-8 JSON, written to a temporary file and moved into place with
``os.replace``, so a crash never leaves half a file. Both kinds start with ``"format"`` and
``"version"``; ``load`` refuses anything else with a ``ValueError`` naming the file.

``CharTokenizer`` (``"format": "gptlib-char"``, version 1)::

    {"format": "gptlib-char", "version": 1, "chars": ["\\n", " ", "!", ...]}

``chars[i]`` is the character with id ``i``.

``BPETokenizer`` (``"format": "gptlib-bpe"``, version 1)::

    {
      "format": "gptlib-bpe",
      "version": 1,
      "pattern": "<the split regex>",
      "byte_ids": [0, 1, ..., 255],
      "merges": [
        [104, 101, 256],
        ...
      ],
      "special_tokens": {"<|endoftext|>": 1023}
    }

``byte_ids[b]`` is the id of the token for byte value ``b`` (0..255; the identity for a trained
tokenizer, GPT-2's own order for one loaded with :meth:`BPETokenizer.from_gpt2_files`). Each
merge ``[left, right, new]`` says "the pair (left, right) becomes token new"; the list is in rank
order (first learned first). Together the ids are exactly ``0 .. vocab_size - 1``.
"""

from __future__ import annotations

import heapq
import json
import os
import uuid
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Union

import regex

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "ENDOFTEXT",
    "pretokenize",
    "get_pair_counts",
    "merge",
    "bytes_to_unicode",
    "CharTokenizer",
    "BPETokenizer",
]

PathLike = Union[str, "os.PathLike[str]"]
Pair = tuple[int, int]

#: GPT-2's pre-tokenization regex. Alternatives, tried left to right at each position:
#: the English contractions ``'s 't 're 've 'm 'll 'd``; an optional space plus a run of letters;
#: an optional space plus a run of digits; an optional space plus a run of anything else that is
#: not whitespace (punctuation, symbols, emoji); a run of whitespace that is not followed by a
#: non-space (so the *last* space before a word is left to join that word); any other whitespace.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: GPT-2's end-of-text token, the one special token a trained :class:`BPETokenizer` has.
ENDOFTEXT = "<|endoftext|>"

_FORMAT_CHAR = "gptlib-char"
_FORMAT_BPE = "gptlib-bpe"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------
# The building blocks
# --------------------------------------------------------------------------------------------


def pretokenize(text: str, pattern: str = GPT2_SPLIT_PATTERN) -> list[str]:
    """Split ``text`` into the chunks that BPE works on; merges never cross a chunk boundary.

    The chunks concatenate back to ``text`` exactly (the default pattern matches every character).

    >>> pretokenize("Hello world, it's 2024!!")
    ['Hello', ' world', ',', ' it', "'s", ' 2024', '!!']
    >>> pretokenize("a  b\\n\\n")   # the last space before a word goes with the word
    ['a', ' ', ' b', '\\n\\n']
    """
    chunks: list[str] = _compiled(pattern).findall(text)
    return chunks


def get_pair_counts(ids: Sequence[int]) -> dict[Pair, int]:
    """Count how often each pair of neighbouring ids occurs in ``ids``.

    Overlapping pairs all count: ``[7, 7, 7]`` holds the pair ``(7, 7)`` twice. The dict is in
    order of first occurrence. Time O(len(ids)).

    >>> get_pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_pair_counts([7, 7, 7])
    {(7, 7): 2}
    """
    counts: dict[Pair, int] = {}
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Occurrences are taken greedily from the left, so in ``[7, 7, 7]`` only the first two sevens
    merge. Time O(len(ids)).

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)
    [8, 7]
    """
    first, second = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == first and i + 1 < n and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from the 256 byte values to 256 visible characters.

    GPT-2's files (``vocab.json``, ``merges.txt``) store each token, which is a string of bytes,
    as a text string. Raw bytes would not do: a space would clash with the space that separates
    the two halves of a line of ``merges.txt``, control characters are invisible, and a lone byte
    >= 0x80 is not valid UTF-8. So every byte gets a printable stand-in character:

    - the 188 bytes that already are printable Latin-1 characters (``'!'``..``'~'``,
      ``'¡'``..``'¬'``, ``'®'``..``'ÿ'``) stand for themselves;
    - the other 68 (the control characters, space, DEL, no-break space and soft hyphen) get, in
      increasing byte order, the characters ``chr(256)``, ``chr(257)``, ..., ``chr(323)``.

    A token's string is the stand-ins of its bytes, joined. That is why GPT-2 tokens that start
    with a space show up as ``'Ġ...'``.

    >>> table = bytes_to_unicode()
    >>> table[ord("A")], table[ord(" ")], table[ord("\\n")], table[0]
    ('A', 'Ġ', 'Ċ', 'Ā')
    >>> "".join(table[b] for b in " café".encode("utf-8"))
    'ĠcafÃ©'
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    printable_set = set(printable)
    table: dict[int, str] = {}
    next_stand_in = 256
    for byte in range(256):
        if byte in printable_set:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(next_stand_in)
            next_stand_in += 1
    return table


# --------------------------------------------------------------------------------------------
# Character-level tokenizer
# --------------------------------------------------------------------------------------------


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
                    f"CharTokenizer: character {ch!r} ({_codepoint(ch)}) appears twice in chars, "
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
                    f"character {ch!r} ({_codepoint(ch)}) at position {position} is not in this "
                    f"CharTokenizer's vocabulary; allowed are its {self.vocab_size} characters: "
                    f"{_preview(self.chars)}"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def decode(self, ids: Iterable[int]) -> str:
        """The text for ``ids`` (a list, or a 1-D numpy array / torch tensor).

        Raises ``ValueError`` naming the first id outside ``0 .. vocab_size - 1`` and its position.
        """
        ids = _as_id_list(ids)
        itos = self._itos
        try:
            return "".join([itos[i] for i in ids])
        except (KeyError, TypeError):
            pass
        position, bad = _first_bad_id(ids, itos)
        raise ValueError(
            f"id {bad!r} at position {position} is not a valid id for this CharTokenizer: "
            f"ids run from 0 to {self.vocab_size - 1}"
        )

    def save(self, path: PathLike) -> None:
        """Write the tokenizer to ``path`` as JSON (format ``gptlib-char``, see the module docs)."""
        payload = {"format": _FORMAT_CHAR, "version": _FORMAT_VERSION, "chars": self._chars}
        _atomic_write_text(path, _dump_json(payload))

    @classmethod
    def load(cls, path: PathLike) -> CharTokenizer:
        """Read a tokenizer written by :meth:`save`; a file of another kind is a ``ValueError``."""
        data = _read_tokenizer_json(path, _FORMAT_CHAR)
        _check_keys(path, data, {"format", "version", "chars"})
        chars = data["chars"]
        if not isinstance(chars, list):
            raise ValueError(f"{path}: 'chars' must be a list of single characters")
        try:
            return cls(chars)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={_preview(self.chars, 40)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self._chars == other._chars

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# Byte-level BPE tokenizer
# --------------------------------------------------------------------------------------------

AllowedSpecial = Union[Literal["all", "none"], Collection[str]]


class BPETokenizer:
    """Byte-level byte-pair encoding, GPT-2 style.

    A tokenizer is: the id of each of the 256 byte tokens, an ordered list of merges
    ``(left, right) -> new`` and a few special tokens (``<|endoftext|>``) that stand for a whole
    string and are never produced by merges. Get one by training (:meth:`train`), by loading a
    saved one (:meth:`load`), or from GPT-2's files (:meth:`from_gpt2_files`).

    >>> tok = BPETokenizer.train("low lower lowest low low", vocab_size=260)
    >>> tok.merges[:2]                       # (b'l', b'o') is merged first, then (b'lo', b'w')
    [(108, 111), (256, 119)]
    >>> ids = tok.encode("lowest")
    >>> ids, tok.decode(ids)
    ([257, 101, 115, 116], 'lowest')
    >>> tok.vocab_size, tok.special_tokens  # 256 bytes + 3 merges + <|endoftext|>
    (260, {'<|endoftext|>': 259})

    Special tokens in the text: ``encode(text)`` treats ``"<|endoftext|>"`` in ``text`` as ordinary
    text (it becomes several tokens); only with ``allowed_special="all"`` (or a set holding its
    name) is it encoded as the single special id. Either way ``decode(encode(s)) == s``.
    """

    #: The chunk -> ids cache of :meth:`encode` is emptied when it holds this many chunks.
    CACHE_SIZE = 100_000

    def __init__(
        self,
        merges: Sequence[Pair],
        special_tokens: Mapping[str, int] | None = None,
        *,
        byte_ids: Sequence[int] | None = None,
        merged_ids: Sequence[int] | None = None,
        pattern: str = GPT2_SPLIT_PATTERN,
    ) -> None:
        """Assemble a tokenizer from its parts (usually you want :meth:`train` or a loader).

        Args:
            merges: the merges in rank order; ``merges[r] = (left, right)`` glues token ``left``
                followed by token ``right`` into token ``merged_ids[r]``. Both parts must be byte
                tokens or results of earlier merges.
            special_tokens: string -> id, e.g. ``{"<|endoftext|>": 1023}``. Default: none.
            byte_ids: ``byte_ids[b]`` is the id of the token for byte value ``b``.
                Default ``0 .. 255``.
            merged_ids: the id each merge creates. Default ``256, 257, ...``.
            pattern: the pre-tokenization regex (``regex`` module syntax).

        All ids together (bytes, merge results, special tokens) must be exactly
        ``0 .. vocab_size - 1``, each used once; otherwise ``ValueError``.
        """
        merges = [(int(a), int(b)) for a, b in merges]
        byte_ids = list(range(256)) if byte_ids is None else [int(i) for i in byte_ids]
        merged_ids = list(range(256, 256 + len(merges))) if merged_ids is None else [int(i) for i in merged_ids]
        special = dict(special_tokens or {})
        if len(byte_ids) != 256:
            raise ValueError(f"byte_ids must have 256 entries (one per byte value), got {len(byte_ids)}")
        if len(merged_ids) != len(merges):
            raise ValueError(f"merged_ids has {len(merged_ids)} entries but there are {len(merges)} merges")

        vocab: dict[int, bytes] = {}
        for byte, token_id in enumerate(byte_ids):
            _claim_id(vocab, token_id, bytes([byte]), f"byte 0x{byte:02x}")
        ranks: dict[Pair, tuple[int, int]] = {}
        for rank, ((left, right), new_id) in enumerate(zip(merges, merged_ids)):
            for part in (left, right):
                if part not in vocab:
                    raise ValueError(
                        f"merge {rank} ({left}, {right}) -> {new_id}: token {part} is neither a byte "
                        f"token nor made by an earlier merge"
                    )
            if (left, right) in ranks:
                raise ValueError(f"merge {rank} ({left}, {right}) repeats merge {ranks[left, right][0]}")
            _claim_id(vocab, new_id, vocab[left] + vocab[right], f"merge {rank} ({left}, {right})")
            ranks[left, right] = (rank, new_id)
        for text, token_id in special.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"special token names must be non-empty strings, got {text!r}")
            _check_encodable(text)
            _claim_id(vocab, token_id, text.encode("utf-8"), f"special token {text!r}")
        for expected, token_id in enumerate(sorted(vocab)):
            if expected != token_id:
                raise ValueError(f"token ids must be exactly 0 .. {len(vocab) - 1}, but id {expected} is missing")

        self._pattern_str = pattern
        self._pattern = _compiled(pattern)
        self._byte_ids = byte_ids
        self._merges = merges
        self._merged_ids = merged_ids
        self._ranks = ranks
        self._special = special
        self._vocab = vocab
        self._cache: dict[str, tuple[int, ...]] = {}

    # ---- training -----------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
        """Learn ``vocab_size - 257`` merges from ``text``; return the trained tokenizer.

        ``vocab_size`` counts everything: the 256 byte tokens (ids 0..255), the merges (ids 256,
        257, ... in the order learned) and the special token ``<|endoftext|>`` (the last id,
        ``vocab_size - 1``). So the smallest is 257 (no merges); below that is a ``ValueError``.

        Each step merges the most frequent pair of neighbouring tokens. **Ties** between equally
        frequent pairs go to the lexicographically smallest ``(left_id, right_id)``: the smallest
        left id, then the smallest right id. Pairs are counted inside pre-tokenized chunks only
        (see :func:`pretokenize`), overlapping occurrences included (``"aaa"`` holds ``(a, a)``
        twice). Occurrences of ``<|endoftext|>`` in ``text`` separate documents: the text is cut
        there and the special token itself is not learned from. If ``text`` runs out of pairs
        before ``vocab_size`` is reached, training stops early with a warning and the tokenizer
        is smaller.

        How it stays fast (plain Python, under a second for 1 MB and vocab_size 1024):

        - the text is reduced to its *distinct* chunks with their counts (tiny Shakespeare:
          300k chunks, 15k distinct), and a pair's count is the sum of its chunks' counts;
        - an index ``pair -> chunks that contain it`` means a merge rewrites only those chunks,
          and the counts of the pairs they contain are updated by difference (old pairs out,
          new pairs in);
        - a heap of ``(-count, pair)`` finds the next merge; entries are not removed when a
          count changes, instead a new entry is pushed and an entry whose count is out of date
          is skipped when it reaches the top ("lazy invalidation").

        >>> tok = BPETokenizer.train("aaab aaab", vocab_size=259)
        >>> tok.merges                  # (a, a) occurs 4 times, then (256, a) and (a, b) tie
        [(97, 97), (97, 98)]
        """
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < 257:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: the minimum is 257, the 256 byte tokens "
                f"plus the special token {ENDOFTEXT} (and then no merges)"
            )
        _check_encodable(text)
        num_merges = vocab_size - 257
        compiled = _compiled(pattern)
        chunk_counts: Counter[str] = Counter()
        for document in text.split(ENDOFTEXT):
            chunk_counts.update(compiled.findall(document))
        merges = _learn_merges(chunk_counts, num_merges)
        if len(merges) < num_merges:
            warnings.warn(
                f"BPETokenizer.train: the text has no pairs left to merge after {len(merges)} merges, "
                f"so vocab_size is {257 + len(merges)} instead of {vocab_size}",
                stacklevel=2,
            )
        return cls(merges, {ENDOFTEXT: 256 + len(merges)}, pattern=pattern)

    # ---- loading GPT-2's files ------------------------------------------------------------

    @classmethod
    def from_gpt2_files(
        cls, vocab_json_path: PathLike, merges_txt_path: PathLike, *, pattern: str = GPT2_SPLIT_PATTERN
    ) -> BPETokenizer:
        """Load a tokenizer from GPT-2 style ``vocab.json`` + ``merges.txt``; encode exactly as GPT-2.

        - ``vocab.json`` maps token strings to ids. A token string is its bytes written with
          :func:`bytes_to_unicode` (a space is ``'Ġ'``). The ids are kept as they are.
        - ``merges.txt`` has an optional first line starting with ``#version``, then one merge
          per line, in rank order: the two parts' strings separated by one space.
        - Every vocab entry that is neither one of the 256 byte tokens nor made by a merge is a
          special token, taken as the literal string (GPT-2: only ``<|endoftext|>`` = 50256).

        The files must agree, else ``ValueError`` naming the file and the line or entry: every
        byte needs a vocab entry, a merge's two parts must be byte tokens or made by earlier
        merges, its result must be in the vocab and made by no other merge, the ids must be
        exactly ``0 .. len(vocab) - 1``. Hugging Face ``tokenizers`` byte-level BPE models saved
        with ``model.save(folder)`` use the same two files.
        """
        vocab_path, merges_path = str(vocab_json_path), str(merges_txt_path)
        vocab = _read_gpt2_vocab(vocab_path)
        table = bytes_to_unicode()
        byte_ids: list[int] = []
        missing = []
        for byte, ch in table.items():
            if ch in vocab:
                byte_ids.append(vocab[ch])
            else:
                missing.append(f"0x{byte:02x} ({ch!r})")
        if missing:
            raise ValueError(
                f"{vocab_path}: the vocab must have a token for each of the 256 bytes, but "
                f"{len(missing)} are missing: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
            )

        made_by: dict[str, str] = {ch: f"byte 0x{b:02x}" for b, ch in table.items()}
        merges: list[Pair] = []
        merged_ids: list[int] = []
        try:
            with open(merges_path, encoding="utf-8", newline="") as f:
                lines = f.read().split("\n")
        except UnicodeDecodeError as err:
            raise ValueError(f"{merges_path}: not valid UTF-8 ({err})") from None
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line
        for line_no, raw_line in enumerate(lines, start=1):
            line = raw_line.removesuffix("\r")
            where = f"{merges_path}, line {line_no}"
            if line_no == 1 and line.startswith("#version"):
                continue
            parts = line.split(" ")
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise ValueError(f"{where}: expected two tokens separated by one space, got {line!r}")
            for part in parts:
                if part not in vocab:
                    raise ValueError(f"{where}: merge {line!r}: token {part!r} is not in {vocab_path}")
                if part not in made_by:
                    raise ValueError(
                        f"{where}: merge {line!r}: token {part!r} is neither a byte token nor made by an earlier merge"
                    )
            result = parts[0] + parts[1]
            if result not in vocab:
                raise ValueError(f"{where}: merge {line!r}: the result {result!r} is not in {vocab_path}")
            if result in made_by:
                raise ValueError(f"{where}: merge {line!r}: its result {result!r} is already made by {made_by[result]}")
            made_by[result] = f"the merge on line {line_no}"
            merges.append((vocab[parts[0]], vocab[parts[1]]))
            merged_ids.append(vocab[result])

        special = {token: token_id for token, token_id in vocab.items() if token not in made_by}
        try:
            return cls(merges, special, byte_ids=byte_ids, merged_ids=merged_ids, pattern=pattern)
        except ValueError as err:
            raise ValueError(f"{vocab_path} + {merges_path}: {err}") from None

    # ---- properties ---------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """The number of ids, ``0 .. vocab_size - 1``: bytes, merges and special tokens."""
        return len(self._vocab)

    @property
    def merges(self) -> list[Pair]:
        """The merges ``(left_id, right_id)`` in rank order (a copy)."""
        return list(self._merges)

    @property
    def merged_ids(self) -> list[int]:
        """The id made by each merge, in the order of :attr:`merges` (a copy)."""
        return list(self._merged_ids)

    @property
    def byte_ids(self) -> list[int]:
        """``byte_ids[b]`` is the id of the one-byte token for byte value ``b`` (a copy)."""
        return list(self._byte_ids)

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token string -> id (a copy)."""
        return dict(self._special)

    @property
    def pattern(self) -> str:
        """The pre-tokenization regex."""
        return self._pattern_str

    @property
    def vocab(self) -> dict[int, bytes]:
        """Id -> the bytes it stands for (a special token: its UTF-8 text), in id order (a new dict)."""
        return {token_id: self._vocab[token_id] for token_id in range(len(self._vocab))}

    # ---- encoding -----------------------------------------------------------------------

    def encode(self, text: str, *, allowed_special: AllowedSpecial = "none") -> list[int]:
        """The token ids of ``text``.

        Args:
            text: any string without lone surrogates (those have no UTF-8 bytes: ``ValueError``).
            allowed_special: which special tokens to recognise in ``text``: ``"none"`` (default;
                ``"<|endoftext|>"`` in the text is ordinary text and becomes several tokens),
                ``"all"``, or a collection of special token strings. Naming a special token this
                tokenizer does not have is a ``ValueError``.

        Each chunk of :func:`pretokenize` is encoded on its own: its bytes become byte tokens,
        then, repeatedly, the neighbouring pair with the lowest merge rank is merged
        (everywhere in the chunk, left to right), until no pair has a merge. The result for each
        distinct chunk is cached, so the second " the" costs one dict lookup.

        >>> tok = BPETokenizer.train("hi hi hi", vocab_size=259)
        >>> tok.encode("hi<|endoftext|>")           # "<|", "endoftext", "|>" as plain bytes
        [256, 60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124, 62]
        >>> tok.encode("hi<|endoftext|>", allowed_special="all")
        [256, 258]
        """
        specials = self._allowed_specials(allowed_special)
        if not specials:
            return self._encode_ordinary(text)
        # Longest first, so a special token that contains another one wins.
        splitter = _compiled("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))
        ids: list[int] = []
        start = 0
        for match in splitter.finditer(text):
            ids.extend(self._encode_ordinary(text[start : match.start()], offset=start))
            ids.append(self._special[match.group()])
            start = match.end()
        ids.extend(self._encode_ordinary(text[start:], offset=start))
        return ids

    def _allowed_specials(self, allowed_special: AllowedSpecial) -> set[str]:
        if allowed_special == "none":
            return set()
        if allowed_special == "all":
            return set(self._special)
        if isinstance(allowed_special, str):
            raise ValueError(
                f"allowed_special must be 'all', 'none' or a collection of special token strings, "
                f"got the string {allowed_special!r}"
            )
        wanted = set(allowed_special)
        unknown = wanted - set(self._special)
        if unknown:
            raise ValueError(
                f"allowed_special names {sorted(unknown)!r}, which this tokenizer does not have; "
                f"its special tokens are {sorted(self._special)!r}"
            )
        return wanted

    def _encode_ordinary(self, text: str, offset: int = 0) -> list[int]:
        """Encode ``text`` with no special tokens; ``offset`` only places error positions."""
        ids: list[int] = []
        cache = self._cache
        try:
            for chunk in self._pattern.findall(text):
                chunk_ids = cache.get(chunk)
                if chunk_ids is None:
                    chunk_ids = self._encode_chunk(chunk)
                    if len(cache) >= self.CACHE_SIZE:
                        cache.clear()
                    cache[chunk] = chunk_ids
                ids.extend(chunk_ids)
        except UnicodeEncodeError:
            _check_encodable(text, offset)
            raise  # pragma: no cover  (_check_encodable raises)
        return ids

    def _encode_chunk(self, chunk: str) -> tuple[int, ...]:
        """BPE on one chunk: byte tokens, then merge the lowest-ranked pair until none is left.

        Time O(n^2) for a chunk of n bytes (each round scans all pairs); chunks are short.
        """
        byte_ids = self._byte_ids
        ids = [byte_ids[b] for b in chunk.encode("utf-8")]
        ranks = self._ranks
        while len(ids) > 1:
            best_pair: Pair | None = None
            best = (len(ranks), 0)  # (rank, new id); every real rank is smaller
            for pair in pairwise(ids):
                rank_and_id = ranks.get(pair)
                if rank_and_id is not None and rank_and_id < best:
                    best, best_pair = rank_and_id, pair
            if best_pair is None:
                break
            ids = merge(ids, best_pair, best[1])
        return tuple(ids)

    # ---- decoding -----------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes that ``ids`` stand for (a special token stands for its UTF-8 text).

        >>> tok = BPETokenizer.train("", vocab_size=257)
        >>> tok.decode_bytes(tok.encode("é"))
        b'\\xc3\\xa9'
        """
        ids = _as_id_list(ids)
        vocab = self._vocab
        try:
            return b"".join([vocab[i] for i in ids])
        except (KeyError, TypeError):
            pass
        position, bad = _first_bad_id(ids, vocab)
        raise ValueError(
            f"id {bad!r} at position {position} is not a valid id for this BPETokenizer: "
            f"ids run from 0 to {self.vocab_size - 1}"
        )

    def decode(self, ids: Iterable[int]) -> str:
        """The text for ``ids`` (a list, or a 1-D numpy array / torch tensor).

        Byte sequences that are not valid UTF-8 (a model can emit half of a character) are
        decoded with ``errors="replace"``: each bad piece becomes U+FFFD '�'. An id outside
        ``0 .. vocab_size - 1`` is a ``ValueError`` naming it and its position.

        >>> tok = BPETokenizer.train("", vocab_size=257)
        >>> tok.decode([0xC3, 0xA9]), tok.decode([0xC3])
        ('é', '�')
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ---- saving and loading -------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Write the tokenizer to ``path`` as JSON (format ``gptlib-bpe``, see the module docs)."""
        head = {"format": _FORMAT_BPE, "version": _FORMAT_VERSION, "pattern": self._pattern_str}
        lines = ["{"]
        lines += [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in head.items()]
        lines.append(f'  "byte_ids": {json.dumps(self._byte_ids)},')
        merge_lines = [f"    [{a}, {b}, {c}]" for (a, b), c in zip(self._merges, self._merged_ids)]
        lines.append('  "merges": [' + ("\n" + ",\n".join(merge_lines) + "\n  ]," if merge_lines else "],"))
        lines.append(f'  "special_tokens": {json.dumps(self._special, ensure_ascii=False)}')
        lines.append("}")
        _atomic_write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path: PathLike) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`; a malformed file is a ``ValueError``."""
        data = _read_tokenizer_json(path, _FORMAT_BPE)
        _check_keys(path, data, {"format", "version", "pattern", "byte_ids", "merges", "special_tokens"})
        pattern, byte_ids, merges, special = data["pattern"], data["byte_ids"], data["merges"], data["special_tokens"]
        if not isinstance(pattern, str):
            raise ValueError(f"{path}: 'pattern' must be a string")
        try:
            _compiled(pattern)
        except regex.error as err:
            raise ValueError(f"{path}: 'pattern' is not a valid regex ({err})") from None
        if not (isinstance(byte_ids, list) and all(_is_int(i) for i in byte_ids)):
            raise ValueError(f"{path}: 'byte_ids' must be a list of 256 ints")
        if not isinstance(merges, list):
            raise ValueError(f"{path}: 'merges' must be a list of [left, right, new] id triples")
        for i, entry in enumerate(merges):
            if not (isinstance(entry, list) and len(entry) == 3 and all(_is_int(x) for x in entry)):
                raise ValueError(f"{path}: merges[{i}] is {entry!r}, not a [left, right, new] triple of ints")
        if not (isinstance(special, dict) and all(_is_int(i) for i in special.values())):
            raise ValueError(f"{path}: 'special_tokens' must map strings to int ids")
        try:
            return cls(
                [(a, b) for a, b, _ in merges],
                special,
                byte_ids=byte_ids,
                merged_ids=[c for _, _, c in merges],
                pattern=pattern,
            )
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._merges)}, special_tokens={self._special!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BPETokenizer) and (
            self._pattern_str,
            self._byte_ids,
            self._merges,
            self._merged_ids,
            self._special,
        ) == (other._pattern_str, other._byte_ids, other._merges, other._merged_ids, other._special)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# Training internals
# --------------------------------------------------------------------------------------------


def _learn_merges(chunk_counts: Mapping[str, int], num_merges: int) -> list[Pair]:
    """Learn up to ``num_merges`` merges from distinct chunks and their counts (see ``train``).

    Data (n = distinct chunks, P = distinct pairs):
        words[w]   the current token ids of chunk w          (total length <= bytes of the chunks)
        freqs[w]   how often chunk w occurs in the text
        counts     pair -> weighted count, only pairs that occur (count > 0)
        where      pair -> set of w that may contain it (may hold stale w: checked on use)
        heap       (-count, pair) entries; an entry is current iff counts[pair] == count
    A merge costs O(sum of the lengths of the chunks that contain the pair + changed pairs * log heap).
    """
    words: list[list[int]] = []
    freqs: list[int] = []
    for chunk, freq in chunk_counts.items():
        ids = list(chunk.encode("utf-8"))
        if len(ids) > 1:
            words.append(ids)
            freqs.append(freq)

    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for w, ids in enumerate(words):
        freq = freqs[w]
        for pair in pairwise(ids):
            counts[pair] = counts.get(pair, 0) + freq
            if pair in where:
                where[pair].add(w)
            else:
                where[pair] = {w}
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    new_id = 256
    while len(merges) < num_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair) != -neg_count:
            continue  # stale entry: the pair's count changed after this was pushed
        merges.append(pair)
        first, second = pair
        delta: dict[Pair, int] = {}
        for w in where.pop(pair):
            old = words[w]
            # Rewrite word w (inlined `merge`: this loop is the hot spot of training).
            new: list[int] = []
            i, n = 0, len(old)
            while i < n:
                if old[i] == first and i + 1 < n and old[i + 1] == second:
                    new.append(new_id)
                    i += 2
                else:
                    new.append(old[i])
                    i += 1
            if len(new) == n:
                continue  # stale index entry: w no longer contains the pair
            words[w] = new
            freq = freqs[w]
            for p in pairwise(old):
                delta[p] = delta.get(p, 0) - freq
            for p in pairwise(new):
                delta[p] = delta.get(p, 0) + freq
                if new_id in p:  # only pairs with the new token are new to this word
                    if p in where:
                        where[p].add(w)
                    else:
                        where[p] = {w}
        for p, d in delta.items():
            if d == 0:
                continue
            count = counts.get(p, 0) + d
            if count:
                counts[p] = count
                heapq.heappush(heap, (-count, p))
            else:
                del counts[p]
                where.pop(p, None)
        new_id += 1
    return merges


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

_PATTERNS: dict[str, Any] = {}


def _compiled(pattern: str) -> Any:
    """``regex.compile`` with a small cache (the ``regex`` module's own cache is per-flags)."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = regex.compile(pattern)
    return compiled


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _check_encodable(text: str, offset: int = 0) -> None:
    """Raise ``ValueError`` at the first lone surrogate of ``text``: it has no UTF-8 bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        ch = text[err.start]
        raise ValueError(
            f"character {ch!r} ({_codepoint(ch)}) at position {offset + err.start} is a lone surrogate, "
            f"which has no UTF-8 bytes and cannot be encoded"
        ) from None


def _preview(text: str, limit: int = 200) -> str:
    """``repr(text)``, cut to about ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r} ... ({len(text) - limit} more)"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_id_list(ids: Iterable[int]) -> list[Any]:
    """A list of ids; numpy arrays and torch tensors become lists of Python ints."""
    tolist = getattr(ids, "tolist", None)
    if tolist is not None:
        ids = tolist()
    return ids if isinstance(ids, list) else list(ids)


def _first_bad_id(ids: list[Any], valid: Mapping[int, Any]) -> tuple[int, Any]:
    for position, token_id in enumerate(ids):
        if not _is_int(token_id) or token_id not in valid:
            return position, token_id
    raise AssertionError("unreachable")  # pragma: no cover


def _claim_id(vocab: dict[int, bytes], token_id: int, value: bytes, what: str) -> None:
    if token_id < 0:
        raise ValueError(f"{what} has the negative id {token_id}")
    if token_id in vocab:
        raise ValueError(f"{what} has the id {token_id}, which another token already has")
    vocab[token_id] = value


def _dump_json(payload: Mapping[str, Any]) -> str:
    """Readable JSON (non-ASCII kept as is), falling back to escapes for lone surrogates."""
    text = json.dumps(payload, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(payload, ensure_ascii=True)
    return text + "\n"


def _atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary file next to ``path``, then ``os.replace`` it there."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_KIND_BY_FORMAT = {_FORMAT_CHAR: "CharTokenizer", _FORMAT_BPE: "BPETokenizer"}


def _read_tokenizer_json(path: PathLike, expected_format: str) -> dict[str, Any]:
    """Parse a saved tokenizer and check its format and version; anything wrong is a ValueError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a gptlib tokenizer file: not valid JSON ({err})") from None
    if not isinstance(data, dict) or "format" not in data:
        raise ValueError(f"{path}: not a gptlib tokenizer file: expected a JSON object with a 'format' key")
    fmt = data["format"]
    if fmt != expected_format:
        if fmt in _KIND_BY_FORMAT:
            raise ValueError(
                f"{path}: holds a {_KIND_BY_FORMAT[fmt]} (format {fmt!r}), not a "
                f"{_KIND_BY_FORMAT[expected_format]}; load it with {_KIND_BY_FORMAT[fmt]}.load"
            )
        raise ValueError(f"{path}: unknown format {fmt!r}; expected {expected_format!r}")
    version = data.get("version")
    if version != _FORMAT_VERSION:
        raise ValueError(
            f"{path}: {fmt} format version {version!r} is not supported; this gptlib reads version {_FORMAT_VERSION}"
        )
    return data


def _check_keys(path: PathLike, data: Mapping[str, Any], expected: set[str]) -> None:
    missing, extra = expected - data.keys(), data.keys() - expected
    if missing:
        raise ValueError(f"{path}: missing key(s) {sorted(missing)}")
    if extra:
        raise ValueError(f"{path}: unexpected key(s) {sorted(extra)}")


def _read_gpt2_vocab(path: str) -> dict[str, int]:
    """Parse GPT-2's ``vocab.json``: a JSON object of token string -> id, no repeated keys."""

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"{path}: token {key!r} appears twice")
            result[key] = value
        return result

    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not valid UTF-8 ({err})") from None
    if not isinstance(vocab, dict):
        raise ValueError(f"{path}: expected a JSON object mapping token strings to ids")
    seen: dict[int, str] = {}
    for token, token_id in vocab.items():
        if not _is_int(token_id) or token_id < 0:
            raise ValueError(f"{path}: token {token!r} has the id {token_id!r}, not a non-negative int")
        if token_id in seen:
            raise ValueError(f"{path}: tokens {seen[token_id]!r} and {token!r} both have the id {token_id}")
        seen[token_id] = token
    return vocab
