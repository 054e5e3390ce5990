"""Task metrics with their uncertainty: exact match with a Wilson interval, chrF with a bootstrap interval.

A held-out accuracy means little without its number of examples ``n``: 7 right out of 10 and
700 out of 1000 are both 70%, but the first could well be 40% or 90% on another 10 examples. Every
score here comes with a 95% confidence interval.

- :func:`exact_match`        per example: is the prediction the reference (surrounding whitespace aside)?
- :func:`wilson_interval`    confidence interval for a proportion (successes out of ``n``)
- :func:`chrf`               per example: sentence-level chrF (``sacrebleu``), 0..100; works on Chinese
- :func:`bootstrap_interval` confidence interval for a mean, by resampling (seeded, no global state)
- :class:`Score`, :func:`score_task`, :func:`table`   all of it for one task, and a text table of tasks

>>> s = score_task(["21\\n", "22\\n", "7"], ["21\\n", "23\\n", "7\\n"])
>>> s.n, s.exact_match
(3, 0.6666666666666666)
>>> print(table({"digits": s}))
task    n  exact match  95% CI          chrF  95% CI
digits  3  66.7%        [20.8%, 93.9%]  75.0  [25.0, 100.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from gptlib._checks import check_int, is_int, is_number

__all__ = ["normalize", "exact_match", "wilson_interval", "chrf", "bootstrap_interval", "Score", "score_task",
           "table"]


def _check_confidence(confidence: float) -> float:
    if not is_number(confidence) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if isinstance(predictions, str) or isinstance(references, str):
        raise TypeError("predictions and references must be sequences of strings, not one string; "
                        "wrap a single example in a list")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references: "
                         f"there must be one reference per prediction")
    for name, texts in (("predictions", predictions), ("references", references)):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{name}[{i}] is {type(t).__name__} {t!r}, not a string")


def normalize(text: str) -> str:
    """What exact match compares: ``text`` without a trailing end-of-answer ``"\\n"`` and without
    surrounding whitespace. Inner whitespace and case are kept.

    >>> normalize("  1997-03-03\\n"), normalize("Oslo, rain\\n")
    ('1997-03-03', 'Oslo, rain')
    """
    if text.endswith("\n"):
        text = text[:-1]
    return text.strip()


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> list[bool]:
    """One bool per example: ``normalize(prediction) == normalize(reference)``.

    The answers of :mod:`gptlib.tasks` end with a newline (the end marker), and a generated answer
    cut at that newline may or may not keep it, so a trailing ``"\\n"`` and any surrounding spaces do
    not count; everything else does (``"Oslo"`` is not ``"oslo"``).

    >>> exact_match(["二十一\\n", " 21 ", "21"], ["二十一\\n", "21\\n", "12"])
    [True, True, False]
    """
    _check_pairs(predictions, references)
    return [normalize(p) == normalize(r) for p, r in zip(predictions, references)]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion: ``successes`` out of ``n`` trials.

    With ``p = successes / n`` and ``z`` the normal quantile (1.96 for 95%)::

        centre = (p + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) * sqrt(p(1 − p)/n + z²/(4n²))

    Unlike the textbook ``p ± z·sqrt(p(1−p)/n)`` it never leaves [0, 1] and does not shrink to a
    point at 0/n or n/n: 0 right out of 10 still allows a true rate up to about 28%.

    >>> [round(x, 4) for x in wilson_interval(0, 10)]
    [0.0, 0.2775]
    >>> wilson_interval(3, 0)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer >= 1, got 0 (a proportion of no trials has no interval)
    """
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r} (a proportion of no trials has no interval)")
    successes = check_int("successes", successes, minimum=0, maximum=n)
    z = NormalDist().inv_cdf(1.0 - (1.0 - _check_confidence(confidence)) / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: centre == half there
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def chrf(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """Sentence-level chrF (``sacrebleu``'s defaults: character n-grams up to 6, β = 2), 0..100, one per example.

    chrF is an F-score over character n-grams, so a nearly right answer gets partial credit, and
    it needs no word tokenizer: it works on Chinese, where ``rouge-score``'s tokenizer drops every
    non-ASCII character. Both texts are :func:`normalize` d first. An empty prediction or
    reference scores 0 (sacrebleu's convention, even when both are empty).

    >>> [round(x, 1) for x in chrf(["二十一", "二十一\\n", ""], ["二十一", "二十二", "abc"])]
    [100.0, 38.9, 0.0]
    """
    _check_pairs(predictions, references)
    from sacrebleu.metrics import CHRF  # imported here: the rest of gptlib works without sacrebleu

    metric = CHRF()
    return [float(metric.sentence_score(normalize(p), [normalize(r)]).score) for p, r in zip(predictions, references)]


def bootstrap_interval(values: Iterable[float], confidence: float = 0.95, resamples: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values``.

    Draw ``resamples`` samples of ``len(values)`` values with replacement, take each one's mean,
    and return the ``(1 − confidence)/2`` and ``(1 + confidence)/2`` quantiles of those means. The
    draws come from ``numpy.random.default_rng(seed)``: same seed, same interval; numpy's global
    generator is not touched. One value gives ``(value, value)``.

    >>> bootstrap_interval([5.0, 5.0, 5.0])
    (5.0, 5.0)
    >>> low, high = bootstrap_interval([0.0, 100.0] * 50)
    >>> 35 < low < 50 < high < 65
    True
    """
    x = np.asarray(list(values), dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty sequence of numbers, got {x.size} value(s)")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite numbers (found nan or infinity)")
    confidence = _check_confidence(confidence)
    resamples = check_int("resamples", resamples, minimum=1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, x.size, size=(resamples, x.size))  # (R, n) indices, with replacement
    means = x[picks].mean(axis=1)  # (R,)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(min(low, x.mean())), float(max(high, x.mean()))  # guard against rounding past the mean


@dataclass(frozen=True)
class Score:
    """One task's results on ``n`` held-out examples.

    Attributes:
        n: number of examples.
        exact_match: fraction exactly right, 0..1, with ``exact_match_ci`` its Wilson interval.
        chrf: mean sentence chrF, 0..100, with ``chrf_ci`` its bootstrap interval.
    """

    n: int
    exact_match: float
    exact_match_ci: tuple[float, float]
    chrf: float
    chrf_ci: tuple[float, float]


def score_task(predictions: Sequence[str], references: Sequence[str], confidence: float = 0.95,
               seed: int = 0) -> Score:
    """Exact match and chrF of ``predictions`` against ``references``, each with its interval.

    ``seed`` seeds the bootstrap of the chrF interval. At least one example is needed.
    """
    _check_pairs(predictions, references)
    if len(predictions) == 0:
        raise ValueError("score_task needs at least one example, got 0 predictions")
    hits = exact_match(predictions, references)
    scores = chrf(predictions, references)
    n = len(hits)
    return Score(
        n=n,
        exact_match=sum(hits) / n,
        exact_match_ci=wilson_interval(sum(hits), n, confidence),
        chrf=float(np.mean(scores)),
        chrf_ci=bootstrap_interval(scores, confidence, seed=seed),
    )


def table(rows: Mapping[str, Score] | Iterable[tuple[str, Score]]) -> str:
    """A plain-text table of scores, one line per task: ``{name: Score}`` or ``[(name, Score), ...]``.

    Exact match is shown in percent, chrF on its own 0..100 scale; see the module example.
    """
    items = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    header = ["task", "n", "exact match", "95% CI", "chrF", "95% CI"]
    lines = [header]
    for name, s in items:
        if not isinstance(s, Score):
            raise TypeError(f"row {name!r} holds {type(s).__name__}, not a Score (make one with score_task)")
        lo, hi = s.exact_match_ci
        clo, chi = s.chrf_ci
        lines.append([str(name), str(s.n), f"{100 * s.exact_match:.1f}%", f"[{100 * lo:.1f}%, {100 * hi:.1f}%]",
                      f"{s.chrf:.1f}", f"[{clo:.1f}, {chi:.1f}]"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)
