"""Exercises of notebook 03_transformer_block: layer norm, GPT-2's GELU, and the pre-norm block.

Each checker runs the student's function on small float64 cases, compares with gptlib's own
function, and when the answer is wrong tries the usual mistakes (unbiased variance, eps outside
the square root, the exact erf GELU, a post-norm block, ...) to say which one was made.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from .. import block
from ._core import (NOT_A_TENSOR, NOT_FINITE, NOT_FLOAT, RAISED, WRONG_SHAPE, Catalogue, Mistake, Wrong, call,
                    close, exercise, expect_tensor, first_match, furthest)

_EPS = 1e-5


def _where(out: torch.Tensor, expected: torch.Tensor) -> str:
    """Where the student's output is furthest from the expected one, as a short phrase."""
    index = furthest(out, expected)
    return f"at index {list(index)} it is {out[index].item():.4f}, expected {expected[index].item():.4f}"


# ------------------------------------------------------------------ layer_norm


def _statistics_wrong(x, weight, bias, eps, *, dims=(-1,), unbiased=False, eps_outside=False, sqrt=True,
                      centre=True):
    """Layer norm with the knobs the wrong answers turn: the axes, the variance, where eps goes, centring."""
    deviation = x - x.mean(dim=dims, keepdim=True)
    n = math.prod(x.shape[d] for d in dims)
    var = (deviation ** 2).sum(dim=dims, keepdim=True) / (n - 1 if unbiased else n)
    centred = deviation if centre else x
    if not sqrt:
        x_hat = centred / (var + eps)
    elif eps_outside:
        x_hat = centred / (var.sqrt() + eps)
    else:
        x_hat = centred / (var + eps).sqrt()
    out = x_hat * weight
    return out if bias is None else out + bias


def _variance(x):
    return x.var(dim=-1, keepdim=True, unbiased=False)


def _subtracts_in_place(x, weight, bias, eps):
    x -= x.mean(dim=-1, keepdim=True)  # writes into the caller's tensor
    return block.layer_norm(x, weight, bias, eps)


# Recognised by comparing the output with the example's, in this order.
_LAYER_NORM_BY_OUTPUT = (
    Mistake("unbiased_variance", "you used the unbiased variance (divide by C-1); layer norm divides by C: "
                                 "x.var(dim=-1, unbiased=False) or ((x - mean) ** 2).mean(dim=-1)",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, unbiased=True)),
    Mistake("std_plus_eps", "you used the unbiased variance (divide by C-1; x.std() does that by default); layer "
                            "norm divides by C: x.var(dim=-1, unbiased=False), and eps goes inside the square root",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, unbiased=True,
                                                                   eps_outside=True)),
    Mistake("eps_outside", "you added eps outside the square root, (x - mean) / (std + eps); it belongs inside: "
                           "(x - mean) / sqrt(var + eps), as in nn.LayerNorm",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, eps_outside=True)),
    Mistake("no_eps", "you left out eps: divide by sqrt(var + eps), which keeps the division safe when a vector is "
                      "(nearly) constant",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, 0.0)),
    Mistake("divided_by_variance", "you divided by the variance; divide by its square root, the standard deviation "
                                   "sqrt(var + eps)",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, sqrt=False)),
    Mistake("whole_tensor", "you normalised over the whole tensor at once; each token's vector is normalised on its "
                            "own: take the mean and variance over the last axis only (dim=-1, keepdim=True)",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, dims=tuple(range(x.ndim)))),
    Mistake("batch_axis", "you normalised over axis 0 (the batch); use the last axis: dim=-1, keepdim=True",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, dims=(0,))),
    Mistake("time_axis", "you normalised over axis 1 (time); use the last axis: dim=-1, keepdim=True",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, dims=(1,))),
    Mistake("ignores_bias", "your output ignores bias: add it after scaling by weight",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, None, eps)),
    Mistake("ignores_weight", "your output ignores weight: multiply the normalised x by weight (the gain), then "
                              "add bias",
            example=lambda x, weight, bias, eps: block.layer_norm(x, torch.ones_like(weight), bias, eps)),
    Mistake("ignores_weight_and_bias", "your output ignores weight and bias: the normalised x_hat must still be "
                                       "scaled by weight and shifted by bias",
            example=lambda x, weight, bias, eps: block.layer_norm(x, torch.ones_like(weight), None, eps)),
    Mistake("weight_and_bias_swapped", "weight and bias are swapped: x_hat * weight + bias",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight if bias is None else bias,
                                                                  bias if bias is None else weight, eps)),
    Mistake("scaled_before_normalising", "you applied weight and bias before normalising; normalise first, then "
                                         "x_hat * weight + bias",
            example=lambda x, weight, bias, eps: block.layer_norm(x * weight if bias is None else x * weight + bias,
                                                                  torch.ones_like(weight), None, eps)),
)

_LAYER_NORM = Catalogue(
    RAISED.with_example(lambda x, weight, bias, eps: (x - x.mean(-1, keepdim=True)) / math.sqrt(_variance(x) + eps)),
    Mistake("bias_required", "{error}; bias may be None, and then there is no shift to add",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, None, eps) + bias),
    Mistake("nan_for_constant", "a constant vector (variance 0) gives nan or inf: add eps inside the square root, "
                                "(x - mean) / sqrt(var + eps)",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps) / (_variance(x) > 0)),
    Mistake("nan", "your output has nan or inf values: is eps inside the square root?",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps) / (_variance(x) > 1e-4)),
    NOT_A_TENSOR.with_example(lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps).tolist(),
                              "returned a list"),
    WRONG_SHAPE.with_example(lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps)[..., :4]),
    NOT_FLOAT.with_example(lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps).round().long()),
    Mistake("changed_x", "your function changed x in place; compute a new tensor instead (x = x - mean, not "
                         "x -= mean)", example=_subtracts_in_place),
    *_LAYER_NORM_BY_OUTPUT,
    Mistake("not_centred", "your output's mean along the last axis is {mean:.2f}, not 0: did you subtract the mean?",
            example=lambda x, weight, bias, eps: _statistics_wrong(x, weight, bias, eps, centre=False),
            shows="your output's mean along the last axis is -5.07, not 0: did you subtract the mean?"),
    Mistake("variance_not_one", "with weight 1 and bias 0 your output's variance along the last axis is "
                                "{var:.3f}, not 1: divide by sqrt(var + eps)",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps) * 1.01,
            shows="your output's variance along the last axis is 1.020, not 1"),
    Mistake("wrong_output", "your output is wrong: {detail}",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps) + (weight - 1) * 0.01,
            shows="your output is wrong: at index"),
    Mistake("wrong_without_bias", "your output is wrong with bias=None: {detail}",
            example=lambda x, weight, bias, eps: block.layer_norm(x, weight, bias, eps) + (bias is None) * 0.01),
    Mistake("wrong_for_tiny_variance", "your output is wrong for an input whose variance (1e-6) is smaller than eps: "
                                       "{detail}",  # variances below eps taken for 0, as if the vector were constant
            example=lambda x, weight, bias, eps: torch.where(_variance(x) < eps, 0.0 if bias is None else bias,
                                                             block.layer_norm(x, weight, bias, eps))),
    Mistake("wrong_for_constant", "your output is wrong for a constant vector (it should come out as the bias): "
                                  "{detail}",
            example=lambda x, weight, bias, eps: torch.where(_variance(x) == 0, x,  # left as it is
                                                             block.layer_norm(x, weight, bias, eps))),
)


def _ln_cases():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 8, generator=g, dtype=torch.float64) * 2.0 + 3.0  # (B, T, C), mean 3, std 2
    x[1, 2] = x[1, 2] * 0.1 - 1.0  # one token on a much smaller scale
    weight = 1.0 + 0.5 * torch.randn(8, generator=g, dtype=torch.float64)
    bias = 0.5 * torch.randn(8, generator=g, dtype=torch.float64)
    tiny = torch.randn(4, 16, generator=g, dtype=torch.float64) * 1e-3 + 0.5  # (T, C): variance 1e-6 << eps
    w16 = 1.0 + 0.5 * torch.randn(16, generator=g, dtype=torch.float64)
    b16 = 0.5 * torch.randn(16, generator=g, dtype=torch.float64)
    return [
        ("plain", x, torch.ones(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)),
        ("gain and bias", x, weight, bias),
        ("no bias", x, weight, None),
        ("tiny variance", tiny, w16, b16),
        ("constant", torch.full((2, 16), 7.0, dtype=torch.float64), w16, b16),
    ]


_WRONG_IN_CASE = {"tiny variance": _LAYER_NORM.wrong_for_tiny_variance, "constant": _LAYER_NORM.wrong_for_constant,
                  "no bias": _LAYER_NORM.wrong_without_bias}


@exercise("03_transformer_block", "layer_norm",
          "correct: each token's vector is centred, divided by sqrt(biased variance + eps), then scaled "
          "by weight and shifted by bias.",
          signature="x, weight, bias=None, eps=1e-5", mistakes=_LAYER_NORM)
def check_layer_norm(student) -> None:
    """Check ``student(x, weight, bias, eps) -> (..., C)`` normalising over the last axis."""
    for case, x, weight, bias in _ln_cases():
        original = x.clone()
        try:
            out = call(student, x, weight.clone(), None if bias is None else bias.clone(), _EPS)
        except Wrong as wrong:
            if bias is None and wrong.student_raised("NoneType"):
                raise _LAYER_NORM.bias_required.wrong(error=wrong) from None
            raise
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
            raise (_LAYER_NORM.nan_for_constant if case == "constant" else _LAYER_NORM.nan).wrong()
        out = expect_tensor(out, x.shape)
        if not torch.equal(x, original):
            raise _LAYER_NORM.changed_x.wrong()
        expected = block.layer_norm(x, weight, bias, _EPS)
        if close(out, expected):
            continue
        mistake = first_match(out, _LAYER_NORM_BY_OUTPUT, x, weight, bias, _EPS)
        if mistake:
            raise mistake.wrong()
        if case == "plain":  # weight 1, bias 0: the output itself must have mean 0 and variance 1
            mean = out.double().mean(dim=-1)
            if mean.abs().max() > 1e-3:
                raise _LAYER_NORM.not_centred.wrong(mean=mean[furthest(mean, 0.0)].item())
            var = out.double().var(dim=-1, unbiased=False)
            if (var - 1).abs().max() > 1e-3:
                raise _LAYER_NORM.variance_not_one.wrong(var=var[furthest(var, 1.0)].item())
        raise _WRONG_IN_CASE.get(case, _LAYER_NORM.wrong_output).wrong(detail=_where(out, expected))


# ------------------------------------------------------------------ gelu_tanh

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_with(x, *, c=_SQRT_2_OVER_PI, k=0.044715, power=3, half=0.5, times_x=True):
    """GPT-2's GELU with the knobs the wrong answers turn: its constants, the power, the factors."""
    phi = half * (1.0 + torch.tanh(c * (x + k * x**power)))
    return x * phi if times_x else phi


def _cube_through_log(x):
    cube = torch.exp(3 * torch.log(x))  # x**3 as exp(3 ln x): nan for x < 0
    return 0.5 * x * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * cube)))


def _scales_in_place(x):
    return x.mul_(torch.sigmoid(2 * _SQRT_2_OVER_PI * (x + 0.044715 * x**3)))  # writes into the caller's x


# Recognised by comparing the output with the example's, in this order.
_GELU_BY_OUTPUT = (
    Mistake("exact_gelu", "that is the exact GELU, x * Phi(x) with erf; GPT-2 was trained with the tanh approximation "
                          "0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))), which differs by up to 4.7e-4",
            example=lambda x: F.gelu(x)),
    Mistake("relu", "that is ReLU, max(0, x); GELU is smooth and slightly negative for small negative x",
            example=lambda x: torch.relu(x)),
    Mistake("factor_half_missing", "your values are twice the expected: did you forget the factor 0.5?",
            example=lambda x: _gelu_with(x, half=1.0)),
    Mistake("smooth_step_only", "you returned 0.5 * (1 + tanh(...)), the smooth step Phi(x); GELU multiplies it by x",
            example=lambda x: _gelu_with(x, times_x=False)),
    Mistake("sqrt_2_pi", "check the constant: it is sqrt(2 / pi) ≈ 0.798, not sqrt(2 * pi)",
            example=lambda x: _gelu_with(x, c=math.sqrt(2.0 * math.pi))),
    Mistake("two_over_pi", "check the constant: it is sqrt(2 / pi) ≈ 0.798, the square root of 2 / pi",
            example=lambda x: _gelu_with(x, c=2.0 / math.pi)),
    Mistake("cubic_term_missing", "you left out the cubic term: tanh(sqrt(2/pi) * (x + 0.044715 * x**3))",
            example=lambda x: _gelu_with(x, k=0.0)),
    Mistake("squared", "the correction term is 0.044715 * x**3 (x cubed, not squared)",
            example=lambda x: _gelu_with(x, power=2)),
    Mistake("cubic_constant", "check the constant of the cubic term: 0.044715, not 0.44715",
            example=lambda x: _gelu_with(x, k=0.44715)),
    Mistake("sigmoid_approximation", "that is x * sigmoid(1.702 * x), a different GELU approximation; use the tanh "
                                     "form (note 0.5 * (1 + tanh(u)) = sigmoid(2u))",
            example=lambda x: x * torch.sigmoid(1.702 * x)),
)

_GELU = Catalogue(
    RAISED.with_example(lambda x: 0.5 * x * (1 + math.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))),
    NOT_A_TENSOR.with_example(lambda x: block.gelu_tanh(x).tolist()),
    WRONG_SHAPE.with_example(lambda x: block.gelu_tanh(x).flatten(), "returned shape"),
    NOT_FLOAT.with_example(lambda x: block.gelu_tanh(x).round().long()),
    NOT_FINITE.with_example(_cube_through_log),
    Mistake("changed_x", "your function changed x in place; compute a new tensor instead", example=_scales_in_place),
    *_GELU_BY_OUTPUT,
    Mistake("wrong_values", "at x = {x:.2f} your gelu_tanh gives {got:.4f}, expected {want:.4f}",
            example=lambda x: _gelu_with(x, c=0.8), shows="at x = "),
)


@exercise("03_transformer_block", "gelu_tanh",
          "correct: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))), GPT-2's GELU.",
          signature="x", mistakes=_GELU)
def check_gelu_tanh(student) -> None:
    """Check ``student(x)`` against GPT-2's tanh approximation of GELU, elementwise, any shape."""
    g = torch.Generator().manual_seed(5)
    cases = [torch.linspace(-5.0, 5.0, 101, dtype=torch.float64),
             torch.randn(3, 4, 6, generator=g, dtype=torch.float64) * 2.0]
    for x in cases:
        original = x.clone()
        out = expect_tensor(call(student, x), x.shape)
        if not torch.equal(x, original):
            raise _GELU.changed_x.wrong()
        expected = block.gelu_tanh(x)
        if close(out, expected, tol=1e-5):
            continue
        mistake = first_match(out, _GELU_BY_OUTPUT, x) or _GELU.wrong_values
        i = furthest(out, expected)
        raise mistake.wrong(x=x[i].item(), got=out[i].item(), want=expected[i].item())


# ------------------------------------------------------------------ block_forward


def _random_block() -> tuple[torch.Tensor, block.Block]:
    """An input ``(B, T, C)`` and a fresh float64 gptlib Block with random weights (fresh every call: a
    student's function could change its sub-modules)."""
    config = SimpleNamespace(n_embd=16, n_head=2, dropout=0.0, bias=True)
    g = torch.Generator().manual_seed(7)
    gpt_block = block.Block(config).double().eval()
    with torch.no_grad():
        for module in (gpt_block.ln_1, gpt_block.attn, gpt_block.ln_2, gpt_block.mlp):
            for name, p in module.named_parameters():
                base = 1.0 if isinstance(module, block.LayerNorm) and name == "weight" else 0.0
                p.copy_(base + torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
    x = torch.randn(2, 5, 16, generator=g, dtype=torch.float64)  # (B, T, C)
    return x, gpt_block


def _adds_in_place(x, ln_1, attn, ln_2, mlp):
    x += attn(ln_1(x))  # writes into the caller's tensor
    x += mlp(ln_2(x))
    return x


def _post_norm(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def _normalised_stream(x, ln_1, attn, ln_2, mlp):
    h = ln_1(x)
    x = h + attn(h)
    return x + mlp(ln_2(x))


def _attention_half(x, ln_1, attn):
    return x + attn(ln_1(x))


# Recognised by comparing the output with the example's, in this order.
_BLOCK_BY_OUTPUT = (
    Mistake("post_norm", "you normalised after adding (post-norm, as in the 2017 Transformer); GPT-2 normalises each "
                         "sub-layer's input and adds its output to the untouched stream: x = x + attn(ln_1(x))",
            example=_post_norm),
    Mistake("no_residuals", "your output has no residual connections: add each sub-layer's output to its input, "
                            "x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(attn(ln_1(x))))),
    Mistake("mlp_missing", "you stopped after attention: the MLP's output must be added too, x = x + mlp(ln_2(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: _attention_half(x, ln_1, attn)),
    Mistake("mlp_reads_raw_stream", "the MLP must read ln_2(x), the normalised stream, not x itself",
            example=lambda x, ln_1, attn, ln_2, mlp: (h := _attention_half(x, ln_1, attn)) + mlp(h)),
    Mistake("second_residual_missing", "you dropped the second residual: x = x + mlp(ln_2(x)), not x = mlp(ln_2(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(_attention_half(x, ln_1, attn)))),
    Mistake("first_residual_missing", "you dropped the first residual: x = x + attn(ln_1(x)), not x = attn(ln_1(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: (a := attn(ln_1(x))) + mlp(ln_2(a))),
    Mistake("parallel", "your MLP reads the stream from before attention was added; it must read the updated x, "
                        "after x = x + attn(ln_1(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: x + attn(ln_1(x)) + mlp(ln_2(x))),
    Mistake("normalised_stream", "you added the normalised input to the stream; the stream carries x itself, only "
                                 "the sub-layer reads ln_1(x): x = x + attn(ln_1(x))",
            example=_normalised_stream),
    Mistake("ln_1_twice", "use ln_2 before the MLP: ln_1 and ln_2 have their own weights",
            example=lambda x, ln_1, attn, ln_2, mlp: (h := _attention_half(x, ln_1, attn)) + mlp(ln_1(h))),
    Mistake("norms_swapped", "ln_1 and ln_2 are swapped: ln_1 comes before attention, ln_2 before the MLP",
            example=lambda x, ln_1, attn, ln_2, mlp: (h := _attention_half(x, ln_2, attn)) + mlp(ln_1(h))),
    Mistake("mlp_first", "attention comes first, then the MLP: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))",
            example=lambda x, ln_1, attn, ln_2, mlp: (h := x + mlp(ln_2(x))) + attn(ln_1(h))),
)

_BLOCK = Catalogue(
    RAISED.with_example(lambda x, ln_1, attn, ln_2, mlp: x + attn(ln_1)),  # the module, not its output
    Mistake("changed_x", "your function changed x in place (x += ... writes into the caller's tensor): write "
                         "x = x + attn(ln_1(x)) to make a new tensor", example=_adds_in_place),
    NOT_A_TENSOR.with_example(lambda x, ln_1, attn, ln_2, mlp: _attention_half(x, ln_1, attn).tolist()),
    WRONG_SHAPE.with_example(lambda x, ln_1, attn, ln_2, mlp: _attention_half(x, ln_1, attn)[:, -1],
                             "returned shape (2, 16), expected (2, 5, 16)"),
    NOT_FLOAT.with_example(lambda x, ln_1, attn, ln_2, mlp: _attention_half(x, ln_1, attn).long()),
    NOT_FINITE.with_example(lambda x, ln_1, attn, ln_2, mlp: _attention_half(x, ln_1, attn) / 0),
    *_BLOCK_BY_OUTPUT,
    Mistake("wrong_output", "your block's output is wrong: {detail}",
            example=lambda x, ln_1, attn, ln_2, mlp: (h := _attention_half(x, ln_1, attn)) + 0.5 * mlp(ln_2(h)),
            shows="your block's output is wrong: at index"),
)


@exercise("03_transformer_block", "block_forward",
          "correct: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)): the pre-norm block of GPT-2.",
          signature="x, ln_1, attn, ln_2, mlp", mistakes=_BLOCK)
def check_block_forward(student) -> None:
    """Check ``student(x, ln_1, attn, ln_2, mlp) -> (B, T, C)``, the pre-norm residual block."""
    x, gpt_block = _random_block()
    parts = (gpt_block.ln_1, gpt_block.attn, gpt_block.ln_2, gpt_block.mlp)
    original = x.clone()
    with torch.no_grad():
        expected = gpt_block(x)  # before the student's function runs: it could change the sub-modules
        out = call(student, x, *parts)
        if not torch.equal(x, original):
            raise _BLOCK.changed_x.wrong()
        out = expect_tensor(out, x.shape)
        if close(out, expected):
            return
        mistake = first_match(out, _BLOCK_BY_OUTPUT, x, *parts) or _BLOCK.wrong_output
        raise mistake.wrong(detail=_where(out, expected))
