"""Wrong answers to the exercises of 10_applications beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/applications.py)."""

import math
from collections import Counter
from statistics import NormalDist


def _wald_clipped(successes, n, confidence=0.95):
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    half = z * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)  # kept inside [0, 1], still a single point at 0/n


def _last_of_the_tied(train, test):
    counts = Counter(example.answer for example in train)
    return [sorted(counts, key=counts.get)[-1]] * len(test)  # a stable sort: the last seen of the most common


WRONG = {
    "10_applications.most_common_answer_baseline": [
        (_last_of_the_tied, "ties go to the answer seen first in train, '6\\n'"),
        (lambda train, test: [Counter(ex.answer for ex in train + test).most_common(1)[0][0]] * len(test),
         "test example 0 gets 'plumber\\n'"),  # counted the test answers too
        (lambda train, test: [ex.answer for ex in train[:len(test)]], "test example 0 gets '20\\n'"),
        (lambda train, test: tuple([Counter(ex.answer for ex in train).most_common(1)[0][0]] * len(test))[:-1],
         "answer(s) for 40 test examples"),
    ],
    "10_applications.wilson_interval": [
        (_wald_clipped, "the normal (\"Wald\") interval"),
        (lambda successes, n, confidence=0.95: (0.0, 1.0), "the Wilson interval is [0.0000, 0.2775]"),
        (lambda successes, n, confidence=0.95: {"low": 0.0, "high": 0.2775}, "return a pair of numbers"),
    ],
    "10_applications.few_shot_prompt": [
        (lambda shots, query: "".join(shot.text + "\n" for shot in shots) + query.prompt, "an empty line after each"),
        (lambda shots, query: "".join(shot.prompt + shot.answer.strip() for shot in shots) + query.prompt,
         "not one per line"),
        (lambda shots, query: " ".join([shot.prompt + shot.answer.strip() for shot in shots] + [query.prompt]),
         "not one per line"),
        (lambda shots, query: "".join(shot.text for shot in shots) + query.prompt.strip(),
         "yours has nothing (it ends there), the right one ' '"),  # the space the answer follows, lost
    ],
}
