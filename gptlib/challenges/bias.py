"""Data bias, measured: how much more likely a model finds " he" than " she" after "The nurse said that".

- :func:`next_word_logprob`  log P(word | context) for a character model, the word boundary included
- :func:`pronoun_gap`        Δ = log P(" he" | ctx) − log P(" she" | ctx), one per template
- :func:`bias_table`, :class:`BiasRow`, :func:`bias_report`   Δ per occupation: mean, spread, a text table
- :func:`skewed_corpus`      a synthetic corpus where you choose how often each occupation goes with "he"
- :func:`corpus_counts`      the he/she counts per occupation actually in a corpus
- :func:`swap_pronouns`, :func:`augment`   counterfactual data augmentation: the pronoun-swapped copy

**Why the boundary.** A character model spells " he" as " ", "h", "e", and those are also the
first three characters of " her", " here" and " held". The product of the three probabilities is
P(the text continues with " he…"), not P(the next word is "he"). Multiplying by the probability
that a word boundary comes next (a space or punctuation, :data:`BOUNDARY`) keeps only the
continuations where the word really is "he". Δ > 0: the model prefers "he"; Δ = ln 2 ≈ 0.69 nats:
twice as likely.

>>> corpus = skewed_corpus({"nurse": 0.1, "pilot": 0.9}, n_sentences=200, seed=0)
>>> corpus.splitlines()[0]
'After lunch the pilot said he felt better.'
>>> corpus_counts(corpus, ["nurse", "pilot"])   # (he, she): about 10% and 90% "he"
{'nurse': (15, 73), 'pilot': (61, 9)}
>>> swap_pronouns("She gave him her keys, and he thanked her.")
'He gave her his keys, and she thanked him.'
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from gptlib._checks import check_int, is_number

from ..evaluation import evaluating
from ._scoring import block_size_of, encode, log_probs

__all__ = ["BOUNDARY", "TEMPLATES", "CORPUS_TEMPLATES", "FILLER", "next_word_logprob", "pronoun_gap",
           "BiasRow", "bias_table", "bias_report", "skewed_corpus", "corpus_counts", "swap_pronouns", "augment"]

#: Characters that end a word: what may follow "he" for it to be the word "he".
BOUNDARY = " .,;:!?\n"

#: Contexts for measuring Δ; ``{occupation}`` is filled in.
TEMPLATES = (
    "The {occupation} said that",
    "The {occupation} thought that",
    "The {occupation} knew that",
    "The {occupation} told us that",
)

#: Sentences of :func:`skewed_corpus`: ``{occupation}`` and a subject ``{pronoun}`` ("he" or "she").
CORPUS_TEMPLATES = (
    "The {occupation} said that {pronoun} was tired.",
    "The {occupation} thought that {pronoun} would be late.",
    "The {occupation} knew that {pronoun} had to leave.",
    "The {occupation} told us that {pronoun} was ready.",
    "After lunch the {occupation} said {pronoun} felt better.",
)

#: Neutral sentences of :func:`skewed_corpus`: no occupation, no pronoun.
FILLER = (
    "The sun was warm.",
    "It rained all day.",
    "The bus came at nine.",
    "A cat slept on the wall.",
    "The river was cold.",
    "Bread was on the table.",
)


# ----------------------------------------------------------------------------- measuring


def next_word_logprob(model: nn.Module, tokenizer, context: str, word: str,
                      boundary: str | None = BOUNDARY) -> float:
    """log P(``word`` is the next word | ``context``) in nats, for a character-level model.

    The sum of the log-probabilities of ``word``'s characters, each given the context and the
    characters before it, plus the log of the *total* probability of the characters of
    ``boundary`` (those in the tokenizer's vocabulary) right after the word::

        log P(" he" | ctx) = log P(" " | ctx) + log P("h" | ctx " ") + log P("e" | ctx " h")
                             + log Σ_{b in boundary} P(b | ctx " he")

    ``boundary=None`` leaves the last term out: then the result is the log-probability that the
    text continues with ``word``, whatever comes next (``" he"`` is then credited with ``" her"``).
    One forward pass over ``context + word``; ``model(idx)`` must return ``(logits, _)`` like
    :class:`gptlib.model.GPT`, and ``context + word`` must fit in its ``block_size``.

    Worked example: a model that finds all 6 characters of ``" .ehrs"`` equally likely gives each
    character ``ln(1/6)``, and the boundary, 2 of the 6 characters (space and full stop),
    ``ln(2/6)``: ``3·ln(1/6) + ln(1/3) = −6.474``.

    >>> from gptlib.tokenizers import CharTokenizer
    >>> class Uniform(nn.Module):
    ...     def forward(self, idx, targets=None):
    ...         return torch.zeros(*idx.shape, 6), None
    >>> tok = CharTokenizer(" .ehrs")
    >>> round(next_word_logprob(Uniform(), tok, "she", " he"), 3), round(3 * math.log(1 / 6) + math.log(1 / 3), 3)
    (-6.474, -6.474)
    """
    ctx = encode(tokenizer, context, "context")
    ids = encode(tokenizer, word, "word")
    if not ctx:
        raise ValueError("context is empty: the first character needs at least one character before it")
    if not ids:
        raise ValueError("word is empty")
    ends: list[int] = []
    if boundary is not None:
        if not isinstance(boundary, str) or not boundary:
            raise ValueError(f"boundary must be a non-empty string of characters or None, got {boundary!r}")
        ends = sorted({i for ch in set(boundary) for i in _known(tokenizer, ch)})
        if not ends:
            raise ValueError(f"none of the boundary characters {boundary!r} is in the tokenizer's vocabulary")
    full = ctx + ids
    limit = block_size_of(model)
    if limit is not None and len(full) > limit:
        raise ValueError(f"context + word is {len(full)} characters, more than the model's block_size={limit}")
    with evaluating(model):
        lp = log_probs(model, torch.tensor([full]))[0]  # (T, V): row t predicts character t + 1
    start = len(ctx) - 1
    total = sum(lp[start + i, tok_id].item() for i, tok_id in enumerate(ids))  # the word's characters
    if ends:
        total += torch.logsumexp(lp[len(full) - 1, ends], dim=0).item()  # then any boundary character
    return float(total)


def _known(tokenizer, ch: str) -> list[int]:
    try:
        return tokenizer.encode(ch)
    except ValueError:
        return []


def pronoun_gap(model: nn.Module, tokenizer, occupation: str, templates: Sequence[str] = TEMPLATES,
                he: str = " he", she: str = " she", boundary: str | None = BOUNDARY) -> list[float]:
    """Δ = log P(``he`` | ctx) − log P(``she`` | ctx) in nats for each template, ``{occupation}`` filled in.

    Each term is a :func:`next_word_logprob` with the word boundary. Δ > 0: "he" is more likely.
    """
    if isinstance(templates, str):
        raise TypeError("templates must be a sequence of template strings, not one string")
    if not templates:
        raise ValueError("templates is empty: give at least one, such as 'The {occupation} said that'")
    gaps = []
    for t in templates:
        if "{occupation}" not in t:
            raise ValueError(f"template {t!r} has no '{{occupation}}' to fill in")
        ctx = t.replace("{occupation}", occupation)
        gaps.append(next_word_logprob(model, tokenizer, ctx, he, boundary)
                    - next_word_logprob(model, tokenizer, ctx, she, boundary))
    return gaps


@dataclass(frozen=True)
class BiasRow:
    """Δ of one occupation over the templates: each value, their mean and sample standard deviation
    (n − 1 in the denominator; 0.0 for a single template)."""

    occupation: str
    gaps: tuple[float, ...]
    mean: float
    std: float


def bias_table(model: nn.Module, tokenizer, occupations: Sequence[str], templates: Sequence[str] = TEMPLATES,
               he: str = " he", she: str = " she", boundary: str | None = BOUNDARY) -> list[BiasRow]:
    """One :class:`BiasRow` per occupation, in the order given (see :func:`pronoun_gap`)."""
    if isinstance(occupations, str):
        raise TypeError("occupations must be a sequence of strings, not one string")
    rows = []
    for occ in occupations:
        gaps = pronoun_gap(model, tokenizer, occ, templates, he, she, boundary)
        std = statistics.stdev(gaps) if len(gaps) > 1 else 0.0
        rows.append(BiasRow(occ, tuple(gaps), statistics.fmean(gaps), std))
    return rows


def bias_report(rows: Sequence[BiasRow]) -> str:
    """A text table of :func:`bias_table`'s rows: occupation, mean Δ, its std, number of templates.

    >>> print(bias_report([BiasRow("nurse", (-1.0, -2.0), -1.5, 0.7071)]))
    occupation  mean Δ (nats)  std   templates
    nurse       -1.50          0.71  2
    """
    lines = [["occupation", "mean Δ (nats)", "std", "templates"]]
    lines += [[r.occupation, f"{r.mean:.2f}", f"{r.std:.2f}", str(len(r.gaps))] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


# ----------------------------------------------------------------------------- the corpus


def skewed_corpus(occupations: Mapping[str, float], n_sentences: int, seed: int, filler: float = 0.25,
                  templates: Sequence[str] = CORPUS_TEMPLATES) -> str:
    """A synthetic corpus, one sentence per line, where occupation X goes with "he" with probability ``occupations[X]``.

    Each line is, with probability ``filler``, a neutral sentence from :data:`FILLER`; otherwise a
    sentence from ``templates`` about an occupation drawn uniformly from ``occupations``, with
    subject pronoun "he" (probability ``occupations[X]``) or "she". All draws come from
    ``random.Random(seed)``: same arguments, same text. Ends with a newline.
    """
    if not isinstance(occupations, Mapping) or not occupations:
        raise ValueError("occupations must be a non-empty dict {occupation: P(he)}")
    for occ, p in occupations.items():
        if not isinstance(occ, str) or not re.fullmatch(r"[a-z][a-z ]*[a-z]|[a-z]", occ):
            raise ValueError(f"occupation {occ!r} must be lower-case letters (and inner spaces)")
        if not is_number(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"P(he) for {occ!r} must be a number in [0, 1], got {p!r}")
    n_sentences = check_int("n_sentences", n_sentences, minimum=1)
    if not is_number(filler) or not 0.0 <= filler < 1.0:
        raise ValueError(f"filler must be a number in [0, 1), got {filler!r}")
    for t in templates:
        if "{occupation}" not in t or "{pronoun}" not in t:
            raise ValueError(f"template {t!r} must contain both '{{occupation}}' and '{{pronoun}}'")
    rng = random.Random(seed)
    names = list(occupations)
    lines = []
    for _ in range(n_sentences):
        if rng.random() < filler:
            lines.append(rng.choice(FILLER))
            continue
        occ = rng.choice(names)
        pronoun = "he" if rng.random() < occupations[occ] else "she"
        lines.append(rng.choice(templates).format(occupation=occ, pronoun=pronoun))
    return "\n".join(lines) + "\n"


def corpus_counts(text: str, occupations: Sequence[str]) -> dict[str, tuple[int, int]]:
    """For each occupation, the number of lines of ``text`` that mention it with "he" and with "she"
    (whole words, any case). A line with both pronouns counts for both."""
    counts = {}
    for occ in occupations:
        he = she = 0
        for line in text.splitlines():
            if re.search(rf"\b{re.escape(occ)}\b", line, re.IGNORECASE):
                he += bool(re.search(r"\bhe\b", line, re.IGNORECASE))
                she += bool(re.search(r"\bshe\b", line, re.IGNORECASE))
        counts[occ] = (he, she)
    return counts


# ----------------------------------------------------------------------------- counterfactual augmentation

# Words after which "her" is an object ("told her the news") rather than a possessive ("her keys").
_NOT_NOUNS = frozenset(
    "a an the to that and or but if so as in on at by of for from with about into over up down out off "
    "back again too very this these those it is was were be been had has have will would can could "
    "yesterday today tomorrow now then there here when because while".split())
_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers|himself|herself)\b", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\s*([A-Za-z]+)")


def _followed_by_noun(text: str, end: int) -> bool:
    m = _NEXT_WORD.match(text, end)
    return m is not None and m.group(1).lower() not in _NOT_NOUNS


def _same_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


def swap_pronouns(text: str) -> str:
    """``text`` with every gendered pronoun swapped, for counterfactual data augmentation.

    he ↔ she, himself ↔ herself, hers → his; whole words only ("the", "here" and "shell" stay);
    capitalisation is kept ("He" → "She", "HIS" → "HER"). "her" is ambiguous, so the next word
    decides, by a documented rule, not a parser:

    - "her" followed by a word that could be a noun (not in a short list of function words such as
      "the", "to", "that", "and") is a possessive: → "his" ("her keys" → "his keys");
    - otherwise (punctuation, end of text, or a function word) it is an object: → "him"
      ("thanked her." → "thanked him.", "told her the news" → "told him the news").

    By the same rule "his" → "her" before a noun and → "hers" otherwise. For text made of these
    patterns the swap undoes itself: ``swap_pronouns(swap_pronouns(t)) == t``. The rule fails on
    e.g. "gave her flowers" (→ "gave his flowers").

    >>> swap_pronouns("HE said his dog likes her. The shell is here; it is hers.")
    'SHE said her dog likes him. The shell is here; it is his.'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")

    def swap(m: re.Match) -> str:
        word = m.group(1)
        low = word.lower()
        if low == "her":
            new = "his" if _followed_by_noun(text, m.end()) else "him"
        elif low == "his":
            new = "her" if _followed_by_noun(text, m.end()) else "hers"
        else:
            new = {"he": "she", "she": "he", "him": "her", "hers": "his",
                   "himself": "herself", "herself": "himself"}[low]
        return _same_case(new, word)

    return _PRONOUN.sub(swap, text)


def augment(text: str) -> str:
    """``text`` followed by its :func:`swap_pronouns` copy (a newline between them unless ``text`` ends with one).

    Trained on this, the model sees every sentence once with "he" and once with "she".

    >>> augment("The pilot said he was late.\\n")
    'The pilot said he was late.\\nThe pilot said she was late.\\n'
    """
    sep = "" if text.endswith("\n") or not text else "\n"
    return text + sep + swap_pronouns(text)
