"""Exercises of notebook 04_gpt_model: GPT-2's parameter count, the embedding step, the tied LM head."""

from __future__ import annotations

import numbers

import torch

from ..model import param_count
from ._core import Wrong, call, exercise, expect_tensor, fmt

_NOTEBOOK = "04_gpt_model"


# ------------------------------------------------------------------ exercise 1: parameter count


class _Config:
    """The fields a GPTConfig has that the count needs (plus n_head, which must not matter)."""

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd):
        self.vocab_size, self.block_size, self.n_layer = vocab_size, block_size, n_layer
        self.n_head, self.n_embd = n_head, n_embd
        self.dropout, self.bias = 0.0, True

    def __repr__(self) -> str:
        return (f"GPTConfig(vocab_size={self.vocab_size}, block_size={self.block_size}, n_layer={self.n_layer}, "
                f"n_head={self.n_head}, n_embd={self.n_embd})")


# Sizes chosen so that each common mistake shifts the count by a different amount.
_COUNT_CASES = [
    _Config(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),  # GPT-2 small
    _Config(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64),  # char-tiny
    _Config(vocab_size=1000, block_size=70, n_layer=3, n_head=5, n_embd=200),
    _Config(vocab_size=11, block_size=7, n_layer=5, n_head=3, n_embd=6),
]


def _diagnose_count(c: _Config, got: int, expected: int) -> str:
    V, T, L, C = c.vocab_size, c.block_size, c.n_layer, c.n_embd
    d = got - expected
    per_block = 12 * C * C + 13 * C
    known = [
        (V * C, "you counted the LM head as a second vocab_size x n_embd matrix; it is tied to wte "
                "(the same tensor), so count it once"),
        (-V * C, "the token embedding wte (vocab_size x n_embd) is missing"),
        (-T * C, "the position embedding wpe (block_size x n_embd) is missing"),
        (-2 * C, "the final LayerNorm ln_f (gain and bias, 2 * n_embd) is missing"),
        (-C, "the final LayerNorm ln_f has a bias as well as a gain: 2 * n_embd"),
        (-4 * C * L, "the two LayerNorms of each block (ln_1, ln_2: 4 * n_embd per block) are missing"),
        (-2 * C * L, "each block's LayerNorms have biases as well as gains: 4 * n_embd per block"),
        (-2 * C * L - C, "every LayerNorm has a bias as well as a gain (2 * n_embd each)"),
        (-9 * C * L, "the biases of the four Linear layers of each block (3C + C + 4C + C = 9C) are missing"),
        (-11 * C * L - C, "the bias vectors are missing; GPT-2's Linear layers and LayerNorms all have biases"),
        (-L * (6 * C * C + 3 * C), "the MLP is 4 * n_embd wide: c_fc is (C, 4C) and c_proj is (4C, C)"),
        (-L * 6 * C * C, "the MLP is 4 * n_embd wide: c_fc is (C, 4C) and c_proj is (4C, C)"),
        (-L * 2 * C * C, "c_attn makes queries, keys and values: it is (C, 3C), with 3C biases"),
        (-(L - 1) * per_block, "you counted one block; there are n_layer of them"),
        (-L * 2 * C * C - L * 2 * C, "c_attn makes queries, keys and values: it is (C, 3C), with 3C biases"),
    ]
    for delta, message in known:
        if d == delta and delta != 0:
            return message
    return "compare your count piece by piece with the table in section 4"


@exercise(_NOTEBOOK, "gpt2_param_count",
          "correct: V·C + T·C + L·(12C² + 13C) + 2C, with the tied head counted once (GPT-2 small: 124,439,808).")
def check_gpt2_param_count(student) -> None:
    """Check ``student(config) -> int`` against the formula on several sizes."""
    for config in _COUNT_CASES:
        got = call(student, config)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            raise Wrong("return a Python int, not a tensor: use .item() or count with plain integers")
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            if isinstance(got, numbers.Real) and float(got).is_integer():
                raise Wrong(f"return an int, not a {type(got).__name__} ({got}): a parameter count is a "
                            f"whole number (use // or int())")
            raise Wrong(f"returned a {type(got).__name__} ({got!r}), expected an int")
        got, expected = int(got), param_count(config)
        if got != expected:
            hint = _diagnose_count(config, got, expected)
            raise Wrong(f"for {config} the count is {expected:,} but you returned {got:,} "
                        f"({got - expected:+,}): {hint}")
    other = _COUNT_CASES[2]
    heads = _Config(other.vocab_size, other.block_size, other.n_layer, 8, other.n_embd)
    if call(student, heads) != param_count(heads):
        raise Wrong("your count changes with n_head; it should not: splitting n_embd channels into heads "
                    "only reshapes them, it adds no weights")


# ------------------------------------------------------------------ exercise 2: the embedding step


def _embedding_case(B: int, T: int, V: int, block_size: int, C: int, seed: int, high: int):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, high, (B, T), generator=g)
    wte = torch.randn(V, C, generator=g)
    wpe = torch.randn(block_size, C, generator=g)
    return idx, wte, wpe


@exercise(_NOTEBOOK, "embed", "correct: x = wte[idx] + wpe[arange(T)], the position vectors broadcast over the batch.")
def check_embed(student) -> None:
    """Check ``student(idx, wte, wpe) -> (B, T, C)`` equals ``wte[idx] + wpe[:T]``."""
    cases = [
        # ids below block_size first, so that indexing wpe with token ids can be recognised
        (2, 5, 20, 12, 6, 0, 12),
        (3, 12, 20, 12, 6, 1, 20),  # a full block, every id possible
        (1, 1, 9, 4, 3, 2, 9),  # one token
    ]
    for B, T, V, block_size, C, seed, high in cases:
        idx, wte, wpe = _embedding_case(B, T, V, block_size, C, seed, high)
        originals = idx.clone(), wte.clone(), wpe.clone()
        got = call(student, idx, wte, wpe)
        for name, now, before in zip(("idx", "wte", "wpe"), (idx, wte, wpe), originals):
            if not torch.equal(now, before):
                raise Wrong(f"your function changed `{name}` in place; compute a new tensor instead "
                            f"(for example tok_emb + pos_emb rather than +=)")
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, 2 * C):
            raise Wrong("your vectors are 2 * n_embd wide: GPT adds the position embedding to the token "
                        "embedding, it does not concatenate them")
        if isinstance(got, torch.Tensor) and got.ndim == 3 and tuple(got.shape) == (B, block_size, C) \
                and T != block_size:
            raise Wrong(f"with T={T} and block_size={block_size} you returned {block_size} positions: use "
                        f"only the first T rows of wpe, one per position of the input")
        got = expect_tensor(got, (B, T, C), "your function")
        expected = wte[idx] + wpe[torch.arange(T)]
        if torch.allclose(got, expected, atol=1e-5):
            continue
        if torch.allclose(got, wte[idx], atol=1e-5):
            raise Wrong("you returned the token embeddings only: add the position embedding, "
                        "wpe[torch.arange(T)], so the model knows where each token is")
        if high <= block_size and torch.allclose(got, wte[idx] + wpe[idx], atol=1e-5):
            raise Wrong("you looked up wpe with the token ids; its rows are positions: the token at position "
                        "t gets wpe[t], so use wpe[torch.arange(T)]")
        if torch.allclose(got, wte[idx] * wpe[torch.arange(T)], atol=1e-5):
            raise Wrong("you multiplied the two embeddings; GPT adds them: tok_emb + pos_emb")
        if torch.allclose(got, wpe[torch.arange(T)].expand(B, T, C), atol=1e-5):
            raise Wrong("you returned the position embeddings only: add the token embedding, wte[idx]")
        b, t = divmod(int((got - expected).abs().sum(dim=-1).argmax()), T)
        raise Wrong(f"for idx of shape {(B, T)}, x[{b}, {t}] should be {fmt(expected[b, t])} "
                    f"but is {fmt(got[b, t])}")


# ------------------------------------------------------------------ exercise 3: the tied LM head


@exercise(_NOTEBOOK, "lm_head_logits",
          "correct: logits = x @ wte.T, every token scored by the dot product with its own embedding.")
def check_lm_head_logits(student) -> None:
    """Check ``student(x, wte) -> (B, T, V)`` equals ``x @ wte.T`` and keeps the graph to ``wte``."""
    cases = [(2, 3, 8, 8, 0), (2, 4, 13, 6, 1), (1, 1, 5, 7, 2)]  # the first is square: V == C
    for B, T, V, C, seed in cases:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(B, T, C, generator=g)
        wte = torch.randn(V, C, generator=g).requires_grad_()
        originals = x.clone(), wte.detach().clone()
        got = call(student, x, wte)
        if not torch.equal(x, originals[0]) or not torch.equal(wte.detach(), originals[1]):
            raise Wrong("your function changed `x` or `wte` in place; compute a new tensor instead")
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, C) and V != C:
            raise Wrong(f"you returned shape {(B, T, C)}, one number per channel; the head gives one score per "
                        f"vocabulary entry, (B, T, V) = {(B, T, V)}")
        got = expect_tensor(got, (B, T, V), "your function")
        with torch.no_grad():
            expected = x @ wte.T
            g_ = got.detach()
            if not torch.allclose(g_, expected, atol=1e-4):
                if V == C and torch.allclose(g_, x, atol=1e-6):
                    raise Wrong("you returned x unchanged; the head turns each vector into one score per "
                                "vocabulary entry: logits = x @ wte.T")
                if V == C and torch.allclose(g_, x @ wte, atol=1e-4):
                    raise Wrong("you multiplied by wte, not by its transpose: the score of token v is the dot "
                                "product of x with row v of wte, so logits = x @ wte.T")
                if torch.allclose(g_, torch.softmax(expected, dim=-1), atol=1e-5):
                    raise Wrong("you returned probabilities (a softmax); the head returns raw scores, the "
                                "logits: the softmax comes later, in the loss or when sampling")
                if torch.allclose(g_, torch.log_softmax(expected, dim=-1), atol=1e-4):
                    raise Wrong("you returned log-probabilities (log_softmax); the head returns raw scores, "
                                "the logits, without normalising them")
                if torch.allclose(g_, expected / C ** 0.5, atol=1e-4):
                    raise Wrong("you divided by sqrt(n_embd); that scaling belongs to attention scores, "
                                "the LM head is a plain x @ wte.T")
                b, t = divmod(int((g_ - expected).abs().sum(dim=-1).argmax()), T)
                raise Wrong(f"with V={V} and C={C}, logits[{b}, {t}] should be {fmt(expected[b, t])} "
                            f"but is {fmt(g_[b, t])}")
        if not got.requires_grad:
            raise Wrong("your logits are cut off from wte (detach, .data or a copy without gradient?): "
                        "training must update wte through the head, that is the point of tying")
        (grad,) = torch.autograd.grad(got.sum(), wte, allow_unused=True)
        if grad is None or not torch.allclose(grad, x.sum(dim=(0, 1)).expand(V, C), atol=1e-4):
            raise Wrong("the gradient of your logits does not reach wte as it should: compute them "
                        "directly from the wte you were given, x @ wte.T")
