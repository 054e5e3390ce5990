"""Every exercise: its solution passes its checker, and its checker rejects wrong answers with a
message that says what is wrong."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gptlib.exercises
from gptlib.exercises import EXERCISES, Feedback

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def _load(path: Path, prefix: str):
    """Import a file whose name starts with a digit (notebook-named), under a unique module name."""
    spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution(exercise_id: str):
    notebook, name = exercise_id.split(".")
    return getattr(_load(SOLUTIONS / f"{notebook}.py", "solutions"), name)


def _wrong_answers() -> dict:
    """Merge the WRONG tables of tests/wrong_answers/<notebook>.py: {exercise id: [(fn, message piece)]}."""
    merged = {}
    for path in sorted((Path(__file__).parent / "wrong_answers").glob("[0-9]*.py")):
        merged.update(_load(path, "wrong").WRONG)
    return merged


WRONG = _wrong_answers()


def test_every_exercise_has_a_solution_and_wrong_answers():
    assert set(EXERCISES) == set(WRONG)
    for exercise_id, checker in EXERCISES.items():
        name = exercise_id.split(".")[1]
        assert getattr(gptlib.exercises, f"check_{name}") is checker, f"check_{name} not importable from gptlib.exercises"


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


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_wrong_answers_cannot_damage_the_checker(exercise_id):
    """A student's function that writes into its inputs must not change the checker's test cases:
    every verdict is the same the second time round."""
    first = [EXERCISES[exercise_id](wrong).message for wrong, _ in WRONG[exercise_id]]
    again = [EXERCISES[exercise_id](wrong).message for wrong, _ in WRONG[exercise_id]]
    assert first == again
    assert EXERCISES[exercise_id](solution(exercise_id)).passed
