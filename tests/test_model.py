"""Tests for gptlib.model: configuration checks, parameter counts, initialisation, forward, bad input."""

import dataclasses
import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlib.block import LayerNorm
from gptlib.model import GPT, IGNORE_INDEX, INIT_STD, PRESETS, GPTConfig, param_count


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def tiny_config(**overrides):
    fields = dict(vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.0, bias=True)
    return GPTConfig(**{**fields, **overrides})


@pytest.fixture
def model():
    return GPT(tiny_config()).eval()


def on_meta(config):
    """Build a model without allocating or initialising its weights: enough to count parameters."""
    with torch.device("meta"):
        return GPT(config)


# ---------------------------------------------------------------- GPTConfig


def test_default_config_is_gpt2_small():
    assert GPTConfig() == GPTConfig.from_preset("gpt2")
    c = GPTConfig()
    assert (c.vocab_size, c.block_size, c.n_layer, c.n_head, c.n_embd) == (50257, 1024, 12, 12, 768)
    assert c.head_size == 64


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name):
    config = GPTConfig.from_preset(name)
    assert isinstance(config, GPTConfig)


def test_preset_overrides_and_unknown_names():
    c = GPTConfig.from_preset("char-small", vocab_size=80, dropout=0.0)
    assert c.vocab_size == 80 and c.dropout == 0.0 and c.n_embd == PRESETS["char-small"]["n_embd"]
    with pytest.raises(ValueError, match=r"'gpt5'.*char-tiny"):
        GPTConfig.from_preset("gpt5")
    with pytest.raises(ValueError, match="n_embed"):
        GPTConfig.from_preset("gpt2", n_embed=10)


def test_indivisible_heads_names_both_values():
    with pytest.raises(ValueError, match=r"n_embd=100.*n_head=3"):
        GPTConfig(n_embd=100, n_head=3)


@pytest.mark.parametrize("field", ["vocab_size", "block_size", "n_layer", "n_head", "n_embd"])
@pytest.mark.parametrize("value", [0, -4])
def test_non_positive_sizes(field, value):
    with pytest.raises(ValueError, match=rf"{field}={value}"):
        tiny_config(**{field: value})


@pytest.mark.parametrize("value", [2.0, "8", True, None])
def test_sizes_must_be_ints(value):
    with pytest.raises(TypeError, match="n_layer"):
        tiny_config(n_layer=value)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range(value):
    with pytest.raises(ValueError, match=rf"dropout={value}"):
        tiny_config(dropout=value)


def test_bias_must_be_bool():
    with pytest.raises(TypeError, match="bias"):
        tiny_config(bias=1)


def test_replace_revalidates_and_model_checks_mutated_config():
    with pytest.raises(ValueError, match="n_head=5"):
        dataclasses.replace(tiny_config(), n_head=5)
    config = tiny_config()
    config.n_head = 5  # plain attribute assignment is not checked ...
    with pytest.raises(ValueError, match="n_head=5"):
        GPT(config)  # ... but building a model is


# ---------------------------------------------------------------- parameter counts


def test_gpt2_small_has_124_439_808_parameters_both_ways():
    config = GPTConfig.from_preset("gpt2")
    assert param_count(config) == 124_439_808
    assert on_meta(config).num_params() == 124_439_808


@pytest.mark.parametrize(
    "name, expected",
    [("gpt2-medium", 354_823_168), ("gpt2-large", 774_030_080), ("gpt2-xl", 1_557_611_200)],
)
def test_larger_gpt2_counts(name, expected):
    config = GPTConfig.from_preset(name)
    assert param_count(config) == expected
    assert on_meta(config).num_params() == expected


@settings(max_examples=25)
@given(
    vocab_size=st.integers(1, 300),
    block_size=st.integers(1, 64),
    n_layer=st.integers(1, 4),
    n_head=st.integers(1, 4),
    head_size=st.integers(1, 12),
    bias=st.booleans(),
)
def test_formula_matches_model_for_random_configs(vocab_size, block_size, n_layer, n_head, head_size, bias):
    config = GPTConfig(vocab_size, block_size, n_layer, n_head, n_head * head_size, 0.0, bias)
    m = on_meta(config)
    assert param_count(config) == m.num_params()
    assert param_count(config, non_embedding=True) == m.num_params(non_embedding=True)
    assert m.num_params(non_embedding=True) == m.num_params() - (vocab_size + block_size) * n_head * head_size


def test_weight_tying_saves_vocab_times_width():
    config = GPTConfig.from_preset("gpt2")
    m = on_meta(config)
    untied = sum(p.numel() for p in m.parameters()) + m.lm_head.weight.numel()
    assert untied - m.num_params() == 50257 * 768 == 38_597_376


# ---------------------------------------------------------------- structure and initialisation


def test_lm_head_is_the_token_embedding(model):
    assert model.lm_head.weight is model.wte.weight
    assert model.lm_head.bias is None
    with torch.no_grad():
        model.wte.weight[3, 0] = 123.0
    assert model.lm_head.weight[3, 0] == 123.0


def test_parameter_names_match_gpt2_layout(model):
    names = set(model.state_dict())
    assert {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"} <= names
    assert "h.1.attn.c_attn.weight" in names and "h.1.mlp.c_proj.bias" in names
    assert len(model.h) == 2


def test_init_statistics():
    config = GPTConfig(vocab_size=512, block_size=64, n_layer=4, n_head=4, n_embd=128)
    m = GPT(config)
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)  # 0.00707
    proj = torch.cat([p.flatten() for n, p in m.named_parameters() if n.endswith("c_proj.weight")])
    other = torch.cat([p.flatten() for n, p in m.named_parameters() if n.endswith(("c_attn.weight", "c_fc.weight"))])
    emb = torch.cat([m.wte.weight.flatten(), m.wpe.weight.flatten()])
    # ~300k-600k samples each: the sample std is within 1% of the true one; 3% would catch a wrong std
    assert proj.std().item() == pytest.approx(residual_std, rel=0.03)
    assert other.std().item() == pytest.approx(INIT_STD, rel=0.03)
    assert emb.std().item() == pytest.approx(INIT_STD, rel=0.03)
    assert abs(proj.mean().item()) < 0.01 * residual_std
    for name, p in m.named_parameters():
        if name.endswith("bias"):
            assert torch.all(p == 0), name
    norms = [mod for mod in m.modules() if isinstance(mod, LayerNorm)]
    assert len(norms) == 2 * config.n_layer + 1
    assert all(torch.all(mod.weight == 1) for mod in norms)


def test_init_is_repeatable_with_a_seed():
    torch.manual_seed(42)
    a = GPT(tiny_config()).state_dict()
    torch.manual_seed(42)
    b = GPT(tiny_config()).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- forward


def test_logits_shape_and_no_loss_without_targets(model):
    idx = torch.randint(0, 65, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 65) and logits.dtype == torch.float32
    assert loss is None


def test_loss_is_mean_cross_entropy(model):
    idx = torch.randint(0, 65, (2, 16))
    targets = torch.randint(0, 65, (2, 16))
    logits, loss = model(idx, targets)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 65), targets.reshape(-1)))


def test_initial_loss_is_about_ln_vocab_size():
    # An untrained model should be uniformly unsure: loss ~ -ln(1/V) = ln(V).
    config = GPTConfig.from_preset("char-small", dropout=0.0)
    m = GPT(config).eval()
    idx = torch.randint(0, config.vocab_size, (8, 64))
    targets = torch.randint(0, config.vocab_size, (8, 64))
    _, loss = m(idx, targets)
    assert abs(loss.item() - math.log(config.vocab_size)) < 0.1


def test_ignored_targets_leave_the_loss(model):
    idx = torch.randint(0, 65, (2, 8))
    targets = torch.randint(0, 65, (2, 8))
    logits, _ = model(idx, targets)
    masked = targets.clone()
    masked[:, :5] = IGNORE_INDEX
    _, loss = model(idx, masked)
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, 65), targets[:, 5:].reshape(-1))
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_other_integer_dtypes_are_accepted(model, dtype):
    idx = torch.randint(0, 65, (2, 8))
    expected, loss_expected = model(idx, idx.roll(1))
    logits, loss = model(idx.to(dtype), idx.roll(1).to(dtype))
    torch.testing.assert_close(logits, expected, atol=0, rtol=0)
    torch.testing.assert_close(loss, loss_expected, atol=0, rtol=0)


def test_full_length_sequence_is_fine(model):
    logits, _ = model(torch.randint(0, 65, (1, 16)))
    assert logits.shape == (1, 16, 65)


def test_model_is_causal(model):
    idx = torch.randint(0, 65, (2, 16))
    changed = idx.clone()
    changed[:, 10:] = (changed[:, 10:] + 7) % 65
    a, _ = model(idx)
    b, _ = model(changed)
    torch.testing.assert_close(b[:, :10], a[:, :10], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(b[:, 10:], a[:, 10:])


def test_prefix_gives_the_same_logits(model):
    idx = torch.randint(0, 65, (2, 16))
    full, _ = model(idx)
    part, _ = model(idx[:, :7])
    torch.testing.assert_close(part, full[:, :7], atol=1e-5, rtol=1e-5)


def test_dropout_only_in_train_mode():
    m = GPT(tiny_config(dropout=0.2))
    idx = torch.randint(0, 65, (2, 16))
    m.eval()
    torch.testing.assert_close(m(idx)[0], m(idx)[0], atol=0, rtol=0)
    m.train()
    assert not torch.allclose(m(idx)[0], m(idx)[0])


def test_backward_reaches_every_parameter(model):
    model.train()
    idx = torch.randint(0, 65, (2, 16))
    _, loss = model(idx, torch.randint(0, 65, (2, 16)))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_attention_weights(model):
    idx = torch.randint(0, 65, (3, 9))
    with torch.no_grad():
        w = model.attention_weights(idx)
    assert w.shape == (2, 3, 4, 9, 9)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 4, 9), atol=1e-6, rtol=0)
    assert torch.all(w.triu(diagonal=1) == 0)


@settings(max_examples=15)
@given(
    n_layer=st.integers(1, 3),
    n_head=st.integers(1, 4),
    head_size=st.integers(1, 8),
    vocab_size=st.integers(2, 50),
    T=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_random_small_configs_run_and_stay_causal(n_layer, n_head, head_size, vocab_size, T, seed):
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size, 12, n_layer, n_head, n_head * head_size)
    m = GPT(config).eval()
    idx = torch.randint(0, vocab_size, (2, T))
    logits, loss = m(idx, idx)
    assert logits.shape == (2, T, vocab_size) and torch.isfinite(loss)
    changed = idx.clone()
    changed[:, -1] = (changed[:, -1] + 1) % vocab_size
    torch.testing.assert_close(m(changed)[0][:, :-1], logits[:, :-1], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- bad input: clear messages


def test_too_long_sequence(model):
    with pytest.raises(ValueError, match=r"T=17.*block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("bad", [65, 1000, -1, -7])
def test_token_id_outside_vocabulary(model, bad):
    idx = torch.zeros(2, 8, dtype=torch.long)
    idx[1, 3] = bad
    with pytest.raises(ValueError, match=rf"token id {bad} .*\[0, 64\].*vocab_size=65"):
        model(idx)


def test_float_ids(model):
    with pytest.raises(ValueError, match=r"integer.*torch\.float32"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"torch\.bool"):
        model(torch.zeros(1, 4, dtype=torch.bool))


def test_not_a_tensor(model):
    with pytest.raises(TypeError, match="list"):
        model([[1, 2, 3]])


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3), ()])
def test_wrong_ndim(model, shape):
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        model(torch.zeros(shape, dtype=torch.long))


def test_one_dimensional_input_gets_a_hint(model):
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        model(torch.zeros(5, dtype=torch.long))


def test_empty_input(model):
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))


def test_targets_wrong_shape(model):
    idx = torch.zeros(2, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r"\(2, 8\).*\(2, 7\)"):
        model(idx, torch.zeros(2, 7, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(16,\)"):
        model(idx, torch.zeros(16, dtype=torch.long))


def test_targets_float(model):
    with pytest.raises(ValueError, match=r"targets.*torch\.float32"):
        model(torch.zeros(2, 8, dtype=torch.long), torch.zeros(2, 8))


@pytest.mark.parametrize("bad", [65, -2, -100])
def test_target_outside_vocabulary(model, bad):
    idx = torch.zeros(2, 8, dtype=torch.long)
    targets = torch.zeros(2, 8, dtype=torch.long)
    targets[0, 0] = bad
    with pytest.raises(ValueError, match=rf"target id {bad} .*\[0, 64\].*-1"):
        model(idx, targets)
