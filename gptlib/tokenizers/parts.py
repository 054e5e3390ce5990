"""A BPE tokenizer's parts, and the check that they fit together.

- :class:`BPEParts`        the byte ids, the merges, the ids they make, the special tokens, the pattern
- :func:`vocab_and_ranks`  check the parts; return the id -> bytes table and the merge ranks

Every way to get a :class:`~gptlib.tokenizers.BPETokenizer` (training, gptlib's saved files,
GPT-2's files, the constructor) ends here, so every one is checked the same way.

>>> parts = BPEParts([(104, 105)], {"<|endoftext|>": 257}, list(range(256)), [256], " ?[a-z]+")
>>> vocab, ranks = vocab_and_ranks(parts)
>>> vocab[104], vocab[256], vocab[257], ranks
(b'h', b'hi', b'<|endoftext|>', {(104, 105): (0, 256)})
>>> vocab_and_ranks(parts._replace(merges=[(104, 999)]))
Traceback (most recent call last):
...
ValueError: merge 0 (104, 999) -> 256: token 999 is neither a byte token nor made by an earlier merge
"""

from __future__ import annotations

from typing import NamedTuple

from ._helpers import Pair, check_encodable

__all__ = ["BPEParts", "vocab_and_ranks"]


class BPEParts(NamedTuple):
    """What a :class:`~gptlib.tokenizers.BPETokenizer` is made of: its constructor's arguments."""

    merges: list[Pair]
    special_tokens: dict[str, int]
    byte_ids: list[int]
    merged_ids: list[int]
    pattern: str


def vocab_and_ranks(parts: BPEParts) -> tuple[dict[int, bytes], dict[Pair, tuple[int, int]]]:
    """Check that ``parts`` fit together; return ``id -> bytes`` and ``(left, right) -> (rank, new id)``.

    Fit together means: 256 byte ids, one made id per merge, both halves of a merge already
    known (a byte token or made by an earlier merge), no merge twice, special tokens that are
    non-empty strings with UTF-8 bytes, and all ids together exactly ``0 .. vocab_size - 1``,
    each used once. Anything else is a ``ValueError`` that names the entry.
    """
    merges, special, byte_ids, merged_ids = parts.merges, parts.special_tokens, parts.byte_ids, parts.merged_ids
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
        check_encodable(text)
        _claim_id(vocab, token_id, text.encode("utf-8"), f"special token {text!r}")
    for expected, token_id in enumerate(sorted(vocab)):
        if expected != token_id:
            raise ValueError(f"token ids must be exactly 0 .. {len(vocab) - 1}, but id {expected} is missing")
    return vocab, ranks


def _claim_id(vocab: dict[int, bytes], token_id: int, value: bytes, what: str) -> None:
    if token_id < 0:
        raise ValueError(f"{what} has the negative id {token_id}")
    if token_id in vocab:
        raise ValueError(f"{what} has the id {token_id}, which another token already has")
    vocab[token_id] = value
