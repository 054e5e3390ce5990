"""gptlib.objective: the hand-written loss equals F.cross_entropy; baselines and the entropy floor are right."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from gptlib.objective import (MarkovSource, bigram_probs, bits, counts_loss, mean_nll, model_token_nll,
                              perplexity, standard_error, token_nll, uniform_loss, unigram_probs)


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


def _tiny_gpt(vocab_size: int, block_size: int, n_embd: int = 8, n_head: int = 1, seed: int = 0):
    from gptlib.model import GPT, GPTConfig

    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=n_head, n_embd=n_embd))


def test_model_token_nll_scores_every_target_once_like_evaluate():
    from gptlib.train import evaluate

    model = _tiny_gpt(vocab_size=5, block_size=8).train()
    ids = torch.randint(5, (45,), generator=torch.Generator().manual_seed(1))  # 44 targets: 5 windows of 8, a tail of 4
    nll = model_token_nll(model, ids, 8, batch_size=2)
    assert nll.dtype == torch.float64 and nll.shape == (44,) and nll.device.type == "cpu"
    assert model.training, "the model's mode is restored"
    assert nll.mean().item() == pytest.approx(evaluate(model, ids, 8, 2), rel=1e-5)
    with torch.no_grad():
        logits, _ = model.eval()(ids[8:16][None])  # window 1 by hand
    torch.testing.assert_close(nll[8:16], token_nll(logits.double(), ids[9:17][None])[0], rtol=1e-6, atol=1e-6)
    # min_context=3 drops the first 2 targets of every window, the short last one included
    kept = model_token_nll(model, ids, 8, min_context=3)
    assert kept.shape == (5 * 6 + 2,)
    torch.testing.assert_close(kept, nll[torch.arange(44) % 8 >= 2], rtol=1e-6, atol=1e-6)
    for kwargs, message in [(dict(min_context=9), "min_context=9 is more than block_size=8"),
                            (dict(min_context=0), "min_context=0 must be a positive integer")]:
        with pytest.raises(ValueError, match=message):
            model_token_nll(model, ids, 8, **kwargs)
    with pytest.raises(ValueError, match="1-D tensor of integer token ids"):
        model_token_nll(model, ids.view(5, 9), 8)


def test_a_trained_gpt_lands_on_the_entropy_rate_not_below():
    """The entropy floor end to end: a tiny GPT trained with gptlib.train on text from a source of known
    entropy rate H reaches H on held-out text (within 0.05 nats) and dips below it only by noise."""
    from gptlib.train import TrainConfig, Trainer

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the same result on every CPU, and the fastest for a model this small
    try:
        src = MarkovSource(vocab_size=8, order=2, concentration=0.3, seed=0)
        g = torch.Generator().manual_seed(0)
        train, val = src.sample(100_000, g), src.sample(20_001, g)
        model = _tiny_gpt(vocab_size=8, block_size=16, n_embd=32, n_head=4)
        cfg = TrainConfig(max_steps=600, batch_size=64, block_size=16, learning_rate=1e-2, min_lr=1e-3,
                          warmup_steps=50, eval_interval=0, seed=0, progress=False, verbose=False)
        history = Trainer(model, train, None, cfg, device="cpu").fit()
        nll = model_token_nll(model, val, 16, min_context=src.order)  # only targets with full context
    finally:
        torch.set_num_threads(before)
    H, loss, se = src.entropy_rate(), nll.mean().item(), standard_error(nll)
    assert nll.numel() == (20_000 // 16) * 15
    assert history.train_loss[0] > H + 0.5, "the untrained model starts far above the floor"
    assert H - 3 * se <= loss <= H + 0.05, f"held-out loss {loss:.4f}, H {H:.4f}, SE {se:.4f}"
