"""Wrong answers to the exercises of 01_tokens beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/tokens.py)."""

from gptlib.tokenizers import BPETokenizer


def _empties_merges_then_decodes(ids, merges):
    merges.clear()  # writes into the caller's list: later cases must not see it
    return b"".join(bytes([i]) if i < 256 else b"?" for i in ids).decode("utf-8", errors="replace")


def _empties_merges_then_encodes(text, merges):
    merges.clear()  # writes into the caller's list: later cases must not see it
    return BPETokenizer(merges).encode(text)


WRONG = {
    "01_tokens.bpe_decode": [
        (_empties_merges_then_decodes, "should decode to"),
    ],
    "01_tokens.bpe_encode": [
        (lambda text, merges: list(text.encode("utf-8")), "the neighbours (116, 104) at position 0"),  # no merges
        (_empties_merges_then_encodes, "the neighbours (116, 104) at position 0"),
    ],
}
