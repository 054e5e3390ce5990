"""The optimizer and its learning-rate schedule.

- :func:`decay_parameter_names`   which parameters get weight decay (matrices) and which do not (vectors)
- :func:`configure_optimizer`     AdamW, weight decay on matrices only
- :func:`cosine_schedule`         linear warmup, then cosine decay to ``min_lr``
- :func:`lr_at`                   the same schedule, its settings read from a :class:`~gptlib.train.TrainConfig`
- :func:`grad_norm`               the gradients' total norm, what clipping measures
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from gptlib.train.config import TrainConfig

__all__ = ["decay_parameter_names", "configure_optimizer", "cosine_schedule", "lr_at", "grad_norm"]


def decay_parameter_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """``(decayed, not_decayed)``: names of trainable parameters with ``ndim >= 2`` and the rest.

    A tied parameter (GPT's ``wte.weight`` / ``lm_head.weight``) appears once, under its first name.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # yields a shared parameter once
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(name)
    return decay, no_decay


def configure_optimizer(
    model: nn.Module,
    weight_decay: float,
    learning_rate: float,
    betas: tuple[float, float] = (0.9, 0.99),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices (``ndim >= 2``) only.

    Weight decay shrinks every decayed weight towards 0 a little at each step. On a matrix (a
    Linear layer's weight, an embedding table) that keeps the weights small and the function
    smooth, which fights overfitting. A bias or a LayerNorm gain is a single vector that sets an
    offset or a scale: pulling a gain towards 0 fights the normalisation, whose output it is
    meant to rescale freely, and such a handful of numbers adds nothing to overfitting. So they go
    in a group with ``weight_decay=0``.

    Uses the fused AdamW kernel where this torch has one for the parameters' device (CUDA, and the
    CPU since torch 2.4): one kernel for all parameters instead of several passes over memory. It
    computes the same elementwise formula, with no atomics, so results stay deterministic. Where
    there is none, the ``foreach`` (multi-tensor) version is used.
    """
    params = dict(model.named_parameters())
    decay, no_decay = decay_parameter_names(model)
    groups = [
        {"params": [params[n] for n in decay], "weight_decay": weight_decay},
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
    ]
    kwargs = dict(lr=learning_rate, betas=tuple(betas), eps=eps)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.AdamW(groups, foreach=True, **kwargs)


def cosine_schedule(step: int, *, learning_rate: float, min_lr: float, warmup_steps: int, decay_steps: int) -> float:
    """Learning rate for the update made at ``step`` (0-based: steps already completed).

    - warmup, ``step < warmup_steps``: rises linearly, ``learning_rate * (step + 1) / warmup_steps``,
      reaching ``learning_rate`` at step ``warmup_steps - 1``. Adam's running averages start at
      zero and are noisy in the first steps; small steps there keep the model from being thrown
      far by them.
    - decay, ``warmup_steps <= step <= decay_steps``: half a cosine from ``learning_rate`` down to
      ``min_lr``: large steps while the loss falls fast, small ones to settle into a minimum.
    - after ``decay_steps``: ``min_lr``.

    >>> [round(cosine_schedule(s, learning_rate=1.0, min_lr=0.1, warmup_steps=2, decay_steps=4), 3)
    ...  for s in range(6)]
    [0.5, 1.0, 1.0, 0.55, 0.1, 0.1]
    """
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)  # 0 -> 1; decay_steps > warmup here
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate of ``cfg``'s schedule for the update made at ``step`` (see :func:`cosine_schedule`)."""
    return cosine_schedule(step, learning_rate=cfg.learning_rate, min_lr=cfg.min_lr,
                           warmup_steps=cfg.warmup_steps, decay_steps=cfg.decay_steps)


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The gradients' total L2 norm, as a tensor on their device (no host-device sync): the number
    ``torch.nn.utils.clip_grad_norm_`` measures, for when nothing is clipped.

    >>> w = torch.zeros(2, requires_grad=True)
    >>> (w * torch.tensor([3.0, 4.0])).sum().backward()
    >>> grad_norm([w])
    tensor(5.)
    """
    grads = [p.grad for p in params if p.grad is not None]
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
        return torch.nn.utils.get_total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
