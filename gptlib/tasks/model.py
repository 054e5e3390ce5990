"""The series' task model: one small character-level GPT trained on all five tasks at once.

- :data:`TRAIN_SIZES`, :data:`TEST_SIZE`, :data:`SEED`, :data:`SPLIT`  the data it was trained on
- :func:`task_model_data`   one task's ``(train, test)`` examples, exactly those of its training
- :func:`task_model_text`   the training text: every task's training examples, shuffled, one per line
- :func:`task_model_chars`  the characters of its tokenizer
- :func:`load_task_model`   ``(model, tokenizer)``, after checking both files' SHA-256

Training it takes longer than a notebook may (``tools/train_task_model.py``, deterministic, one thread),
so it is committed with the package in ``gptlib/tasks/tasks-char/`` (model card: ``README.md`` there)
and hash-checked like the reference model (:mod:`gptlib.reference`). It was trained on the
**compositional** split of every task: its test examples are combinations of parts it saw in
training, never the combinations themselves (:mod:`gptlib.tasks.make`).

>>> train, test = task_model_data("words_to_digits")
>>> len(train), len(test), TEST_SIZE
(700, 200, 200)
>>> set(task_model_text()) <= set(task_model_chars())
True
"""

from __future__ import annotations

import random
from pathlib import Path

from ..reference import load_committed_model
from .formats import Example, alphabet, training_text
from .make import TASKS, make_task

__all__ = [
    "TASK_MODEL_DIR",
    "TRAIN_SIZES",
    "REPEATS",
    "TEST_SIZE",
    "SEED",
    "SPLIT",
    "MODEL_SHA256",
    "TOKENIZER_SHA256",
    "task_model_data",
    "task_model_text",
    "task_model_chars",
    "load_task_model",
]

#: The folder of the files, inside the installed package (not in ``gptlib/models/``: the store of notebook 09
#: publishes every model there, and this one is not a Shakespeare model).
TASK_MODEL_DIR = Path(__file__).resolve().parent / "tasks-char"
#: Training examples per task. The number tasks have 1,000 items in all; dates and reports many more.
TRAIN_SIZES = {"translate_en_zh": 700, "words_to_digits": 700, "dates": 3000, "qa": 1400, "summarize": 3000}
#: How many times each training example is in the training text: question answering (finding a name in
#: the context and copying what follows it) is learned last, so its examples are given twice.
REPEATS = {"translate_en_zh": 1, "words_to_digits": 1, "dates": 1, "qa": 2, "summarize": 1}
TEST_SIZE = 200  # held-out examples per task
SEED = 0
SPLIT = "compositional"

# Printed by tools/train_task_model.py; change them only when the model is retrained on purpose.
MODEL_SHA256 = "504f9aaa8c65cfb25b67ccb76443c88d5a286b43aab78cbe2dda101ff61c4514"
TOKENIZER_SHA256 = "fa768701f5b7c290f3eaa14d97fcb1412ffa2915365f8d073f632df548c59eb7"
_TOOL = "tools/train_task_model.py"


def task_model_data(task: str) -> tuple[list[Example], list[Example]]:
    """``(train, test)`` of ``task``: the examples the task model trained on, and its held-out ones."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return make_task(task, TRAIN_SIZES[task], TEST_SIZE, seed=SEED, split=SPLIT)


def task_model_text() -> str:
    """Every task's training examples (each :data:`REPEATS` times), shuffled with ``random.Random(SEED)``, one per line."""
    examples = [ex for task in TASKS for ex in task_model_data(task)[0] * REPEATS[task]]
    random.Random(SEED).shuffle(examples)
    return training_text(examples)


def task_model_chars() -> str:
    """The tokenizer's characters: those of every task's train and test examples, sorted."""
    return alphabet(ex for task in TASKS for part in task_model_data(task) for ex in part)


def load_task_model(device=None):
    """The task model and its tokenizer, ``(model, tokenizer)``, after checking both files' SHA-256.

    ``device=None`` means :func:`gptlib.device.get_device`. The model is in eval mode; a file that is
    missing or not the committed one raises :class:`~gptlib.reference.ReferenceModelError` naming it.
    """
    return load_committed_model(TASK_MODEL_DIR, MODEL_SHA256, TOKENIZER_SHA256, tool=_TOOL,
                                module="gptlib/tasks/model.py", device=device)
