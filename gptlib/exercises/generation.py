"""Exercises of notebook 07_generation: min-p filtering, a frequency penalty, one cached attention step."""

from __future__ import annotations

import math

import torch

from .. import attention
from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, call, exercise,
                    expect_tensor, furthest)

# --------------------------------------------------------------------------- 1. min-p filtering


def _logits_cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    spread = torch.randn(3, 12, generator=g) * 2.0  # (3, 12) three rows with different shapes
    spread[1, 0] += 6.0  # row 1: one confident favourite
    spread[2] *= 0.2  # row 2: nearly flat
    filtered = torch.randn(2, 9, generator=g) * 1.5
    filtered[:, 6:] = float("-inf")  # tokens an earlier filter already removed
    return [("three rows (one confident, one nearly flat)", spread), ("rows that already hold -inf", filtered)]


def _min_p_dropped(logits: torch.Tensor, min_p: float, strict: bool = False) -> torch.Tensor:
    """The tokens min-p filtering removes: probability below min_p times the row's largest (or equal, if strict)."""
    probs = logits.softmax(dim=-1)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values
    return probs <= threshold if strict else probs < threshold


def _min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    # gptlib filters with top-k and top-p; min-p is this exercise's own, so its definition is here
    return logits.masked_fill(_min_p_dropped(logits, min_p), float("-inf"))


def _fills_in_place(logits, min_p):
    return logits.masked_fill_(_min_p_dropped(logits, min_p), float("-inf"))  # writes into the caller's tensor


def _renormalised_probabilities(logits, min_p):
    kept = logits.softmax(-1).masked_fill(_min_p_dropped(logits, min_p), 0.0)
    return kept / kept.sum(-1, keepdim=True)


_MIN_P = Catalogue(
    RAISED.with_example(lambda logits, min_p: logits.masked_fill(  # max() without .values
        logits.softmax(-1) < min_p * logits.softmax(-1).max(-1, keepdim=True), float("-inf"))),
    Mistake("changed_logits", "your function changed `logits` in place; return a new tensor (e.g. with masked_fill, "
                              "not masked_fill_)",
            example=_fills_in_place),
    NOT_A_TENSOR.with_example(lambda logits, min_p: _min_p(logits, min_p).tolist()),
    WRONG_SHAPE.with_example(lambda logits, min_p: logits[~_min_p_dropped(logits, min_p)]),  # the kept logits only
    NOT_FLOAT.with_example(lambda logits, min_p: ~_min_p_dropped(logits, min_p)),  # the mask of kept tokens
    NOT_FINITE.with_example(lambda logits, min_p: logits.masked_fill(_min_p_dropped(logits, min_p), float("nan"))),
    Mistake("probabilities", "{where}: your rows sum to 1, so they look like probabilities. Return *logits*, with "
                             "-inf for removed tokens: the sampler applies softmax itself",
            example=_renormalised_probabilities),
    Mistake("zero_not_minus_inf", "{where}: removed tokens must get the logit -inf (probability exactly 0 after "
                                  "softmax); a logit of 0 is an ordinary score, exp(0) = 1",
            example=lambda logits, min_p: logits.masked_fill(_min_p_dropped(logits, min_p), 0.0)),
    Mistake("kept_logits_changed", "{where}: you keep the right tokens but changed their logits; keep them as they "
                                   "are",
            example=lambda logits, min_p: _min_p(logits.log_softmax(-1), min_p)),  # log-probabilities
    Mistake("compared_logits", "{where}: compare *probabilities*, not logits: keep a token when softmax(logits) >= "
                               "min_p * (the largest probability in its row). Logits can be negative, and scaling "
                               "them says nothing about how likely a token is",
            example=lambda logits, min_p: logits.masked_fill(
                logits < min_p * logits.max(dim=-1, keepdim=True).values, float("-inf"))),
    Mistake("absolute_threshold", "{where}: the threshold is relative: min_p times the most likely token's "
                                  "probability, not min_p itself. A confident row then drops more, a flat row keeps "
                                  "more",
            example=lambda logits, min_p: logits.masked_fill(logits.softmax(-1) < min_p, float("-inf"))),
    Mistake("batch_max", "{where}: take the largest probability of each row (max over dim=-1, keepdim=True), not of "
                         "the whole batch: each row is its own distribution",
            example=lambda logits, min_p: logits.masked_fill(
                logits.softmax(-1) < min_p * logits.softmax(-1).max(), float("-inf"))),
    Mistake("too_many_removed", "{where}: you removed too many tokens: {kept} kept, {want} should be. A token whose "
                                "probability is exactly min_p times the largest stays (use >=), so the most likely "
                                "token always stays, even with min_p=1",
            example=lambda logits, min_p: logits.masked_fill(_min_p_dropped(logits, min_p, strict=True),
                                                             float("-inf")),
            shows="use >="),
    Mistake("wrong_tokens", "{where}: row {row} should keep tokens {want}, you kept {kept}",
            example=lambda logits, min_p: logits.clone()),  # nothing filtered
)


def _kept(filtered: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(filtered)


@exercise("07_generation", "min_p_filter",
          "correct: each row keeps the tokens at least min_p times as likely as its favourite; the rest are -inf.",
          signature="logits, min_p", mistakes=_MIN_P)
def check_min_p_filter(student) -> None:
    """Check ``student(logits, min_p) -> logits`` against min-p filtering (keep p >= min_p * max p, per row)."""
    for what, case in _logits_cases():
        for min_p in (0.1, 0.3, 0.0, 1.0):
            logits = case.clone()
            got = call(student, logits, min_p)
            if not torch.equal(logits, case):
                raise _MIN_P.changed_logits.wrong()
            got = expect_tensor(got, case.shape, allow_inf=True)
            want = _min_p(case, min_p)
            where = f"for {what}, with min_p={min_p}"
            kept, want_kept = _kept(got), _kept(want)
            if torch.equal(kept, want_kept) and torch.equal(got[kept], want[kept]):
                continue
            if ((got >= 0) & (got <= 1)).all() and torch.allclose(got.sum(-1), torch.ones(len(got)), atol=1e-4):
                raise _MIN_P.probabilities.wrong(where=where)
            if (got[~want_kept] == 0).all() and torch.equal(got[want_kept], want[want_kept]):
                raise _MIN_P.zero_not_minus_inf.wrong(where=where)
            if torch.equal(kept, want_kept):
                raise _MIN_P.kept_logits_changed.wrong(where=where)
            # (mistake, whether the case can show it)
            for mistake, shows in ((_MIN_P.compared_logits, min_p > 0), (_MIN_P.absolute_threshold, min_p < 1),
                                   (_MIN_P.batch_max, True)):
                theirs = _kept(mistake.example(case, min_p))
                if shows and torch.equal(kept, theirs) and not torch.equal(theirs, want_kept):
                    raise mistake.wrong(where=where)
            if kept.sum() < want_kept.sum() and (kept <= want_kept).all():
                raise _MIN_P.too_many_removed.wrong(where=where, kept=int(kept.sum()), want=int(want_kept.sum()))
            row = int((kept != want_kept).any(dim=-1).nonzero()[0])
            raise _MIN_P.wrong_tokens.wrong(where=where, row=row, want=want_kept[row].nonzero().flatten().tolist(),
                                            kept=kept[row].nonzero().flatten().tolist())


# --------------------------------------------------------------------------- 2. a frequency penalty


def _penalty_case():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 8, generator=g)  # (B, V)
    idx = torch.tensor([[1, 4, 4, 4, 0, 1],  # row 0: token 4 three times, 1 twice, 0 once
                        [7, 2, 2, 5, 5, 5]])  # row 1: its own counts; tokens 1 and 4 never seen here
    return logits, idx


def _counts(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``(B, V)``: how often each token occurs in each row of ``idx``."""
    return torch.zeros_like(logits).scatter_add_(1, idx, torch.ones(idx.shape))


def _frequency_penalty(logits, idx, alpha):
    # the exercise's definition (gptlib's apply_repetition_penalty is CTRL's penalty, a different one)
    return logits - alpha * _counts(logits, idx)


def _subtracts_in_place(logits, idx, alpha):
    logits -= alpha * _counts(logits, idx)  # writes into the caller's tensor
    return logits


_PENALTY = Catalogue(
    RAISED.with_example(lambda logits, idx, alpha: logits - alpha * torch.bincount(idx)),  # bincount wants 1-D
    NOT_A_TENSOR.with_example(lambda logits, idx, alpha: _frequency_penalty(logits, idx, alpha).tolist(),
                              "expected a torch.Tensor"),
    WRONG_SHAPE.with_example(lambda logits, idx, alpha:  # the first row only
                             logits[0] - alpha * torch.bincount(idx[0], minlength=logits.size(-1))),
    NOT_FLOAT.with_example(lambda logits, idx, alpha: _frequency_penalty(logits, idx, alpha).long()),
    NOT_FINITE.with_example(lambda logits, idx, alpha: logits / (alpha * _counts(logits, idx))),  # x / 0 if unseen
    Mistake("changed_input", "your function changed its inputs in place; return a new tensor",
            example=_subtracts_in_place),
    Mistake("added", "{where}: your logits went *up* for tokens already seen; subtract alpha * count, so repeats "
                     "become less likely",
            example=lambda logits, idx, alpha: logits + alpha * _counts(logits, idx)),
    Mistake("presence_penalty", "{where}: row 0 holds token 4 three times, so its logit should drop by 3 * alpha = "
                                "{drop:g}; you subtract alpha once per token seen (that is a presence penalty). Count "
                                "the occurrences, e.g. with torch.bincount or scatter_add_",
            example=lambda logits, idx, alpha: logits - alpha * (_counts(logits, idx) > 0).float()),
    Mistake("counted_over_batch", "{where}: each row counts its own tokens; you counted over the whole batch (row 1 "
                                  "never contains token 4, so its logit for 4 must not change)",
            example=lambda logits, idx, alpha: logits - alpha * _counts(logits, idx).sum(0, keepdim=True)),
    Mistake("wrong_logit", "{where}: in row {b}, token {v} occurs {n} time(s), so its logit should be {logit:.3f} - "
                           "{alpha:g} * {n} = {want:.3f}, not {got:.3f}",
            example=lambda logits, idx, alpha: logits / (1 + alpha * _counts(logits, idx))),  # CTRL's shape
)


@exercise("07_generation", "frequency_penalty",
          "correct: every token's logit drops by alpha for each time it already occurs in its own row.",
          signature="logits, idx, alpha", mistakes=_PENALTY)
def check_frequency_penalty(student) -> None:
    """Check ``student(logits, idx, alpha) -> logits - alpha * counts`` (counts per row)."""
    base_logits, base_idx = _penalty_case()
    for alpha in (0.5, 1.25, 0.0):
        logits, idx = base_logits.clone(), base_idx.clone()
        got = expect_tensor(call(student, logits, idx, alpha), logits.shape)
        if not (torch.equal(logits, base_logits) and torch.equal(idx, base_idx)):
            raise _PENALTY.changed_input.wrong()
        want = _frequency_penalty(base_logits, base_idx, alpha)
        if torch.allclose(got, want, atol=1e-6):
            continue
        where = f"with alpha={alpha}"
        for mistake in (_PENALTY.added, _PENALTY.presence_penalty, _PENALTY.counted_over_batch):
            if alpha and torch.allclose(got, mistake.example(base_logits, base_idx, alpha), atol=1e-6):
                raise mistake.wrong(where=where, drop=3 * alpha)
        counts = _counts(base_logits, base_idx)  # (B, V)
        b, v = furthest(got, want)  # the worst entry
        raise _PENALTY.wrong_logit.wrong(where=where, b=b, v=v, n=int(counts[b, v]), logit=base_logits[b, v],
                                         alpha=alpha, want=want[b, v], got=got[b, v])


# --------------------------------------------------------------------------- 3. one cached attention step


def _attention_case(seed: int, T: int, B: int = 2, nh: int = 3, hs: int = 4):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, nh, T, hs, generator=g) for _ in range(3))  # (B, nh, T, hs)
    full, _ = attention.scaled_dot_product_attention(q, k, v)  # (B, nh, T, hs) causal: the no-cache answer
    return q, k, v, full


def _appended(k_new, v_new, k_cache, v_cache):
    return torch.cat([k_cache, k_new], dim=2), torch.cat([v_cache, v_new], dim=2)


def _step_with(q, k_new, v_new, k_cache, v_cache, *, scale=None, dim=-1, allowed=None):
    """One cached step with the knobs the wrong answers turn: the scale, the softmax's axis, a mask."""
    k, v = _appended(k_new, v_new, k_cache, v_cache)
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.size(-1)) if scale is None else scale)  # (B, nh, 1, t + 1)
    if allowed is not None:
        scores = scores.masked_fill(~allowed(scores.shape[-2:]), float("-inf"))
    return torch.softmax(scores, dim=dim) @ v, k, v


def _past_only(q, k_new, v_new, k_cache, v_cache):
    if k_cache.size(2) == 0:  # nothing to attend to yet: use the new position
        context = v_new
    else:
        context, _ = attention.scaled_dot_product_attention(q, k_cache, v_cache, causal=False)
    return (context, *_appended(k_new, v_new, k_cache, v_cache))


def _cache_not_returned(q, k_new, v_new, k_cache, v_cache):
    context, _, _ = _step_with(q, k_new, v_new, k_cache, v_cache)
    return context, k_cache, v_cache


def _prepended(q, k_new, v_new, k_cache, v_cache):
    return _step_with(q, k_cache, v_cache, k_new, v_new)  # the new entry first, the old cache after it


def _values_from_keys(q, k_new, v_new, k_cache, v_cache):
    context, k, _ = _step_with(q, k_new, v_new, k_cache, v_cache)
    return context, k, torch.cat([v_cache, k_new], dim=2)


def _nothing(shape) -> torch.Tensor:
    return torch.zeros(shape, dtype=torch.bool)


def _then(change):
    """The right step, with ``change(context, k_cache, v_cache)`` made to what it returns."""
    return lambda *args: change(*_step_with(*args))


def _tril(shape) -> torch.Tensor:
    return torch.ones(shape, dtype=torch.bool).tril()  # for (1, t + 1) scores: key 0 only


_CACHED = Catalogue(
    RAISED.with_example(lambda q, k_new, v_new, k_cache, v_cache: (q, torch.cat([k_cache, k_new]),
                                                                   torch.cat([v_cache, v_new]))),  # cat along dim 0
    Mistake("not_three_tensors", "return three tensors, (context, k_cache, v_cache), not a {got}",
            example=lambda q, k_new, v_new, k_cache, v_cache: _step_with(q, k_new, v_new, k_cache, v_cache)[0]),
    Mistake("cache_not_appended", "at step {step}, the {name} you return still has {step} positions: append the new "
                                  "one (torch.cat along dim=2, the time axis) so the next step can attend to it",
            example=_cache_not_returned, shows="append the new one"),
    NOT_A_TENSOR.with_example(_then(lambda context, k, v: (context, k.tolist(), v.tolist()))),
    WRONG_SHAPE.with_example(_then(lambda context, k, v: (context.squeeze(2), k, v))),
    NOT_FLOAT.with_example(_then(lambda context, k, v: (context.long(), k, v))),
    NOT_FINITE.with_example(lambda *args: _step_with(*args, allowed=_nothing)),  # every score -inf: nan
    Mistake("new_entry_first", "at step {step}, your {name} puts the new position first; append it at the end "
                               "(torch.cat([cache, new], dim=2)) so positions stay in order",
            example=_prepended),
    Mistake("cache_changed", "at step {step}, the {name} you return should be the old cache with the new entry "
                             "appended along dim=2, unchanged otherwise",
            example=_values_from_keys),
    Mistake("past_only", "at step {step}, your query attends only to the cached positions; append the new key and "
                         "value first: a token attends to itself too",
            example=_past_only),
    Mistake("not_scaled", "at step {step}, divide the scores by sqrt(head_size) = {sqrt_hs:.3f} before the softmax, "
                          "as attention always does",
            example=lambda *args: _step_with(*args, scale=1.0)),
    Mistake("tril_mask", "at step {step}, your new query sees only the first position: a causal mask made with tril "
                         "for a (1, {keys}) score matrix is anchored at the wrong corner. The one new query is the "
                         "*last* position and may see every key: it needs no mask at all",
            example=lambda *args: _step_with(*args, allowed=_tril)),
    Mistake("softmax_over_query", "at step {step}, your weights are all 1: the softmax must run over the keys "
                                  "(dim=-1), not over the single query (dim=-2)",
            example=lambda *args: _step_with(*args, dim=-2)),
    Mistake("wrong_context", "at step {step}, the context differs from causal attention over the whole sequence: "
                             "softmax(q @ k_cache.transpose(-2, -1) / sqrt(head_size)) @ v_cache, with the new key "
                             "and value already appended",
            example=lambda *args: _step_with(*args, scale=args[0].size(-1))),  # divided by head_size
)


@exercise("07_generation", "cached_attention_step",
          "correct: append the new key and value, then let the one new query attend to every position so far.",
          signature="q, k_new, v_new, k_cache, v_cache", mistakes=_CACHED)
def check_cached_attention_step(student) -> None:
    """Check ``student(q, k_new, v_new, k_cache, v_cache) -> (context, k_cache, v_cache)`` step by step
    against causal attention over the whole sequence."""
    q, k, v, full = _attention_case(seed=5, T=6)
    B, nh, T, hs = q.shape
    k_cache = torch.zeros(B, nh, 0, hs)  # (B, nh, 0, hs): nothing cached before the first token
    v_cache = torch.zeros(B, nh, 0, hs)
    for t in range(T):
        q_t, k_t, v_t = q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1]  # (B, nh, 1, hs) each
        result = call(student, q_t.clone(), k_t.clone(), v_t.clone(), k_cache.clone(), v_cache.clone())
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise _CACHED.not_three_tensors.wrong(got=type(result).__name__)
        context, new_k, new_v = result
        for name, got, want in (("k_cache", new_k, k[:, :, :t + 1]), ("v_cache", new_v, v[:, :, :t + 1])):
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, nh, t, hs):
                raise _CACHED.cache_not_appended.wrong(step=t, name=name)
            got = expect_tensor(got, (B, nh, t + 1, hs), f"at step {t}, the {name} you return")
            if not torch.equal(got, want):
                new_first = torch.cat([want[:, :, -1:], want[:, :, :-1]], dim=2)
                if t > 0 and torch.equal(got, new_first):
                    raise _CACHED.new_entry_first.wrong(step=t, name=name)
                raise _CACHED.cache_changed.wrong(step=t, name=name)
        context = expect_tensor(context, (B, nh, 1, hs), f"at step {t}, the context you return")
        if torch.allclose(context, full[:, :, t:t + 1], atol=1e-5):
            k_cache, v_cache = new_k.detach().clone(), new_v.detach().clone()
            continue
        _diagnose(student, q, k, v, t)


def _diagnose(student, q, k, v, t: int) -> None:
    """The context at step ``t`` is wrong: say why. Steps 0 and 1 cannot tell some mistakes apart (with
    one or two keys, "only the first key" and "only the past keys" are the same), so a step with at
    least two cached positions is tried, with a correct cache, to find out."""
    B, nh, _, hs = q.shape
    s = max(t, 2)
    step = (q[:, :, s:s + 1], k[:, :, s:s + 1], v[:, :, s:s + 1], k[:, :, :s], v[:, :, :s])  # a correct cache
    context = call(student, *(x.clone() for x in step))[0]
    context = expect_tensor(context, (B, nh, 1, hs), f"at step {s}, the context you return")
    for mistake in (_CACHED.past_only, _CACHED.not_scaled, _CACHED.tril_mask, _CACHED.softmax_over_query):
        if torch.allclose(context, mistake.example(*step)[0], atol=1e-5):
            raise mistake.wrong(step=s, sqrt_hs=math.sqrt(hs), keys=s + 1)
    raise _CACHED.wrong_context.wrong(step=t)
