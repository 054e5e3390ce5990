"""Exercises of notebook 02_self_attention: a stable softmax, the causal mask, single-head attention."""

from __future__ import annotations

import math

import torch

from .. import attention
from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, call, exercise,
                    expect_tensor, fmt)

# ------------------------------------------------------------------ 1. softmax along the last axis

# Row 0 has small scores, row 1 big ones: exp(200) overflows float32 (anything above ~88.7 does).
# Subtracting each row's own max handles both; subtracting one max for the whole tensor sends row 0 to
# exp(-200) = 0, and 0 / 0 is nan.
_BIG = torch.tensor([[1.0, 2.0, 3.0],
                     [200.0, 201.0, 202.0]])


def _scores(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return 2 * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _exp_normalised(shifted: torch.Tensor, dim: int = -1) -> torch.Tensor:
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _shifted_in_place(scores):
    scores -= scores.max(dim=-1, keepdim=True).values  # writes into the caller's tensor
    return _exp_normalised(scores)


def _normalised_twice(scores):
    e = scores.exp()
    p = e / e.sum()  # over the whole tensor first: inf / inf where a score is big
    return p / p.sum(dim=-1, keepdim=True)


_SOFTMAX = Catalogue(
    RAISED.with_example(lambda scores: _exp_normalised(scores - scores.max(dim=-1, keepdim=True))),  # no .values
    Mistake("changed_scores", "your function changed `scores` in place; compute new tensors instead "
                              "(e.g. shifted = scores - max, not scores -= max)", example=_shifted_in_place),
    NOT_A_TENSOR.with_example(lambda scores: torch.softmax(scores, dim=-1).tolist(), "returned a list"),
    Mistake("shape_changed", "for scores of shape {shape} your function returned shape {got}; softmax keeps the "
                             "shape (did you forget keepdim=True?)",
            example=lambda scores: torch.softmax(scores, dim=-1).sum(dim=-1)),
    NOT_FLOAT.with_example(lambda scores: torch.nn.functional.one_hot(scores.argmax(-1), scores.size(-1))),
    NOT_FINITE.with_example(lambda scores: _exp_normalised(scores.log())),  # log, not exp: nan for scores < 0
    Mistake("negative", "some weights are negative; exp() of anything is positive, so softmax weights are >= 0",
            example=lambda scores: scores / scores.sum(dim=-1, keepdim=True)),  # no exp()
    Mistake("columns_sum_to_one", "your columns sum to 1, not your rows: softmax runs along the last axis, so "
                                  "use dim=-1 (each row is one query's weights over the keys)",
            example=lambda scores: _exp_normalised(scores, dim=0)),
    Mistake("rows_do_not_sum_to_one", "your weights do not sum to 1 along the last axis: row {row} sums to "
                                      "{total:.3f}",
            example=lambda scores: scores.exp()),
    Mistake("max_without_keepdim", "you subtracted the row maxima without keepdim=True: a (4,) tensor broadcasts "
                                   "along the columns, so entry [i, j] lost row j's max; use "
                                   "scores.max(dim=-1, keepdim=True).values",
            example=lambda scores: _exp_normalised(scores - scores.max(dim=-1).values)),
    Mistake("wrong_weights", "for {scores}, the weights should be {want} but are {got}",
            example=lambda scores: torch.softmax(2 * scores, dim=-1)),
    Mistake("overflow", "for the scores [200, 201, 202] your weights are inf or nan: exp(200) overflows float32 "
                        "(anything above ~88.7 does); subtract the row's max before exp(), which does not change "
                        "the softmax",
            example=_exp_normalised),
    Mistake("one_max_for_all", "for the scores [1, 2, 3] your weights are nan when another row holds "
                               "[200, 201, 202]: you subtracted one max for the whole tensor, and exp(1 - 202) is 0, "
                               "so 0 / 0; subtract each row's own max, scores.max(dim=-1, keepdim=True).values",
            example=lambda scores: _exp_normalised(scores - scores.max())),
    Mistake("overflow_everywhere", "for the scores [[1, 2, 3], [200, 201, 202]] your weights are inf or nan in "
                                   "every row: subtract each row's own max (scores.max(dim=-1, keepdim=True).values) "
                                   "before exp()",
            example=_normalised_twice),
    Mistake("masked_nan", "for scores that contain -inf (masked positions) your weights are inf or nan; "
                          "exp(-inf) is 0, so a masked score should simply get weight 0",
            example=lambda scores: _exp_normalised(scores - scores.mean(dim=-1, keepdim=True))),  # -inf - -inf
    Mistake("dim_1", "for a (2, 4, 4) batch of scores your weights do not sum to 1 along the last axis "
                     "(did you use dim=1? that is the last axis only for 2-D input; dim=-1 always is)",
            example=lambda scores: _exp_normalised(scores - scores.max(dim=1, keepdim=True).values, dim=1)),
    Mistake("masked_weight_not_zero", "a score of -inf (a masked position) must get weight exactly 0",
            example=lambda scores: torch.softmax(scores.nan_to_num(neginf=0.0), dim=-1)),
    Mistake("wrong_batch_weights", "for a (2, 4, 4) batch of scores with -inf entries your weights differ from "
                                   "the softmax; normalise each row along dim=-1",
            example=lambda scores: _exp_normalised(scores - scores.max(dim=1, keepdim=True).values)),  # shift: dim=1
)


def _softmax_case(student, scores: torch.Tensor) -> torch.Tensor:
    """Run the student on a copy of ``scores``; check shape, in-place changes and the sums along dim=-1."""
    given = scores.clone()
    weights = call(student, given)
    if not torch.equal(given, scores):
        raise _SOFTMAX.changed_scores.wrong()
    if not isinstance(weights, torch.Tensor):
        raise NOT_A_TENSOR.wrong(what="your function", got=type(weights).__name__)
    if tuple(weights.shape) != tuple(scores.shape):
        raise _SOFTMAX.shape_changed.wrong(shape=tuple(scores.shape), got=tuple(weights.shape))
    return weights


@exercise("02_self_attention", "stable_softmax",
          "correct: every row sums to 1, big scores do not overflow, and -inf scores get weight 0.",
          signature="scores", mistakes=_SOFTMAX)
def check_stable_softmax(student) -> None:
    """Check ``student(scores) -> weights``: softmax along the last axis, stable for big scores."""
    # 1. ordinary scores, a square matrix (a missing keepdim=True broadcasts silently there)
    scores = _scores((4, 4), seed=0)
    weights = expect_tensor(_softmax_case(student, scores), scores.shape)
    if (weights < 0).any():
        raise _SOFTMAX.negative.wrong()
    sums = weights.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        if torch.allclose(weights.sum(dim=0), torch.ones(4), atol=1e-5):
            raise _SOFTMAX.columns_sum_to_one.wrong()
        bad = int((sums - 1).abs().argmax())
        raise _SOFTMAX.rows_do_not_sum_to_one.wrong(row=bad, total=sums[bad])
    # torch's softmax is the reference: the notebook builds softmax by hand and compares it with torch's
    expected = torch.softmax(scores, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        no_keepdim = _SOFTMAX.max_without_keepdim
        if torch.allclose(weights, no_keepdim.example(scores), atol=1e-5):
            raise no_keepdim.wrong()
        bad = int((weights - expected).abs().sum(dim=-1).argmax())
        raise _SOFTMAX.wrong_weights.wrong(scores="scores " + fmt(scores[bad]), want=fmt(expected[bad]),
                                           got=fmt(weights[bad]))

    # 2. big scores
    weights = _softmax_case(student, _BIG)
    bad_rows = [r for r in range(2) if not torch.isfinite(weights[r]).all()]
    if bad_rows == [1]:
        raise _SOFTMAX.overflow.wrong()
    if bad_rows == [0]:
        raise _SOFTMAX.one_max_for_all.wrong()
    if bad_rows:
        raise _SOFTMAX.overflow_everywhere.wrong()
    expected = torch.softmax(_BIG, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        bad = int((weights - expected).abs().sum(dim=-1).argmax())
        raise _SOFTMAX.wrong_weights.wrong(scores="the scores " + fmt(_BIG[bad]), want=fmt(expected[bad]),
                                           got=fmt(weights[bad]))

    # 3. a batch of score matrices, with masked (-inf) entries as causal attention produces
    scores = _scores((2, 4, 4), seed=1).masked_fill(~attention.causal_mask(4), float("-inf"))
    weights = _softmax_case(student, scores)
    if not torch.isfinite(weights).all():
        raise _SOFTMAX.masked_nan.wrong()
    sums = weights.sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        raise _SOFTMAX.dim_1.wrong()
    if (weights[torch.isinf(scores)] != 0).any():
        raise _SOFTMAX.masked_weight_not_zero.wrong()
    expected = torch.softmax(scores, dim=-1)
    if not torch.allclose(weights, expected.to(weights.dtype), atol=1e-5):
        raise _SOFTMAX.wrong_batch_weights.wrong()


# ------------------------------------------------------------------ 2. the causal mask


def _triangle(T: int, diagonal: int = 0, upper: bool = False) -> torch.Tensor:
    ones = torch.ones(T, T, dtype=torch.bool)
    return ones.triu(diagonal) if upper else ones.tril(diagonal)


_MASK = Catalogue(
    RAISED.with_example(lambda T: torch.tril(torch.ones(T, dtype=torch.bool))),  # a 1-D tensor has no triangle
    NOT_A_TENSOR.with_example(lambda T: _triangle(T).tolist(), "returned a list"),
    Mistake("wrong_shape", "causal_mask({T}) returned shape {got}, expected ({T}, {T}): one row per query, one "
                           "column per key",
            example=lambda T: torch.ones(T, dtype=torch.bool), shows="returned shape (4,), expected (4, 4)"),
    Mistake("not_bool", "causal_mask({T}) returned dtype {got}; return a boolean mask (True = may attend), "
                        "e.g. torch.ones(T, T, dtype=torch.bool)...",
            example=lambda T: torch.ones(T, T).tril(), shows="returned dtype torch.float32"),
    Mistake("inverted", "your mask is inverted: True must mean 'may attend' (the convention of "
                        "gptlib.attention.causal_mask and of torch's boolean attn_mask), so the lower triangle, "
                        "diagonal included, is True",
            example=lambda T: _triangle(T, 1, upper=True)),
    Mistake("sees_the_future", "position {i} attends to position {j}, a future token: for next-token prediction "
                               "position {i} may only see positions 0..{i}",
            example=lambda T: _triangle(T, upper=True), shows="position 0 attends to position 1, a future token"),
    Mistake("diagonal_missing", "position {i} cannot attend to itself: the diagonal must be True (a token may "
                                "look at itself; position 0 has nothing else to look at)",
            example=lambda T: _triangle(T, -1), shows="position 0 cannot attend to itself"),
    Mistake("past_missing", "position {i} cannot attend to position {j}, an earlier token: every position may "
                            "see all the positions before it",
            example=lambda T: torch.eye(T, dtype=torch.bool),
            shows="position 1 cannot attend to position 0, an earlier token"),
)


@exercise("02_self_attention", "causal_mask",
          "correct: every position attends to itself and the positions before it, never to a future one.",
          signature="T", mistakes=_MASK)
def check_causal_mask(student) -> None:
    """Check ``student(T) -> (T, T)`` boolean mask, True where query i may attend to key j (j <= i)."""
    for T in (4, 1, 7):
        mask = call(student, T)
        if not isinstance(mask, torch.Tensor):
            raise NOT_A_TENSOR.wrong(what=f"causal_mask({T})", got=type(mask).__name__)
        if tuple(mask.shape) != (T, T):
            raise _MASK.wrong_shape.wrong(T=T, got=tuple(mask.shape))
        if mask.dtype != torch.bool:
            raise _MASK.not_bool.wrong(T=T, got=mask.dtype)
        allowed = attention.causal_mask(T)
        if T > 1 and torch.equal(mask, ~allowed):
            raise _MASK.inverted.wrong()
        future = (mask & ~allowed).nonzero()
        if len(future):
            i, j = future[0].tolist()
            raise _MASK.sees_the_future.wrong(i=i, j=j)
        missing = (allowed & ~mask).nonzero()
        if len(missing):
            i, j = missing[0].tolist()
            if i == j:
                raise _MASK.diagonal_missing.wrong(i=i)
            raise _MASK.past_missing.wrong(i=i, j=j)


# ------------------------------------------------------------------ 3. single-head causal attention

_B, _T, _C, _HS = 2, 5, 8, 4  # d_k = hs = 4, deliberately not the input width C = 8


def _attention_case(seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(_B, _T, _C, generator=g)
    w_q, w_k, w_v = (torch.randn(_C, _HS, generator=g) for _ in range(3))
    return x, w_q, w_k, w_v


def _reference_attention(x, w_q, w_k, w_v) -> torch.Tensor:
    context, _ = attention.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)  # causal by default
    return context


def _attention_with(x, w_q, w_k, w_v, *, scale=None, masked=True, mask_after=False, transposed=False,
                    dim=-1, returns="context"):
    """Single-head attention with the knobs the wrong answers turn: the scale, the mask, the order of
    q and k, the softmax's axis, what is returned."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (B, T, hs)
    scores = (k @ q.transpose(-2, -1)) if transposed else (q @ k.transpose(-2, -1))  # (B, T, T)
    scores = scores / (math.sqrt(q.size(-1)) if scale is None else scale)
    allowed = attention.causal_mask(x.size(1))
    if masked and not mask_after:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=dim)
    if mask_after:
        weights = weights * allowed
    return {"context": weights @ v, "weights": weights, "both": (weights @ v, weights)}[returns]


def _masks_the_allowed(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(attention.causal_mask(x.size(1)),
                                                                         float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # the last row has no key left: nan


_ATTENTION = Catalogue(
    RAISED.with_example(lambda x, w_q, w_k, w_v: _attention_with(x, w_q.T, w_k.T, w_v.T)),  # (hs, C) != (C, hs)
    Mistake("returned_tuple", "your function returned a tuple; return only the context, attn_weights @ v",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, returns="both")),
    Mistake("returned_weights", "your function returned shape {got}, the shape of the attention weights; return "
                                "the context, attn_weights @ v, of shape {want}",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, returns="weights")),
    NOT_A_TENSOR.with_example(lambda x, w_q, w_k, w_v: _reference_attention(x, w_q, w_k, w_v).tolist()),
    WRONG_SHAPE.with_example(lambda x, w_q, w_k, w_v: w_k.T @ w_v / 2, "returned shape (4, 4), expected (2, 5, 4)"),
    NOT_FLOAT.with_example(lambda x, w_q, w_k, w_v: _reference_attention(x, w_q, w_k, w_v).round().long()),
    NOT_FINITE.with_example(_masks_the_allowed),
    Mistake("not_scaled", "the scores are not scaled: divide q @ kᵀ by √d_k (here √4 = 2), or the softmax "
                          "saturates as d_k grows",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, scale=1.0)),
    Mistake("divided_by_d_k", "you divided the scores by d_k = 4; divide by √d_k = 2",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, scale=w_q.size(-1))),
    Mistake("divided_by_sqrt_width", f"you divided by √{_C}, the square root of x's width C; d_k is the width "
                                     f"of the queries and keys, hs = {_HS}, so divide by √{_HS}",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, scale=math.sqrt(x.size(-1)))),
    Mistake("masked_after_softmax", "you masked after the softmax: the future scores were already in every row's "
                                    "sum (so the future leaks in) and the weights left no longer sum to 1; fill "
                                    "the masked scores with -inf *before* the softmax",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, mask_after=True)),
    Mistake("k_times_q", "your scores are k @ qᵀ, the transpose (or w_q and w_k are swapped): row i must be "
                         "query i compared with every key, attn_scores = q @ kᵀ",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, transposed=True)),
    Mistake("softmax_over_queries", "your softmax runs over the queries (dim=-2); each query's weights over the "
                                    "keys must sum to 1, so use dim=-1",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, dim=-2)),
    Mistake("sees_the_future", "position {i} attends to position {j}, a future token: changing token {j} changes "
                               "the output at position {i}; fill the scores above the diagonal with -inf before "
                               "the softmax",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_v, masked=False),
            shows="position 0 attends to position 1, a future token"),
    Mistake("wrong_context", "the output of batch {b}, position {t} should be {want} but is {got}; q, k and v "
                             "are x @ w_q, x @ w_k and x @ w_v",
            example=lambda x, w_q, w_k, w_v: _attention_with(x, w_q, w_k, w_k)),  # v from w_k
)

# The mistakes recognised by comparing the output with the example's, in the order they are tried.
_BY_OUTPUT = (_ATTENTION.not_scaled, _ATTENTION.divided_by_d_k, _ATTENTION.divided_by_sqrt_width,
              _ATTENTION.masked_after_softmax, _ATTENTION.k_times_q, _ATTENTION.softmax_over_queries)


@exercise("02_self_attention", "single_head_attention",
          "correct: causal, scaled by √d_k, softmax over the keys, a weighted average of the values.",
          signature="x, w_q, w_k, w_v", mistakes=_ATTENTION)
def check_single_head_attention(student) -> None:
    """Check ``student(x, w_q, w_k, w_v) -> context``: (B, T, C) and three (C, hs) -> (B, T, hs)."""
    case = _attention_case(seed=0)
    context = call(student, *(t.clone() for t in case))
    if isinstance(context, tuple):
        raise _ATTENTION.returned_tuple.wrong()
    if isinstance(context, torch.Tensor) and tuple(context.shape) == (_B, _T, _T):
        raise _ATTENTION.returned_weights.wrong(got=(_B, _T, _T), want=(_B, _T, _HS))
    context = expect_tensor(context, (_B, _T, _HS))

    expected = _reference_attention(*case)
    if torch.allclose(context, expected.to(context.dtype), atol=1e-5):
        return
    for mistake in _BY_OUTPUT:
        if torch.allclose(context, mistake.example(*case).to(context.dtype), atol=1e-5):
            raise mistake.wrong()

    # Not a mistake we know by name: is it at least causal? Change one token at a time and see which
    # earlier outputs move.
    x, w_q, w_k, w_v = case
    for j in range(1, _T):
        x2 = x.clone()
        x2[:, j] = torch.randn(_B, _C, generator=torch.Generator().manual_seed(100 + j))
        context2 = expect_tensor(call(student, x2, w_q.clone(), w_k.clone(), w_v.clone()), (_B, _T, _HS))
        moved = ((context2[:, :j] - context[:, :j]).abs() > 1e-5).any(dim=(0, 2)).nonzero()
        if len(moved):
            raise _ATTENTION.sees_the_future.wrong(i=int(moved[0]), j=j)
    b, t = divmod(int((context - expected).abs().sum(dim=-1).argmax()), _T)
    raise _ATTENTION.wrong_context.wrong(b=b, t=t, want=fmt(expected[b, t]), got=fmt(context[b, t]))
