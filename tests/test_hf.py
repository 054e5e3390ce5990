"""Tests for gptlib.hf: gptlib's GPT and Hugging Face's GPT2LMHeadModel compute the same logits."""


import logging

import pytest
import torch
from helpers import transformers_messages

from gptlib.hf import config_from_hf, from_hf, hf_config, to_hf
from gptlib.model import GPT, GPTConfig

transformers = pytest.importorskip("transformers")

# float32 on CPU, same weights, different order of operations (and Conv1D's addmm vs Linear).
TOL = dict(rtol=1e-5, atol=1e-5)

SMALL_ODD = GPTConfig(vocab_size=1000, block_size=70, n_layer=3, n_head=5, n_embd=200, dropout=0.1)
GPT2_SMALL = GPTConfig.from_preset("gpt2")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def gpt_logits(gpt, idx):
    with torch.no_grad():
        return gpt(idx)[0]


def hf_logits(hf, idx):
    with torch.no_grad():
        return hf(idx, use_cache=False).logits


def assert_same_state(a: GPT, b: GPT):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# ---------------------------------------------------------------- gptlib -> HF -> gptlib


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_to_hf_same_logits_odd_sizes(attn_implementation):
    gpt = GPT(SMALL_ODD).eval()
    hf = to_hf(gpt, attn_implementation=attn_implementation)
    assert hf.config._attn_implementation == attn_implementation
    assert not hf.training
    idx = torch.randint(0, 1000, (2, 70))  # the full block, odd length
    torch.testing.assert_close(hf_logits(hf, idx), gpt_logits(gpt, idx), **TOL)


def test_to_hf_copies_config_and_ties_weights():
    gpt = GPT(SMALL_ODD)
    hf = to_hf(gpt)
    c = hf.config
    assert (c.vocab_size, c.n_positions, c.n_ctx, c.n_embd, c.n_layer, c.n_head) == (1000, 70, 70, 200, 3, 5)
    assert c.activation_function == "gelu_new" and c.layer_norm_epsilon == 1e-5
    assert c.resid_pdrop == c.embd_pdrop == c.attn_pdrop == 0.1
    assert c.bos_token_id == c.eos_token_id == 999
    assert hf.lm_head.weight is hf.transformer.wte.weight
    assert hf.training  # mirrors gpt, which is in train mode
    # copies, not views: changing one model leaves the other alone
    with torch.no_grad():
        gpt.wte.weight.zero_()
    assert hf.transformer.wte.weight.abs().sum() > 0


def test_conv1d_weights_are_transposed():
    gpt = GPT(SMALL_ODD)
    hf = to_hf(gpt)
    ours, theirs = gpt.h[1].attn.c_attn, hf.transformer.h[1].attn.c_attn
    assert ours.weight.shape == (600, 200) and theirs.weight.shape == (200, 600)
    assert torch.equal(theirs.weight, ours.weight.T)
    assert torch.equal(hf.transformer.h[2].mlp.c_fc.weight, gpt.h[2].mlp.c_fc.weight.T)
    assert torch.equal(hf.transformer.wpe.weight, gpt.wpe.weight)


def test_round_trip_gives_identical_state_dict():
    gpt = GPT(SMALL_ODD)
    back = from_hf(to_hf(gpt))
    assert back.config == gpt.config
    assert_same_state(gpt, back)
    assert back.lm_head.weight is back.wte.weight


def test_hf_and_gptlib_train_mode_losses_agree_without_dropout():
    config = GPTConfig(vocab_size=300, block_size=24, n_layer=2, n_head=3, n_embd=48)
    gpt = GPT(config)
    hf = to_hf(gpt)
    idx = torch.randint(0, 300, (2, 24))
    _, loss = gpt(idx[:, :-1], idx[:, 1:])
    # HF shifts the labels itself: position t predicts labels[t + 1]
    hf_loss = hf(idx, labels=idx, use_cache=False).loss
    torch.testing.assert_close(hf_loss, loss, **TOL)


def test_message_collector_sees_transformers_warnings():
    with transformers_messages() as messages:
        transformers.GPT2Config(vocab_size=778, n_positions=8, n_embd=16, n_layer=1, n_head=2)  # bos/eos 50256
    assert any("bos_token_id" in m for m in messages)


def test_conversion_is_silent():
    config = GPTConfig(vocab_size=777, block_size=16, n_layer=1, n_head=2, n_embd=16)
    with transformers_messages() as messages:
        hf = to_hf(GPT(config).eval())
        hf_logits(hf, torch.randint(0, 777, (1, 5)))
        from_hf(hf)
    assert messages == []


# ---------------------------------------------------------------- HF -> gptlib


def hf_model(**overrides):
    fields = dict(
        vocab_size=1000, n_positions=70, n_embd=200, n_layer=3, n_head=5,
        bos_token_id=999, eos_token_id=999, attn_implementation="eager",
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**fields, **overrides}))


def test_from_hf_same_logits_odd_sizes():
    hf = hf_model().eval()
    gpt = from_hf(hf)
    assert gpt.config == GPTConfig(vocab_size=1000, block_size=70, n_layer=3, n_head=5, n_embd=200, dropout=0.1)
    assert not gpt.training
    idx = torch.randint(0, 1000, (3, 33))
    torch.testing.assert_close(gpt_logits(gpt, idx), hf_logits(hf, idx), **TOL)


def test_from_hf_accepts_pytorch_tanh_gelu_name():
    hf = hf_model(activation_function="gelu_pytorch_tanh").eval()
    gpt = from_hf(hf)
    idx = torch.randint(0, 1000, (1, 9))
    torch.testing.assert_close(gpt_logits(gpt, idx), hf_logits(hf, idx), **TOL)


# ---------------------------------------------------------------- GPT-2 small's shape (124M, random weights)


def test_gpt2_small_shape_both_directions():
    idx = torch.randint(0, 50257, (1, 12))

    gpt = GPT(GPT2_SMALL).eval()
    assert gpt.num_params() == 124_439_808
    hf = to_hf(gpt)
    assert hf.num_parameters() == 124_439_808  # HF also counts the tied matrix once
    torch.testing.assert_close(hf_logits(hf, idx), gpt_logits(gpt, idx), **TOL)
    assert_same_state(gpt, from_hf(hf))
    del gpt, hf

    hf = transformers.GPT2LMHeadModel(hf_config(GPT2_SMALL)).eval()  # HF's own random init
    gpt = from_hf(hf)
    torch.testing.assert_close(gpt_logits(gpt, idx), hf_logits(hf, idx), **TOL)


# ---------------------------------------------------------------- refusals


def tiny_hf_config(**overrides):
    fields = dict(vocab_size=100, n_positions=8, n_embd=16, n_layer=1, n_head=2, bos_token_id=99, eos_token_id=99)
    return transformers.GPT2Config(**{**fields, **overrides})


def test_bias_false_is_refused():
    with pytest.raises(ValueError, match="bias=False"):
        to_hf(GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=8, bias=False)))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(tie_word_embeddings=False), "tie_word_embeddings=False"),
        (dict(activation_function="gelu"), "activation_function='gelu'"),
        (dict(activation_function="relu"), "activation_function='relu'"),
        (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx=True"),
        (dict(reorder_and_upcast_attn=True), "reorder_and_upcast_attn=True"),
        (dict(scale_attn_weights=False), "scale_attn_weights=False"),
        (dict(n_inner=300), "n_inner=300"),
        (dict(layer_norm_epsilon=1e-6), "layer_norm_epsilon=1e-06"),
        (dict(attn_pdrop=0.0), "attn_pdrop"),
        (dict(add_cross_attention=True), "add_cross_attention=True"),
    ],
)
def test_unrepresentable_hf_configs_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        config_from_hf(tiny_hf_config(**overrides))


def test_n_inner_of_four_times_width_is_fine():
    assert config_from_hf(tiny_hf_config(n_inner=64)).n_embd == 16


def test_untied_hf_model_is_refused():
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        from_hf(transformers.GPT2LMHeadModel(tiny_hf_config(tie_word_embeddings=False)))


def test_head_replaced_by_a_different_matrix_is_refused():
    hf = transformers.GPT2LMHeadModel(tiny_hf_config())
    hf.lm_head.weight = torch.nn.Parameter(hf.transformer.wte.weight.detach() + 1.0)  # config still says tied
    with pytest.raises(ValueError, match="lm_head.weight"):
        from_hf(hf)


def test_other_model_types_are_refused():
    with pytest.raises(ValueError, match="GPT2Model"):
        from_hf(transformers.GPT2Model(tiny_hf_config()))


# ---------------------------------------------------------------- end_of_text, and a loss without warnings


def test_a_vocabulary_without_end_of_text_gets_no_bos_or_eos():
    gpt = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    hf = to_hf(gpt, end_of_text=False)
    assert hf.config.bos_token_id is None and hf.config.eos_token_id is None
    assert hf.generation_config.eos_token_id is None  # generate stops only at its length limit
    assert to_hf(gpt).generation_config.eos_token_id == 64  # the default: the last id ends the text
    # so a greedy continuation that picks the last id goes on past it
    with torch.no_grad():  # the final hidden state is ln_f.bias whatever the input, and id 64 scores highest
        gpt.ln_f.weight.zero_()
        gpt.ln_f.bias.copy_(torch.linspace(-1.0, 1.0, 16))
        gpt.wte.weight[64] = 10.0 * gpt.ln_f.bias
    out = to_hf(gpt, end_of_text=False).generate(torch.tensor([[1, 2]]), max_new_tokens=5, do_sample=False)
    assert out[0, 2:].tolist() == [64] * 5
    stopped = to_hf(gpt).generate(torch.tensor([[1, 2]]), max_new_tokens=5, do_sample=False)
    assert stopped[0, 2:].tolist() == [64]  # with the default, the first 64 ended the text
    with pytest.raises(TypeError, match="end_of_text must be True or False"):
        hf_config(gpt.config, end_of_text=None)


def test_training_loss_with_labels_is_silent():
    """transformers warns once per process that it does not know GPT2LMHeadModel's loss; to_hf names it."""
    config = GPTConfig(vocab_size=65, block_size=16, n_layer=1, n_head=2, n_embd=16)
    idx = torch.randint(0, 65, (2, 16))
    plain = transformers.GPT2LMHeadModel(hf_config(config, end_of_text=False))
    converted = to_hf(GPT(config), end_of_text=False)
    logging.Logger.warning_once.cache_clear()  # transformers' once-only warnings may be shown again
    with transformers_messages() as messages:
        converted(idx, labels=idx).loss.backward()
    assert messages == [] and converted.loss_type == "ForCausalLM"
    with transformers_messages() as messages:
        plain(idx, labels=idx).loss.backward()
    assert any("loss_type=None" in m for m in messages)  # the warning to_hf avoids
