"""Non-neural baselines: what a task's score is worth without a model.

A score means little alone: 40% exact match is good if guessing gives 1%, and poor if always giving
the most common answer gives 38%. Two baselines that need no training beyond counting:

- :func:`most_common_answer`  every test example gets the answer most common in training
- :func:`copy_input`          every test example gets its own input copied (the prompt's content)

>>> from gptlib.tasks import words_to_digits_example, summarize_example
>>> train = [words_to_digits_example(n) for n in (1, 2, 2)]
>>> most_common_answer(train, [words_to_digits_example(5)])
['2\\n']
>>> copy_input([summarize_example("It rained in Oslo.", "Oslo, rainy")])
['It rained in Oslo.\\n']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .formats import END, Example, _check_examples

__all__ = ["most_common_answer", "copy_input", "input_of"]

# What each format puts around its input: "<task>: " before it, and " = <...>: ", " question: " or " TL;DR: " after.
_INPUT = re.compile(r"^[a-z]+: (.*?)(?: = [a-z]+: | question: .*| TL;DR: )$")


def most_common_answer(train: Sequence[Example], test: Sequence[Example]) -> list[str]:
    """For every test example, the answer most frequent among ``train`` (ties: the one seen first).

    Only the training answers are counted, never the test ones: the baseline knows what a model would.
    """
    train = _check_examples(train, "most_common_answer")
    test = _check_examples(test, "most_common_answer")
    if not train:
        raise ValueError("most_common_answer needs at least one training example, got none")
    counts = Counter(ex.answer for ex in train)  # a Counter keeps first-seen order among equal counts
    best = counts.most_common(1)[0][0]
    return [best] * len(test)


def input_of(example: Example) -> str:
    """The input inside an example's prompt: the text between ``"<task>: "`` and the format's cue.

    >>> from gptlib.tasks import translate_en_zh_example, qa_example
    >>> input_of(translate_en_zh_example(21))
    'twenty-one'
    >>> input_of(qa_example("Ada Lin is a baker in Oslo, aged 34.", "how old is Ada Lin?", "34"))
    'Ada Lin is a baker in Oslo, aged 34.'
    """
    if not isinstance(example, Example):
        raise TypeError(f"input_of: expected an Example, got {type(example).__name__}")
    match = _INPUT.match(example.prompt)
    if match is None:
        raise ValueError(f"input_of: {example.prompt!r} is not in one of the task formats of gptlib.tasks.formats")
    return match.group(1)


def copy_input(test: Sequence[Example]) -> list[str]:
    """For every test example, its own input (:func:`input_of`) as the answer, ended by :data:`END`.

    For summarizing this is the "lead" baseline, the whole report as its own summary; for translating,
    answering the English words themselves.
    """
    return [input_of(ex) + END for ex in _check_examples(test, "copy_input")]
