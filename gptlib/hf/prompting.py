"""The series' prompt formats on a pretrained model, through ``transformers``' ``text-generation`` pipeline.

(Import these from :mod:`gptlib.hf`; this module is for reading.)

- :func:`few_shot_prompt`           k solved examples, one per line, then the question: GPT-2's few-shot prompting
- :func:`text_generation_pipeline`  a ``pipeline("text-generation")`` from a local folder, or from the hub
  when it answers, else ``None`` and the reason (:func:`~gptlib.hf.hub.pretrained_gpt2` does the asking)
- :func:`pipeline_answers`          a pipeline's greedy answers to some examples, cut at the end marker,
  ready for :func:`~gptlib.tasks.metrics.score_task` as the series' own model's answers are
- :data:`REMOVED_TASKS`             the task pipelines ``transformers`` 5 no longer has

**Why text generation only.** ``transformers`` 4 had one pipeline per application: ``"translation"``,
``"summarization"``, ``"question-answering"``, ``"text2text-generation"``. ``transformers`` 5 removed
them (``pipeline("summarization")`` raises a ``KeyError`` that says to use ``"text-generation"``
instead), so a task is asked for the way GPT-2's paper asked: as a prompt the model continues
("english: … = chinese: ", "report: … TL;DR: "). ``tests/test_hf_prompting.py`` checks the list
against the installed ``transformers.pipelines.SUPPORTED_TASKS``.

A model that was never trained on a format can still be shown it: a few solved examples before the
question (*few-shot prompting*). Answers end at the first ``"\\n"``, as the series' own answers do, so
the same metrics score both.

>>> from gptlib.tasks import words_to_digits_example
>>> shots = [words_to_digits_example(n) for n in (3, 40)]
>>> print(few_shot_prompt(shots, words_to_digits_example(12)) + "…")
words: three = digits: 3
words: forty = digits: 40
words: twelve = digits: …
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch

from gptlib.hf.hub import pretrained_gpt2
from gptlib.hf.models import _transformers
from gptlib.tasks.answers import ANSWER_SLACK
from gptlib.tasks.formats import END, Example, _check_examples, cut_answer

__all__ = ["REMOVED_TASKS", "TASK", "TextGenerator", "few_shot_prompt", "pipeline_answers",
           "text_generation_pipeline"]

#: The one pipeline task used here: continue a text.
TASK = "text-generation"
#: Task pipelines of ``transformers`` 4 that ``transformers`` 5 removed (``"translation_xx_to_yy"`` with
#: ``"translation"``); a prompt to ``"text-generation"`` does their jobs.
REMOVED_TASKS = ("translation", "summarization", "question-answering", "text2text-generation")

#: The files a local folder's tokenizer can be read from: a fast tokenizer's, or GPT-2's two.
_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))


def _check_shots(shots: Sequence[Example], who: str) -> list[Example]:
    if isinstance(shots, (Example, str)):
        raise TypeError(f"{who}: shots must be a sequence of Examples, got one {type(shots).__name__}")
    return _check_examples(shots, f"{who}: shots")


def few_shot_prompt(shots: Sequence[Example], query: Example) -> str:
    """The solved ``shots`` (each ``prompt + answer``, one per line), then ``query``'s prompt alone.

    With no shots it is the query's prompt (zero-shot). A shot with the query's own prompt would
    hand the model its answer, so it is refused:

    >>> from gptlib.tasks import dates_example
    >>> import datetime
    >>> day = dates_example(datetime.date(2001, 2, 3))
    >>> few_shot_prompt([], day) == day.prompt
    True
    >>> few_shot_prompt([day], day)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: few_shot_prompt: shot 0 is the query itself ('date: the third of February, 2001 = iso: '): it ...
    """
    shots = _check_shots(shots, "few_shot_prompt")
    if not isinstance(query, Example):
        raise TypeError(f"few_shot_prompt: query must be an Example, got {type(query).__name__}")
    for i, shot in enumerate(shots):
        if shot.prompt == query.prompt:
            raise ValueError(f"few_shot_prompt: shot {i} is the query itself ({query.prompt!r}): "
                             f"it would give the answer away")
    return "".join(shot.text for shot in shots) + query.prompt  # every text ends with END: one per line


class TextGenerator(NamedTuple):
    """What :func:`text_generation_pipeline` built: the pipeline, or ``None`` and ``reason`` why not."""

    pipeline: Any  # a transformers TextGenerationPipeline, or None
    reason: str | None  # why there is none; None when there is one
    folder: Path | None  # where the model's files are (the folder given, or a snapshot folder of the cache)

    @property
    def available(self) -> bool:
        return self.reason is None


def _local_tokenizer(folder: Path):
    for files in _TOKENIZER_FILES:
        if all((folder / f).is_file() for f in files):
            return _transformers().AutoTokenizer.from_pretrained(folder)
    wanted = " or ".join(" + ".join(files) for files in _TOKENIZER_FILES)
    raise FileNotFoundError(f"{folder} has no tokenizer: it needs {wanted}")


def text_generation_pipeline(model_name_or_path: str | os.PathLike = "gpt2", *, device: Any = None,
                             **hub_options) -> TextGenerator:
    """A ``transformers`` ``pipeline("text-generation")`` for a GPT-2, if one can be had.

    Args:
        model_name_or_path: a local folder (``config.json``, ``model.safetensors`` and a tokenizer:
            ``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``), used with no network at
            all; or a model on the hub (``"gpt2"``, ``"owner/name"``), fetched by
            :func:`~gptlib.hf.hub.pretrained_gpt2`: one quick request, then the hub or the local cache.
        device: where the pipeline runs (``"cpu"``, ``"cuda"``, ...); ``None`` leaves the model where
            it was loaded, on the CPU.
        hub_options: passed to :func:`~gptlib.hf.hub.pretrained_gpt2` for a hub name: ``revision``,
            ``cache_dir``, ``endpoint``, ``timeout_s`` (5 s by default).

    Returns a :class:`TextGenerator`. When the hub does not answer and the files are not in the
    cache, its ``pipeline`` is ``None`` and ``reason`` says so, within ``timeout_s``; nothing is
    raised, so a notebook cell can print the reason and go on. Errors that are not about the network
    are raised (a folder without the files: ``FileNotFoundError``; a name the hub does not have).
    Only safetensors weights are read; no random generator or global setting is changed.

    >>> import tempfile
    >>> found = text_generation_pipeline("gpt2", endpoint="http://127.0.0.1:9", cache_dir=tempfile.mkdtemp(),
    ...                                  timeout_s=1)
    >>> found.available, found.pipeline, found.reason.startswith("'gpt2' is not available: the hub at")
    (False, None, True)
    """
    if Path(model_name_or_path).is_dir():
        if hub_options:
            raise TypeError(f"text_generation_pipeline: {', '.join(sorted(hub_options))} only apply to a hub "
                            f"name, not to the local folder {model_name_or_path}")
        folder = Path(model_name_or_path)
        tokenizer = _local_tokenizer(folder)  # first: a folder without a tokenizer fails before loading weights
        found = pretrained_gpt2(folder, tokenizer=False)
    else:
        found = pretrained_gpt2(model_name_or_path, **hub_options)
        if not found.available:
            return TextGenerator(None, found.reason, None)
        tokenizer = found.tokenizer
    generator = _transformers().pipeline(TASK, model=found.model, tokenizer=tokenizer, device=device)
    return TextGenerator(generator, None, found.folder)


@functools.cache
def _stop_at_end_class():
    """A ``transformers.StoppingCriteria`` that ends a row once its newest token holds :data:`END`.

    (The pipeline's own ``stop_sequence`` needs a tokenizer that can encode ``"abcdef"``, which a character
    tokenizer of digits cannot.)"""

    class StopAtEnd(_transformers().StoppingCriteria):
        def __init__(self, tokenizer):
            self.tokenizer = tokenizer

        def __call__(self, input_ids, scores, **kwargs):  # input_ids (B, T): the prompt and the tokens so far
            newest = input_ids[:, -1].tolist()
            return torch.tensor([END in self.tokenizer.decode([t]) for t in newest], device=input_ids.device)

    return StopAtEnd


def _generation_options(generator) -> dict:
    """Greedy decoding of the new text only, stopping at the end marker; a pad id where GPT-2 has none."""
    stop = _transformers().StoppingCriteriaList([_stop_at_end_class()(generator.tokenizer)])
    options = {"do_sample": False, "return_full_text": False, "stopping_criteria": stop}
    if generator.tokenizer.pad_token_id is None:
        eos = generator.model.generation_config.eos_token_id
        if eos is not None:  # GPT-2 pads with its end of text (a character model has neither)
            options["pad_token_id"] = eos[0] if isinstance(eos, list) else eos
    return options


def pipeline_answers(generator, examples: Sequence[Example], shots: Sequence[Example] = (),
                     max_new_tokens: int | None = None) -> list[str]:
    """The pipeline's greedy answers to the examples, each asked as :func:`few_shot_prompt` ``(shots, example)``.

    Args:
        generator: a ``transformers`` ``pipeline("text-generation", ...)`` (e.g.
            ``text_generation_pipeline(...).pipeline``, or one built from a model in memory).
        examples: the questions; their answers are not shown to the model.
        shots: the solved examples put before every question (``()``: zero-shot).
        max_new_tokens: the most tokens an answer may have; ``None`` allows the longest right answer,
            in the pipeline's tokens, plus :data:`~gptlib.tasks.answers.ANSWER_SLACK` (as
            :func:`~gptlib.tasks.answers.answer_examples` does).

    Decoding is greedy (``do_sample=False``), so the answers are the same on every run (and torch's random
    generators are left as they were, though ``generate`` draws from them even when greedy); each row
    stops at the end marker :data:`~gptlib.tasks.formats.END` and is cut there by
    :func:`~gptlib.tasks.formats.cut_answer`. Returns one string per example, in order.
    ``ValueError`` if a prompt plus its answer would not fit in the model's context.
    """
    if getattr(generator, "task", None) != TASK:
        task = f" for {generator.task!r}" if hasattr(generator, "task") else ""
        raise TypeError(f"pipeline_answers: generator must be a transformers pipeline({TASK!r}, ...), got "
                        f"{type(generator).__name__}{task}")
    examples = _check_examples(examples, "pipeline_answers")
    shots = _check_shots(shots, "pipeline_answers")  # a list: an iterator would be used up by the first prompt
    tokenizer = generator.tokenizer

    def n_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    if max_new_tokens is None:
        max_new_tokens = max((n_tokens(ex.answer) for ex in examples), default=1) + ANSWER_SLACK
    elif isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"pipeline_answers: max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    prompts = [few_shot_prompt(shots, ex) for ex in examples]
    context = getattr(generator.model.config, "n_positions", None)
    if context is not None:
        for i, prompt in enumerate(prompts):
            if n_tokens(prompt) + max_new_tokens > context:
                raise ValueError(f"pipeline_answers: example {i}'s prompt has {n_tokens(prompt)} tokens; with "
                                 f"{max_new_tokens} new ones that is more than the model's context of {context} "
                                 f"tokens (use fewer or shorter shots)")
    device = torch.device(generator.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # generate() draws, even greedy
        options = _generation_options(generator)
        # One prompt per call: a list would go through a DataLoader, which sets TOKENIZERS_PARALLELISM in os.environ.
        outputs = [generator(prompt, max_new_tokens=max_new_tokens, **options) for prompt in prompts]
    return [cut_answer(out[0]["generated_text"]) for out in outputs]  # one sequence per prompt
