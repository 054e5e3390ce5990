"""Exercises of notebook 04_gpt_model: GPT-2's parameter count, the embedding step, the tied LM head."""

from __future__ import annotations

import copy

import torch

from .._checks import is_int, is_number
from ..model import param_count
from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, call, exercise,
                    expect_tensor, fmt)

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


def _count_off_by(delta):
    """A wrong count: gptlib's right one plus ``delta(V, T, L, C)``, the pieces the mistake adds or forgets."""
    def count(config) -> int:
        return param_count(config) + delta(config.vocab_size, config.block_size, config.n_layer, config.n_embd)
    return count


_COUNT_IS = "for {config} the count is {expected:,} but you returned {got:,} ({diff:+,}): "


def _wrong_count(id: str, explanation: str, delta) -> Mistake:
    return Mistake(id, _COUNT_IS + explanation, example=_count_off_by(delta))


_MLP_WIDTH = "the MLP is 4 * n_embd wide: c_fc is (C, 4C) and c_proj is (4C, C)"
_C_ATTN_WIDTH = "c_attn makes queries, keys and values: it is (C, 3C), with 3C biases"

# Recognised by comparing the count with the example's, in this order.
_COUNT_BY_OUTPUT = (
    _wrong_count("head_counted_twice", "you counted the LM head as a second vocab_size x n_embd matrix; it is tied "
                                       "to wte (the same tensor), so count it once", lambda V, T, L, C: V * C),
    _wrong_count("wte_missing", "the token embedding wte (vocab_size x n_embd) is missing", lambda V, T, L, C: -V * C),
    _wrong_count("wpe_missing", "the position embedding wpe (block_size x n_embd) is missing",
                 lambda V, T, L, C: -T * C),
    _wrong_count("ln_f_missing", "the final LayerNorm ln_f (gain and bias, 2 * n_embd) is missing",
                 lambda V, T, L, C: -2 * C),
    _wrong_count("ln_f_bias_missing", "the final LayerNorm ln_f has a bias as well as a gain: 2 * n_embd",
                 lambda V, T, L, C: -C),
    _wrong_count("block_norms_missing", "the two LayerNorms of each block (ln_1, ln_2: 4 * n_embd per block) are "
                                        "missing", lambda V, T, L, C: -4 * C * L),
    _wrong_count("block_norm_biases_missing", "each block's LayerNorms have biases as well as gains: 4 * n_embd per "
                                              "block", lambda V, T, L, C: -2 * C * L),
    _wrong_count("norm_biases_missing", "every LayerNorm has a bias as well as a gain (2 * n_embd each)",
                 lambda V, T, L, C: -2 * C * L - C),
    _wrong_count("linear_biases_missing", "the biases of the four Linear layers of each block (3C + C + 4C + C = 9C) "
                                          "are missing", lambda V, T, L, C: -9 * C * L),
    _wrong_count("biases_missing", "the bias vectors are missing; GPT-2's Linear layers and LayerNorms all have "
                                   "biases", lambda V, T, L, C: -11 * C * L - C),
    _wrong_count("mlp_one_wide", _MLP_WIDTH, lambda V, T, L, C: -L * (6 * C * C + 3 * C)),
    _wrong_count("mlp_matrices_one_wide", _MLP_WIDTH, lambda V, T, L, C: -L * 6 * C * C),
    _wrong_count("c_attn_matrix_one_wide", _C_ATTN_WIDTH, lambda V, T, L, C: -L * 2 * C * C),
    _wrong_count("one_block", "you counted one block; there are n_layer of them",
                 lambda V, T, L, C: -(L - 1) * (12 * C * C + 13 * C)),
    _wrong_count("c_attn_one_wide", _C_ATTN_WIDTH, lambda V, T, L, C: -L * 2 * C * C - L * 2 * C),
)

_COUNT = Catalogue(
    RAISED.with_example(lambda config: config.n_embed * config.vocab_size),  # a misspelt field
    Mistake("tensor_count", "return a Python int, not a tensor: use .item() or count with plain integers",
            example=lambda config: torch.tensor(param_count(config))),
    Mistake("float_count", "return an int, not a {type} ({got}): a parameter count is a whole number (use // or int())",
            example=lambda config: float(param_count(config)), shows="return an int, not a float"),
    Mistake("not_a_count", "returned a {type} ({got!r}), expected an int",
            example=lambda config: f"{param_count(config):,}"),
    *_COUNT_BY_OUTPUT,
    Mistake("wrong_count", _COUNT_IS + "compare your count piece by piece with the table in section 4",
            example=lambda config: param_count(config) + config.n_head,
            shows="for GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768) the count is "
                  "124,439,808 but you returned 124,439,820"),
    Mistake("depends_on_heads", "your count changes with n_head; it should not: splitting n_embd channels into heads "
                                "only reshapes them, it adds no weights",
            example=lambda config: param_count(config) + (config.n_head == 8)),
)


@exercise(_NOTEBOOK, "gpt2_param_count",
          "correct: V·C + T·C + L·(12C² + 13C) + 2C, with the tied head counted once (GPT-2 small: 124,439,808).",
          signature="config", mistakes=_COUNT)
def check_gpt2_param_count(student) -> None:
    """Check ``student(config) -> int`` against gptlib's ``param_count`` on several sizes."""
    for config in _COUNT_CASES:
        got = call(student, copy.copy(config))  # a copy: the student's function could change its fields
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            raise _COUNT.tensor_count.wrong()
        if not is_int(got):
            if is_number(got) and float(got).is_integer():
                raise _COUNT.float_count.wrong(type=type(got).__name__, got=got)
            raise _COUNT.not_a_count.wrong(type=type(got).__name__, got=got)
        got, expected = int(got), param_count(config)
        if got != expected:
            shown = dict(config=config, expected=expected, got=got, diff=got - expected)
            for mistake in _COUNT_BY_OUTPUT:
                if got == mistake.example(config):
                    raise mistake.wrong(**shown)
            raise _COUNT.wrong_count.wrong(**shown)
    other = _COUNT_CASES[2]
    heads = _Config(other.vocab_size, other.block_size, other.n_layer, 8, other.n_embd)
    if call(student, heads) != param_count(heads):
        raise _COUNT.depends_on_heads.wrong()


# ------------------------------------------------------------------ exercise 2: the embedding step


def _embedding_case(B: int, T: int, V: int, block_size: int, C: int, seed: int, high: int):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, high, (B, T), generator=g)
    wte = torch.randn(V, C, generator=g)
    wpe = torch.randn(block_size, C, generator=g)
    return idx, wte, wpe


def _embedding(idx, wte, wpe):
    """The exercise's one line, as GPT.forward computes it: x = wte[idx] + wpe[arange(T)]."""
    return wte[idx] + wpe[torch.arange(idx.size(1))]


def _writes_into_tables(idx, wte, wpe):
    out = wte[idx]
    wpe[: idx.size(1)] *= 1.0  # a harmless-looking write is still a write
    wte.add_(0.0)
    out += wpe[: idx.size(1)]
    wte[0, 0] += 1.0
    return out


def _whole_block(idx, wte, wpe):
    x = wpe.expand(idx.size(0), -1, -1).clone()  # (B, block_size, C): every position of the block
    x[:, : idx.size(1)] += wte[idx]
    return x


def _positions(idx, wpe):
    return wpe[: idx.size(1)].expand(idx.size(0), -1, -1)


_EMBED = Catalogue(
    RAISED.with_example(lambda idx, wte, wpe: wte[idx] + wpe, "raised RuntimeError"),  # all block_size rows of wpe
    Mistake("changed_input", "your function changed `{name}` in place; compute a new tensor instead (for example "
                             "tok_emb + pos_emb rather than +=)",
            example=_writes_into_tables, shows="changed `wte` in place"),
    Mistake("concatenated", "your vectors are 2 * n_embd wide: GPT adds the position embedding to the token "
                            "embedding, it does not concatenate them",
            example=lambda idx, wte, wpe: torch.cat([wte[idx], _positions(idx, wpe)], dim=-1)),
    Mistake("all_positions", "with T={T} and block_size={block_size} you returned {block_size} positions: use only "
                             "the first T rows of wpe, one per position of the input",
            example=_whole_block),
    NOT_A_TENSOR.with_example(lambda idx, wte, wpe: _embedding(idx, wte, wpe).tolist(), "returned a list"),
    WRONG_SHAPE.with_example(lambda idx, wte, wpe: _embedding(idx, wte, wpe)[:, :1],
                             "returned shape (2, 1, 6), expected (2, 5, 6)"),
    NOT_FLOAT.with_example(lambda idx, wte, wpe: _embedding(idx, wte, wpe).long()),
    NOT_FINITE.with_example(lambda idx, wte, wpe: _embedding(idx, wte, wpe) / 0),
    Mistake("tokens_only", "you returned the token embeddings only: add the position embedding, "
                           "wpe[torch.arange(T)], so the model knows where each token is",
            example=lambda idx, wte, wpe: wte[idx]),
    Mistake("positions_by_token_id", "you looked up wpe with the token ids; its rows are positions: the token at "
                                     "position t gets wpe[t], so use wpe[torch.arange(T)]",
            example=lambda idx, wte, wpe: wte[idx] + wpe[idx]),
    Mistake("multiplied", "you multiplied the two embeddings; GPT adds them: tok_emb + pos_emb",
            example=lambda idx, wte, wpe: wte[idx] * wpe[: idx.size(1)]),
    Mistake("positions_only", "you returned the position embeddings only: add the token embedding, wte[idx]",
            example=lambda idx, wte, wpe: _positions(idx, wpe).clone()),
    Mistake("wrong_vectors", "for idx of shape {shape}, x[{b}, {t}] should be {want} but is {got}",
            example=lambda idx, wte, wpe: wte[idx] + wpe[: idx.size(1)].flip(0),
            shows="for idx of shape (2, 5), x[0, 1] should be"),
)


@exercise(_NOTEBOOK, "embed", "correct: x = wte[idx] + wpe[arange(T)], the position vectors broadcast over the batch.",
          signature="idx, wte, wpe", mistakes=_EMBED)
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
                raise _EMBED.changed_input.wrong(name=name)
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, 2 * C):
            raise _EMBED.concatenated.wrong()
        if isinstance(got, torch.Tensor) and got.ndim == 3 and tuple(got.shape) == (B, block_size, C) \
                and T != block_size:
            raise _EMBED.all_positions.wrong(T=T, block_size=block_size)
        got = expect_tensor(got, (B, T, C), "your function")
        expected = _embedding(idx, wte, wpe)
        if torch.allclose(got, expected, atol=1e-5):
            continue
        recognisable = [_EMBED.tokens_only, _EMBED.multiplied, _EMBED.positions_only]
        if high <= block_size:  # every id is also a position
            recognisable.insert(1, _EMBED.positions_by_token_id)
        for mistake in recognisable:
            if torch.allclose(got, mistake.example(idx, wte, wpe), atol=1e-5):
                raise mistake.wrong()
        b, t = divmod(int((got - expected).abs().sum(dim=-1).argmax()), T)
        raise _EMBED.wrong_vectors.wrong(shape=(B, T), b=b, t=t, want=fmt(expected[b, t]), got=fmt(got[b, t]))


# ------------------------------------------------------------------ exercise 3: the tied LM head


def _doubles_x(x, wte):
    x.mul_(2.0)  # writes into the caller's tensor
    return x @ wte.T


_LOGITS = Catalogue(
    RAISED.with_example(lambda x, wte: torch.mm(x, wte.T)),  # mm takes matrices, x is (B, T, C)
    Mistake("changed_input", "your function changed `x` or `wte` in place; compute a new tensor instead",
            example=_doubles_x),
    Mistake("one_per_channel", "you returned shape {got}, one number per channel; the head gives one score per "
                               "vocabulary entry, (B, T, V) = {want}",
            example=lambda x, wte: x @ wte.T[:, : x.size(-1)]),
    NOT_A_TENSOR.with_example(lambda x, wte: (x @ wte.T).tolist()),
    WRONG_SHAPE.with_example(lambda x, wte: (x @ wte.T)[:, -1]),  # the last position only
    NOT_FLOAT.with_example(lambda x, wte: (x @ wte.T).long(), "returned dtype torch.int64"),
    NOT_FINITE.with_example(lambda x, wte: x @ wte.T / 0),
    Mistake("x_unchanged", "you returned x unchanged; the head turns each vector into one score per vocabulary "
                           "entry: logits = x @ wte.T",
            example=lambda x, wte: x),
    Mistake("not_transposed", "you multiplied by wte, not by its transpose: the score of token v is the dot product "
                              "of x with row v of wte, so logits = x @ wte.T",
            example=lambda x, wte: x @ wte),
    Mistake("probabilities", "you returned probabilities (a softmax); the head returns raw scores, the logits: the "
                             "softmax comes later, in the loss or when sampling",
            example=lambda x, wte: torch.softmax(x @ wte.T, dim=-1)),
    Mistake("log_probabilities", "you returned log-probabilities (log_softmax); the head returns raw scores, the "
                                 "logits, without normalising them",
            example=lambda x, wte: torch.log_softmax(x @ wte.T, dim=-1)),
    Mistake("scaled", "you divided by sqrt(n_embd); that scaling belongs to attention scores, the LM head is a plain "
                      "x @ wte.T",
            example=lambda x, wte: x @ wte.T / x.size(-1) ** 0.5),
    Mistake("wrong_logits", "with V={V} and C={C}, logits[{b}, {t}] should be {want} but is {got}",
            example=lambda x, wte: x @ wte.T + 1.0, shows="logits[0, 0] should be"),
    Mistake("cut_off_from_wte", "your logits are cut off from wte (detach, .data or a copy without gradient?): "
                                "training must update wte through the head, that is the point of tying",
            example=lambda x, wte: x @ wte.detach().T),
    Mistake("gradient_lost", "the gradient of your logits does not reach wte as it should: compute them directly "
                             "from the wte you were given, x @ wte.T",
            example=lambda x, wte: x @ torch.nn.Parameter(wte).T),  # a new leaf: its gradient stops there
)


@exercise(_NOTEBOOK, "lm_head_logits",
          "correct: logits = x @ wte.T, every token scored by the dot product with its own embedding.",
          signature="x, wte", mistakes=_LOGITS)
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
            raise _LOGITS.changed_input.wrong()
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (B, T, C) and V != C:
            raise _LOGITS.one_per_channel.wrong(got=(B, T, C), want=(B, T, V))
        got = expect_tensor(got, (B, T, V), "your function")
        with torch.no_grad():
            expected = x @ wte.T  # the definition: gptlib's GPT computes it as lm_head, a Linear sharing wte
            g_ = got.detach()
            if not torch.allclose(g_, expected, atol=1e-4):
                # (mistake, tolerance, whether it only shows when V == C)
                for mistake, atol, square_only in ((_LOGITS.x_unchanged, 1e-6, True),
                                                   (_LOGITS.not_transposed, 1e-4, True),
                                                   (_LOGITS.probabilities, 1e-5, False),
                                                   (_LOGITS.log_probabilities, 1e-4, False),
                                                   (_LOGITS.scaled, 1e-4, False)):
                    if (V == C or not square_only) and torch.allclose(g_, mistake.example(x, wte), atol=atol):
                        raise mistake.wrong()
                b, t = divmod(int((g_ - expected).abs().sum(dim=-1).argmax()), T)
                raise _LOGITS.wrong_logits.wrong(V=V, C=C, b=b, t=t, want=fmt(expected[b, t]), got=fmt(g_[b, t]))
        if not got.requires_grad:
            raise _LOGITS.cut_off_from_wte.wrong()
        (grad,) = torch.autograd.grad(got.sum(), wte, allow_unused=True)
        if grad is None or not torch.allclose(grad, x.sum(dim=(0, 1)).expand(V, C), atol=1e-4):
            raise _LOGITS.gradient_lost.wrong()
