"""Beam search: keep the ``num_beams`` most likely continuations instead of committing to one token a step.

- :func:`beam_search`  the continuations of highest total log-probability that beam search finds,
                       as ``transformers``' ``generate(num_beams=k, do_sample=False)`` finds them
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from gptlib._checks import check_int, is_int, is_number
from gptlib.generation.kv_cache import KVCache, next_token_logits
from gptlib.generation.settings import check_prompt

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.model import GPT

__all__ = ["beam_search"]


def beam_search(
    model: GPT,
    idx: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    num_return_sequences: int = 1,
    use_cache: bool = True,
    return_scores: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The ``max_new_tokens``-token continuations of highest total log-probability that beam search finds.

    Greedy decoding commits to the single best token at every step; a slightly worse token now can
    lead to a much better sequence later. Beam search keeps the ``num_beams`` best partial sequences
    ("hypotheses"), scored by the sum of their tokens' log-probabilities. Each step extends every
    hypothesis by every vocabulary token (``num_beams * V`` candidates per prompt), and the
    ``num_beams`` candidates with the highest scores survive. All beams start as the prompt, but
    only the first counts (the others start at score ``-inf``), so the first step does not pick the
    same continuation ``num_beams`` times. With the KV cache, the surviving beams' cache rows are
    gathered from their parents each step (:meth:`KVCache.reorder`).

    Matches ``transformers``' ``generate(num_beams=k, do_sample=False, early_stopping=False)`` with no
    end-of-sequence token, where every hypothesis runs the full ``max_new_tokens``. The final score
    is ``sum_logprobs / max_new_tokens ** length_penalty``, as there. Since all hypotheses then have the
    same length, ``length_penalty`` rescales the scores but never changes which sequence wins (it
    matters only when hypotheses can end early at an end-of-sequence token, which this function does
    not do).

    Args:
        model: a :class:`~gptlib.model.GPT`, normally in eval mode.
        idx: ``(B, T)`` prompt ids, ``T >= 1``.
        num_beams: hypotheses kept per prompt, ``1 <= num_beams <= vocab_size`` (1 is greedy).
        max_new_tokens: ``>= 1``.
        length_penalty: exponent of the length in the final score.
        num_return_sequences: how many of the final hypotheses to return per prompt, best first,
            ``1 <= n <= num_beams``; output rows ``b*n .. b*n + n - 1`` belong to prompt ``b``.
        use_cache: with a :class:`KVCache` (fast) or rerunning the window each step.
        return_scores: also return the ``(B * n,)`` final scores.

    Returns:
        ``(B * n, T + max_new_tokens)`` token ids, and with ``return_scores`` the scores.
    """
    idx = check_prompt(model, idx)
    V = model.config.vocab_size
    if not is_int(num_beams) or not 1 <= num_beams <= V:
        raise ValueError(
            f"num_beams must be an integer in [1, vocab_size={V}] (each step keeps that many distinct "
            f"continuations), got {num_beams!r}"
        )
    check_int("max_new_tokens", max_new_tokens, minimum=1)
    if not is_number(length_penalty) or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    if not is_int(num_return_sequences) or not 1 <= num_return_sequences <= num_beams:
        raise ValueError(
            f"num_return_sequences must be an integer in [1, num_beams={num_beams}], got {num_return_sequences!r}"
        )

    B, T0 = idx.shape
    k = num_beams
    total = T0 + max_new_tokens
    with torch.inference_mode():
        seq = torch.empty(B * k, total, dtype=torch.long, device=idx.device)  # row b*k + j = beam j of prompt b
        seq[:, :T0] = idx.repeat_interleave(k, dim=0)
        scores = torch.zeros(B, k, device=idx.device)  # (B, k) summed log-probabilities
        scores[:, 1:] = float("-inf")  # only the first copy of the prompt is a real hypothesis
        first_row = torch.arange(B, device=idx.device).unsqueeze(1) * k  # (B, 1) row of beam 0 of each prompt
        cache = KVCache.for_model(model, B * k, min(model.config.block_size, total - 1)) if use_cache else None

        for cur in range(T0, total):
            logits = next_token_logits(model, seq[:, :cur], cache)  # (B*k, V)
            logprobs = F.log_softmax(logits.float(), dim=-1).view(B, k, V)  # (B, k, V)
            candidates = (scores.unsqueeze(-1) + logprobs).view(B, k * V)  # (B, k*V) every beam x every token
            scores, flat = torch.topk(candidates, k, dim=-1)  # (B, k) best first
            parent = flat // V  # (B, k) which beam each survivor extends
            token = flat % V  # (B, k) with which token
            rows = (first_row + parent).view(-1)  # (B*k,) the parent's row in seq
            seq[:, :cur] = seq[rows, :cur]
            seq[:, cur] = token.view(-1)
            if cache is not None and cache.length > 0:
                cache.reorder(rows)

        n = num_return_sequences
        out = seq.view(B, k, total)[:, :n].reshape(B * n, total)
        final = (scores[:, :n] / (max_new_tokens**length_penalty)).reshape(B * n)
    out, final = out.clone(), final.clone()  # ordinary tensors, outside inference mode
    return (out, final) if return_scores else out
