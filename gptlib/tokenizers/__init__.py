"""Tokenizers: turn text into a list of integer ids and back.

Two tokenizers, from the simplest to GPT-2's:

- :class:`CharTokenizer` gives every distinct character of a training text one id. Tiny
  vocabulary, long sequences, and it cannot encode a character it has not seen.
- :class:`BPETokenizer` is a byte-level byte-pair encoder, the scheme GPT-2 uses. It can encode
  any text (every string is a sequence of UTF-8 bytes, and the 256 byte values are the first
  256 tokens), and it learns *merges* that glue frequent neighbouring tokens into new tokens.

Byte-level BPE in four steps (the notebook builds each one by hand, then calls the functions here):

1. :func:`pretokenize` splits the text into chunks with :data:`GPT2_SPLIT_PATTERN`: words with
   their leading space, runs of digits, runs of punctuation, runs of whitespace. Merges never
   cross a chunk boundary, so "dog." and "dog!" share the token for "dog".
2. Each chunk becomes its UTF-8 bytes, one token per byte.
3. Training counts neighbouring pairs (:func:`get_pair_counts`), replaces the most frequent pair
   everywhere with a new token (:func:`merge`), and repeats until the vocabulary is big enough.
4. Encoding new text applies the learned merges in the order they were learned.

Everything here is plain Python plus the ``regex`` package (for the ``\\p{L}`` letter classes in
GPT-2's split pattern).

The modules, one job each:

- ``building_blocks``  :data:`GPT2_SPLIT_PATTERN`, :data:`ENDOFTEXT`, :func:`pretokenize`,
  :func:`get_pair_counts`, :func:`merge`
- ``char``             :class:`CharTokenizer`
- ``bpe``              :class:`BPETokenizer`: encoding and decoding (and the choices
  worth knowing: tie rule, special tokens, invalid UTF-8, error messages)
- ``parts``            what a :class:`BPETokenizer` is made of, and the check that the parts fit
- ``training``         learning the merges, the work behind :meth:`BPETokenizer.train`
- ``gpt2_files``       :func:`bytes_to_unicode` and reading GPT-2's ``vocab.json`` + ``merges.txt``
- ``saved_files``      the JSON files that ``save`` writes and ``load`` reads (their layout)

>>> tok = BPETokenizer.train("hug hugs hugged", vocab_size=260)   # 3 merges: h+u, hu+g, space+hug
>>> [tok.decode([i]) for i in tok.encode(" hugs")]
[' hug', 's']
"""

from .bpe import BPETokenizer
from .building_blocks import ENDOFTEXT, GPT2_SPLIT_PATTERN, get_pair_counts, merge, pretokenize
from .char import CharTokenizer
from .gpt2_files import bytes_to_unicode

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "ENDOFTEXT",
    "pretokenize",
    "get_pair_counts",
    "merge",
    "bytes_to_unicode",
    "CharTokenizer",
    "BPETokenizer",
]
