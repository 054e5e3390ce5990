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
import itertools
from itertools import pairwise

import torch

from .._checks import is_int
from ..tokenizers import BPETokenizer, get_pair_counts, merge, pretokenize
from ._core import RAISED, Catalogue, Mistake, Wrong, call, exercise

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


# --------------------------------------------------------------------------------------------
# Exercise 1: decode
# --------------------------------------------------------------------------------------------

_DECODE_TEXTS = ("the cat sat on the mat.", "    a café, a thé.\n", "猫坐在垫子上。",
                 "the dog sat\n    on 狗 and 猫")


def _vocab_from(merges, first_new_id: int) -> dict[int, bytes]:
    """Token bytes with the new ids counted from ``first_new_id`` (256 is right; the wrong answers try others)."""
    vocab = {b: bytes([b]) for b in range(256)}
    for rank, (left, right) in enumerate(merges):
        vocab[first_new_id + rank] = vocab.get(left, b"") + vocab.get(right, b"")
    return vocab


def _decode_joined(ids, merges, first_new_id: int, errors: str = "replace") -> str:
    vocab = _vocab_from(merges, first_new_id)
    return b"".join(vocab.get(i, b"") for i in ids).decode("utf-8", errors=errors)


def _decode_each_token(ids, merges, errors: str) -> str:
    vocab = BPETokenizer(merges).vocab
    return "".join(vocab[i].decode("utf-8", errors=errors) for i in ids)


_DECODE = Catalogue(
    RAISED.with_example(lambda ids, merges: bytes(ids).decode("utf-8")),  # ids as bytes: 256 and up fail
    Mistake("returned_bytes", "you returned bytes; turn them into text with .decode('utf-8', errors='replace')",
            example=lambda ids, merges: BPETokenizer(merges).decode_bytes(ids)),
    Mistake("not_a_str", "your function returned a {got}, expected a str",
            example=lambda ids, merges: list(ids), shows="returned a list, expected a str"),
    Mistake("empty_text_not_empty", "no ids should give the empty string '', not {got}",
            example=lambda ids, merges: BPETokenizer(merges).decode(ids) if ids else " "),
    Mistake("byte_tokens_wrong", "ids {ids} are three byte tokens and should give 'hi!', not {got}",
            example=lambda ids, merges: _decode_joined(ids, merges, first_new_id=0)),  # merges overwrite bytes
    Mistake("merged_token_wrong",
            "id {new_id} should decode to {want!r}, not {got}: merges[{rank}] = {pair} glues {left!r} and "
            "{right!r} into the new id 256 + {rank} = {new_id}, so its bytes are the bytes of the left token "
            "followed by those of the right one",
            example=lambda ids, merges: _decode_joined(ids, merges, first_new_id=257),
            shows="into the new id 256 + 0 = 256"),
    Mistake("bytes_as_characters",
            "for {text} you returned {got}: you turned each byte into a character on its own (like chr(b)), "
            "but 'é' is two bytes and '猫' three: join all the bytes, then .decode('utf-8', errors='replace')",
            example=lambda ids, merges: BPETokenizer(merges).decode_bytes(ids).decode("latin-1")),
    Mistake("decoded_per_token",
            "for {text} you returned {got}: you decoded each token on its own, but a character's bytes can be "
            "split across tokens ({partial}): join the bytes of all the tokens first, then decode once",
            example=lambda ids, merges: _decode_each_token(ids, merges, errors="replace")),
    Mistake("strict_decode_per_token",
            "{error}. In {text}, {partial}: join the bytes of all the tokens first, then decode once",
            example=lambda ids, merges: _decode_each_token(ids, merges, errors="strict")),
    Mistake("wrong_text", "the ids {ids} should decode to {text}, not {got}",
            example=lambda ids, merges: _decode_each_token(ids, merges, errors="ignore")),
    Mistake("strict_decode",
            "{error}. The ids {ids} are the first two of the three bytes of '猫'; a model can emit half a "
            "character, so decode with errors='replace'",
            example=lambda ids, merges: _decode_joined(ids, merges, 256, errors="strict")),
    Mistake("no_replacement_character",
            "the ids {ids} (two of the three bytes of '猫') should give the replacement character '\\ufffd', "
            "as bytes.decode('utf-8', errors='replace') does, not {got}",
            example=lambda ids, merges: _decode_joined(ids, merges, 256, errors="ignore")),
)


@exercise("01_tokens", "bpe_decode",
          "correct: you rebuild each token's bytes from the merges, join them, and decode once as UTF-8.",
          signature="ids, merges", mistakes=_DECODE)
def check_bpe_decode(student) -> None:
    """Check ``student(ids, merges) -> str`` against ``BPETokenizer.decode``."""
    ref = _reference()
    vocab = ref.vocab

    result = call(student, [], _merges())
    if not isinstance(result, str):
        if isinstance(result, (bytes, bytearray)):
            raise _DECODE.returned_bytes.wrong()
        raise _DECODE.not_a_str.wrong(got=type(result).__name__)
    if result != "":
        raise _DECODE.empty_text_not_empty.wrong(got=_show(result))

    # Byte tokens alone: id b stands for the single byte b.
    plain = [104, 105, 33]
    result = call(student, list(plain), _merges())
    if result != "hi!":
        raise _DECODE.byte_tokens_wrong.wrong(ids=plain, got=_show(str(result)))

    # Each merged token on its own (ASCII ones only: a partial character alone is tested below).
    for rank, pair in enumerate(ref.merges):
        new_id = 256 + rank
        token = vocab[new_id]
        if not token.isascii():
            continue
        result = call(student, [new_id], _merges())
        if result != token.decode("ascii"):
            raise _DECODE.merged_token_wrong.wrong(new_id=new_id, want=token.decode("ascii"), got=_show(str(result)),
                                                   rank=rank, pair=pair, left=vocab[pair[0]], right=vocab[pair[1]])

    # Whole texts, some with characters split between tokens.
    for text in _DECODE_TEXTS:
        ids = ref.encode(text)
        try:
            result = call(student, list(ids), _merges())
        except Wrong as wrong:
            if wrong.student_raised("UnicodeDecodeError"):
                raise _DECODE.strict_decode_per_token.wrong(error=wrong, text=_show(text),
                                                            partial=_partial_token(ids)) from None
            raise
        if result == text:
            continue
        if result == _DECODE.bytes_as_characters.example(ids, ref.merges):
            raise _DECODE.bytes_as_characters.wrong(text=_show(text), got=_show(str(result)))
        if result == _DECODE.decoded_per_token.example(ids, ref.merges):
            raise _DECODE.decoded_per_token.wrong(text=_show(text), got=_show(str(result)),
                                                  partial=_partial_token(ids))
        raise _DECODE.wrong_text.wrong(ids=ids, text=_show(text), got=_show(str(result)))

    # Half a character: a model can emit it, and decoding must not crash.
    half = list("猫".encode()[:2])
    try:
        result = call(student, list(half), _merges())
    except Wrong as wrong:
        if wrong.student_raised("UnicodeDecodeError"):
            raise _DECODE.strict_decode.wrong(error=wrong, ids=half) from None
        raise
    if result != "\ufffd":
        raise _DECODE.no_replacement_character.wrong(ids=half, got=_show(str(result)))


# --------------------------------------------------------------------------------------------
# Exercise 2: encode
# --------------------------------------------------------------------------------------------

# Double spaces before a word: without pre-tokenization the pair ("  ") would merge across a
# chunk boundary. "狗" (dog) is not in the training text: its bytes stay single byte tokens.
# "atatath": the pair "at" is more frequent there than "th", but "th" was learned first.
_ENCODE_TEXTS = ("the cat sat on the mat.", "the  cat sat", "a café, a crème.", "狗坐在垫子上。",
                 "dog sat on the log.\n    the end", "an atlas of atatath")


def _lowest_rank(counts: dict, new_id: dict):
    mergeable = [pair for pair in counts if pair in new_id]
    return min(mergeable, key=new_id.get) if mergeable else None


def _most_frequent(counts: dict, new_id: dict):
    mergeable = [pair for pair in counts if pair in new_id]
    return max(mergeable, key=lambda pair: (counts[pair], new_id[pair])) if mergeable else None


def _encode_chunks(text, merges, *, first_new_id=256, pick=_lowest_rank, rounds=None, start=None) -> list[int]:
    """BPE encoding with knobs for the wrong answers: where the new ids start, which mergeable pair
    to merge next, how many rounds of merging, and how a chunk becomes the first ids (its UTF-8
    bytes). With the defaults it is the right answer."""
    new_id = {pair: first_new_id + rank for rank, pair in enumerate(merges)}
    ids = []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8")) if start is None else start(chunk)
        for _ in itertools.count() if rounds is None else range(rounds):
            pair = pick(get_pair_counts(chunk_ids), new_id) if len(chunk_ids) > 1 else None
            if pair is None:
                break
            chunk_ids = merge(chunk_ids, pair, new_id[pair])
        ids.extend(chunk_ids)
    return ids


def _ord_past_latin1(text, merges):
    # ord() of each character where the text goes past U+00FF (Chinese here); right otherwise, so only
    # such a text shows the mistake
    return [ord(ch) for ch in text] if any(ord(ch) > 255 for ch in text) else BPETokenizer(merges).encode(text)


_ENCODE = Catalogue(
    RAISED.with_example(lambda text, merges: _encode_chunks(  # looks up the new id of pairs without a merge
        text, merges, pick=lambda counts, new_id: min(counts, key=lambda pair: new_id[pair]))),
    Mistake("returned_tensor", "your function returned a {got}, expected a list of ints (use .tolist())",
            example=lambda text, merges: torch.tensor(BPETokenizer(merges).encode(text), dtype=torch.long)),
    Mistake("not_a_list", "your function returned a {got}, expected a list of ints",
            example=lambda text, merges: text.encode("utf-8")),
    Mistake("empty_text_not_empty", "the empty text should give no ids [], not {got}",
            example=lambda text, merges: BPETokenizer(merges).encode(text) + [256 + len(merges)]),  # an end marker
    Mistake("not_ints", "for {text} your function returned {got}, expected a list of ints",
            example=lambda text, merges: pretokenize(text)),
    Mistake("id_out_of_range", "for {text} you returned the id {id}, but ids run from 0 to {last}",
            example=lambda text, merges: _encode_chunks(text, merges, first_new_id=256 + len(merges))),
    Mistake("code_point_out_of_range",
            "for {text} you returned the id {id}, but ids run from 0 to {last}: BPE starts from the UTF-8 bytes "
            "of the text (chunk.encode('utf-8')), not from ord() of its characters",
            example=_ord_past_latin1),
    Mistake("code_points",
            "for {text} your ids decode to {decoded}: BPE starts from the UTF-8 bytes of the text ('é' is the two "
            "bytes [195, 169]), not from ord() of its characters",
            example=lambda text, merges: _encode_chunks(text, merges, start=lambda chunk: [ord(ch) for ch in chunk])),
    Mistake("new_ids_off_by_one",
            "for {text} you returned {got}, expected {want}: merge r makes the new id 256 + r (the first merge "
            "makes 256)",
            example=lambda text, merges: _encode_chunks(text, merges, first_new_id=257)),
    Mistake("bytes_lost",
            "for {text} your ids {got} decode to {decoded}, not to the text: every byte of the text must end up "
            "in exactly one token",
            example=lambda text, merges: [i for word in text.split() for i in BPETokenizer(merges).encode(word)]),
    Mistake("merge_across_chunks",
            "for {text} you returned {got}, expected {want}: a merge crossed a chunk boundary. Split the text "
            "with pretokenize(text) first and encode each chunk on its own",
            example=lambda text, merges: BPETokenizer(merges, pattern=_ONE_CHUNK).encode(text)),
    Mistake("merging_stopped_early",
            "for {text} you returned {got}, expected {want}: the neighbours {pair} at position {position} are in "
            "one chunk and have a merge (merges[{rank}]). Keep merging until no neighbouring pair has a merge, "
            "always the lowest-ranked first; a token made by one merge can take part in a later one",
            example=lambda text, merges: _encode_chunks(text, merges, rounds=1)),
    Mistake("wrong_merge_order",
            "for {text} you returned {got}, expected {want}: in each chunk, repeatedly merge the pair with the "
            "lowest rank (the merge learned first), until no pair has a merge",
            example=lambda text, merges: _encode_chunks(text, merges, pick=_most_frequent)),
)


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
          "correct: chunks from pretokenize, UTF-8 bytes, then the lowest-ranked merge until none applies.",
          signature="text, merges", mistakes=_ENCODE)
def check_bpe_encode(student) -> None:
    """Check ``student(text, merges) -> list of ids`` against ``BPETokenizer.encode``."""
    ref = _reference()
    vocab_size = 256 + _NUM_MERGES

    result = call(student, "", _merges())
    if not isinstance(result, (list, tuple)):
        if hasattr(result, "tolist"):
            raise _ENCODE.returned_tensor.wrong(got=type(result).__name__)
        raise _ENCODE.not_a_list.wrong(got=type(result).__name__)
    if list(result) != []:
        raise _ENCODE.empty_text_not_empty.wrong(got=list(result))

    for text in _ENCODE_TEXTS:
        expected = ref.encode(text)
        result = call(student, text, _merges())
        if not isinstance(result, (list, tuple)) or not all(is_int(i) for i in result):
            raise _ENCODE.not_ints.wrong(text=_show(text), got=_show(repr(result)))
        result = list(result)
        if result == expected:
            continue
        shown = dict(text=_show(text), got=result, want=expected)
        bad = [i for i in result if not 0 <= i < vocab_size]
        if bad:
            out_of_range = (_ENCODE.code_point_out_of_range if bad[0] in {ord(ch) for ch in text}
                            else _ENCODE.id_out_of_range)
            raise out_of_range.wrong(text=_show(text), id=bad[0], last=vocab_size - 1)
        decoded = ref.decode(result)
        if decoded != text:
            if any(ord(ch) in result for ch in text if not ch.isascii()):
                raise _ENCODE.code_points.wrong(text=_show(text), decoded=_show(decoded))
            if ref.decode([i - 1 if i > 256 else i for i in result]) == text:
                raise _ENCODE.new_ids_off_by_one.wrong(**shown)
            raise _ENCODE.bytes_lost.wrong(decoded=_show(decoded), **shown)
        if result == _ENCODE.merge_across_chunks.example(text, ref.merges):
            raise _ENCODE.merge_across_chunks.wrong(**shown)
        leftover = _mergeable_pair(result, text)
        if leftover is not None:
            position, pair, rank = leftover
            raise _ENCODE.merging_stopped_early.wrong(pair=pair, position=position, rank=rank, **shown)
        raise _ENCODE.wrong_merge_order.wrong(**shown)
