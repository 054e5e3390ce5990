"""Solutions to the exercises of 07_generation.ipynb. Try them yourself first!"""

import math

import torch


def min_p_filter(logits, min_p):
    """Keep the tokens whose probability is at least min_p times the row's largest; the rest get -inf."""
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values  # (B, 1): relative to each row's favourite
    return logits.masked_fill(probs < threshold, float("-inf"))  # a new tensor; the favourite always stays


def frequency_penalty(logits, idx, alpha):
    """Lower each token's logit by alpha for every time it occurs in its own row of idx."""
    counts = torch.zeros_like(logits)  # (B, V)
    counts.scatter_add_(1, idx, torch.ones(idx.shape, dtype=logits.dtype, device=logits.device))  # counts[b, idx[b, t]] += 1
    return logits - alpha * counts


def cached_attention_step(q, k_new, v_new, k_cache, v_cache):
    """One new position: append its key and value, then let its query attend to everything so far."""
    k_cache = torch.cat([k_cache, k_new], dim=2)  # (B, nh, t + 1, hs)
    v_cache = torch.cat([v_cache, v_new], dim=2)  # (B, nh, t + 1, hs)
    attn_scores = q @ k_cache.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, nh, 1, t + 1)
    attn_weights = torch.softmax(attn_scores, dim=-1)  # no mask: the newest position may see every key
    context = attn_weights @ v_cache  # (B, nh, 1, hs)
    return context, k_cache, v_cache
