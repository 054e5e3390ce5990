"""gptlib and Hugging Face ``transformers``: the same models and tokenizers on both sides.

- :func:`hf_config`          GPTConfig -> ``GPT2Config``
- :func:`config_from_hf`     ``GPT2Config`` -> GPTConfig, refusing what gptlib cannot represent
- :func:`to_hf`              GPT -> ``GPT2LMHeadModel`` with the same weights
- :func:`from_hf`            ``GPT2LMHeadModel`` -> GPT with the same weights
- :func:`char_tokenizer_to_hf`  CharTokenizer -> a ``PreTrainedTokenizerFast`` with the same ids
- :func:`pretrained_gpt2`    OpenAI's GPT-2 from the hub when the network is there, else ``None`` and why
- :func:`few_shot_prompt`    solved examples, one per line, then a question: GPT-2's few-shot prompting
- :func:`text_generation_pipeline`  a ``pipeline("text-generation")`` from a folder or the hub, else ``None`` and why
- :func:`pipeline_answers`   a pipeline's greedy answers to task examples, cut at the end marker

The modules, one job each (import from ``gptlib.hf`` itself):

- ``models``      the configuration and weight conversions (Conv1D transposes, the ``transformer.`` prefix)
- ``tokenizers``  gptlib's character tokenizer built from the ``tokenizers`` library's parts
- ``hub``         fetching a pretrained GPT-2, offline-first
- ``prompting``   the series' task formats on a pretrained model through the ``text-generation`` pipeline

A byte-level BPE tokenizer goes across as GPT-2's own two files:
:func:`gptlib.tokenizers.gpt2_files.write_gpt2_files`, then ``GPT2Tokenizer(vocab=..., merges=...)``.

``transformers`` is imported only when a function here is called, so ``import gptlib`` stays fast and
works without it.
"""

from gptlib.hf.hub import MODEL_FILES, TOKENIZER_FILES, Pretrained, pretrained_gpt2
from gptlib.hf.models import (
    CONV1D_SUFFIXES,
    config_from_hf,
    from_hf,
    hf_config,
    hf_key,
    to_hf,
)
from gptlib.hf.prompting import REMOVED_TASKS, TextGenerator, few_shot_prompt, pipeline_answers
from gptlib.hf.prompting import text_generation_pipeline
from gptlib.hf.tokenizers import UNKNOWN_TOKEN, char_tokenizer_to_hf

__all__ = [
    "CONV1D_SUFFIXES",
    "MODEL_FILES",
    "TOKENIZER_FILES",
    "UNKNOWN_TOKEN",
    "Pretrained",
    "REMOVED_TASKS",
    "TextGenerator",
    "char_tokenizer_to_hf",
    "config_from_hf",
    "few_shot_prompt",
    "from_hf",
    "hf_config",
    "hf_key",
    "pipeline_answers",
    "pretrained_gpt2",
    "text_generation_pipeline",
    "to_hf",
]
