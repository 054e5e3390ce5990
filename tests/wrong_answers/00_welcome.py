"""Wrong answers to the exercises of 00_welcome beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/welcome.py)."""

import torch

WRONG = {
    "00_welcome.smoothed_bigram_probs": [
        # no smoothing at all: the empty row stays all zeros
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1), "sums to 0.000"),
        # the row totals without keepdim, written another way: sum(1), then divide
        (lambda c, a: c.float().add(a).div(c.float().add(a).sum(1)), "Likely cause: a missing keepdim"),
    ],
    "00_welcome.numerical_gradient": [
        # the backward difference (f(x) - f(x - eps e_i)) / eps: as wrong as the forward one, the other way
        (lambda f, x, eps=1e-4: torch.stack([(f(x) - f(x - eps * torch.eye(len(x), dtype=x.dtype)[i])) / eps
                                             for i in range(len(x))]), "entry 3 of your gradient is 26.999"),
        # autograd instead of differences: right for a tiny eps, but not what eps=0.1 gives
        (lambda f, x, eps=1e-4: torch.func.grad(f)(x), "with eps=0.1"),
    ],
}
