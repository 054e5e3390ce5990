"""Exercises of notebook 03_transformer_block: layer norm, GPT-2's GELU, and the pre-norm block.

Each checker runs the student's function on small float64 cases whose right answer it computes
itself, and when the answer is wrong it also tries the usual mistakes (unbiased variance, eps
outside the square root, the exact erf GELU, a post-norm block, ...) to say which one was made.
"""

from __future__ import annotations

import math

import torch

from ._core import Wrong, call, exercise, expect_tensor

_EPS = 1e-5


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-6) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=tol, rtol=tol)


def _first_match(out: torch.Tensor, candidates: list[tuple[torch.Tensor | None, str]]) -> str | None:
    for value, message in candidates:
        if value is not None and _close(out, value):
            return message
    return None


def _where(out: torch.Tensor, expected: torch.Tensor) -> str:
    """Where the student's output is furthest from the expected one, as a short phrase."""
    diff = (out.double() - expected).abs()
    index = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return f"at index {list(index)} it is {out[index].item():.4f}, expected {expected[index].item():.4f}"


# ------------------------------------------------------------------ layer_norm


def _ln_reference(x, weight, bias, eps, *, dims=(-1,), unbiased=False, eps_outside=False, no_sqrt=False):
    mean = x.mean(dim=dims, keepdim=True)
    centred = x - mean
    var = ((x - mean) ** 2).sum(dim=dims, keepdim=True)
    n = math.prod(x.shape[d] for d in dims)
    var = var / (n - 1 if unbiased else n)
    if no_sqrt:
        x_hat = centred / (var + eps)
    elif eps_outside:
        x_hat = centred / (var.sqrt() + eps)
    else:
        x_hat = centred / (var + eps).sqrt()
    out = x_hat * weight
    return out if bias is None else out + bias


def _ln_cases():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 8, generator=g, dtype=torch.float64) * 2.0 + 3.0  # (B, T, C), mean 3, std 2
    x[1, 2] = x[1, 2] * 0.1 - 1.0  # one token on a much smaller scale
    ones, zeros = torch.ones(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    weight = 1.0 + 0.5 * torch.randn(8, generator=g, dtype=torch.float64)
    bias = 0.5 * torch.randn(8, generator=g, dtype=torch.float64)
    tiny = torch.randn(4, 16, generator=g, dtype=torch.float64) * 1e-3 + 0.5  # (T, C): variance 1e-6 << eps
    w16 = 1.0 + 0.5 * torch.randn(16, generator=g, dtype=torch.float64)
    b16 = 0.5 * torch.randn(16, generator=g, dtype=torch.float64)
    return [
        ("plain", x, ones, zeros),
        ("gain and bias", x, weight, bias),
        ("no bias", x, weight, None),
        ("tiny variance", tiny, w16, b16),
        ("constant", torch.full((2, 16), 7.0, dtype=torch.float64), w16, b16),
    ]


@exercise("03_transformer_block", "layer_norm",
          "correct: each token's vector is centred, divided by sqrt(biased variance + eps), then scaled "
          "by weight and shifted by bias.")
def check_layer_norm(student) -> None:
    """Check ``student(x, weight, bias, eps) -> (..., C)`` normalising over the last axis."""
    for case, x, weight, bias in _ln_cases():
        original = x.clone()
        try:
            out = call(student, x, weight.clone(), None if bias is None else bias.clone(), _EPS)
        except Wrong as wrong:
            if bias is None and "NoneType" in str(wrong):
                raise Wrong(f"{wrong}; bias may be None, and then there is no shift to add") from None
            raise
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
            if case == "constant":
                raise Wrong("a constant vector (variance 0) gives nan or inf: add eps inside the square root, "
                            "(x - mean) / sqrt(var + eps)")
            raise Wrong("your output has nan or inf values: is eps inside the square root?")
        out = expect_tensor(out, x.shape)
        if not torch.equal(x, original):
            raise Wrong("your function changed x in place; compute a new tensor instead (x = x - mean, not x -= mean)")
        expected = _ln_reference(x, weight, bias, _EPS)
        if _close(out, expected):
            continue

        # Which usual mistake gives exactly this output?
        b = bias
        diagnosis = _first_match(out, [
            (_ln_reference(x, weight, b, _EPS, unbiased=True),
             ("you used the unbiased variance (divide by C-1); layer norm divides by C: "
              "x.var(dim=-1, unbiased=False) or ((x - mean) ** 2).mean(dim=-1)")),
            (_ln_reference(x, weight, b, _EPS, unbiased=True, eps_outside=True),
             ("you used the unbiased variance (divide by C-1; x.std() does that by default); layer norm "
              "divides by C: x.var(dim=-1, unbiased=False), and eps goes inside the square root")),
            (_ln_reference(x, weight, b, _EPS, eps_outside=True),
             ("you added eps outside the square root, (x - mean) / (std + eps); it belongs inside: "
              "(x - mean) / sqrt(var + eps), as in nn.LayerNorm")),
            (_ln_reference(x, weight, b, 0.0),
             ("you left out eps: divide by sqrt(var + eps), which keeps the division safe when a vector is "
              "(nearly) constant")),
            (_ln_reference(x, weight, b, _EPS, no_sqrt=True),
             "you divided by the variance; divide by its square root, the standard deviation sqrt(var + eps)"),
            (_ln_reference(x, weight, b, _EPS, dims=tuple(range(x.ndim))),
             ("you normalised over the whole tensor at once; each token's vector is normalised on its own: "
              "take the mean and variance over the last axis only (dim=-1, keepdim=True)")),
            (_ln_reference(x, weight, b, _EPS, dims=(0,)) if x.ndim > 1 else None,
             "you normalised over axis 0 (the batch); use the last axis: dim=-1, keepdim=True"),
            (_ln_reference(x, weight, b, _EPS, dims=(1,)) if x.ndim > 2 else None,
             "you normalised over axis 1 (time); use the last axis: dim=-1, keepdim=True"),
            (_ln_reference(x, weight, None, _EPS) if b is not None else None,
             "your output ignores bias: add it after scaling by weight"),
            (_ln_reference(x, torch.ones_like(weight), b, _EPS),
             "your output ignores weight: multiply the normalised x by weight (the gain), then add bias"),
            (_ln_reference(x, torch.ones_like(weight), None, _EPS),
             ("your output ignores weight and bias: the normalised x_hat must still be scaled by weight "
              "and shifted by bias")),
            (_ln_reference(x, b, weight, _EPS) if b is not None else None,
             "weight and bias are swapped: x_hat * weight + bias"),
            (_ln_reference(x * weight + b if b is not None else x * weight,
                           torch.ones_like(weight), None, _EPS),
             "you applied weight and bias before normalising; normalise first, then x_hat * weight + bias"),
        ])
        if diagnosis:
            raise Wrong(diagnosis)
        if case == "plain":  # weight 1, bias 0: the output itself must have mean 0 and variance 1
            mean = out.double().mean(dim=-1)
            worst = mean.abs().argmax()
            if mean.abs().max() > 1e-3:
                raise Wrong(f"your output's mean along the last axis is {mean.flatten()[worst].item():.2f}, not 0: "
                            f"did you subtract the mean?")
            var = out.double().var(dim=-1, unbiased=False)
            worst = (var - 1).abs().argmax()
            if (var - 1).abs().max() > 1e-3:
                raise Wrong(f"with weight 1 and bias 0 your output's variance along the last axis is "
                            f"{var.flatten()[worst].item():.3f}, not 1: divide by sqrt(var + eps)")
        where = {"tiny variance": " for an input whose variance (1e-6) is smaller than eps",
                 "constant": " for a constant vector (it should come out as the bias)",
                 "no bias": " with bias=None"}.get(case, "")
        raise Wrong(f"your output is wrong{where}: {_where(out, expected)}")


# ------------------------------------------------------------------ gelu_tanh


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_tanh(x, c=_SQRT_2_OVER_PI, k=0.044715, power=3, half=0.5, times_x=True):
    phi = half * (1.0 + torch.tanh(c * (x + k * x**power)))
    return x * phi if times_x else phi


@exercise("03_transformer_block", "gelu_tanh",
          "correct: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))), GPT-2's GELU.")
def check_gelu_tanh(student) -> None:
    """Check ``student(x)`` against GPT-2's tanh approximation of GELU, elementwise, any shape."""
    g = torch.Generator().manual_seed(5)
    cases = [torch.linspace(-5.0, 5.0, 101, dtype=torch.float64),
             torch.randn(3, 4, 6, generator=g, dtype=torch.float64) * 2.0]
    for x in cases:
        original = x.clone()
        out = expect_tensor(call(student, x), x.shape)
        if not torch.equal(x, original):
            raise Wrong("your function changed x in place; compute a new tensor instead")
        expected = _gelu_tanh(x)
        if _close(out, expected, tol=1e-5):
            continue
        erf_gelu = x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
        diagnosis = _first_match(out, [
            (erf_gelu, ("that is the exact GELU, x * Phi(x) with erf; GPT-2 was trained with the tanh approximation "
                        "0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3))), which differs by up to 4.7e-4")),
            (x.clamp(min=0), "that is ReLU, max(0, x); GELU is smooth and slightly negative for small negative x"),
            (_gelu_tanh(x, half=1.0), "your values are twice the expected: did you forget the factor 0.5?"),
            (_gelu_tanh(x, times_x=False), ("you returned 0.5 * (1 + tanh(...)), the smooth step Phi(x); "
                                            "GELU multiplies it by x")),
            (_gelu_tanh(x, c=math.sqrt(2.0 * math.pi)), ("check the constant: it is sqrt(2 / pi) ≈ 0.798, "
                                                         "not sqrt(2 * pi)")),
            (_gelu_tanh(x, c=2.0 / math.pi), ("check the constant: it is sqrt(2 / pi) ≈ 0.798, the square root "
                                              "of 2 / pi")),
            (_gelu_tanh(x, k=0.0), "you left out the cubic term: tanh(sqrt(2/pi) * (x + 0.044715 * x**3))"),
            (_gelu_tanh(x, power=2), "the correction term is 0.044715 * x**3 (x cubed, not squared)"),
            (_gelu_tanh(x, k=0.44715), "check the constant of the cubic term: 0.044715, not 0.44715"),
            (x * torch.sigmoid(1.702 * x), ("that is x * sigmoid(1.702 * x), a different GELU approximation; "
                                            "use the tanh form (note 0.5 * (1 + tanh(u)) = sigmoid(2u))")),
        ])
        if diagnosis:
            raise Wrong(diagnosis)
        diff = (out.double() - expected).abs()
        i = int(diff.flatten().argmax())
        raise Wrong(f"at x = {x.flatten()[i].item():.2f} your gelu_tanh gives {out.flatten()[i].item():.4f}, "
                    f"expected {expected.flatten()[i].item():.4f}")


# ------------------------------------------------------------------ block_forward


def _block_modules():
    """Fresh, random-weighted float64 sub-modules of a small block (fresh every call: a student's
    function could change them)."""
    from types import SimpleNamespace

    from gptlib.attention import CausalSelfAttention
    from gptlib.block import MLP, LayerNorm

    config = SimpleNamespace(n_embd=16, n_head=2, dropout=0.0, bias=True)
    g = torch.Generator().manual_seed(7)
    ln_1, attn, ln_2, mlp = LayerNorm(16), CausalSelfAttention(config), LayerNorm(16), MLP(config)
    with torch.no_grad():
        for module in (ln_1, attn, ln_2, mlp):
            module.double().eval()
            for name, p in module.named_parameters():
                base = 1.0 if isinstance(module, LayerNorm) and name == "weight" else 0.0
                p.copy_(base + torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
    x = torch.randn(2, 5, 16, generator=g, dtype=torch.float64)  # (B, T, C)
    return x, ln_1, attn, ln_2, mlp


@exercise("03_transformer_block", "block_forward",
          "correct: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)): the pre-norm block of GPT-2.")
def check_block_forward(student) -> None:
    """Check ``student(x, ln_1, attn, ln_2, mlp) -> (B, T, C)``, the pre-norm residual block."""
    x, ln_1, attn, ln_2, mlp = _block_modules()
    original = x.clone()
    with torch.no_grad():
        out = call(student, x, ln_1, attn, ln_2, mlp)
        if not torch.equal(x, original):
            raise Wrong("your function changed x in place (x += ... writes into the caller's tensor): "
                        "write x = x + attn(ln_1(x)) to make a new tensor")
        out = expect_tensor(out, x.shape)
        x1 = x + attn(ln_1(x))
        expected = x1 + mlp(ln_2(x1))
        if _close(out, expected):
            return
        h = ln_1(x)
        post = ln_1(x + attn(x))
        mlp_then_attn = x + mlp(ln_2(x))
        mlp_then_attn = mlp_then_attn + attn(ln_1(mlp_then_attn))
        diagnosis = _first_match(out, [
            (ln_2(post + mlp(post)),
             ("you normalised after adding (post-norm, as in the 2017 Transformer); GPT-2 normalises each "
              "sub-layer's input and adds its output to the untouched stream: x = x + attn(ln_1(x))")),
            (mlp(ln_2(attn(ln_1(x)))),
             ("your output has no residual connections: add each sub-layer's output to its input, "
              "x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))")),
            (x1, "you stopped after attention: the MLP's output must be added too, x = x + mlp(ln_2(x))"),
            (x1 + mlp(x1), "the MLP must read ln_2(x), the normalised stream, not x itself"),
            (mlp(ln_2(x1)), "you dropped the second residual: x = x + mlp(ln_2(x)), not x = mlp(ln_2(x))"),
            (attn(ln_1(x)) + mlp(ln_2(attn(ln_1(x)))),
             "you dropped the first residual: x = x + attn(ln_1(x)), not x = attn(ln_1(x))"),
            (x + attn(ln_1(x)) + mlp(ln_2(x)),
             ("your MLP reads the stream from before attention was added; it must read the updated x, "
              "after x = x + attn(ln_1(x))")),
            (h + attn(h) + mlp(ln_2(h + attn(h))),
             ("you added the normalised input to the stream; the stream carries x itself, "
              "only the sub-layer reads ln_1(x): x = x + attn(ln_1(x))")),
            (x1 + mlp(ln_1(x1)), "use ln_2 before the MLP: ln_1 and ln_2 have their own weights"),
            (x + attn(ln_2(x)) + mlp(ln_1(x + attn(ln_2(x)))),
             "ln_1 and ln_2 are swapped: ln_1 comes before attention, ln_2 before the MLP"),
            (mlp_then_attn,
             "attention comes first, then the MLP: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x))"),
        ])
        if diagnosis:
            raise Wrong(diagnosis)
        raise Wrong(f"your block's output is wrong: {_where(out, expected)}")
