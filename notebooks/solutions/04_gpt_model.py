"""Solutions to the exercises of 04_gpt_model.ipynb. Try them yourself first!"""

import torch


def gpt2_param_count(config) -> int:
    """Parameters of a GPT-2-style model with biases and the LM head tied to the token embedding."""
    V, T, L, C = config.vocab_size, config.block_size, config.n_layer, config.n_embd
    ln = 2 * C  # LayerNorm: a gain and a bias
    attn = (C * 3 * C + 3 * C) + (C * C + C)  # c_attn, c_proj
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # c_fc, c_proj
    per_block = 2 * ln + attn + mlp  # = 12 * C**2 + 13 * C
    return V * C + T * C + L * per_block + ln  # wte (also the head), wpe, the blocks, ln_f


def embed(idx: torch.Tensor, wte: torch.Tensor, wpe: torch.Tensor) -> torch.Tensor:
    """The input of the first block: token embedding plus position embedding, (B, T) -> (B, T, C)."""
    T = idx.size(1)
    tok_emb = wte[idx]  # (B, T, C)
    pos_emb = wpe[torch.arange(T, device=idx.device)]  # (T, C), broadcast over the batch
    return tok_emb + pos_emb


def lm_head_logits(x: torch.Tensor, wte: torch.Tensor) -> torch.Tensor:
    """The tied LM head: one score per vocabulary entry, (B, T, C) -> (B, T, V)."""
    return x @ wte.T
