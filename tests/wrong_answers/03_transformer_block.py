"""Wrong answers to the exercises of 03_transformer_block beyond their catalogues' examples, each with a piece of
the message the student must see (the typical mistakes and their examples are in gptlib/exercises/block.py)."""

import torch


def _silences_the_mlp(x, ln_1, attn, ln_2, mlp):
    with torch.no_grad():  # writes into the checker's modules: its answer must not follow
        mlp.c_proj.weight.zero_()
        mlp.c_proj.bias.zero_()
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


WRONG = {
    "03_transformer_block.block_forward": [
        (_silences_the_mlp, "you stopped after attention"),
    ],
}
