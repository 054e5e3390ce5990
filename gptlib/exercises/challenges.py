"""Exercises of notebook 11_challenges: a canary's exposure, the membership-inference AUC, deduplicating a corpus.

Each checker compares with gptlib itself: :func:`gptlib.challenges.rank_of` and
:func:`gptlib.challenges.exposure`, :func:`gptlib.challenges.membership_auc` and
:func:`gptlib.challenges.deduplicate_lines`. The cases are chosen so that the typical mistakes show.
The canary's first case is the likeliest candidate, where a rank that starts at 0 takes log2(0); the
third and fourth tie the canary with other candidates; the last is 1000 seeded scores, rounded so
that they tie often (257 distinct values):

>>> [(len(scores), rank_of(scores, index)) for _, scores, index in _exposure_cases()]
[(8, 1), (8, 8), (8, 3), (8, 1), (1000, 174)]
>>> [scores.count(scores[index]) for _, scores, index in _exposure_cases()]  # how many have the canary's score
[1, 1, 2, 3, 2]

The membership cases: a first one whose pairs tell every catalogued mistake apart, then members and
non-members of different numbers in most (so that dividing by the wrong count shows), ties in most:

>>> [(len(members), len(nonmembers), round(_membership_auc(members, nonmembers), 4))
...  for _, members, nonmembers in _auc_cases()]
[(3, 4, 0.7917), (2, 2, 0.875), (3, 2, 0.5), (3, 4, 1.0), (4, 3, 0.2917), (30, 50, 0.6667), (40, 12, 0.751)]

A wrong answer, and what its checker says:

>>> check_deduplicate_lines(lambda text: "\\n".join(dict.fromkeys(text.splitlines())))
❌ 11_challenges.deduplicate_lines: for the canary repeated among other lines, your text does not end with a \
newline: end every kept line with "\\n", the last one too (even when the text's last line has none)
"""

from __future__ import annotations

import math
import operator
import random
import statistics
from itertools import groupby

from ..challenges import deduplicate_lines as _deduplicate_lines
from ..challenges import exposure as _exposure
from ..challenges import membership_auc as _membership_auc
from ..challenges import rank_of
from ._core import RAISED, Catalogue, Mistake, Wrong, as_float, call, exercise


def _same(a: float, b: float) -> bool:
    """Equal within 1e-9 relative (and 1e-12 absolute, for an exposure or an AUC of exactly 0)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------- 1. a canary's exposure

_RANDOM_CANARY = 421  # the canary's index among the 1000 seeded scores


def _random_scores() -> list[float]:
    """1000 log-perplexities, rounded to 0.1 bit so that many tie (a generator of its own: no global state)."""
    rng = random.Random(11)
    return [round(rng.gauss(40.0, 6.0), 1) for _ in range(1000)]


def _exposure_cases() -> list[tuple[str, list[float], int]]:
    """(what the case is, scores, the canary's index): fresh lists on every call, so no answer can change the next."""
    spread = [2.5, 0.5, 4.0, 3.0, 1.5, 6.0, 2.0, 5.0]
    return [("the likeliest of 8 candidates", list(spread), 1),
            ("the least likely of 8 candidates", list(spread), 5),
            ("8 candidates, the canary tied with another", [3.0, 1.0, 2.0, 1.0, 5.0, 4.0, 2.0, 6.0], 2),
            ("8 candidates, the canary tied with two others for the lowest score",
             [1.0, 3.0, 1.0, 2.0, 4.0, 1.0, 5.0, 6.0], 2),
            ("1000 random scores, the canary tied with another", _random_scores(), _RANDOM_CANARY)]


def _count(scores, index: int, compare) -> int:
    """How many scores ``compare(score, the canary's score)`` holds for (the canary's own included)."""
    return sum(1 for s in scores if compare(s, scores[index]))


def _bits(scores, rank: int) -> float:
    return math.log2(len(scores)) - math.log2(rank)


_EXPOSURE = Catalogue(
    RAISED.with_example(lambda scores, index: _bits(scores, 1 + list(scores.argsort()).index(index))),  # a list
    Mistake("not_a_number", "for {case}, your function returned a {got}; return the exposure, one number of bits",
            example=lambda scores, index: (rank_of(scores, index), _bits(scores, rank_of(scores, index)))),
    Mistake("zero_based", "for {case}, {problem}. Its rank is 0 there, and log2(0) is undefined: ranks start at 1 "
                          "(1 for the likeliest candidate), rank = 1 + the number of strictly lower scores",
            example=lambda scores, index: _bits(scores, _count(scores, index, operator.lt))),
    Mistake("sign_flipped", "for {case}, your exposure is {got:.4f}, below 0: you computed log2(rank) − log2(n). "
                            "Exposure is log2(n) − log2(rank) = log2({n}) − log2({rank}) = {want:.4f} bits, 0 for the "
                            "least likely candidate and log2(n) for the likeliest",
            example=lambda scores, index: -_bits(scores, rank_of(scores, index))),
    Mistake("returned_rank", "for {case}, you return {got:g}, the canary's rank; return its exposure in bits, "
                             "log2(n) − log2(rank) = log2({n}) − log2({rank}) = {want:.4f}",
            example=rank_of),
    Mistake("natural_log", "for {case}, you return {got:.4f}, the exposure in nats (math.log is the natural "
                           "logarithm); exposure is in bits: log2({n}) − log2({rank}) = {want:.4f}",
            example=lambda scores, index: math.log(len(scores)) - math.log(rank_of(scores, index))),
    Mistake("ties_against", "for {case}, {ties} other candidate(s) have the canary's score, and you rank it behind "
                            "them (rank {behind_ties}). Ties go in the canary's favour, so that its exposure is never "
                            "understated: rank = 1 + the number of strictly lower scores = {rank}, exposure "
                            "{want:.4f} bits",
            example=lambda scores, index: _bits(scores, _count(scores, index, operator.le))),
    Mistake("counted_itself", "for {case}, your exposure {got:.4f} is that of rank {itself}, too low a place: the "
                              "scores <= the canary's include the canary's own. rank = 1 + the number of strictly "
                              "lower scores = {rank}, exposure {want:.4f} bits",
            example=lambda scores, index: _bits(scores, 1 + _count(scores, index, operator.le))),
    Mistake("higher_is_better", "for {case}, your exposure {got:.4f} is that of rank {from_top}, counted from the "
                                "highest score down. A score is a log-perplexity: the lower, the likelier the model "
                                "finds the candidate. rank = 1 + the number of strictly lower scores = {rank}, "
                                "exposure {want:.4f} bits",
            example=lambda scores, index: _bits(scores, 1 + _count(scores, index, operator.gt))),
    Mistake("wrong_exposure", "for {case}, the canary's rank is {rank} of {n} ({lower} strictly lower score(s), "
                              "{ties} tie(s)), so its exposure is log2({n}) − log2({rank}) = {want:.4f} bits; yours "
                              "is {got:.4f}",
            example=lambda scores, index: len(scores) / rank_of(scores, index)),  # the logarithms forgotten
)
_EXPOSURE_LOOKALIKES = (_EXPOSURE.sign_flipped, _EXPOSURE.returned_rank, _EXPOSURE.natural_log,
                        _EXPOSURE.ties_against, _EXPOSURE.counted_itself, _EXPOSURE.higher_is_better)


@exercise("11_challenges", "canary_exposure",
          "correct: log2(n) − log2(rank), the canary ranked 1 + the number of strictly lower scores, as "
          "gptlib.challenges.rank_of and exposure.",
          signature="scores, index", mistakes=_EXPOSURE)
def check_canary_exposure(student) -> None:
    """Check ``student(scores, index) -> bits`` against :func:`gptlib.challenges.rank_of` and
    :func:`gptlib.challenges.exposure`."""
    for case, scores, index in _exposure_cases():
        rank = rank_of(scores, index)
        want = _exposure(rank, len(scores))
        try:
            answer = call(student, list(scores), index)
        except Wrong as wrong:
            if rank == 1 and (wrong.student_raised("ValueError") or wrong.student_raised("ZeroDivisionError")):
                raise _EXPOSURE.zero_based.wrong(case=case, problem=wrong) from None
            raise
        got = as_float(answer)
        if got is None:
            raise _EXPOSURE.not_a_number.wrong(case=case, got=type(answer).__name__)
        if _same(got, want):
            continue
        if rank == 1 and math.isinf(got):  # numpy's log2(0) is -inf
            raise _EXPOSURE.zero_based.wrong(case=case, problem=f"you return {got}")
        lower, higher = _count(scores, index, operator.lt), _count(scores, index, operator.gt)
        ties = len(scores) - lower - higher - 1
        values = {"case": case, "got": got, "want": want, "n": len(scores), "rank": rank, "lower": lower,
                  "ties": ties, "behind_ties": rank + ties, "itself": rank + ties + 1, "from_top": higher + 1}
        for mistake in _EXPOSURE_LOOKALIKES:
            if _same(got, mistake.example(list(scores), index)):
                raise mistake.wrong(**values)
        raise _EXPOSURE.wrong_exposure.wrong(**values)


# --------------------------------------------------------------------------- 2. the membership-inference AUC


def _random_losses(seed: int, n_members: int, n_nonmembers: int) -> tuple[list[float], list[float]]:
    """Members' losses a little lower than non-members', rounded to 0.05 so that some tie."""
    rng = random.Random(seed)
    def losses(n, mean):
        return [round(rng.gauss(mean, 0.3) * 20) / 20 for _ in range(n)]

    return losses(n_members, 1.8), losses(n_nonmembers, 2.0)


def _auc_cases() -> list[tuple[str, list[float], list[float]]]:
    """(what the case is, member losses, non-member losses): fresh lists on every call."""
    return [("3 members' losses [0.1, 0.4, 0.3] and 4 non-members' [0.5, 0.4, 0.2, 0.6]",
             [0.1, 0.4, 0.3], [0.5, 0.4, 0.2, 0.6]),
            ("members [0.1, 0.2] and non-members [0.3, 0.2]", [0.1, 0.2], [0.3, 0.2]),
            ("every loss 0.5 (3 members, 2 non-members)", [0.5, 0.5, 0.5], [0.5, 0.5]),
            ("members' losses all below non-members' (3 and 4)", [0.1, 0.3, 0.2], [0.9, 0.5, 0.7, 0.6]),
            ("members' losses mostly above non-members' (4 and 3)", [1.2, 0.9, 1.5, 1.0], [0.8, 1.0, 1.1]),
            ("30 members and 50 non-members, random losses", *_random_losses(3, 30, 50)),
            ("40 members and 12 non-members, random losses", *_random_losses(4, 40, 12))]


def _pairs_won(members, nonmembers, tie: float = 0.5, lower: bool = True) -> float:
    """Summed over all (member, non-member) pairs: 1 where the member's loss is lower (higher if not ``lower``),
    ``tie`` where the two are equal."""
    won = 0.0
    for a in members:
        for b in nonmembers:
            if a == b:
                won += tie
            elif (a < b) == lower:
                won += 1
    return won


def _zipped(members, nonmembers, tie: float = 0.5) -> float:
    """Member i against non-member i only: the pairs zip makes."""
    return sum(1.0 if a < b else tie if a == b else 0.0 for a, b in zip(members, nonmembers))


_AUC = Catalogue(
    RAISED.with_example(lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses)
                        / len(member_losses * nonmember_losses)),  # the lists multiplied
    Mistake("not_a_number", "for {case}, your function returned a {got}; return the AUC, one number in [0, 1]",
            example=lambda member_losses, nonmember_losses: [_pairs_won([a], nonmember_losses) / len(nonmember_losses)
                                                             for a in member_losses]),  # one per member
    Mistake("not_divided", "for {case}, you return {got:g}, the number of winning pairs ({wins} won, {ties} tied "
                           "counting 1/2); the AUC is their fraction: divide by the number of pairs, m × n = "
                           "{m} × {n} = {pairs}",
            example=lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses)),
    Mistake("wrong_count", "for {case}, you divide the {score:g} winning pairs by {used}; there are m × n = "
                           "{m} × {n} = {pairs} (member, non-member) pairs, so the AUC is {want:.4f}",
            example=lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses)
            / len(member_losses) ** 2),
    Mistake("ties_ignored", "for {case}, your AUC {got:.4f} counts a tie as a loss for the attack; {ties} pair(s) "
                            "tie, and a tie is a coin toss: it counts 1/2. The AUC is {want:.4f}",
            example=lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses, tie=0.0)
            / (len(member_losses) * len(nonmember_losses))),
    Mistake("ties_as_wins", "for {case}, your AUC {got:.4f} counts a tie (loss <=) as a win for the attack; {ties} "
                            "pair(s) tie, and a tie is a coin toss: it counts 1/2. The AUC is {want:.4f}",
            example=lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses, tie=1.0)
            / (len(member_losses) * len(nonmember_losses))),
    Mistake("higher_is_member", "for {case}, your AUC {got:.4f} is 1 − {want:.4f}: you count the pairs where the "
                                "member's loss is *higher*. The attack says \"member\" for a low loss (the model has "
                                "seen that text): count the pairs where the member's loss is strictly lower",
            example=lambda member_losses, nonmember_losses: _pairs_won(member_losses, nonmember_losses, lower=False)
            / (len(member_losses) * len(nonmember_losses))),
    Mistake("zipped", "for {case}, you compare member i with non-member i only (zip), {zipped} pair(s); the AUC "
                      "compares every member with every non-member, all m × n = {m} × {n} = {pairs} pairs (two "
                      "loops, or one comparison of a column with a row): {want:.4f}",
            example=lambda member_losses, nonmember_losses: sum(a < b for a, b in zip(member_losses, nonmember_losses))
            / len(member_losses)),
    Mistake("wrong_auc", "for {case}, the AUC is {want:.4f}: of the m × n = {pairs} (member, non-member) pairs, "
                         "{wins} have the member's loss strictly lower and {ties} tie (each counting 1/2); yours is "
                         "{got:.4f}",
            example=lambda member_losses, nonmember_losses: sum(a < statistics.fmean(nonmember_losses)
                                                                for a in member_losses) / len(member_losses)),
)
_AUC_LOOKALIKES = (_AUC.ties_ignored, _AUC.ties_as_wins, _AUC.higher_is_member)


def _wrong_counts(m: int, n: int) -> dict[str, int]:
    """Numbers one might divide the pairs by instead of m × n, each named as the message shows it."""
    counts = {f"m × m = {m * m}": m * m, f"n × n = {n * n}": n * n, f"m + n = {m + n}": m + n,
              f"m = {m}": m, f"n = {n}": n}
    return {name: count for name, count in counts.items() if count != m * n}


@exercise("11_challenges", "membership_auc",
          "correct: the fraction of (member, non-member) pairs where the member's loss is lower, ties counting "
          "1/2, as gptlib.challenges.membership_auc.",
          signature="member_losses, nonmember_losses", mistakes=_AUC)
def check_membership_auc(student) -> None:
    """Check ``student(member_losses, nonmember_losses) -> AUC`` against :func:`gptlib.challenges.membership_auc`."""
    for case, members, nonmembers in _auc_cases():
        want = _membership_auc(members, nonmembers)
        answer = call(student, list(members), list(nonmembers))
        got = as_float(answer)
        if got is None:
            raise _AUC.not_a_number.wrong(case=case, got=type(answer).__name__)
        if _same(got, want):
            continue
        m, n = len(members), len(nonmembers)
        score = want * m * n
        ties = round(_pairs_won(members, nonmembers, tie=1.0) - _pairs_won(members, nonmembers, tie=0.0))
        values = {"case": case, "got": got, "want": want, "m": m, "n": n, "pairs": m * n, "score": score,
                  "wins": round(score - ties / 2), "ties": ties, "zipped": min(m, n)}
        if _same(got, score):
            raise _AUC.not_divided.wrong(**values)
        for used, count in _wrong_counts(m, n).items():
            if _same(got, score / count):
                raise _AUC.wrong_count.wrong(**values, used=used)
        for mistake in _AUC_LOOKALIKES:
            if _same(got, mistake.example(list(members), list(nonmembers))):
                raise mistake.wrong(**values)
        zipped = [_zipped(members, nonmembers, tie) for tie in (0.0, 0.5, 1.0)]
        if any(_same(got, won / count) for won in zipped for count in {min(m, n), m, n}):
            raise _AUC.zipped.wrong(**values)
        raise _AUC.wrong_auc.wrong(**values)


# --------------------------------------------------------------------------- 3. deduplicating a corpus

_CANARY = "my PIN is 48213"
_PROVERBS = ["the cat sat on the mat", _CANARY, "a stitch in time saves nine", _CANARY, _CANARY,
             "the early bird catches the worm", "the cat sat on the mat", "all that glitters is not gold", _CANARY,
             "every cloud has a silver lining", "actions speak louder than words", "a stitch in time saves nine",
             "better late than never", _CANARY, "fortune favours the bold", "no news is good news",
             "the cat sat on the mat"]
_DEDUP_CASES = (
    ("the canary repeated among other lines", "".join(line + "\n" for line in _PROVERBS)),
    ("lines that differ only by a trailing space",
     f"x = 1\n{_CANARY}\nx = 1 \n{_CANARY} \nx = 1\n{_CANARY}\n"),
    ("a text whose last line has no newline", "hello\nworld\nagain\nhello"),
    ("the canary alone, 100 times", f"{_CANARY}\n" * 100),
    ("paragraphs between blank lines (a blank line is a line too)", f"{_CANARY}\n\nhello\n\n{_CANARY}\n\nbye\n"),
    ("the empty text", ""),
)


def _joined(lines) -> str:
    return "".join(line + "\n" for line in lines)


def _last_kept(text: str) -> str:
    """Each line kept once, at its *last* appearance."""
    return _joined(reversed(list(dict.fromkeys(reversed(text.splitlines())))))


def _stripped(text: str) -> set[str]:
    """What deduplicating gives when the lines are stripped first (of spaces at both ends, or at the right)."""
    return {_deduplicate_lines("\n".join(getattr(line, strip)() for line in text.splitlines()))
            for strip in ("strip", "rstrip")}


def _first_differing_line(got: str, want: str) -> tuple[int, str, str]:
    """The first line (1-based) where ``got`` and ``want`` differ, and what each has there."""
    mine, right = got.splitlines(keepends=True), want.splitlines(keepends=True)
    at = next((i for i, (a, b) in enumerate(zip(mine, right)) if a != b), min(len(mine), len(right)))

    def there(lines: list[str]) -> str:
        return repr(lines[at]) if at < len(lines) else "nothing (it ends there)"

    return at + 1, there(mine), there(right)


_DEDUP = Catalogue(
    RAISED.with_example(lambda text: "".join(dict.fromkeys(text.readlines()))),  # a str is not a file
    Mistake("not_a_string", "for {case}, your function returned a {got}; return the deduplicated text, one string "
                            "(each kept line followed by \"\\n\")",
            example=lambda text: list(dict.fromkeys(text.splitlines()))),
    Mistake("empty_text", "for the empty text, you return {got!r}: a text without lines stays empty, \"\"",
            example=lambda text: "\n".join(dict.fromkeys(text.splitlines())) + "\n"),
    Mistake("missing_newline", "for {case}, your text does not end with a newline: end every kept line with \"\\n\", "
                               "the last one too (even when the text's last line has none)",
            example=lambda text: "\n".join(dict.fromkeys(text.splitlines()))),
    Mistake("empty_line", "for {case}, your text ends with an empty line: text.split(\"\\n\") gives an empty string "
                          "after the final newline, which you keep as a line; text.splitlines() does not",
            example=lambda text: "\n".join(dict.fromkeys(text.split("\n"))) + "\n"),
    Mistake("kept_line_ends", "for {case}, you keep the last line {last!r} (without a newline) apart from the same "
                              "line with one: compare the lines without their ends (text.splitlines()), then end "
                              "every kept line with \"\\n\"",
            example=lambda text: "".join(dict.fromkeys(text.splitlines(keepends=True)))),
    Mistake("stripped", "for {case}, you merge lines that differ only by spaces at their ends: \"x = 1\" and "
                        "\"x = 1 \" are different lines, and deduplication removes exact copies only. Compare the "
                        "lines as they are, without strip()",
            example=lambda text: _joined(dict.fromkeys(line.strip() for line in text.splitlines()))),
    Mistake("last_kept", "for {case}, you keep each line at its last appearance; keep it at its first, so that the "
                         "lines stay in the order the text first shows them",
            example=_last_kept),
    Mistake("adjacent_only", "for {case}, you remove only the repeats that follow each other (as the shell's uniq "
                             "does): {repeats} line(s) still come more than once. Remember every line seen so far",
            example=lambda text: _joined(line for line, _ in groupby(text.splitlines()))),
    Mistake("sorted", "for {case}, your lines are sorted; keep them in the order of their first appearance",
            example=lambda text: _joined(sorted(set(text.splitlines())))),
    Mistake("order_lost", "for {case}, you have the right lines in another order: a set() has no order. Keep each "
                          "line at its first appearance, in the text's order (a list and a set of the lines seen, "
                          "or dict.fromkeys)",
            example=lambda text: _joined(set(text.splitlines()))),
    Mistake("wrong_text", "for {case}, your text differs from the right one from line {line} on: yours has {got}, "
                          "the right one {want}",
            example=lambda text: _joined(dict.fromkeys(line.lower() for line in text.splitlines()))),
)


@exercise("11_challenges", "deduplicate_lines",
          "correct: every line kept once, at its first appearance, each ending with a newline, as "
          "gptlib.challenges.deduplicate_lines.",
          signature="text", mistakes=_DEDUP)
def check_deduplicate_lines(student) -> None:
    """Check ``student(text) -> str`` against :func:`gptlib.challenges.deduplicate_lines`."""
    for case, text in _DEDUP_CASES:
        want = _deduplicate_lines(text)
        got = call(student, text)
        if not isinstance(got, str):
            raise _DEDUP.not_a_string.wrong(case=case, got=type(got).__name__)
        if got == want:
            continue
        if not text:
            raise _DEDUP.empty_text.wrong(got=got)
        values = {"case": case}
        if got + "\n" == want:
            raise _DEDUP.missing_newline.wrong(**values)
        if got == want + "\n":
            raise _DEDUP.empty_line.wrong(**values)
        if got == _DEDUP.kept_line_ends.example(text):
            raise _DEDUP.kept_line_ends.wrong(**values, last=text.splitlines()[-1])
        if got in _stripped(text):
            raise _DEDUP.stripped.wrong(**values)
        if got == _last_kept(text):
            raise _DEDUP.last_kept.wrong(**values)
        lines, right = got.splitlines(), want.splitlines()
        if got == _DEDUP.adjacent_only.example(text):
            raise _DEDUP.adjacent_only.wrong(**values, repeats=sum(1 for line in set(lines) if lines.count(line) > 1))
        if got.endswith("\n") and sorted(lines) == sorted(right):
            raise (_DEDUP.sorted if lines == sorted(right) else _DEDUP.order_lost).wrong(**values)
        line, mine, theirs = _first_differing_line(got, want)
        raise _DEDUP.wrong_text.wrong(**values, line=line, got=mine, want=theirs)
