"""Wrong answers to the exercise of 00_welcome beyond its catalogue's examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/welcome.py)."""

WRONG = {
    "00_welcome.smoothed_bigram_probs": [
        # no smoothing at all: the empty row stays all zeros
        (lambda c, a: c.float() / c.float().sum(dim=-1, keepdim=True).clamp(min=1), "sums to 0.000"),
    ],
}
