"""Wrong answers to the exercises of 02_self_attention, each with a piece of the message the student must see."""

import math

import torch


def _naive(s):
    return s.exp() / s.exp().sum(dim=-1, keepdim=True)


def _global_max(s):
    e = (s - s.max()).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _no_keepdim(s):
    e = (s - s.max(dim=-1).values).exp()
    return e / e.sum(dim=-1, keepdim=True)


def _in_place(s):
    s -= s.max(dim=-1, keepdim=True).values
    return s.exp() / s.exp().sum(dim=-1, keepdim=True)


def _dim1(s):
    e = (s - s.max(dim=1, keepdim=True).values).exp()
    return e / e.sum(dim=1, keepdim=True)


def _leaky_mask(T):
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    mask[2:, 2:] = True  # the last positions all see each other
    return mask


def _attention(x, w_q, w_k, w_v, scale=None, mask=True, mask_after=False, transposed=False, dim=-1, out="context"):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = k @ q.transpose(-2, -1) if transposed else q @ k.transpose(-2, -1)
    scores = scores / (math.sqrt(q.size(-1)) if scale is None else scale(x, q))
    allowed = torch.ones(x.size(1), x.size(1), dtype=torch.bool).tril()
    if mask and not mask_after:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask_after:
        weights = weights * allowed
    if out == "weights":
        return weights
    if out == "both":
        return weights @ v, weights
    return weights @ v


WRONG = {
    "02_self_attention.stable_softmax": [
        (lambda s: s.exp() / s.exp().sum(dim=0, keepdim=True), "your columns sum to 1, not your rows"),
        (lambda s: s.exp(), "your weights do not sum to 1 along the last axis: row"),
        (_naive, "exp(200) overflows"),
        (_global_max, "you subtracted one max for the whole tensor"),
        (_no_keepdim, "without keepdim=True"),
        (_in_place, "changed `scores` in place"),
        (_dim1, "did you use dim=1?"),
        (lambda s: torch.softmax(s, dim=-1).tolist(), "returned a list"),
        (lambda s: torch.softmax(s, dim=-1).sum(dim=-1), "did you forget keepdim=True?"),
        (lambda s: torch.softmax(s.nan_to_num(neginf=0.0), dim=-1), "must get weight exactly 0"),
        (lambda s: torch.softmax(2 * s, dim=-1), "the weights should be"),
    ],
    "02_self_attention.causal_mask": [
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "position 0 attends to position 1, a future token"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(1), "your mask is inverted"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "position 0 cannot attend to itself"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril(1), "position 0 attends to position 1, a future token"),
        (_leaky_mask, "position 2 attends to position 3, a future token"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril() & ~torch.ones(T, T, dtype=torch.bool).tril(-2),
         "position 2 cannot attend to position 0, an earlier token"),
        (lambda T: torch.ones(T, T).tril(), "returned dtype torch.float32"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril().tolist(), "returned a list"),
        (lambda T: torch.ones(T, dtype=torch.bool), "returned shape (4,), expected (4, 4)"),
        (lambda T: torch.eye(T, dtype=torch.bool), "position 1 cannot attend to position 0, an earlier token"),
    ],
    "02_self_attention.single_head_attention": [
        (lambda x, q, k, v: _attention(x, q, k, v, mask=False), "position 0 attends to position 1, a future token"),
        (lambda x, q, k, v: _attention(x, q, k, v, scale=lambda x, q: 1.0), "the scores are not scaled"),
        (lambda x, q, k, v: _attention(x, q, k, v, scale=lambda x, q: q.size(-1)), "divided the scores by d_k = 4"),
        (lambda x, q, k, v: _attention(x, q, k, v, scale=lambda x, q: math.sqrt(x.size(-1))), "x's width C"),
        (lambda x, q, k, v: _attention(x, q, k, v, mask_after=True), "you masked after the softmax"),
        (lambda x, q, k, v: _attention(x, q, k, v, transposed=True), "your scores are k @ qᵀ"),
        (lambda x, q, k, v: _attention(x, q, k, v, dim=-2), "your softmax runs over the queries"),
        (lambda x, q, k, v: _attention(x, q, k, v, out="weights"), "the shape of the attention weights"),
        (lambda x, q, k, v: _attention(x, q, k, v, out="both"), "returned a tuple"),
        (lambda x, q, k, v: _attention(x, k, q, v), "w_q and w_k are swapped"),
        (lambda x, q, k, v: _attention(x, q, k, k), "the output of batch"),
        (lambda x, q, k, v: k.T @ v / 2, "returned shape (4, 4), expected (2, 5, 4)"),
    ],
}
