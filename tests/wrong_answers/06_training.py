"""Wrong answers to the exercises of 06_training, each with a piece of the message the student must see."""

import math

import torch


def _lr(step, lr, min_lr, warmup, decay, *, start_at_zero=False, floor=True, from_zero=False, shift=True,
        linear=False):
    if step < warmup:
        return lr * (step if start_at_zero else step + 1) / warmup
    if floor and step >= decay:
        return min_lr
    progress = (step - warmup) / (decay - warmup) if shift else step / decay
    bottom = 0.0 if from_zero else min_lr
    if linear:
        return lr - progress * (lr - bottom)
    return bottom + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - bottom)


def _divides_by_warmup(step, lr, min_lr, warmup, decay):
    ramp = (step + 1) / warmup  # ZeroDivisionError when warmup == 0
    if step < warmup:
        return lr * ramp
    return _lr(step, lr, min_lr, warmup, decay)


def _params_not_names(model):
    return [p for p in model.parameters() if p.ndim >= 2], [p for p in model.parameters() if p.ndim < 2]


def _by_name(model):  # decide by the name: LayerNorm gains (".weight", 1-D) get decayed
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return [n for n in names if not n.endswith("bias")], [n for n in names if n.endswith("bias")]


def _linear_weights_only(model):  # decide by module type: embeddings and other matrices are missed
    decay = [f"{m}.weight" if m else "weight" for m, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)]
    decay = [n for n in decay if n != "lm_head.weight"]
    return decay, [n for n, p in model.named_parameters() if p.requires_grad and n not in decay]


def _with_duplicates(model):  # state_dict-style: the tied matrix under both names
    pairs = list(model.named_parameters(remove_duplicate=False))
    return [n for n, p in pairs if p.requires_grad and p.ndim >= 2], [n for n, p in pairs if p.requires_grad and p.ndim < 2]


def _frozen_included(model):
    return [n for n, p in model.named_parameters() if p.ndim >= 2], [n for n, p in model.named_parameters() if p.ndim < 2]


def _swapped(model):
    d, n = _frozen_included(model)
    return n, d


def _norm(params):
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params if p.grad is not None))


def _per_tensor(params, max_norm):
    total = _norm(params)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(min(1.0, max_norm / float(p.grad.norm())))
    return total


def _always_scale(params, max_norm):
    total = _norm(params)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(max_norm / total)
    return total


def _returns_norm_after(params, max_norm):
    total = _norm(params)
    if total > max_norm:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(max_norm / total)
    return _norm(params)


def _sum_of_norms(params, max_norm):
    total = sum(float(p.grad.norm()) for p in params if p.grad is not None)
    if total > max_norm:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(max_norm / total)
    return total


def _not_in_place(params, max_norm):
    total = _norm(params)
    if total > max_norm:
        for p in params:
            if p.grad is not None:
                _ = p.grad * (max_norm / total)  # a new tensor, thrown away
    return total


def _crashes_on_none(params, max_norm):
    total = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params))  # p.grad may be None
    if total > max_norm:
        for p in params:
            p.grad.mul_(max_norm / total)
    return total


WRONG = {
    "06_training.warmup_cosine_lr": [
        (lambda s, lr, m, w, d: _lr(s, lr, m, w, d, start_at_zero=True), "at step 0 you return 0"),
        (lambda s, lr, m, w, d: _lr(s, lr, m, w, d, floor=False), "should be min_lr"),
        (lambda s, lr, m, w, d: _lr(s, lr, m, w, d, from_zero=True), "your cosine ends at 0"),
        (lambda s, lr, m, w, d: _lr(s, lr, m, w, d, shift=False), "the decay starts from the peak"),
        (lambda s, lr, m, w, d: _lr(s, lr, m, w, d, linear=True), "straight line"),
        (_divides_by_warmup, "with warmup_steps=0"),
        (lambda s, lr, m, w, d: str(_lr(s, lr, m, w, d)), "return a number"),
    ],
    "06_training.weight_decay_groups": [
        (_params_not_names, "return the parameter *names*"),
        (_by_name, "only tensors with 2 or more dimensions"),
        (_linear_weights_only, "so it is decayed"),
        (_with_duplicates, "weight tying"),
        (_frozen_included, "requires_grad=False"),
        (_swapped, "only tensors with 2 or more dimensions"),
        (lambda model: [n for n, _ in model.named_parameters()], "return two lists"),
    ],
    "06_training.clip_grad_norm": [
        (_per_tensor, "you clipped each tensor by its own norm"),
        (_always_scale, "only scale *down*"),
        (_returns_norm_after, "the norm *before*"),
        (_sum_of_norms, "the sum of the tensors' norms"),
        (_not_in_place, "the gradients did not change"),
        (_crashes_on_none, "AttributeError"),
    ],
}
