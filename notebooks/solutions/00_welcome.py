"""Solutions to the exercises of 00_welcome.ipynb. Try them yourself first!"""

import torch


def smoothed_bigram_probs(counts: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """P(next = j | current = i) = (counts[i, j] + alpha) / sum_k (counts[i, k] + alpha)."""
    smoothed = counts.float() + alpha  # a new tensor: counts itself is left alone
    return smoothed / smoothed.sum(dim=-1, keepdim=True)


def numerical_gradient(f, x: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """d f / d x[i] ≈ (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps), for every entry i of the 1-D tensor x."""
    grad = torch.empty_like(x)
    for i in range(len(x)):
        step = torch.zeros_like(x)
        step[i] = eps  # e_i scaled by eps; x + step is a new tensor, x itself is left alone
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
