"""gptlib.generation.tokens_per_second: the one way a model card's speed is measured."""

import pytest
import torch
from helpers import assert_global_state_unchanged, global_state

from gptlib.generation import Speed, tokens_per_second
from gptlib.model import GPT, GPTConfig

TINY = GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=16)


def test_measures_positive_speeds_and_reports_what_it_measured():
    model = GPT(TINY)
    speed = tokens_per_second(model, new_tokens=12, prompt_len=3, repeats=3)
    assert isinstance(speed, Speed)
    assert speed.median > 0 and 0 < speed.worst <= speed.median
    assert (speed.new_tokens, speed.prompt_len, speed.repeats, speed.device) == (12, 3, 3, "cpu")
    assert "tokens/s" in str(speed)


def test_generates_the_number_of_tokens_it_counts(monkeypatch):
    import gptlib.generation.speed as speed_module

    calls = []
    real = speed_module.generate

    def counting(model, idx, max_new_tokens, **kw):
        out = real(model, idx, max_new_tokens, **kw)
        calls.append((idx.shape[1], out.shape[1] - idx.shape[1], kw.get("temperature")))
        return out

    monkeypatch.setattr(speed_module, "generate", counting)
    tokens_per_second(GPT(TINY), new_tokens=20, prompt_len=2, repeats=2)
    assert calls[0] == (2, 16, 0)  # warm-up: at most 16 tokens, greedy
    assert calls[1:] == [(2, 20, 0), (2, 20, 0)]


def test_leaves_global_state_and_training_mode_as_found():
    model = GPT(TINY).train()
    before = global_state()  # the random generators too: greedy decoding draws nothing
    tokens_per_second(model, new_tokens=4, repeats=1)
    assert_global_state_unchanged(before)
    assert model.training


@pytest.mark.parametrize("kwargs, message", [({"new_tokens": 0}, "new_tokens"), ({"repeats": 1.5}, "repeats"),
                                             ({"prompt_len": True}, "prompt_len")])
def test_bad_arguments_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tokens_per_second(GPT(TINY), **kwargs)
