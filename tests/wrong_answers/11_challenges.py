"""Wrong answers to the exercises of 11_challenges beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/challenges.py)."""

import math


def _rank_in_sorted(scores, index):
    return 1 + sorted(scores).index(scores[index])  # the first of equal scores: ties in the canary's favour


def _exposure_inf(scores, index):
    rank = sum(score < scores[index] for score in scores)  # 0 for the likeliest
    return math.log2(len(scores)) - (math.log2(rank) if rank else -math.inf)  # as numpy's log2(0) = -inf


def _exposure_of_position(scores, index):
    """The canary's place among the candidates sorted by score, equal ones in their order: ties not in its favour."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    return math.log2(len(scores)) - math.log2(1 + order.index(index))


def _threshold_accuracy(member_losses, nonmember_losses):
    """The attack's accuracy at one threshold, the median loss: a point of the ROC curve, not the area under it."""
    losses = sorted(member_losses + nonmember_losses)
    threshold = losses[len(losses) // 2]
    right = sum(loss < threshold for loss in member_losses) + sum(loss >= threshold for loss in nonmember_losses)
    return right / len(losses)


WRONG = {
    "11_challenges.canary_exposure": [
        (_exposure_inf, "you return inf"),
        (lambda scores, index: _exposure_of_position(scores, index),
         "for 8 candidates, the canary tied with two others for the lowest score, the canary's rank is 1 of 8"),
        (lambda scores, index: math.log10(len(scores)) - math.log10(_rank_in_sorted(scores, index)),
         "log2(8) − log2(1) = 3.0000 bits; yours is 0.9031"),
        (lambda scores, index: math.log2(len(scores) - _rank_in_sorted(scores, index) + 1),
         "log2(8) − log2(3) = 1.4150 bits; yours is 2.5850"),  # log2 of how many are no likelier: right at rank 1 only
    ],
    "11_challenges.membership_auc": [
        (_threshold_accuracy, "yours is"),
        (lambda member_losses, nonmember_losses: sum(a < b for a in member_losses for b in nonmember_losses)
         / len(member_losses), "yours is 3.0000"),  # two mistakes at once (ties lost, divided by m): no lookalike
        (lambda member_losses, nonmember_losses: float(sum(member_losses) / len(member_losses)
                                                       < sum(nonmember_losses) / len(nonmember_losses)),
         "yours is 1.0000"),  # the means compared: one bit, not a fraction of pairs
        (lambda member_losses, nonmember_losses: (sum(a <= b for a in member_losses for b in nonmember_losses)
                                                  / (len(member_losses) * len(nonmember_losses)),),
         "returned a tuple"),
    ],
    "11_challenges.deduplicate_lines": [
        (lambda text: "".join(line + "\n" for line in dict.fromkeys(text.split("\n")) if line),
         "yours has 'hello\\n', the right one '\\n'"),  # blank lines dropped: a blank line is a line too
        (lambda text: text, "the canary repeated among other lines"),
        (lambda text: "".join(line + "\n" for line in dict.fromkeys(text.lower().splitlines())),
         "yours has 'my pin is 48213\\n'"),
        (lambda text: "\n".join(dict.fromkeys(text.splitlines(keepends=True))), "differs from the right one"),
    ],
}
