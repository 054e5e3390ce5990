"""Every exercise: its solution passes its checker; every mistake in its checker's catalogue is rejected
with its own message; its notebook's stub, its solution and its checker agree on its signature.

The wrong answers of a catalogue live next to their checker (``checker.mistakes``, see
gptlib/exercises/_core.py); tests/wrong_answers/<notebook>.py adds the few that are no catalogue's
example, such as answers that write into their inputs.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gptlib.exercises
from gptlib.exercises import EXERCISES, Feedback
from gptlib.exercises._core import NOT_CALLABLE, parse_signature

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def _load(path: Path, prefix: str):
    """Import a file whose name starts with a digit (notebook-named), under a unique module name."""
    spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution(exercise_id: str):
    notebook, name = exercise_id.split(".")
    return getattr(_load(SOLUTIONS / f"{notebook}.py", "solutions"), name)


def _more_wrong_answers() -> dict:
    """Merge the WRONG tables of tests/wrong_answers/<notebook>.py: {exercise id: [(fn, message piece)]}."""
    merged = {}
    for path in sorted((Path(__file__).parent / "wrong_answers").glob("[0-9]*.py")):
        merged.update(_load(path, "wrong").WRONG)
    return merged


MORE_WRONG = _more_wrong_answers()
MISTAKES = [(exercise_id, mistake.id) for exercise_id, checker in EXERCISES.items() for mistake in checker.mistakes]


def _mistake(exercise_id: str, mistake_id: str):
    return getattr(EXERCISES[exercise_id].mistakes, mistake_id)


def test_every_exercise_is_importable_and_has_a_catalogue():
    assert set(MORE_WRONG) <= set(EXERCISES)
    for exercise_id, checker in EXERCISES.items():
        name = exercise_id.split(".")[1]
        assert getattr(gptlib.exercises, f"check_{name}") is checker, f"check_{name} not importable from gptlib.exercises"
        assert len(checker.mistakes) >= 3, f"{exercise_id} explains too few mistakes"


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_solution_passes(exercise_id):
    feedback = EXERCISES[exercise_id](solution(exercise_id))
    assert isinstance(feedback, Feedback)
    assert feedback.passed, feedback.message
    assert feedback.mistake is None
    assert repr(feedback).startswith(f"✅ {exercise_id}: correct")


@pytest.mark.parametrize("exercise_id, mistake_id", MISTAKES)
def test_catalogued_mistake_is_rejected_with_its_own_message(exercise_id, mistake_id):
    mistake = _mistake(exercise_id, mistake_id)
    feedback = EXERCISES[exercise_id](mistake.example)
    assert not feedback.passed and feedback.attempted
    assert (feedback.mistake, mistake.explains(feedback.message)) == (mistake_id, True), feedback.message
    if mistake.shows is not None:
        assert mistake.shows in feedback.message, feedback.message
    assert repr(feedback).startswith("❌")


@pytest.mark.parametrize("exercise_id, index", [(e, i) for e, wrongs in MORE_WRONG.items() for i in range(len(wrongs))])
def test_more_wrong_answers_are_rejected_with_a_catalogued_reason(exercise_id, index):
    wrong, reason = MORE_WRONG[exercise_id][index]
    feedback = EXERCISES[exercise_id](wrong)
    assert not feedback.passed and feedback.attempted
    assert reason in feedback.message, feedback.message
    assert _mistake(exercise_id, feedback.mistake).explains(feedback.message), feedback.message


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_unattempted_stub_is_told_so(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError

    feedback = EXERCISES[exercise_id](stub)
    assert not feedback.passed and not feedback.attempted
    assert repr(feedback).startswith(f"⏳ {exercise_id}: not attempted yet")
    not_a_function = EXERCISES[exercise_id]("not a function")
    assert not not_a_function.passed and not_a_function.mistake == NOT_CALLABLE.id
    assert NOT_CALLABLE.explains(not_a_function.message)


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
    checker = EXERCISES[exercise_id]
    wrongs = [mistake.example for mistake in checker.mistakes] + [wrong for wrong, _ in MORE_WRONG.get(exercise_id, [])]
    first = [checker(wrong).message for wrong in wrongs]
    again = [checker(wrong).message for wrong in wrongs]
    assert first == again
    assert checker(solution(exercise_id)).passed


# ------------------------------------------------------------------ the stub, the solution, the checker


def _code_cells(notebook: str) -> list[ast.Module]:
    """The parsed code cells of ``notebooks/<notebook>.ipynb`` (IPython's %magic and !shell lines left out)."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    parsed = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
            parsed.append(ast.parse("\n".join(lines)))
    return parsed


def _is_stub(node: ast.AST) -> bool:
    """A ``def`` whose body raises NotImplementedError: an exercise the student has to fill in."""
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement) for statement in node.body)


def _stubs(notebook: str) -> dict[str, tuple[ast.FunctionDef, ast.Module]]:
    """The exercise stubs of a notebook by name, each with the cell it stands in."""
    found = {}
    for cell in _code_cells(notebook):
        for node in cell.body:
            if _is_stub(node):
                assert node.name not in found, f"two stubs named {node.name} in {notebook}"
                found[node.name] = (node, cell)
    return found


def _parameters(signature: inspect.Signature) -> list[tuple]:
    """Name, kind and default of each parameter: a signature without its annotations."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_stub_solution_and_checker_agree_on_the_signature(exercise_id):
    notebook, name = exercise_id.split(".")
    stubs = _stubs(notebook)
    assert name in stubs, f"{notebook}.ipynb has no stub `def {name}(...): raise NotImplementedError`"
    stub, cell = stubs[name]
    checks = [ast.unparse(node) for node in ast.walk(cell) if isinstance(node, ast.Call)
              and ast.unparse(node.func) == f"check_{name}"]
    assert checks == [f"check_{name}({name})"], f"the stub's cell should call check_{name}({name})"
    declared = EXERCISES[exercise_id].signature
    assert _parameters(parse_signature(ast.unparse(stub.args))) == _parameters(declared), "notebook stub vs checker"
    assert _parameters(inspect.signature(solution(exercise_id))) == _parameters(declared), "solution vs checker"


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_checker_calls_the_signature_it_declares(exercise_id):
    checker, right = EXERCISES[exercise_id], solution(exercise_id)
    calls = []

    def spy(*args, **kwargs):
        calls.append(checker.signature.bind(*args, **kwargs))  # TypeError if called any other way
        return right(*args, **kwargs)

    feedback = checker(spy)
    assert feedback.passed, feedback.message
    assert calls


@pytest.mark.parametrize("notebook", sorted(path.stem for path in NOTEBOOKS.glob("[0-9]*.ipynb")))
def test_every_stub_in_a_notebook_has_a_checker(notebook):
    assert {f"{notebook}.{name}" for name in _stubs(notebook)} <= set(EXERCISES)
