"""Generating text with a trained GPT: logits processors, sampling, greedy decoding, beam search, and the KV cache.

A language model gives, for every prefix, scores (logits) for the token that comes next. Generating
is a loop: score the sequence so far, pick a token, append it, repeat. This module is that loop and
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

Generation does not change the model's train/eval mode: call ``model.eval()`` first, otherwise
dropout is applied.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.model import GPT

__all__ = [
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
]

#: Filler written after a row has finished (hit a stop string) while other rows go on. It is not a
#: token id, so it cannot be mistaken for text; it equals ``gptlib.model.IGNORE_INDEX``.
PAD_TOKEN_ID = -1


# ----------------------------------------------------------------------------- argument checks
# Each check raises ValueError naming the argument, the value and what is allowed. They run once per
# call, before any work, so a typo fails at once rather than after a long prefill.


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_penalty(penalty) -> None:
    if not _is_number(penalty) or not penalty > 0 or math.isinf(penalty):
        raise ValueError(
            f"repetition_penalty must be a finite number > 0 (1.0 = no penalty, > 1 discourages repeats), "
            f"got {penalty!r}"
        )


def _check_temperature(temperature, allow_zero: bool) -> None:
    ok = _is_number(temperature) and math.isfinite(temperature)
    ok = ok and (temperature >= 0 if allow_zero else temperature > 0)
    if not ok:
        if allow_zero:
            allowed = "a finite number >= 0 (0 = greedy)"
        else:
            allowed = "a finite number > 0 (for greedy decoding use temperature=0 in generate)"
        raise ValueError(f"temperature must be {allowed}, got {temperature!r}")


def _check_top_k(top_k) -> None:
    if not _is_int(top_k) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1 (or None for no top-k filter), got {top_k!r}")


def _check_top_p(top_p) -> None:
    if not _is_number(top_p) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1] (or None for no top-p filter), got {top_p!r}")


# ----------------------------------------------------------------------------- logits processors
# Each takes logits of shape (B, V) and returns new ones of the same shape; the input is not modified.
# A token is removed by setting its logit to -inf: softmax then gives it probability exactly 0.


def apply_repetition_penalty(logits: torch.Tensor, idx: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make tokens that already occur in ``idx`` less likely (``penalty > 1``) or more likely (``< 1``).

    Every token that appears anywhere in row ``b`` of ``idx`` (prompt and generated text alike, each
    counted once however often it appears) gets its logit moved towards "unlikely": a positive logit
    is divided by ``penalty``, a negative one multiplied by it. (Dividing a negative logit would
    raise it, which is why the two signs are treated differently.) This is the CTRL paper's penalty
    (Keskar et al., 2019), as in ``transformers``' ``RepetitionPenaltyLogitsProcessor``.

    Args:
        logits: ``(B, V)`` scores for the next token.
        idx: ``(B, T)`` token ids seen so far.
        penalty: ``> 0``; ``1.0`` changes nothing.
    """
    _check_penalty(penalty)
    seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)  # (B, V)
    seen.scatter_(1, idx, True)  # seen[b, idx[b, t]] = True for every t
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)  # (B, V)
    return torch.where(seen, penalized, logits)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature > 0``: below 1 sharpens the distribution, above 1 flattens it.

    ``softmax(z / τ)``: as ``τ -> 0`` all probability goes to the largest logit (greedy decoding,
    which :func:`generate` does for ``temperature=0``); as ``τ -> ∞`` the distribution becomes uniform.
    """
    _check_temperature(temperature, allow_zero=False)
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep only the ``k`` largest logits of each row; the rest become ``-inf``.

    Tokens tied with the ``k``-th largest logit are all kept. ``k`` larger than the vocabulary keeps
    everything. Cuts off the long tail of unlikely tokens, each rare on its own but together likely
    enough to derail a sample now and then.
    """
    _check_top_k(k)
    k = min(k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al., 2019): keep the most likely tokens that cover probability ``p``.

    Unlike top-k, the number of tokens kept adapts: a confident distribution keeps few, a flat one
    many. Computed from the unlikely end: sort each row from least to most likely and add up the
    probabilities; the tokens whose running total is still ``<= 1 - p`` are removed (they carry at
    most ``1 - p`` of the mass together). The most likely token is always kept. This formulation,
    including the order of the float sums, is the one ``transformers``' ``TopPLogitsWarper`` uses, so
    both remove exactly the same tokens. ``p = 1`` keeps every token of non-zero probability.
    """
    _check_top_p(p)
    sorted_logits, order = torch.sort(logits, dim=-1, descending=False)  # (B, V) least likely first
    running_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
    drop_sorted = running_mass <= 1 - p
    drop_sorted[..., -1] = False  # the most likely token always stays
    drop = torch.empty_like(drop_sorted).scatter_(1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def process_logits(
    logits: torch.Tensor,
    idx: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
) -> torch.Tensor:
    """All processors in ``transformers``' order: repetition penalty, temperature, top-k, top-p.

    Steps that would change nothing (``penalty=1``, ``temperature=1``, ``top_k=None``,
    ``top_p=None`` or ``1``) are skipped. ``temperature=0`` (greedy) skips temperature, top-k and
    top-p: the most likely token survives them all, so greedy decoding picks the same token anyway.
    The order matters: top-p after temperature measures the mass of the *tempered* distribution.
    """
    if repetition_penalty != 1.0:
        logits = apply_repetition_penalty(logits, idx, repetition_penalty)
    if temperature == 0:
        return logits
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return logits


# ----------------------------------------------------------------------------- the KV cache


class KVCacheLayer:
    """One layer's part of a :class:`KVCache`: what :class:`~gptlib.attention.CausalSelfAttention` sees.

    ``k`` and ``v`` are views of the cache's buffers, ``(B, nh, max_len, hs)``; positions
    ``0 .. cache.length - 1`` are filled.
    """

    __slots__ = ("cache", "k", "v")

    def __init__(self, cache: KVCache, layer: int):
        self.cache = cache
        self.k = cache.k[layer]  # (B, nh, max_len, hs), a view: writes go into the cache's buffer
        self.v = cache.v[layer]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new positions' keys and values ``(B, nh, T, hs)``; return all so far ``(B, nh, T_past + T, hs)``.

        The new entries go right after the ``cache.length`` stored ones, written in place into the
        preallocated buffer; the returned tensors are views of it, so nothing is copied. The cache's
        ``length`` is advanced by the model once every layer has written (all layers write the same
        positions).
        """
        start = self.cache.length
        end = start + k.size(2)
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]


class KVCache:
    """Keys and values of the past positions of every layer, for generation one token at a time.

    Two buffers, keys and values, each ``(L, B, nh, max_len, hs)``, allocated once at full size
    (``torch.empty``, nothing is zeroed) and filled from the left: ``length`` positions are valid.
    ``layers[l]`` (a :class:`KVCacheLayer`) is what block ``l``'s attention reads and appends to.
    Writing in place into a buffer of fixed size means a generation step allocates no cache memory
    and copies only the new token's keys and values; growing tensors with ``torch.cat`` would copy
    the whole cache every step.

    ``start`` records where the cached window begins in the full token sequence (0 until the
    sequence outgrows ``block_size``); :func:`next_token_logits` uses it to decide what is new.

    Size: ``2 * L * B * S * C`` numbers, e.g. 75 MB for GPT-2 small at ``B=1, S=1024`` in float32.
    """

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        head_size: int,
        max_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        for name, value in (("n_layer", n_layer), ("batch_size", batch_size), ("n_head", n_head),
                            ("head_size", head_size), ("max_len", max_len)):  # fmt: skip
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        shape = (n_layer, batch_size, n_head, max_len, head_size)
        self.k = torch.empty(shape, device=device, dtype=dtype)  # (L, B, nh, max_len, hs)
        self.v = torch.empty(shape, device=device, dtype=dtype)  # (L, B, nh, max_len, hs)
        self.length = 0  # number of valid positions
        self.start = 0  # position in the full sequence of the first cached token
        self.layers = [KVCacheLayer(self, i) for i in range(n_layer)]
        self._plan = None  # what decode_step reads, for the model this cache serves (see _step_plan)

    @classmethod
    def for_model(cls, model: GPT, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty cache for ``model`` (its sizes, device and dtype), room for ``max_len <= block_size`` positions."""
        c = model.config
        max_len = c.block_size if max_len is None else max_len
        if not _is_int(max_len) or not 1 <= max_len <= c.block_size:
            raise ValueError(f"max_len must be an integer in [1, block_size={c.block_size}], got {max_len!r}")
        w = model.wte.weight
        return cls(c.n_layer, batch_size, c.n_head, c.n_embd // c.n_head, max_len, device=w.device, dtype=w.dtype)

    @property
    def batch_size(self) -> int:
        return self.k.size(1)

    @property
    def max_len(self) -> int:
        return self.k.size(3)

    def reset(self) -> None:
        """Forget everything (the buffers are kept and overwritten later)."""
        self.length = 0
        self.start = 0

    def reorder(self, rows: torch.Tensor) -> None:
        """Row ``i`` of the batch becomes a copy of old row ``rows[i]`` (for beam search, where the
        surviving hypotheses continue from different parents). Copies the filled part once."""
        n = self.length
        self.k[:, :, :, :n] = self.k[:, rows, :, :n]  # the right side is gathered into a temporary first
        self.v[:, :, :, :n] = self.v[:, rows, :, :n]

    def __repr__(self) -> str:
        L, B, nh, S, hs = self.k.shape
        return (f"KVCache(n_layer={L}, batch_size={B}, n_head={nh}, head_size={hs}, "
                f"length={self.length}/{S}, start={self.start})")  # fmt: skip


def next_token_logits(model: GPT, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
    """Scores ``(B, V)`` for the token that follows ``idx`` ``(B, T)``: the model's last-position logits.

    Only the last ``block_size`` tokens are given to the model (the context window). Without a cache
    the whole window goes through the model. With one, only the tokens not yet in it do: the cache
    holds positions ``cache.start .. cache.start + cache.length - 1`` of ``idx`` (the caller keeps
    ``idx`` growing only at the end, as generation does). If the window has moved on (the sequence is
    longer than ``block_size``) or nothing new is left, the cache is emptied and refilled with the
    whole window. A single new token (every step after the prompt) takes :func:`decode_step`, several
    take :meth:`GPT.forward_with_cache <gptlib.model.GPT.forward_with_cache>`. All ways give the same
    logits up to float rounding.
    """
    S = model.config.block_size
    T = idx.size(1)
    window = max(0, T - S)  # first position the model sees
    if cache is None:
        logits, _ = model(idx[:, window:])
        return logits[:, -1, :]
    if cache.length == 0 or cache.start != window or cache.length >= T - window:
        cache.reset()  # first call, or the window slid: every position changed, rebuild from scratch
        cache.start = window
    new = idx[:, window + cache.length :]  # (B, T_new) the tokens the cache has not seen
    if new.size(1) == 1:
        return decode_step(model, new[:, 0], cache)
    return model.forward_with_cache(new, cache, last_only=True)[:, -1, :]


# ----------------------------------------------------------------------------- the decoding step

def _plain_gpt(model) -> bool:
    """Whether :func:`decode_step` computes exactly what ``model``'s modules would: a gptlib GPT of
    unmodified classes, no dropout active, no hooks (which the step would skip)."""
    from gptlib.attention import CausalSelfAttention
    from gptlib.block import GELU, MLP, Block, LayerNorm
    from gptlib.model import GPT

    if type(model) is not GPT or (model.training and model.config.dropout > 0):
        return False
    kinds = (Block, CausalSelfAttention, MLP, LayerNorm, GELU)
    for module in model.modules():
        if module._forward_hooks or module._forward_pre_hooks:
            return False
        if isinstance(module, kinds) and type(module) not in kinds:
            return False  # a subclass may compute something else
    return True


class _StepPlan(NamedTuple):
    """What :func:`decode_step` reads from a model, looked up once (attribute lookups through modules
    cost microseconds each). ``layers`` holds one tuple of tensors and eps values per block."""

    wte: torch.Tensor
    wpe: torch.Tensor
    layers: list[tuple]
    ln_f: tuple[torch.Tensor, torch.Tensor | None, float]
    head: torch.Tensor
    n_head: int
    big: bool  # a matrix of >= _SPLIT_MIN_NUMEL entries: worth splitting between threads on a CPU


def _step_plan(model, cache: KVCache) -> _StepPlan | None:
    """The model's :class:`_StepPlan`, kept on the cache, or ``None`` where the modules must be called instead."""
    if cache._plan is None or cache._plan[0] is not model:
        plan = None
        if _plain_gpt(model):
            layers = [
                (b.ln_1.weight, b.ln_1.bias, b.ln_1.eps, b.attn.c_attn.weight, b.attn.c_attn.bias, b.attn.c_proj.weight,
                 b.attn.c_proj.bias, b.ln_2.weight, b.ln_2.bias, b.ln_2.eps, b.mlp.c_fc.weight, b.mlp.c_fc.bias,
                 b.mlp.c_proj.weight, b.mlp.c_proj.bias)
                for b in model.h
            ]  # fmt: skip
            ln_f = model.ln_f
            plan = _StepPlan(model.wte.weight, model.wpe.weight, layers, (ln_f.weight, ln_f.bias, ln_f.eps),
                             model.lm_head.weight, model.config.n_head,
                             big=max(p.numel() for p in model.parameters()) >= _SPLIT_MIN_NUMEL)  # fmt: skip
        cache._plan = (model, plan)
    return cache._plan[1]


def decode_step(model: GPT, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Logits ``(B, V)`` for one new token per row, ``tokens`` ``(B,)``, at position ``cache.length``.

    The same arithmetic as ``model.forward_with_cache(tokens[:, None], cache)`` (the tests check the
    logits agree), written as one function over the model's weights instead of calls through its
    modules, because for a small model the calls cost more than the arithmetic: a step of the series'
    0.8M-parameter model is about 60 operations on vectors of 128 numbers, a few microseconds each,
    and going through ``nn.Module`` adds about half as much again. Per layer::

        h = ln_1(x);  q, k, v = c_attn(h)          # the new token's query, key and value
        cache[pos] = k, v                          # append; the query reads every position so far
        x = x + c_proj(attention(q, cache[:pos + 1]))
        x = x + c_proj(gelu(c_fc(ln_2(x))))

    Hooks on the model's modules are not run: for anything but an unmodified gptlib ``GPT`` without
    hooks and without active dropout (checked once per cache), this calls ``forward_with_cache``.

    On a CPU, a model with matrices of 2 MiB or more (GPT-2 small's) has them read by
    ``torch.get_num_threads()`` Python threads, each taking a slice of the rows (see :func:`_in_parts`),
    and torch's own thread count is set to 1 for the duration of the step and restored after it.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.ndim != 1 or tokens.size(0) != cache.batch_size:
        got = f"shape {tuple(tokens.shape)}" if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"tokens must be a 1-D tensor of {cache.batch_size} token ids (one per row of the cache), "
                         f"got {got}")
    plan = _step_plan(model, cache)
    if plan is None:
        return model.forward_with_cache(tokens[:, None], cache, last_only=True)[:, -1, :]
    if cache.length >= cache.max_len:
        raise ValueError(f"the cache is full ({cache.max_len} positions); reset it, or keep only the last tokens")
    threads = torch.get_num_threads()
    if not (plan.big and tokens.device.type == "cpu" and threads > 1):
        return _decode(plan, tokens, cache, parts=1)
    # Big matrices on a CPU: split them between Python threads (see _in_parts), with PyTorch's own
    # thread pool set to one thread meanwhile, so that its idle threads do not spin on the cores the
    # Python threads need (with them spinning, the split was slower than no split).
    torch.set_num_threads(1)
    try:
        return _decode(plan, tokens, cache, parts=threads)
    finally:
        torch.set_num_threads(threads)


def _decode(plan: _StepPlan, tokens: torch.Tensor, cache: KVCache, parts: int) -> torch.Tensor:
    """The body of :func:`decode_step`, with matrices of ``>= _SPLIT_MIN_NUMEL`` entries split in ``parts``."""
    wte, wpe, layers, (lnf_w, lnf_b, lnf_eps), head, nh, _ = plan
    B = tokens.size(0)
    C = wte.size(1)
    pos = cache.length
    # torch.* rather than F.* where F's version is a Python wrapper: a few microseconds a call, 20 calls a layer.
    # One row (B = 1) runs as vectors: a matrix-vector product (addmv) costs ~25% less than a 1-row matmul.
    rows = () if B == 1 else (B,)  # x is (B, C), or (C,) for one row
    linear = _matvec if B == 1 else F.linear
    if parts > 1:
        linear = functools.partial(_in_parts, linear=linear, parts=parts)
    x = (torch.embedding(wte, tokens) + wpe[pos]).view(*rows, C)
    for (ln1_w, ln1_b, ln1_eps, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, ln2_eps, fc_w, fc_b, fc2_w, fc2_b), \
            keys, values in zip(layers, cache.k, cache.v):  # keys, values: (B, nh, max_len, hs)
        h = torch.layer_norm(x, (C,), ln1_w, ln1_b, ln1_eps)  # (B, C)
        q, k, v = linear(h, attn_w, attn_b).view(B, 3, nh, 1, C // nh).unbind(1)  # 3 x (B, nh, 1, hs)
        keys.narrow(2, pos, 1).copy_(k)  # append to the cache
        values.narrow(2, pos, 1).copy_(v)
        y = F.scaled_dot_product_attention(q, keys.narrow(2, 0, pos + 1), values.narrow(2, 0, pos + 1))  # (B, nh, 1, hs)
        x = x + linear(y.view(*rows, C), proj_w, proj_b)  # (B, C)
        h = torch.layer_norm(x, (C,), ln2_w, ln2_b, ln2_eps)
        x = x + linear(F.gelu(linear(h, fc_w, fc_b), approximate="tanh"), fc2_w, fc2_b)  # (B, C)
    cache.length = pos + 1
    x = torch.layer_norm(x, (C,), lnf_w, lnf_b, lnf_eps)
    return linear(x, head, None).view(B, -1)  # (B, V)


def _matvec(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` for one vector ``x`` ``(in,)``: ``weight @ x + bias``, ``(out,)``."""
    return torch.mv(weight, x) if bias is None else torch.addmv(bias, weight, x)


# Weight matrices with at least this many entries are read by several threads during decoding.
_SPLIT_MIN_NUMEL = 1 << 19  # 2 MiB of float32: all of GPT-2 small's matrices; every one of the series' model is smaller
_workers: list[_Worker] = []
_workers_lock = threading.Lock()  # one split product at a time, whichever thread of the program asks
_calls = itertools.count()


class _Worker:
    """A daemon thread that runs the function calls handed to it, one at a time, through C-level queues
    (cheaper than ``concurrent.futures``: a GPT-2 step hands over about 50 products)."""

    def __init__(self, index: int):
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=f"gptlib-decode-{index}", daemon=True).start()

    def _loop(self) -> None:
        with torch.inference_mode():  # grad modes are per thread; decoding needs none
            while True:
                call, fn, args = self.tasks.get()
                try:
                    self.results.put((call, None, fn(*args)))
                except BaseException as err:  # noqa: BLE001 - handed back to the caller, raised there
                    self.results.put((call, err, None))

    def result(self, call: int):
        """The outcome of task ``call``; outcomes of older tasks, whose caller was interrupted, are dropped."""
        while True:
            done, err, value = self.results.get()
            if done == call:
                return err, value


def _in_parts(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, *, linear, parts: int) -> torch.Tensor:
    """``linear(x, weight, bias)`` with the output features split in ``parts`` slices computed by as many threads.

    Decoding one row reads every weight once per token, so its speed is memory bandwidth. The BLAS
    behind PyTorch's CPU matrix-vector product reads a weight in PyTorch's ``(out, in)`` layout with
    one core, at about half of what the memory delivers to two; here the calling thread takes the first
    slice of the rows and worker threads the others (measured for GPT-2 small's weights on 2 cores:
    14 GB/s one thread, 20 GB/s two). The product releases the GIL, so the threads do run in parallel.
    """
    if weight.numel() < _SPLIT_MIN_NUMEL:
        return linear(x, weight, bias)
    cuts = [round(i * weight.size(0) / parts) for i in range(parts + 1)]
    pieces = [(weight[cuts[i] : cuts[i + 1]], None if bias is None else bias[cuts[i] : cuts[i + 1]]) for i in range(parts)]
    with _workers_lock:
        while len(_workers) < parts - 1:
            _workers.append(_Worker(len(_workers)))
        call = next(_calls)
        for worker, (w, b) in zip(_workers, pieces[1:]):
            worker.tasks.put((call, linear, (x, w, b)))
        try:
            first = linear(x, *pieces[0])
        finally:
            outcomes = [worker.result(call) for worker in _workers[: parts - 1]]  # always collected
    for err, _ in outcomes:
        if err is not None:
            raise err
    return torch.cat([first] + [value for _, value in outcomes], dim=-1)


# ----------------------------------------------------------------------------- generation


def _model_device(model) -> torch.device:
    return model.wte.weight.device


def _check_prompt(model, idx) -> torch.Tensor:
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"idx must be a torch.Tensor of token ids with shape (B, T), got {type(idx).__name__}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise ValueError(f"idx must hold integer token ids, got dtype {idx.dtype}")
    if idx.ndim != 2:
        hint = "; for a single sequence use idx.unsqueeze(0)" if idx.ndim == 1 else ""
        raise ValueError(f"idx must have shape (B, T), got shape {tuple(idx.shape)}{hint}")
    if idx.numel() == 0:
        raise ValueError(f"the prompt is empty: idx has shape {tuple(idx.shape)}; give at least one token per row")
    idx = idx.to(device=_model_device(model), dtype=torch.long)
    V = model.config.vocab_size
    lo, hi = torch.stack(list(torch.aminmax(idx))).tolist()  # one read from the device, before the loop
    if lo < 0 or hi >= V:
        raise ValueError(f"token id {lo if lo < 0 else hi} in idx is outside the vocabulary [0, {V - 1}]")
    return idx


def _check_count(name: str, value, minimum: int) -> None:
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_stop(stop, tokenizer) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = (stop,) if isinstance(stop, str) else tuple(stop)
    if not stops or not all(isinstance(s, str) and s for s in stops):
        raise ValueError(f"stop must be a non-empty string or a list of non-empty strings, got {stop!r}")
    if tokenizer is None:
        raise ValueError(
            f"stop={stop!r} needs tokenizer=...: stop strings are found in the decoded text, "
            f"and decoding needs the tokenizer"
        )
    return stops


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """The next token of each row, ``(B,)``: the argmax for ``temperature=0``, otherwise a draw."""
    if temperature == 0:
        return logits.argmax(dim=-1)  # stays on the device: no waiting for the host
    probs = F.softmax(logits.float(), dim=-1)  # (B, V)
    # The draw happens on the CPU with a CPU generator, so a seed means the same tokens on any device.
    draw = torch.multinomial(probs.cpu(), num_samples=1, generator=generator)  # (B, 1)
    return draw.view(-1).to(logits.device)


def _steps(
    model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stops, tokenizer,
    use_cache, generator, pad_token_id, hand_out, result,
) -> Iterator[torch.Tensor | None]:  # fmt: skip
    """The generation loop, shared by :func:`generate` and :func:`stream`.

    Yields each step's new tokens ``(B,)``, ``pad_token_id`` in rows that had already finished (or
    ``None`` unless ``hand_out``, to spare a copy per step), and finally stores the whole output in
    ``result[0]``. Each step's work runs under ``torch.inference_mode()``, but the mode is left before
    every ``yield``: it is thread-global state and must not leak into the caller's code between two
    steps. Tensors handed out are cloned outside the mode, so they are ordinary tensors that the
    caller may modify.
    """
    B, T0 = idx.shape
    total = T0 + max_new_tokens
    with torch.inference_mode():
        seq = torch.empty(B, total, dtype=torch.long, device=idx.device)  # every token, filled from the left
        seq[:, :T0] = idx
        # The longest window ever fed is the last step's, min(block_size, total - 1) tokens.
        cache = KVCache.for_model(model, B, max(1, min(model.config.block_size, total - 1))) if use_cache else None

    finished_at = [None] * B  # per row: the length at which it hit a stop string
    generated: list[list[int]] = [[] for _ in range(B)]  # per row, on the host: the continuation (for stop strings)
    cur = T0
    while cur < total:
        with torch.inference_mode():
            logits = next_token_logits(model, seq[:, :cur], cache)  # (B, V)
            logits = process_logits(logits, seq[:, :cur], temperature, top_k, top_p, repetition_penalty)
            token = _pick(logits, temperature, generator)  # (B,)
            seq[:, cur] = token
        cur += 1
        if stops:
            done_before = [f is not None for f in finished_at]
            for b, t in enumerate(token.tolist()):
                if done_before[b]:
                    continue
                generated[b].append(t)
                text = tokenizer.decode(generated[b])
                if any(s in text for s in stops):
                    finished_at[b] = cur
            if any(done_before):
                token = token.masked_fill(torch.tensor(done_before, device=token.device), pad_token_id)
        yield token.clone() if hand_out else None
        if stops and all(f is not None for f in finished_at):
            break

    out = seq[:, :cur].clone()  # outside inference mode: an ordinary tensor
    for b, f in enumerate(finished_at):
        if f is not None:
            out[b, f:] = pad_token_id
    result.append(out)


def _start(
    model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences,
    stop, tokenizer, use_cache, generator, pad_token_id, hand_out, result,
) -> Iterator[torch.Tensor | None]:  # fmt: skip
    """Check every argument (so that errors come at call time, also for :func:`stream`), then set up the loop."""
    idx = _check_prompt(model, idx)
    _check_count("max_new_tokens", max_new_tokens, 0)
    _check_temperature(temperature, allow_zero=True)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    _check_penalty(repetition_penalty)
    _check_count("num_return_sequences", num_return_sequences, 1)
    stops = _check_stop(stop, tokenizer)
    if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
        raise ValueError(
            f"generator must be a CPU torch.Generator (tokens are drawn on the CPU so a seed gives the same text "
            f"on every device), got {generator!r}"
        )
    if not _is_int(pad_token_id):
        raise ValueError(f"pad_token_id must be an integer, got {pad_token_id!r}")
    if num_return_sequences > 1:
        idx = idx.repeat_interleave(num_return_sequences, dim=0)  # rows b*n .. b*n+n-1 continue prompt b
    return _steps(
        model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stops, tokenizer,
        use_cache, generator, pad_token_id, hand_out, result,
    )  # fmt: skip


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    num_return_sequences: int = 1,
    stop: str | Sequence[str] | None = None,
    tokenizer=None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    on_token: Callable[[torch.Tensor], None] | None = None,
    *,
    pad_token_id: int = PAD_TOKEN_ID,
) -> torch.Tensor:
    """Continue each prompt by up to ``max_new_tokens`` tokens. Returns ``(B * num_return_sequences, T + new)``.

    Each step: scores for the next token (:func:`next_token_logits`), processed by
    :func:`process_logits` (repetition penalty, temperature, top-k, top-p), then a token is drawn from
    the softmax of the result, or for ``temperature=0`` the most likely one is taken (greedy
    decoding; ``top_k`` and ``top_p`` then make no difference).

    Args:
        model: a :class:`~gptlib.model.GPT`, normally in eval mode.
        idx: ``(B, T)`` prompt token ids, ``T >= 1``. Longer than ``block_size``: only its last
            ``block_size`` tokens are read (but the whole prompt is returned).
        max_new_tokens: how many tokens to add, ``>= 0``.
        temperature: ``>= 0``; ``0`` means greedy, ``1`` the model's own distribution.
        top_k: keep the ``k >= 1`` most likely tokens, or ``None``.
        top_p: keep the smallest set of most likely tokens with probability ``>= top_p``, in ``(0, 1]``, or ``None``.
        repetition_penalty: ``> 0``; above 1 discourages tokens already in the row (prompt included).
        num_return_sequences: continuations per prompt, ``>= 1``. Output rows
            ``b*n .. b*n + n - 1`` continue prompt ``b`` (all equal when greedy).
        stop: a string or list of strings. A row finishes as soon as its decoded continuation (the
            new tokens, not the prompt) contains one of them; its tokens end with the token that
            completed the stop string, so the stop string is part of the returned text (it may end
            in the middle of that token's text). Needs ``tokenizer``.
        tokenizer: anything with ``decode(list_of_ids) -> str``, e.g. a
            :class:`~gptlib.tokenizers.CharTokenizer`; only used for ``stop``.
        use_cache: run the prompt once and then one token per step with a :class:`KVCache`
            (fast); ``False`` reruns the whole window each step (slow, the reference). The logits
            agree up to float rounding.
        generator: a CPU ``torch.Generator`` for the draws; ``None`` uses torch's default one.
        on_token: called after every step with that step's new tokens ``(B * n,)`` (the same tensor
            :func:`stream` yields), e.g. to print text as it appears.
        pad_token_id: (keyword only) what finished rows are filled with, see below.

    Returns:
        ``(B * n, T + m)`` token ids, the prompts followed by ``m <= max_new_tokens`` new tokens, on the
        model's device. ``m = max_new_tokens`` unless every row has hit a stop string, in which case
        generation ends early at the step where the last row finished. A row that finished earlier
        than others is frozen: the model still runs on it (the batch stays rectangular) but its
        later positions hold ``pad_token_id`` (default ``-1``, never a real token; keep
        ``row[row >= 0]``).

    Raises ``ValueError`` naming the value for bad arguments: an empty prompt, a negative
    ``temperature``, ``top_k < 1``, ``top_p`` outside ``(0, 1]``, ``repetition_penalty <= 0``,
    ``num_return_sequences < 1``, ``stop`` without ``tokenizer``, a non-CPU ``generator``.
    """
    result: list[torch.Tensor] = []
    steps = _start(
        model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences,
        stop, tokenizer, use_cache, generator, pad_token_id, on_token is not None, result,
    )  # fmt: skip
    for token in steps:
        if on_token is not None:
            on_token(token)
    return result[0]


def stream(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    num_return_sequences: int = 1,
    stop: str | Sequence[str] | None = None,
    tokenizer=None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    on_token: Callable[[torch.Tensor], None] | None = None,
    *,
    pad_token_id: int = PAD_TOKEN_ID,
) -> Iterator[torch.Tensor]:
    """Like :func:`generate`, but yield each step's new tokens ``(B * n,)`` as soon as they are chosen.

    Stacking what it yields along a new last axis gives exactly the new columns that
    :func:`generate` returns with the same arguments and seed. The arguments are checked when
    ``stream`` is called, not when the first token is requested. A typical loop::

        for token in stream(model, idx, 200, tokenizer=tok, temperature=0.8):
            print(tok.decode(token.tolist()), end="", flush=True)
    """
    steps = _start(
        model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, num_return_sequences,
        stop, tokenizer, use_cache, generator, pad_token_id, True, [],
    )  # fmt: skip

    def tokens() -> Iterator[torch.Tensor]:
        for token in steps:
            if on_token is not None:
                on_token(token)
            yield token

    return tokens()


# ----------------------------------------------------------------------------- beam search


def beam_search(
    model: GPT,
    idx: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    num_return_sequences: int = 1,
    use_cache: bool = True,
    return_scores: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The ``max_new_tokens``-token continuations of highest total log-probability that beam search finds.

    Greedy decoding commits to the single best token at every step; a slightly worse token now can
    lead to a much better sequence later. Beam search keeps the ``num_beams`` best partial sequences
    ("hypotheses"), scored by the sum of their tokens' log-probabilities. Each step extends every
    hypothesis by every vocabulary token (``num_beams * V`` candidates per prompt), and the
    ``num_beams`` candidates with the highest scores survive. All beams start as the prompt, but
    only the first counts (the others start at score ``-inf``), so the first step does not pick the
    same continuation ``num_beams`` times. With the KV cache, the surviving beams' cache rows are
    gathered from their parents each step (:meth:`KVCache.reorder`).

    Matches ``transformers``' ``generate(num_beams=k, do_sample=False, early_stopping=False)`` with no
    end-of-sequence token, where every hypothesis runs the full ``max_new_tokens``. The final score
    is ``sum_logprobs / max_new_tokens ** length_penalty``, as there. Since all hypotheses then have the
    same length, ``length_penalty`` rescales the scores but never changes which sequence wins (it
    matters only when hypotheses can end early at an end-of-sequence token, which this function does
    not do).

    Args:
        model: a :class:`~gptlib.model.GPT`, normally in eval mode.
        idx: ``(B, T)`` prompt ids, ``T >= 1``.
        num_beams: hypotheses kept per prompt, ``1 <= num_beams <= vocab_size`` (1 is greedy).
        max_new_tokens: ``>= 1``.
        length_penalty: exponent of the length in the final score.
        num_return_sequences: how many of the final hypotheses to return per prompt, best first,
            ``1 <= n <= num_beams``; output rows ``b*n .. b*n + n - 1`` belong to prompt ``b``.
        use_cache: with a :class:`KVCache` (fast) or rerunning the window each step.
        return_scores: also return the ``(B * n,)`` final scores.

    Returns:
        ``(B * n, T + max_new_tokens)`` token ids, and with ``return_scores`` the scores.
    """
    idx = _check_prompt(model, idx)
    V = model.config.vocab_size
    if not _is_int(num_beams) or not 1 <= num_beams <= V:
        raise ValueError(
            f"num_beams must be an integer in [1, vocab_size={V}] (each step keeps that many distinct "
            f"continuations), got {num_beams!r}"
        )
    _check_count("max_new_tokens", max_new_tokens, 1)
    if not _is_number(length_penalty) or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    if not _is_int(num_return_sequences) or not 1 <= num_return_sequences <= num_beams:
        raise ValueError(
            f"num_return_sequences must be an integer in [1, num_beams={num_beams}], got {num_return_sequences!r}"
        )

    B, T0 = idx.shape
    k = num_beams
    total = T0 + max_new_tokens
    with torch.inference_mode():
        seq = torch.empty(B * k, total, dtype=torch.long, device=idx.device)  # row b*k + j = beam j of prompt b
        seq[:, :T0] = idx.repeat_interleave(k, dim=0)
        scores = torch.zeros(B, k, device=idx.device)  # (B, k) summed log-probabilities
        scores[:, 1:] = float("-inf")  # only the first copy of the prompt is a real hypothesis
        first_row = torch.arange(B, device=idx.device).unsqueeze(1) * k  # (B, 1) row of beam 0 of each prompt
        cache = KVCache.for_model(model, B * k, min(model.config.block_size, total - 1)) if use_cache else None

        for cur in range(T0, total):
            logits = next_token_logits(model, seq[:, :cur], cache)  # (B*k, V)
            logprobs = F.log_softmax(logits.float(), dim=-1).view(B, k, V)  # (B, k, V)
            candidates = (scores.unsqueeze(-1) + logprobs).view(B, k * V)  # (B, k*V) every beam x every token
            scores, flat = torch.topk(candidates, k, dim=-1)  # (B, k) best first
            parent = flat // V  # (B, k) which beam each survivor extends
            token = flat % V  # (B, k) with which token
            rows = (first_row + parent).view(-1)  # (B*k,) the parent's row in seq
            seq[:, :cur] = seq[rows, :cur]
            seq[:, cur] = token.view(-1)
            if cache is not None and cache.length > 0:
                cache.reorder(rows)

        n = num_return_sequences
        out = seq.view(B, k, total)[:, :n].reshape(B * n, total)
        final = (scores[:, :n] / (max_new_tokens**length_penalty)).reshape(B * n)
    out, final = out.clone(), final.clone()  # ordinary tensors, outside inference mode
    return (out, final) if return_scores else out
