"""Solutions to the exercises of 01_tokens.ipynb. Try them yourself first!"""

from gptlib.tokenizers import get_pair_counts, merge, pretokenize


def bpe_decode(ids: list[int], merges: list[tuple[int, int]]) -> str:
    """The text for ``ids``: each token's bytes, joined, decoded once as UTF-8."""
    vocab = {b: bytes([b]) for b in range(256)}  # id -> the bytes it stands for
    for rank, (left, right) in enumerate(merges):
        vocab[256 + rank] = vocab[left] + vocab[right]
    # Join first: a character's bytes can be split between two tokens.
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def bpe_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """The ids of ``text``: per chunk, UTF-8 bytes, then the lowest-ranked merge until none applies."""
    new_id = {pair: 256 + rank for rank, pair in enumerate(merges)}  # a lower id is a lower rank
    ids = []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        while len(chunk_ids) > 1:
            mergeable = [pair for pair in get_pair_counts(chunk_ids) if pair in new_id]
            if not mergeable:
                break
            best = min(mergeable, key=new_id.get)
            chunk_ids = merge(chunk_ids, best, new_id[best])
        ids.extend(chunk_ids)
    return ids
