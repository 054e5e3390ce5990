"""Training byte-level BPE: learning the merges, the work behind :meth:`BPETokenizer.train`.

- :func:`train_merges`   text + vocab size -> the merges, in the order learned
- :func:`learn_merges`   the loop itself, on distinct chunks and their counts

The rule is the notebook's: count neighbouring pairs inside each pre-tokenized chunk
(:func:`~gptlib.tokenizers.pretokenize`, :func:`~gptlib.tokenizers.get_pair_counts`), merge the
most frequent pair everywhere (:func:`~gptlib.tokenizers.merge`), repeat. Of equally frequent
pairs the lexicographically smallest ``(left_id, right_id)`` goes first. Done literally, every
merge recounts the whole text. Three ideas make plain Python quick enough for tiny Shakespeare:

- the text is reduced to its *distinct* chunks with their counts (tiny Shakespeare: 300k
  chunks, 15k distinct), and a pair's count is the sum of its chunks' counts;
- an index ``pair -> chunks that contain it`` means a merge rewrites only those chunks, and the
  counts of the pairs they contain are updated by difference (old pairs out, new pairs in);
- a heap of ``(-count, pair)`` finds the next merge; entries are not removed when a count
  changes, instead a new entry is pushed and an entry whose count is out of date is skipped
  when it reaches the top ("lazy invalidation"). The heap's order, count first and then the
  pair, is the tie rule.

>>> learn_merges({"aaab": 2, "ab": 1}, num_merges=2)   # (a, a) occurs 4 times, (a, b) 3 times
[(97, 97), (97, 98)]
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from itertools import pairwise

from ._helpers import Pair, check_encodable, compiled
from .building_blocks import ENDOFTEXT, GPT2_SPLIT_PATTERN

__all__ = ["train_merges", "learn_merges"]


def train_merges(text: str, vocab_size: int, pattern: str = GPT2_SPLIT_PATTERN) -> list[Pair]:
    """Up to ``vocab_size - 257`` merges learned from ``text`` (fewer if it runs out of pairs).

    257 is the 256 byte tokens plus ``<|endoftext|>``; a smaller ``vocab_size`` is a
    ``ValueError``. ``<|endoftext|>`` in ``text`` separates documents: the text is cut there and
    the special token itself is not learned from.

    >>> train_merges("hi hi<|endoftext|>hi", vocab_size=260)
    [(104, 105), (32, 256)]
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < 257:
        raise ValueError(
            f"vocab_size={vocab_size} is too small: the minimum is 257, the 256 byte tokens "
            f"plus the special token {ENDOFTEXT} (and then no merges)"
        )
    check_encodable(text)
    split = compiled(pattern)
    chunk_counts: Counter[str] = Counter()
    for document in text.split(ENDOFTEXT):
        chunk_counts.update(split.findall(document))
    return learn_merges(chunk_counts, vocab_size - 257)


def learn_merges(chunk_counts: Mapping[str, int], num_merges: int) -> list[Pair]:
    """Learn up to ``num_merges`` merges from distinct chunks and their counts.

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
