"""Exercises of notebook 06_training: the learning-rate schedule, the weight-decay split, gradient clipping."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..train import cosine_schedule, decay_parameter_names
from ._core import RAISED, Catalogue, Mistake, Wrong, as_float, call, exercise

# --------------------------------------------------------------------------- 1. warmup + cosine

# (learning_rate, min_lr, warmup_steps, decay_steps): a typical run, no warmup, a decay that ends early
_SCHEDULES = [(1e-3, 1e-4, 10, 100), (3e-3, 0.0, 0, 50), (6e-4, 6e-5, 4, 12)]


def _schedule(step, learning_rate, min_lr, warmup_steps, decay_steps) -> float:
    return cosine_schedule(step, learning_rate=learning_rate, min_lr=min_lr, warmup_steps=warmup_steps,
                           decay_steps=decay_steps)


def _half_cosine(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _decay_with(step, learning_rate, min_lr, warmup_steps, decay_steps, *, floor=True, from_step_0=False,
                bottom=None, curve=_half_cosine) -> float:
    """gptlib's schedule, except in the decay, where the wrong answers turn these knobs: whether it stops
    at decay_steps, where its progress is counted from, the rate it falls to, and the curve it follows."""
    if step < warmup_steps or (floor and step >= decay_steps):
        return _schedule(step, learning_rate, min_lr, warmup_steps, decay_steps)
    progress = step / decay_steps if from_step_0 else (step - warmup_steps) / (decay_steps - warmup_steps)
    low = min_lr if bottom is None else bottom
    return low + curve(progress) * (learning_rate - low)


def _ramp_before_the_branch(step, learning_rate, min_lr, warmup_steps, decay_steps):
    ramp = (step + 1) / warmup_steps  # ZeroDivisionError when warmup_steps == 0
    if step < warmup_steps:
        return learning_rate * ramp
    return _schedule(step, learning_rate, min_lr, warmup_steps, decay_steps)


def _warmup_with(ramp):
    """gptlib's schedule with the warmup ``ramp(step, warmup_steps)`` (a fraction of the peak)."""
    def schedule(step, learning_rate, min_lr, warmup_steps, decay_steps):
        if step < warmup_steps:
            return learning_rate * ramp(step, warmup_steps)
        return _schedule(step, learning_rate, min_lr, warmup_steps, decay_steps)
    return schedule


def _zero_after_decay(step, learning_rate, min_lr, warmup_steps, decay_steps):
    if step >= decay_steps:
        return 0.0
    return _schedule(step, learning_rate, min_lr, warmup_steps, decay_steps)


_WHERE = "with learning_rate={lr:g}, min_lr={min_lr:g}, warmup_steps={warmup}, decay_steps={decay}: "

_LR = Catalogue(
    RAISED.with_example(lambda step, learning_rate, min_lr, warmup_steps, decay_steps:
                        cosine_schedule(step, learning_rate, min_lr, warmup_steps, decay_steps)),  # keyword-only
    Mistake("not_a_number", "at step {step} your function returned a {got}; return a number (a float)",
            example=lambda *args: str(_schedule(*args)), shows="return a number"),
    Mistake("warmup_divides_by_zero", "with warmup_steps=0 (no warmup at all) {error}. Divide by warmup_steps only "
                                      "inside the warmup branch, `if step < warmup_steps:`, which never runs then",
            example=_ramp_before_the_branch),
    Mistake("warmup_starts_at_zero", _WHERE + "at step 0 you return 0, so the first update does nothing. Step 0 is "
                                              "the first of {warmup} warmup steps: use learning_rate * (step + 1) / "
                                              "warmup_steps = {want:.3g}",
            example=_warmup_with(lambda step, warmup_steps: step / warmup_steps)),
    Mistake("wrong_warmup", _WHERE + "during warmup, at step {step}, the rate should be learning_rate * (step + 1) / "
                                     "warmup_steps = {want:.4g}, not {got:.4g}",
            example=_warmup_with(lambda step, warmup_steps: (step + 1) / (warmup_steps + 1))),
    Mistake("zero_after_decay", _WHERE + "after the decay (step {step} >= decay_steps) the rate should stay at "
                                         "min_lr = {min_lr:g}, not 0",
            example=_zero_after_decay),
    Mistake("not_min_lr_after_decay", _WHERE + "at step {step}, at or after decay_steps, the rate should be min_lr = "
                                               "{min_lr:g}, not {got:.4g}",
            example=lambda *args: _decay_with(*args, floor=False), shows="should be min_lr"),
    Mistake("decay_not_from_peak", _WHERE + "the decay starts from the peak: at step {step} (= warmup_steps) the "
                                            "rate should be learning_rate = {lr:g}, not {got:.4g}. Measure the "
                                            "progress from the end of the warmup: (step - warmup_steps) / "
                                            "(decay_steps - warmup_steps)",
            example=lambda *args: _decay_with(*args, from_step_0=True)),
    Mistake("cosine_to_zero", _WHERE + "your cosine ends at 0, but it should end at min_lr = {min_lr:g}: "
                                       "min_lr + 0.5 * (1 + cos(pi * progress)) * (learning_rate - min_lr)",
            example=lambda *args: _decay_with(*args, bottom=0.0)),
    Mistake("linear_decay", _WHERE + "at step {step} your rate falls in a straight line ({got:.4g}); the schedule "
                                     "follows half a cosine, which falls slowly at first: {want:.4g}",
            example=lambda *args: _decay_with(*args, curve=lambda progress: 1.0 - progress)),
    Mistake("wrong_decay", _WHERE + "at step {step} (in the decay, progress {progress:.2f}) the rate should be "
                                    "{want:.4g}, not {got:.4g}",
            example=lambda *args: _decay_with(*args, curve=lambda progress: math.cos(math.pi / 2 * progress))),
)


def _rate(value, step: int) -> float:
    rate = as_float(value)
    if rate is None:
        raise _LR.not_a_number.wrong(step=step, got=type(value).__name__)
    return rate


@exercise("06_training", "warmup_cosine_lr",
          "correct: a linear warmup to the peak, half a cosine down to min_lr, then min_lr for good.",
          signature="step, learning_rate, min_lr, warmup_steps, decay_steps", mistakes=_LR)
def check_warmup_cosine_lr(student) -> None:
    """Check ``student(step, learning_rate, min_lr, warmup_steps, decay_steps) -> lr`` against gptlib's
    ``cosine_schedule``."""
    for lr, min_lr, warmup, decay in _SCHEDULES:
        args = (lr, min_lr, warmup, decay)
        try:
            got = {s: _rate(call(student, s, *args), s) for s in range(decay + 20)}
        except Wrong as wrong:
            if warmup == 0 and wrong.student_raised("ZeroDivisionError"):
                raise _LR.warmup_divides_by_zero.wrong(error=wrong) from None
            raise
        where = dict(lr=lr, min_lr=min_lr, warmup=warmup, decay=decay)
        for s, value in got.items():
            want = _schedule(s, *args)
            if math.isclose(value, want, rel_tol=1e-6, abs_tol=1e-12):
                continue
            shown = dict(step=s, want=want, got=value, **where)
            if s < warmup:
                if s == 0 and value == 0:
                    raise _LR.warmup_starts_at_zero.wrong(**shown)
                raise _LR.wrong_warmup.wrong(**shown)
            if s >= decay:
                if math.isclose(value, 0.0, abs_tol=1e-12) and min_lr > 0:
                    raise _LR.zero_after_decay.wrong(**shown)
                raise _LR.not_min_lr_after_decay.wrong(**shown)
            # inside the decay
            if s == warmup:
                raise _LR.decay_not_from_peak.wrong(**shown)
            if min_lr > 0 and math.isclose(value, _LR.cosine_to_zero.example(s, *args), rel_tol=1e-6):
                raise _LR.cosine_to_zero.wrong(**shown)
            if math.isclose(value, _LR.linear_decay.example(s, *args), rel_tol=1e-6):
                raise _LR.linear_decay.wrong(**shown)
            raise _LR.wrong_decay.wrong(progress=(s - warmup) / (decay - warmup), **shown)


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


def _by_ndim(pairs) -> tuple[list, list]:
    """Split ``(name, parameter)`` pairs by ``ndim >= 2``, frozen ones included (the wrong answers' helper)."""
    pairs = list(pairs)
    return [n for n, p in pairs if p.ndim >= 2], [n for n, p in pairs if p.ndim < 2]


def _by_name(model):  # decide by the name: LayerNorm gains (".weight", 1-D) get decayed
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return [n for n in names if not n.endswith("bias")], [n for n in names if n.endswith("bias")]


def _linear_weights_only(model):  # decide by module type: embeddings and other matrices are missed
    decay = [f"{m}.weight" if m else "weight" for m, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    decay = [n for n in decay if n != "lm_head.weight"]
    return decay, [n for n, p in model.named_parameters() if p.requires_grad and n not in decay]


def _each_module_on_its_own(model):  # local names: every module's parameters are called "weight", "bias"
    pairs = [pair for module in model.modules() for pair in module.named_parameters(recurse=False)]
    return _by_ndim((n, p) for n, p in pairs if p.requires_grad)


def _norms_only_spared(model):  # no decay for LayerNorm parameters only: the Linear biases are left out
    decay, _ = decay_parameter_names(model)
    return decay, [n for n, p in model.named_parameters() if p.requires_grad and ".ln" in f".{n}" and p.ndim < 2]


def _everything_decayed(model):
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return names, decay_parameter_names(model)[1]


_SPLIT = Catalogue(
    RAISED.with_example(lambda model: _by_ndim(model.parameters())),  # parameters() yields tensors, not pairs
    Mistake("not_two_lists", "for {model}, return two lists, (decay_names, no_decay_names), not a {got}",
            example=lambda model: [n for n, _ in model.named_parameters()], shows="return two lists"),
    Mistake("not_a_list", "{which} is a {got}; return a list of parameter names",
            example=lambda model: tuple(map(set, decay_parameter_names(model)))),
    Mistake("tensors_not_names", "{which} holds tensors; return the parameter *names* (the strings from "
                                 "model.named_parameters())",
            example=lambda model: ([p for p in model.parameters() if p.ndim >= 2],
                                   [p for p in model.parameters() if p.ndim < 2])),
    Mistake("not_strings", "{which} must hold strings, the names from model.named_parameters()",
            example=lambda model: tuple([pair for pair in model.named_parameters() if pair[0] in names]
                                        for names in decay_parameter_names(model))),
    Mistake("listed_twice", "for {model}, your {label} list names {name!r} more than once",
            example=_each_module_on_its_own),
    Mistake("tied_weight_twice", "for {model}, you list 'lm_head.weight': it *is* 'wte.weight' (weight tying), one "
                                 "tensor under two names. Give it to the optimizer once: model.named_parameters() "
                                 "yields a shared tensor only once",
            example=lambda model: _by_ndim((n, p) for n, p in model.named_parameters(remove_duplicate=False)
                                           if p.requires_grad)),
    Mistake("unknown_name", "for {model}, {name!r} is not a parameter name of the model",
            example=lambda model: _by_ndim((n, p) for n, p in model.named_parameters(prefix="model")
                                           if p.requires_grad)),
    Mistake("frozen_listed", "for {model}, you list {name!r}, which has requires_grad=False: the optimizer never "
                             "updates it, so leave it out of both lists",
            example=lambda model: _by_ndim(model.named_parameters())),
    Mistake("left_out", "for {model}, {name!r} (shape {shape}) is in neither list; every trainable parameter goes in "
                        "exactly one",
            example=_norms_only_spared),
    Mistake("in_both_lists", "for {model}, {name!r} is in both lists", example=_everything_decayed),
    Mistake("vector_decayed", "for {model}, you decay {name!r}, shape {shape}: only tensors with 2 or more dimensions "
                              "(matrices) are decayed; a bias, a LayerNorm gain or a scalar is not",
            example=_by_name),
    Mistake("matrix_not_decayed", "for {model}, {name!r} has shape {shape}: a tensor with {ndim} dimensions, so it is "
                                  "decayed (decide by p.ndim >= 2, not by the module type or the name)",
            example=_linear_weights_only),
)


def _names(value, which: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise _SPLIT.not_a_list.wrong(which=which, got=type(value).__name__)
    if value and all(isinstance(v, torch.Tensor) for v in value):
        raise _SPLIT.tensors_not_names.wrong(which=which)
    if not all(isinstance(v, str) for v in value):
        raise _SPLIT.not_strings.wrong(which=which)
    return list(value)


@exercise("06_training", "weight_decay_groups",
          "correct: matrices decay; biases, LayerNorm gains and scalars do not; tied and frozen weights handled.",
          signature="model", mistakes=_SPLIT)
def check_weight_decay_groups(student) -> None:
    """Check ``student(model) -> (decay_names, no_decay_names)`` against gptlib's ``decay_parameter_names``."""
    for what_model, model in _split_cases():
        # What the model is before the student's function runs (it could freeze or replace parameters).
        want_decay, want_no_decay = map(set, decay_parameter_names(model))
        named = dict(model.named_parameters(remove_duplicate=False))
        trainable = {n: p.requires_grad for n, p in named.items()}
        shapes = {n: tuple(p.shape) for n, p in named.items()}
        result = call(student, model)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise _SPLIT.not_two_lists.wrong(model=what_model, got=type(result).__name__)
        decay = _names(result[0], "the first list (decay)")
        no_decay = _names(result[1], "the second list (no decay)")
        for names, label in ((decay, "decay"), (no_decay, "no-decay")):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise _SPLIT.listed_twice.wrong(model=what_model, label=label, name=repeated[0])
        everything = set(decay) | set(no_decay)
        if "lm_head.weight" in everything:
            raise _SPLIT.tied_weight_twice.wrong(model=what_model)
        unknown = sorted(everything - set(named))
        if unknown:
            raise _SPLIT.unknown_name.wrong(model=what_model, name=unknown[0])
        frozen = sorted(n for n in everything if not trainable[n])
        if frozen:
            raise _SPLIT.frozen_listed.wrong(model=what_model, name=frozen[0])
        missing = sorted((want_decay | want_no_decay) - everything)
        if missing:
            raise _SPLIT.left_out.wrong(model=what_model, name=missing[0], shape=shapes[missing[0]])
        both = sorted(set(decay) & set(no_decay))
        if both:
            raise _SPLIT.in_both_lists.wrong(model=what_model, name=both[0])
        wrongly_decayed = sorted(set(decay) - want_decay)
        if wrongly_decayed:
            n = wrongly_decayed[0]
            raise _SPLIT.vector_decayed.wrong(model=what_model, name=n, shape=shapes[n])
        not_decayed = sorted(want_decay - set(decay))
        if not_decayed:
            n = not_decayed[0]
            raise _SPLIT.matrix_not_decayed.wrong(model=what_model, name=n, shape=shapes[n],
                                                  ndim=len(shapes[n]))


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


def _copy(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Fresh parameters with the same values and a copy of each gradient (None stays None)."""
    copies = []
    for p in params:
        copy = p.detach().clone().requires_grad_()
        copy.grad = None if p.grad is None else p.grad.clone()
        copies.append(copy)
    return copies


def _norm(params) -> float:
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params if p.grad is not None))


def _scale_all(params, factor: float) -> None:
    for p in params:
        if p.grad is not None:
            p.grad.mul_(factor)


def _clip(params, max_norm):
    """Clipping done right (the wrong answers below get the rest wrong)."""
    total = _norm(params)
    if total > max_norm:
        _scale_all(params, max_norm / total)
    return total


def _clipped_each(params, max_norm):
    total = _norm(params)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(min(1.0, max_norm / float(p.grad.norm())))  # each tensor by its own norm
    return total


def _always_scaled(params, max_norm):
    total = _norm(params)
    _scale_all(params, max_norm / total)  # also when total <= max_norm: small gradients grow
    return total


def _norm_after(params, max_norm):
    _clip(params, max_norm)
    return _norm(params)


def _sum_of_norms(params, max_norm):
    total = sum(float(p.grad.norm()) for p in params if p.grad is not None)  # not the global norm
    if total > max_norm:
        _scale_all(params, max_norm / total)
    return total


def _scaled_a_copy(params, max_norm):
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


def _fills_none(params, max_norm):
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)  # a parameter without gradient now has one
    return _clip(params, max_norm)


def _clears_after(params, max_norm):
    total = _clip(params, max_norm)
    for p in params:
        p.grad = None  # as zero_grad(set_to_none=True) would
    return total


def _factor_upside_down(params, max_norm):
    total = _norm(params)
    if total > max_norm:
        _scale_all(params, total / max_norm)
    return total


_CLIP = Catalogue(
    RAISED.with_example(_crashes_on_none, "AttributeError"),
    Mistake("not_a_number", "return the total norm as a number (or a 0-d tensor), not a {got}",
            example=lambda params, max_norm: None),  # forgot the return
    Mistake("sum_of_norms", "{where}: you returned {got:.3f}, the sum of the tensors' norms. The global norm is the "
                            "norm of all gradients laid end to end: sqrt of the sum of every squared entry",
            example=_sum_of_norms),
    Mistake("norm_after_clipping", "{where}: you returned {got:.3f}, the norm after clipping; return the norm *before* "
                                   "clipping (the history plots it, to show how often clipping acts)",
            example=_norm_after),
    Mistake("wrong_norm", "{where}: you returned {got:.3f}; the total norm is {want:.3f}",
            example=lambda params, max_norm: _clip(params, max_norm) ** 2),  # no square root
    Mistake("gradient_made_up", "a parameter whose .grad is None must keep None (it got no gradient); skip it",
            example=_fills_none),
    Mistake("gradient_set_to_none", "you set a gradient to None; scale the gradients in place instead",
            example=_clears_after),
    Mistake("small_gradients_changed", "{where}: the gradients are already small enough, so they must stay as they "
                                       "are; yours changed (only scale *down*, when the norm exceeds max_norm)",
            example=_always_scaled),
    Mistake("gradients_unchanged", "{where}: the gradients did not change. Scale every p.grad in place "
                                   "(p.grad.mul_(max_norm / total_norm)), the way the optimizer will read them",
            example=_scaled_a_copy),
    Mistake("clipped_each_tensor", "{where}: you clipped each tensor by its own norm. Clipping by the global norm "
                                   "scales *all* gradients by the same factor, max_norm / total_norm, so their "
                                   "direction is kept",
            example=_clipped_each),
    Mistake("wrong_factor", "{where}: after clipping, the gradients should have total norm {max_norm} (every one "
                            "multiplied by max_norm / total_norm = {factor:.3f})",
            example=_factor_upside_down),
)


@exercise("06_training", "clip_grad_norm",
          "correct: one norm over all gradients together, scaled down only when above max_norm, in place.",
          signature="params, max_norm", mistakes=_CLIP)
def check_clip_grad_norm(student) -> None:
    """Check ``student(params, max_norm) -> total_norm`` against ``torch.nn.utils.clip_grad_norm_``."""
    for scale, max_norm, with_none in ((3.0, 1.0, False), (0.05, 1.0, False), (2.0, 0.5, True)):
        params = _grads_case(scale, with_none)
        before = [None if p.grad is None else p.grad.clone() for p in params]
        reference = _copy(params)  # torch's own clipping is the reference (gptlib's Trainer calls it too)
        want_norm = float(torch.nn.utils.clip_grad_norm_(reference, max_norm))
        sum_of_norms = _CLIP.sum_of_norms.example(_copy(params), max_norm)
        clipped_each = _copy(params)
        _CLIP.clipped_each_tensor.example(clipped_each, max_norm)
        norm = call(student, params, max_norm)
        if as_float(norm) is None:
            raise _CLIP.not_a_number.wrong(got=type(norm).__name__)
        norm = as_float(norm)
        shown = dict(where=f"with gradients of total norm {want_norm:.3f} and max_norm={max_norm}", got=norm,
                     want=want_norm, max_norm=max_norm, factor=max_norm / want_norm)
        if math.isclose(norm, sum_of_norms, rel_tol=1e-4) and not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise _CLIP.sum_of_norms.wrong(**shown)
        after_norm = _norm(params)  # what the student's own clipping left
        if want_norm > max_norm and math.isclose(norm, after_norm, rel_tol=1e-4) and \
                not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise _CLIP.norm_after_clipping.wrong(**shown)
        if not math.isclose(norm, want_norm, rel_tol=1e-4):
            raise _CLIP.wrong_norm.wrong(**shown)
        for p, r, b, alone in zip(params, reference, before, clipped_each):
            if b is None:
                if p.grad is not None:
                    raise _CLIP.gradient_made_up.wrong()
                continue
            if p.grad is None:
                raise _CLIP.gradient_set_to_none.wrong()
            if torch.allclose(p.grad, r.grad, rtol=1e-5, atol=1e-7):
                continue
            if want_norm <= max_norm:
                raise _CLIP.small_gradients_changed.wrong(**shown)
            if torch.equal(p.grad, b):
                raise _CLIP.gradients_unchanged.wrong(**shown)
            if torch.allclose(p.grad, alone.grad, rtol=1e-4, atol=1e-7):
                raise _CLIP.clipped_each_tensor.wrong(**shown)
            raise _CLIP.wrong_factor.wrong(**shown)
