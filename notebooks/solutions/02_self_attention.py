"""Solutions to the exercises of 02_self_attention.ipynb. Try them yourself first!"""

import math

import torch


def stable_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax along the last axis, safe for big scores: exp(s - max) / sum(exp(s - max))."""
    shifted = scores - scores.max(dim=-1, keepdim=True).values  # each row's own max becomes 0
    e = shifted.exp()  # every entry in (0, 1]; exp(-inf) = 0 for masked scores
    return e / e.sum(dim=-1, keepdim=True)


def causal_mask(T: int) -> torch.Tensor:
    """(T, T) booleans, True where query i may attend to key j, that is where j <= i."""
    positions = torch.arange(T)
    return positions[None, :] <= positions[:, None]  # row i: keys 0..i


def single_head_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor) -> torch.Tensor:
    """Causal attention with one head: (B, T, C) and three (C, hs) matrices -> context (B, T, hs)."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (B, T, hs) each
    T, d_k = x.size(1), q.size(-1)
    attn_scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, T, T)
    allowed = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    attn_scores = attn_scores.masked_fill(~allowed, float("-inf"))
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, T, T), rows sum to 1
    return attn_weights @ v  # (B, T, hs)
