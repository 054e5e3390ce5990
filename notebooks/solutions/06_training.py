"""Solutions to the exercises of 06_training.ipynb. Try them yourself first!"""

import math

import torch


def warmup_cosine_lr(step, learning_rate, min_lr, warmup_steps, decay_steps):
    """Linear warmup to learning_rate, half a cosine down to min_lr at decay_steps, then min_lr."""
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps  # step 0 is the first warmup step: not 0
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)  # 0 at the peak, 1 at the end
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


def weight_decay_groups(model):
    """(decay_names, no_decay_names): trainable tensors with 2+ dimensions decay, the rest do not."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # a tied (shared) tensor comes once, under its first name
        if not p.requires_grad:
            continue  # frozen: the optimizer never sees it
        (decay if p.ndim >= 2 else no_decay).append(name)
    return decay, no_decay


def clip_grad_norm(params, max_norm):
    """Scale all gradients in place by one factor so their global norm is at most max_norm; return the norm before."""
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()  # all entries laid end to end
    if total_norm > max_norm:
        for g in grads:
            g.mul_(max_norm / total_norm)  # the same factor for every tensor: the direction is kept
    return total_norm
