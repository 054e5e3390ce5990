"""Exercises of notebook 10_applications: the most-common-answer baseline, the Wilson interval, a few-shot prompt.

Each checker compares with gptlib itself: :func:`gptlib.tasks.most_common_answer`,
:func:`gptlib.tasks.wilson_interval` and :func:`gptlib.hf.few_shot_prompt`. The baseline's cases are
generated tasks (:func:`gptlib.tasks.make_task`) chosen so that the typical mistakes show: in the first,
the most common test answer is not the most common training one; in the others, answers tie:

>>> [(len(train), len(test)) for _, train, test in _baseline_cases()]
[(200, 40), (6, 3), (60, 5)]
>>> train, test = _baseline_cases()[0][1:]
>>> _most_common(train) != _most_common(test)
True
"""

from __future__ import annotations

import math
from collections import Counter
from statistics import NormalDist

from ..hf.prompting import few_shot_prompt as _few_shot_prompt
from ..tasks import END, Example, make_task, most_common_answer, qa_example, words_to_digits_example
from ..tasks import wilson_interval as _wilson
from ._core import RAISED, Catalogue, Mistake, as_float, call, exercise

# --------------------------------------------------------------------------- 1. the most common answer


def _most_common(examples) -> str:
    """The answer most common among ``examples``, ties to the one seen first (what gptlib's baseline picks)."""
    return most_common_answer(examples, examples[:1])[0]


def _tie_case() -> tuple[list[Example], list[Example]]:
    """'6' and '4' both twice, '6' seen first; '4' comes first in sorted order and is the last of the two seen."""
    ages = ("6", "4", "4", "6", "9", "2")
    train = [qa_example(f"Kit Ray is a potter in Rome, aged {age}.", f"how old is potter number {i}?", age)
             for i, age in enumerate(ages)]
    test = [qa_example("Lu Fox is a chef in Oslo, aged 9.", f"how old is chef number {i}?", "9") for i in range(3)]
    return train, test


def _baseline_cases() -> list[tuple[str, list[Example], list[Example]]]:
    """(what the case is, train, test): fresh lists on every call, so no answer can change the next check."""
    qa_train, qa_test = make_task("qa", 200, 40, seed=1)
    dates_train, dates_test = make_task("dates", 60, 5, seed=0)
    return [("the qa task (200 training examples)", qa_train, qa_test),
            ("a tie between two answers, each given twice", *_tie_case()),
            ("the dates task, where every training answer is different", dates_train, dates_test)]


def _first_tied(train) -> str:
    return Counter(ex.answer for ex in train).most_common(1)[0][0]


_BASELINE = Catalogue(
    RAISED.with_example(lambda train, test: [Counter(ex["answer"] for ex in train).most_common(1)[0][0]] * len(test)),
    Mistake("not_a_list", "for {case}, your function returned a {got}; return a list with one answer per test "
                          "example ({n} here), the same answer repeated",
            example=lambda train, test: _first_tied(train)),
    Mistake("wrong_length", "for {case}, your list has {got} answer(s) for {n} test examples; give every test example "
                            "an answer, [best] * len(test)",
            example=lambda train, test: [_first_tied(train)]),
    Mistake("not_strings", "for {case}, answer {i} is of type {got}, not a string: return each answer's text "
                           "(example.answer), not the Example",
            example=lambda train, test: [Counter(train).most_common(1)[0][0]] * len(test)),
    Mistake("no_end_marker", "for {case}, your answer {got!r} does not end with {end!r}: keep example.answer as it "
                             "is, end marker included, as the model's answers end",
            example=lambda train, test: [_first_tied(train).strip()] * len(test)),
    Mistake("counted_test", "for {case}, you answer {got!r}, the most common answer among the *test* examples: a "
                            "baseline may know only what training shows (a model never sees the test answers); "
                            "count train's answers, where {want!r} is most common",
            example=lambda train, test: [_first_tied(test)] * len(test)),
    Mistake("tie_order", "for {case}, you answer {got!r}; it is as common in train as {want!r} ({count} times each), "
                         "but ties go to the answer seen first in train, {want!r}",
            example=lambda train, test: [min(Counter(ex.answer for ex in train).items(),
                                             key=lambda kv: (-kv[1], kv[0]))[0]] * len(test)),  # sorted order
    Mistake("wrong_answer", "for {case}, test example {i} gets {got!r}; the most common training answer is {want!r} "
                            "({count} of the {n_train} training examples)",
            example=lambda train, test: [train[-1].answer] * len(test)),
)


@exercise("10_applications", "most_common_answer_baseline",
          "correct: every test example gets the answer most common in training, ties to the first seen.",
          signature="train, test", mistakes=_BASELINE)
def check_most_common_answer_baseline(student) -> None:
    """Check ``student(train, test) -> list[str]`` against :func:`gptlib.tasks.most_common_answer`."""
    for case, train, test in _baseline_cases():
        want = most_common_answer(train, test)
        counts = Counter(ex.answer for ex in train)
        got = call(student, list(train), list(test))
        if not isinstance(got, (list, tuple)):
            raise _BASELINE.not_a_list.wrong(case=case, got=type(got).__name__, n=len(test))
        if len(got) != len(test):
            raise _BASELINE.wrong_length.wrong(case=case, got=len(got), n=len(test))
        for i, answer in enumerate(got):
            if not isinstance(answer, str):
                raise _BASELINE.not_strings.wrong(case=case, i=i, got=type(answer).__name__)
            if not answer.endswith(END):
                raise _BASELINE.no_end_marker.wrong(case=case, got=answer, end=END)
        for i, (answer, right) in enumerate(zip(got, want)):
            if answer == right:
                continue
            values = {"case": case, "i": i, "got": answer, "want": right, "count": counts[right],
                      "n_train": len(train)}
            if answer == _first_tied(test) and answer != _first_tied(train):
                raise _BASELINE.counted_test.wrong(**values)
            if counts[answer] == counts[right]:
                raise _BASELINE.tie_order.wrong(**values)
            raise _BASELINE.wrong_answer.wrong(**values)


# --------------------------------------------------------------------------- 2. the Wilson interval

# (successes, n, confidence): none and all right, a small n, a middle one; 99% last, to catch a fixed z.
_WILSON_CASES = ((0, 10, 0.95), (10, 10, 0.95), (1, 3, 0.95), (7, 20, 0.95), (50, 100, 0.95), (3, 10, 0.99))


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)  # two-sided: half the rest on each side


def _wilson_with(successes, n, z):
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _wald(successes, n, confidence=0.95):
    p = successes / n
    half = _z(confidence) * math.sqrt(p * (1.0 - p) / n)
    return p - half, p + half


def _centred_on_p(successes, n, confidence=0.95):
    """Wilson's half-width around p itself: below 0 at 0/n."""
    low, high = _wilson_with(successes, n, _z(confidence))
    half, p = (high - low) / 2, successes / n
    return p - half, p + half


_WILSON = Catalogue(
    RAISED.with_example(lambda successes, n, confidence=0.95: _wilson_with(successes, n, NormalDist().inv_cdf(
        1.0 + confidence))),  # a probability above 1
    Mistake("not_a_pair", "for {s} out of {n}, your function returned {got!r}; return a pair of numbers (low, high)",
            example=lambda successes, n, confidence=0.95: sum(_wilson(successes, n, confidence)) / 2),  # the centre
    Mistake("swapped", "for {s} out of {n}, your interval is ({got_low:.4f}, {got_high:.4f}): the higher end first; "
                       "return (low, high)",
            example=lambda successes, n, confidence=0.95: _wilson(successes, n, confidence)[::-1]),
    Mistake("wald", "for {s} out of {n}, you return [{got_low:.4f}, {got_high:.4f}], the normal (\"Wald\") interval "
                    "p ± z·sqrt(p(1 − p)/n). It shrinks to a single point at 0/n and n/n (here {p:g}) and can "
                    "leave [0, 1]; the Wilson interval is [{low:.4f}, {high:.4f}]: use its centre and half-width",
            example=_wald, shows="for 0 out of 10, you return [0.0000, 0.0000]"),
    Mistake("one_sided_z", "for {s} out of {n} at {confidence:.0%}, your interval [{got_low:.4f}, {got_high:.4f}] is "
                           "Wilson's with z = {z_used:.3f}, NormalDist().inv_cdf(confidence): that leaves all of the "
                           "{rest:.0%} outside on one side. A two-sided interval leaves half on each side: "
                           "z = inv_cdf(1 − (1 − confidence)/2) = {z:.3f}",
            example=lambda successes, n, confidence=0.95: _wilson_with(successes, n, NormalDist().inv_cdf(confidence)),
            shows="z = 1.645"),
    Mistake("fixed_z", "for {s} out of {n} at {confidence:.0%}, your interval [{got_low:.4f}, {got_high:.4f}] uses "
                       "z = 1.96, the value for 95%, whatever the confidence; compute z from it: "
                       "NormalDist().inv_cdf(1 − (1 − confidence)/2) = {z:.3f} here",
            example=lambda successes, n, confidence=0.95: _wilson_with(successes, n, 1.96)),
    Mistake("outside", "for {s} out of {n}, your interval [{got_low:.4f}, {got_high:.4f}] goes outside [0, 1]; a "
                       "proportion's interval never does (Wilson's is [{low:.4f}, {high:.4f}]). Its centre is not p "
                       "but (p + z²/(2n)) / (1 + z²/n), pulled towards 1/2",
            example=lambda successes, n, confidence=0.95: _centred_on_p(successes, n, confidence)),
    Mistake("wrong_interval", "for {s} out of {n} at {confidence:.0%}, the Wilson interval is [{low:.4f}, "
                              "{high:.4f}]; yours is [{got_low:.4f}, {got_high:.4f}]",
            example=lambda successes, n, confidence=0.95: _wilson_with(successes, n, _z(confidence) / 2)),
)
_WILSON_LOOKALIKES = (_WILSON.swapped, _WILSON.wald, _WILSON.one_sided_z, _WILSON.fixed_z)


def _pair(got) -> tuple[float, float] | None:
    if isinstance(got, (str, bytes)) or not hasattr(got, "__len__") or len(got) != 2:
        return None
    low, high = (as_float(x) for x in got)
    return None if low is None or high is None else (low, high)


def _close_pair(a, b) -> bool:
    """Equal to 4 significant digits: z = 1.96 for 95% (rather than 1.959964...) is right too."""
    return all(math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-6) for x, y in zip(a, b))


@exercise("10_applications", "wilson_interval",
          "correct: Wilson's interval, inside [0, 1] and never a single point, as gptlib.tasks.wilson_interval.",
          signature="successes, n, confidence=0.95", mistakes=_WILSON)
def check_wilson_interval(student) -> None:
    """Check ``student(successes, n, confidence) -> (low, high)`` against :func:`gptlib.tasks.wilson_interval`."""
    for s, n, confidence in _WILSON_CASES:
        answer = call(student, s, n, confidence)
        got = _pair(answer)
        if got is None:
            raise _WILSON.not_a_pair.wrong(s=s, n=n, got=answer)
        want = _wilson(s, n, confidence)
        if _close_pair(got, want):
            continue
        values = {"s": s, "n": n, "confidence": confidence, "got_low": got[0], "got_high": got[1], "low": want[0],
                  "high": want[1], "p": s / n, "z": _z(confidence), "z_used": NormalDist().inv_cdf(confidence),
                  "rest": 1 - confidence}
        for mistake in _WILSON_LOOKALIKES:
            if _close_pair(got, mistake.example(s, n, confidence)):
                raise mistake.wrong(**values)
        if min(got) < -1e-9 or max(got) > 1 + 1e-9:  # rounding at 0/n and n/n is not outside
            raise _WILSON.outside.wrong(**values)
        raise _WILSON.wrong_interval.wrong(**values)


# --------------------------------------------------------------------------- 3. a few-shot prompt

_DATES_SHOTS, _DATES_QUERY = make_task("dates", 3, 1, seed=2)
_SHOT_CASES = (("two solved number examples", [words_to_digits_example(n) for n in (7, 300)],
                words_to_digits_example(45)),
               ("three solved dates", _DATES_SHOTS, _DATES_QUERY[0]),
               ("no shots at all (zero-shot)", [], words_to_digits_example(12)))

_SHOTS = Catalogue(
    RAISED.with_example(lambda shots, query: "\n".join(shots) + query.prompt),  # the Examples, not their texts
    Mistake("not_a_string", "for {case}, your function returned a {got}; return the prompt as one string",
            example=lambda shots, query: [shot.text for shot in shots] + [query.prompt]),
    Mistake("leaks_answer", "for {case}, your prompt ends with the query's answer {answer!r}: the model would be "
                            "handed what it should find. End with query.prompt, the question alone",
            example=lambda shots, query: "".join(shot.text for shot in shots) + query.text),
    Mistake("no_query", "for {case}, your prompt has the shots but not the question: end it with query.prompt, "
                        "which the model continues",
            example=lambda shots, query: "".join(shot.text for shot in shots)),
    Mistake("query_first", "for {case}, your prompt starts with the question: the solved examples come first, and "
                           "the question last, where the model continues it",
            example=lambda shots, query: query.prompt + "".join(shot.text for shot in shots)),
    Mistake("missing_newline", "for {case}, your shots are not one per line: each solved example is prompt + "
                               "answer, and its answer ends with {end!r} (shot.text keeps it)",
            example=lambda shots, query: "".join(shot.prompt + shot.answer.strip() + " " for shot in shots)
            + query.prompt),
    Mistake("double_newline", "for {case}, your prompt has an empty line after each shot: shot.text already ends "
                              "with {end!r}, so join the texts with \"\", not \"\\n\"",
            example=lambda shots, query: "\n".join(shot.text for shot in shots) + query.prompt),
    Mistake("wrong_prompt", "for {case}, your prompt differs from the right one from character {at} on: yours has "
                            "{got}, the right one {want}",
            example=lambda shots, query: "".join(shot.text for shot in shots[1:]) + query.prompt),  # a shot lost
)
def _without_spacing(text: str) -> str:
    return "".join(text.split())


_SHOT_LOOKALIKES = (_SHOTS.leaks_answer, _SHOTS.no_query, _SHOTS.query_first)


@exercise("10_applications", "few_shot_prompt",
          "correct: the solved examples one per line, then the question alone, as gptlib.hf.few_shot_prompt.",
          signature="shots, query", mistakes=_SHOTS)
def check_few_shot_prompt(student) -> None:
    """Check ``student(shots, query) -> str`` against :func:`gptlib.hf.few_shot_prompt`."""
    for case, shots, query in _SHOT_CASES:
        want = _few_shot_prompt(shots, query)
        got = call(student, list(shots), query)
        if not isinstance(got, str):
            raise _SHOTS.not_a_string.wrong(case=case, got=type(got).__name__)
        if got == want:
            continue
        values = {"case": case, "answer": query.answer, "end": END}
        for mistake in _SHOT_LOOKALIKES:
            if got == mistake.example(list(shots), query):
                raise mistake.wrong(**values)
        if "\n\n" in got and got.replace("\n\n", "\n") == want:  # "\n" between texts that end with one
            raise _SHOTS.double_newline.wrong(**values)
        if (got.endswith(query.prompt) and got.count(END) < len(shots)
                and _without_spacing(got) == _without_spacing(want)):  # the same text but for where lines end
            raise _SHOTS.missing_newline.wrong(**values)
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        def there(text: str) -> str:
            return repr(text[at:at + 20]) if text[at:] else "nothing (it ends there)"

        raise _SHOTS.wrong_prompt.wrong(**values, at=at, got=there(got), want=there(want))
