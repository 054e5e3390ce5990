"""The likelihood objective: what a GPT's loss measures, and what a good value of it is.

The source article writes the training objective as a likelihood, L(θ) = ∏ᵢ P(yᵢ | xᵢ; θ). For a GPT
the "inputs" are all earlier tokens, so the probability of a whole text factorises as
P(x₁ … x_N) = ∏ₜ P(xₜ | x₍<ₜ₎). Taking −log and dividing by N turns the product into a mean:

    loss = −(1/N) Σₜ log P(xₜ | x₍<ₜ₎)     (nats per token; = cross-entropy)

- :func:`token_nll`, :func:`mean_nll`   the loss, written out (equals ``F.cross_entropy``)
- :func:`model_token_nll`              a model's loss at every token of a held-out stream (windows
  cut by :func:`gptlib.evaluation.heldout_windows`, as for :func:`gptlib.evaluation.evaluate`)
- :func:`perplexity`, :func:`bits`     the same number in other units
- :func:`unigram_probs`, :func:`bigram_probs`, :func:`counts_loss`   baselines made by counting
- :class:`MarkovSource`                text with a known entropy rate H, the floor no model can beat
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import torch

from gptlib.device import model_device
from gptlib.evaluation import heldout_windows, positive_int, scoring_mode, to_device, token_stream

__all__ = ["token_nll", "mean_nll", "model_token_nll", "standard_error", "perplexity", "bits", "uniform_loss",
           "unigram_probs", "bigram_probs", "counts_loss", "MarkovSource"]


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """−log P(target) at every position, from unnormalised scores: ``(..., V), (...) -> (...)``.

    log P = logits − logsumexp(logits) (a log-softmax, computed stably), then pick the target's entry.

    >>> token_nll(torch.zeros(1, 4), torch.tensor([2]))   # uniform over 4 tokens: ln 4
    tensor([1.3863])
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree: "
                         f"logits must be targets' shape plus one vocabulary axis")
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # (..., V)
    return -log_probs.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)  # (...)


def mean_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per token: the loss a GPT minimises (``F.cross_entropy``'s value)."""
    return token_nll(logits, targets).mean()


def model_token_nll(model, ids: torch.Tensor, block_size: int, *, min_context: int = 1,
                    batch_size: int = 64) -> torch.Tensor:
    """−log P(token | its context) under ``model`` for the tokens of ``ids``: 1-D float64, on the CPU.

    ``ids`` is cut as :func:`gptlib.evaluation.evaluate` cuts it (both read
    :func:`~gptlib.evaluation.heldout_windows`): non-overlapping windows of ``block_size`` targets,
    window ``k`` reading ``ids[k*T : (k+1)*T]`` and scored on ``ids[k*T + 1 : (k+1)*T + 1]``; the
    last, shorter window takes the targets left over. Target ``t`` of a window (0-based) is
    predicted from ``t + 1`` tokens, so the first targets of each window see less context than the
    model can use. Only targets with at least ``min_context`` tokens of context are kept:
    ``min_context=order`` scores a source of order ``order`` only where the model can see everything
    the next symbol depends on. The mean of the result is the held-out loss; :func:`standard_error`
    of it, how much that mean may wander.

    ``model(x)`` must return ``(logits, _)`` with logits ``(B, T, V)`` (a :class:`gptlib.model.GPT`
    does). Runs with ``model.eval()`` and without gradients, then restores the model's mode. The
    ids are checked against ``model.config.vocab_size`` once, not in every forward call.
    """
    ids = token_stream(ids, "ids")
    for name, value in (("block_size", block_size), ("min_context", min_context), ("batch_size", batch_size)):
        positive_int(name, value)
    if min_context > block_size:
        raise ValueError(f"min_context={min_context} is more than block_size={block_size}: no target would be kept")
    if len(ids) <= min_context:
        raise ValueError(f"ids has {len(ids)} token(s); with min_context={min_context} nothing is left to score")
    device = model_device(model)
    pieces = []
    with scoring_mode(model, ids, "ids"):
        for rows in heldout_windows(ids, block_size, batch_size):
            rows = to_device(rows, device)  # (B, t + 1)
            logits, _ = model(rows[:, :-1])  # (B, t, V)
            nll = token_nll(logits.double(), rows[:, 1:])  # (B, t)
            pieces.append(nll[:, min_context - 1:].flatten().cpu())
    return torch.cat(pieces)


def standard_error(values: torch.Tensor) -> float:
    """Standard error of the mean of ``values``: std / √n. How far a measured mean loss may wander."""
    values = values.double().flatten()
    if values.numel() < 2:
        raise ValueError(f"a standard error needs at least 2 values, got {values.numel()}")
    return (values.std() / math.sqrt(values.numel())).item()


def perplexity(nll: float) -> float:
    """e^loss: the number of equally likely tokens the model is, on average, choosing between.

    >>> round(perplexity(math.log(65)), 6)   # uniform over 65 characters
    65.0
    """
    return math.exp(nll)


def bits(nll: float) -> float:
    """A loss in nats converted to bits (divide by ln 2): bits per token, or per character for characters."""
    return nll / math.log(2)


def uniform_loss(vocab_size: int) -> float:
    """The loss of guessing uniformly among ``vocab_size`` tokens: ln V. An untrained GPT starts here."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size} must be at least 1")
    return math.log(vocab_size)


def _check_ids(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    ids = torch.as_tensor(ids)
    if ids.ndim != 1 or ids.is_floating_point():
        raise ValueError(f"ids must be a 1-D tensor of integer token ids, got dtype {ids.dtype}, shape {tuple(ids.shape)}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids.min().item() if ids.min() < 0 else ids.max().item()
        raise ValueError(f"token id {bad} is outside [0, {vocab_size - 1}] (vocab_size={vocab_size})")
    return ids.long()


def unigram_probs(ids: torch.Tensor, vocab_size: int, alpha: float = 1.0) -> torch.Tensor:
    """P(token) by counting, each count plus ``alpha`` (so unseen tokens keep some probability): ``(V,)``."""
    ids = _check_ids(ids, vocab_size)
    counts = torch.bincount(ids, minlength=vocab_size).double() + alpha
    return counts / counts.sum()


def bigram_probs(ids: torch.Tensor, vocab_size: int, alpha: float = 1.0) -> torch.Tensor:
    """P(next | current) by counting adjacent pairs, each count plus ``alpha``: ``(V, V)``, rows sum to 1.

    These normalised counts are the maximum-likelihood bigram model (with ``alpha = 0``): no other
    table of conditional probabilities gives the training text a higher likelihood.
    """
    ids = _check_ids(ids, vocab_size)
    counts = torch.zeros(vocab_size * vocab_size, dtype=torch.float64)
    counts.index_add_(0, ids[:-1] * vocab_size + ids[1:], torch.ones(len(ids) - 1, dtype=torch.float64))
    counts = counts.view(vocab_size, vocab_size) + alpha
    return counts / counts.sum(dim=-1, keepdim=True)


def counts_loss(probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean −log P over ``ids`` under a counting model: ``(V,)`` unigram or ``(V, V)`` bigram probabilities.

    A unigram model predicts every token of ``ids``; a bigram model every token but the first.
    """
    ids = _check_ids(ids, probs.shape[-1])
    if probs.ndim == 1:
        p = probs[ids]
    elif probs.ndim == 2:
        p = probs[ids[:-1], ids[1:]]
    else:
        raise ValueError(f"probs must be (V,) or (V, V), got shape {tuple(probs.shape)}")
    return (-p.log().mean()).item()


@dataclass
class MarkovSource:
    """A random Markov chain over ``vocab_size`` symbols, whose next symbol depends on the last ``order``.

    Because its transition probabilities are known, so is its **entropy rate** H: the average
    uncertainty of the next symbol given the whole past, in nats per symbol. H is a floor for the
    loss of *any* model: the expected loss of a model q on text from source p is the cross-entropy
    H(p, q) = H + KL(p ‖ q) ≥ H (Gibbs' inequality), equal only when q = p. A measured held-out
    loss can dip below H only by sampling noise, about one standard error.

    ``concentration`` shapes the transition rows (Dirichlet-distributed): small values give peaked,
    predictable rows (low H), large values rows near uniform (H near ln V).

    >>> src = MarkovSource(vocab_size=4, order=1, seed=0)
    >>> ids = src.sample(1000, torch.Generator().manual_seed(0))
    >>> ids.shape, 0.0 < src.entropy_rate() < math.log(4)
    (torch.Size([1000]), True)
    """

    vocab_size: int = 8
    order: int = 1
    concentration: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size={self.vocab_size} must be at least 2")
        if self.order < 1:
            raise ValueError(f"order={self.order} must be at least 1")
        if self.vocab_size ** self.order > 1_000_000:
            raise ValueError(f"vocab_size**order = {self.vocab_size ** self.order:,} states is too many (max 1,000,000)")
        if not self.concentration > 0:
            raise ValueError(f"concentration={self.concentration} must be positive")
        n_states = self.vocab_size ** self.order
        alphas = torch.full((n_states, self.vocab_size), float(self.concentration), dtype=torch.float64)
        with torch.random.fork_rng(devices=[]):  # seeded, without disturbing the caller's random state
            torch.manual_seed(self.seed)
            rows = torch.distributions.Dirichlet(alphas).sample()
        rows = rows.clamp_min(1e-12)  # no exact zeros: log p stays finite
        self.transitions = rows / rows.sum(dim=-1, keepdim=True)  # (S, V): P(next | state)

    def _next_state(self, state, symbol):
        # state encodes the last `order` symbols in base V; drop the oldest, append the newest
        return (state * self.vocab_size + symbol) % (self.vocab_size ** self.order)

    def stationary(self) -> torch.Tensor:
        """The long-run share of time the chain spends in each state, ``(S,)`` (power iteration)."""
        S, V = self.transitions.shape
        states = torch.arange(S)
        pi = torch.full((S,), 1.0 / S, dtype=torch.float64)
        for _ in range(10_000):
            new = torch.zeros(S, dtype=torch.float64)
            for v in range(V):  # mass moving from every state on symbol v
                new.index_add_(0, self._next_state(states, torch.full_like(states, v)), pi * self.transitions[:, v])
            if (new - pi).abs().sum() < 1e-13:
                return new
            pi = new
        return pi

    def entropy_rate(self) -> float:
        """H = Σ_s π(s) · H(next | s), in nats per symbol."""
        p = self.transitions
        row_entropy = -(p * p.log()).sum(dim=-1)  # (S,)
        return float((self.stationary() * row_entropy).sum())

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` symbols (int64), started from a random state; deterministic given ``generator``."""
        if n < 1:
            raise ValueError(f"n={n} must be at least 1")
        uniforms = torch.rand(n, generator=generator, dtype=torch.float64).tolist()
        cdf = self.transitions.cumsum(dim=-1)
        cdf[:, -1] = 1.0  # guard against rounding: every uniform falls in some bucket
        cdf_rows = cdf.tolist()
        state = int(torch.randint(self.vocab_size ** self.order, (1,), generator=generator))
        out = []
        for u in uniforms:  # a plain Python loop: slow for millions of symbols, fine for a notebook
            symbol = bisect.bisect_left(cdf_rows[state], u)  # first bucket whose cdf reaches u
            out.append(symbol)
            state = self._next_state(state, symbol)
        return torch.tensor(out, dtype=torch.long)
