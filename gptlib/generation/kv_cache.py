"""The KV cache: every layer's keys and values of the past positions, and the next token's scores with it.

- :class:`KVCache`            two preallocated buffers ``(L, B, nh, max_len, hs)``, filled from the left
- :class:`KVCacheLayer`       one layer's view of them: what an attention layer reads and appends to
- :func:`next_token_logits`   scores for the token after a sequence, with or without a cache, sliding
                              the window (and rebuilding the cache) past ``block_size``

The model uses the cache by duck typing (:meth:`GPT.forward_with_cache <gptlib.model.GPT.forward_with_cache>`
hands ``cache.layers[l]`` to block ``l``, whose attention calls its ``update``), so this module
imports nothing from the model.

>>> cache = KVCache(n_layer=2, batch_size=1, n_head=4, head_size=8, max_len=16)
>>> cache
KVCache(n_layer=2, batch_size=1, n_head=4, head_size=8, length=0/16, start=0)
>>> k, v = cache.layers[0].update(torch.zeros(1, 4, 3, 8), torch.zeros(1, 4, 3, 8))  # 3 new positions
>>> tuple(k.shape)  # every position so far: (B, nh, T_past + T, hs)
(1, 4, 3, 8)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gptlib._checks import check_int, is_int
from gptlib.generation.fast_step import decode_step

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.model import GPT

__all__ = ["KVCache", "KVCacheLayer", "next_token_logits"]


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
            check_int(name, value, minimum=1)
        shape = (n_layer, batch_size, n_head, max_len, head_size)
        self.k = torch.empty(shape, device=device, dtype=dtype)  # (L, B, nh, max_len, hs)
        self.v = torch.empty(shape, device=device, dtype=dtype)  # (L, B, nh, max_len, hs)
        self.length = 0  # number of valid positions
        self.start = 0  # position in the full sequence of the first cached token
        self.layers = [KVCacheLayer(self, i) for i in range(n_layer)]
        self._plan = None  # what decode_step reads, for the model this cache serves (see fast_step.step_plan)

    @classmethod
    def for_model(cls, model: GPT, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty cache for ``model`` (its sizes, device and dtype), room for ``max_len <= block_size`` positions."""
        c = model.config
        max_len = c.block_size if max_len is None else max_len
        if not is_int(max_len) or not 1 <= max_len <= c.block_size:
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
