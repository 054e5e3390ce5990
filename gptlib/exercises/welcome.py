"""Exercises of notebook 00_welcome: add-one (Laplace) smoothing of bigram counts; a numerical gradient.

The gradient's checker compares with autograd. Central differences of a cubic are off by exactly
eps² (``((x + e)³ − (x − e)³) / 2e = 3x² + e²``; the product term's are exact), so the answer it
expects for any ``eps`` is autograd's gradient plus ``eps²``:

>>> x = _X.clone()
>>> [round(v, 9) for v in (_central(_cubic, x, 1e-2) - _autograd(_cubic, x)).tolist()]
[0.0001, 0.0001, 0.0001, 0.0001]
"""

from __future__ import annotations

import torch

from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, call, close,
                    exercise, expect_tensor, first_match, fmt, furthest)

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
    Mistake("missing_keepdim", "with alpha={alpha}, row {row} sums to {total:.3f}, not 1: entry [i, j] was divided by "
                               "the total of row j, not of row i. Likely cause: a missing keepdim. `.sum(dim=-1)` "
                               "has shape {summed}, which broadcasts along the last axis (one total per column); "
                               "`.sum(dim=-1, keepdim=True)` has shape {kept}, one total per row",
            example=lambda counts, alpha: (counts + alpha) / (counts + alpha).sum(dim=-1),
            shows="Likely cause: a missing keepdim. `.sum(dim=-1)` has shape (4,)"),
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
            square = probs.shape[0] == probs.shape[1]  # only then does a total per row broadcast along the columns
            if square and close(probs, _MISTAKES.missing_keepdim.example(counts, alpha), tol=1e-5):
                summed = tuple(counts.sum(dim=-1).shape)
                raise _MISTAKES.missing_keepdim.wrong(alpha=alpha, row=bad, total=row_sums[bad], summed=summed,
                                                      kept=tuple(counts.sum(dim=-1, keepdim=True).shape))
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


# --------------------------------------------------------------------------- 2. a numerical gradient

_X = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """A scalar function of a 1-D tensor: sum of cubes plus one product, so the entries' derivatives differ."""
    return (x ** 3).sum() + x[0] * x[1]


def _autograd(f, x: torch.Tensor) -> torch.Tensor:
    """The gradient of ``f`` at ``x``, by autograd (on a copy: ``x`` itself is left alone)."""
    x = x.detach().clone().requires_grad_(True)
    f(x).backward()
    return x.grad


def _central_answer(x: torch.Tensor, eps: float) -> torch.Tensor:
    """What central differences of :func:`_cubic` give, exactly: autograd's gradient plus eps² per entry."""
    return _autograd(_cubic, x) + eps ** 2


def _unit(x: torch.Tensor, i: int) -> torch.Tensor:
    return torch.zeros_like(x).index_fill_(0, torch.tensor([i]), 1.0)


def _central(f, x, eps):
    """Central differences, entry by entry: only for the wrong examples below that get the method right and
    something else wrong (the dtype, the eps)."""
    return torch.stack([(f(x + eps * _unit(x, i)) - f(x - eps * _unit(x, i))) / (2 * eps) for i in range(len(x))])


def _nudged_in_place(f, x, eps=1e-4):
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        x[i] += eps  # writes into the caller's x, and never puts it back
        plus = f(x)
        x[i] -= 2 * eps
        grad[i] = (plus - f(x)) / (2 * eps)
    return grad


_GRADIENT = Catalogue(
    RAISED.with_example(lambda f, x, eps=1e-4: f(x.tolist()), "raised TypeError"),  # f needs a tensor
    NOT_A_TENSOR.with_example(
        lambda f, x, eps=1e-4: [((f(x + eps * _unit(x, i)) - f(x - eps * _unit(x, i))) / (2 * eps)).item()
                                for i in range(len(x))], "returned a list"),
    Mistake("one_number", "with eps={eps}, your function returned one number (shape {got}); the gradient has one "
                          "entry per entry of x, shape {want}: nudge one entry at a time, x + eps * e_i with e_i the "
                          "i-th unit vector (all zeros but a 1 at i)",
            example=lambda f, x, eps=1e-4: (f(x + eps) - f(x - eps)) / (2 * eps)),  # all entries nudged at once
    WRONG_SHAPE.with_example(lambda f, x, eps=1e-4: _autograd(f, x)[:2], "returned shape (2,), expected (4,)"),
    Mistake("changed_x", "your function changed x in place (entry {i} is now {got!r}, was {want!r}); nudge a "
                         "copy, x + eps * e_i, or x.clone(): adding eps and subtracting it again need not give "
                         "back the same float",
            example=_nudged_in_place),
    Mistake("lost_precision", "with eps={eps}, your gradient has dtype {got} for an x of dtype {want}: f(x + eps) "
                              "and f(x - eps) agree in most of their digits, and their difference keeps only the "
                              "rest; keep x's dtype (a float32 difference keeps about 7 digits in all)",
            example=lambda f, x, eps=1e-4: _central(f, x.float(), eps)),
    Mistake("forward_difference", "with eps={eps}, entry {i} is {got:.6f}, autograd gives {exact:.6f}: that is the "
                                  "forward difference (f(x + eps*e_i) - f(x)) / eps, whose error shrinks like eps; "
                                  "central differences, (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps), err like eps²",
            example=lambda f, x, eps=1e-4: torch.stack([(f(x + eps * _unit(x, i)) - f(x)) / eps
                                                        for i in range(len(x))])),
    Mistake("not_halved", "with eps={eps}, your gradient is twice the right one (entry {i}: {got:.4f}, expected "
                          "{want:.4f}): x + eps*e_i and x - eps*e_i are 2*eps apart, so divide by 2*eps",
            example=lambda f, x, eps=1e-4: torch.stack([(f(x + eps * _unit(x, i)) - f(x - eps * _unit(x, i))) / eps
                                                        for i in range(len(x))])),
    Mistake("ignored_eps", "called with eps={eps}, your function gives what a tiny eps gives (eps=0.0001, or "
                           "autograd) instead: entry {i} is {got:.6f}, central differences with eps={eps} give "
                           "{want:.6f}; use the eps you are given",
            example=lambda f, x, eps=1e-4: _central(f, x, 1e-4)),
    Mistake("wrong_values", "with eps={eps} at x = {x}, entry {i} of your gradient is {got:.6f}, expected {want:.6f} "
                            "(autograd gives {exact:.6f}; central differences add eps² = {eps2:.0e} here)",
            example=lambda f, x, eps=1e-4: _autograd(f, x) * 1.01,
            shows="entry 3 of your gradient is 27.270000, expected 27.000000"),
)


@exercise("00_welcome", "numerical_gradient",
          "correct: your central differences agree with autograd, up to the eps² that the method itself costs.",
          signature="f, x, eps=1e-4", mistakes=_GRADIENT)
def check_numerical_gradient(student) -> None:
    """Check ``student(f, x, eps) -> grad``: central differences of a scalar ``f`` at a 1-D ``x``, entry by entry."""
    for eps in (None, 0.1):  # None: the default eps=1e-4, as a student calls it
        x = _X.clone()  # a fresh copy each time: a function that writes into x must not change the cases
        used = 1e-4 if eps is None else eps
        got = call(student, _cubic, x) if eps is None else call(student, _cubic, x, eps=eps)
        if isinstance(got, torch.Tensor) and got.ndim == 0:
            raise _GRADIENT.one_number.wrong(eps=used, got=tuple(got.shape), want=tuple(x.shape))
        got = expect_tensor(got, x.shape)
        if not torch.equal(x, _X):
            i = int((x != _X).nonzero()[0])
            raise _GRADIENT.changed_x.wrong(i=i, got=x[i].item(), want=_X[i].item())
        if got.dtype != x.dtype:
            raise _GRADIENT.lost_precision.wrong(eps=used, got=got.dtype, want=x.dtype)
        want, exact = _central_answer(x, used), _autograd(_cubic, x)
        if close(got, want, tol=1e-7):
            continue
        mistake = first_match(got, [_GRADIENT.forward_difference, _GRADIENT.not_halved, _GRADIENT.ignored_eps],
                              _cubic, x, used, same=lambda a, b: close(a, b, tol=1e-7))
        (i,) = furthest(got, want)
        values = dict(eps=used, i=i, got=got[i].item(), want=want[i].item(), exact=exact[i].item())
        if mistake is not None:
            raise mistake.wrong(**values)
        raise _GRADIENT.wrong_values.wrong(x=fmt(x), eps2=used ** 2, **values)
