"""Running a model for scores: float64 log-probabilities, the context limit, encoding. Shared by the challenges.

>>> from torch import nn
>>> class Uniform(nn.Module):                 # any model with GPT's forward: (B, T) -> ((B, T, V), loss)
...     def forward(self, idx, targets=None):
...         return torch.zeros(*idx.shape, 4), None
>>> log_probs(Uniform(), torch.tensor([[0, 1]])).exp()
tensor([[[0.2500, 0.2500, 0.2500, 0.2500],
         [0.2500, 0.2500, 0.2500, 0.2500]]], dtype=torch.float64)
"""

from __future__ import annotations

import torch
from torch import nn

from gptlib.device import model_device

__all__ = ["block_size_of", "log_probs", "encode"]


def block_size_of(model: nn.Module) -> int | None:
    """``model.config.block_size`` if the model has one (a :class:`gptlib.model.GPT` does), else None."""
    return getattr(getattr(model, "config", None), "block_size", None)


def log_probs(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """log P(next token | tokens so far) at every position: ``(B, T)`` ids -> ``(B, T, V)`` float64.

    ``model(idx)`` must return ``(logits, _)``. Call it inside :func:`gptlib.evaluation.evaluating`. The result is on the CPU.
    """
    limit = block_size_of(model)
    if limit is not None and idx.size(1) > limit:
        raise ValueError(f"a sequence of {idx.size(1)} tokens is longer than the model's block_size={limit}")
    logits, _ = model(idx.to(model_device(model)))  # (B, T, V)
    return torch.log_softmax(logits.double(), dim=-1).cpu()


def encode(tokenizer, text: str, name: str) -> list[int]:
    """``tokenizer.encode(text)``, with the error naming which argument held the unknown character."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    try:
        return tokenizer.encode(text)
    except ValueError as err:
        raise ValueError(f"{name}={text!r}: {err}") from None
