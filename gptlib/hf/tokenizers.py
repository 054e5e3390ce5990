"""gptlib's tokenizers as Hugging Face ``transformers`` tokenizers.

(Import these from :mod:`gptlib.hf`; this module is for reading.)

- :func:`char_tokenizer_to_hf`   a :class:`~gptlib.tokenizers.CharTokenizer` -> a ``PreTrainedTokenizerFast``
  that gives every text the same ids

A byte-level :class:`~gptlib.tokenizers.BPETokenizer` needs no converter: it is GPT-2's scheme, so it
goes across as GPT-2's two files (:func:`gptlib.tokenizers.gpt2_files.write_gpt2_files`), which
``transformers.GPT2Tokenizer(vocab=..., merges=...)`` reads.

A character tokenizer is not one of ``transformers``' built-in kinds, but the ``tokenizers`` library
(the Rust engine under every "fast" ``transformers`` tokenizer) assembles one from parts:

- no *normalizer*: the text is not changed first (no lower-casing, no Unicode normalization);
- a *pre-tokenizer* that splits the text into single characters, ``[\\s\\S]`` (any character,
  newlines included; the regex engine's ``.`` skips newlines);
- a *word-level model*: a fixed table from each piece (here one character) to its id;
- no *post-processor*, so no special tokens are added around the ids;
- a *decoder* that joins the characters back without spaces (``Fuse``; the word-level default would
  put a space between every two tokens).

>>> from gptlib.tokenizers import CharTokenizer
>>> hf = char_tokenizer_to_hf(CharTokenizer("\\n abc"))
>>> hf("cab\\n")["input_ids"], hf.decode([4, 2, 3, 0])
([4, 2, 3, 0], 'cab\\n')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gptlib.hf.models import _transformers

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from transformers import PreTrainedTokenizerFast

    from gptlib.tokenizers import CharTokenizer

__all__ = ["UNKNOWN_TOKEN", "char_tokenizer_to_hf"]

#: The name the word-level model is given for a character outside the vocabulary. It is not in the
#: vocabulary, so encoding such a character fails ("Missing [UNK] token from the vocabulary"),
#: as :meth:`CharTokenizer.encode` fails, instead of silently encoding it as some other id.
UNKNOWN_TOKEN = "[UNK]"

# Any one character: \S is every character that is not whitespace, \s every one that is.
_ONE_CHARACTER = r"[\s\S]"


def char_tokenizer_to_hf(tokenizer: CharTokenizer) -> PreTrainedTokenizerFast:
    """A ``transformers.PreTrainedTokenizerFast`` that encodes and decodes exactly as ``tokenizer``.

    ``hf(text)["input_ids"] == tokenizer.encode(text)`` for every text of the vocabulary's characters,
    and ``hf.decode(ids) == tokenizer.decode(ids)`` (``clean_up_tokenization_spaces`` is off, so no space
    before punctuation is removed). It has no special tokens (no padding, no end of text), and adds
    none. Its ``save_pretrained(folder)`` writes ``tokenizer.json`` and ``tokenizer_config.json``;
    ``AutoTokenizer.from_pretrained(folder)`` reads them back.

    A character outside the vocabulary cannot be encoded: the ``tokenizers`` library raises an
    ``Exception`` whose message names :data:`UNKNOWN_TOKEN`. ``TypeError`` if ``tokenizer`` is not a
    :class:`~gptlib.tokenizers.CharTokenizer`.
    """
    from gptlib.tokenizers import CharTokenizer

    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"expected a gptlib CharTokenizer, got {type(tokenizer).__name__}")
    transformers = _transformers()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {ch: i for i, ch in enumerate(tokenizer.chars)}
    engine = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNKNOWN_TOKEN))
    engine.pre_tokenizer = pre_tokenizers.Split(Regex(_ONE_CHARACTER), behavior="isolated")
    engine.decoder = decoders.Fuse()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=engine, clean_up_tokenization_spaces=False)
