"""Prompt formats: every task as text, the way GPT-2 was prompted for tasks.

A task example is a prompt and its answer; ``prompt + answer`` is the training text, and at test
time the model is given the prompt and asked to continue it. The formats, one per task:

====================  ==============================================================  ===============
task                  prompt                                                          answer
====================  ==============================================================  ===============
``translate_en_zh``   ``english: twenty-one = chinese: ``                             ``二十一\\n``
``words_to_digits``   ``words: twenty-one = digits: ``                                ``21\\n``
``dates``             ``date: the third of March, 1997 = iso: ``                      ``1997-03-03\\n``
``qa``                ``context: … question: how old is Ada Lin? answer: ``           ``34\\n``
``summarize``         ``report: … TL;DR: ``                                           ``Oslo, …, 21C\\n``
====================  ==============================================================  ===============

**The end marker.** Every answer ends with one newline, :data:`END`, and neither the prompt nor the
rest of the answer contains one. A model trained on :func:`training_text` (one example per line)
learns to stop by writing ``"\\n"``; :func:`cut_answer` keeps what it wrote up to and including it.

>>> ex = translate_en_zh_example(21)
>>> ex.prompt + ex.answer
'english: twenty-one = chinese: 二十一\\n'
>>> cut_answer("二十一\\nenglish: five")
'二十一\\n'
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from .dates import date_words
from .numbers import chinese_words, english_words

__all__ = [
    "END",
    "Example",
    "translate_en_zh_example",
    "words_to_digits_example",
    "dates_example",
    "qa_example",
    "summarize_example",
    "training_text",
    "alphabet",
    "cut_answer",
]

END = "\n"  # ends every answer: the model's "I am done"


@dataclass(frozen=True)
class Example:
    """One task example: the model continues ``prompt``; ``answer`` (ending with :data:`END`) is right.

    >>> Example("demo", "2+2= ", "4\\n").text
    '2+2= 4\\n'
    >>> Example("demo", "2+2= ", "4")
    Traceback (most recent call last):
    ...
    ValueError: Example: answer must end with '\\n' (the end marker) and hold no other, got '4'
    """

    task: str
    prompt: str
    answer: str

    def __post_init__(self) -> None:
        for name in ("task", "prompt", "answer"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Example: {name} must be a str, got {type(getattr(self, name)).__name__}")
        if not self.prompt or END in self.prompt:
            raise ValueError(f"Example: prompt must be non-empty and hold no {END!r}, got {self.prompt!r}")
        if not self.answer.endswith(END) or END in self.answer[: -len(END)]:
            raise ValueError(
                f"Example: answer must end with {END!r} (the end marker) and hold no other, got {self.answer!r}"
            )

    @property
    def text(self) -> str:
        """The training text: ``prompt + answer``."""
        return self.prompt + self.answer


def translate_en_zh_example(n: int) -> Example:
    """English number words to Chinese ones (the article's English -> Chinese example).

    >>> translate_en_zh_example(305).text
    'english: three hundred and five = chinese: 三百零五\\n'
    """
    return Example("translate_en_zh", f"english: {english_words(n)} = chinese: ", chinese_words(n) + END)


def words_to_digits_example(n: int) -> Example:
    """English number words to digits.

    >>> words_to_digits_example(305).text
    'words: three hundred and five = digits: 305\\n'
    """
    return Example("words_to_digits", f"words: {english_words(n)} = digits: ", f"{n}{END}")


def dates_example(date: datetime.date) -> Example:
    """A date in words to its ISO form.

    >>> dates_example(datetime.date(1997, 3, 3)).text
    'date: the third of March, 1997 = iso: 1997-03-03\\n'
    """
    return Example("dates", f"date: {date_words(date)} = iso: ", date.isoformat() + END)


def qa_example(context: str, question: str, answer: str) -> Example:
    """Question answering over a context.

    >>> qa_example("Ada Lin is a baker in Oslo, aged 34.", "how old is Ada Lin?", "34").text
    'context: Ada Lin is a baker in Oslo, aged 34. question: how old is Ada Lin? answer: 34\\n'
    """
    return Example("qa", f"context: {context} question: {question} answer: ", answer + END)


def summarize_example(report: str, summary: str) -> Example:
    """Summarization, prompted with "TL;DR:" as GPT-2 was.

    >>> summarize_example("It rained in Oslo.", "Oslo, rainy").text
    'report: It rained in Oslo. TL;DR: Oslo, rainy\\n'
    """
    return Example("summarize", f"report: {report} TL;DR: ", summary + END)


def _check_examples(examples: Iterable[Example], who: str) -> list[Example]:
    examples = list(examples)
    for i, ex in enumerate(examples):
        if not isinstance(ex, Example):
            raise TypeError(f"{who}: item {i} is a {type(ex).__name__}, not an Example")
    return examples


def training_text(examples: Iterable[Example]) -> str:
    """The training text: every ``prompt + answer``, one after the other (one example per line).

    >>> training_text([words_to_digits_example(1), words_to_digits_example(2)])
    'words: one = digits: 1\\nwords: two = digits: 2\\n'
    """
    return "".join(ex.text for ex in _check_examples(examples, "training_text"))


def alphabet(examples: Iterable[Example]) -> str:
    """Every character of the examples' texts, sorted by code point: the chars of a CharTokenizer.

    >>> alphabet([words_to_digits_example(1)])   # the characters of 'words: one = digits: 1\\n'
    '\\n 1:=deginorstw'
    """
    return "".join(sorted(set(training_text(_check_examples(examples, "alphabet")))))


def cut_answer(continuation: str) -> str:
    """The model's answer: its continuation up to and including the first :data:`END` (all of it if none).

    >>> cut_answer("305\\nwords: two"), cut_answer("30")
    ('305\\n', '30')
    """
    if not isinstance(continuation, str):
        raise TypeError(f"cut_answer: continuation must be a str, got {type(continuation).__name__}")
    end = continuation.find(END)
    return continuation if end < 0 else continuation[: end + len(END)]
