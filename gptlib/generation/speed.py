"""How fast a model generates: tokens per second with the series' own ``generate`` and its KV cache.

A model card states a speed, and a student choosing a model compares speeds, so the number must be
measured the same way every time: greedy decoding (no random draws), one row, a prompt of
``prompt_len`` tokens, ``new_tokens`` new tokens, a warm-up run first (the first call pays for memory
allocation), then ``repeats`` timed runs. The result keeps the median and the worst run.

>>> from gptlib.model import GPT, GPTConfig
>>> speed = tokens_per_second(GPT(GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=1, n_embd=8)),
...                           new_tokens=8, repeats=2)
>>> speed.median > 0, speed.worst <= speed.median, speed.new_tokens
(True, True, 8)
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from .._checks import check_int
from ..device import model_device
from ..evaluation import evaluating
from .decoding import generate

__all__ = ["Speed", "tokens_per_second"]


@dataclass(frozen=True)
class Speed:
    """A measured generation speed: median and worst (slowest) of ``repeats`` runs, in new tokens per second."""

    median: float
    worst: float
    new_tokens: int
    prompt_len: int
    repeats: int
    device: str

    def __str__(self) -> str:
        return (f"{self.median:,.0f} tokens/s (worst {self.worst:,.0f}; {self.new_tokens} new tokens after "
                f"{self.prompt_len}, median of {self.repeats}, {self.device})")


def tokens_per_second(model: torch.nn.Module, *, new_tokens: int = 200, prompt_len: int = 1, repeats: int = 3,
                      use_cache: bool = True) -> Speed:
    """Measure how many new tokens per second ``model`` generates, greedily, one row, where it lives.

    Uses no random numbers and changes no global setting (torch's thread count included: set it before
    calling to measure with a given number of threads).
    """
    new_tokens = check_int("new_tokens", new_tokens, minimum=1)
    prompt_len = check_int("prompt_len", prompt_len, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    device = model_device(model)
    prompt = torch.zeros(1, prompt_len, dtype=torch.long).to(device)  # token 0, repeated: any valid ids will do

    def run(n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        generate(model, prompt, n, temperature=0, use_cache=use_cache)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    with evaluating(model):
        run(min(new_tokens, 16))  # warm-up
        rates = [new_tokens / run(new_tokens) for _ in range(repeats)]
    return Speed(statistics.median(rates), min(rates), new_tokens, prompt_len, repeats, str(device))
