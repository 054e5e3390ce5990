"""gptlib.challenges.privacy: canaries, exact exposure, extraction, membership-inference AUC."""

import itertools
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gptlib.challenges.privacy import (
    CanaryFormat,
    canary_exposure,
    deduplicate_lines,
    candidate_logperplexities,
    expected_exposure_of_random_rank,
    exposure,
    extract,
    membership_auc,
    random_canary,
    rank_of,
    roc_curve,
    sequence_logperplexity,
    text_losses,
)
from gptlib.model import GPT, GPTConfig
from gptlib.tokenizers import CharTokenizer

FMT_TEXT = "my PIN is 0123456789\n"


class BigramStub(nn.Module):
    """Next-token logits depend only on the current token: logits = table[idx]. Mimics GPT's forward."""

    def __init__(self, table):
        super().__init__()
        self.table = table

    def forward(self, idx, targets=None):
        return self.table[idx], None


def _gpt(vocab_size, n_layer=1, n_embd=16, seed=0, block_size=32):
    model = GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=2, n_embd=n_embd))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)  # spread-out scores: few near-ties
    return model.eval()


# ----------------------------------------------------------------------------- formats and formulas


def test_canary_format():
    fmt = CanaryFormat("my PIN is ", digits=3)
    cands = fmt.candidates()
    assert len(cands) == 1000 == fmt.n_candidates and len(set(cands)) == 1000
    assert cands[0] == "000" and cands[-1] == "999" and cands[42] == "042"
    assert fmt.index("042") == 42 and fmt.text("042") == "my PIN is 042"
    with pytest.raises(ValueError, match="not 3 digits"):
        fmt.index("42")
    with pytest.raises(ValueError, match="digits"):
        CanaryFormat(digits=0)
    with pytest.raises(ValueError, match="prefix"):
        CanaryFormat(prefix="")


def test_random_canary_is_seeded_and_in_range():
    fmt = CanaryFormat(digits=5)
    draws = [random_canary(fmt, seed) for seed in range(50)]
    assert draws == [random_canary(fmt, seed) for seed in range(50)]
    assert all(len(d) == 5 and d.isdigit() for d in draws)
    assert len(set(draws)) > 45


def test_exposure_hand_cases():
    assert exposure(1, 10 ** 5) == pytest.approx(5 * math.log2(10))  # 16.61 bits
    assert exposure(1, 10 ** 5) == pytest.approx(16.61, abs=0.005)
    assert exposure(10 ** 5, 10 ** 5) == 0.0
    assert exposure(1000, 10 ** 5) == pytest.approx(math.log2(100))
    assert exposure(2, 4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rank"):
        exposure(0, 10)
    with pytest.raises(ValueError, match="rank"):
        exposure(11, 10)


def test_rank_of_ties_and_types():
    scores = [5.0, 1.0, 3.0, 1.0, 3.0]
    assert [rank_of(scores, i) for i in range(5)] == [5, 1, 3, 1, 3]  # 1 + strictly lower
    assert rank_of(np.array(scores), 2) == rank_of(torch.tensor(scores), 2) == 3
    with pytest.raises(ValueError, match="index=5"):
        rank_of(scores, 5)


def test_expected_exposure_of_random_rank_exact_and_limit():
    for n in (1, 2, 10, 37):
        by_hand = sum(math.log2(n) - math.log2(r) for r in range(1, n + 1)) / n
        assert expected_exposure_of_random_rank(n) == pytest.approx(by_hand, abs=1e-10)
    limit = 1 / math.log(2)
    gaps = [limit - expected_exposure_of_random_rank(n) for n in (10, 100, 10 ** 3, 10 ** 5, 10 ** 7)]
    assert all(g > 0 for g in gaps) and gaps == sorted(gaps, reverse=True)  # approaches from below
    assert gaps[-2] < 2e-4  # n = 10^5: within 0.0002 bits of 1/ln 2


def test_random_scores_give_exposure_about_one_over_ln2():
    rng = np.random.default_rng(0)
    n, trials = 1000, 3000
    values = np.array([exposure(rank_of(rng.random(n), int(rng.integers(n))), n) for _ in range(trials)])
    expected = expected_exposure_of_random_rank(n)
    se = values.std(ddof=1) / math.sqrt(trials)
    assert abs(values.mean() - expected) < 4 * se
    assert abs(values.mean() - 1 / math.log(2)) < 4 * se + 0.01


# ----------------------------------------------------------------------------- exact scoring


def _brute_logppl(model, tok, prefix, secret):
    ids = tok.encode(prefix + secret)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[:-1]]))
    lp = torch.log_softmax(logits[0].double(), -1)
    P = len(tok.encode(prefix))
    return -sum(lp[P - 1 + i, ids[P + i]].item() for i in range(len(secret))) / math.log(2)


def test_scores_match_brute_force_and_ranks_are_exact():
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, n_layer=2)
    fmt = CanaryFormat("my PIN is ", digits=2)
    scores = candidate_logperplexities(model, tok, fmt, batch_size=7)  # several chunks per level
    brute = torch.tensor([_brute_logppl(model, tok, fmt.prefix, s) for s in fmt.candidates()], dtype=torch.float64)
    assert scores.dtype == torch.float64 and scores.shape == (100,)
    assert torch.allclose(scores, brute, atol=1e-5)
    assert torch.equal(scores, candidate_logperplexities(model, tok, fmt, batch_size=4096)) or torch.allclose(
        scores, candidate_logperplexities(model, tok, fmt, batch_size=4096), atol=1e-9)
    checked = 0
    for i in range(100):
        if (brute - brute[i]).abs().sort().values[1] > 1e-4:  # no near-tie: the rank is unambiguous
            assert rank_of(scores, i) == 1 + sum(int(b < brute[i]) for b in brute.tolist())
            checked += 1
    assert checked > 90


def test_scores_of_a_subset_and_digits_3():
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, seed=2)
    secrets = ["123", "007", "999", "120"]
    got = sequence_logperplexity(model, tok, "PIN ", secrets, batch_size=2)
    brute = [_brute_logppl(model, tok, "PIN ", s) for s in secrets]
    assert got.tolist() == pytest.approx(brute, abs=1e-5)
    # 16-character secrets: V ** 15 no longer fits the integer keys, so contexts are found row-wise
    long = ["1234567890123456", "1234567890123457", "0000000000000000"]
    got = sequence_logperplexity(model, tok, "PIN ", long)
    assert got.tolist() == pytest.approx([_brute_logppl(model, tok, "PIN ", s) for s in long], abs=1e-4)


class _NoCache(nn.Module):
    """The same GPT, seen without forward_with_cache: scored by full forward passes."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx, targets=None):
        return self.gpt(idx, targets)


def test_cached_and_full_paths_agree():
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, n_layer=2, seed=4)
    fmt = CanaryFormat("my PIN is ", digits=3)
    cached = candidate_logperplexities(model, tok, fmt, batch_size=300)
    full = candidate_logperplexities(_NoCache(model), tok, fmt, batch_size=300)
    assert torch.allclose(cached, full, atol=1e-5)


def test_bigram_stub_hand_value_and_full_exposure():
    tok = CharTokenizer.from_text(FMT_TEXT)
    V = tok.vocab_size
    table = torch.zeros(V, V)
    chain = " 48213"  # after " " comes 4 with a high score, after 4 comes 8, ...
    for a, b in zip(chain, chain[1:]):
        table[tok.encode(a)[0], tok.encode(b)[0]] = 5.0
    model = BigramStub(table)
    fmt = CanaryFormat("my PIN is ", digits=5)
    scores = candidate_logperplexities(model, tok, fmt)
    # by hand: each favoured step has probability e^5 / (e^5 + V - 1), every other step 1 / (e^5 + V - 1)
    z = math.exp(5) + V - 1
    assert scores[48213].item() == pytest.approx(-5 * math.log2(math.exp(5) / z), abs=1e-9)
    assert scores[48210].item() == pytest.approx(-4 * math.log2(math.exp(5) / z) - math.log2(1 / z), abs=1e-9)
    result = canary_exposure(model, tok, fmt, "48213")
    assert result.rank == 1 and float(result) == pytest.approx(math.log2(10 ** 5))
    assert extract(model, tok, fmt.prefix, 5) == "48213"
    assert extract(model, tok, fmt.prefix, 0) == ""
    other = canary_exposure(model, tok, fmt, "11111")
    assert other.rank > 1 and 0.0 <= other.exposure < result.exposure


def test_one_hundred_thousand_candidates_on_a_small_gpt():
    # n_layer=2, n_embd=64: the scale of notebook 11's model. Timed for information only.
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, n_layer=2, n_embd=64, seed=1)
    fmt = CanaryFormat("my PIN is ", digits=5)
    start = time.perf_counter()
    scores = candidate_logperplexities(model, tok, fmt)
    seconds = time.perf_counter() - start
    print(f"scored {fmt.n_candidates} candidates in {seconds:.2f} s")
    assert scores.shape == (10 ** 5,) and torch.isfinite(scores).all()
    total = torch.exp2(-scores).sum().item()  # P(the prefix is followed by some 5 digits) <= 1
    assert 0.0 < total <= 1.0 + 1e-9
    for i in (0, 48213, 99999):
        assert scores[i].item() == pytest.approx(_brute_logppl(model, tok, fmt.prefix, fmt.candidates()[i]), abs=1e-4)


def test_scoring_bad_input():
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, block_size=8)
    with pytest.raises(ValueError, match="same length"):
        sequence_logperplexity(model, tok, "PIN ", ["12", "123"])
    with pytest.raises(ValueError, match="block_size=8"):
        sequence_logperplexity(model, tok, "my PIN is ", ["12"])
    with pytest.raises(ValueError, match="prefix is empty"):
        sequence_logperplexity(model, tok, "", ["12"])
    with pytest.raises(ValueError, match="secret='x'"):
        sequence_logperplexity(model, tok, "PIN ", ["x"])


# ----------------------------------------------------------------------------- membership inference


def test_membership_auc_hand_example():
    # members 1, 2, 2; non-members 2, 3: pairs (1<2) (1<3) (2=2: 1/2) (2<3) (2=2: 1/2) (2<3) -> 5/6
    assert membership_auc([1.0, 2.0, 2.0], [2.0, 3.0]) == pytest.approx(5 / 6)
    assert membership_auc([0.1, 0.2], [0.5, 0.6]) == 1.0
    assert membership_auc([0.5, 0.6], [0.1, 0.2]) == 0.0
    assert membership_auc([1.0, 1.0], [1.0]) == 0.5


def _auc_pairs(m, n):
    return sum(1.0 if a < b else 0.5 if a == b else 0.0 for a, b in itertools.product(m, n)) / (len(m) * len(n))


def _roc_brute(m, n):
    # every threshold, one at a time: "member" if loss <= t
    pts = [(0.0, 0.0)]
    for t in sorted(set(m) | set(n)):
        pts.append((sum(x <= t for x in n) / len(n), sum(x <= t for x in m) / len(m)))
    return pts


losses = st.lists(st.integers(0, 6).map(float), min_size=1, max_size=15)  # small integers: many ties


@given(losses, losses)
def test_auc_equals_pair_count_and_area_under_brute_force_roc(m, n):
    auc = membership_auc(m, n)
    assert auc == pytest.approx(_auc_pairs(m, n), abs=1e-12)
    pts = _roc_brute(m, n)
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(pts, pts[1:]))
    assert auc == pytest.approx(area, abs=1e-12)
    roc = roc_curve(m, n)
    assert roc.fpr.tolist() == pytest.approx([x for x, _ in pts])
    assert roc.tpr.tolist() == pytest.approx([y for _, y in pts])
    assert roc.thresholds[0] == -np.inf and (roc.fpr[-1], roc.tpr[-1]) == (1.0, 1.0)


def test_membership_bad_input():
    with pytest.raises(ValueError, match="member_losses is empty"):
        membership_auc([], [1.0])
    with pytest.raises(ValueError, match="nonmember_losses holds nan"):
        membership_auc([1.0], [float("nan")])


def test_text_losses_match_cross_entropy():
    tok = CharTokenizer.from_text(FMT_TEXT)
    model = _gpt(tok.vocab_size, seed=3)
    texts = ["my PIN is 1", "PIN 22", "my PIN is 3", "is"]
    got = text_losses(model, tok, texts, batch_size=1)
    for t, value in zip(texts, got.tolist()):
        ids = torch.tensor([tok.encode(t)])
        with torch.no_grad():
            logits, _ = model(ids[:, :-1])
        assert value == pytest.approx(F.cross_entropy(logits[0], ids[0, 1:]).item(), abs=1e-5)
    with pytest.raises(ValueError, match=r"texts\[0\] has 1 characters"):
        text_losses(model, tok, ["m"])


def test_deduplicate_lines_keeps_first_appearances_in_order():
    text = "my PIN is 1\nhello\nmy PIN is 1\nhello \nmy PIN is 1\n"
    assert deduplicate_lines(text) == "my PIN is 1\nhello\nhello \n"
    assert deduplicate_lines("") == "" and deduplicate_lines("x") == "x\n"
    once = deduplicate_lines(text)
    assert deduplicate_lines(once) == once  # idempotent
    with pytest.raises(TypeError, match="must be a str"):
        deduplicate_lines(["a", "a"])
