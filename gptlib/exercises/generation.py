"""Exercises of notebook 07_generation: min-p filtering, a frequency penalty, one cached attention step."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._core import Wrong, call, exercise, expect_tensor

# --------------------------------------------------------------------------- 1. min-p filtering


def _logits_cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    spread = torch.randn(3, 12, generator=g) * 2.0  # (3, 12) three rows with different shapes
    spread[1, 0] += 6.0  # row 1: one confident favourite
    spread[2] *= 0.2  # row 2: nearly flat
    filtered = torch.randn(2, 9, generator=g) * 1.5
    filtered[:, 6:] = float("-inf")  # tokens an earlier filter already removed
    return [("three rows (one confident, one nearly flat)", spread), ("rows that already hold -inf", filtered)]


def _min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    probs = logits.softmax(dim=-1)
    keep = probs >= min_p * probs.max(dim=-1, keepdim=True).values
    return logits.masked_fill(~keep, float("-inf"))


@exercise("07_generation", "min_p_filter",
          "correct: each row keeps the tokens at least min_p times as likely as its favourite; the rest are -inf.")
def check_min_p_filter(student) -> None:
    """Check ``student(logits, min_p) -> logits`` against min-p filtering (keep p >= min_p * max p, per row)."""
    for what, case in _logits_cases():
        for min_p in (0.1, 0.3, 0.0, 1.0):
            logits = case.clone()
            got = call(student, logits, min_p)
            if not torch.equal(logits, case):
                raise Wrong("your function changed `logits` in place; return a new tensor (e.g. with masked_fill, "
                            "not masked_fill_)")
            got = expect_tensor(got, case.shape, allow_inf=True)
            want = _min_p(case, min_p)
            where = f"for {what}, with min_p={min_p}"
            kept, want_kept = torch.isfinite(got), torch.isfinite(want)
            if torch.equal(kept, want_kept) and torch.equal(got[kept], want[kept]):
                continue
            if ((got >= 0) & (got <= 1)).all() and torch.allclose(got.sum(-1), torch.ones(len(got)), atol=1e-4):
                raise Wrong(f"{where}: your rows sum to 1, so they look like probabilities. Return *logits*, with "
                            f"-inf for removed tokens: the sampler applies softmax itself")
            if (got[~want_kept] == 0).all() and torch.equal(got[want_kept], want[want_kept]):
                raise Wrong(f"{where}: removed tokens must get the logit -inf (probability exactly 0 after softmax); "
                            f"a logit of 0 is an ordinary score, exp(0) = 1")
            if torch.equal(kept, want_kept):
                raise Wrong(f"{where}: you keep the right tokens but changed their logits; keep them as they are")
            probs = case.softmax(-1)
            by_logits = case >= min_p * case.max(dim=-1, keepdim=True).values
            if min_p > 0 and torch.equal(kept, by_logits) and not torch.equal(by_logits, want_kept):
                raise Wrong(f"{where}: compare *probabilities*, not logits: keep a token when softmax(logits) >= "
                            f"min_p * (the largest probability in its row). Logits can be negative, and scaling "
                            f"them says nothing about how likely a token is")
            absolute = probs >= min_p
            if min_p < 1 and torch.equal(kept, absolute) and not torch.equal(absolute, want_kept):
                raise Wrong(f"{where}: the threshold is relative: min_p times the most likely token's probability, "
                            f"not min_p itself. A confident row then drops more, a flat row keeps more")
            batch_max = probs >= min_p * probs.max()
            if torch.equal(kept, batch_max) and not torch.equal(batch_max, want_kept):
                raise Wrong(f"{where}: take the largest probability of each row (max over dim=-1, keepdim=True), "
                            f"not of the whole batch: each row is its own distribution")
            if kept.sum() < want_kept.sum() and (kept <= want_kept).all():
                raise Wrong(f"{where}: you removed too many tokens: {int(kept.sum())} kept, {int(want_kept.sum())} "
                            f"should be. A token whose probability is exactly min_p times the largest stays (use "
                            f">=), so the most likely token always stays, even with min_p=1")
            row = int((kept != want_kept).any(dim=-1).nonzero()[0])
            raise Wrong(f"{where}: row {row} should keep tokens {want_kept[row].nonzero().flatten().tolist()}, "
                        f"you kept {kept[row].nonzero().flatten().tolist()}")


# --------------------------------------------------------------------------- 2. a frequency penalty


def _penalty_case():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 8, generator=g)  # (B, V)
    idx = torch.tensor([[1, 4, 4, 4, 0, 1],  # row 0: token 4 three times, 1 twice, 0 once
                        [7, 2, 2, 5, 5, 5]])  # row 1: its own counts; tokens 1 and 4 never seen here
    return logits, idx


def _counts(idx: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``(B, V)``: how often each token occurs in each row of ``idx``."""
    return torch.zeros(idx.size(0), vocab_size).scatter_add_(1, idx, torch.ones(idx.shape))


@exercise("07_generation", "frequency_penalty",
          "correct: every token's logit drops by alpha for each time it already occurs in its own row.")
def check_frequency_penalty(student) -> None:
    """Check ``student(logits, idx, alpha) -> logits - alpha * counts`` (counts per row)."""
    base_logits, base_idx = _penalty_case()
    for alpha in (0.5, 1.25, 0.0):
        logits, idx = base_logits.clone(), base_idx.clone()
        got = expect_tensor(call(student, logits, idx, alpha), logits.shape)
        if not (torch.equal(logits, base_logits) and torch.equal(idx, base_idx)):
            raise Wrong("your function changed its inputs in place; return a new tensor")
        counts = _counts(base_idx, base_logits.size(1))  # (B, V)
        want = base_logits - alpha * counts
        if torch.allclose(got, want, atol=1e-6):
            continue
        where = f"with alpha={alpha}"
        if alpha and torch.allclose(got, base_logits + alpha * counts, atol=1e-6):
            raise Wrong(f"{where}: your logits went *up* for tokens already seen; subtract alpha * count, so "
                        f"repeats become less likely")
        presence = base_logits - alpha * (counts > 0).float()
        if alpha and torch.allclose(got, presence, atol=1e-6):
            raise Wrong(f"{where}: row 0 holds token 4 three times, so its logit should drop by 3 * alpha = "
                        f"{3 * alpha:g}; you subtract alpha once per token seen (that is a presence penalty). "
                        f"Count the occurrences, e.g. with torch.bincount or scatter_add_")
        pooled = base_logits - alpha * counts.sum(0, keepdim=True)
        if alpha and torch.allclose(got, pooled, atol=1e-6):
            raise Wrong(f"{where}: each row counts its own tokens; you counted over the whole batch (row 1 "
                        f"never contains token 4, so its logit for 4 must not change)")
        b, v = divmod(int((got - want).abs().argmax()), want.size(1))  # the worst entry
        n = int(counts[b, v])
        raise Wrong(f"{where}: in row {b}, token {v} occurs {n} time(s), so its logit should be "
                    f"{base_logits[b, v]:.3f} - {alpha:g} * {n} = {want[b, v]:.3f}, not {got[b, v]:.3f}")


# --------------------------------------------------------------------------- 3. one cached attention step


def _attention_case(seed: int, T: int, B: int = 2, nh: int = 3, hs: int = 4):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, nh, T, hs, generator=g) for _ in range(3))  # (B, nh, T, hs)
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs) the no-cache answer
    return q, k, v, full


@exercise("07_generation", "cached_attention_step",
          "correct: append the new key and value, then let the one new query attend to every position so far.")
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
            raise Wrong(f"return three tensors, (context, k_cache, v_cache), not a {type(result).__name__}")
        context, new_k, new_v = result
        for name, got, want in (("k_cache", new_k, k[:, :, :t + 1]), ("v_cache", new_v, v[:, :, :t + 1])):
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, nh, t, hs):
                raise Wrong(f"at step {t}, the {name} you return still has {t} positions: append the new one "
                            f"(torch.cat along dim=2, the time axis) so the next step can attend to it")
            got = expect_tensor(got, (B, nh, t + 1, hs), f"at step {t}, the {name} you return")
            if not torch.equal(got, want):
                cat_first = torch.cat([want[:, :, -1:], want[:, :, :-1]], dim=2)
                if t > 0 and torch.equal(got, cat_first):
                    raise Wrong(f"at step {t}, your {name} puts the new position first; append it at the end "
                                f"(torch.cat([cache, new], dim=2)) so positions stay in order")
                raise Wrong(f"at step {t}, the {name} you return should be the old cache with the new entry "
                            f"appended along dim=2, unchanged otherwise")
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
    q_s, k_s, v_s = q[:, :, s:s + 1], k[:, :, :s + 1], v[:, :, :s + 1]  # the query, all keys and values up to s
    context = call(student, q_s.clone(), k[:, :, s:s + 1].clone(), v[:, :, s:s + 1].clone(),
                   k[:, :, :s].clone(), v[:, :, :s].clone())[0]  # fmt: skip
    context = expect_tensor(context, (B, nh, 1, hs), f"at step {s}, the context you return")
    if torch.allclose(context, F.scaled_dot_product_attention(q_s, k[:, :, :s], v[:, :, :s]), atol=1e-5):
        raise Wrong(f"at step {s}, your query attends only to the cached positions; append the new key and "
                    f"value first: a token attends to itself too")
    if torch.allclose(context, F.scaled_dot_product_attention(q_s, k_s, v_s, scale=1.0), atol=1e-5):
        raise Wrong(f"at step {s}, divide the scores by sqrt(head_size) = {math.sqrt(hs):.3f} before the "
                    f"softmax, as attention always does")
    if torch.allclose(context, v[:, :, :1], atol=1e-5):
        raise Wrong(f"at step {s}, your new query sees only the first position: a causal mask made with tril "
                    f"for a (1, {s + 1}) score matrix is anchored at the wrong corner. The one new query is the "
                    f"*last* position and may see every key: it needs no mask at all")
    if torch.allclose(context, v_s.sum(dim=2, keepdim=True), atol=1e-5):
        raise Wrong(f"at step {s}, your weights are all 1: the softmax must run over the keys (dim=-1), not "
                    f"over the single query (dim=-2)")
    raise Wrong(f"at step {t}, the context differs from causal attention over the whole sequence: "
                f"softmax(q @ k_cache.transpose(-2, -1) / sqrt(head_size)) @ v_cache, with the new key and "
                f"value already appended")
