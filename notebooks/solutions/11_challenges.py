"""Solutions to the exercises of 11_challenges.ipynb. Try them yourself first!"""

import math


def canary_exposure(scores, index):
    """The canary's exposure in bits, log2(n) − log2(rank): rank 1 is the lowest log-perplexity, ties in its favour."""
    rank = 1 + sum(1 for score in scores if score < scores[index])  # strictly lower: a tie does not push it down
    return math.log2(len(scores)) - math.log2(rank)


def membership_auc(member_losses, nonmember_losses):
    """The ROC AUC of "lower loss → member": the fraction of (member, non-member) pairs the attack orders right."""
    won = 0.0
    for member in member_losses:
        for nonmember in nonmember_losses:  # every pair, not only member i with non-member i
            if member < nonmember:
                won += 1
            elif member == nonmember:
                won += 0.5  # a tie is a coin toss
    return won / (len(member_losses) * len(nonmember_losses))


def deduplicate_lines(text):
    """Each line kept once, at its first appearance, in order; every kept line ends with a newline."""
    seen = set()
    kept = []
    for line in text.splitlines():  # lines compared whole: "x" and "x " differ
        if line not in seen:
            seen.add(line)
            kept.append(line)
    return "".join(line + "\n" for line in kept)  # "" for the empty text
