"""What :func:`~gptlib.generation.generate` and :func:`~gptlib.generation.stream` are asked to do, checked once.

- :class:`GenerationSettings`  every setting of a generation (length, sampling, stop strings, cache,
                               randomness, padding), documented here once and checked when made
- :func:`check_prompt`         the prompt ``idx`` as ``(B, T)`` token ids on the model's device
- :data:`PAD_TOKEN_ID`         what rows that have finished are filled with

Each check raises ``ValueError`` naming the argument, the value and what is allowed. They run once
per call, before any work, so a typo fails at once rather than after a long prefill.

>>> GenerationSettings(20, temperature=0.8, top_k=40, stop="\\n", tokenizer=object()).stop
('\\n',)
>>> GenerationSettings(20, top_p=1.5)
Traceback (most recent call last):
...
ValueError: top_p must be a number in (0, 1] (or None for no top-p filter), got 1.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from gptlib._checks import check_int, is_int
from gptlib.device import model_device
from gptlib.generation.sampling import check_penalty, check_temperature, check_top_k, check_top_p

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.model import GPT

__all__ = ["GenerationSettings", "check_prompt", "PAD_TOKEN_ID"]

#: Filler written after a row has finished (hit a stop string) while other rows go on. It is not a
#: token id, so it cannot be mistaken for text; it equals ``gptlib.model.IGNORE_INDEX``.
PAD_TOKEN_ID = -1


@dataclass(frozen=True)
class GenerationSettings:
    """The settings of one :func:`~gptlib.generation.generate` or :func:`~gptlib.generation.stream` call.

    Both take these as arguments of the same names (in this order after ``model`` and ``idx``,
    ``pad_token_id`` by keyword only) and make one of these from them; they are checked here, when
    it is made.

    Each step scores the next token (:func:`~gptlib.generation.next_token_logits`), processes the
    scores with :func:`~gptlib.generation.process_logits` (repetition penalty, temperature, top-k,
    top-p), then draws a token from their softmax, or for ``temperature=0`` takes the most likely one
    (greedy decoding; ``top_k`` and ``top_p`` then make no difference).

    Attributes:
        max_new_tokens: how many tokens to add, ``>= 0``.
        temperature: ``>= 0``; ``0`` means greedy, ``1`` the model's own distribution.
        top_k: keep the ``k >= 1`` most likely tokens, or ``None``.
        top_p: keep the smallest set of most likely tokens with probability ``>= top_p``, in ``(0, 1]``, or ``None``.
        repetition_penalty: ``> 0``; above 1 discourages tokens already in the row (prompt included).
        num_return_sequences: continuations per prompt, ``>= 1``. Output rows
            ``b*n .. b*n + n - 1`` continue prompt ``b`` (all equal when greedy).
        stop: a string or list of strings (kept as a tuple; ``None`` becomes ``()``). A row finishes
            as soon as its decoded continuation (the new tokens, not the prompt) contains one of them;
            its tokens end with the token that completed the stop string, so the stop string is part
            of the returned text (it may end in the middle of that token's text). Generation ends early
            once every row has finished. Needs ``tokenizer``.
        tokenizer: anything with ``decode(list_of_ids) -> str``, e.g. a
            :class:`~gptlib.tokenizers.CharTokenizer`; only used for ``stop``.
        use_cache: run the prompt once and then one token per step with a
            :class:`~gptlib.generation.KVCache` (fast); ``False`` reruns the whole window each step
            (slow, the reference). The logits agree up to float rounding.
        generator: a CPU ``torch.Generator`` for the draws; ``None`` draws from torch's default one
            (seeded by ``torch.manual_seed``), whose state therefore advances.
        pad_token_id: what a row holds after it has finished while other rows go on (default
            :data:`PAD_TOKEN_ID`, ``-1``, never a real token; keep ``row[row >= 0]``).

    ``ValueError`` naming the value for a bad setting: a negative ``max_new_tokens`` or
    ``temperature``, ``top_k < 1``, ``top_p`` outside ``(0, 1]``, ``repetition_penalty <= 0``,
    ``num_return_sequences < 1``, an empty stop string, ``stop`` without ``tokenizer``, a non-CPU
    ``generator``, a ``pad_token_id`` that is not an integer.
    """

    max_new_tokens: int
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    num_return_sequences: int = 1
    stop: str | Sequence[str] | None = None
    tokenizer: Any = None
    use_cache: bool = True
    generator: torch.Generator | None = None
    pad_token_id: int = PAD_TOKEN_ID

    def __post_init__(self):
        check_int("max_new_tokens", self.max_new_tokens, minimum=0)
        check_temperature(self.temperature, allow_zero=True)
        if self.top_k is not None:
            check_top_k(self.top_k)
        if self.top_p is not None:
            check_top_p(self.top_p)
        check_penalty(self.repetition_penalty)
        check_int("num_return_sequences", self.num_return_sequences, minimum=1)
        object.__setattr__(self, "stop", _stop_strings(self.stop, self.tokenizer))  # frozen: set once, here
        generator = self.generator
        if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
            raise ValueError(
                f"generator must be a CPU torch.Generator (tokens are drawn on the CPU so a seed gives the same text "
                f"on every device), got {generator!r}"
            )
        if not is_int(self.pad_token_id):
            raise ValueError(f"pad_token_id must be an integer, got {self.pad_token_id!r}")


def _stop_strings(stop, tokenizer) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    if not stops or not all(isinstance(s, str) and s for s in stops):
        raise ValueError(f"stop must be a non-empty string or a list of non-empty strings, got {stop!r}")
    if tokenizer is None:
        raise ValueError(
            f"stop={stop!r} needs tokenizer=...: stop strings are found in the decoded text, "
            f"and decoding needs the tokenizer"
        )
    return stops


def check_prompt(model: GPT, idx) -> torch.Tensor:
    """``idx`` as ``(B, T)`` long token ids on ``model``'s device, after checking it is a non-empty
    2-D integer tensor of ids in the vocabulary (``TypeError`` / ``ValueError`` otherwise)."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"idx must be a torch.Tensor of token ids with shape (B, T), got {type(idx).__name__}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise ValueError(f"idx must hold integer token ids, got dtype {idx.dtype}")
    if idx.ndim != 2:
        hint = "; for a single sequence use idx.unsqueeze(0)" if idx.ndim == 1 else ""
        raise ValueError(f"idx must have shape (B, T), got shape {tuple(idx.shape)}{hint}")
    if idx.numel() == 0:
        raise ValueError(f"the prompt is empty: idx has shape {tuple(idx.shape)}; give at least one token per row")
    idx = idx.to(device=model_device(model), dtype=torch.long)
    V = model.config.vocab_size
    lo, hi = torch.stack(list(torch.aminmax(idx))).tolist()  # one read from the device, before the loop
    if lo < 0 or hi >= V:
        raise ValueError(f"token id {lo if lo < 0 else hi} in idx is outside the vocabulary [0, {V - 1}]")
    return idx
