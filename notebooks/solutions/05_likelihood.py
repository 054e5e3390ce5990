"""Solutions to the exercises of 05_likelihood.ipynb. Try them yourself first!"""

import math

import torch


def mean_nll_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-(1/N) sum log softmax(logits)[target]: logits (B, T, V), targets (B, T) -> a scalar tensor."""
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # (B, T, V), stable for big logits
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T): log P(target)
    return -picked.mean()


def perplexity_and_bits(loss: float) -> tuple[float, float]:
    """A loss in nats as (perplexity, bits per token)."""
    return math.exp(loss), loss / math.log(2)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """-sum p ln p along the last axis, in nats; terms with p = 0 count as 0."""
    return -torch.xlogy(probs, probs).sum(dim=-1)
