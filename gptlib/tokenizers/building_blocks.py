"""The building blocks of byte-level BPE, the ones the notebook first writes by hand.

- :data:`GPT2_SPLIT_PATTERN`   GPT-2's regex that cuts text into chunks before BPE
- :data:`ENDOFTEXT`            GPT-2's one special token, ``"<|endoftext|>"``
- :func:`pretokenize`          text -> chunks (merges never cross a chunk boundary)
- :func:`get_pair_counts`      how often each pair of neighbouring ids occurs
- :func:`merge`                replace every occurrence of a pair by one new id

One round of training, by hand: count the pairs, merge the most frequent one.

>>> ids = list("aaab".encode("utf-8"))
>>> ids
[97, 97, 97, 98]
>>> counts = get_pair_counts(ids)
>>> top = max(counts, key=counts.get)
>>> top, merge(ids, top, 256)
((97, 97), [256, 97, 98])
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from ._helpers import Pair, compiled

__all__ = ["GPT2_SPLIT_PATTERN", "ENDOFTEXT", "pretokenize", "get_pair_counts", "merge"]

#: GPT-2's pre-tokenization regex. Alternatives, tried left to right at each position:
#: the English contractions ``'s 't 're 've 'm 'll 'd``; an optional space plus a run of letters;
#: an optional space plus a run of digits; an optional space plus a run of anything else that is
#: not whitespace (punctuation, symbols, emoji); a run of whitespace that is not followed by a
#: non-space (so the *last* space before a word is left to join that word); any other whitespace.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: GPT-2's end-of-text token, the one special token a trained :class:`BPETokenizer` has.
ENDOFTEXT = "<|endoftext|>"


def pretokenize(text: str, pattern: str = GPT2_SPLIT_PATTERN) -> list[str]:
    """Split ``text`` into the chunks that BPE works on; merges never cross a chunk boundary.

    The chunks concatenate back to ``text`` exactly (the default pattern matches every character).

    >>> pretokenize("Hello world, it's 2024!!")
    ['Hello', ' world', ',', ' it', "'s", ' 2024', '!!']
    >>> pretokenize("a  b\\n\\n")   # the last space before a word goes with the word
    ['a', ' ', ' b', '\\n\\n']
    """
    chunks: list[str] = compiled(pattern).findall(text)
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
