"""Solutions to the exercise of 00_welcome.ipynb. Try it yourself first!"""

import torch


def smoothed_bigram_probs(counts: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """P(next = j | current = i) = (counts[i, j] + alpha) / sum_k (counts[i, k] + alpha)."""
    smoothed = counts.float() + alpha  # a new tensor: counts itself is left alone
    return smoothed / smoothed.sum(dim=-1, keepdim=True)
