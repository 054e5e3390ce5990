"""Exercise 1 of notebook 06_training: the learning-rate schedule, linear warmup then half a cosine."""

from __future__ import annotations

import math

from ...train import cosine_schedule
from .._core import RAISED, Catalogue, Mistake, Wrong, as_float, call, exercise

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
