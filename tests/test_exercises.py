"""Every exercise: its solution passes its checker, and its checker rejects wrong answers with a
message that says what is wrong."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gptlib.exercises import EXERCISES, Feedback, check_smoothed_bigram_probs

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def solution(exercise_id: str):
    notebook, name = exercise_id.split(".")
    path = SOLUTIONS / f"{notebook}.py"
    spec = importlib.util.spec_from_file_location(f"solutions_{notebook}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


# Wrong answers each checker must reject, with a piece of the message the student must see.
WRONG = {
    "00_welcome.smoothed_bigram_probs": [
        (lambda c, a: (c + a) / (c + a).sum(dim=0, keepdim=True), "your columns sum to 1, not your rows"),
        (lambda c, a: (c.float() + a) / c.float().sum(dim=-1, keepdim=True).clamp(min=1),
         "your weights do not sum to 1 along the last axis: row 3 sums to 4.000"),
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1) if a == 0
         else (c.float() + 1) / (c.float() + 1).sum(dim=-1, keepdim=True),
         "with alpha=0.5, row 0 should be [0.062, 0.688, 0.188, 0.062] but is [0.100, 0.600, 0.200, 0.100]"),
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1), "sums to 0.000"),
        (lambda c, a: c // c.sum(-1, keepdim=True).clamp(min=1), "returned dtype torch.int64"),
        (lambda c, a: c.float().add_(a).div_(c.float().add_(a).sum(-1, keepdim=True)).tolist(), "returned a list"),
        (lambda c, a: c.add_(0).float()[:2], "returned shape (2, 4), expected (4, 4)"),
        (lambda c, a: c.div_(c.sum(-1, keepdim=True)), "raised RuntimeError"),
        (lambda c, a: c.float() / 0, "inf or nan"),
    ],
}


def mutating(c, a):
    c += 1
    return c.float() / c.float().sum(dim=-1, keepdim=True)


WRONG["00_welcome.smoothed_bigram_probs"].append((mutating, "changed `counts` in place"))


def test_every_exercise_has_a_solution_and_wrong_answers():
    assert set(EXERCISES) == set(WRONG)
    assert check_smoothed_bigram_probs is EXERCISES["00_welcome.smoothed_bigram_probs"]


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_solution_passes(exercise_id):
    feedback = EXERCISES[exercise_id](solution(exercise_id))
    assert isinstance(feedback, Feedback)
    assert feedback.passed, feedback.message
    assert repr(feedback).startswith(f"✅ {exercise_id}: correct")


@pytest.mark.parametrize("exercise_id, index", [(e, i) for e, wrongs in WRONG.items() for i in range(len(wrongs))])
def test_wrong_answer_is_rejected_with_a_reason(exercise_id, index):
    wrong, reason = WRONG[exercise_id][index]
    feedback = EXERCISES[exercise_id](wrong)
    assert not feedback.passed and feedback.attempted
    assert reason in feedback.message, feedback.message
    assert repr(feedback).startswith("❌")


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_unattempted_stub_is_told_so(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError

    feedback = EXERCISES[exercise_id](stub)
    assert not feedback.passed and not feedback.attempted
    assert repr(feedback).startswith(f"⏳ {exercise_id}: not attempted yet")
    assert not EXERCISES[exercise_id]("not a function").passed


@given(st.lists(st.lists(st.integers(0, 50), min_size=5, max_size=5), min_size=5, max_size=5),
       st.floats(0.01, 10))
def test_smoothing_solution_is_a_distribution_for_any_counts(rows, alpha):
    probs = solution("00_welcome.smoothed_bigram_probs")(torch.tensor(rows), alpha)
    torch.testing.assert_close(probs.sum(-1), torch.ones(5))
    assert (probs > 0).all()
