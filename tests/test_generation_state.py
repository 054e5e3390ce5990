"""Generation leaves the process as it found it: torch's thread count, the default generator, grad and
inference modes, signal handlers and the environment, also when a step raises or a stream is dropped.

On a GPT-2-sized model (random weights): its big matrices take decode_step's thread-split path, which
sets torch's thread count to 1 during each step.
"""


import pytest
import torch

from gptlib.generation import KVCache, decode_step, generate, stream, threaded_linear
from gptlib.model import GPT, GPTConfig
from helpers import assert_global_state_unchanged, global_state


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("gpt2")).eval()


@pytest.fixture
def split_steps(monkeypatch):
    """Two torch threads (so that decode_step splits GPT-2's matrices), and a list that records torch's
    thread count inside every split product: proof that the split path ran, with torch at 1 thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    in_parts = threaded_linear._in_parts

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return in_parts(*args, **kwargs)

    monkeypatch.setattr(threaded_linear, "_in_parts", spy)
    try:
        yield seen
    finally:
        torch.set_num_threads(threads)


PROMPT = torch.tensor([[464, 3290, 318, 257]])
SAMPLED = dict(temperature=0.8, top_k=20, top_p=0.9, repetition_penalty=1.1)


@pytest.mark.parametrize("options", [dict(temperature=0), SAMPLED], ids=["greedy", "sampled"])
def test_generate_leaves_global_state_alone(gpt2, split_steps, options):
    before = global_state()
    generator = torch.Generator().manual_seed(0)
    out = generate(gpt2, PROMPT, 3, generator=generator, **options)
    assert out.shape == (1, 7)
    assert split_steps and set(split_steps) == {1}  # the thread-split path ran, torch at one thread inside
    assert_global_state_unchanged(before)


def test_stream_leaves_global_state_alone_between_and_after_steps(gpt2, split_steps):
    before = global_state()
    for _ in stream(gpt2, PROMPT, 3, generator=torch.Generator().manual_seed(0), **SAMPLED):
        assert_global_state_unchanged(before)  # the caller's code between two steps sees its own state
    assert split_steps
    assert_global_state_unchanged(before)
    dropped = stream(gpt2, PROMPT, 3, temperature=0)
    next(dropped)
    dropped.close()  # abandoned after one token
    assert_global_state_unchanged(before)


def test_state_is_restored_when_generation_stops_with_an_error(gpt2, split_steps):
    before = global_state()

    def interrupt(token):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(gpt2, PROMPT, 3, temperature=0, on_token=interrupt)
    assert_global_state_unchanged(before)

    c = gpt2.config
    wrong_heads = KVCache(c.n_layer, 1, c.n_head, 32, 8)  # head size 32, not 64: the first layer's append fails
    full = KVCache.for_model(gpt2, 1, max_len=4)
    with torch.no_grad():
        gpt2.forward_with_cache(PROMPT, full)
    for cache, error in ((wrong_heads, RuntimeError), (full, ValueError)):
        with pytest.raises(error):
            decode_step(gpt2, torch.tensor([11]), cache)
        assert_global_state_unchanged(before)
    assert split_steps  # the wrong-heads step failed inside the split path, after a split product
    # and the workers were left with nothing that the next step could mistake for its own results
    assert torch.equal(generate(gpt2, PROMPT, 2, temperature=0), generate(gpt2, PROMPT, 2, temperature=0, use_cache=False))
