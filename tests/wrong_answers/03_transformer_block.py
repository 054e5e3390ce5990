"""Wrong answers to the exercises of 03_transformer_block, each with a piece of the message the student must see."""

import math

import torch
import torch.nn.functional as F


def _ln(x, w, b, eps, *, dim=-1, unbiased=False, eps_outside=False, centre=True, scale=True):
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, keepdim=True, unbiased=unbiased)
    centred = x - mean if centre else x
    x_hat = centred / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    if not scale:
        return x_hat
    return x_hat * w if b is None else x_hat * w + b


def _ln_in_place(x, w, b, eps):
    x -= x.mean(dim=-1, keepdim=True)
    return _ln(x, w, b, eps)


def _ln_bias_required(x, w, b, eps):
    return _ln(x, w, None, eps) + b


def _ln_no_eps(x, w, b, eps):
    mean = x.mean(dim=-1, keepdim=True)
    out = (x - mean) / x.var(dim=-1, keepdim=True, unbiased=False).sqrt() * w
    return out if b is None else out + b


def _ln_whole(x, w, b, eps):
    x_hat = (x - x.mean()) / (x.var(unbiased=False) + eps).sqrt()
    return x_hat * w if b is None else x_hat * w + b


def _ln_before(x, w, b, eps):
    y = x * w if b is None else x * w + b
    return _ln(y, torch.ones_like(w), None, eps)


def _ln_var(x, w, b, eps):
    mean = x.mean(dim=-1, keepdim=True)
    out = (x - mean) / (x.var(dim=-1, keepdim=True, unbiased=False) + eps) * w
    return out if b is None else out + b


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu(x, c=_SQRT_2_OVER_PI, k=0.044715, p=3, half=0.5):
    return half * x * (1 + torch.tanh(c * (x + k * x**p)))


def _gelu_in_place(x):
    return x.mul_(torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _block_in_place(x, ln_1, attn, ln_2, mlp):
    x += attn(ln_1(x))
    x += mlp(ln_2(x))
    return x


def _mlp_reads_raw_stream(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(x)


def _no_first_residual(x, ln_1, attn, ln_2, mlp):
    x = attn(ln_1(x))
    return x + mlp(ln_2(x))


def _ln_1_twice(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_1(x))


def _half_mlp(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + 0.5 * mlp(ln_2(x))


def _post_norm(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def _parallel(x, ln_1, attn, ln_2, mlp):
    return x + attn(ln_1(x)) + mlp(ln_2(x))


def _normalised_stream(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x)
    x = x + attn(x)
    return x + mlp(ln_2(x))


def _mlp_first(x, ln_1, attn, ln_2, mlp):
    x = x + mlp(ln_2(x))
    return x + attn(ln_1(x))


def _swapped_norms(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_2(x))
    return x + mlp(ln_1(x))


WRONG = {
    "03_transformer_block.layer_norm": [
        (lambda x, w, b, eps: _ln(x, w, b, eps, unbiased=True), "you used the unbiased variance (divide by C-1)"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, unbiased=True, eps_outside=True),
         "you used the unbiased variance (divide by C-1"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, eps_outside=True), "you added eps outside the square root"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, centre=False),
         "your output's mean along the last axis is -5.07, not 0: did you subtract the mean?"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, dim=0), "you normalised over axis 0 (the batch)"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, dim=1), "you normalised over axis 1 (time)"),
        (_ln_whole, "you normalised over the whole tensor at once"),
        (lambda x, w, b, eps: _ln(x, w, b, eps, scale=False), "your output ignores weight and bias"),
        (lambda x, w, b, eps: _ln(x, w, None, eps), "your output ignores bias"),
        (lambda x, w, b, eps: _ln(x, torch.ones_like(w), b, eps), "your output ignores weight:"),
        (lambda x, w, b, eps: _ln(x, b, w, eps) if b is not None else _ln(x, w, b, eps), "weight and bias are swapped"),
        (_ln_before, "you applied weight and bias before normalising"),
        (_ln_var, "you divided by the variance"),
        (_ln_no_eps, "you left out eps"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps) / (x.var(-1, keepdim=True) > 0),
         "a constant vector (variance 0) gives nan or inf: add eps inside the square root"),
        (_ln_bias_required, "bias may be None, and then there is no shift to add"),
        (_ln_in_place, "your function changed x in place"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps)[..., :4], "returned shape"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps) * 1.01,
         "your output's variance along the last axis is 1.020, not 1"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps) + (w - 1) * 0.01,
         "your output is wrong: at index"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps) + (b is None) * 0.01,
         "your output is wrong with bias=None"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps).tolist(), "returned a list"),
        (lambda x, w, b, eps: F.layer_norm(x, (x.shape[-1],), w, b, eps)
         + (0.1 if x.shape[-1] == 16 and x.std() < 1e-2 else 0),
         "for an input whose variance (1e-6) is smaller than eps"),
    ],
    "03_transformer_block.gelu_tanh": [
        (lambda x: F.gelu(x), "that is the exact GELU, x * Phi(x) with erf"),
        (lambda x: torch.relu(x), "that is ReLU"),
        (lambda x: _gelu(x, half=1.0), "did you forget the factor 0.5?"),
        (lambda x: 0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
         "you returned 0.5 * (1 + tanh(...)), the smooth step Phi(x)"),
        (lambda x: _gelu(x, c=math.sqrt(2 * math.pi)), "not sqrt(2 * pi)"),
        (lambda x: _gelu(x, c=2 / math.pi), "the square root of 2 / pi"),
        (lambda x: _gelu(x, k=0.0), "you left out the cubic term"),
        (lambda x: _gelu(x, p=2), "x cubed, not squared"),
        (lambda x: _gelu(x, k=0.44715), "0.044715, not 0.44715"),
        (lambda x: x * torch.sigmoid(1.702 * x), "a different GELU approximation"),
        (lambda x: _gelu(x, c=0.8), "at x = "),
        (_gelu_in_place, "your function changed x in place"),
        (lambda x: _gelu(x).flatten(), "returned shape"),
    ],
    "03_transformer_block.block_forward": [
        (_post_norm, "you normalised after adding (post-norm"),
        (lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(attn(ln_1(x)))), "your output has no residual connections"),
        (lambda x, ln_1, attn, ln_2, mlp: x + attn(ln_1(x)), "you stopped after attention"),
        (_mlp_reads_raw_stream, "the MLP must read ln_2(x), the normalised stream"),
        (lambda x, ln_1, attn, ln_2, mlp: mlp(ln_2(x + attn(ln_1(x)))), "you dropped the second residual"),
        (_no_first_residual, "you dropped the first residual"),
        (_parallel, "your MLP reads the stream from before attention was added"),
        (_normalised_stream, "you added the normalised input to the stream"),
        (_ln_1_twice, "use ln_2 before the MLP"),
        (_swapped_norms, "ln_1 and ln_2 are swapped"),
        (_mlp_first, "attention comes first, then the MLP"),
        (_block_in_place, "your function changed x in place"),
        (lambda x, ln_1, attn, ln_2, mlp: (x + attn(ln_1(x)))[:, -1], "returned shape (2, 16), expected (2, 5, 16)"),
        (_half_mlp, "your block's output is wrong: at index"),
    ],
}
