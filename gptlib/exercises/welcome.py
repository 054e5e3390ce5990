"""Exercise of notebook 00_welcome: add-one (Laplace) smoothing of bigram counts."""

from __future__ import annotations

import torch

from ._core import Wrong, call, exercise, expect_tensor, fmt

# Bigram counts over a 4-token vocabulary. Row i holds how often each token followed token i.
# Row 3 is all zeros: token 3 was only ever seen at the very end of the text.
_COUNTS = torch.tensor([[0, 5, 1, 0],
                        [2, 0, 2, 0],
                        [1, 1, 1, 1],
                        [0, 0, 0, 0]])


@exercise("00_welcome", "smoothed_bigram_probs",
          "correct: every row is a probability distribution and no next token has probability 0.")
def check_smoothed_bigram_probs(student) -> None:
    """Check ``student(counts, alpha) -> probs`` with probs[i, j] = (counts[i, j] + alpha) / row total."""
    for alpha in (1.0, 0.5, 0.0):
        # A fresh copy each time: a student's function that writes into its input must not change the cases.
        counts = (_COUNTS[:3] if alpha == 0.0 else _COUNTS).clone()  # alpha = 0: plain counting, no empty rows
        original = counts.clone()
        probs = expect_tensor(call(student, counts, alpha), counts.shape)
        if not torch.equal(counts, original):
            raise Wrong("your function changed `counts` in place; compute a new tensor instead")
        if (probs < 0).any():
            raise Wrong(f"with alpha={alpha}, some probabilities are negative")
        row_sums = probs.sum(dim=-1)
        if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-5):
            col_sums = probs.sum(dim=0)
            if torch.allclose(col_sums, torch.ones_like(col_sums), atol=1e-5):
                raise Wrong("your columns sum to 1, not your rows: normalise each row, "
                            "e.g. divide by .sum(dim=-1, keepdim=True)")
            bad = int((row_sums - 1).abs().argmax())
            raise Wrong(f"with alpha={alpha}, your weights do not sum to 1 along the last axis: "
                        f"row {bad} sums to {row_sums[bad]:.3f}")
        expected = (counts + alpha) / (counts + alpha).sum(dim=-1, keepdim=True)
        if alpha > 0 and (probs == 0).any():
            i, j = (probs == 0).nonzero()[0].tolist()
            raise Wrong(f"with alpha={alpha}, P(next={j} | current={i}) is 0: smoothing adds alpha to "
                        f"every count, seen or not")
        if not torch.allclose(probs, expected.to(probs.dtype), atol=1e-5):
            bad = int((probs - expected).abs().sum(dim=-1).argmax())
            raise Wrong(f"with alpha={alpha}, row {bad} should be {fmt(expected[bad])} "
                        f"but is {fmt(probs[bad])}")
