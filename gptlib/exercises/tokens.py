"""Exercises of notebook 01_tokens: decode and encode with a list of learned BPE merges.

Both exercises take ``merges`` the way ``BPETokenizer.merges`` gives them: a list of pairs
``(left_id, right_id)`` in the order they were learned, merge ``r`` making the new id ``256 + r``.
The checkers train a small reference tokenizer with :meth:`gptlib.tokenizers.BPETokenizer.train`
(English with runs of spaces, accented letters and Chinese, so that some tokens hold only part of
a character) and compare the student's function with gptlib on texts chosen so that the common
mistakes give a different answer.
"""

from __future__ import annotations

import functools
from itertools import pairwise

from ..tokenizers import BPETokenizer, pretokenize
from ._core import Wrong, call, exercise

# Training text of the reference tokenizer: indented lines (so "  " and "\n   " become tokens),
# accented letters (two UTF-8 bytes each) and Chinese (three bytes each; BPE merges byte pairs
# that straddle two characters, so a token can end in the middle of a character).
_TRAIN_TEXT = (
    "the cat sat on the mat.\n"
    "    the dog sat on the log.\n"
    "    a café, a crème brûlée, a thé.\n"
    "猫坐在垫子上。猫很开心。\n"
) * 4
_NUM_MERGES = 40
_ONE_CHUNK = r"[\s\S]+"  # a split pattern that keeps the whole text as one chunk


@functools.lru_cache(maxsize=1)
def _reference() -> BPETokenizer:
    return BPETokenizer.train(_TRAIN_TEXT, vocab_size=257 + _NUM_MERGES)


def _merges() -> list[tuple[int, int]]:
    """A fresh copy for every call, so a student's function that changes it cannot spoil later cases."""
    return _reference().merges


def _show(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _partial_token(ids: list[int]) -> str:
    """Describe the first token in ``ids`` whose bytes are not whole UTF-8 characters."""
    vocab = _reference().vocab
    for i in ids:
        try:
            vocab[i].decode("utf-8")
        except UnicodeDecodeError:
            return f"token {i} is the bytes {vocab[i]!r}, not whole characters"
    return "see the notebook"  # pragma: no cover  (every decode case holds such a token)


def _call_decode(student, ids: list[int], fix: str):
    """Call the student's decode; a UnicodeDecodeError gets a hint on how to avoid it."""
    try:
        return call(student, list(ids), _merges())
    except Wrong as err:
        if "UnicodeDecodeError" in str(err):
            raise Wrong(f"{err}. {fix}") from None
        raise


# --------------------------------------------------------------------------------------------
# Exercise 1: decode
# --------------------------------------------------------------------------------------------

_DECODE_TEXTS = ("the cat sat on the mat.", "    a café, a thé.\n", "猫坐在垫子上。",
                 "the dog sat\n    on 狗 and 猫")


@exercise("01_tokens", "bpe_decode",
          "correct: you rebuild each token's bytes from the merges, join them, and decode once as UTF-8.")
def check_bpe_decode(student) -> None:
    """Check ``student(ids, merges) -> str`` against ``BPETokenizer.decode``."""
    ref = _reference()
    vocab = ref.vocab

    result = call(student, [], _merges())
    if not isinstance(result, str):
        if isinstance(result, (bytes, bytearray)):
            raise Wrong("you returned bytes; turn them into text with .decode('utf-8', errors='replace')")
        raise Wrong(f"your function returned a {type(result).__name__}, expected a str")
    if result != "":
        raise Wrong(f"no ids should give the empty string '', not {_show(result)}")

    # Byte tokens alone: id b stands for the single byte b.
    plain = [104, 105, 33]
    result = call(student, list(plain), _merges())
    if result != "hi!":
        raise Wrong(f"ids {plain} are three byte tokens and should give 'hi!', not {_show(str(result))}")

    # Each merged token on its own (ASCII ones only: a partial character alone is tested below).
    for rank, pair in enumerate(ref.merges):
        new_id = 256 + rank
        token = vocab[new_id]
        if not token.isascii():
            continue
        result = call(student, [new_id], _merges())
        if result != token.decode("ascii"):
            raise Wrong(
                f"id {new_id} should decode to {token.decode('ascii')!r}, not {_show(str(result))}: merges[{rank}] = "
                f"{pair} glues {vocab[pair[0]]!r} and {vocab[pair[1]]!r} into the new id 256 + {rank} = {new_id}, "
                f"so its bytes are the bytes of the left token followed by those of the right one"
            )

    # Whole texts, some with characters split between tokens.
    for text in _DECODE_TEXTS:
        ids = ref.encode(text)
        result = _call_decode(student, ids, f"In {_show(text)}, {_partial_token(ids)}: join the bytes of all the "
                                            f"tokens first, then decode once")
        if result == text:
            continue
        as_latin1 = ref.decode_bytes(ids).decode("latin-1")
        per_token = "".join(ref.decode([i]) for i in ids)
        if result == as_latin1:
            raise Wrong(
                f"for {_show(text)} you returned {_show(str(result))}: you turned each byte into a character on "
                f"its own (like chr(b)), but 'é' is two bytes and '猫' three: join all the bytes, then "
                f".decode('utf-8', errors='replace')"
            )
        if result == per_token:
            raise Wrong(
                f"for {_show(text)} you returned {_show(str(result))}: you decoded each token on its own, but a "
                f"character's bytes can be split across tokens ({_partial_token(ids)}): join the bytes of "
                f"all the tokens first, then decode once"
            )
        raise Wrong(f"the ids {ids} should decode to {_show(text)}, not {_show(str(result))}")

    # Half a character: a model can emit it, and decoding must not crash.
    half = list("猫".encode()[:2])
    result = _call_decode(student, half, f"The ids {half} are the first two of the three bytes of '猫'; a model "
                                         f"can emit half a character, so decode with errors='replace'")
    if result != "\ufffd":
        raise Wrong(f"the ids {half} (two of the three bytes of '猫') should give the replacement character "
                    f"'\\ufffd', as bytes.decode('utf-8', errors='replace') does, not {_show(str(result))}")


# --------------------------------------------------------------------------------------------
# Exercise 2: encode
# --------------------------------------------------------------------------------------------

# Double spaces before a word: without pre-tokenization the pair ("  ") would merge across a
# chunk boundary. "狗" (dog) is not in the training text: its bytes stay single byte tokens.
# "atatath": the pair "at" is more frequent there than "th", but "th" was learned first.
_ENCODE_TEXTS = ("the cat sat on the mat.", "the  cat sat", "a café, a crème.", "狗坐在垫子上。",
                 "dog sat on the log.\n    the end", "an atlas of atatath")


def _mergeable_pair(ids: list[int], text: str):
    """The first neighbouring pair of ``ids`` inside one chunk of ``text`` that has a merge, else None.

    Returns ``(position, pair, rank)``. ``ids`` must decode to ``text``.
    """
    ref = _reference()
    vocab, ranks = ref.vocab, {pair: rank for rank, pair in enumerate(ref.merges)}
    boundaries, offset = set(), 0  # byte offsets where a chunk starts
    for chunk in pretokenize(text):
        boundaries.add(offset)
        offset += len(chunk.encode("utf-8"))
    offset = 0
    for position, (left, right) in enumerate(pairwise(ids)):
        offset += len(vocab[left])
        if offset not in boundaries and (left, right) in ranks:
            return position, (left, right), ranks[left, right]
    return None


@exercise("01_tokens", "bpe_encode",
          "correct: chunks from pretokenize, UTF-8 bytes, then the lowest-ranked merge until none applies.")
def check_bpe_encode(student) -> None:
    """Check ``student(text, merges) -> list of ids`` against ``BPETokenizer.encode``."""
    ref = _reference()
    vocab_size = 256 + _NUM_MERGES

    result = call(student, "", _merges())
    if not isinstance(result, (list, tuple)):
        raise Wrong(f"your function returned a {type(result).__name__}, expected a list of ints"
                    + (" (use .tolist())" if hasattr(result, "tolist") else ""))
    if list(result) != []:
        raise Wrong(f"the empty text should give no ids [], not {list(result)}")

    for text in _ENCODE_TEXTS:
        expected = ref.encode(text)
        result = call(student, text, _merges())
        if not isinstance(result, (list, tuple)) or not all(isinstance(i, int) for i in result):
            raise Wrong(f"for {_show(text)} your function returned {_show(repr(result))}, expected a list of ints")
        result = list(result)
        if result == expected:
            continue
        bad = [i for i in result if not 0 <= i < vocab_size]
        if bad:
            codepoints = {ord(ch) for ch in text}
            hint = (": BPE starts from the UTF-8 bytes of the text (chunk.encode('utf-8')), not from ord() of "
                    "its characters" if bad[0] in codepoints else "")
            raise Wrong(f"for {_show(text)} you returned the id {bad[0]}, but ids run from 0 to "
                        f"{vocab_size - 1}{hint}")
        decoded = ref.decode(result)
        if decoded != text:
            if any(ord(ch) in result for ch in text if not ch.isascii()):
                raise Wrong(f"for {_show(text)} your ids decode to {_show(decoded)}: BPE starts from the UTF-8 "
                            f"bytes of the text ('é' is the two bytes [195, 169]), not from ord() of its characters")
            if ref.decode([i - 1 if i > 256 else i for i in result]) == text:
                raise Wrong(f"for {_show(text)} you returned {result}, expected {expected}: merge r makes the "
                            f"new id 256 + r (the first merge makes 256)")
            raise Wrong(f"for {_show(text)} your ids {result} decode to {_show(decoded)}, not to the text: "
                        f"every byte of the text must end up in exactly one token")
        one_chunk = BPETokenizer(ref.merges, pattern=_ONE_CHUNK).encode(text)
        if result == one_chunk:
            raise Wrong(f"for {_show(text)} you returned {result}, expected {expected}: a merge crossed a chunk "
                        f"boundary. Split the text with pretokenize(text) first and encode each chunk on its own")
        leftover = _mergeable_pair(result, text)
        if leftover is not None:
            position, pair, rank = leftover
            raise Wrong(f"for {_show(text)} you returned {result}, expected {expected}: the neighbours {pair} at "
                        f"position {position} are in one chunk and have a merge (merges[{rank}]). Keep merging "
                        f"until no neighbouring pair has a merge, always the lowest-ranked first; a token made by "
                        f"one merge can take part in a later one")
        raise Wrong(f"for {_show(text)} you returned {result}, expected {expected}: in each chunk, repeatedly "
                    f"merge the pair with the lowest rank (the merge learned first), until no pair has a merge")
