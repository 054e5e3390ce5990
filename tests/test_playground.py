"""Tests for gptlib.playground: the widget callbacks, driven by setting ``.value`` (no browser needed)."""

import re

import pytest
import torch

from gptlib.generation import generate
from gptlib.model import GPT, GPTConfig
from gptlib.playground import Playground
from gptlib.tokenizers import CharTokenizer

TOK = CharTokenizer("abcdefghijklmnopqrstuvwxyz .\n")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    model = GPT(config).eval()
    with torch.no_grad():  # wider weights than GPT-2's init, so samples at different settings differ clearly
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.5)
    return model


def expected(model, prompt, seed=0, **settings):
    ids = torch.tensor([TOK.encode(prompt)])
    out = generate(model, ids, generator=torch.Generator().manual_seed(seed), **settings)
    return prompt + TOK.decode(out[0, ids.size(1):].tolist())


def make(model, **options):
    options = {"prompt": "the cat", "max_new_tokens": 20, **options}
    return Playground(model, TOK, **options)


def test_starts_with_a_sample_of_its_initial_settings(model):
    pg = make(model, temperature=0.9, top_k=5, seed=3)
    assert pg.text == expected(model, "the cat", seed=3, max_new_tokens=20, temperature=0.9, top_k=5)
    assert pg.text.startswith("the cat") and len(pg.text) == len("the cat") + 20
    assert "<b>the cat</b>" in pg.output.value and "seed 3" in pg.status.value


@pytest.mark.parametrize(
    "control, value, settings",
    [
        ("temperature", 1.5, dict(temperature=1.5)),
        ("top_k", 3, dict(top_k=3)),
        ("top_p", 0.5, dict(top_p=0.5)),
        ("max_new_tokens", 7, dict(max_new_tokens=7)),
        ("seed", 11, dict(seed=11)),
        ("prompt", "a dog", dict(prompt="a dog")),
    ],
)
def test_setting_a_value_resamples_with_it(model, control, value, settings):
    pg = make(model, temperature=0.8)
    before = pg.text
    getattr(pg, control).value = value
    want = dict(prompt="the cat", seed=0, max_new_tokens=20, temperature=0.8) | settings
    assert pg.text == expected(model, **want)
    assert pg.text != before  # every one of these changes gives other text with this model
    assert pg.text.startswith(want["prompt"])


def test_same_seed_same_text_and_other_seed_other_text(model):
    pg = make(model, temperature=1.0, seed=5)
    first = pg.text
    pg.seed.value = 6
    assert pg.text != first
    pg.seed.value = 5
    assert pg.text == first
    assert make(model, temperature=1.0, seed=5).text == first  # a new playground, the same sample


def test_temperature_zero_is_greedy_whatever_top_k_and_top_p(model):
    pg = make(model, top_k=2, top_p=0.3)
    pg.temperature.value = 0.0
    greedy = expected(model, "the cat", max_new_tokens=20, temperature=0)
    assert pg.text == greedy
    assert "greedy" in pg.status.value
    pg.seed.value = 99  # greedy decoding draws nothing: the seed changes nothing
    assert pg.text == greedy


def test_off_values_mean_no_filter(model):
    pg = make(model, top_k=0, top_p=1.0)
    assert pg.settings() == dict(max_new_tokens=20, temperature=0.8, top_k=None, top_p=None)
    assert pg.text == expected(model, "the cat", max_new_tokens=20, temperature=0.8)


def test_hold_samples_once_with_all_changes(model):
    pg = make(model)
    calls = []
    original = pg.sample
    pg.sample = lambda: calls.append(1) or original()
    with pg.hold():
        pg.temperature.value = 1.3
        pg.top_k.value = 4
        pg.seed.value = 8
    assert len(calls) == 1
    assert pg.text == expected(model, "the cat", seed=8, max_new_tokens=20, temperature=1.3, top_k=4)


def test_bad_prompts_are_reported_not_raised(model):
    pg = make(model)
    pg.prompt.value = ""
    assert pg.text == "" and pg.output.value == ""
    assert "type a prompt" in pg.status.value
    pg.prompt.value = "Zebra"  # 'Z' is not in the vocabulary
    assert pg.text == "" and "'Z'" in pg.status.value and "not in" in pg.status.value
    assert pg.error.startswith("character 'Z' (U+005A) at position 0 is not in")
    pg.prompt.value = "<b>"  # reported text is HTML-escaped
    assert "&lt;" in pg.status.value
    pg.prompt.value = "a cat"  # and it recovers
    assert pg.text == expected(model, "a cat", max_new_tokens=20, temperature=0.8)
    assert pg.error is None and "⚠" not in pg.status.value


def test_out_of_range_values_are_clamped_to_valid_settings(model):
    pg = make(model)
    pg.top_p.value = 1.5
    pg.temperature.value = -1.0
    pg.top_k.value = 10_000
    assert pg.top_p.value == 1.0 and pg.temperature.value == 0.0 and pg.top_k.value == TOK.vocab_size
    assert pg.text == expected(model, "the cat", max_new_tokens=20, temperature=0)


def test_prompt_longer_than_the_context_window(model):
    long_prompt = "the cat sat on the mat " * 3  # 69 characters, block_size 16
    pg = make(model, prompt=long_prompt, temperature=0.0)
    assert pg.text == expected(model, long_prompt, max_new_tokens=20, temperature=0)


def test_displays_as_its_widget(model):
    pg = make(model)
    bundle = pg._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == pg.widget.model_id
    assert "Playground(prompt='the cat'" in repr(pg)


def test_status_line_rounds_every_value_after_slider_steps(model):
    pg = make(model, top_p=1.0)
    for _ in range(3):  # 1.0 - 3 * 0.05 in binary floats is 0.8500000000000001
        pg.top_p.value = pg.top_p.value - pg.top_p.step
    assert "top_p 0.85," in pg.status.value
    pg.temperature.value = 0.1 + 0.2  # 0.30000000000000004
    assert "temperature 0.30," in pg.status.value
    assert not re.search(r"\d\.\d{3,}", pg.status.value), pg.status.value
