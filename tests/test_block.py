"""Tests for gptlib.block: each hand-written piece agrees with its PyTorch counterpart."""


import pytest
import torch
import torch.nn.functional as F
from helpers import make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlib.block import GELU, MLP, Block, LayerNorm, gelu_tanh, layer_norm

ATOL, RTOL = 1e-6, 1e-5




def randomise_(module, seed=0):
    """Give every parameter random values, so a test cannot pass because weights are 1 and biases 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module


# ---------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_matches_torch(bias):
    C = 48
    ours = randomise_(LayerNorm(C, bias=bias))
    ref = torch.nn.LayerNorm(C, eps=1e-5, bias=bias)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, 7, C) * 3 + 1.5
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_layer_norm_parameters_start_as_identity():
    ln = LayerNorm(8)
    assert torch.equal(ln.weight, torch.ones(8)) and torch.equal(ln.bias, torch.zeros(8))
    assert LayerNorm(8, bias=False).bias is None
    assert {n for n, _ in LayerNorm(8, bias=False).named_parameters()} == {"weight"}


@settings(max_examples=40)
@given(C=st.integers(2, 64), shift=st.floats(-100, 100), scale=st.floats(0.01, 100), seed=st.integers(0, 2**16))
def test_layer_norm_output_has_zero_mean_unit_variance(C, shift, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, C, generator=g, dtype=torch.float64) * scale + shift
    y = layer_norm(x, torch.ones(C, dtype=torch.float64), None)
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, dtype=torch.float64), atol=1e-8, rtol=0)
    var = y.var(-1, unbiased=False)
    # eps=1e-5 shrinks the variance a little when the input variance is small
    expected = x.var(-1, unbiased=False) / (x.var(-1, unbiased=False) + 1e-5)
    torch.testing.assert_close(var, expected, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(y, F.layer_norm(x, (C,)), atol=1e-8, rtol=1e-8)


# ---------------------------------------------------------------- GELU


def test_gelu_tanh_matches_torch_tanh_approximation():
    x = torch.linspace(-10, 10, 10001)
    torch.testing.assert_close(gelu_tanh(x), F.gelu(x, approximate="tanh"), atol=1e-6, rtol=1e-5)
    # the module runs the fused kernel: the same function, rounded in a different order
    torch.testing.assert_close(GELU()(x), gelu_tanh(x), atol=1e-6, rtol=1e-5)


def test_gelu_tanh_differs_from_exact_erf_gelu_by_under_5e_4():
    # The reason gptlib cannot use the exact GELU with GPT-2's weights: they are measurably different.
    x = torch.linspace(-6, 6, 120001, dtype=torch.float64)
    diff = (gelu_tanh(x) - F.gelu(x)).abs()
    assert 4e-4 < diff.max().item() < 5e-4
    assert 2.5 < x[diff.argmax()].abs().item() < 3.0


def test_gelu_tanh_shape_of_the_curve():
    assert gelu_tanh(torch.tensor(0.0)).item() == 0.0
    big = torch.tensor([10.0, -10.0])
    torch.testing.assert_close(gelu_tanh(big), torch.tensor([10.0, 0.0]))
    assert gelu_tanh(torch.tensor(-0.5)).item() < 0  # dips below zero, unlike ReLU


# ---------------------------------------------------------------- MLP


def test_mlp_matches_torch_composition():
    cfg = make_config(n_embd=20)
    mlp = randomise_(MLP(cfg)).eval()
    assert mlp.c_fc.weight.shape == (80, 20) and mlp.c_proj.weight.shape == (20, 80)
    x = torch.randn(2, 5, 20)
    h = F.gelu(F.linear(x, mlp.c_fc.weight, mlp.c_fc.bias), approximate="tanh")
    expected = F.linear(h, mlp.c_proj.weight, mlp.c_proj.bias)
    torch.testing.assert_close(mlp(x), expected, atol=ATOL, rtol=RTOL)


def test_mlp_without_bias():
    mlp = MLP(make_config(bias=False))
    assert {n for n, _ in mlp.named_parameters()} == {"c_fc.weight", "c_proj.weight"}


def test_mlp_works_per_token():
    mlp = randomise_(MLP(make_config())).eval()
    x = torch.randn(1, 6, 32)
    y = mlp(x)
    y_one = mlp(x[:, 3:4])
    torch.testing.assert_close(y_one, y[:, 3:4], atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------- Block


def reference_block(block, x):
    """The pre-norm block from torch's own building blocks, with the same weights."""
    C, nh = x.size(-1), block.attn.n_head
    B, T, _ = x.shape

    def attention(h):
        q, k, v = F.linear(h, block.attn.c_attn.weight, block.attn.c_attn.bias).split(C, dim=-1)
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        return F.linear(y, block.attn.c_proj.weight, block.attn.c_proj.bias)

    def mlp(h):
        h = F.gelu(F.linear(h, block.mlp.c_fc.weight, block.mlp.c_fc.bias), approximate="tanh")
        return F.linear(h, block.mlp.c_proj.weight, block.mlp.c_proj.bias)

    x = x + attention(F.layer_norm(x, (C,), block.ln_1.weight, block.ln_1.bias))
    x = x + mlp(F.layer_norm(x, (C,), block.ln_2.weight, block.ln_2.bias))
    return x


@settings(max_examples=20)
@given(nh=st.integers(1, 4), hs=st.integers(1, 8), T=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_block_matches_torch_reference(nh, hs, T, seed):
    block = randomise_(Block(make_config(n_embd=nh * hs, n_head=nh)), seed).eval()
    x = torch.randn(2, T, nh * hs, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(block(x), reference_block(block, x), atol=1e-5, rtol=1e-5)


def test_block_parameter_names():
    names = {n for n, _ in Block(make_config()).named_parameters()}
    assert names == {
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    }  # fmt: skip


def test_block_returns_weights_and_same_output():
    block = randomise_(Block(make_config()), 1).eval()
    x = torch.randn(2, 6, 32)
    y, w = block(x, return_weights=True)
    # explicit vs fused attention inside, then two more layers on top: allow 1e-5
    torch.testing.assert_close(y, block(x), atol=1e-5, rtol=1e-5)
    assert w.shape == (2, 4, 6, 6)


def test_block_is_causal():
    block = randomise_(Block(make_config()), 2).eval()
    x = torch.randn(1, 8, 32)
    x2 = x.clone()
    x2[:, 5:] += 1.0
    torch.testing.assert_close(block(x2)[:, :5], block(x)[:, :5], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(block(x2)[:, 5:], block(x)[:, 5:])


def test_block_dropout_only_in_train_mode():
    block = randomise_(Block(make_config(dropout=0.3)), 3)
    x = torch.randn(2, 6, 32)
    block.eval()
    torch.testing.assert_close(block(x), block(x), atol=0, rtol=0)
    block.train()
    assert not torch.allclose(block(x), block(x))
