"""Generating text with a trained GPT: logits processors, sampling, greedy decoding, beam search, and the KV cache.

A language model gives, for every prefix, scores (logits) for the token that comes next. Generating
is a loop: score the sequence so far, pick a token, append it, repeat. This package is that loop and
the pieces that make it useful and fast, in the order the notebook builds them:

- :func:`apply_repetition_penalty`, :func:`apply_temperature`, :func:`top_k_filter`,
  :func:`top_p_filter`  reshape the scores before a token is picked; :func:`process_logits` applies
  them in the same order as Hugging Face ``transformers`` (penalty, temperature, top-k, top-p)
- :class:`KVCache`            every layer's keys and values of the past positions, so that each step
  computes attention for the new token only
- :func:`next_token_logits`   scores for the next token of a sequence, with or without a cache
- :func:`decode_step`         one token per row through the model with the cache: the fast inner step
- :func:`generate`            sampling (or greedy decoding with ``temperature=0``), stop strings, batches
- :func:`stream`              the same, yielding the new tokens as they are chosen
- :func:`beam_search`         keep the ``num_beams`` most likely continuations instead of one
- :class:`GenerationSettings` what ``generate`` and ``stream`` are asked to do, each setting described once
- :func:`tokens_per_second`   how fast a model generates, measured one way for every model card

Where each lives (import from ``gptlib.generation`` itself; the modules are for reading):

- ``sampling``         the logits processors and the pick of a token (argmax or a draw)
- ``kv_cache``         :class:`KVCache`, :class:`KVCacheLayer`, :func:`next_token_logits`
- ``fast_step``        :func:`decode_step`: one token through the model as one function over its weights
- ``threaded_linear``  a big matrix product split between threads, for ``decode_step`` on a CPU
- ``settings``         :class:`GenerationSettings`, the prompt check, :data:`PAD_TOKEN_ID`
- ``decoding``         :func:`generate` and :func:`stream`: the loop
- ``beams``            :func:`beam_search`
- ``speed``            :func:`tokens_per_second`

Shapes: ``B`` batch (rows), ``T`` tokens so far, ``V`` vocabulary, ``L`` layers, ``nh`` heads,
``hs`` head size, ``S`` = ``block_size``.

**Why a KV cache.** Without one, every step runs the whole sequence through the model again, although
only the last position's scores are used: step ``t`` costs ``t`` positions, so ``n`` new tokens cost
about ``n**2 / 2`` positions' work. But in a causal model the keys and values of a past position never
change when tokens are added after it (it cannot see them). So the first call ("prefill") runs the
prompt once and stores every layer's keys and values; each later step runs only the one new token,
appends its key and value, and lets its query attend to everything stored. Position embeddings
are added at the token's absolute position (``cache.length``), so the result is the same as running
the whole sequence.

**Past the context window.** The model has ``block_size`` position embeddings. Once the sequence is
longer, only its last ``block_size`` tokens are given to the model (the window slides). Every token
in the window then sits at a new position, one to the left, and since position embeddings enter the
keys and values of every layer, the whole cache is stale: it is rebuilt by running the window
through the model again. Past ``block_size`` each step therefore costs a full forward pass, with or
without the cache, and both paths give the same logits. (Models with relative positions, such as
RoPE, can slide the cache instead; GPT-2's learned absolute positions cannot.)

**Randomness.** Tokens are drawn with :func:`torch.multinomial` from a CPU ``torch.Generator`` (the
probabilities are moved to the CPU for the draw; ``generator=None`` uses torch's default CPU
generator, seeded by ``torch.manual_seed``). The same seed therefore gives the same text on a CPU
and on a GPU, up to float rounding in the model itself.

**Global state.** A generation call leaves torch's thread count, grad and inference modes, the
environment and the signal handlers as it found them; the only global state it changes is the
default generator's, and only when it samples with ``generator=None``.

Generation does not change the model's train/eval mode: call ``model.eval()`` first, otherwise
dropout is applied.
"""

from gptlib.generation.beams import beam_search
from gptlib.generation.decoding import generate, stream
from gptlib.generation.fast_step import decode_step
from gptlib.generation.kv_cache import KVCache, KVCacheLayer, next_token_logits
from gptlib.generation.sampling import (
    apply_repetition_penalty,
    apply_temperature,
    process_logits,
    top_k_filter,
    top_p_filter,
)
from gptlib.generation.settings import PAD_TOKEN_ID, GenerationSettings
from gptlib.generation.speed import Speed, tokens_per_second

__all__ = [
    "Speed",
    "tokens_per_second",
    "apply_repetition_penalty",
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
    "process_logits",
    "KVCache",
    "KVCacheLayer",
    "next_token_logits",
    "decode_step",
    "generate",
    "stream",
    "beam_search",
    "PAD_TOKEN_ID",
    "GenerationSettings",
]
