"""gptlib.tasks.metrics: exact match, Wilson and bootstrap intervals, chrF, task scores."""

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gptlib.tasks.metrics import (
    Score,
    bootstrap_interval,
    chrf,
    exact_match,
    normalize,
    score_task,
    table,
    wilson_interval,
)


# ----------------------------------------------------------------------------- exact match

def test_exact_match_ignores_trailing_newline_and_surrounding_space_only():
    preds = ["21\n", "  21  ", "21", "2 1", "Oslo", "21\n\n"]
    refs = ["21", "21\n", "21\n", "21", "oslo", "21"]
    # "21\n\n": one newline is the end marker, the other is surrounding whitespace -> still equal
    assert exact_match(preds, refs) == [True, True, True, False, False, True]


def test_exact_match_checks_lengths_and_types():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        exact_match(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="not one string"):
        exact_match("abc", "abc")
    with pytest.raises(TypeError, match=r"predictions\[1\]"):
        exact_match(["a", 3], ["a", "3"])


def test_normalize_keeps_inner_whitespace():
    assert normalize(" a  b \n") == "a  b"


# ----------------------------------------------------------------------------- Wilson

def _wilson_by_hand(k, n, conf):
    # the textbook formula, written out independently of the implementation
    z = NormalDist().inv_cdf(0.5 + conf / 2)
    p = k / n
    centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
    half = (z / (1 + z ** 2 / n)) * math.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n,conf", [(7, 10, 0.95), (1, 3, 0.9), (50, 100, 0.95), (999, 1000, 0.99)])
def test_wilson_matches_formula(k, n, conf):
    low, high = wilson_interval(k, n, conf)
    hand_low, hand_high = _wilson_by_hand(k, n, conf)
    assert low == pytest.approx(hand_low, abs=1e-12)
    assert high == pytest.approx(hand_high, abs=1e-12)


def test_wilson_known_value():
    # 7/10 at 95%: z = 1.959964; centre = (0.7 + 0.192073) / 1.384146 = 0.644491,
    # half = 1.959964 / 1.384146 * sqrt(0.021 + 0.009604) = 0.247749 -> [0.3968, 0.8922]
    low, high = wilson_interval(7, 10)
    assert (round(low, 4), round(high, 4)) == (0.3968, 0.8922)


@pytest.mark.parametrize("n", [1, 5, 40, 1000])
def test_wilson_edges(n):
    z = NormalDist().inv_cdf(0.975)
    low, high = wilson_interval(0, n)
    assert low == 0.0
    assert high == pytest.approx((z ** 2 / n) / (1 + z ** 2 / n), rel=1e-12)  # 0/n: upper end z²/(n+z²)
    low, high = wilson_interval(n, n)
    assert high == 1.0
    assert low == pytest.approx(1 / (1 + z ** 2 / n), rel=1e-12)  # n/n: lower end n/(n+z²)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_estimate(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_bad_input():
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)


# ----------------------------------------------------------------------------- chrF

def test_chrf_on_chinese():
    near, same = chrf(["二十一", "二十一"], ["二十二", "二十一"])
    assert 0.0 < near < 100.0
    assert same == 100.0


def test_chrf_partial_credit_orders_answers():
    a, b, c = chrf(["1997-03-03", "1997-03-04", "2020-12-31"], ["1997-03-03"] * 3)
    assert a == 100.0 and a > b > c


def test_chrf_ignores_end_marker():
    assert chrf(["abc\n"], ["abc"]) == [100.0]


# ----------------------------------------------------------------------------- bootstrap

def test_bootstrap_deterministic_and_seeded():
    vals = np.random.default_rng(1).normal(size=50).tolist()
    state = np.random.get_state()
    a = bootstrap_interval(vals, seed=3)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global generator untouched
    assert a == bootstrap_interval(vals, seed=3)
    assert a != bootstrap_interval(vals, seed=4)


def test_bootstrap_brackets_mean_and_has_normal_width():
    vals = np.random.default_rng(2).normal(loc=10.0, scale=2.0, size=400)
    low, high = bootstrap_interval(vals, resamples=2000)
    se = vals.std(ddof=1) / math.sqrt(len(vals))
    assert low < vals.mean() < high
    # a 95% interval of a mean is about mean +- 1.96 SE
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_interval([1.0], resamples=0)


# ----------------------------------------------------------------------------- Score and table

def test_score_task_combines_the_pieces():
    preds = ["二十一\n", "二十二\n", "三\n", "四"]
    refs = ["二十一\n", "二十一\n", "三\n", "五\n"]
    s = score_task(preds, refs)
    assert isinstance(s, Score)
    assert s.n == 4
    assert s.exact_match == 0.5
    assert s.exact_match_ci == wilson_interval(2, 4)
    per = chrf(preds, refs)
    assert s.chrf == pytest.approx(sum(per) / 4)
    assert s.chrf_ci[0] <= s.chrf <= s.chrf_ci[1]


def test_score_task_empty_is_an_error():
    with pytest.raises(ValueError, match="at least one example"):
        score_task([], [])


def test_table_lists_every_task():
    s = score_task(["a"], ["a"])
    text = table([("one", s), ("two", s)])
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith("one") and lines[2].startswith("two")
    assert "100.0%" in lines[1]
    with pytest.raises(TypeError, match="not a Score"):
        table({"bad": 0.5})
