"""Tests for gptlib.attention: the explicit attention steps agree with PyTorch's fused kernel."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlib.attention import (
    CausalSelfAttention,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)

# Explicit float32 attention vs torch's fused kernel: the same sums in a different order. These
# tolerances hold for inputs of about unit size (the worst of 6000 random cases used under a third of
# them); rounding errors grow with the size of the scores, see test_explicit_matches_torch_sdpa_large_inputs.
ATOL, RTOL = 1e-6, 1e-5




def qkv(B, nh, T, hs, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(B, nh, T, hs, generator=g) for _ in range(3)]


# ---------------------------------------------------------------- helpers


def test_causal_mask_is_lower_triangle():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)


def test_causal_mask_rejects_empty():
    with pytest.raises(ValueError, match="T=0"):
        causal_mask(0)


def test_split_heads_shape_and_content():
    B, T, C, nh = 2, 5, 12, 3
    x = torch.arange(B * T * C, dtype=torch.float32).view(B, T, C)
    y = split_heads(x, nh)
    assert y.shape == (B, nh, T, C // nh)
    # head h holds channels h*hs .. (h+1)*hs - 1
    for h in range(nh):
        assert torch.equal(y[:, h], x[:, :, h * 4 : (h + 1) * 4])


@given(B=st.integers(1, 3), T=st.integers(1, 6), nh=st.integers(1, 4), hs=st.integers(1, 5))
def test_merge_heads_undoes_split_heads(B, T, nh, hs):
    x = torch.randn(B, T, nh * hs)
    assert torch.equal(merge_heads(split_heads(x, nh)), x)


def test_split_heads_errors_name_the_values():
    with pytest.raises(ValueError, match=r"C=10.*n_head=3"):
        split_heads(torch.zeros(1, 2, 10), 3)
    with pytest.raises(ValueError, match=r"\(2, 10\)"):
        split_heads(torch.zeros(2, 10), 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        merge_heads(torch.zeros(2, 3, 4))


# ---------------------------------------------------------------- the explicit function


@settings(max_examples=60)
@given(
    B=st.integers(1, 3),
    nh=st.integers(1, 4),
    T=st.integers(1, 12),
    hs=st.integers(1, 16),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.1, 0.5, 1.0]),
)
def test_explicit_matches_torch_sdpa_causal(B, nh, T, hs, seed, scale):
    q, k, v = qkv(B, nh, T, hs, seed, scale)
    context, weights = scaled_dot_product_attention(q, k, v, causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(context, expected, atol=ATOL, rtol=RTOL)
    assert weights.shape == (B, nh, T, T)


@settings(max_examples=30)
@given(T=st.integers(1, 12), hs=st.integers(1, 16), seed=st.integers(0, 2**31 - 1))
def test_explicit_matches_torch_sdpa_large_inputs(T, hs, seed):
    # q, k, v with std 3: scores up to ~10x larger, a sharper softmax, larger rounding differences
    q, k, v = qkv(2, 3, T, hs, seed, scale=3.0)
    context, _ = scaled_dot_product_attention(q, k, v, causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(context, expected, atol=3e-5, rtol=1e-5)


@settings(max_examples=30)
@given(T=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_explicit_matches_torch_sdpa_with_mask_and_without(T, seed):
    q, k, v = qkv(2, 2, T, 8, seed)
    # no mask at all: every query sees every key
    context, _ = scaled_dot_product_attention(q, k, v, causal=False)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=RTOL)
    # a custom boolean mask (keep the diagonal so no row is empty)
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(T, T, generator=g) > 0.5) | torch.eye(T, dtype=torch.bool)
    context, weights = scaled_dot_product_attention(q, k, v, causal=False, mask=mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(context, expected, atol=ATOL, rtol=RTOL)
    assert torch.all(weights[..., ~mask] == 0)


def test_steps_written_out_by_hand():
    q, k, v = qkv(1, 2, 5, 4, seed=0)
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)
    scores = scores.masked_fill(~causal_mask(5), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    context, got_weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(got_weights, weights, atol=0, rtol=0)
    torch.testing.assert_close(context, weights @ v, atol=0, rtol=0)


def test_weights_rows_sum_to_one_and_zero_above_diagonal():
    q, k, v = qkv(2, 3, 7, 8, seed=1)
    _, w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 7), atol=1e-6, rtol=0)
    above = ~causal_mask(7)
    assert torch.all(w[..., above] == 0)
    assert torch.all(w[..., ~above] > 0)


def test_first_position_attends_only_to_itself():
    q, k, v = qkv(1, 1, 4, 8, seed=2)
    context, w = scaled_dot_product_attention(q, k, v)
    assert w[0, 0, 0, 0] == 1
    torch.testing.assert_close(context[..., 0, :], v[..., 0, :])


def test_future_keys_and_values_do_not_change_past_outputs():
    q, k, v = qkv(1, 2, 6, 8, seed=3)
    out, _ = scaled_dot_product_attention(q, k, v)
    k2, v2 = k.clone(), v.clone()
    k2[..., 4:, :] = torch.randn(1, 2, 2, 8) * 10
    v2[..., 4:, :] = torch.randn(1, 2, 2, 8) * 10
    out2, _ = scaled_dot_product_attention(q, k2, v2)
    torch.testing.assert_close(out2[..., :4, :], out[..., :4, :], atol=0, rtol=0)
    assert not torch.allclose(out2[..., 4:, :], out[..., 4:, :])


def test_dropout_only_in_training():
    q, k, v = qkv(2, 2, 6, 8, seed=4)
    plain, w_plain = scaled_dot_product_attention(q, k, v)
    # not training: dropout_p is ignored
    same, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False)
    torch.testing.assert_close(same, plain, atol=0, rtol=0)
    # training: some weights are zeroed, the rest scaled by 1 / (1 - p)
    g = torch.Generator().manual_seed(0)
    dropped, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=True, generator=g)
    assert not torch.allclose(dropped, plain)
    kept = w != 0
    assert 0 < kept[..., causal_mask(6)].float().mean() < 1
    torch.testing.assert_close(w[kept], 2 * w_plain[kept])
    torch.testing.assert_close(dropped, w @ v)


def test_dropout_generator_makes_it_repeatable():
    q, k, v = qkv(1, 2, 5, 4, seed=5)
    a, _ = scaled_dot_product_attention(
        q, k, v, dropout_p=0.3, training=True, generator=torch.Generator().manual_seed(7)
    )
    b, _ = scaled_dot_product_attention(
        q, k, v, dropout_p=0.3, training=True, generator=torch.Generator().manual_seed(7)
    )
    torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_p_out_of_range(p):
    q, k, v = qkv(1, 1, 2, 2, seed=0)
    with pytest.raises(ValueError, match=str(p)):
        scaled_dot_product_attention(q, k, v, dropout_p=p, training=True)


# ---------------------------------------------------------------- the module


def test_module_parameter_names_and_shapes():
    attn = CausalSelfAttention(make_config(n_embd=24, n_head=3))
    shapes = {n: tuple(p.shape) for n, p in attn.named_parameters()}
    assert shapes == {
        "c_attn.weight": (72, 24),
        "c_attn.bias": (72,),
        "c_proj.weight": (24, 24),
        "c_proj.bias": (24,),
    }
    no_bias = CausalSelfAttention(make_config(n_embd=24, n_head=3, bias=False))
    assert {n for n, _ in no_bias.named_parameters()} == {"c_attn.weight", "c_proj.weight"}


def test_module_rejects_indivisible_width():
    with pytest.raises(ValueError, match=r"n_embd=30.*n_head=4"):
        CausalSelfAttention(make_config(n_embd=30, n_head=4))


@settings(max_examples=30)
@given(
    nh=st.integers(1, 4),
    hs=st.integers(1, 8),
    T=st.integers(1, 10),
    B=st.integers(1, 2),
    seed=st.integers(0, 2**31 - 1),
)
def test_module_fast_and_explicit_paths_agree(nh, hs, T, B, seed):
    torch.manual_seed(seed)
    attn = CausalSelfAttention(make_config(n_embd=nh * hs, n_head=nh)).eval()
    x = torch.randn(B, T, nh * hs)
    fast = attn(x)
    explicit, w = attn(x, return_weights=True)
    torch.testing.assert_close(explicit, fast, atol=ATOL, rtol=RTOL)
    assert w.shape == (B, nh, T, T)
    attn.use_sdpa = False
    torch.testing.assert_close(attn(x), explicit, atol=0, rtol=0)


def test_module_matches_reference_built_from_torch_pieces():
    torch.manual_seed(0)
    C, nh = 32, 4
    attn = CausalSelfAttention(make_config(n_embd=C, n_head=nh)).eval()
    x = torch.randn(2, 7, C)
    qkv_ = x @ attn.c_attn.weight.T + attn.c_attn.bias
    q, k, v = (t.reshape(2, 7, nh, C // nh).permute(0, 2, 1, 3) for t in qkv_.chunk(3, dim=-1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True).permute(0, 2, 1, 3).reshape(2, 7, C)
    expected = y @ attn.c_proj.weight.T + attn.c_proj.bias
    torch.testing.assert_close(attn(x), expected, atol=ATOL, rtol=RTOL)


def test_module_is_causal():
    torch.manual_seed(1)
    attn = CausalSelfAttention(make_config()).eval()
    x = torch.randn(2, 9, 32)
    y = attn(x)
    x2 = x.clone()
    x2[:, 6:] = torch.randn(2, 3, 32)
    y2 = attn(x2)
    torch.testing.assert_close(y2[:, :6], y[:, :6], atol=ATOL, rtol=RTOL)
    assert not torch.allclose(y2[:, 6:], y[:, 6:])


def test_module_weights_for_heat_maps():
    torch.manual_seed(2)
    attn = CausalSelfAttention(make_config()).eval()
    _, w = attn(torch.randn(3, 5, 32), return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 5), atol=1e-6, rtol=0)
    assert torch.all(w[..., ~causal_mask(5)] == 0)


@pytest.mark.parametrize("explicit", [False, True])
def test_module_dropout_only_in_train_mode(explicit):
    torch.manual_seed(3)
    attn = CausalSelfAttention(make_config(dropout=0.5))
    attn.use_sdpa = not explicit
    x = torch.randn(2, 6, 32)
    attn.eval()
    a, b = attn(x), attn(x)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    # in eval mode, dropout 0.5 behaves exactly like dropout 0
    no_dropout = CausalSelfAttention(make_config(dropout=0.0)).eval()
    no_dropout.load_state_dict(attn.state_dict())
    torch.testing.assert_close(no_dropout(x), a, atol=ATOL, rtol=RTOL)
    attn.train()
    c, d = attn(x), attn(x)
    assert not torch.allclose(c, a)
    assert not torch.allclose(c, d)
