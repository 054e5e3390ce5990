"""Exercises of notebook 06_training: the learning-rate schedule, the weight-decay split, gradient clipping."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from ._core import Wrong, call, exercise

# --------------------------------------------------------------------------- 1. warmup + cosine

# (learning_rate, min_lr, warmup_steps, decay_steps): a typical run, no warmup, a decay that ends early
_SCHEDULES = [(1e-3, 1e-4, 10, 100), (3e-3, 0.0, 0, 50), (6e-4, 6e-5, 4, 12)]


def _expected_lr(step: int, learning_rate: float, min_lr: float, warmup_steps: int, decay_steps: int) -> float:
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


def _as_number(value, step: int) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Wrong(f"at step {step} your function returned a {type(value).__name__}; return a number (a float)")
    return float(value)


@exercise("06_training", "warmup_cosine_lr",
          "correct: a linear warmup to the peak, half a cosine down to min_lr, then min_lr for good.")
def check_warmup_cosine_lr(student) -> None:
    """Check ``student(step, learning_rate, min_lr, warmup_steps, decay_steps) -> lr`` against the schedule."""
    for lr, min_lr, warmup, decay in _SCHEDULES:
        args = dict(learning_rate=lr, min_lr=min_lr, warmup_steps=warmup, decay_steps=decay)
        try:
            got = {s: _as_number(call(student, s, lr, min_lr, warmup, decay), s) for s in range(decay + 20)}
        except Wrong as wrong:
            if warmup == 0 and "ZeroDivisionError" in str(wrong):
                raise Wrong(f"with warmup_steps=0 (no warmup at all) {wrong}. Divide by warmup_steps only inside "
                            f"the warmup branch, `if step < warmup_steps:`, which never runs then") from None
            raise
        where = f"with learning_rate={lr:g}, min_lr={min_lr:g}, warmup_steps={warmup}, decay_steps={decay}"
        for s, value in got.items():
            want = _expected_lr(s, **args)
            if math.isclose(value, want, rel_tol=1e-6, abs_tol=1e-12):
                continue
            if s < warmup:
                if s == 0 and value == 0:
                    raise Wrong(f"{where}: at step 0 you return 0, so the first update does nothing. Step 0 is the "
                                f"first of {warmup} warmup steps: use learning_rate * (step + 1) / warmup_steps "
                                f"= {want:.3g}")
                raise Wrong(f"{where}: during warmup, at step {s}, the rate should be learning_rate * (step + 1) / "
                            f"warmup_steps = {want:.4g}, not {value:.4g}")
            if s >= decay:
                if math.isclose(value, 0.0, abs_tol=1e-12) and min_lr > 0:
                    raise Wrong(f"{where}: after the decay (step {s} >= decay_steps) the rate should stay at "
                                f"min_lr = {min_lr:g}, not 0")
                raise Wrong(f"{where}: at step {s}, at or after decay_steps, the rate should be min_lr = {min_lr:g}, "
                            f"not {value:.4g}")
            # inside the decay
            if s == warmup:
                raise Wrong(f"{where}: the decay starts from the peak: at step {s} (= warmup_steps) the rate should "
                            f"be learning_rate = {lr:g}, not {value:.4g}. Measure the progress from the end of the "
                            f"warmup: (step - warmup_steps) / (decay_steps - warmup_steps)")
            zero_floor = 0.5 * (1 + math.cos(math.pi * (s - warmup) / (decay - warmup))) * lr
            if min_lr > 0 and math.isclose(value, zero_floor, rel_tol=1e-6):
                raise Wrong(f"{where}: your cosine ends at 0, but it should end at min_lr = {min_lr:g}: "
                            f"min_lr + 0.5 * (1 + cos(pi * progress)) * (learning_rate - min_lr)")
            progress = (s - warmup) / (decay - warmup)
            linear = lr - progress * (lr - min_lr)
            if math.isclose(value, linear, rel_tol=1e-6):
                raise Wrong(f"{where}: at step {s} your rate falls in a straight line ({value:.4g}); the schedule "
                            f"follows half a cosine, which falls slowly at first: {want:.4g}")
            raise Wrong(f"{where}: at step {s} (in the decay, progress {progress:.2f}) the rate should be "
                        f"{want:.4g}, not {value:.4g}")


# --------------------------------------------------------------------------- 2. the weight-decay split


class _Odd(nn.Module):
    """Parameters of unusual shapes: a 3-D tensor (decayed), a scalar and a frozen matrix (neither)."""

    def __init__(self):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)))
        self.temperature = nn.Parameter(torch.tensor(1.0))
        self.frozen = nn.Parameter(torch.ones(3, 3), requires_grad=False)
        self.proj = nn.Linear(4, 4)


def _split_cases():
    from gptlib.model import GPT, GPTConfig

    with torch.random.fork_rng(devices=[]):  # building a GPT draws from the global generator: leave it as it was
        gpt = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    return [("a 1-layer GPT", gpt), ("a module with a 3-D, a scalar and a frozen parameter", _Odd())]


def _expected_split(model: nn.Module) -> tuple[set[str], set[str]]:
    decay, no_decay = set(), set()
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).add(name)
    return decay, no_decay


def _names(value, what: str, model: nn.Module) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise Wrong(f"{what} is a {type(value).__name__}; return a list of parameter names")
    if value and all(isinstance(v, torch.Tensor) for v in value):
        raise Wrong(f"{what} holds tensors; return the parameter *names* (the strings from model.named_parameters())")
    if not all(isinstance(v, str) for v in value):
        raise Wrong(f"{what} must hold strings, the names from model.named_parameters()")
    return list(value)


@exercise("06_training", "weight_decay_groups",
          "correct: matrices decay; biases, LayerNorm gains and scalars do not; tied and frozen weights handled.")
def check_weight_decay_groups(student) -> None:
    """Check ``student(model) -> (decay_names, no_decay_names)``."""
    for what_model, model in _split_cases():
        result = call(student, model)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Wrong(f"for {what_model}, return two lists, (decay_names, no_decay_names), "
                        f"not a {type(result).__name__}")
        decay = _names(result[0], "the first list (decay)", model)
        no_decay = _names(result[1], "the second list (no decay)", model)
        want_decay, want_no_decay = _expected_split(model)
        for names, label in ((decay, "decay"), (no_decay, "no-decay")):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise Wrong(f"for {what_model}, your {label} list names {repeated[0]!r} more than once")
        params = dict(model.named_parameters(remove_duplicate=False))
        everything = set(decay) | set(no_decay)
        if "lm_head.weight" in everything:
            raise Wrong(f"for {what_model}, you list 'lm_head.weight': it *is* 'wte.weight' (weight tying), one "
                        f"tensor under two names. Give it to the optimizer once: model.named_parameters() "
                        f"yields a shared tensor only once")
        unknown = sorted(everything - set(params))
        if unknown:
            raise Wrong(f"for {what_model}, {unknown[0]!r} is not a parameter name of the model")
        frozen = sorted(n for n in everything if not params[n].requires_grad)
        if frozen:
            raise Wrong(f"for {what_model}, you list {frozen[0]!r}, which has requires_grad=False: the optimizer "
                        f"never updates it, so leave it out of both lists")
        missing = sorted((want_decay | want_no_decay) - everything)
        if missing:
            raise Wrong(f"for {what_model}, {missing[0]!r} (shape {tuple(params[missing[0]].shape)}) is in neither "
                        f"list; every trainable parameter goes in exactly one")
        both = sorted(set(decay) & set(no_decay))
        if both:
            raise Wrong(f"for {what_model}, {both[0]!r} is in both lists")
        wrongly_decayed = sorted(set(decay) - want_decay)
        if wrongly_decayed:
            n = wrongly_decayed[0]
            raise Wrong(f"for {what_model}, you decay {n!r}, shape {tuple(params[n].shape)}: only tensors with "
                        f"2 or more dimensions (matrices) are decayed; a bias, a LayerNorm gain or a scalar is not")
        not_decayed = sorted(want_decay - set(decay))
        if not_decayed:
            n = not_decayed[0]
            raise Wrong(f"for {what_model}, {n!r} has shape {tuple(params[n].shape)}: a tensor with "
                        f"{params[n].ndim} dimensions, so it is decayed (decide by p.ndim >= 2, not by the "
                        f"module type or the name)")


# --------------------------------------------------------------------------- 3. clipping by global norm


def _grads_case(scale: float, with_none: bool):
    g = torch.Generator().manual_seed(7)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * scale
    if with_none:
        params.append(torch.zeros(5, requires_grad=True))  # a parameter that got no gradient
    return params


@exercise("06_training", "clip_grad_norm",
          "correct: one norm over all gradients together, scaled down only when above max_norm, in place.")
def check_clip_grad_norm(student) -> None:
    """Check ``student(params, max_norm) -> total_norm`` against ``torch.nn.utils.clip_grad_norm_``."""
    for scale, max_norm, with_none in ((3.0, 1.0, False), (0.05, 1.0, False), (2.0, 0.5, True)):
        params = _grads_case(scale, with_none)
        before = [None if p.grad is None else p.grad.clone() for p in params]
        reference = [p.detach().clone().requires_grad_() for p in params]
        for r, b in zip(reference, before):
            r.grad = None if b is None else b.clone()
        want_norm = float(torch.nn.utils.clip_grad_norm_(reference, max_norm))
        grads_present = [b for b in before if b is not None]
        norm = call(student, params, max_norm)
        if isinstance(norm, torch.Tensor) and norm.numel() == 1:
            norm = norm.item()
        if isinstance(norm, bool) or not isinstance(norm, numbers.Real):
            raise Wrong(f"return the total norm as a number (or a 0-d tensor), not a {type(norm).__name__}")
        where = f"with gradients of total norm {want_norm:.3f} and max_norm={max_norm}"
        per_tensor = [float(b.norm()) for b in grads_present]
        if math.isclose(norm, sum(per_tensor), rel_tol=1e-4) and not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise Wrong(f"{where}: you returned {norm:.3f}, the sum of the tensors' norms. The global norm is the "
                        f"norm of all gradients laid end to end: sqrt of the sum of every squared entry")
        after_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params if p.grad is not None))
        if want_norm > max_norm and math.isclose(norm, after_norm, rel_tol=1e-4) and \
                not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise Wrong(f"{where}: you returned {norm:.3f}, the norm after clipping; return the norm *before* "
                        f"clipping (the history plots it, to show how often clipping acts)")
        if not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise Wrong(f"{where}: you returned {norm:.3f}; the total norm is {want_norm:.3f}")
        for p, r, b in zip(params, reference, before):
            if b is None:
                if p.grad is not None:
                    raise Wrong("a parameter whose .grad is None must keep None (it got no gradient); skip it")
                continue
            if p.grad is None:
                raise Wrong("you set a gradient to None; scale the gradients in place instead")
            if torch.allclose(p.grad, r.grad, rtol=1e-5, atol=1e-7):
                continue
            if want_norm <= max_norm:
                raise Wrong(f"{where}: the gradients are already small enough, so they must stay as they are; "
                            f"yours changed (only scale *down*, when the norm exceeds max_norm)")
            if torch.equal(p.grad, b):
                raise Wrong(f"{where}: the gradients did not change. Scale every p.grad in place "
                            f"(p.grad.mul_(max_norm / total_norm)), the way the optimizer will read them")
            clipped_alone = b * min(1.0, max_norm / float(b.norm()))
            if torch.allclose(p.grad, clipped_alone, rtol=1e-4, atol=1e-7):
                raise Wrong(f"{where}: you clipped each tensor by its own norm. Clipping by the global norm scales "
                            f"*all* gradients by the same factor, max_norm / total_norm, so their direction is kept")
            raise Wrong(f"{where}: after clipping, the gradients should have total norm {max_norm} (every one "
                        f"multiplied by max_norm / total_norm = {max_norm / want_norm:.3f})")
