"""The transformer block: layer norm, the GELU feed-forward network, and how they wrap attention.

- :func:`layer_norm` / :class:`LayerNorm`  normalise each token's vector, from scratch
- :func:`gelu_tanh` / :class:`GELU`        GPT-2's smooth ReLU (the tanh approximation)
- :class:`MLP`                             per-token feed-forward network, 4x wide
- :class:`Block`                           ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``

Shapes: ``(B, T, C)`` = (batch, time, channels = ``n_embd``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptlib.attention import CausalSelfAttention

__all__ = ["layer_norm", "LayerNorm", "gelu_tanh", "GELU", "MLP", "Block"]


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """Normalise over the last axis to mean 0 and variance 1, then scale by ``weight`` and shift by ``bias``.

    Every token is normalised on its own (no statistics are shared across the batch or across time),
    so a layer norm behaves the same in training and in generation, one token at a time.
    The variance is the biased one (divide by ``C``, not ``C - 1``), as in :class:`torch.nn.LayerNorm`;
    ``eps`` keeps the division safe when a vector is (nearly) constant.
    """
    mean = x.mean(dim=-1, keepdim=True)  # (B, T, 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (B, T, 1)
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (B, T, C)
    out = x_hat * weight
    if bias is not None:
        out = out + bias
    return out


class LayerNorm(nn.Module):
    """Layer normalisation with a learnable gain (``weight``, starts at 1) and optional ``bias`` (starts at 0).

    Same result and parameter names as ``torch.nn.LayerNorm(ndim, eps=1e-5, bias=bias)``. The
    arithmetic is written out in :func:`layer_norm`; ``forward`` runs PyTorch's fused kernel, which
    computes the same thing (``tests/test_block.py`` checks they agree) in one pass over memory
    instead of six, about a quarter of a small model's training step on a CPU.
    ``bias=False`` drops the shift, which some newer models do (one fewer parameter vector per norm,
    with no loss in quality).
    """

    def __init__(self, ndim: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}, bias={self.bias is not None}"


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))``.

    GELU is ``x * Phi(x)``, with ``Phi`` the standard normal CDF: like ReLU for large ``|x|`` but smooth
    around 0 and slightly negative for small negative ``x``. The exact form uses ``erf``; GPT-2 was
    trained with this tanh approximation, which differs from the exact form by up to about ``5e-4``
    (near ``|x| = 2.7``). To reproduce GPT-2's numbers you must use the same approximation, so this is
    the one gptlib uses. Equals ``torch.nn.functional.gelu(x, approximate="tanh")``.
    """
    return 0.5 * x * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


class GELU(nn.Module):
    """Module form of :func:`gelu_tanh` (no parameters), run as PyTorch's fused kernel
    ``F.gelu(x, approximate="tanh")``: the same function, without five temporary tensors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh")


class MLP(nn.Module):
    """The feed-forward part of a block: ``Linear(C, 4C) -> GELU -> Linear(4C, C) -> dropout``.

    It works on each token separately (attention is where tokens talk to each other; here each
    token "thinks" about what it gathered). The 4x wider hidden layer is GPT-2's choice and holds
    two thirds of a block's weights. Names ``c_fc`` and ``c_proj`` match GPT-2 checkpoints.
    """

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c_fc(x)  # (B, T, 4C)
        x = self.gelu(x)  # (B, T, 4C)
        x = self.c_proj(x)  # (B, T, C)
        return self.dropout(x)


class Block(nn.Module):
    """One transformer block in the "pre-norm" arrangement GPT-2 uses::

        x = x + attn(ln_1(x))   # tokens gather information from earlier tokens
        x = x + mlp(ln_2(x))    # each token processes what it gathered

    The input ``x`` passes through unchanged on the "residual stream" and each sub-layer only adds a
    correction. Normalising the *input* of each sub-layer (rather than the sum, as the original
    2017 transformer did) keeps that stream an untouched identity path from the embeddings to the
    output, which is what makes deep stacks train stably.
    """

    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, return_weights: bool = False, kv_cache=None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, C) -> (B, T, C)``; with ``return_weights=True`` also the ``(B, nh, T, T)`` attention weights.

        ``kv_cache``: this block's layer of a :class:`gptlib.generation.KVCache`, handed to the
        attention (see :meth:`CausalSelfAttention.forward`); the MLP and the norms work on each
        token separately and need no memory of the past.
        """
        if return_weights:
            a, weights = self.attn(self.ln_1(x), return_weights=True, kv_cache=kv_cache)
            x = x + a
            x = x + self.mlp(self.ln_2(x))
            return x, weights
        x = x + self.attn(self.ln_1(x), kv_cache=kv_cache)  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x
