"""Causal self-attention, written out step by step and then packaged as a module.

Attention lets every position in a sequence look back at the earlier positions and take a weighted
average of what it finds there. The pieces, in the order the notebooks build them:

- :func:`causal_mask`                   which positions may look at which (no peeking at the future)
- :func:`scaled_dot_product_attention`  scores, mask, softmax, dropout, weighted sum -- one line each
- :func:`split_heads` / :func:`merge_heads`  run several small attentions side by side
- :class:`CausalSelfAttention`          the module a GPT block uses

Shape names used throughout:

- ``B``  batch size
- ``T``  sequence length (number of tokens, "time")
- ``C``  embedding width, ``config.n_embd``
- ``nh`` number of heads, ``config.n_head``
- ``hs`` head size, ``C // nh``
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "causal_mask",
    "split_heads",
    "merge_heads",
    "scaled_dot_product_attention",
    "CausalSelfAttention",
]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Return a ``(T, T)`` boolean mask that is ``True`` where a query may attend to a key.

    Row ``i`` is the query at position ``i``; column ``j`` is the key at position ``j``. Position ``i``
    may look at itself and everything before it, so the mask is the lower triangle including the
    diagonal::

        causal_mask(4)
        [[ True, False, False, False],
         [ True,  True, False, False],
         [ True,  True,  True, False],
         [ True,  True,  True,  True]]

    ``True`` means "allowed", the same convention as the boolean ``attn_mask`` of
    :func:`torch.nn.functional.scaled_dot_product_attention`.
    """
    if T < 1:
        raise ValueError(f"causal_mask needs a sequence length T >= 1, got T={T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """Cut the channels of ``x`` into ``n_head`` heads: ``(B, T, C) -> (B, nh, T, hs)``.

    Each head gets its own contiguous slice of ``hs = C // n_head`` channels. The head axis is moved
    in front of the time axis so that a single batched matrix multiply over the last two axes,
    ``(T, hs) @ (hs, T)``, computes every head's attention scores at once.
    """
    if x.ndim != 3:
        raise ValueError(f"split_heads expects a (B, T, C) tensor, got shape {tuple(x.shape)}")
    B, T, C = x.shape
    if n_head < 1 or C % n_head != 0:
        raise ValueError(f"the width C={C} cannot be split evenly into n_head={n_head} heads")
    hs = C // n_head
    return x.view(B, T, n_head, hs).transpose(1, 2)  # (B, T, nh, hs) -> (B, nh, T, hs)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Undo :func:`split_heads`: ``(B, nh, T, hs) -> (B, T, C)`` with ``C = nh * hs``.

    The heads' outputs end up side by side along the channel axis, in head order, which is what the
    output projection ``c_proj`` expects.
    """
    if x.ndim != 4:
        raise ValueError(f"merge_heads expects a (B, nh, T, hs) tensor, got shape {tuple(x.shape)}")
    B, nh, T, hs = x.shape
    # transpose makes the memory layout non-contiguous; view needs contiguous memory, reshape copies if needed
    return x.transpose(1, 2).reshape(B, T, nh * hs)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = True,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out in full. Returns ``(context, attn_weights)``.

    Shapes (any number of leading batch axes works; for multi-head attention they are ``B, nh``)::

        q: (B, nh, Tq, hs)    k: (B, nh, Tk, hs)    v: (B, nh, Tk, hv)
        attn_weights: (B, nh, Tq, Tk)    context: (B, nh, Tq, hv)

    The steps:

    1. ``attn_scores = q @ k^T / sqrt(d_k)``: how well each query matches each key. The dot product of
       two random ``d_k``-dimensional vectors has variance ``d_k``; dividing by ``sqrt(d_k)`` brings it
       back to about 1, so the softmax does not start out saturated (nearly one-hot, tiny gradients).
    2. Masked positions get ``-inf``, so the softmax gives them exactly zero weight.
    3. ``softmax`` over the keys turns each row of scores into weights that are >= 0 and sum to 1.
    4. Dropout (only when ``training`` and ``dropout_p > 0``) zeroes weights at random and scales the
       survivors by ``1 / (1 - dropout_p)`` so the expected value is unchanged.
    5. ``context = attn_weights @ v``: each query's weighted average of the values.

    Args:
        causal: hide the future: query ``i`` sees keys ``0..i``. For ``Tq != Tk`` the mask is the lower
            triangle anchored at the top-left corner, as in PyTorch's ``is_causal=True``.
        mask: optional boolean tensor broadcastable to ``(..., Tq, Tk)``, ``True`` = may attend. When
            given together with ``causal=True`` both must allow a position. A query row with no allowed
            key at all has nothing to average and comes out as NaN.
        dropout_p: probability of dropping each attention weight, in ``[0, 1)``.
        training: dropout is applied only when this is ``True`` (pass ``module.training``).
        generator: random generator for the dropout mask, to make a dropout example repeatable.

    Returns:
        ``context`` and the ``attn_weights`` that produced it. The weights are the ones actually
        multiplied with ``v``: after dropout in training mode (rows then no longer sum to 1), plain
        softmax weights otherwise. Use eval mode when you want to draw attention heat maps.
    """
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    d_k = q.size(-1)
    Tq, Tk = q.size(-2), k.size(-2)

    # 1. similarity of every query with every key: (..., Tq, hs) @ (..., hs, Tk) -> (..., Tq, Tk)
    attn_scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)

    # 2. masking: positions that may not be attended get -inf, which softmax turns into 0
    allowed = mask
    if causal:
        tri = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril()  # (Tq, Tk)
        allowed = tri if allowed is None else (allowed & tri)
    if allowed is not None:
        attn_scores = attn_scores.masked_fill(~allowed, float("-inf"))

    # 3. each row becomes a probability distribution over the keys
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (..., Tq, Tk)

    # 4. dropout on the weights: randomly forget some connections during training
    if training and dropout_p > 0.0:
        keep = torch.rand(attn_weights.shape, generator=generator, device=attn_weights.device) >= dropout_p
        attn_weights = attn_weights * keep / (1.0 - dropout_p)

    # 5. weighted average of the values: (..., Tq, Tk) @ (..., Tk, hv) -> (..., Tq, hv)
    context = attn_weights @ v
    return context, attn_weights


def _cached_causal_mask(Tq: int, Tk: int, device: torch.device) -> torch.Tensor | None:
    """Causal mask for ``Tq`` new queries that are the last ``Tq`` of ``Tk`` positions, ``(Tq, Tk)`` or ``None``.

    Query ``i`` sits at position ``Tk - Tq + i`` and may see keys ``0 .. Tk - Tq + i``: the lower
    triangle anchored at the *bottom-right* corner. A single new query (the usual generation step)
    may see every key, so it needs no mask at all (``None``), which saves building one per step.
    """
    if Tq == 1:
        return None
    return torch.ones(Tq, Tk, dtype=torch.bool, device=device).tril(diagonal=Tk - Tq)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, laid out like GPT-2 so its weights load directly.

    ``config`` needs ``n_embd``, ``n_head``, ``dropout`` and ``bias`` (a
    :class:`gptlib.model.GPTConfig` has them all).

    Parameters (names match GPT-2 checkpoints):

    - ``c_attn``: one ``Linear(C, 3C)`` producing queries, keys and values together. Three separate
      ``Linear(C, C)`` layers would compute the same thing; fused, it is one bigger matrix multiply
      instead of three smaller ones (one pass over the input, one kernel launch).
    - ``c_proj``: ``Linear(C, C)`` mixing the heads' outputs back together before they are added to
      the residual stream.

    Dropout modules: ``attn_dropout`` on the attention weights, ``resid_dropout`` on the output.

    Two ways to compute the attention itself:

    - fast (default): :func:`torch.nn.functional.scaled_dot_product_attention` with ``is_causal=True``.
      It never materialises the ``(T, T)`` weight matrix, so it cannot hand the weights back.
    - explicit: :func:`scaled_dot_product_attention` from this module, step by step. Used when
      ``forward(x, return_weights=True)`` asks for the weights, or always when the attribute
      ``use_sdpa`` is set to ``False``. Both give the same result up to float rounding.
    """

    def __init__(self, config):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"n_embd={config.n_embd} must be divisible by n_head={config.n_head} to split into heads")
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.use_sdpa = True

    def forward(
        self, x: torch.Tensor, return_weights: bool = False, kv_cache=None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, C) -> (B, T, C)``; with ``return_weights=True`` also the ``(B, nh, T, T)`` weights.

        ``kv_cache`` (for generation): an object whose ``update(k, v)`` stores this call's keys and
        values ``(B, nh, T, hs)`` after those of the earlier positions and returns all of them,
        ``(B, nh, T_past + T, hs)`` -- one layer of :class:`gptlib.generation.KVCache`. The ``T``
        tokens of ``x`` are then the *last* ``T`` positions: queries are computed only for them, and
        they attend to every cached position and causally among themselves. The weights returned
        are then ``(B, nh, T, T_past + T)``.
        """
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q = split_heads(q, self.n_head)  # (B, nh, T, hs)
        k = split_heads(k, self.n_head)  # (B, nh, T, hs)
        v = split_heads(v, self.n_head)  # (B, nh, T, hs)

        # Without a cache queries and keys are the same T positions; with one, the keys reach back further.
        mask = None
        if kv_cache is not None:
            k, v = kv_cache.update(k, v)  # (B, nh, Tk, hs), Tk = T_past + T
            mask = _cached_causal_mask(q.size(-2), k.size(-2), q.device)  # (T, Tk) or None
        causal = kv_cache is None

        weights = None
        if self.use_sdpa and not return_weights:
            p = self.attn_dropout.p if self.training else 0.0
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal
            )  # (B, nh, T, hs)
        else:
            y, weights = scaled_dot_product_attention(
                q, k, v, causal=causal, mask=mask, dropout_p=self.attn_dropout.p, training=self.training
            )  # (B, nh, T, hs), (B, nh, T, Tk)

        y = merge_heads(y)  # (B, T, C)
        y = self.resid_dropout(self.c_proj(y))  # (B, T, C)
        if return_weights:
            return y, weights
        return y

    def extra_repr(self) -> str:
        return f"n_head={self.n_head}, use_sdpa={self.use_sdpa}"
