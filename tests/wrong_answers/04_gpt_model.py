"""Wrong answers to the exercises of 04_gpt_model, each with a piece of the message the student must see."""

import torch


def _count(c, head=1, wpe=1, ln_f=2, block_ln=4, lin_bias=9, mlp=4, layers=None):
    V, T, L, C = c.vocab_size, c.block_size, c.n_layer, c.n_embd
    per_block = block_ln * C + (3 * C * C) + (C * C) + 2 * mlp * C * C + lin_bias * C
    return head * V * C + wpe * T * C + (layers or L) * per_block + ln_f * C


def _embed_in_place(idx, wte, wpe):
    out = wte[idx]
    wpe[: idx.size(1)] *= 1.0  # a harmless-looking write is still a write
    wte.add_(0.0)
    out += wpe[: idx.size(1)]
    wte[0, 0] += 1.0
    return out


def _logits_in_place(x, wte):
    x.mul_(2.0)
    return x @ wte.T


WRONG = {
    "04_gpt_model.gpt2_param_count": [
        (lambda c: _count(c, head=2), "it is tied to wte"),
        (lambda c: _count(c, wpe=0), "the position embedding wpe (block_size x n_embd) is missing"),
        (lambda c: _count(c, ln_f=0), "the final LayerNorm ln_f (gain and bias, 2 * n_embd) is missing"),
        (lambda c: _count(c, ln_f=1, block_ln=2), "every LayerNorm has a bias as well as a gain"),
        (lambda c: _count(c, block_ln=0), "the two LayerNorms of each block"),
        (lambda c: _count(c, lin_bias=0), "the biases of the four Linear layers"),
        (lambda c: _count(c, mlp=1), "the MLP is 4 * n_embd wide"),
        (lambda c: _count(c, layers=1), "you counted one block"),
        (lambda c: float(_count(c)), "return an int, not a float"),
        (lambda c: torch.tensor(_count(c)), "return a Python int, not a tensor"),
        (lambda c: _count(c) + c.n_head, "for GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, "
                                         "n_embd=768) the count is 124,439,808 but you returned 124,439,820"),
        (lambda c: _count(c) + (c.n_head == 8), "your count changes with n_head"),
    ],
    "04_gpt_model.embed": [
        (lambda idx, wte, wpe: wte[idx], "you returned the token embeddings only"),
        (lambda idx, wte, wpe: wte[idx] + wpe[idx], "you looked up wpe with the token ids"),
        (lambda idx, wte, wpe: wte[idx] * wpe[: idx.size(1)], "you multiplied the two embeddings"),
        (lambda idx, wte, wpe: torch.cat([wte[idx], wpe[: idx.size(1)].expand(idx.size(0), -1, -1)], dim=-1),
         "it does not concatenate them"),
        (lambda idx, wte, wpe: wte[idx] + wpe, "raised RuntimeError"),
        (lambda idx, wte, wpe: wte[idx][:, :1] + wpe[:1] if idx.size(1) > 1 else wte[idx] + wpe[:1],
         "returned shape (2, 1, 6), expected (2, 5, 6)"),
        (lambda idx, wte, wpe: wte[idx] + wpe[: idx.size(1)].flip(0), "for idx of shape (2, 5), x[0, 1] should be"),
        (lambda idx, wte, wpe: (wte[idx] + wpe[: idx.size(1)]).tolist(), "returned a list"),
        (lambda idx, wte, wpe: wpe[: idx.size(1)].expand(idx.size(0), -1, -1).clone(),
         "you returned the position embeddings only"),
        (_embed_in_place, "changed `wte` in place"),
    ],
    "04_gpt_model.lm_head_logits": [
        (lambda x, wte: x @ wte, "you multiplied by wte, not by its transpose"),
        (lambda x, wte: torch.softmax(x @ wte.T, dim=-1), "you returned probabilities"),
        (lambda x, wte: torch.log_softmax(x @ wte.T, dim=-1), "you returned log-probabilities"),
        (lambda x, wte: x @ wte.T / x.size(-1) ** 0.5, "you divided by sqrt(n_embd)"),
        (lambda x, wte: x @ wte.detach().T, "your logits are cut off from wte"),
        (lambda x, wte: x @ wte.data.T, "your logits are cut off from wte"),
        (lambda x, wte: x @ wte.T + 1.0, "logits[0, 0] should be"),
        (lambda x, wte: (x @ wte.T).long(), "returned dtype torch.int64"),
        (lambda x, wte: x, "you returned x unchanged"),
        (lambda x, wte: x @ wte.T[:, : x.size(-1)], "one number per channel"),
        (_logits_in_place, "changed `x` or `wte` in place"),
    ],
}
