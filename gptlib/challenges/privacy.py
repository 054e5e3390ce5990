"""Privacy, measured: how much a model memorised a secret, as in *The Secret Sharer* (Carlini et al., 2019).

A random secret, the *canary* ("my PIN is 48213"), is planted in the training data. Afterwards
every candidate of its format (all 10⁵ five-digit PINs) is scored by its log-perplexity under the
model, −log₂ P(secret | "my PIN is "), and sorted. The canary's **rank** (1 = the model's
favourite) gives its **exposure**::

    exposure = log₂ |R| − log₂ rank        (bits; |R| = number of candidates)

Rank 1 of 10⁵ is log₂ 10⁵ ≈ 16.6 bits: the model gives the secret away. A canary the model never saw
sits at a uniformly random rank, whose expected exposure tends to 1/ln 2 ≈ 1.44 bits
(:func:`expected_exposure_of_random_rank`): the sanity check.

- :class:`CanaryFormat`, :func:`random_canary`   the format ("my PIN is " + 5 digits) and a random secret
- :func:`sequence_logperplexity`, :func:`candidate_logperplexities`   exact batched scoring of candidates
- :func:`rank_of`, :func:`exposure`, :class:`Exposure`, :func:`canary_exposure`
- :func:`extract`            greedy continuation of the prefix: does the model say the secret?
- :func:`deduplicate_lines`  a mitigation: each line of a corpus kept once, in order of first appearance
- :func:`text_losses`        mean loss per character of each text, for membership inference
- :func:`membership_auc`, :func:`roc_curve`   the loss-threshold attack ("low loss → trained on it")

>>> round(exposure(rank=1, n_candidates=10**5), 2), round(exposure(rank=10**5, n_candidates=10**5), 2)
(16.61, 0.0)
>>> membership_auc([0.1, 0.2], [0.3, 0.2])   # pairs: (0.1 < 0.3) (0.1 < 0.2) (0.2 < 0.3) (0.2 = 0.2: 1/2)
0.875
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from gptlib._checks import check_int, is_int
from gptlib.device import model_device

from ..evaluation import evaluating
from ._scoring import block_size_of, encode, log_probs

__all__ = ["CanaryFormat", "random_canary", "sequence_logperplexity", "candidate_logperplexities", "rank_of",
           "exposure", "Exposure", "canary_exposure", "expected_exposure_of_random_rank", "extract", "deduplicate_lines", "text_losses",
           "membership_auc", "Roc", "roc_curve"]

LN2 = math.log(2)


@dataclass(frozen=True)
class CanaryFormat:
    """A secret's format: ``prefix`` followed by ``digits`` decimal digits; ``text(secret)`` is the sentence.

    >>> fmt = CanaryFormat("my PIN is ", digits=2)
    >>> fmt.n_candidates, fmt.candidates()[:3], fmt.text("07")
    (100, ['00', '01', '02'], 'my PIN is 07')
    """

    prefix: str = "my PIN is "
    digits: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not self.prefix:
            raise ValueError(f"prefix must be a non-empty string, got {self.prefix!r}")
        check_int("digits", self.digits, minimum=1, maximum=7)

    @property
    def n_candidates(self) -> int:
        """|R| = 10 ** digits."""
        return 10 ** self.digits

    def candidates(self) -> list[str]:
        """Every possible secret, in numeric order: candidate ``i`` is ``i`` with leading zeros."""
        return [f"{i:0{self.digits}d}" for i in range(self.n_candidates)]

    def index(self, secret: str) -> int:
        """The position of ``secret`` in :meth:`candidates` (its numeric value), after checking it fits."""
        if not isinstance(secret, str) or len(secret) != self.digits or not secret.isdigit() or not secret.isascii():
            raise ValueError(f"secret {secret!r} is not {self.digits} digits 0-9")
        return int(secret)

    def text(self, secret: str) -> str:
        """The sentence that plants ``secret``: ``prefix + secret``."""
        self.index(secret)
        return self.prefix + secret


def random_canary(fmt: CanaryFormat, seed: int) -> str:
    """A secret drawn uniformly from ``fmt``'s candidates by ``random.Random(seed)`` (no global state).

    >>> random_canary(CanaryFormat(digits=5), seed=0) == random_canary(CanaryFormat(digits=5), seed=0)
    True
    """
    return f"{random.Random(seed).randrange(fmt.n_candidates):0{fmt.digits}d}"


# ----------------------------------------------------------------------------- scoring every candidate


def sequence_logperplexity(model: nn.Module, tokenizer, prefix: str, secrets: list[str],
                           batch_size: int = 4096) -> torch.Tensor:
    """−log₂ P(secret | prefix) of each secret, in **bits**: a float64 CPU tensor ``(N,)``. Lower = likelier.

    The sum over the secret's characters of −log₂ P(character | prefix and the characters before
    it): Carlini et al.'s log-perplexity. All secrets must have the same number of characters.

    Exact, no sampling, and fast because candidates share their beginnings: at step ``i`` only the
    *distinct* first-``i``-character contexts are run through the model (1, 10, 100, ... for
    digits), ``batch_size`` at a time, and the last position's distribution scores character ``i``
    of every candidate with that context. For all 10⁵ PINs that is 11,111 short sequences instead
    of 10⁵; for a :class:`~gptlib.model.GPT` the shared prefix is computed once and reused from a
    KV cache. Runs in eval mode without gradients, on the model's device.
    """
    if isinstance(secrets, str) or len(secrets) == 0:
        raise ValueError("secrets must be a non-empty list of strings")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    head = encode(tokenizer, prefix, "prefix")
    if not head:
        raise ValueError("prefix is empty: the first character of a secret needs a context")
    rows = [encode(tokenizer, s, "secret") for s in secrets]
    length = len(rows[0])
    for s, r in zip(secrets, rows):
        if len(r) != length:
            raise ValueError(f"all secrets must have the same length; {secrets[0]!r} has {length} "
                             f"tokens, {s!r} has {len(r)}")
    if length == 0:
        raise ValueError("secrets are empty strings")
    limit = block_size_of(model)
    if limit is not None and len(head) + length - 1 > limit:
        raise ValueError(f"prefix + secret need {len(head) + length - 1} positions; block_size={limit}")
    ids = torch.tensor(rows, dtype=torch.long)  # (N, S)
    N, V = ids.size(0), _vocab_size(tokenizer, ids)
    nll = torch.zeros(N, dtype=torch.float64)
    head_t = torch.tensor(head, dtype=torch.long)
    keys = torch.zeros(N, dtype=torch.long)  # context of candidate n as one integer, base V
    with evaluating(model):
        next_char = _prefix_scorer(model, head_t)
        for i in range(length):
            if i == 0:
                contexts, inverse = ids[:1, :0], torch.zeros(N, dtype=torch.long)  # (1, 0): the prefix alone
            elif V ** i < 2 ** 62:  # distinct contexts by their integer keys: a fast 1-D unique
                keys = keys * V + ids[:, i - 1]
                uniq, inverse = torch.unique(keys, return_inverse=True)  # (U,), (N,)
                first = torch.full((uniq.numel(),), N, dtype=torch.long).scatter_reduce_(
                    0, inverse, torch.arange(N), reduce="amin")  # a candidate holding each context
                contexts = ids[first, :i]  # (U, i)
            else:
                contexts, inverse = torch.unique(ids[:, :i], dim=0, return_inverse=True)  # (U, i), (N,)
            last = torch.cat([next_char(contexts[j:j + batch_size])  # (b, V) next-char log P
                              for j in range(0, contexts.size(0), batch_size)])  # (U, V)
            nll -= last[inverse, ids[:, i]]  # every candidate's character i, under its context's row
    return nll / LN2


def _vocab_size(tokenizer, ids: torch.Tensor) -> int:
    return int(getattr(tokenizer, "vocab_size", int(ids.max()) + 1))


def _prefix_scorer(model: nn.Module, head: torch.Tensor):
    """A function ``(b, i)`` contexts -> ``(b, V)`` float64 log P(next character | prefix + context).

    For a model with :meth:`~gptlib.model.GPT.forward_with_cache`, the shared prefix is run once and
    its keys and values copied into every row's cache, so only the ``i`` context characters go
    through the model (the same numbers as a full forward pass, up to float rounding). Any other
    model gets the full ``prefix + context`` sequences.
    """
    device = model_device(model)
    if not hasattr(model, "forward_with_cache"):
        def full(contexts: torch.Tensor) -> torch.Tensor:
            rows = torch.cat([head.expand(contexts.size(0), -1), contexts], dim=1)  # (b, P + i)
            return log_probs(model, rows)[:, -1, :]
        return full
    from gptlib.generation import KVCache  # not at the top: only GPT-like models need it

    P = head.numel()
    one = KVCache.for_model(model, batch_size=1, max_len=model.config.block_size)
    head_logits = model.forward_with_cache(head.view(1, -1).to(device), one, last_only=True)  # (1, 1, V)
    head_lp = torch.log_softmax(head_logits[:, -1].double(), dim=-1).cpu()  # (1, V)

    def cached(contexts: torch.Tensor) -> torch.Tensor:
        b, i = contexts.shape
        if i == 0:
            return head_lp.expand(b, -1)
        cache = KVCache.for_model(model, batch_size=b, max_len=P + i)
        cache.k[:, :, :, :P] = one.k[:, :, :, :P]  # (L, 1, nh, P, hs) broadcast over the b rows
        cache.v[:, :, :, :P] = one.v[:, :, :, :P]
        cache.length = P
        logits = model.forward_with_cache(contexts.to(device), cache, last_only=True)  # (b, 1, V)
        return torch.log_softmax(logits[:, -1].double(), dim=-1).cpu()
    return cached


def candidate_logperplexities(model: nn.Module, tokenizer, fmt: CanaryFormat, batch_size: int = 4096) -> torch.Tensor:
    """:func:`sequence_logperplexity` of all ``fmt.n_candidates`` secrets; entry ``i`` is candidate ``i``."""
    return sequence_logperplexity(model, tokenizer, fmt.prefix, fmt.candidates(), batch_size)


def rank_of(scores, index: int) -> int:
    """1-based rank of ``scores[index]`` when lower is better: 1 + the number of *strictly* lower scores.

    Ties go in the candidate's favour (a tie with the best gives rank 1), so exposure is never
    understated. ``scores`` may be a list, numpy array or tensor.

    >>> rank_of([3.0, 1.0, 2.0, 1.0], 2), rank_of([3.0, 1.0, 2.0, 1.0], 3)
    (3, 1)
    """
    s = torch.as_tensor(scores).flatten()
    if not is_int(index) or not 0 <= index < s.numel():
        raise ValueError(f"index={index!r} must be an integer in [0, {s.numel() - 1}]")
    return int((s < s[index]).sum().item()) + 1


def exposure(rank: int, n_candidates: int) -> float:
    """log₂ n_candidates − log₂ rank, in bits: 0 for the least likely candidate, log₂ n for the likeliest."""
    n_candidates = check_int("n_candidates", n_candidates, minimum=1)
    rank = check_int("rank", rank, minimum=1, maximum=n_candidates)
    return math.log2(n_candidates) - math.log2(rank)


def expected_exposure_of_random_rank(n: int) -> float:
    """Mean exposure when the rank is uniform on 1..n: (1/n) Σ_r (log₂ n − log₂ r) = log₂ n − log₂(n!)/n.

    By Stirling, log₂(n!) ≈ n log₂ n − n/ln 2, so it tends to 1/ln 2 ≈ 1.4427 bits.

    >>> round(expected_exposure_of_random_rank(1), 3), round(expected_exposure_of_random_rank(10**6), 3)
    (0.0, 1.443)
    """
    n = check_int("n", n, minimum=1)
    return math.log2(n) - math.lgamma(n + 1) / (n * LN2)


@dataclass(frozen=True)
class Exposure:
    """One canary's result: its ``rank`` among ``n_candidates``, its ``exposure`` in bits, and its
    ``log_perplexity`` (bits). ``float(result)`` is the exposure."""

    secret: str
    rank: int
    n_candidates: int
    exposure: float
    log_perplexity: float

    def __float__(self) -> float:
        return self.exposure


def canary_exposure(model: nn.Module, tokenizer, fmt: CanaryFormat, canary: str, batch_size: int = 4096) -> Exposure:
    """Score every candidate of ``fmt`` and report where the secret ``canary`` (the digits) ranks."""
    index = fmt.index(canary)
    scores = candidate_logperplexities(model, tokenizer, fmt, batch_size)
    rank = rank_of(scores, index)
    return Exposure(canary, rank, fmt.n_candidates, exposure(rank, fmt.n_candidates), float(scores[index]))


# ----------------------------------------------------------------------------- extraction


def extract(model: nn.Module, tokenizer, prefix: str, length: int) -> str:
    """The model's greedy continuation of ``prefix``: ``length`` new characters, each the most likely.

    Ties go to the lowest token id (``argmax``). The context is cut to the last ``block_size``
    tokens. If the model memorised the canary, ``extract(model, tok, fmt.prefix, fmt.digits)`` is it.
    """
    length = check_int("length", length, minimum=0)
    ids = encode(tokenizer, prefix, "prefix")
    if not ids:
        raise ValueError("prefix is empty: greedy decoding needs at least one character to start from")
    limit = block_size_of(model)
    out: list[int] = []
    device = model_device(model)
    with evaluating(model):
        for _ in range(length):
            window = (ids + out)[-limit:] if limit else ids + out
            logits, _ = model(torch.tensor([window], device=device))  # (1, T, V)
            out.append(int(logits[0, -1].argmax().item()))
    return tokenizer.decode(out)


# ----------------------------------------------------------------------------- mitigation


def deduplicate_lines(text: str) -> str:
    """``text`` with every line kept once, at its first appearance; ends with a newline (empty text: empty).

    Exact-duplicate removal, the first step of real training pipelines: a secret pasted 100 times
    is then seen once. Lines are compared whole, so "my PIN is 48213" and "my PIN is 48213 " differ.

    >>> deduplicate_lines("a\\nb\\na\\nc\\nb\\n")
    'a\\nb\\nc\\n'
    """
    if not isinstance(text, str):
        raise TypeError(f"deduplicate_lines: text must be a str, got {type(text).__name__}")
    kept = list(dict.fromkeys(text.splitlines()))
    return "\n".join(kept) + "\n" if kept else ""


# ----------------------------------------------------------------------------- membership inference


def text_losses(model: nn.Module, tokenizer, texts: list[str], batch_size: int = 256) -> torch.Tensor:
    """Mean −log P (nats) over characters 2..L of each text: a float64 CPU tensor ``(N,)``.

    The statistic of the loss-threshold membership attack. Texts of the same length are batched
    together (no padding); each needs 2 to ``block_size + 1`` characters.
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    rows = [encode(tokenizer, t, f"texts[{i}]") for i, t in enumerate(texts)]
    limit = block_size_of(model)
    for i, r in enumerate(rows):
        if len(r) < 2 or (limit is not None and len(r) - 1 > limit):
            raise ValueError(f"texts[{i}] has {len(r)} characters; need 2 to block_size + 1 = {limit and limit + 1}")
    out = torch.empty(len(rows), dtype=torch.float64)
    by_length: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_length.setdefault(len(r), []).append(i)
    with evaluating(model):
        for which in by_length.values():
            for j in range(0, len(which), batch_size):
                part = which[j:j + batch_size]
                ids = torch.tensor([rows[k] for k in part], dtype=torch.long)  # (b, L)
                lp = log_probs(model, ids[:, :-1])  # (b, L - 1, V)
                nll = -lp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # (b, L - 1)
                out[part] = nll.mean(dim=1)
    return out


def _losses(values, name: str) -> np.ndarray:
    x = np.asarray(torch.as_tensor(values).double().flatten().cpu())
    if x.size == 0:
        raise ValueError(f"{name} is empty: the attack needs at least one loss of each kind")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds nan or infinite losses")
    return x


def membership_auc(member_losses, nonmember_losses) -> float:
    """ROC AUC of the attack "lower loss → member": P(a member's loss < a non-member's), ties counting 1/2.

    Computed exactly as the Mann–Whitney statistic over all (member, non-member) pairs, in
    O((m + n) log n) by sorting. 0.5: the attack is no better than a coin; 1.0: every member has
    a lower loss than every non-member.
    """
    m = _losses(member_losses, "member_losses")
    nm = np.sort(_losses(nonmember_losses, "nonmember_losses"))
    right = np.searchsorted(nm, m, side="right")  # non-members with loss <= each member's
    left = np.searchsorted(nm, m, side="left")  # non-members with loss < each member's
    wins = int((nm.size - right).sum())  # pairs where the member's loss is strictly lower
    ties = int((right - left).sum())
    return (wins + 0.5 * ties) / (m.size * nm.size)


class Roc(NamedTuple):
    """Points of a ROC curve: at ``thresholds[k]`` the attack says "member" for losses ``<=`` it."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def roc_curve(member_losses, nonmember_losses) -> Roc:
    """The attack's ROC curve over every threshold: from (0, 0) (threshold −∞) to (1, 1).

    ``tpr``: the fraction of members with loss <= threshold; ``fpr``: the same for non-members.
    The area under these points (trapezoids) is :func:`membership_auc`.
    """
    m = np.sort(_losses(member_losses, "member_losses"))
    nm = np.sort(_losses(nonmember_losses, "nonmember_losses"))
    thresholds = np.concatenate([[-np.inf], np.unique(np.concatenate([m, nm]))])
    tpr = np.searchsorted(m, thresholds, side="right") / m.size
    fpr = np.searchsorted(nm, thresholds, side="right") / nm.size
    return Roc(fpr, tpr, thresholds)
