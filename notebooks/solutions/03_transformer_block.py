"""Solutions to the exercises of 03_transformer_block.ipynb. Try them yourself first!"""

import math

import torch


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
               eps: float = 1e-5) -> torch.Tensor:
    """Normalise each vector along the last axis to mean 0, variance 1; then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1), biased: divide by C
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (..., C)
    out = x_hat * weight
    return out if bias is None else out + bias


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU, written with a sigmoid: 0.5 * (1 + tanh(u)) equals sigmoid(2u)."""
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    return x * torch.sigmoid(2.0 * u)


def block_forward(x, ln_1, attn, ln_2, mlp):
    """The pre-norm block: each sub-layer reads a normalised copy and adds its output to the stream."""
    x = x + attn(ln_1(x))  # (B, T, C)  tokens gather information from earlier tokens
    x = x + mlp(ln_2(x))  # (B, T, C)  each token processes what it gathered
    return x
