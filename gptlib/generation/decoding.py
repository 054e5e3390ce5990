"""The generation loop: pick a token, append it, repeat; all at once or one step at a time.

- :func:`generate`   continue each prompt by up to ``max_new_tokens`` tokens, return the whole sequences
- :func:`stream`     the same loop, yielding each step's new tokens as they are chosen
- :func:`_steps`     that loop, shared by both

What a generation does is set by its :class:`~gptlib.generation.settings.GenerationSettings`
(temperature, top-k, top-p, stop strings, ...), which both functions take as arguments and check
when called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch

from gptlib.generation.kv_cache import KVCache, next_token_logits
from gptlib.generation.sampling import pick_token, process_logits
from gptlib.generation.settings import PAD_TOKEN_ID, GenerationSettings, check_prompt

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.model import GPT

__all__ = ["generate", "stream"]


def _steps(model: GPT, idx: torch.Tensor, s: GenerationSettings, hand_out: bool, result: list) -> Iterator:
    """The generation loop, shared by :func:`generate` and :func:`stream`; ``idx`` is a checked prompt.

    Yields each step's new tokens ``(B,)``, ``s.pad_token_id`` in rows that had already finished (or
    ``None`` unless ``hand_out``, to spare a copy per step), and finally stores the whole output in
    ``result[0]``. Each step's work runs under ``torch.inference_mode()``, but the mode is left before
    every ``yield``: it is thread-global state and must not leak into the caller's code between two
    steps. Tensors handed out are cloned outside the mode, so they are ordinary tensors that the
    caller may modify.
    """
    if s.num_return_sequences > 1:
        idx = idx.repeat_interleave(s.num_return_sequences, dim=0)  # rows b*n .. b*n+n-1 continue prompt b
    B, T0 = idx.shape
    total = T0 + s.max_new_tokens
    with torch.inference_mode():
        seq = torch.empty(B, total, dtype=torch.long, device=idx.device)  # every token, filled from the left
        seq[:, :T0] = idx
        # The longest window ever fed is the last step's, min(block_size, total - 1) tokens.
        cache = KVCache.for_model(model, B, max(1, min(model.config.block_size, total - 1))) if s.use_cache else None

    finished_at = [None] * B  # per row: the length at which it hit a stop string
    generated: list[list[int]] = [[] for _ in range(B)]  # per row, on the host: the continuation (for stop strings)
    cur = T0
    while cur < total:
        with torch.inference_mode():
            logits = next_token_logits(model, seq[:, :cur], cache)  # (B, V)
            logits = process_logits(logits, seq[:, :cur], s.temperature, s.top_k, s.top_p, s.repetition_penalty)
            token = pick_token(logits, s.temperature, s.generator)  # (B,)
            seq[:, cur] = token
        cur += 1
        if s.stop:
            done_before = [f is not None for f in finished_at]
            for b, t in enumerate(token.tolist()):
                if done_before[b]:
                    continue
                generated[b].append(t)
                text = s.tokenizer.decode(generated[b])
                if any(stop in text for stop in s.stop):
                    finished_at[b] = cur
            if any(done_before):
                token = token.masked_fill(torch.tensor(done_before, device=token.device), s.pad_token_id)
        yield token.clone() if hand_out else None
        if s.stop and all(f is not None for f in finished_at):
            break

    out = seq[:, :cur].clone()  # outside inference mode: an ordinary tensor
    for b, f in enumerate(finished_at):
        if f is not None:
            out[b, f:] = s.pad_token_id
    result.append(out)


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    num_return_sequences: int = 1,
    stop: str | Sequence[str] | None = None,
    tokenizer=None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    on_token: Callable[[torch.Tensor], None] | None = None,
    *,
    pad_token_id: int = PAD_TOKEN_ID,
) -> torch.Tensor:
    """Continue each prompt by up to ``max_new_tokens`` tokens. Returns ``(B * num_return_sequences, T + new)``.

    Args:
        model: a :class:`~gptlib.model.GPT`, normally in eval mode.
        idx: ``(B, T)`` prompt token ids, ``T >= 1``. Longer than ``block_size``: only its last
            ``block_size`` tokens are read (but the whole prompt is returned).
        max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences, stop,
            tokenizer, use_cache, generator, pad_token_id: the settings, each described once in
            :class:`~gptlib.generation.settings.GenerationSettings` (``pad_token_id`` by keyword only).
        on_token: called after every step with that step's new tokens ``(B * n,)`` (the same tensor
            :func:`stream` yields), e.g. to print text as it appears.

    Returns:
        ``(B * n, T + m)`` token ids, the prompts followed by ``m <= max_new_tokens`` new tokens, on the
        model's device. ``m = max_new_tokens`` unless every row has hit a stop string, in which case
        generation ends early at the step where the last row finished. A row that finished earlier
        than others is frozen: the model still runs on it (the batch stays rectangular) but its
        later positions hold ``pad_token_id``.

    Raises ``ValueError`` naming the value for a bad prompt (empty, not ``(B, T)``, ids outside the
    vocabulary) or a bad setting (see :class:`~gptlib.generation.settings.GenerationSettings`).
    """
    idx = check_prompt(model, idx)
    settings = GenerationSettings(max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences,
                                  stop, tokenizer, use_cache, generator, pad_token_id)  # fmt: skip
    result: list[torch.Tensor] = []
    for token in _steps(model, idx, settings, on_token is not None, result):
        if on_token is not None:
            on_token(token)
    return result[0]


def stream(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    num_return_sequences: int = 1,
    stop: str | Sequence[str] | None = None,
    tokenizer=None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    on_token: Callable[[torch.Tensor], None] | None = None,
    *,
    pad_token_id: int = PAD_TOKEN_ID,
) -> Iterator[torch.Tensor]:
    """Like :func:`generate` (the same arguments), but yield each step's new tokens ``(B * n,)`` as soon as they are chosen.

    Stacking what it yields along a new last axis gives exactly the new columns that
    :func:`generate` returns with the same arguments and seed. The arguments are checked when
    ``stream`` is called, not when the first token is requested. A typical loop::

        for token in stream(model, idx, 200, tokenizer=tok, temperature=0.8):
            print(tok.decode(token.tolist()), end="", flush=True)
    """
    idx = check_prompt(model, idx)
    settings = GenerationSettings(max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences,
                                  stop, tokenizer, use_cache, generator, pad_token_id)  # fmt: skip
    steps = _steps(model, idx, settings, True, [])

    def tokens() -> Iterator[torch.Tensor]:
        for token in steps:
            if on_token is not None:
                on_token(token)
            yield token

    return tokens()
