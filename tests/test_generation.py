"""Tests for gptlib.generation: logits processors, the KV cache, sampling, stop strings, streaming, beam
search, and conformance with Hugging Face ``transformers`` (greedy, beam search, the logits processors)."""

import contextlib
import dataclasses
import inspect

import pytest
import torch
from helpers import make_config, transformers_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlib.attention import CausalSelfAttention
from gptlib.generation import (
    PAD_TOKEN_ID,
    GenerationSettings,
    KVCache,
    apply_repetition_penalty,
    apply_temperature,
    beam_search,
    decode_step,
    generate,
    next_token_logits,
    process_logits,
    stream,
    top_k_filter,
    top_p_filter,
)
from gptlib.hf import to_hf
from gptlib.model import GPT, GPTConfig
from gptlib.tokenizers import CharTokenizer

transformers = pytest.importorskip("transformers")
from transformers.generation import logits_process as hf_lp  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)

TEXT = "abcdefghijklmnopqrstuvwxyz ."  # the CharTokenizer's vocabulary: 28 characters
TOK = CharTokenizer(TEXT)


def make_model(seed=0, vocab_size=97, block_size=24, n_layer=2, n_head=4, n_embd=32):
    """A small random GPT in eval mode, its weights drawn wider than GPT-2's init (std 0.3 instead of
    0.02). With the tiny init every distribution is nearly uniform and the two best candidates differ
    by little more than float rounding; wider weights give decisive logits, so comparisons with
    another implementation test the algorithm rather than the rounding."""
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    model = GPT(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.3)
            elif name.endswith("bias"):
                p.normal_(0.0, 0.1)
    return model


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def char_model():
    return make_model(seed=3, vocab_size=TOK.vocab_size, block_size=16)


# ---------------------------------------------------------------- transformers, silently


@contextlib.contextmanager
def silent_transformers(capfd):
    """Fail if transformers logs a warning, raises a Python warning or writes to stderr inside the block."""
    capfd.readouterr()
    with transformers_messages() as messages:
        yield
    assert messages == []
    assert capfd.readouterr().err == ""


def hf_generate(hf, idx, max_new_tokens, **options):
    """``hf.generate`` with no end-of-sequence token (every row runs the full length) and an explicit
    attention mask, configured through a GenerationConfig so nothing is left to defaults."""
    config = transformers.GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=None, bos_token_id=None, pad_token_id=0,
        **options,
    )
    with torch.no_grad():
        return hf.generate(idx, attention_mask=torch.ones_like(idx), generation_config=config)


# ---------------------------------------------------------------- logits processors vs transformers

logit_values = st.one_of(
    st.floats(-30, 30, width=32),
    st.sampled_from([0.0, 1.0, -1.0, float("-inf")]),  # ties, zeros and masked entries
)


@st.composite
def logits_and_ids(draw):
    B = draw(st.integers(1, 3))
    V = draw(st.integers(1, 40))
    rows = [draw(st.lists(logit_values, min_size=V, max_size=V)) for _ in range(B)]
    for row in rows:  # at least one finite logit per row, as a model produces
        if all(x == float("-inf") for x in row):
            row[0] = 0.0
    T = draw(st.integers(1, 8))
    ids = draw(st.lists(st.integers(0, V - 1), min_size=B * T, max_size=B * T))
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(ids).view(B, T)


@settings(max_examples=150)
@given(logits_and_ids(), st.floats(0.05, 10.0))
def test_repetition_penalty_matches_transformers(data, penalty):
    logits, ids = data
    expected = hf_lp.RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    assert torch.equal(apply_repetition_penalty(logits, ids, penalty), expected)


@settings(max_examples=150)
@given(logits_and_ids(), st.floats(0.05, 10.0))
def test_temperature_matches_transformers(data, temperature):
    logits, ids = data
    expected = hf_lp.TemperatureLogitsWarper(temperature)(ids, logits.clone())
    assert torch.equal(apply_temperature(logits, temperature), expected)


@settings(max_examples=150)
@given(logits_and_ids(), st.integers(1, 50))
def test_top_k_matches_transformers(data, k):
    logits, ids = data
    expected = hf_lp.TopKLogitsWarper(k)(ids, logits.clone())
    assert torch.equal(top_k_filter(logits, k), expected)


@settings(max_examples=150)
@given(logits_and_ids(), st.one_of(st.floats(0.001, 1.0), st.sampled_from([0.25, 0.5, 0.75, 1.0])))
def test_top_p_matches_transformers(data, p):
    logits, ids = data
    expected = hf_lp.TopPLogitsWarper(p)(ids, logits.clone())
    ours = top_p_filter(logits, p)
    assert torch.equal(ours, expected)
    assert torch.isfinite(ours.max(dim=-1).values).all()  # the most likely token always survives


@settings(max_examples=150)
@given(
    logits_and_ids(),
    st.floats(0.1, 5.0),
    st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.floats(0.01, 1.0)),
    st.floats(0.5, 3.0),
)
def test_processing_chain_matches_transformers(data, temperature, top_k, top_p, penalty):
    logits, ids = data
    chain = [hf_lp.RepetitionPenaltyLogitsProcessor(penalty), hf_lp.TemperatureLogitsWarper(temperature)]
    if top_k is not None:
        chain.append(hf_lp.TopKLogitsWarper(top_k))
    if top_p is not None:
        chain.append(hf_lp.TopPLogitsWarper(top_p))
    expected = hf_lp.LogitsProcessorList(chain)(ids, logits.clone())
    ours = process_logits(logits, ids, temperature, top_k, top_p, penalty)
    # distributions, as generate draws from them (an all-kept top-p may leave a zero-probability logit finite)
    torch.testing.assert_close(ours.softmax(-1), expected.softmax(-1), rtol=0, atol=0)


def test_processors_do_not_modify_their_input():
    logits = torch.randn(2, 10)
    before = logits.clone()
    ids = torch.randint(0, 10, (2, 4))
    process_logits(logits, ids, temperature=0.7, top_k=3, top_p=0.8, repetition_penalty=1.3)
    assert torch.equal(logits, before)


def test_repetition_penalty_by_hand():
    logits = torch.tensor([[2.0, -2.0, 1.0, 0.5]])
    out = apply_repetition_penalty(logits, torch.tensor([[0, 1, 1]]), 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, 0.5]]  # positive halved, negative doubled, unseen unchanged


# ---------------------------------------------------------------- the KV cache


def test_cached_step_logits_match_full_forward_before_and_after_the_crop(model):
    S = model.config.block_size
    seq = torch.randint(0, model.config.vocab_size, (2, 2 * S + 5))
    cache = KVCache.for_model(model, batch_size=2)
    with torch.no_grad():
        for T in range(3, seq.size(1) + 1):  # the prompt is 3 tokens; then one more token per step
            cached = next_token_logits(model, seq[:, :T], cache)
            full = model(seq[:, max(0, T - S) : T])[0][:, -1]
            torch.testing.assert_close(cached, full, **TOL)
            torch.testing.assert_close(next_token_logits(model, seq[:, :T]), full, **TOL)
            assert cache.length == min(T, S) and cache.start == max(0, T - S)


def _decode_step_against_modules(model, seq, prompt_len):
    """Prefill two caches with ``seq[:, :prompt_len]``, then feed the rest one token at a time through
    decode_step and through the modules' forward_with_cache; the logits and the caches must agree."""
    batch, total = seq.shape
    fast, slow = KVCache.for_model(model, batch), KVCache.for_model(model, batch)
    threads = torch.get_num_threads()
    with torch.no_grad():
        model.forward_with_cache(seq[:, :prompt_len], fast)
        model.forward_with_cache(seq[:, :prompt_len], slow)
        for t in range(prompt_len, total):
            got = decode_step(model, seq[:, t], fast)
            assert got.shape == (batch, model.config.vocab_size)
            torch.testing.assert_close(got, model.forward_with_cache(seq[:, t : t + 1], slow)[:, -1], **TOL)
            assert fast.length == slow.length == t + 1
            assert torch.get_num_threads() == threads  # decode_step may change it during a step, never after
    torch.testing.assert_close(fast.k[:, :, :, :total], slow.k[:, :, :, :total], **TOL)
    torch.testing.assert_close(fast.v[:, :, :, :total], slow.v[:, :, :, :total], **TOL)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_decode_step_matches_forward_with_cache(batch, bias):
    # decode_step is the modules' arithmetic written as one function: same logits, same cache contents.
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, bias=bias)).eval()
    _decode_step_against_modules(model, torch.randint(0, 50, (batch, 16)), prompt_len=4)


@pytest.mark.parametrize("batch", [1, 3])
def test_decode_step_splitting_big_matrices_between_threads_gives_the_same_logits(batch, monkeypatch):
    # GPT-2-sized matrices are read by several threads; lower the size limit so a small model takes that path.
    from gptlib.generation import threaded_linear

    monkeypatch.setattr(threaded_linear, "_SPLIT_MIN_NUMEL", 500)  # every matrix of this model (the smallest is 32 x 32)
    split = []  # the shapes of the matrices multiplied in parts
    in_parts = threaded_linear._in_parts

    def spy(x, weight, bias, **kwargs):
        if weight.numel() >= 500:
            split.append(tuple(weight.shape))
        return in_parts(x, weight, bias, **kwargs)

    monkeypatch.setattr(threaded_linear, "_in_parts", spy)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # three parts: slices of unequal length (97 rows of the head / 3)
    try:
        torch.manual_seed(2)
        model = GPT(GPTConfig(vocab_size=97, block_size=12, n_layer=2, n_head=4, n_embd=32)).eval()
        _decode_step_against_modules(model, torch.randint(0, 97, (batch, 12)), prompt_len=3)
        # 9 steps; in each, per layer c_attn (96, 32), attn.c_proj (32, 32), c_fc (128, 32), mlp.c_proj (32, 128),
        # and the head (97, 32) once
        for shape in ((96, 32), (32, 32), (128, 32), (32, 128)):
            assert split.count(shape) == 2 * 9
        assert split.count((97, 32)) == 9 and len(split) == 9 * 9
    finally:
        torch.set_num_threads(threads)


def test_in_parts_raises_a_failed_part_and_leaves_nothing_behind_for_the_next_call(monkeypatch):
    import torch.nn.functional as F

    from gptlib.generation import threaded_linear

    monkeypatch.setattr(threaded_linear, "_SPLIT_MIN_NUMEL", 1)
    weight, bias, x = torch.randn(10, 4), torch.randn(10), torch.randn(2, 4)
    fail_at = {"row": None}  # make the part that starts at this row raise

    def linear(x, w, b):
        if fail_at["row"] is not None and w.data_ptr() == weight[fail_at["row"]].data_ptr():
            raise RuntimeError(f"part at row {fail_at['row']} failed")
        return F.linear(x, w, b)

    for row in (0, 3, 7):  # the caller's own part (rows 0-2), then the workers' (3-6 and 7-9)
        fail_at["row"] = row
        with pytest.raises(RuntimeError, match=f"part at row {row} failed"):
            threaded_linear._in_parts(x, weight, bias, linear=linear, parts=3)
        fail_at["row"] = None  # the next call must get its own results, not ones left over from the failure
        torch.testing.assert_close(threaded_linear._in_parts(x, weight, bias, linear=linear, parts=3), F.linear(x, weight, bias))


def test_decode_step_calls_the_modules_when_they_have_hooks_or_dropout(model):
    # A hook must run, and dropout in training mode must apply: the function form would skip both.
    seen = []
    handle = model.h[0].attn.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    try:
        cache = KVCache.for_model(model, 1)
        with torch.no_grad():
            model.forward_with_cache(torch.tensor([[1, 2, 3]]), cache)
            decode_step(model, torch.tensor([4]), cache)
        assert seen == [(1, 3, 32), (1, 1, 32)]
    finally:
        handle.remove()
    torch.manual_seed(0)
    noisy = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.5)).train()
    outs = []
    for _ in range(2):
        cache = KVCache.for_model(noisy, 1)
        with torch.no_grad():
            noisy.forward_with_cache(torch.tensor([[1, 2]]), cache)
            outs.append(decode_step(noisy, torch.tensor([3]), cache))
    assert not torch.equal(outs[0], outs[1])  # dropout drew different masks: the modules ran


def test_decode_step_refuses_a_full_cache(model):
    cache = KVCache.for_model(model, 1, max_len=3)
    with torch.no_grad():
        model.forward_with_cache(torch.tensor([[1, 2, 3]]), cache)
        with pytest.raises(ValueError, match=r"the cache is full \(3 positions\)"):
            decode_step(model, torch.tensor([4]), cache)


@pytest.mark.parametrize("tokens", [torch.tensor([[4]]), torch.tensor([4, 5]), [4]])
def test_decode_step_refuses_tokens_that_are_not_one_per_row(model, tokens):
    cache = KVCache.for_model(model, 1)
    with torch.no_grad():
        model.forward_with_cache(torch.tensor([[1, 2, 3]]), cache)
        with pytest.raises(ValueError, match=r"tokens must be a 1-D tensor of 1 token ids \(one per row of the cache\), got"):
            decode_step(model, tokens, cache)


def test_prefill_in_chunks_matches_full_forward(model):
    # Several new tokens after a cached past need the causal mask anchored at the bottom-right corner.
    idx = torch.randint(0, model.config.vocab_size, (3, 20))
    cache = KVCache.for_model(model, batch_size=3)
    with torch.no_grad():
        full = model(idx)[0]
        parts = [model.forward_with_cache(idx[:, a:b], cache) for a, b in [(0, 7), (7, 8), (8, 13), (13, 20)]]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, **TOL)
    assert cache.length == 20


@pytest.mark.parametrize("explicit", [False, True])
def test_attention_with_cache_matches_attention_without(explicit):
    attn = CausalSelfAttention(make_config(n_embd=32, n_head=4)).eval()
    attn.use_sdpa = not explicit
    x = torch.randn(2, 9, 32)
    cache = KVCache(1, 2, 4, 8, 16)
    with torch.no_grad():
        full = attn(x)
        y1 = attn(x[:, :5], kv_cache=cache.layers[0])
        cache.length = 5
        y2, w = attn(x[:, 5:], return_weights=True, kv_cache=cache.layers[0])
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), full, **TOL)
    assert w.shape == (2, 4, 4, 9)
    assert torch.all(w[:, :, 0, 6:] == 0)  # position 5 does not see positions 6, 7, 8


def test_cache_reorder_and_errors(model):
    cache = KVCache.for_model(model, batch_size=3, max_len=8)
    assert cache.k.shape == (2, 3, 4, 8, 8)
    with torch.no_grad():
        model.forward_with_cache(torch.randint(0, 97, (3, 5)), cache)
    k_before = cache.k[:, :, :, :5].clone()
    cache.reorder(torch.tensor([2, 2, 0]))
    assert torch.equal(cache.k[:, 0, :, :5], k_before[:, 2]) and torch.equal(cache.k[:, 2, :, :5], k_before[:, 0])
    with pytest.raises(ValueError, match="room for 8"):
        model.forward_with_cache(torch.randint(0, 97, (3, 4)), cache)
    with pytest.raises(ValueError, match="batch size 2"):
        model.forward_with_cache(torch.randint(0, 97, (2, 1)), cache)
    with pytest.raises(ValueError, match="max_len"):
        KVCache.for_model(model, batch_size=1, max_len=25)


def test_forward_is_unchanged_by_the_cache_hooks(model):
    idx = torch.randint(0, 97, (2, 10))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 10, 97) and loss.ndim == 0


# ---------------------------------------------------------------- greedy and beam search vs transformers


@pytest.mark.parametrize(
    "sizes",
    [
        dict(vocab_size=97, block_size=40, n_layer=2, n_head=4, n_embd=32),
        dict(vocab_size=151, block_size=33, n_layer=3, n_head=3, n_embd=24),
    ],
)
def test_greedy_matches_transformers(sizes, capfd):
    gpt = make_model(seed=1, **sizes)
    idx = torch.randint(0, sizes["vocab_size"], (2, 7))
    new = sizes["block_size"] - 7  # up to the end of the context window
    with silent_transformers(capfd):
        hf = to_hf(gpt)
        expected = hf_generate(hf, idx, new)
    assert expected.shape == (2, sizes["block_size"])
    assert torch.equal(generate(gpt, idx, new, temperature=0), expected)
    assert torch.equal(generate(gpt, idx, new, temperature=0, use_cache=False), expected)


@pytest.mark.parametrize("num_beams", [2, 4])
def test_beam_search_matches_transformers(num_beams, capfd):
    gpt = make_model(seed=2, vocab_size=61, block_size=32)
    idx = torch.randint(0, 61, (2, 5))
    with silent_transformers(capfd):
        hf = to_hf(gpt)
        expected = hf_generate(
            hf, idx, 20, num_beams=num_beams, length_penalty=1.0, early_stopping=False,
            num_return_sequences=num_beams, output_scores=True, return_dict_in_generate=True,
        )  # fmt: skip
    seqs, scores = beam_search(gpt, idx, num_beams, 20, num_return_sequences=num_beams, return_scores=True)
    assert torch.equal(seqs, expected.sequences)
    torch.testing.assert_close(scores, expected.sequences_scores, **TOL)
    best = beam_search(gpt, idx, num_beams, 20, length_penalty=1.0)  # default: the best hypothesis per prompt
    assert torch.equal(best, expected.sequences[::num_beams])
    assert torch.equal(beam_search(gpt, idx, num_beams, 20, use_cache=False), best)


def test_beam_search_length_penalty_scales_scores_like_transformers(capfd):
    gpt = make_model(seed=4, vocab_size=50, block_size=20)
    idx = torch.randint(0, 50, (1, 4))
    with silent_transformers(capfd):
        expected = hf_generate(
            to_hf(gpt), idx, 8, num_beams=3, length_penalty=2.0, early_stopping=False,
            output_scores=True, return_dict_in_generate=True,
        )  # fmt: skip
    seqs, scores = beam_search(gpt, idx, 3, 8, length_penalty=2.0, return_scores=True)
    assert torch.equal(seqs, expected.sequences)
    torch.testing.assert_close(scores, expected.sequences_scores, **TOL)


def test_beam_search_with_one_beam_is_greedy_and_beats_greedy_otherwise(model):
    idx = torch.randint(0, 97, (3, 4))
    greedy = generate(model, idx, 10, temperature=0)
    assert torch.equal(beam_search(model, idx, 1, 10), greedy)

    def logprob(seqs):
        with torch.no_grad():
            lp = model(seqs[:, :-1])[0].log_softmax(-1)
        return lp.gather(-1, seqs[:, 1:, None])[:, 3:, 0].sum(-1)  # the 10 new tokens

    assert torch.all(logprob(beam_search(model, idx, 4, 10)) >= logprob(greedy) - 1e-5)


def test_beam_search_past_block_size(model):
    idx = torch.randint(0, 97, (1, 20))
    a = beam_search(model, idx, 3, 12)  # 32 tokens, the window is 24
    assert a.shape == (1, 32)
    assert torch.equal(beam_search(model, idx, 3, 12, use_cache=False), a)


# ---------------------------------------------------------------- sampling


def test_greedy_past_block_size_same_with_and_without_cache(model):
    idx = torch.randint(0, 97, (2, 30))  # already longer than block_size=24
    a = generate(model, idx, 25, temperature=0)
    assert a.shape == (2, 55) and torch.equal(a[:, :30], idx)
    assert torch.equal(generate(model, idx, 25, temperature=0, use_cache=False), a)


@pytest.mark.parametrize(
    "options",
    [dict(), dict(temperature=0.8, top_k=20), dict(temperature=1.3, top_p=0.9, repetition_penalty=1.2)],
)
def test_sampling_reproducible_and_same_with_and_without_cache(model, options):
    idx = torch.randint(0, 97, (2, 5))

    def run(seed, use_cache=True):
        return generate(model, idx, 30, generator=torch.Generator().manual_seed(seed), use_cache=use_cache, **options)

    a = run(7)
    assert a.shape == (2, 35)  # runs past block_size=24 too
    assert torch.equal(run(7), a)
    assert torch.equal(run(7, use_cache=False), a)
    assert not torch.equal(run(8), a)


def test_sampling_default_generator_follows_manual_seed(model):
    idx = torch.randint(0, 97, (1, 3))
    torch.manual_seed(123)
    a = generate(model, idx, 15)
    torch.manual_seed(123)
    assert torch.equal(generate(model, idx, 15), a)


def test_sampling_obeys_top_k(model):
    idx = torch.randint(0, 97, (4, 3))
    out = generate(model, idx, 1, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, generate(model, idx, 1, temperature=0))  # top-1 sampling is greedy


@pytest.mark.parametrize("temperature", [0, 1.0])
def test_num_return_sequences_shapes(model, temperature):
    idx = torch.randint(0, 97, (2, 5))
    out = generate(model, idx, 6, temperature=temperature, num_return_sequences=3)
    assert out.shape == (6, 11) and out.dtype == torch.long
    assert torch.equal(out[:, :5], idx.repeat_interleave(3, dim=0))  # rows b*n .. b*n+n-1 continue prompt b
    if temperature == 0:
        assert torch.equal(out[0], out[1]) and torch.equal(out[3], out[5])


def test_zero_new_tokens_returns_the_prompt(model):
    idx = torch.randint(0, 97, (2, 5))
    assert torch.equal(generate(model, idx, 0), idx)


def test_result_is_an_ordinary_tensor_and_inference_mode_does_not_leak(model):
    idx = torch.randint(0, 97, (1, 3))
    modes = []
    for token in stream(model, idx, 4):
        modes.append(torch.is_inference_mode_enabled())
        token += 1  # an inference tensor would refuse this outside inference mode
    assert modes == [False] * 4
    out = generate(model, idx, 3)
    out[0, 0] = 5
    assert not out.is_inference()


# ---------------------------------------------------------------- streaming and on_token


def test_stream_yields_the_tokens_generate_returns(model):
    idx = torch.randint(0, 97, (2, 4))
    options = dict(temperature=0.9, top_p=0.95, num_return_sequences=2)
    out = generate(model, idx, 12, generator=torch.Generator().manual_seed(3), **options)
    steps = list(stream(model, idx, 12, generator=torch.Generator().manual_seed(3), **options))
    assert len(steps) == 12 and steps[0].shape == (4,)
    assert torch.equal(torch.stack(steps, dim=1), out[:, 4:])

    seen = []
    again = generate(model, idx, 12, generator=torch.Generator().manual_seed(3), on_token=seen.append, **options)
    assert torch.equal(again, out) and torch.equal(torch.stack(seen, dim=1), out[:, 4:])


# ---------------------------------------------------------------- stop strings


def first_completion(text, stops, default):
    """How many characters of ``text`` it takes until one of ``stops`` has appeared (``default`` if none does)."""
    ends = [text.find(s) + len(s) for s in stops if s in text]
    return min(ends, default=default)


@pytest.mark.parametrize("which", ["one row stops", "both rows stop"])
def test_stop_string_ends_each_row_after_the_token_that_completes_it(char_model, which):
    prompts = torch.tensor([TOK.encode("hello"), TOK.encode("world")])
    free = generate(char_model, prompts, 30, temperature=0)
    texts = [TOK.decode(row[5:].tolist()) for row in free]
    # Two-character stop strings taken from the free continuations, so they complete mid-generation.
    stops = [texts[0][4:6]] if which == "one row stops" else [texts[0][4:6], texts[1][6:8]]
    ends = [first_completion(t, stops, default=30) for t in texts]  # new tokens each row keeps
    assert ends[0] <= 6 and (ends[1] == 30) == (which == "one row stops")  # the cases this test means

    out = generate(char_model, prompts, 30, temperature=0, stop=stops, tokenizer=TOK)
    assert out.shape == (2, 5 + max(ends))  # generation ends when the last row has finished
    for b, end in enumerate(ends):
        assert torch.equal(out[b, : 5 + end], free[b, : 5 + end])  # a finished row keeps its tokens ...
        assert torch.all(out[b, 5 + end :] == PAD_TOKEN_ID)  # ... followed by padding
        if end < 30:
            kept = TOK.decode(out[b, 5 : 5 + end].tolist())
            assert any(kept.endswith(s) for s in stops)  # up to and including the completing token

    steps = list(stream(char_model, prompts, 30, temperature=0, stop=stops, tokenizer=TOK, pad_token_id=0))
    padded = out.masked_fill(out == PAD_TOKEN_ID, 0)
    assert torch.equal(torch.stack(steps, dim=1), padded[:, 5:])
    again = generate(char_model, prompts, 30, temperature=0, stop=stops, tokenizer=TOK, pad_token_id=0)
    assert torch.equal(again, padded)


def test_stop_string_single_row_ends_early(char_model):
    prompt = torch.tensor([TOK.encode("abc")])
    free = TOK.decode(generate(char_model, prompt, 20, temperature=0)[0, 3:].tolist())
    stops = ["not there", free[2]]  # either string stops; this one after at most 3 tokens
    out = generate(char_model, prompt, 20, temperature=0, stop=stops, tokenizer=TOK, use_cache=False)
    assert TOK.decode(out[0, 3:].tolist()) == free[: first_completion(free, stops, 20)]


def test_stop_string_in_the_prompt_does_not_count(char_model):
    prompt = torch.tensor([TOK.encode("stop here")])
    out = generate(char_model, prompt, 5, temperature=0, stop="stop", tokenizer=TOK)
    assert out.shape == (1, 14)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(top_p=0.0), r"top_p must be a number in \(0, 1\].*0\.0"),
        (dict(top_p=1.5), r"top_p .*1\.5"),
        (dict(top_k=0), r"top_k must be an integer >= 1.*got 0"),
        (dict(temperature=-0.5), r"temperature must be .*>= 0.*-0\.5"),
        (dict(num_return_sequences=0), r"num_return_sequences must be an integer >= 1, got 0"),
        (dict(repetition_penalty=0.0), r"repetition_penalty must be .*> 0.*0\.0"),
        (dict(stop="\n"), r"stop=.* needs tokenizer"),
        (dict(stop=""), r"stop must be a non-empty string"),
        (dict(generator=42), r"generator must be a CPU torch\.Generator.*got 42"),
    ],
)
def test_bad_arguments_raise_clear_errors(model, options, match):
    idx = torch.randint(0, 97, (1, 3))
    with pytest.raises(ValueError, match=match):
        generate(model, idx, 5, **options)
    with pytest.raises(ValueError, match=match):
        stream(model, idx, 5, **options)  # at call time, before the first token is asked for
    with pytest.raises(ValueError, match=match):
        GenerationSettings(5, **options)  # where the check lives


def test_generation_settings_are_generate_and_streams_arguments():
    # One description of the settings: generate and stream take exactly its fields, in its order.
    fields = [f.name for f in dataclasses.fields(GenerationSettings)]
    for fn in (generate, stream):
        params = inspect.signature(fn).parameters
        assert [p for p in params if p not in ("model", "idx", "on_token")] == fields
        assert params["pad_token_id"].kind is inspect.Parameter.KEYWORD_ONLY
        assert all(params[f].default == f_.default for f, f_ in zip(fields[1:], dataclasses.fields(GenerationSettings)[1:]))


def test_generation_settings_are_checked_once_and_frozen():
    settings = GenerationSettings(5, stop=["a", "b"], tokenizer=TOK)
    assert settings.stop == ("a", "b") and GenerationSettings(5).stop == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.temperature = 0
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 0, got -1"):
        GenerationSettings(-1)
    with pytest.raises(ValueError, match="pad_token_id must be an integer, got 0.5"):
        GenerationSettings(5, pad_token_id=0.5)


def test_bad_prompts_raise_clear_errors(model):
    with pytest.raises(ValueError, match="prompt is empty"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="prompt is empty"):
        beam_search(model, torch.zeros(0, 3, dtype=torch.long), 2, 5)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(model, torch.tensor([[1, 97]]), 5)
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        generate(model, torch.tensor([1, 2]), 5)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 0, got -1"):
        generate(model, torch.tensor([[1, 2]]), -1)


def test_bad_beam_arguments_raise_clear_errors(model):
    idx = torch.randint(0, 97, (1, 3))
    with pytest.raises(ValueError, match=r"num_beams must be an integer in \[1, vocab_size=97\].*got 98"):
        beam_search(model, idx, 98, 5)
    with pytest.raises(ValueError, match="num_beams .*got 0"):
        beam_search(model, idx, 0, 5)
    with pytest.raises(ValueError, match=r"num_return_sequences .*\[1, num_beams=2\], got 3"):
        beam_search(model, idx, 2, 5, num_return_sequences=3)
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 1, got 0"):
        beam_search(model, idx, 2, 0)


def test_processor_functions_check_their_arguments():
    logits, ids = torch.randn(1, 5), torch.tensor([[0]])
    with pytest.raises(ValueError, match="greedy"):
        apply_temperature(logits, 0.0)
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(logits, 0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(logits, 0.0)
    with pytest.raises(ValueError, match="repetition_penalty"):
        apply_repetition_penalty(logits, ids, -1.0)
