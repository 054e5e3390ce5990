"""Exercises of notebook 05_likelihood: the mean NLL from logits, perplexity and bits, the entropy of a distribution."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..objective import bits, mean_nll, perplexity, token_nll
from ._core import RAISED, Catalogue, Mistake, as_float, call, exercise, first_match, fmt


def _close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-5) -> bool:
    return math.isfinite(a) and abs(a - b) <= max(abs_, rel * abs(b))


def _same(pick=float):
    """How a number is compared with a wrong example's answer (``pick`` finds the number in that answer)."""
    return lambda value, answer: _close(value, pick(answer))


# Every checker here reads numbers through _as_number, so each of its catalogues lists these two.
_TENSOR_NOT_A_NUMBER = Mistake("tensor_not_a_number", "{what} is a tensor of shape {shape}; expected one number")
_NOT_A_NUMBER = Mistake("not_a_number", "{what} is a {got}, expected a number")


def _as_number(value, what: str) -> float:
    """A Python number or a one-element tensor, as a float; anything else is reported."""
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise _TENSOR_NOT_A_NUMBER.wrong(what=what, shape=tuple(value.shape))
    number = as_float(value)
    if number is None:
        raise _NOT_A_NUMBER.wrong(what=what, got=type(value).__name__)
    return number


# ------------------------------------------------------------------ 1. the mean NLL from logits


def _nll_case(seed: int, B: int, T: int, V: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, V, generator=g) * scale, torch.randint(V, (B, T), generator=g)


def _target_entries(t: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return t.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _normalised_over(logits: torch.Tensor, dim: int) -> torch.Tensor:
    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)


def _naive_nll(logits, targets):
    e = logits.exp()  # overflows for big logits
    return -_target_entries((e / e.sum(dim=-1, keepdim=True)).log(), targets).mean()


def _subtracts_in_place(logits, targets):
    logits -= torch.logsumexp(logits, dim=-1, keepdim=True)  # writes into the caller's tensor
    return -_target_entries(logits, targets).mean()


def _log_of_softmax(logits, targets):
    return -_target_entries(torch.softmax(logits, dim=-1).log(), targets).mean()  # softmax rounds e^-200 to 0


def _epsilon_in_log(logits, targets):
    return -_target_entries((torch.softmax(logits, dim=-1) + 1e-10).log(), targets).mean()  # caps -log P near 23


def _probability(logits, targets):
    return (-token_nll(logits, targets)).exp()  # P(target) at every position


# Recognised by comparing the loss with the example's, in this order. {where} says which case it was.
_NLL_BY_OUTPUT = (
    Mistake("minus_sign_missing", "{where}your loss is negative: you forgot the minus sign. log P is at most 0, and "
                                  "the loss is -log P, so that it is at least 0 and smaller is better",
            example=lambda logits, targets: -mean_nll(logits, targets)),
    Mistake("bits", "{where}your loss is in bits: you used log base 2. The loss is measured in nats, with the natural "
                    "log (torch.log, log_softmax); divide by ln 2 only to report bits",
            example=lambda logits, targets: mean_nll(logits, targets) / math.log(2)),
    Mistake("summed", "{where}you summed the losses of the tokens instead of averaging them (use .mean())",
            example=lambda logits, targets: token_nll(logits, targets).sum()),
    Mistake("log_of_mean", "{where}you averaged the probabilities and then took the log: average the "
                           "log-probabilities instead, -(log P).mean()",
            example=lambda logits, targets: -_probability(logits, targets).mean().log()),
    Mistake("minus_p", "{where}you forgot the log: the loss is the mean of -log P(target), not of -P",
            example=lambda logits, targets: -_probability(logits, targets).mean()),
    Mistake("one_minus_p", "{where}you forgot the log: the loss is the mean of -log P(target), not of 1 - P",
            example=lambda logits, targets: (1 - _probability(logits, targets)).mean()),
    Mistake("not_normalised", "{where}you forgot to normalise the logits: log P = logit - logsumexp(logits) over the "
                              "vocabulary (a log-softmax), then pick the target's entry",
            example=lambda logits, targets: -_target_entries(logits, targets).mean()),
    Mistake("normalised_over_time", "{where}you normalised over the wrong axis: the softmax runs over the vocabulary, "
                                    "the last axis (dim=-1)",
            example=lambda logits, targets: -_target_entries(_normalised_over(logits, 1), targets).mean()),
    Mistake("normalised_over_batch", "{where}you normalised over the wrong axis: the softmax runs over the "
                                     "vocabulary, the last axis (dim=-1)",
            example=lambda logits, targets: -_target_entries(_normalised_over(logits, 0), targets).mean()),
    Mistake("every_entry", "{where}you averaged -log P over every vocabulary entry: pick the target's entry with "
                           ".gather(-1, targets.unsqueeze(-1)) first",
            example=lambda logits, targets: -_normalised_over(logits, -1).mean()),
)

_UNIFORM_LOSS = "with all logits 0 every one of the 5 tokens has probability 1/5, so the loss is ln 5 = {ln5:.4f}; " \
                "yours is {value:.4f}"

_NLL = Catalogue(
    RAISED.with_example(lambda logits, targets: F.cross_entropy(logits, targets)),  # wants the vocabulary on dim 1
    Mistake("one_loss_per_token", "your function returned shape {shape}, one loss per token; the loss is their mean, "
                                  "one number (a tensor of shape ())",
            example=token_nll),
    _TENSOR_NOT_A_NUMBER.with_example(lambda logits, targets: token_nll(logits, targets).mean(dim=-1)),
    _NOT_A_NUMBER.with_example(lambda logits, targets: [mean_nll(logits, targets).item()], "expected a number"),
    *_NLL_BY_OUTPUT,
    Mistake("wrong_uniform_loss", _UNIFORM_LOSS,
            example=lambda logits, targets: mean_nll(logits, targets).item() + 0.1,
            shows="so the loss is ln 5 = 1.6094; yours is 1.7094"),
    Mistake("changed_input", "your function changed `logits` or `targets` in place; compute new tensors instead",
            example=_subtracts_in_place),
    Mistake("not_one_number", "for logits {shape} your function returned shape {got}; expected one number, the mean "
                              "over all {n} tokens",  # a mean per row: with uniform logits every row's is ln 5
            example=lambda logits, targets: token_nll(logits, targets).mean(dim=-1).unique()),
    Mistake("wrong_loss", "for logits of shape {shape}: the mean NLL should be {expected:.4f}, but yours is "
                          "{result:.4f}",
            example=lambda logits, targets: mean_nll(logits, targets) * (1 + 0.1 * (logits.size(-1) != 5))),
    Mistake("overflow", "for logits near 1000 your loss is inf or nan: exp(1000) overflows. Adding a constant to "
                        "every logit of a row does not change the softmax, so subtract the row's max first, or use "
                        "torch.logsumexp / log_softmax, which do",
            example=_naive_nll),
    Mistake("wrong_big_loss", "for logits near 1000 the loss should be {expected:.4f}, but yours is {value:.4f}",
            example=lambda logits, targets: _naive_nll(logits.clamp(max=80.0), targets)),  # clamped against overflow
    Mistake("log_of_softmax", "for a target whose logit is 200 below the others your loss is inf: its probability, "
                              "about e^-200 = 1e-87, is below the smallest float32 (about 1e-45), so softmax rounds "
                              "it to 0 and log(0) = -inf. Never take the log of a softmax: compute log P directly as "
                              "logit - logsumexp(logits), which never forms the tiny number",
            example=_log_of_softmax),
    Mistake("wrong_unlikely_loss", "for a target whose logit is 200 below the others the loss should be "
                                   "{expected:.4f}, but yours is {value:.4f}. If you added a small number inside a "
                                   "log to avoid log(0), that number caps -log P; compute log P as "
                                   "logit - logsumexp(logits) instead",
            example=_epsilon_in_log),
)


@exercise("05_likelihood", "mean_nll_from_logits",
          "correct: log-softmax over the vocabulary, the target's entry, minus, mean; and stable for big logits "
          "and for very unlikely targets.",
          signature="logits, targets", mistakes=_NLL)
def check_mean_nll_from_logits(student) -> None:
    """Check ``student(logits (B, T, V), targets (B, T)) -> scalar``: the mean of -log softmax(logits)[target]."""
    # 1. uniform logits: every token has probability 1/V, so the loss is ln V
    logits, targets = torch.zeros(2, 3, 5), torch.tensor([[0, 1, 2], [3, 4, 0]])
    result = call(student, logits.clone(), targets.clone())
    if isinstance(result, torch.Tensor) and tuple(result.shape) == tuple(targets.shape):
        raise _NLL.one_loss_per_token.wrong(shape=tuple(result.shape))
    value = _as_number(result, "what your function returned")
    if not _close(value, math.log(5)):
        uniform = dict(ln5=math.log(5), value=value + 0.0)
        mistake = first_match(value, _NLL_BY_OUTPUT, logits.double(), targets, same=_same()) or _NLL.wrong_uniform_loss
        raise mistake.wrong(where=_UNIFORM_LOSS.format(**uniform) + "; ", **uniform)

    # 2. random logits, a vocabulary that differs from the other axes
    for seed, shape in enumerate([(2, 3, 7), (3, 5, 4)]):  # (B, T, V)
        logits, targets = _nll_case(seed, *shape, scale=3.0)
        given_logits, given_targets = logits.clone(), targets.clone()
        result = call(student, given_logits, given_targets)
        if not (torch.equal(given_logits, logits) and torch.equal(given_targets, targets)):
            raise _NLL.changed_input.wrong()
        if isinstance(result, torch.Tensor) and result.numel() != 1:
            raise _NLL.not_one_number.wrong(shape=shape, got=tuple(result.shape), n=targets.numel())
        value = _as_number(result, "what your function returned")
        expected = mean_nll(logits.double(), targets).item()
        if not _close(value, expected):
            mistake = first_match(value, _NLL_BY_OUTPUT, logits.double(), targets, same=_same()) or _NLL.wrong_loss
            raise mistake.wrong(where=f"for logits of shape {shape}: ", shape=shape, expected=expected, result=value)

    # 3. big logits: exp(1000) overflows, logsumexp (or subtracting the max) does not
    logits, targets = _nll_case(7, 2, 3, 5, scale=1.0)
    logits = logits + torch.tensor([0.0, 1000.0]).view(2, 1, 1)  # row 1 has logits near 1000
    value = _as_number(call(student, logits.clone(), targets.clone()), "what your function returned")
    expected = mean_nll(logits.double(), targets).item()
    if not math.isfinite(value):
        raise _NLL.overflow.wrong()
    if not _close(value, expected, abs_=1e-3):  # float32 holds numbers near 1000 to about 1e-4
        raise _NLL.wrong_big_loss.wrong(expected=expected, value=value)

    # 4. a very unlikely target: in float32 its softmax probability, about e^-200, underflows to 0
    logits, targets = _nll_case(8, 2, 3, 5, scale=1.0)
    logits[0, 1, targets[0, 1]] -= 200.0
    value = _as_number(call(student, logits.clone(), targets.clone()), "what your function returned")
    expected = mean_nll(logits.double(), targets).item()
    if not math.isfinite(value):
        raise _NLL.log_of_softmax.wrong()
    if not _close(value, expected, abs_=1e-3):
        raise _NLL.wrong_unlikely_loss.wrong(expected=expected, value=value)


# ------------------------------------------------------------------ 2. perplexity and bits


_LOSSES = (math.log(65), 1.5, 0.25, 0.0)
_FOR_A_LOSS = "for a loss of {loss:.3f} nats"

# Recognised by comparing the perplexity (the first of the pair) with the example's, in this order.
_PERPLEXITY_BY_OUTPUT = (
    Mistake("perplexity_base_2", _FOR_A_LOSS + " the perplexity should be e^{loss:.3f} = {want:.3f}, but yours is "
                                               "2^loss = {got:.3f}: with the loss in nats the base is e (2^x needs x "
                                               "in bits)",
            example=lambda loss: (2 ** loss, bits(loss))),
    Mistake("perplexity_of_minus_loss", _FOR_A_LOSS + " your perplexity {got:.3f} is e^(-loss), below 1; perplexity "
                                                      "is e^(+loss), at least 1: the effective number of equally "
                                                      "likely choices",
            example=lambda loss: (math.exp(-loss), bits(loss))),
    Mistake("perplexity_base_10", _FOR_A_LOSS + " your perplexity is 10^loss = {got:.3f}; with the loss in nats it "
                                                "is e^loss",
            example=lambda loss: (10 ** loss, bits(loss))),
)
# Recognised by comparing the bits (the second of the pair) with the example's, in this order.
_BITS_BY_OUTPUT = (
    Mistake("bits_times_ln_2", _FOR_A_LOSS + " you multiplied by ln 2 ({got:.3f}); a nat is 1/ln 2 = 1.443 bits, "
                                             "so divide by ln 2: {want:.3f}",
            example=lambda loss: (perplexity(loss), loss * math.log(2))),
    Mistake("log2_of_loss", _FOR_A_LOSS + " you took log2 of the loss ({got:.3f}); the loss already is a log. "
                                          "Changing its unit from nats to bits means dividing by ln 2: {want:.3f}",
            example=lambda loss: (perplexity(loss), math.log2(loss) if loss > 0 else 0.0)),
    Mistake("bits_over_ln_10", _FOR_A_LOSS + " you divided by ln 10 (that gives digits, 'bans'); bits are "
                                             "loss / ln 2",
            example=lambda loss: (perplexity(loss), loss / math.log(10))),
    Mistake("nats_as_bits", _FOR_A_LOSS + " your bits equal the loss in nats; divide by ln 2 = 0.693",
            example=lambda loss: (perplexity(loss), loss)),
)

_PPL = Catalogue(
    RAISED.with_example(lambda loss: (torch.exp(loss), bits(loss))),  # torch.exp wants a tensor, loss is a float
    Mistake("not_a_pair", "perplexity_and_bits({loss:.3f}) returned {type} {got!r:.60}; expected a pair "
                          "(perplexity, bits)",
            example=lambda loss: math.exp(loss), shows="expected a pair (perplexity, bits)"),
    _TENSOR_NOT_A_NUMBER.with_example(lambda loss: (torch.tensor([perplexity(loss), bits(loss)]), bits(loss))),
    _NOT_A_NUMBER.with_example(lambda loss: (f"{perplexity(loss):.2f}", f"{bits(loss):.2f}")),
    Mistake("swapped", _FOR_A_LOSS + " you returned (bits, perplexity); the order is (perplexity, bits)",
            example=lambda loss: (bits(loss), perplexity(loss))),
    *_PERPLEXITY_BY_OUTPUT,
    Mistake("wrong_perplexity", _FOR_A_LOSS + " the perplexity should be e^loss = {want:.3f}, but yours is {got:.3f}",
            example=lambda loss: (math.e * loss, bits(loss))),
    *_BITS_BY_OUTPUT,
    Mistake("wrong_bits", _FOR_A_LOSS + " the bits should be loss / ln 2 = {want:.3f}, but yours are {got:.3f}",
            example=lambda loss: (perplexity(loss), loss / 2)),
)


@exercise("05_likelihood", "perplexity_and_bits",
          "correct: perplexity = e^loss, bits = loss / ln 2.",
          signature="loss", mistakes=_PPL)
def check_perplexity_and_bits(student) -> None:
    """Check ``student(loss in nats) -> (perplexity, bits per token)`` against gptlib's ``perplexity`` and ``bits``."""
    for loss in _LOSSES:
        result = call(student, loss)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise _PPL.not_a_pair.wrong(loss=loss, type=type(result).__name__, got=result)
        ppl = _as_number(result[0], "the perplexity")
        bits_ = _as_number(result[1], "the bits")
        want_ppl, want_bits = perplexity(loss), bits(loss)
        if _close(ppl, want_bits) and _close(bits_, want_ppl) and loss > 0:
            raise _PPL.swapped.wrong(loss=loss)
        if not _close(ppl, want_ppl):
            mistake = first_match(ppl, _PERPLEXITY_BY_OUTPUT, loss, same=_same(lambda pair: pair[0])) or _PPL.wrong_perplexity
            raise mistake.wrong(loss=loss, want=want_ppl, got=ppl)
        if not _close(bits_, want_bits):
            mistake = first_match(bits_, _BITS_BY_OUTPUT, loss, same=_same(lambda pair: pair[1])) or _PPL.wrong_bits
            raise mistake.wrong(loss=loss, want=want_bits, got=bits_)


# ------------------------------------------------------------------ 3. the entropy of a distribution


def _dirichlet(shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    # Gamma(1) draws normalised: uniform over the simplex, drawn from a seeded CPU generator.
    x = -torch.rand(shape, generator=g, dtype=torch.float64).log()
    return x / x.sum(dim=-1, keepdim=True)


def _reference_entropy(p: torch.Tensor) -> torch.Tensor:
    # gptlib has no entropy of a distribution (MarkovSource computes its rows' inline, rows without zeros)
    return -torch.xlogy(p, p).sum(dim=-1)


def _clamps_in_place(p):
    p.clamp_(min=1e-30)  # writes into the caller's tensor
    return -(p * p.log()).sum(dim=-1)


def _zeros_handled_for_one_row(p):
    if p.ndim == 1:
        return _reference_entropy(p)
    return -(p * p.log()).sum(dim=-1)  # 0 * log 0 = nan in a batch


def _sums_without_zeros_only(p):
    terms = -torch.xlogy(p, p)
    return terms.sum(dim=-1) if (p > 0).all() else terms  # the terms themselves once a p is 0


def _smoothed_first(p):
    q = (p + 1e-2) / (1 + 1e-2 * p.size(-1))  # keeps a uniform row uniform, lifts a certain outcome's zeros
    return _reference_entropy(q)


_UNIFORM = "your entropy of the uniform distribution over 8 is "

# Recognised by comparing the entropy of the uniform distribution with the example's, in this order.
_ENTROPY_BY_OUTPUT = (
    Mistake("minus_sign_missing", _UNIFORM + "-ln 8: you forgot the minus sign (ln p <= 0, so -p ln p >= 0)",
            example=lambda probs: torch.xlogy(probs, probs).sum(dim=-1)),
    Mistake("bits", _UNIFORM + "3: that is in bits (log base 2); use the natural log, so the answer is ln 8 = 2.079 "
                               "nats",
            example=lambda probs: -(probs * torch.log2(probs)).nan_to_num().sum(dim=-1)),
    Mistake("unweighted", _UNIFORM + "8 ln 8: weight each -ln p by its p (H = -sum p ln p, not -sum ln p)",
            example=lambda probs: -probs.log().sum(dim=-1)),
    Mistake("mean_not_sum", "your entropy is the mean of -p ln p over the 8 entries; H is their sum",
            example=lambda probs: -torch.xlogy(probs, probs).mean(dim=-1)),
)

_ENTROPY = Catalogue(
    RAISED.with_example(lambda probs: -(probs * math.log(probs)).sum()),  # math.log takes one number
    Mistake("terms_not_summed", "for one distribution of shape (8,) your function returned shape {shape}; expected "
                                "one number: sum the terms -p ln p over the last axis",
            example=lambda probs: -torch.xlogy(probs, probs)),
    _TENSOR_NOT_A_NUMBER.with_example(_sums_without_zeros_only),
    _NOT_A_NUMBER.with_example(lambda probs: f"{_reference_entropy(probs).item():.4f} nats"),
    *_ENTROPY_BY_OUTPUT,
    Mistake("wrong_uniform_entropy", "a uniform distribution over 8 has entropy ln 8 = {want:.4f}; yours is {got:.4f}",
            example=lambda probs: -torch.xlogy(probs, probs + 0.01).sum(dim=-1),
            shows="has entropy ln 8 = 2.0794; yours is 2.0025"),
    Mistake("nan_for_zeros", "for [0, 1, 0, 0] your entropy is nan: 0 * ln 0 is 0 * (-inf) = nan in floating point, "
                             "but its limit is 0. Leave the p = 0 terms out, e.g. with torch.xlogy(p, p) or "
                             "torch.where(p > 0, ...)",
            example=lambda probs: -(probs * probs.log()).sum(dim=-1)),
    Mistake("certain_outcome", "for [0, 1, 0, 0] (a certain outcome) the entropy is 0; yours is {got:.4f}",
            example=_smoothed_first),
    Mistake("changed_probs", "your function changed `probs` in place; compute new tensors instead",
            example=_clamps_in_place),
    Mistake("not_a_tensor", "for probs of shape (3, 5) your function returned a {got}; expected a tensor of 3 "
                            "entropies, one per row",
            example=lambda probs: _reference_entropy(probs).tolist()),
    Mistake("summed_over_rows", "for probs of shape (3, 5) you returned 5 values: you summed over the wrong axis; each "
                                "row is one distribution, so sum over the last axis (dim=-1)",
            example=lambda probs: -torch.xlogy(probs, probs).sum(dim=0)),
    Mistake("one_number_for_all", "for probs of shape (3, 5) you returned one number; return one entropy per row, "
                                  "shape (3,): sum over the last axis only (dim=-1)",
            example=lambda probs: -torch.xlogy(probs, probs).sum()),
    Mistake("wrong_shape", "for probs of shape (3, 5) you returned shape {got}; expected (3,), one entropy per row "
                           "(without keepdim=True)",
            example=lambda probs: -torch.xlogy(probs, probs).sum(dim=-1, keepdim=True)),
    Mistake("nan_in_rows", "for rows that contain zeros some of your entropies are nan: treat 0 ln 0 as 0 "
                           "(torch.xlogy(p, p) does)",
            example=_zeros_handled_for_one_row),
    Mistake("wrong_entropies", "for the rows of probs of shape (3, 5) the entropies should be {want}, but yours are "
                               "{got}",
            example=lambda probs: (probs > 0).sum(dim=-1).double().log()),  # ln of the number of possible outcomes
)


@exercise("05_likelihood", "entropy",
          "correct: H = -sum p ln p along the last axis, in nats, with 0 ln 0 = 0.",
          signature="probs", mistakes=_ENTROPY)
def check_entropy(student) -> None:
    """Check ``student(probs (..., V)) -> (...)``: the entropy of each distribution along the last axis."""
    # 1. uniform over 8: ln 8
    uniform = torch.full((8,), 1 / 8, dtype=torch.float64)
    value = call(student, uniform.clone())
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise _ENTROPY.terms_not_summed.wrong(shape=tuple(value.shape))
    h = _as_number(value, "the entropy of a uniform distribution over 8")
    if not _close(h, math.log(8)):
        mistake = first_match(h, _ENTROPY_BY_OUTPUT, uniform, same=_same()) or _ENTROPY.wrong_uniform_entropy
        raise mistake.wrong(want=math.log(8), got=h)

    # 2. a row with zeros: 0 ln 0 counts as 0
    peaked = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    h = _as_number(call(student, peaked.clone()), "the entropy of [0, 1, 0, 0]")
    if not math.isfinite(h):
        raise _ENTROPY.nan_for_zeros.wrong()
    if not _close(h, 0.0):
        raise _ENTROPY.certain_outcome.wrong(got=h)

    # 3. a batch of rows, as the transition rows of a Markov chain: not square, so a wrong axis shows
    probs = _dirichlet((3, 5), torch.Generator().manual_seed(0))
    probs[1, 2:] = 0.0
    probs[1] /= probs[1].sum()
    given = probs.clone()
    out = call(student, given)
    if not torch.equal(given, probs):
        raise _ENTROPY.changed_probs.wrong()
    if not isinstance(out, torch.Tensor):
        raise _ENTROPY.not_a_tensor.wrong(got=type(out).__name__)
    if tuple(out.shape) != (3,):
        if tuple(out.shape) == (5,):
            raise _ENTROPY.summed_over_rows.wrong()
        if out.numel() == 1:
            raise _ENTROPY.one_number_for_all.wrong()
        raise _ENTROPY.wrong_shape.wrong(got=tuple(out.shape))
    expected = _reference_entropy(probs)
    if not torch.isfinite(out).all():
        raise _ENTROPY.nan_in_rows.wrong()
    if not torch.allclose(out.double(), expected, rtol=1e-5, atol=1e-6):
        raise _ENTROPY.wrong_entropies.wrong(want=fmt(expected), got=fmt(out.double()))
