"""The fast decoding step: one new token per row through a GPT with a KV cache, as one function.

- :func:`decode_step`   logits ``(B, V)`` for one new token per row at position ``cache.length``
- :class:`_StepPlan`    the weights the step reads, looked up once per cache (:func:`_step_plan`)
- :func:`_plain_gpt`    whether the function form computes exactly what the model's modules would

On a CPU, the big matrices of a GPT-2-sized model are multiplied by several threads
(:mod:`gptlib.generation.threaded_linear`), with torch's own thread count set to 1 during the step.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

from gptlib.generation import threaded_linear

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from gptlib.generation.kv_cache import KVCache
    from gptlib.model import GPT

__all__ = ["decode_step"]


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
    are slow next to a small model's arithmetic). ``layers`` holds one tuple of tensors and eps values
    per block."""

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
            big = max(p.numel() for p in model.parameters()) >= threaded_linear._SPLIT_MIN_NUMEL
            plan = _StepPlan(model.wte.weight, model.wpe.weight, layers, (ln_f.weight, ln_f.bias, ln_f.eps),
                             model.lm_head.weight, model.config.n_head, big)  # fmt: skip
        cache._plan = (model, plan)
    return cache._plan[1]


def decode_step(model: GPT, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Logits ``(B, V)`` for one new token per row, ``tokens`` ``(B,)``, at position ``cache.length``.

    The same arithmetic as ``model.forward_with_cache(tokens[:, None], cache)`` (the tests check the
    logits agree), written as one function over the model's weights instead of calls through its
    modules: a step of a small model is a few dozen operations on short vectors, and the Python work
    of calling ``nn.Module``\\ s is a large share of it. Per layer::

        h = ln_1(x);  q, k, v = c_attn(h)          # the new token's query, key and value
        cache[pos] = k, v                          # append; the query reads every position so far
        x = x + c_proj(attention(q, cache[:pos + 1]))
        x = x + c_proj(gelu(c_fc(ln_2(x))))

    Hooks on the model's modules are not run: for anything but an unmodified gptlib ``GPT`` without
    hooks and without active dropout (checked once per cache), this calls ``forward_with_cache``.

    On a CPU, a model with matrices of 2 MiB or more (GPT-2 small's) has them read by
    ``torch.get_num_threads()`` threads (this one and resident workers), each taking a slice of the
    rows (see :mod:`gptlib.generation.threaded_linear`), and torch's own thread count is set to 1 for
    the duration of the step and restored after it, also when the step raises.
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
    # Big matrices on a CPU: split them between threads, with PyTorch's own thread pool set to one
    # thread meanwhile, so that its idle threads do not spin on the cores the split needs.
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
    # torch.* rather than F.* where F's version is a Python wrapper around it (about 20 calls a layer).
    # One row (B = 1) runs as vectors: a matrix-vector product (addmv) is cheaper than a 1-row matmul.
    rows = () if B == 1 else (B,)  # x is (B, C), or (C,) for one row
    linear = _matvec if B == 1 else F.linear
    if parts > 1:
        linear = functools.partial(threaded_linear._in_parts, linear=linear, parts=parts)
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
