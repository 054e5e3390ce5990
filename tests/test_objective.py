"""gptlib.objective: the hand-written loss equals F.cross_entropy; baselines and the entropy floor are right."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from gptlib.objective import (MarkovSource, bigram_probs, bits, counts_loss, mean_nll, perplexity,
                              standard_error, token_nll, uniform_loss, unigram_probs)


@given(B=st.integers(1, 4), T=st.integers(1, 8), V=st.integers(2, 70), scale=st.floats(0.1, 30), seed=st.integers(0, 999))
def test_hand_written_nll_equals_cross_entropy(B, T, V, scale, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * scale
    targets = torch.randint(V, (B, T), generator=g)
    expected = F.cross_entropy(logits.view(-1, V), targets.view(-1), reduction="none").view(B, T)
    torch.testing.assert_close(token_nll(logits, targets), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mean_nll(logits, targets), expected.mean(), rtol=1e-5, atol=1e-5)


def test_nll_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"logits \(2, 3, 5\) and targets \(2, 4\) disagree"):
        token_nll(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))


def test_units():
    assert perplexity(math.log(65)) == pytest.approx(65)
    assert bits(math.log(2)) == pytest.approx(1.0)
    assert uniform_loss(65) == pytest.approx(4.174387, abs=1e-6)
    assert standard_error(torch.tensor([1.0, 3.0])) == pytest.approx(1.0)  # std sqrt(2), n 2
    with pytest.raises(ValueError, match="at least 2 values"):
        standard_error(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="vocab_size=0"):
        uniform_loss(0)


def test_counting_baselines_on_a_tiny_text():
    ids = torch.tensor([0, 1, 0, 1, 0, 2])
    uni = unigram_probs(ids, 3, alpha=0.0)
    torch.testing.assert_close(uni, torch.tensor([3, 2, 1], dtype=torch.float64) / 6)
    bi = bigram_probs(ids, 3, alpha=1e-12)  # ~plain counting; alpha > 0 keeps the empty row 2 finite
    torch.testing.assert_close(bi[0], torch.tensor([0, 2 / 3, 1 / 3], dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(bi[1], torch.tensor([1, 0, 0], dtype=torch.float64), atol=1e-9, rtol=0)
    assert counts_loss(bi, ids) == pytest.approx((2 * -math.log(2 / 3) - math.log(1 / 3)) / 5, abs=1e-9)
    smoothed = bigram_probs(ids, 3, alpha=1.0)
    torch.testing.assert_close(smoothed.sum(-1), torch.ones(3, dtype=torch.float64))
    assert (smoothed > 0).all()
    with pytest.raises(ValueError, match=r"token id 3 is outside \[0, 2\]"):
        bigram_probs(torch.tensor([0, 3]), 3)


def test_counted_bigrams_are_the_maximum_likelihood_table():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, (2000,), generator=g)
    best = counts_loss(bigram_probs(ids, 5, alpha=1e-9), ids)
    for trial in range(20):  # any other row-stochastic table gives the text a lower likelihood
        noise = torch.rand(5, 5, generator=g, dtype=torch.float64) * 0.2
        other = bigram_probs(ids, 5, alpha=1e-9) + noise
        other = other / other.sum(-1, keepdim=True)
        assert counts_loss(other, ids) > best


def test_markov_source_is_stationary_and_sampled_at_its_entropy_rate():
    src = MarkovSource(vocab_size=5, order=2, concentration=0.5, seed=3)
    pi = src.stationary()
    assert pi.sum().item() == pytest.approx(1.0) and (pi >= 0).all()
    # One step of the chain leaves pi unchanged.
    S, V = src.transitions.shape
    moved = torch.zeros(S, dtype=torch.float64)
    for s in range(S):
        for v in range(V):
            moved[src._next_state(s, v)] += pi[s] * src.transitions[s, v]
    torch.testing.assert_close(moved, pi, atol=1e-10, rtol=0)
    # The true model's mean -log p on a long sample sits within 4 standard errors of H.
    ids = src.sample(100_000, torch.Generator().manual_seed(0))
    states = ids[:-2] * V + ids[1:-1]
    nll = -src.transitions[states, ids[2:]].log()
    H = src.entropy_rate()
    assert abs(nll.mean().item() - H) < 4 * standard_error(nll)
    assert 0 < H < math.log(V)


def test_markov_source_is_deterministic_and_checks_its_arguments():
    a = MarkovSource(vocab_size=4, order=1, seed=7)
    b = MarkovSource(vocab_size=4, order=1, seed=7)
    assert torch.equal(a.transitions, b.transitions)
    assert torch.equal(a.sample(50, torch.Generator().manual_seed(1)), b.sample(50, torch.Generator().manual_seed(1)))
    assert not torch.equal(a.transitions, MarkovSource(vocab_size=4, order=1, seed=8).transitions)
    for kwargs, message in [(dict(vocab_size=1), "vocab_size=1"), (dict(order=0), "order=0"),
                            (dict(concentration=0), "concentration=0"), (dict(vocab_size=100, order=4), "too many")]:
        with pytest.raises(ValueError, match=message):
            MarkovSource(**kwargs)
