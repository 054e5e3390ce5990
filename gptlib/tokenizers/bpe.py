"""The byte-level BPE tokenizer, GPT-2's scheme: encoding text to ids and decoding ids to text.

- :class:`BPETokenizer`   ``train``, ``from_gpt2_files``, ``encode``, ``decode``, ``save`` / ``load``

It can encode any text: every string is a sequence of UTF-8 bytes, and the 256 byte values are
the first 256 tokens. Learned *merges* glue frequent neighbouring tokens into new tokens. Where
the work happens:

- encoding and decoding: here;
- what a tokenizer is made of, and the checks that its parts fit: :mod:`gptlib.tokenizers.parts`;
- learning the merges (:meth:`BPETokenizer.train`): :mod:`gptlib.tokenizers.training`;
- reading GPT-2's ``vocab.json`` + ``merges.txt``: :mod:`gptlib.tokenizers.gpt2_files`;
- gptlib's own saved JSON files: :mod:`gptlib.tokenizers.saved_files`.

Choices worth knowing
---------------------
- Training ties: of equally frequent pairs, the lexicographically smallest ``(left_id, right_id)``
  is merged first (see :meth:`BPETokenizer.train`).
- ``<|endoftext|>`` in the text to encode is ordinary text unless ``allowed_special`` names it
  (see :meth:`BPETokenizer.encode`); in training text it separates documents.
- Decoding ids whose bytes are not valid UTF-8 (half a character) gives U+FFFD '�' in their place
  (``errors="replace"``); ``decode_bytes`` gives the raw bytes.
- Bad input is a ``ValueError`` that names the offending character, id, file, line or entry.

>>> tok = BPETokenizer.train("", vocab_size=257)   # no merges: one token per UTF-8 byte
>>> tok.encode("hé"), tok.decode([104, 195, 169])
([104, 195, 169], 'hé')
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Literal, Union

import regex

from . import gpt2_files, saved_files, training
from ._helpers import Pair, PathLike, as_id_list, bad_id_error, check_encodable, compiled
from .building_blocks import ENDOFTEXT, GPT2_SPLIT_PATTERN, merge
from .parts import BPEParts, vocab_and_ranks

__all__ = ["BPETokenizer"]

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
        vocab, ranks = vocab_and_ranks(BPEParts(merges, special, byte_ids, merged_ids, pattern))

        self._pattern_str = pattern
        self._pattern = compiled(pattern)
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

        How training avoids rescanning the text after every merge (distinct chunks, an index
        of which chunks hold each pair, a heap) is told in :mod:`gptlib.tokenizers.training`.

        >>> tok = BPETokenizer.train("aaab aaab", vocab_size=259)
        >>> tok.merges                  # (a, a) occurs 4 times, then (256, a) and (a, b) tie
        [(97, 97), (97, 98)]
        """
        merges = training.train_merges(text, vocab_size, pattern)
        num_merges = vocab_size - 257
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

        The ids are kept as they are in ``vocab.json``; every vocab entry that is neither a byte
        token nor made by a merge is a special token (GPT-2: only ``<|endoftext|>`` = 50256). The
        layout of the two files is told in :mod:`gptlib.tokenizers.gpt2_files`; Hugging Face
        ``tokenizers`` byte-level BPE models saved with ``model.save(folder)`` use the same two files.

        The files must agree, else ``ValueError`` naming the file and the line or entry: every
        byte needs a vocab entry, a merge's two parts must be byte tokens or made by earlier
        merges, its result must be in the vocab and made by no other merge, the ids must be
        exactly ``0 .. len(vocab) - 1``.
        """
        parts = gpt2_files.read_gpt2_files(vocab_json_path, merges_txt_path, pattern)
        return cls._from_parts(parts, f"{vocab_json_path} + {merges_txt_path}")

    @classmethod
    def _from_parts(cls, parts: BPEParts, source: str) -> BPETokenizer:
        """The tokenizer a file reader found; a ``ValueError`` of the constructor names ``source``."""
        try:
            return cls(
                parts.merges,
                parts.special_tokens,
                byte_ids=parts.byte_ids,
                merged_ids=parts.merged_ids,
                pattern=parts.pattern,
            )
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

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
        splitter = compiled("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))
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
            check_encodable(text, offset)
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
        ids = as_id_list(ids)
        vocab = self._vocab
        try:
            return b"".join([vocab[i] for i in ids])
        except (KeyError, TypeError):
            pass
        raise bad_id_error(ids, vocab, "BPETokenizer")

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
        """Write the tokenizer to ``path`` as JSON (format ``gptlib-bpe``, see ``saved_files``)."""
        parts = BPEParts(self._merges, self._special, self._byte_ids, self._merged_ids, self._pattern_str)
        saved_files.write_bpe(path, parts)

    @classmethod
    def load(cls, path: PathLike) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`; a malformed file is a ``ValueError``."""
        return cls._from_parts(saved_files.read_bpe(path), str(path))

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
