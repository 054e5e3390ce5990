"""Wrong answers to the exercises of 01_tokens, each with a piece of the message the student must see."""

import regex
import torch

from gptlib.tokenizers import get_pair_counts, merge, pretokenize


def _vocab(merges, first_new_id=256):
    vocab = {b: bytes([b]) for b in range(256)}
    for rank, (left, right) in enumerate(merges):
        vocab[first_new_id + rank] = vocab[left] + vocab.get(right, b"?")
    return vocab


def _decode_per_token(ids, merges):
    vocab = _vocab(merges)
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def _decode_per_token_strict(ids, merges):
    vocab = _vocab(merges)
    return "".join(vocab[i].decode("utf-8") for i in ids)


def _decode_strict(ids, merges):
    return b"".join(_vocab(merges)[i] for i in ids).decode("utf-8")


def _decode_chr(ids, merges):
    return "".join(chr(b) for i in ids for b in _vocab(merges)[i])


def _decode_off_by_one(ids, merges):
    vocab = _vocab(merges, first_new_id=257)
    return b"".join(vocab.get(i, b"") for i in ids).decode("utf-8", errors="replace")


def _decode_reversed_parts(ids, merges):
    vocab = {b: bytes([b]) for b in range(256)}
    for rank, (left, right) in enumerate(merges):
        vocab[256 + rank] = vocab[right] + vocab[left]
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def _decode_bytes(ids, merges):
    return b"".join(_vocab(merges)[i] for i in ids)


def _decode_nonempty(ids, merges):
    return _decode_strict(ids, merges) if ids else " "


def _encode_chunk(chunk_ids, new_id):
    while len(chunk_ids) > 1:
        mergeable = [pair for pair in get_pair_counts(chunk_ids) if pair in new_id]
        if not mergeable:
            break
        best = min(mergeable, key=new_id.get)
        chunk_ids = merge(chunk_ids, best, new_id[best])
    return chunk_ids


def _new_ids(merges, first=256):
    return {pair: first + rank for rank, pair in enumerate(merges)}


def _encode_no_pretokenize(text, merges):
    return _encode_chunk(list(text.encode("utf-8")), _new_ids(merges))


def _encode_ord(text, merges):
    return [i for chunk in pretokenize(text) for i in _encode_chunk([ord(ch) for ch in chunk], _new_ids(merges))]


def _encode_split_on_spaces(text, merges):
    return [i for word in text.split() for i in _encode_chunk(list(word.encode("utf-8")), _new_ids(merges))]


def _encode_one_round(text, merges):
    new_id, ids = _new_ids(merges), []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        mergeable = [pair for pair in get_pair_counts(chunk_ids) if pair in new_id]
        if mergeable:
            best = min(mergeable, key=new_id.get)
            chunk_ids = merge(chunk_ids, best, new_id[best])
        ids.extend(chunk_ids)
    return ids


def _encode_most_frequent_first(text, merges):
    # Picks the most frequent mergeable pair of the chunk instead of the lowest-ranked one.
    new_id, ids = _new_ids(merges), []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        while True:
            counts = {pair: n for pair, n in get_pair_counts(chunk_ids).items() if pair in new_id}
            if not counts:
                break
            best = max(counts, key=lambda pair: (counts[pair], new_id[pair]))
            chunk_ids = merge(chunk_ids, best, new_id[best])
        ids.extend(chunk_ids)
    return ids


def _encode_reverse_order(text, merges):
    ids = []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        for rank in reversed(range(len(merges))):
            chunk_ids = merge(chunk_ids, merges[rank], 256 + rank)
        ids.extend(chunk_ids)
    return ids


def _encode_off_by_one(text, merges):
    new_id = _new_ids(merges, first=257)
    return [i for chunk in pretokenize(text) for i in _encode_chunk(list(chunk.encode("utf-8")), new_id)]


def _encode_tensor(text, merges):
    new_id = _new_ids(merges)
    return torch.tensor([i for c in pretokenize(text) for i in _encode_chunk(list(c.encode("utf-8")), new_id)],
                        dtype=torch.long)


def _encode_words_only(text, merges):
    # A split pattern that drops whitespace and punctuation.
    new_id = _new_ids(merges)
    return [i for word in regex.findall(r"\p{L}+", text) for i in _encode_chunk(list(word.encode("utf-8")), new_id)]


WRONG = {
    "01_tokens.bpe_decode": [
        (_decode_bytes, "you returned bytes"),
        (lambda ids, merges: list(ids), "returned a list, expected a str"),
        (_decode_nonempty, "no ids should give the empty string"),
        (_decode_chr, "you turned each byte into a character on its own"),
        (_decode_per_token, "you decoded each token on its own"),
        (_decode_per_token_strict, "join the bytes of all the tokens first"),
        (_decode_strict, "decode with errors='replace'"),
        (_decode_off_by_one, "into the new id 256 + 0 = 256"),
        (_decode_reversed_parts, "the bytes of the left token followed by those of the right one"),
    ],
    "01_tokens.bpe_encode": [
        (_encode_no_pretokenize, "a merge crossed a chunk boundary"),
        (_encode_ord, "not from ord() of its characters"),
        (_encode_split_on_spaces, "every byte of the text must end up in exactly one token"),
        (_encode_words_only, "every byte of the text must end up in exactly one token"),
        (_encode_one_round, "Keep merging until no neighbouring pair has a merge"),
        (_encode_reverse_order, "always the lowest-ranked first"),
        (_encode_most_frequent_first, "merge the pair with the lowest rank"),
        (_encode_off_by_one, "merge r makes the new id 256 + r"),
        (_encode_tensor, "use .tolist()"),
        (lambda text, merges: list(text.encode("utf-8")), "the neighbours (116, 104) at position 0"),
    ],
}
