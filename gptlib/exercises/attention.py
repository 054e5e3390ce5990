"""Exercises of notebook 02_self_attention: a stable softmax, the causal mask, single-head attention."""

from __future__ import annotations

import math

import torch

from ._core import Wrong, call, exercise, expect_tensor, fmt

# ------------------------------------------------------------------ 1. softmax along the last axis

# Row 0 has small scores, row 1 big ones: exp(200) overflows float32 (anything above ~88.7 does).
# Subtracting each row's own max handles both; subtracting one max for the whole tensor sends row 0 to
# exp(-200) = 0, and 0 / 0 is nan.
_BIG = torch.tensor([[1.0, 2.0, 3.0],
                     [200.0, 201.0, 202.0]])


def _scores(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return 2 * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _softmax_case(student, scores: torch.Tensor) -> torch.Tensor:
    """Run the student on a copy of ``scores``; check shape, in-place changes and the sums along dim=-1."""
    given = scores.clone()
    weights = call(student, given)
    if not torch.equal(given, scores):
        raise Wrong("your function changed `scores` in place; compute new tensors instead "
                    "(e.g. shifted = scores - max, not scores -= max)")
    if not isinstance(weights, torch.Tensor):
        raise Wrong(f"your function returned a {type(weights).__name__}, expected a torch.Tensor")
    if tuple(weights.shape) != tuple(scores.shape):
        raise Wrong(f"for scores of shape {tuple(scores.shape)} your function returned shape "
                    f"{tuple(weights.shape)}; softmax keeps the shape (did you forget keepdim=True?)")
    return weights


@exercise("02_self_attention", "stable_softmax",
          "correct: every row sums to 1, big scores do not overflow, and -inf scores get weight 0.")
def check_stable_softmax(student) -> None:
    """Check ``student(scores) -> weights``: softmax along the last axis, stable for big scores."""
    # 1. ordinary scores, a square matrix (a missing keepdim=True broadcasts silently there)
    scores = _scores((4, 4), seed=0)
    weights = expect_tensor(_softmax_case(student, scores), scores.shape)
    if (weights < 0).any():
        raise Wrong("some weights are negative; exp() of anything is positive, so softmax weights are >= 0")
    sums = weights.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        if torch.allclose(weights.sum(dim=0), torch.ones(4), atol=1e-5):
            raise Wrong("your columns sum to 1, not your rows: softmax runs along the last axis, "
                        "so use dim=-1 (each row is one query's weights over the keys)")
        bad = int((sums - 1).abs().argmax())
        raise Wrong(f"your weights do not sum to 1 along the last axis: row {bad} sums to {sums[bad]:.3f}")
    expected = torch.softmax(scores, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        wrong_shift = scores - scores.max(dim=-1).values  # (4, 4) - (4,): row maxima subtracted per column
        if torch.allclose(weights, wrong_shift.exp() / wrong_shift.exp().sum(-1, keepdim=True), atol=1e-5):
            raise Wrong("you subtracted the row maxima without keepdim=True: a (4,) tensor broadcasts "
                        "along the columns, so entry [i, j] lost row j's max; use "
                        "scores.max(dim=-1, keepdim=True).values")
        bad = int((weights - expected).abs().sum(dim=-1).argmax())
        raise Wrong(f"for scores {fmt(scores[bad])}, the weights should be {fmt(expected[bad])} "
                    f"but are {fmt(weights[bad])}")

    # 2. big scores
    weights = _softmax_case(student, _BIG)
    bad_rows = [r for r in range(2) if not torch.isfinite(weights[r]).all()]
    if bad_rows == [1]:
        raise Wrong("for the scores [200, 201, 202] your weights are inf or nan: exp(200) overflows "
                    "float32 (anything above ~88.7 does); subtract the row's max before exp(), which "
                    "does not change the softmax")
    if bad_rows == [0]:
        raise Wrong("for the scores [1, 2, 3] your weights are nan when another row holds [200, 201, 202]: "
                    "you subtracted one max for the whole tensor, and exp(1 - 202) is 0, so 0 / 0; "
                    "subtract each row's own max, scores.max(dim=-1, keepdim=True).values")
    if bad_rows:
        raise Wrong("for the scores [[1, 2, 3], [200, 201, 202]] your weights are inf or nan in every row: "
                    "subtract each row's own max (scores.max(dim=-1, keepdim=True).values) before exp()")
    expected = torch.softmax(_BIG, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        bad = int((weights - expected).abs().sum(dim=-1).argmax())
        raise Wrong(f"for the scores {fmt(_BIG[bad])}, the weights should be {fmt(expected[bad])} "
                    f"but are {fmt(weights[bad])}")

    # 3. a batch of score matrices, with masked (-inf) entries as causal attention produces
    scores = _scores((2, 4, 4), seed=1).masked_fill(~torch.ones(4, 4, dtype=torch.bool).tril(), float("-inf"))
    weights = _softmax_case(student, scores)
    if not torch.isfinite(weights).all():
        raise Wrong("for scores that contain -inf (masked positions) your weights are inf or nan; "
                    "exp(-inf) is 0, so a masked score should simply get weight 0")
    sums = weights.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        raise Wrong("for a (2, 4, 4) batch of scores your weights do not sum to 1 along the last axis "
                    "(did you use dim=1? that is the last axis only for 2-D input; dim=-1 always is)")
    if (weights[torch.isinf(scores)] != 0).any():
        raise Wrong("a score of -inf (a masked position) must get weight exactly 0")
    expected = torch.softmax(scores, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        raise Wrong("for a (2, 4, 4) batch of scores with -inf entries your weights differ from the softmax; "
                    "normalise each row along dim=-1")


# ------------------------------------------------------------------ 2. the causal mask


@exercise("02_self_attention", "causal_mask",
          "correct: every position attends to itself and the positions before it, never to a future one.")
def check_causal_mask(student) -> None:
    """Check ``student(T) -> (T, T)`` boolean mask, True where query i may attend to key j (j <= i)."""
    for T in (4, 1, 7):
        mask = call(student, T)
        if not isinstance(mask, torch.Tensor):
            raise Wrong(f"causal_mask({T}) returned a {type(mask).__name__}, expected a torch.Tensor")
        if tuple(mask.shape) != (T, T):
            raise Wrong(f"causal_mask({T}) returned shape {tuple(mask.shape)}, expected ({T}, {T}): "
                        f"one row per query, one column per key")
        if mask.dtype != torch.bool:
            raise Wrong(f"causal_mask({T}) returned dtype {mask.dtype}; return a boolean mask "
                        f"(True = may attend), e.g. torch.ones(T, T, dtype=torch.bool)...")
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        if T > 1 and torch.equal(mask, ~allowed):
            raise Wrong("your mask is inverted: True must mean 'may attend' (the convention of "
                        "gptlib.attention.causal_mask and of torch's boolean attn_mask), so the lower "
                        "triangle, diagonal included, is True")
        future = (mask & ~allowed).nonzero()
        if len(future):
            i, j = future[0].tolist()
            raise Wrong(f"position {i} attends to position {j}, a future token: for next-token prediction "
                        f"position {i} may only see positions 0..{i}")
        missing = (allowed & ~mask).nonzero()
        if len(missing):
            i, j = missing[0].tolist()
            if i == j:
                raise Wrong(f"position {i} cannot attend to itself: the diagonal must be True (a token "
                            f"may look at itself; position 0 has nothing else to look at)")
            raise Wrong(f"position {i} cannot attend to position {j}, an earlier token: every "
                        f"position may see all the positions before it")


# ------------------------------------------------------------------ 3. single-head causal attention

_B, _T, _C, _HS = 2, 5, 8, 4  # d_k = hs = 4, deliberately not the input width C = 8


def _attention_case(seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(_B, _T, _C, generator=g)
    w_q, w_k, w_v = (torch.randn(_C, _HS, generator=g) for _ in range(3))
    return x, w_q, w_k, w_v


def _attention_variant(x, w_q, w_k, w_v, *, scale=None, masked=True, mask_after=False,
                       transposed=False, dim=-1) -> torch.Tensor:
    """The reference, and the usual ways to get it wrong."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (B, T, hs)
    scores = (k @ q.transpose(-2, -1)) if transposed else (q @ k.transpose(-2, -1))  # (B, T, T)
    scores = scores / (math.sqrt(q.size(-1)) if scale is None else scale)
    allowed = torch.ones(x.size(1), x.size(1), dtype=torch.bool).tril()
    if masked and not mask_after:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask_after:
        weights = weights * allowed
    return weights @ v


_MISTAKES = [
    (dict(scale=1.0), "the scores are not scaled: divide q @ kᵀ by √d_k (here √4 = 2), or the softmax "
                      "saturates as d_k grows"),
    (dict(scale=float(_HS)), "you divided the scores by d_k = 4; divide by √d_k = 2"),
    (dict(scale=math.sqrt(_C)), f"you divided by √{_C}, the square root of x's width C; d_k is the width "
                                f"of the queries and keys, hs = {_HS}, so divide by √{_HS}"),
    (dict(mask_after=True), "you masked after the softmax: the future scores were already in every row's "
                            "sum (so the future leaks in) and the weights left no longer sum to 1; fill the "
                            "masked scores with -inf *before* the softmax"),
    (dict(transposed=True), "your scores are k @ qᵀ, the transpose (or w_q and w_k are swapped): row i "
                            "must be query i compared with every key, attn_scores = q @ kᵀ"),
    (dict(dim=-2), "your softmax runs over the queries (dim=-2); each query's weights over the keys must "
                   "sum to 1, so use dim=-1"),
]


@exercise("02_self_attention", "single_head_attention",
          "correct: causal, scaled by √d_k, softmax over the keys, a weighted average of the values.")
def check_single_head_attention(student) -> None:
    """Check ``student(x, w_q, w_k, w_v) -> context``: (B, T, C) and three (C, hs) -> (B, T, hs)."""
    case = _attention_case(seed=0)
    context = call(student, *(t.clone() for t in case))
    if isinstance(context, tuple):
        raise Wrong("your function returned a tuple; return only the context, attn_weights @ v")
    if isinstance(context, torch.Tensor) and tuple(context.shape) == (_B, _T, _T):
        raise Wrong(f"your function returned shape {(_B, _T, _T)}, the shape of the attention weights; "
                    f"return the context, attn_weights @ v, of shape {(_B, _T, _HS)}")
    context = expect_tensor(context, (_B, _T, _HS))

    expected = _attention_variant(*case)
    if torch.allclose(context, expected.to(context.dtype), atol=1e-5):
        return
    for kwargs, message in _MISTAKES:
        if torch.allclose(context, _attention_variant(*case, **kwargs).to(context.dtype), atol=1e-5):
            raise Wrong(message)

    # Not a mistake we know by name: is it at least causal? Change one token at a time and see which
    # earlier outputs move.
    x, w_q, w_k, w_v = case
    for j in range(1, _T):
        x2 = x.clone()
        x2[:, j] = torch.randn(_B, _C, generator=torch.Generator().manual_seed(100 + j))
        context2 = expect_tensor(call(student, x2, w_q.clone(), w_k.clone(), w_v.clone()), (_B, _T, _HS))
        moved = ((context2[:, :j] - context[:, :j]).abs() > 1e-5).any(dim=(0, 2)).nonzero()
        if len(moved):
            i = int(moved[0])
            raise Wrong(f"position {i} attends to position {j}, a future token: changing token {j} changes "
                        f"the output at position {i}; fill the scores above the diagonal with -inf "
                        f"before the softmax")
    b, t = divmod(int((context - expected).abs().sum(dim=-1).argmax()), _T)
    raise Wrong(f"the output of batch {b}, position {t} should be {fmt(expected[b, t])} but is "
                f"{fmt(context[b, t])}; q, k and v are x @ w_q, x @ w_k and x @ w_v")
