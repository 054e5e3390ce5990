"""Wrong answers to the exercise of 00_welcome, each with a piece of the message the student must see."""


def _mutating(c, a):
    c += 1
    return c.float() / c.float().sum(dim=-1, keepdim=True)


WRONG = {
    "00_welcome.smoothed_bigram_probs": [
        (lambda c, a: (c + a) / (c + a).sum(dim=0, keepdim=True), "your columns sum to 1, not your rows"),
        (lambda c, a: (c.float() + a) / c.float().sum(dim=-1, keepdim=True).clamp(min=1),
         "your weights do not sum to 1 along the last axis: row 3 sums to 4.000"),
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1) if a == 0
         else (c.float() + 1) / (c.float() + 1).sum(dim=-1, keepdim=True),
         "with alpha=0.5, row 0 should be [0.062, 0.688, 0.188, 0.062] but is [0.100, 0.600, 0.200, 0.100]"),
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1), "sums to 0.000"),
        (lambda c, a: c // c.sum(-1, keepdim=True).clamp(min=1), "returned dtype torch.int64"),
        (lambda c, a: ((c.float() + a) / (c.float() + a).sum(-1, keepdim=True)).tolist(), "returned a list"),
        (lambda c, a: c.float()[:2], "returned shape (2, 4), expected (4, 4)"),
        (lambda c, a: c.div_(c.sum(-1, keepdim=True)), "raised RuntimeError"),
        (lambda c, a: c.float() / 0, "inf or nan"),
        (_mutating, "changed `counts` in place"),
    ],
}
