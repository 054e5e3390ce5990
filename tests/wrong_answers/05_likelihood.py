"""Wrong answers to the exercises of 05_likelihood, each with a piece of the message the student must see."""

import math

import torch


def _log_probs(logits, dim=-1):
    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)


def _pick(t, targets):
    return t.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _naive_log_probs(logits):
    e = logits.exp()
    return (e / e.sum(dim=-1, keepdim=True)).log()


def _in_place(logits, targets):
    logits -= torch.logsumexp(logits, dim=-1, keepdim=True)
    return -_pick(logits, targets).mean()


def _entropy_in_place(p):
    p.clamp_(min=1e-30)
    return -(p * p.log()).sum(dim=-1)


WRONG = {
    "05_likelihood.mean_nll_from_logits": [
        (lambda lg, t: _pick(_log_probs(lg), t).mean(), "you forgot the minus sign"),
        (lambda lg, t: -(_pick(_log_probs(lg), t) / math.log(2)).mean(), "you used log base 2"),
        (lambda lg, t: -_pick(_log_probs(lg), t).sum(), "you summed the losses"),
        (lambda lg, t: -_pick(_log_probs(lg).exp(), t).mean().log(), "you averaged the probabilities"),
        (lambda lg, t: -_pick(_log_probs(lg).exp(), t).mean(), "you forgot the log"),
        (lambda lg, t: -_pick(lg, t).mean(), "you forgot to normalise the logits"),
        (lambda lg, t: -_pick(_log_probs(lg, dim=1), t).mean(), "you normalised over the wrong axis"),
        (lambda lg, t: -_log_probs(lg).mean(), "pick the target's entry"),
        (lambda lg, t: -_pick(_log_probs(lg), t), "one loss per token"),
        (lambda lg, t: -_pick(_naive_log_probs(lg), t).mean(), "exp(1000) overflows"),
        (lambda lg, t: -_pick(_log_probs(lg), t).mean().item() + 0.1, "so the loss is ln 5 = 1.6094; yours is 1.7094"),
        (lambda lg, t: -_pick(_log_probs(lg), t).mean() * (1 + 0.1 * (lg.size(-1) != 5)), "the mean NLL should be"),
        (lambda lg, t: [-_pick(_log_probs(lg), t).mean().item()], "expected a number"),
        (_in_place, "changed `logits` or `targets` in place"),
    ],
    "05_likelihood.perplexity_and_bits": [
        (lambda loss: (2 ** loss, loss / math.log(2)), "but yours is 2^loss"),
        (lambda loss: (math.exp(-loss), loss / math.log(2)), "is e^(-loss), below 1"),
        (lambda loss: (math.exp(loss), loss * math.log(2)), "you multiplied by ln 2"),
        (lambda loss: (math.exp(loss), math.log2(loss) if loss > 0 else 0.0), "you took log2 of the loss"),
        (lambda loss: (math.exp(loss), loss / math.log(10)), "you divided by ln 10"),
        (lambda loss: (math.exp(loss), loss), "your bits equal the loss in nats"),
        (lambda loss: (loss / math.log(2), math.exp(loss)), "you returned (bits, perplexity)"),
        (lambda loss: math.exp(loss), "expected a pair (perplexity, bits)"),
        (lambda loss: (10 ** loss, loss / math.log(2)), "10^loss"),
    ],
    "05_likelihood.entropy": [
        (lambda p: torch.xlogy(p, p).sum(dim=-1), "you forgot the minus sign"),
        (lambda p: -(p * torch.log2(p)).nan_to_num().sum(dim=-1), "that is in bits"),
        (lambda p: -(p.log()).sum(dim=-1), "weight each -ln p by its p"),
        (lambda p: -torch.xlogy(p, p).mean(dim=-1), "H is their sum"),
        (lambda p: -(p * p.log()).sum(dim=-1), "0 * ln 0 is 0 * (-inf) = nan"),
        (lambda p: -torch.xlogy(p, p).sum(dim=0), "you summed over the wrong axis"),
        (lambda p: -torch.xlogy(p, p).sum(), "you returned one number"),
        (lambda p: -torch.xlogy(p, p).sum(dim=-1, keepdim=True), "without keepdim=True"),
        (lambda p: (-torch.xlogy(p, p).sum(dim=-1)).tolist(), "expected a tensor of 3 entropies"),
        (lambda p: -torch.xlogy(p, p + 0.01).sum(dim=-1), "has entropy ln 8 = 2.0794; yours is 2.0025"),
        (_entropy_in_place, "changed `probs` in place"),
    ],
}
