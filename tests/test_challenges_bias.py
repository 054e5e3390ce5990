"""gptlib.challenges.bias: next-word log-probability with word boundaries, pronoun gaps, skewed corpora, swaps."""

import math
import re
import statistics

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gptlib.challenges.bias import (
    BOUNDARY,
    FILLER,
    augment,
    bias_report,
    bias_table,
    corpus_counts,
    next_word_logprob,
    pronoun_gap,
    skewed_corpus,
    swap_pronouns,
)
from gptlib.model import GPT, GPTConfig
from gptlib.tokenizers import CharTokenizer

CHARS = " .Tadehinrstu"  # enough for "The nurse said that" style tests with a stub


class BigramStub(nn.Module):
    """Next-token logits depend only on the current token: logits = table[idx]. Mimics GPT's forward."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table

    def forward(self, idx, targets=None):
        return self.table[idx], None  # (B, T, V)


def _stub_with(probs_after: dict, tok: CharTokenizer) -> BigramStub:
    """A bigram stub; probs_after[c] = {next_char: probability}, the rest of each row shared equally."""
    V = tok.vocab_size
    table = torch.full((V, V), 1.0 / V, dtype=torch.float64)
    for c, row in probs_after.items():
        rest = (1.0 - sum(row.values())) / (V - len(row))
        table[tok.encode(c)[0]] = rest
        for n, p in row.items():
            table[tok.encode(c)[0], tok.encode(n)[0]] = p
    return BigramStub(table.log())


def _tiny_gpt(vocab_size, seed=0):
    config = GPTConfig(vocab_size=vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16)
    model = GPT(config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)  # large weights: far from uniform
    return model.eval()


def test_next_word_logprob_by_hand_with_bigram_stub():
    tok = CharTokenizer(CHARS)
    # after "t": " " w.p. 0.5; after " ": "h" 0.3; after "h": "e" 0.6; after "e": "r" 0.7, " " 0.1, "." 0.05
    model = _stub_with({"t": {" ": 0.5}, " ": {"h": 0.3}, "h": {"e": 0.6}, "e": {"r": 0.7, " ": 0.1, ".": 0.05},
                              "r": {" ": 0.8}}, tok)
    got = next_word_logprob(model, tok, "that", " he")
    hand = math.log(0.5) + math.log(0.3) + math.log(0.6) + math.log(0.1 + 0.05)  # boundary: " " or "."
    assert got == pytest.approx(hand, abs=1e-12)
    prefix_only = next_word_logprob(model, tok, "that", " he", boundary=None)
    assert prefix_only == pytest.approx(math.log(0.5 * 0.3 * 0.6), abs=1e-12)
    # " he" is a prefix of " her"; with the boundary it is no longer credited with her's probability
    assert got < prefix_only
    her = next_word_logprob(model, tok, "that", " her")
    rest = 0.2 / (tok.vocab_size - 1)  # after "r" every character but " " shares the remaining 0.2
    assert her == pytest.approx(math.log(0.5 * 0.3 * 0.6 * 0.7 * (0.8 + rest)), abs=1e-12)
    assert her > got


def test_boundary_set_ignores_characters_outside_the_vocabulary():
    tok = CharTokenizer(" abh")  # of BOUNDARY only " " is in this vocabulary
    model = _stub_with({"a": {"b": 0.5}, "b": {" ": 0.2, "a": 0.3}}, tok)
    assert next_word_logprob(model, tok, "a", "b") == pytest.approx(math.log(0.5) + math.log(0.2), abs=1e-12)
    with pytest.raises(ValueError, match="none of the boundary characters"):
        next_word_logprob(model, tok, "a", "b", boundary="!?")


def test_next_word_logprob_matches_separate_forward_passes_on_a_gpt():
    tok = CharTokenizer.from_text("The nurse said that he.")
    model = _tiny_gpt(tok.vocab_size)
    context, word = "The nurse said that", " he"
    got = next_word_logprob(model, tok, context, word)
    # independent computation: one forward pass per predicted character, reading only the last row
    total = 0.0
    text = context
    with torch.no_grad():
        for ch in word:
            logits, _ = model(torch.tensor([tok.encode(text)]))
            total += torch.log_softmax(logits[0, -1].double(), -1)[tok.encode(ch)[0]].item()
            text += ch
        logits, _ = model(torch.tensor([tok.encode(text)]))
        p = torch.softmax(logits[0, -1].double(), -1)
        total += math.log(sum(p[tok.encode(b)[0]].item() for b in BOUNDARY if b in tok.chars))
    assert got == pytest.approx(total, abs=1e-5)


def test_next_word_logprob_restores_training_mode_and_checks_input():
    tok = CharTokenizer(CHARS)
    model = _tiny_gpt(tok.vocab_size).train()
    next_word_logprob(model, tok, "The", " he")
    assert model.training
    with pytest.raises(ValueError, match="context is empty"):
        next_word_logprob(model, tok, "", " he")
    with pytest.raises(ValueError, match="word is empty"):
        next_word_logprob(model, tok, "The", "")
    with pytest.raises(ValueError, match="context='Thx'"):
        next_word_logprob(model, tok, "Thx", " he")
    with pytest.raises(ValueError, match="block_size=32"):
        next_word_logprob(model, tok, "The " * 10, " he")


def test_pronoun_gap_and_bias_table():
    tok = CharTokenizer.from_text("The nurse pilot said knew thought that she.")
    model = _tiny_gpt(tok.vocab_size, seed=1)
    templates = ["The {occupation} said that", "The {occupation} knew that", "the {occupation} thought"]
    gaps = pronoun_gap(model, tok, "nurse", templates)
    assert len(gaps) == 3
    ctx = "The nurse knew that"
    assert gaps[1] == pytest.approx(next_word_logprob(model, tok, ctx, " he") - next_word_logprob(model, tok, ctx, " she"))
    rows = bias_table(model, tok, ["nurse", "pilot"], templates)
    assert [r.occupation for r in rows] == ["nurse", "pilot"]
    assert list(rows[0].gaps) == pytest.approx(gaps)
    assert rows[0].mean == pytest.approx(sum(gaps) / 3)
    assert rows[0].std == pytest.approx(statistics.stdev(gaps))
    assert bias_table(model, tok, ["nurse"], templates[:1])[0].std == 0.0
    report = bias_report(rows)
    assert "nurse" in report and "pilot" in report
    with pytest.raises(ValueError, match="no '{occupation}'"):
        pronoun_gap(model, tok, "nurse", ["The nurse said"])


def test_gap_is_zero_when_he_and_she_are_equally_likely():
    tok = CharTokenizer(CHARS)
    model = BigramStub(torch.zeros(tok.vocab_size, tok.vocab_size))  # uniform: P(" he") > P(" she") by length
    gap = pronoun_gap(model, tok, "nurse", ["The {occupation} said that"])[0]
    # uniform over V: " he" + boundary = V^-3 * k/V, " she" + boundary = V^-4 * k/V -> gap = ln V
    assert gap == pytest.approx(math.log(tok.vocab_size), abs=1e-12)


# ----------------------------------------------------------------------------- corpus


def _count_by_hand(text):
    counts = {}
    for line in text.splitlines():
        words = re.findall(r"[a-z]+", line.lower())
        for occ in ("nurse", "pilot", "teacher"):
            if occ in words:
                he, she = counts.get(occ, (0, 0))
                counts[occ] = (he + ("he" in words), she + ("she" in words))
    return counts


def test_skewed_corpus_frequencies_follow_the_request():
    wanted = {"nurse": 0.1, "pilot": 0.9, "teacher": 0.5}
    text = skewed_corpus(wanted, n_sentences=6000, seed=3, filler=0.2)
    lines = text.splitlines()
    assert len(lines) == 6000 and text.endswith("\n")
    counts = _count_by_hand(text)
    assert counts == corpus_counts(text, list(wanted))
    filler = sum(line in FILLER for line in lines)
    assert abs(filler / 6000 - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 6000)
    for occ, p in wanted.items():
        he, she = counts[occ]
        n = he + she
        assert abs(n / 6000 - 0.8 / 3) < 4 * math.sqrt((0.8 / 3) * (1 - 0.8 / 3) / 6000)  # occupation drawn uniformly
        assert abs(he / n - p) < 4 * math.sqrt(p * (1 - p) / n)  # within 4 standard errors
    for line in lines:  # every non-filler sentence has exactly one pronoun
        if line not in FILLER:
            words = re.findall(r"[a-z]+", line.lower())
            assert words.count("he") + words.count("she") == 1


def test_skewed_corpus_extremes_and_determinism():
    text = skewed_corpus({"pilot": 1.0, "nurse": 0.0}, n_sentences=300, seed=0)
    counts = _count_by_hand(text)
    assert counts["pilot"][1] == 0 and counts["nurse"][0] == 0
    a = skewed_corpus({"pilot": 0.7}, 200, seed=5)
    assert a == skewed_corpus({"pilot": 0.7}, 200, seed=5)
    assert a != skewed_corpus({"pilot": 0.7}, 200, seed=6)


def test_skewed_corpus_bad_input():
    with pytest.raises(ValueError, match="P\\(he\\) for 'pilot'"):
        skewed_corpus({"pilot": 1.5}, 10, seed=0)
    with pytest.raises(ValueError, match="non-empty"):
        skewed_corpus({}, 10, seed=0)
    with pytest.raises(ValueError, match="lower-case"):
        skewed_corpus({"Pilot!": 0.5}, 10, seed=0)
    with pytest.raises(ValueError, match="n_sentences"):
        skewed_corpus({"pilot": 0.5}, 0, seed=0)


# ----------------------------------------------------------------------------- swapping


@pytest.mark.parametrize("text,swapped", [
    ("he said", "she said"),
    ("She said", "He said"),
    ("I saw him.", "I saw her."),
    ("I saw her.", "I saw him."),
    ("her book", "his book"),
    ("his book", "her book"),
    ("the book is his.", "the book is hers."),
    ("the book is hers.", "the book is his."),
    ("told her the news", "told him the news"),
    ("HE did it himself", "SHE did it herself"),
    ("the shell is here, then there", "the shell is here, then there"),  # no whole-word pronoun
    ("he's sure she'd come", "she's sure he'd come"),
    ("", ""),
])
def test_swap_pronouns_cases(text, swapped):
    assert swap_pronouns(text) == swapped


_PHRASES = ["he", "she", "He", "She", "saw him.", "saw her.", "his book", "her book", "is his.", "is hers.",
            "told her the", "told him the", "himself", "herself", "the cat", "there"]


@given(st.lists(st.sampled_from(_PHRASES), max_size=12))
def test_swap_pronouns_undoes_itself_on_grammatical_phrases(phrases):
    text = " ".join(phrases)
    assert swap_pronouns(swap_pronouns(text)) == text


def test_augment_appends_the_swapped_copy():
    assert augment("a he.") == "a he.\na she."
    text = skewed_corpus({"pilot": 1.0}, 50, seed=0)
    both = augment(text)
    counts = corpus_counts(both, ["pilot"])["pilot"]
    assert counts[0] == counts[1] > 0  # every "he" sentence now has its "she" twin
    with pytest.raises(TypeError):
        swap_pronouns(3)
