"""Exercises of notebook 05_likelihood: the mean NLL from logits, perplexity and bits, the entropy of a distribution."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ._core import Wrong, call, exercise, fmt

LN2 = math.log(2)


def _close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-5) -> bool:
    return math.isfinite(a) and abs(a - b) <= max(abs_, rel * abs(b))


def _as_number(value, what: str) -> float:
    """A Python number or a one-element tensor, as a float; anything else is reported."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise Wrong(f"{what} is a tensor of shape {tuple(value.shape)}; expected one number")
        return float(value.detach().double())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise Wrong(f"{what} is a {type(value).__name__}, expected a number")


# ------------------------------------------------------------------ 1. the mean NLL from logits


def _nll_case(seed: int, B: int, T: int, V: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, V, generator=g) * scale, torch.randint(V, (B, T), generator=g)


def _diagnose_nll(result: float, logits: torch.Tensor, targets: torch.Tensor) -> str:
    """What a wrong mean NLL most likely did, judged by which mistake reproduces its value."""
    logits, targets = logits.double(), targets.long()
    V = logits.size(-1)
    expected = F.cross_entropy(logits.view(-1, V), targets.view(-1)).item()

    def picked(t: torch.Tensor) -> torch.Tensor:  # the target's entry at every position
        return t.gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    log_probs = logits.log_softmax(dim=-1)
    probs = log_probs.exp()
    n = targets.numel()
    mistakes = [
        (-expected, "your loss is negative: you forgot the minus sign. log P is at most 0, and the loss "
                    "is -log P, so that it is at least 0 and smaller is better"),
        (expected / LN2, "your loss is in bits: you used log base 2. The loss is measured in nats, with the "
                         "natural log (torch.log, log_softmax); divide by ln 2 only to report bits"),
        (expected * n, "you summed the losses of the tokens instead of averaging them (use .mean())"),
        (-math.log(picked(probs).mean().item()), "you averaged the probabilities and then took the log: average "
                                                 "the log-probabilities instead, -(log P).mean()"),
        (-picked(probs).mean().item(), "you forgot the log: the loss is the mean of -log P(target), not of -P"),
        ((1 - picked(probs)).mean().item(), "you forgot the log: the loss is the mean of -log P(target), "
                                            "not of 1 - P"),
        (-picked(logits).mean().item(), "you forgot to normalise the logits: log P = logit - logsumexp(logits) "
                                        "over the vocabulary (a log-softmax), then pick the target's entry"),
        (-picked(logits - torch.logsumexp(logits, dim=1, keepdim=True)).mean().item(),
         "you normalised over the wrong axis: the softmax runs over the vocabulary, the last axis (dim=-1)"),
        (-picked(logits - torch.logsumexp(logits, dim=0, keepdim=True)).mean().item(),
         "you normalised over the wrong axis: the softmax runs over the vocabulary, the last axis (dim=-1)"),
        (-log_probs.mean().item(), "you averaged -log P over every vocabulary entry: pick the target's entry "
                                   "with .gather(-1, targets.unsqueeze(-1)) first"),
    ]
    for value, message in mistakes:
        if _close(result, value):
            return message
    return f"the mean NLL should be {expected:.4f}, but yours is {result:.4f}"


@exercise("05_likelihood", "mean_nll_from_logits",
          "correct: log-softmax over the vocabulary, the target's entry, minus, mean; and stable for big logits.")
def check_mean_nll_from_logits(student) -> None:
    """Check ``student(logits (B, T, V), targets (B, T)) -> scalar``: the mean of -log softmax(logits)[target]."""
    # 1. uniform logits: every token has probability 1/V, so the loss is ln V
    logits, targets = torch.zeros(2, 3, 5), torch.tensor([[0, 1, 2], [3, 4, 0]])
    result = call(student, logits.clone(), targets.clone())
    if isinstance(result, torch.Tensor) and tuple(result.shape) == tuple(targets.shape):
        raise Wrong(f"your function returned shape {tuple(result.shape)}, one loss per token; the loss is their "
                    f"mean, one number (a tensor of shape ())")
    value = _as_number(result, "what your function returned")
    if not _close(value, math.log(5)):
        why = _diagnose_nll(value, logits, targets)
        raise Wrong(f"with all logits 0 every one of the 5 tokens has probability 1/5, so the loss is "
                    f"ln 5 = {math.log(5):.4f}; yours is {value + 0.0:.4f}"
                    + ("" if why.startswith("the mean NLL should be") else f"; {why}"))

    # 2. random logits, a vocabulary that differs from the other axes
    for seed, (B, T, V) in enumerate([(2, 3, 7), (3, 5, 4)]):
        logits, targets = _nll_case(seed, B, T, V, scale=3.0)
        given_logits, given_targets = logits.clone(), targets.clone()
        result = call(student, given_logits, given_targets)
        if not (torch.equal(given_logits, logits) and torch.equal(given_targets, targets)):
            raise Wrong("your function changed `logits` or `targets` in place; compute new tensors instead")
        if isinstance(result, torch.Tensor) and result.numel() != 1:
            raise Wrong(f"for logits {(B, T, V)} your function returned shape {tuple(result.shape)}; "
                        f"expected one number, the mean over all {B * T} tokens")
        value = _as_number(result, "what your function returned")
        expected = F.cross_entropy(logits.view(-1, V), targets.view(-1)).item()
        if not _close(value, expected):
            raise Wrong(f"for logits of shape {(B, T, V)}: " + _diagnose_nll(value, logits, targets))

    # 3. big logits: exp(1000) overflows, logsumexp (or subtracting the max) does not
    logits, targets = _nll_case(7, 2, 3, 5, scale=1.0)
    logits = logits + torch.tensor([0.0, 1000.0]).view(2, 1, 1)  # row 1 has logits near 1000
    value = _as_number(call(student, logits.clone(), targets.clone()), "what your function returned")
    expected = F.cross_entropy(logits.double().view(-1, 5), targets.view(-1)).item()
    if not math.isfinite(value):
        raise Wrong("for logits near 1000 your loss is inf or nan: exp(1000) overflows. Adding a constant to "
                    "every logit of a row does not change the softmax, so subtract the row's max first, "
                    "or use torch.logsumexp / log_softmax, which do")
    if not _close(value, expected, abs_=1e-3):  # float32 holds numbers near 1000 to about 1e-4
        raise Wrong(f"for logits near 1000 the loss should be {expected:.4f}, but yours is {value:.4f}")


# ------------------------------------------------------------------ 2. perplexity and bits


_LOSSES = (math.log(65), 1.5, 0.25, 0.0)


@exercise("05_likelihood", "perplexity_and_bits",
          "correct: perplexity = e^loss, bits = loss / ln 2.")
def check_perplexity_and_bits(student) -> None:
    """Check ``student(loss in nats) -> (perplexity, bits per token)``."""
    for loss in _LOSSES:
        result = call(student, loss)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Wrong(f"perplexity_and_bits({loss:.3f}) returned {type(result).__name__} "
                        f"{result!r:.60}; expected a pair (perplexity, bits)")
        ppl = _as_number(result[0], "the perplexity")
        bits = _as_number(result[1], "the bits")
        want_ppl, want_bits = math.exp(loss), loss / LN2
        where = f"for a loss of {loss:.3f} nats"
        if _close(ppl, want_bits) and _close(bits, want_ppl) and loss > 0:
            raise Wrong(f"{where} you returned (bits, perplexity); the order is (perplexity, bits)")
        if not _close(ppl, want_ppl):
            if _close(ppl, 2 ** loss):
                raise Wrong(f"{where} the perplexity should be e^{loss:.3f} = {want_ppl:.3f}, but yours is 2^loss "
                            f"= {ppl:.3f}: with the loss in nats the base is e (2^x needs x in bits)")
            if _close(ppl, math.exp(-loss)):
                raise Wrong(f"{where} your perplexity {ppl:.3f} is e^(-loss), below 1; perplexity is e^(+loss), "
                            f"at least 1: the effective number of equally likely choices")
            if _close(ppl, 10 ** loss):
                raise Wrong(f"{where} your perplexity is 10^loss = {ppl:.3f}; with the loss in nats it is e^loss")
            raise Wrong(f"{where} the perplexity should be e^loss = {want_ppl:.3f}, but yours is {ppl:.3f}")
        if not _close(bits, want_bits):
            if _close(bits, loss * LN2):
                raise Wrong(f"{where} you multiplied by ln 2 ({bits:.3f}); a nat is 1/ln 2 = 1.443 bits, "
                            f"so divide by ln 2: {want_bits:.3f}")
            if loss > 0 and _close(bits, math.log2(loss)):
                raise Wrong(f"{where} you took log2 of the loss ({bits:.3f}); the loss already is a log. "
                            f"Changing its unit from nats to bits means dividing by ln 2: {want_bits:.3f}")
            if _close(bits, loss / math.log(10)):
                raise Wrong(f"{where} you divided by ln 10 (that gives digits, 'bans'); bits are loss / ln 2")
            if _close(bits, loss):
                raise Wrong(f"{where} your bits equal the loss in nats; divide by ln 2 = 0.693")
            raise Wrong(f"{where} the bits should be loss / ln 2 = {want_bits:.3f}, but yours are {bits:.3f}")


# ------------------------------------------------------------------ 3. the entropy of a distribution


def _dirichlet(shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    # Gamma(1) draws normalised: uniform over the simplex, drawn from a seeded CPU generator.
    x = -torch.rand(shape, generator=g, dtype=torch.float64).log()
    return x / x.sum(dim=-1, keepdim=True)


def _reference_entropy(p: torch.Tensor) -> torch.Tensor:
    return -torch.xlogy(p, p).sum(dim=-1)


@exercise("05_likelihood", "entropy",
          "correct: H = -sum p ln p along the last axis, in nats, with 0 ln 0 = 0.")
def check_entropy(student) -> None:
    """Check ``student(probs (..., V)) -> (...)``: the entropy of each distribution along the last axis."""
    # 1. uniform over 8: ln 8
    uniform = torch.full((8,), 1 / 8, dtype=torch.float64)
    value = call(student, uniform.clone())
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise Wrong(f"for one distribution of shape (8,) your function returned shape {tuple(value.shape)}; "
                    f"expected one number: sum the terms -p ln p over the last axis")
    h = _as_number(value, "the entropy of a uniform distribution over 8")
    if not _close(h, math.log(8)):
        if _close(h, -math.log(8)):
            raise Wrong("your entropy of the uniform distribution over 8 is -ln 8: you forgot the minus sign "
                        "(ln p <= 0, so -p ln p >= 0)")
        if _close(h, 3.0):
            raise Wrong("your entropy of the uniform distribution over 8 is 3: that is in bits (log base 2); "
                        "use the natural log, so the answer is ln 8 = 2.079 nats")
        if _close(h, 8 * math.log(8)):
            raise Wrong("your entropy of the uniform distribution over 8 is 8 ln 8: weight each -ln p by its p "
                        "(H = -sum p ln p, not -sum ln p)")
        if _close(h, math.log(8) / 8):
            raise Wrong("your entropy is the mean of -p ln p over the 8 entries; H is their sum")
        raise Wrong(f"a uniform distribution over 8 has entropy ln 8 = {math.log(8):.4f}; yours is {h:.4f}")

    # 2. a row with zeros: 0 ln 0 counts as 0
    peaked = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    h = _as_number(call(student, peaked.clone()), "the entropy of [0, 1, 0, 0]")
    if not math.isfinite(h):
        raise Wrong("for [0, 1, 0, 0] your entropy is nan: 0 * ln 0 is 0 * (-inf) = nan in floating point, "
                    "but its limit is 0. Leave the p = 0 terms out, e.g. with torch.xlogy(p, p) or "
                    "torch.where(p > 0, ...)")
    if not _close(h, 0.0):
        raise Wrong(f"for [0, 1, 0, 0] (a certain outcome) the entropy is 0; yours is {h:.4f}")

    # 3. a batch of rows, as the transition rows of a Markov chain: not square, so a wrong axis shows
    probs = _dirichlet((3, 5), torch.Generator().manual_seed(0))
    probs[1, 2:] = 0.0
    probs[1] /= probs[1].sum()
    given = probs.clone()
    out = call(student, given)
    if not torch.equal(given, probs):
        raise Wrong("your function changed `probs` in place; compute new tensors instead")
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"for probs of shape (3, 5) your function returned a {type(out).__name__}; "
                    f"expected a tensor of 3 entropies, one per row")
    if tuple(out.shape) != (3,):
        if tuple(out.shape) == (5,):
            raise Wrong("for probs of shape (3, 5) you returned 5 values: you summed over the wrong axis; "
                        "each row is one distribution, so sum over the last axis (dim=-1)")
        if out.numel() == 1:
            raise Wrong("for probs of shape (3, 5) you returned one number; return one entropy per row, "
                        "shape (3,): sum over the last axis only (dim=-1)")
        raise Wrong(f"for probs of shape (3, 5) you returned shape {tuple(out.shape)}; expected (3,), one entropy "
                    f"per row (without keepdim=True)")
    expected = _reference_entropy(probs)
    if not torch.isfinite(out).all():
        raise Wrong("for rows that contain zeros some of your entropies are nan: treat 0 ln 0 as 0 "
                    "(torch.xlogy(p, p) does)")
    if not torch.allclose(out.double(), expected, rtol=1e-5, atol=1e-6):
        raise Wrong(f"for the rows of probs of shape (3, 5) the entropies should be {fmt(expected)}, "
                    f"but yours are {fmt(out.double())}")
