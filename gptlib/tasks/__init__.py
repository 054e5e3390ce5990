"""Tasks as text: generated data and prompt formats for one small GPT trained on several tasks.

Translation, question answering and summarization, each framed as a prompt the model continues,
the way GPT-2 was prompted ("english: … = chinese: ", "context: … question: … answer: ",
"report: … TL;DR: "). The data is generated, deterministic (same seed, same data) and small enough
for a character-level GPT on a CPU; each task has a random and a compositional train/test split.

The modules, one job each:

- ``numbers``  English and Chinese number words for 0..9999, and their parsers:
  :func:`english_words`, :func:`chinese_words`, :func:`parse_english`, :func:`parse_chinese`
- ``dates``    dates in words and ISO dates: :func:`date_words`, :func:`parse_date_words`,
  :func:`words_to_iso`, :func:`all_dates`, :func:`random_dates`
- ``facts``    a table of fictional people and questions about it: :class:`Person`,
  :func:`fact_table`, :func:`describe`, :func:`question`, :func:`answer`, :func:`qa_triple`
- ``reports``  weather reports and their TL;DR: :class:`Weather`, :func:`report`, :func:`summary`,
  :func:`all_weather`
- ``formats``  the prompt formats: :class:`Example`, one ``*_example`` function per task,
  :data:`END`, :func:`training_text`, :func:`alphabet`, :func:`cut_answer`
- ``splits``   :func:`random_split`, :func:`compositional_split` (held-out combinations of seen parts)
- ``make``     :data:`TASKS`, :data:`SPLITS`, :func:`task_size`, :func:`make_task`
- ``metrics``  scoring answers: :func:`exact_match` with its :func:`wilson_interval`, :func:`chrf`
  (sacrebleu) with a :func:`bootstrap_interval`, :func:`score_task`, :func:`table`
- ``answers``  asking a model: :func:`complete` (prompts of any lengths, batched), :func:`answer_examples`,
  :func:`evaluate_task`, :func:`can_express`
- ``baselines`` without a model: :func:`most_common_answer`, :func:`copy_input`
- ``model``    the committed task model, trained on all five tasks: :func:`load_task_model`,
  :func:`task_model_data`

>>> train, test = make_task("translate_en_zh", n_train=100, n_test=10, seed=0, split="compositional")
>>> test[0].prompt.startswith("english: ") and test[0].answer.endswith(END)
True
>>> from gptlib.tokenizers import CharTokenizer
>>> tok = CharTokenizer(alphabet(train + test))
>>> tok.decode(tok.encode(training_text(train))) == training_text(train)
True
"""

from .answers import answer_examples, can_express, complete, evaluate_task
from .baselines import copy_input, input_of, most_common_answer
from .dates import MONTHS, all_dates, date_words, ordinal_words, parse_date_words, random_dates, words_to_iso
from .facts import FIELDS, Person, answer, describe, fact_table, qa_triple, question
from .formats import (
    END,
    Example,
    alphabet,
    cut_answer,
    dates_example,
    qa_example,
    summarize_example,
    training_text,
    translate_en_zh_example,
    words_to_digits_example,
)
from .make import NUMBER_RANGE, SPLITS, TASKS, YEAR_RANGE, make_task, task_size
from .model import TASK_MODEL_DIR, load_task_model, task_model_chars, task_model_data, task_model_text
from .metrics import Score, bootstrap_interval, chrf, exact_match, score_task, table, wilson_interval
from .numbers import MAX_NUMBER, chinese_words, english_words, parse_chinese, parse_english
from .reports import Weather, all_weather, report, summary
from .splits import compositional_split, random_split

__all__ = [
    # numbers
    "MAX_NUMBER",
    "english_words",
    "chinese_words",
    "parse_english",
    "parse_chinese",
    # dates
    "MONTHS",
    "ordinal_words",
    "date_words",
    "parse_date_words",
    "words_to_iso",
    "all_dates",
    "random_dates",
    # facts
    "FIELDS",
    "Person",
    "fact_table",
    "describe",
    "question",
    "answer",
    "qa_triple",
    # reports
    "Weather",
    "report",
    "summary",
    "all_weather",
    # formats
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
    # splits and tasks
    "random_split",
    "compositional_split",
    "TASKS",
    "SPLITS",
    "NUMBER_RANGE",
    "YEAR_RANGE",
    "task_size",
    "make_task",
    # metrics
    "exact_match",
    "wilson_interval",
    "chrf",
    "bootstrap_interval",
    "Score",
    "score_task",
    "table",
    # answers and baselines
    "complete",
    "answer_examples",
    "evaluate_task",
    "can_express",
    "most_common_answer",
    "copy_input",
    "input_of",
    # the task model
    "TASK_MODEL_DIR",
    "task_model_data",
    "task_model_text",
    "task_model_chars",
    "load_task_model",
]
