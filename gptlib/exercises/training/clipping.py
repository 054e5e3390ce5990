"""Exercise 3 of notebook 06_training: clipping the gradients by their global norm."""

from __future__ import annotations

import math

import torch

from .._core import RAISED, Catalogue, Mistake, as_float, call, exercise


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
