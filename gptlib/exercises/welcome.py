"""Exercise of notebook 00_welcome: add-one (Laplace) smoothing of bigram counts."""

from __future__ import annotations

import torch

from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, call, exercise,
                    expect_tensor, fmt)

# Bigram counts over a 4-token vocabulary. Row i holds how often each token followed token i.
# Row 3 is all zeros: token 3 was only ever seen at the very end of the text.
_COUNTS = torch.tensor([[0, 5, 1, 0],
                        [2, 0, 2, 0],
                        [1, 1, 1, 1],
                        [0, 0, 0, 0]])


def _normalised(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(dim=-1, keepdim=True)


def _adds_into_counts(counts, alpha):
    counts += 1  # writes into the caller's tensor
    return _normalised(counts.float())


_MISTAKES = Catalogue(
    RAISED.with_example(lambda counts, alpha: counts.div_(counts.sum(-1, keepdim=True)), "raised RuntimeError"),
    NOT_A_TENSOR.with_example(lambda counts, alpha: _normalised(counts + alpha).tolist(), "returned a list"),
    WRONG_SHAPE.with_example(lambda counts, alpha: counts.float()[:2], "returned shape (2, 4), expected (4, 4)"),
    NOT_FLOAT.with_example(lambda counts, alpha: counts // counts.sum(-1, keepdim=True).clamp(min=1),
                           "returned dtype torch.int64"),
    NOT_FINITE.with_example(lambda counts, alpha: counts.float() / 0, "inf or nan"),
    Mistake("changed_counts", "your function changed `counts` in place; compute a new tensor instead",
            example=_adds_into_counts),
    Mistake("negative", "with alpha={alpha}, some probabilities are negative",
            example=lambda counts, alpha: _normalised(counts - alpha * (counts == 0))),  # alpha taken from unseen
    Mistake("columns_sum_to_one", "your columns sum to 1, not your rows: normalise each row, "
                                  "e.g. divide by .sum(dim=-1, keepdim=True)",
            example=lambda counts, alpha: (counts + alpha) / (counts + alpha).sum(dim=0, keepdim=True)),
    Mistake("rows_do_not_sum_to_one", "with alpha={alpha}, your weights do not sum to 1 along the last axis: "
                                      "row {row} sums to {total:.3f}",
            example=lambda counts, alpha: (counts + alpha) / counts.sum(dim=-1, keepdim=True).clamp(min=1),  # alpha
            shows="your weights do not sum to 1 along the last axis: row 3 sums to 4.000"),  # left out of the total
    Mistake("unseen_pair_impossible", "with alpha={alpha}, P(next={j} | current={i}) is 0: smoothing adds alpha "
                                      "to every count, seen or not",
            example=lambda counts, alpha: _normalised(counts + alpha * (counts.sum(-1, keepdim=True) == 0))),
    Mistake("wrong_probabilities", "with alpha={alpha}, row {row} should be {want} but is {got}",
            example=lambda counts, alpha: _normalised(counts + 1.0),  # adds one, whatever alpha says
            shows="with alpha=0.5, row 0 should be [0.062, 0.688, 0.188, 0.062] but is "
                  "[0.100, 0.600, 0.200, 0.100]"),
)


@exercise("00_welcome", "smoothed_bigram_probs",
          "correct: every row is a probability distribution and no next token has probability 0.",
          signature="counts, alpha=1.0", mistakes=_MISTAKES)
def check_smoothed_bigram_probs(student) -> None:
    """Check ``student(counts, alpha) -> probs`` with probs[i, j] = (counts[i, j] + alpha) / row total."""
    for alpha in (1.0, 0.5, 0.0):
        # A fresh copy each time: a student's function that writes into its input must not change the cases.
        counts = (_COUNTS[:3] if alpha == 0.0 else _COUNTS).clone()  # alpha = 0: plain counting, no empty rows
        original = counts.clone()
        probs = expect_tensor(call(student, counts, alpha), counts.shape)
        if not torch.equal(counts, original):
            raise _MISTAKES.changed_counts.wrong()
        if (probs < 0).any():
            raise _MISTAKES.negative.wrong(alpha=alpha)
        row_sums = probs.sum(dim=-1)
        if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-5):
            col_sums = probs.sum(dim=0)
            if torch.allclose(col_sums, torch.ones_like(col_sums), atol=1e-5):
                raise _MISTAKES.columns_sum_to_one.wrong()
            bad = int((row_sums - 1).abs().argmax())
            raise _MISTAKES.rows_do_not_sum_to_one.wrong(alpha=alpha, row=bad, total=row_sums[bad])
        # The exercise's formula itself: gptlib's bigram_probs counts pairs from ids, here the counts are given.
        expected = _normalised(counts + alpha)
        if alpha > 0 and (probs == 0).any():
            i, j = (probs == 0).nonzero()[0].tolist()
            raise _MISTAKES.unseen_pair_impossible.wrong(alpha=alpha, i=i, j=j)
        if not torch.allclose(probs, expected.to(probs.dtype), atol=1e-5):
            bad = int((probs - expected).abs().sum(dim=-1).argmax())
            raise _MISTAKES.wrong_probabilities.wrong(alpha=alpha, row=bad, want=fmt(expected[bad]),
                                                      got=fmt(probs[bad]))
