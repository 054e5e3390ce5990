"""Wrong answers to the exercises of 02_self_attention beyond their catalogues' examples, each with a piece of
the message the student must see (the typical mistakes and their examples are in gptlib/exercises/attention.py)."""

import torch


def _leaky_mask(T):
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    mask[2:, 2:] = True  # the last positions all see each other
    return mask


def _band(T):  # only the two most recent positions
    ones = torch.ones(T, T, dtype=torch.bool)
    return ones.tril() & ~ones.tril(-2)


WRONG = {
    "02_self_attention.causal_mask": [
        (_leaky_mask, "position 2 attends to position 3, a future token"),
        (_band, "position 2 cannot attend to position 0, an earlier token"),
    ],
}
