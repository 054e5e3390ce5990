"""Asking a model: continue every prompt of a task, keep the answer, score it.

A GPT's :func:`~gptlib.generation.generate` continues a rectangular batch ``(B, T)``: every prompt of a
batch has the same number of tokens. Task prompts do not ("words: five = digits: " is shorter than
"words: seven hundred and eighty-three = digits: "), so :func:`complete` groups the prompts by length,
continues each group in batches, stops a row at the end marker :data:`~gptlib.tasks.formats.END`, and
returns the answers in the order of the prompts, each cut by :func:`~gptlib.tasks.formats.cut_answer`.

- :func:`complete`         prompts -> answers (greedy, or sampled with a seeded CPU generator)
- :func:`answer_examples`  examples -> the model's answers to their prompts
- :func:`evaluate_task`    examples -> a :class:`~gptlib.tasks.metrics.Score` (exact match and chrF)
- :func:`can_express`      whether a tokenizer has every character of some examples

>>> import torch
>>> from gptlib.model import GPT, GPTConfig
>>> from gptlib.tokenizers import CharTokenizer
>>> from gptlib.tasks import alphabet, words_to_digits_example
>>> examples = [words_to_digits_example(n) for n in (5, 783)]
>>> tok = CharTokenizer(alphabet(examples))
>>> _ = torch.manual_seed(0)
>>> model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=1, n_embd=8))
>>> answers = answer_examples(model, tok, examples)     # an untrained model: nonsense, but one per prompt
>>> len(answers), all(isinstance(a, str) for a in answers)
(2, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..device import model_device
from ..evaluation import evaluating, positive_int
from ..generation import generate
from .formats import END, Example, _check_examples, cut_answer
from .metrics import Score, score_task

__all__ = ["complete", "answer_examples", "evaluate_task", "can_express", "ANSWER_SLACK"]

#: :func:`answer_examples` lets the model write this many tokens more than the longest right answer.
ANSWER_SLACK = 8


def _encode(tokenizer, prompt: str, i: int) -> list[int]:
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"complete: prompt {i} must be a non-empty str, got {prompt!r}")
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as err:
        raise ValueError(f"complete: prompt {i} ({prompt[:40]!r}) cannot be encoded by this tokenizer: {err}") from err
    if not ids:
        raise ValueError(f"complete: prompt {i} ({prompt!r}) encodes to no tokens")
    return list(ids)


@torch.no_grad()
def complete(model, tokenizer, prompts: Sequence[str], max_new_tokens: int, *, temperature: float = 0.0,
             top_k: int | None = None, generator: torch.Generator | None = None, batch_size: int = 256) -> list[str]:
    """Continue every prompt by at most ``max_new_tokens`` tokens; return each answer, up to :data:`END`.

    Args:
        model: a :class:`~gptlib.model.GPT` (put in eval mode for the call, then restored).
        tokenizer: its tokenizer (``encode``/``decode``); a prompt it cannot encode is a ``ValueError``.
        prompts: the prompts, any lengths.
        max_new_tokens: the most tokens each answer may have; a row stops early at :data:`END`.
        temperature: ``0`` (default) is greedy decoding, the same answers on every run; above 0 samples.
        top_k: keep only the ``k`` most likely tokens when sampling (``None``: all).
        generator: a CPU ``torch.Generator`` for sampling; ``None`` draws from torch's default one.
        batch_size: prompts continued together (of one length).

    Returns one string per prompt, in order: the continuation up to and including the first :data:`END`
    (all of it when the model never wrote one).
    """
    prompts = list(prompts)
    max_new_tokens = positive_int("max_new_tokens", max_new_tokens)
    batch_size = positive_int("batch_size", batch_size)
    encoded = [_encode(tokenizer, p, i) for i, p in enumerate(prompts)]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    device = model_device(model)
    answers: list[str | None] = [None] * len(prompts)
    with evaluating(model):
        for length in sorted(by_length):
            order = by_length[length]
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                idx = torch.tensor([encoded[i] for i in rows], dtype=torch.long).to(device)
                out = generate(model, idx, max_new_tokens, temperature=temperature, top_k=top_k, stop=END,
                               tokenizer=tokenizer, generator=generator)
                for i, row in zip(rows, out[:, length:].tolist()):
                    answers[i] = cut_answer(tokenizer.decode([t for t in row if t >= 0]))
    return answers  # type: ignore[return-value]


def answer_examples(model, tokenizer, examples: Sequence[Example], max_new_tokens: int | None = None,
                    **settings) -> list[str]:
    """The model's answers to the examples' prompts (:func:`complete`; ``settings`` are passed on).

    ``max_new_tokens=None`` allows the longest right answer, in tokens, plus :data:`ANSWER_SLACK`:
    enough room to be right, and to be wrong at some length, without generating forever.
    """
    examples = _check_examples(examples, "answer_examples")
    if max_new_tokens is None:
        max_new_tokens = max((len(tokenizer.encode(ex.answer)) for ex in examples), default=1) + ANSWER_SLACK
    return complete(model, tokenizer, [ex.prompt for ex in examples], max_new_tokens, **settings)


def evaluate_task(model, tokenizer, examples: Sequence[Example], *, confidence: float = 0.95, seed: int = 0,
                  **settings) -> Score:
    """Answer every example (:func:`answer_examples`) and score the answers against the right ones.

    Returns a :class:`~gptlib.tasks.metrics.Score`: exact match with its Wilson interval, mean chrF
    with a bootstrap interval (``seed`` seeds the bootstrap), and n.
    """
    examples = _check_examples(examples, "evaluate_task")
    predictions = answer_examples(model, tokenizer, examples, **settings)
    return score_task(predictions, [ex.answer for ex in examples], confidence=confidence, seed=seed)


def can_express(tokenizer, examples: Sequence[Example]) -> bool:
    """Whether ``tokenizer`` has every character of every example's text (prompt and answer).

    The Shakespeare reference model's 65 characters have no Chinese, and only one digit:

    >>> from gptlib.tokenizers import CharTokenizer
    >>> from gptlib.tasks import translate_en_zh_example
    >>> can_express(CharTokenizer("abc \\n"), [translate_en_zh_example(1)])
    False
    """
    examples = _check_examples(examples, "can_express")
    known = set(tokenizer.chars)
    return all(set(ex.text) <= known for ex in examples)
