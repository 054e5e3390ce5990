"""Wrong answers to the exercises of 07_generation, each with a piece of the message the student must see."""

import math

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- min_p_filter


def _min_p_by_logits(logits, min_p):
    return logits.masked_fill(logits < min_p * logits.max(dim=-1, keepdim=True).values, float("-inf"))


def _min_p_absolute(logits, min_p):
    return logits.masked_fill(logits.softmax(-1) < min_p, float("-inf"))


def _min_p_batch_max(logits, min_p):
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(), float("-inf"))


def _min_p_zero(logits, min_p):
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(-1, keepdim=True).values, 0.0)


def _min_p_probs(logits, min_p):  # filters, then returns renormalised probabilities
    probs = logits.softmax(-1)
    kept = probs.masked_fill(probs < min_p * probs.max(-1, keepdim=True).values, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def _min_p_in_place(logits, min_p):
    probs = logits.softmax(-1)
    return logits.masked_fill_(probs < min_p * probs.max(-1, keepdim=True).values, float("-inf"))


def _min_p_strict(logits, min_p):
    probs = logits.softmax(-1)
    return logits.masked_fill(probs <= min_p * probs.max(-1, keepdim=True).values, float("-inf"))


# ---------------------------------------------------------------- frequency_penalty


def _counts(logits, idx):
    return torch.zeros_like(logits).scatter_add_(1, idx, torch.ones(idx.shape))


def _presence(logits, idx, alpha):
    seen = torch.zeros_like(logits).scatter_(1, idx, 1.0)  # 1 per token seen, however often
    return logits - alpha * seen


def _pooled(logits, idx, alpha):
    counts = torch.bincount(idx.flatten(), minlength=logits.size(1)).float()  # the whole batch together
    return logits - alpha * counts


def _added(logits, idx, alpha):
    return logits + alpha * _counts(logits, idx)


def _in_place_penalty(logits, idx, alpha):
    logits -= alpha * _counts(logits, idx)
    return logits


def _divided(logits, idx, alpha):  # the CTRL penalty's shape, with alpha as the factor
    return logits / (1 + alpha * _counts(logits, idx))


# ---------------------------------------------------------------- cached_attention_step


def _past_only(q, k_new, v_new, k_cache, v_cache):
    if k_cache.size(2) == 0:  # nothing to attend to yet: use the new position
        context = v_new
    else:
        context = F.scaled_dot_product_attention(q, k_cache, v_cache)
    return context, torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)


def _no_scale(q, k_new, v_new, k_cache, v_cache):
    k, v = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v, k, v


def _tril_mask(q, k_new, v_new, k_cache, v_cache):
    k, v = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, nh, 1, t + 1)
    mask = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()  # keeps only key 0 for the one query
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v, k, v


def _softmax_wrong_dim(q, k_new, v_new, k_cache, v_cache):
    k, v = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-2) @ v, k, v


def _cache_not_returned(q, k_new, v_new, k_cache, v_cache):
    k, v = torch.cat([k_cache, k_new], 2), torch.cat([v_cache, v_new], 2)
    return F.scaled_dot_product_attention(q, k, v), k_cache, v_cache


def _prepended(q, k_new, v_new, k_cache, v_cache):
    k, v = torch.cat([k_new, k_cache], 2), torch.cat([v_new, v_cache], 2)
    return F.scaled_dot_product_attention(q, k, v), k, v


WRONG = {
    "07_generation.min_p_filter": [
        (_min_p_by_logits, "compare *probabilities*, not logits"),
        (_min_p_absolute, "the threshold is relative"),
        (_min_p_batch_max, "not of the whole batch"),
        (_min_p_zero, "must get the logit -inf"),
        (_min_p_probs, "look like probabilities"),
        (_min_p_in_place, "changed `logits` in place"),
        (_min_p_strict, "use >="),
        (lambda logits, min_p: logits, "should keep tokens"),
    ],
    "07_generation.frequency_penalty": [
        (_presence, "presence penalty"),
        (_pooled, "each row counts its own tokens"),
        (_added, "went *up*"),
        (_in_place_penalty, "changed its inputs in place"),
        (_divided, "occurs"),
        (lambda logits, idx, alpha: (logits - alpha * _counts(logits, idx)).tolist(), "expected a torch.Tensor"),
    ],
    "07_generation.cached_attention_step": [
        (_past_only, "attends only to the cached positions"),
        (_no_scale, "sqrt(head_size)"),
        (_tril_mask, "anchored at the wrong corner"),
        (_softmax_wrong_dim, "dim=-1"),
        (_cache_not_returned, "append the new one"),
        (_prepended, "puts the new position first"),
        (lambda q, k, v, kc, vc: F.scaled_dot_product_attention(q, k, v), "return three tensors"),
    ],
}
