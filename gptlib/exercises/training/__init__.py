"""Exercises of notebook 06_training, one module each: the learning-rate schedule (``lr_schedule``),
the weight-decay split (``weight_decay``), gradient clipping (``clipping``)."""

from .clipping import check_clip_grad_norm
from .lr_schedule import check_warmup_cosine_lr
from .weight_decay import check_weight_decay_groups

__all__ = ["check_warmup_cosine_lr", "check_weight_decay_groups", "check_clip_grad_norm"]
