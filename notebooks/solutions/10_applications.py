"""Solutions to the exercises of 10_applications.ipynb. Try them yourself first!"""

import math
from collections import Counter
from statistics import NormalDist


def most_common_answer_baseline(train, test):
    """Every test example gets the answer most common among the training examples (ties: the one seen first)."""
    counts = Counter(example.answer for example in train)  # train only: the test answers are what we measure
    best = counts.most_common(1)[0][0]  # equal counts keep the order first seen
    return [best] * len(test)  # one answer per test example, end marker "\n" included


def wilson_interval(successes, n, confidence=0.95):
    """The Wilson score interval (low, high) for successes out of n trials."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)  # two-sided: 1.96 for 95%
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom  # pulled from p towards 1/2
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def few_shot_prompt(shots, query):
    """The solved shots, one per line (each text ends with "\\n"), then the query's prompt alone."""
    return "".join(shot.text for shot in shots) + query.prompt
