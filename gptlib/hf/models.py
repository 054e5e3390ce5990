"""Convert between gptlib's :class:`~gptlib.model.GPT` and Hugging Face's ``GPT2LMHeadModel``.

(Import these from :mod:`gptlib.hf`; this module is for reading.)

The two models compute the same function; only the bookkeeping differs:

- Hugging Face puts the body under ``transformer.`` (``transformer.h.0.attn.c_attn.weight``), gptlib
  keeps it at the top level (``h.0.attn.c_attn.weight``).
- Hugging Face's GPT-2 uses ``Conv1D`` layers for ``c_attn``, ``c_proj`` and ``c_fc``: a linear layer
  that stores its weight as ``(in_features, out_features)`` and computes ``x @ W + b``. ``nn.Linear``
  stores ``(out_features, in_features)`` and computes ``x @ W.T + b``. Those weights are transposed
  on the way across; everything else is copied as is.
- The output head shares the token-embedding matrix in both.
- The loss is set up differently: gptlib's ``model(idx, targets)`` takes targets already shifted by
  one position and ignores target ``-1``; Hugging Face's ``model(idx, labels=idx)`` shifts the labels
  itself and ignores ``-100``.

``transformers`` is imported only when a function here is called, so ``import gptlib`` stays fast and
works without it.

A vocabulary may or may not end with an end-of-text token. GPT-2's does (id 50256, ``<|endoftext|>``),
and so do gptlib's trained BPE tokenizers, so by default the last id is declared the begin- and
end-of-text token. A :class:`~gptlib.tokenizers.CharTokenizer` has none: its last id is a letter
(``'z'`` for tiny Shakespeare), and ``generate`` would stop at the first ``'z'``. Pass
``end_of_text=False`` for such a model.

- :func:`hf_config`          GPTConfig -> ``GPT2Config``
- :func:`config_from_hf`     ``GPT2Config`` -> GPTConfig, refusing what gptlib cannot represent
- :func:`to_hf`              GPT -> ``GPT2LMHeadModel`` with the same weights
- :func:`from_hf`            ``GPT2LMHeadModel`` -> GPT with the same weights
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gptlib.model import GPT, GPTConfig

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from transformers import GPT2Config, GPT2LMHeadModel

__all__ = ["CONV1D_SUFFIXES", "config_from_hf", "from_hf", "hf_config", "hf_key", "to_hf"]

#: Weight names whose Hugging Face layer is a ``Conv1D`` (transposed relative to ``nn.Linear``).
CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")

# The epsilon of gptlib's LayerNorm (and GPT-2's).
_LAYER_NORM_EPS = 1e-5

# The name of next-token cross-entropy in transformers' table of losses (transformers.loss.loss_utils).
_CAUSAL_LM_LOSS = "ForCausalLM"

# Activation names under which transformers computes GPT-2's tanh-approximated GELU.
_TANH_GELU_NAMES = ("gelu_new", "gelu_pytorch_tanh")


def _transformers():
    """The ``transformers`` module, imported on first use (gptlib.hf's other modules use this too)."""
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - transformers is installed in the dev environment
        raise ImportError("gptlib.hf needs the 'transformers' package: pip install transformers") from e
    return transformers


def hf_key(name: str) -> str:
    """The Hugging Face name of a gptlib parameter: ``h.0.ln_1.weight -> transformer.h.0.ln_1.weight``."""
    return name if name.startswith("lm_head.") else "transformer." + name


def hf_config(config: GPTConfig, attn_implementation: str = "eager", *, end_of_text: bool = True) -> GPT2Config:
    """The ``GPT2Config`` describing the same architecture as ``config``.

    Hugging Face's GPT-2 always has biases, so ``bias=False`` is refused with a ``ValueError``.
    ``attn_implementation`` picks Hugging Face's attention code: ``"eager"`` (written out, like
    :func:`gptlib.attention.scaled_dot_product_attention`; can return attention weights) or
    ``"sdpa"`` (PyTorch's fused kernel, transformers' default for GPT-2). Both give the same result up to rounding.

    ``end_of_text=True``: the vocabulary's last id, ``vocab_size - 1``, is its end-of-text token (where
    GPT-2 keeps ``<|endoftext|>``), and the begin/end-of-text ids are set to it (left at GPT-2's 50256,
    transformers warns that they are outside a smaller vocabulary). ``end_of_text=False``: the vocabulary
    has no such token (a :class:`~gptlib.tokenizers.CharTokenizer`'s), both ids are ``None``, and
    ``generate`` stops only at its length limit.

    >>> cfg = hf_config(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64), end_of_text=False)
    >>> cfg.n_positions, cfg.n_embd, cfg.eos_token_id
    (32, 64, None)
    """
    config.validate()
    if not config.bias:
        raise ValueError(
            "bias=False cannot be converted: Hugging Face's GPT-2 always has biases in its "
            "Linear (Conv1D) layers and LayerNorms"
        )
    if not isinstance(end_of_text, bool):
        raise TypeError(f"end_of_text must be True or False, got {end_of_text!r}")
    transformers = _transformers()
    last_id = config.vocab_size - 1 if end_of_text else None
    return transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_ctx=config.block_size,  # older name for the context length, kept by GPT-2's own config.json
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_inner=None,  # None means 4 * n_embd, as in gptlib's MLP
        activation_function="gelu_new",  # the tanh approximation, gptlib.block.gelu_tanh
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        layer_norm_epsilon=_LAYER_NORM_EPS,
        scale_attn_weights=True,
        scale_attn_by_inverse_layer_idx=False,
        reorder_and_upcast_attn=False,
        tie_word_embeddings=True,
        bos_token_id=last_id,
        eos_token_id=last_id,
        attn_implementation=attn_implementation,
    )


def config_from_hf(cfg: GPT2Config) -> GPTConfig:
    """The :class:`GPTConfig` for a ``GPT2Config``; ``ValueError`` if gptlib's GPT cannot express it."""
    problems = []
    if getattr(cfg, "model_type", None) != "gpt2":
        problems.append(f"model_type={getattr(cfg, 'model_type', None)!r} (only 'gpt2' is supported)")
    if cfg.activation_function not in _TANH_GELU_NAMES:
        problems.append(
            f"activation_function={cfg.activation_function!r} (gptlib uses the tanh GELU, "
            f"{' or '.join(repr(n) for n in _TANH_GELU_NAMES)})"
        )
    if cfg.n_inner is not None and cfg.n_inner != 4 * cfg.n_embd:
        problems.append(f"n_inner={cfg.n_inner} (gptlib's MLP is 4 * n_embd = {4 * cfg.n_embd} wide)")
    if not cfg.tie_word_embeddings:
        problems.append("tie_word_embeddings=False (gptlib's lm_head always shares wte's weight)")
    if not cfg.scale_attn_weights:
        problems.append("scale_attn_weights=False (gptlib always divides attention scores by sqrt(head size))")
    if cfg.scale_attn_by_inverse_layer_idx:
        problems.append("scale_attn_by_inverse_layer_idx=True (gptlib does not scale attention by layer)")
    if cfg.reorder_and_upcast_attn:
        problems.append("reorder_and_upcast_attn=True (gptlib has no reordered/upcast attention)")
    if getattr(cfg, "add_cross_attention", False):
        problems.append("add_cross_attention=True (gptlib's blocks have no cross-attention)")
    if cfg.layer_norm_epsilon != _LAYER_NORM_EPS:
        problems.append(f"layer_norm_epsilon={cfg.layer_norm_epsilon} (gptlib's LayerNorm uses {_LAYER_NORM_EPS})")
    pdrops = {"resid_pdrop": cfg.resid_pdrop, "embd_pdrop": cfg.embd_pdrop, "attn_pdrop": cfg.attn_pdrop}
    if len(set(pdrops.values())) != 1:
        problems.append(f"different dropout rates {pdrops} (gptlib has a single dropout)")
    if problems:
        raise ValueError("this GPT-2 configuration cannot be represented by gptlib's GPT: " + "; ".join(problems))
    return GPTConfig(
        vocab_size=cfg.vocab_size,
        block_size=cfg.n_positions,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=float(cfg.resid_pdrop),
        bias=True,
    )


def _converted(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """A fresh copy of ``tensor`` for the other library: transposed if ``name`` is a Conv1D weight."""
    tensor = tensor.detach()
    if name.endswith(CONV1D_SUFFIXES):
        tensor = tensor.t()
    return tensor.clone(memory_format=torch.contiguous_format)  # a transposed view becomes a real copy


# Both directions build the new model on the "meta" device first: parameters with shapes but no
# memory, so no time is spent drawing random initial weights that are about to be overwritten
# (seconds for GPT-2 small, minutes for GPT-2 XL on a CPU). load_state_dict(assign=True) then installs
# the converted tensors as the parameters, and strict=True guarantees that every one of them was
# provided. Assigning gives the tied head a separate Parameter object, so the tie is redone last.


def to_hf(gpt: GPT, attn_implementation: str = "eager", *, end_of_text: bool = True) -> GPT2LMHeadModel:
    """A ``transformers.GPT2LMHeadModel`` with ``gpt``'s weights (copied, not shared).

    The result has ``gpt``'s dtype, device and train/eval mode. In eval mode (or with dropout 0) its
    ``.logits`` equal ``gpt(idx)[0]`` up to float rounding, and ``model(idx, labels=idx).loss`` is
    next-token cross-entropy, computed without a warning. ``attn_implementation`` and
    ``end_of_text`` (``False`` for a character model, whose last id is a letter): see
    :func:`hf_config`. ``ValueError`` for a model without biases.
    """
    transformers = _transformers()
    cfg = hf_config(gpt.config, attn_implementation=attn_implementation, end_of_text=end_of_text)
    with torch.device("meta"):
        hf = transformers.GPT2LMHeadModel(cfg)  # its generation_config takes the bos/eos ids from cfg

    state = {hf_key(name): _converted(name, p) for name, p in gpt.named_parameters()}
    state["lm_head.weight"] = state["transformer.wte.weight"]  # named_parameters lists the tied matrix once
    hf.load_state_dict(state, strict=True, assign=True)
    hf.lm_head.weight = hf.transformer.wte.weight
    # transformers picks a model's loss by its class name, does not recognise "GPT2LMHeadModel", and warns
    # once before using next-token cross-entropy anyway; naming that loss keeps model(idx, labels=idx) quiet.
    hf.loss_type = _CAUSAL_LM_LOSS
    return hf.train(gpt.training)


def from_hf(hf_model: GPT2LMHeadModel) -> GPT:
    """A gptlib :class:`~gptlib.model.GPT` with the weights of a ``transformers.GPT2LMHeadModel``.

    Works for a model from ``GPT2LMHeadModel.from_pretrained("gpt2")`` (when you have the files) or one
    made by :func:`to_hf`. The result has the Hugging Face model's dtype, device and train/eval mode.
    ``ValueError`` if the model's configuration or weights are something gptlib's GPT cannot
    express (see :func:`config_from_hf`), for example an output head not tied to the embedding.
    """
    transformers = _transformers()
    if not isinstance(hf_model, transformers.GPT2LMHeadModel):
        raise ValueError(f"expected a transformers.GPT2LMHeadModel, got {type(hf_model).__name__}")
    config = config_from_hf(hf_model.config)
    hf_params = dict(hf_model.named_parameters())  # lists a tied lm_head.weight only once, as wte
    wte = hf_model.transformer.wte.weight
    if "lm_head.weight" in hf_params and not torch.equal(hf_params["lm_head.weight"], wte):
        raise ValueError(
            "the model's lm_head.weight is a separate matrix that differs from transformer.wte.weight; "
            "gptlib's GPT always ties the two"
        )

    with torch.device("meta"):
        gpt = GPT(config)
    names = [name for name, _ in gpt.named_parameters()]  # lm_head.weight is wte.weight: not listed
    extra = set(hf_params) - {hf_key(name) for name in names} - {"lm_head.weight"}
    if extra:
        raise ValueError(f"the model has parameters gptlib's GPT has no place for: {sorted(extra)}")

    state = {name: _converted(name, hf_params[hf_key(name)]) for name in names}
    state["lm_head.weight"] = state["wte.weight"]
    gpt.load_state_dict(state, strict=True, assign=True)
    gpt.lm_head.weight = gpt.wte.weight
    return gpt.train(hf_model.training)
