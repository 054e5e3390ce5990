"""Choosing the next token from the model's scores: the logits processors and the pick itself.

- :func:`apply_repetition_penalty`  make tokens already in the row less (or more) likely
- :func:`apply_temperature`         sharpen or flatten the distribution
- :func:`top_k_filter`              keep the ``k`` most likely tokens
- :func:`top_p_filter`              keep the most likely tokens that cover probability ``p`` (nucleus)
- :func:`process_logits`            all of them, in ``transformers``' order
- :func:`pick_token`                the argmax (greedy) or a draw from the softmax

Each processor takes logits ``(B, V)`` and returns new ones of the same shape; the input is not
modified. A token is removed by setting its logit to ``-inf``: softmax then gives it probability 0.

>>> logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
>>> top_k_filter(logits, 2)
tensor([[2., 1., -inf, -inf]])
>>> apply_repetition_penalty(logits, torch.tensor([[0, 3]]), 2.0)  # tokens 0 and 3 were seen
tensor([[ 1.,  1.,  0., -2.]])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptlib._checks import is_int, is_number

__all__ = [
    "apply_repetition_penalty",
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "process_logits",
    "pick_token",
]


# ----------------------------------------------------------------------------- argument checks
# Each raises ValueError naming the argument, the value and what is allowed. generate checks its
# settings with the same functions once per call (gptlib.generation.settings), before any work.


def check_penalty(penalty) -> None:
    if not is_number(penalty) or not penalty > 0 or math.isinf(penalty):
        raise ValueError(
            f"repetition_penalty must be a finite number > 0 (1.0 = no penalty, > 1 discourages repeats), "
            f"got {penalty!r}"
        )


def check_temperature(temperature, allow_zero: bool) -> None:
    ok = is_number(temperature) and math.isfinite(temperature)
    ok = ok and (temperature >= 0 if allow_zero else temperature > 0)
    if not ok:
        if allow_zero:
            allowed = "a finite number >= 0 (0 = greedy)"
        else:
            allowed = "a finite number > 0 (for greedy decoding use temperature=0 in generate)"
        raise ValueError(f"temperature must be {allowed}, got {temperature!r}")


def check_top_k(top_k) -> None:
    if not is_int(top_k) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1 (or None for no top-k filter), got {top_k!r}")


def check_top_p(top_p) -> None:
    if not is_number(top_p) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1] (or None for no top-p filter), got {top_p!r}")


# ----------------------------------------------------------------------------- logits processors


def apply_repetition_penalty(logits: torch.Tensor, idx: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make tokens that already occur in ``idx`` less likely (``penalty > 1``) or more likely (``< 1``).

    Every token that appears anywhere in row ``b`` of ``idx`` (prompt and generated text alike, each
    counted once however often it appears) gets its logit moved towards "unlikely": a positive logit
    is divided by ``penalty``, a negative one multiplied by it. (Dividing a negative logit would
    raise it, which is why the two signs are treated differently.) This is the CTRL paper's penalty
    (Keskar et al., 2019), as in ``transformers``' ``RepetitionPenaltyLogitsProcessor``.

    Args:
        logits: ``(B, V)`` scores for the next token.
        idx: ``(B, T)`` token ids seen so far.
        penalty: ``> 0``; ``1.0`` changes nothing.
    """
    check_penalty(penalty)
    seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)  # (B, V)
    seen.scatter_(1, idx, True)  # seen[b, idx[b, t]] = True for every t
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)  # (B, V)
    return torch.where(seen, penalized, logits)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature > 0``: below 1 sharpens the distribution, above 1 flattens it.

    ``softmax(z / τ)``: as ``τ -> 0`` all probability goes to the largest logit (greedy decoding,
    which :func:`~gptlib.generation.generate` does for ``temperature=0``); as ``τ -> ∞`` the
    distribution becomes uniform.
    """
    check_temperature(temperature, allow_zero=False)
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep only the ``k`` largest logits of each row; the rest become ``-inf``.

    Tokens tied with the ``k``-th largest logit are all kept. ``k`` larger than the vocabulary keeps
    everything. Cuts off the long tail of unlikely tokens, each rare on its own but together likely
    enough to derail a sample now and then.
    """
    check_top_k(k)
    k = min(k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al., 2019): keep the most likely tokens that cover probability ``p``.

    Unlike top-k, the number of tokens kept adapts: a confident distribution keeps few, a flat one
    many. Computed from the unlikely end: sort each row from least to most likely and add up the
    probabilities; the tokens whose running total is still ``<= 1 - p`` are removed (they carry at
    most ``1 - p`` of the mass together). The most likely token is always kept. This formulation,
    including the order of the float sums, is the one ``transformers``' ``TopPLogitsWarper`` uses, so
    both remove exactly the same tokens. ``p = 1`` keeps every token of non-zero probability.
    """
    check_top_p(p)
    sorted_logits, order = torch.sort(logits, dim=-1, descending=False)  # (B, V) least likely first
    running_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    drop_sorted = running_mass <= 1 - p
    drop_sorted[..., -1] = False  # the most likely token always stays
    drop = torch.empty_like(drop_sorted).scatter_(1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def process_logits(
    logits: torch.Tensor,
    idx: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
) -> torch.Tensor:
    """All processors in ``transformers``' order: repetition penalty, temperature, top-k, top-p.

    Steps that would change nothing (``penalty=1``, ``temperature=1``, ``top_k=None``,
    ``top_p=None`` or ``1``) are skipped. ``temperature=0`` (greedy) skips temperature, top-k and
    top-p: the most likely token survives them all, so greedy decoding picks the same token anyway.
    The order matters: top-p after temperature measures the mass of the *tempered* distribution.
    """
    if repetition_penalty != 1.0:
        logits = apply_repetition_penalty(logits, idx, repetition_penalty)
    if temperature == 0:
        return logits
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits


# ----------------------------------------------------------------------------- the pick


def pick_token(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """The next token of each row, ``(B,)``: the argmax for ``temperature=0``, otherwise a draw.

    The draw happens on the CPU, from the CPU ``generator`` (``None``: torch's default one, seeded by
    ``torch.manual_seed``), so a seed gives the same tokens on any device.

    >>> pick_token(torch.tensor([[0.0, 3.0, 1.0]]), 0, None)
    tensor([1])
    """
    if temperature == 0:
        return logits.argmax(dim=-1)  # stays on the device: no waiting for the host
    probs = F.softmax(logits.float(), dim=-1)  # (B, V)
    draw = torch.multinomial(probs.cpu(), num_samples=1, generator=generator)  # (B, 1)
    return draw.view(-1).to(logits.device)
