"""The whole GPT: configuration, embeddings, a stack of blocks, and the language-model head.

- :class:`GPTConfig`   the hyperparameters, checked on creation, with named presets (:data:`PRESETS`)
- :class:`GPT`         the model: ``forward(idx, targets) -> (logits, loss)``, and
  ``forward_with_cache(idx, cache)`` for generation with a KV cache (:mod:`gptlib.generation`)
- :func:`param_count`  the number of parameters, by formula, without building a model
- :func:`check_token_ids`  the clear error for ids outside the vocabulary, for a batch or a whole dataset

Shapes: ``B`` batch, ``T`` sequence length, ``C = n_embd``, ``V = vocab_size``, ``L = n_layer``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gptlib._checks import is_int, is_number
from gptlib.block import Block, LayerNorm

__all__ = ["GPTConfig", "PRESETS", "GPT", "param_count", "check_token_ids", "IGNORE_INDEX", "INIT_STD"]

#: Target value meaning "no prediction here": such positions add nothing to the loss.
IGNORE_INDEX = -1

#: Standard deviation of GPT-2's initial weights.
INIT_STD = 0.02


# Named model sizes. The four GPT-2 sizes match OpenAI's released checkpoints (vocabulary 50257,
# context 1024); dropout is 0.0 because they are mostly used to load pretrained weights.
# The "char-*" sizes are for character-level models of a small corpus such as tiny Shakespeare,
# whose alphabet has 65 characters; pass vocab_size=len(your vocabulary) if yours differs.
PRESETS: dict[str, dict] = {
    # ~124M parameters
    "gpt2": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    # ~355M parameters
    "gpt2-medium": dict(vocab_size=50257, block_size=1024, n_layer=24, n_head=16, n_embd=1024),
    # ~774M parameters
    "gpt2-large": dict(vocab_size=50257, block_size=1024, n_layer=36, n_head=20, n_embd=1280),
    # ~1.56B parameters
    "gpt2-xl": dict(vocab_size=50257, block_size=1024, n_layer=48, n_head=25, n_embd=1600),
    # ~0.1M parameters: learns to spell within a minute or two of CPU training
    "char-tiny": dict(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64, dropout=0.0),
    # ~0.8M parameters: recognisable play-like text after some minutes on a laptop CPU
    "char-small": dict(vocab_size=65, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.1),
    # ~10.7M parameters: the largest character model here, meant for a GPU
    "char-medium": dict(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
}


@dataclass
class GPTConfig:
    """Everything needed to build a :class:`GPT`. The defaults are GPT-2 small (124M).

    Attributes:
        vocab_size: number of distinct tokens; ids run from 0 to ``vocab_size - 1``.
        block_size: longest sequence the model can read (it has this many position embeddings).
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: width of every token's vector (the residual stream).
        dropout: dropout probability in ``[0, 1)``, used after the embeddings, on the attention
            weights and on each block's two outputs. 0.0 switches it off.
        bias: whether Linear layers and LayerNorms have bias vectors (GPT-2: yes).

    The values are checked when the config is made (and again when a model is built, in case a
    field was changed in between); a bad value raises ``ValueError`` naming it (``TypeError`` for a
    value of the wrong type, such as ``n_embd=768.0``). To change a field,
    ``dataclasses.replace(config, dropout=0.1)`` makes a checked copy.
    """

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``TypeError``/``ValueError`` naming the first bad field; return ``None`` if all are fine."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not is_int(value):
                raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {name}={value}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: every head gets "
                f"n_embd // n_head channels, so n_embd must be a multiple of n_head"
            )
        if not is_number(self.dropout):
            raise TypeError(f"dropout must be a number, got {self.dropout!r} ({type(self.dropout).__name__})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got dropout={self.dropout}")
        if not isinstance(self.bias, bool):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")

    @property
    def head_size(self) -> int:
        """Channels per attention head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides) -> GPTConfig:
        """A named configuration from :data:`PRESETS`, with any fields overridden.

        ``GPTConfig.from_preset("char-small", vocab_size=len(chars))``
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown GPTConfig field(s) {sorted(unknown)} in overrides for preset {name!r}")
        return cls(**{**PRESETS[name], **overrides})


def param_count(config: GPTConfig, non_embedding: bool = False) -> int:
    """Number of parameters of ``GPT(config)``, by formula (the output head shares the embedding matrix).

    With ``C = n_embd``, ``V = vocab_size``, ``T = block_size``, ``L = n_layer`` and biases:

    - token embedding ``V*C`` (also used as the output head, so counted once)
    - position embedding ``T*C``
    - per block: attention ``c_attn`` ``3C*C + 3C`` and ``c_proj`` ``C*C + C``; MLP ``c_fc``
      ``4C*C + 4C`` and ``c_proj`` ``4C*C + C``; two LayerNorms ``2 * 2C``.
      Together ``12*C**2 + 13*C``.
    - final LayerNorm ``2C``

    With ``bias=False`` only the LayerNorm gains remain of the vectors: ``12*C**2 + 2*C`` per block
    and ``C`` for the final LayerNorm.

    GPT-2 small: ``38,597,376 + 786,432 + 12 * 7,087,872 + 1,536 = 124,439,808``.

    ``non_embedding=True`` leaves out both embedding matrices, the count that scaling-law papers
    (Kaplan et al., 2020) relate to model quality.
    """
    C, V, T, L = config.n_embd, config.vocab_size, config.block_size, config.n_layer
    b = 1 if config.bias else 0
    ln = C + b * C  # gain, plus bias
    attn = (C * 3 * C + b * 3 * C) + (C * C + b * C)  # c_attn + c_proj
    mlp = (C * 4 * C + b * 4 * C) + (4 * C * C + b * C)  # c_fc + c_proj
    per_block = 2 * ln + attn + mlp
    embeddings = V * C + T * C
    total = embeddings + L * per_block + ln
    return total - embeddings if non_embedding else total


def check_token_ids(ids: torch.Tensor, vocab_size: int, name: str = "idx", *,
                    targets: torch.Tensor | None = None) -> None:
    """``ValueError`` unless every id in ``ids`` is in ``[0, vocab_size)``, and every one in ``targets``
    (if given) too or ``IGNORE_INDEX``. One min/max pass per tensor and one read of the results: for
    tensors on a GPU, one host-device synchronisation.

    >>> check_token_ids(torch.tensor([3, 5]), 5, "data")
    Traceback (most recent call last):
    ...
    ValueError: token id 5 in data is outside the vocabulary: ids must be in [0, 4] (vocab_size=5)
    """
    tensors = [ids] if targets is None else [ids, targets]
    if any(t.numel() == 0 for t in tensors):
        return
    wide = [t if t.dtype in (torch.int64, torch.int32) else t.long() for t in tensors]  # aminmax lacks uint16
    bounds = torch.stack([b.long() for t in wide for b in torch.aminmax(t)]).tolist()  # one device -> host read
    V = vocab_size
    lo, hi = bounds[0], bounds[1]
    if lo < 0 or hi >= V:
        raise ValueError(f"token id {lo if lo < 0 else hi} in {name} is outside the vocabulary: "
                         f"ids must be in [0, {V - 1}] (vocab_size={V})")
    if targets is not None:
        lo, hi = bounds[2], bounds[3]
        if (lo < 0 and lo != IGNORE_INDEX) or hi >= V:
            bad = lo if lo < 0 and lo != IGNORE_INDEX else hi
            raise ValueError(f"target id {bad} is outside the vocabulary: targets must be in [0, {V - 1}] "
                             f"(vocab_size={V}), or {IGNORE_INDEX} to ignore a position")


class GPT(nn.Module):
    """A GPT-2-style language model. Parameter names match GPT-2 checkpoints (see :mod:`gptlib.hf`).

    Modules:

    - ``wte``: token embedding ``(V, C)``, one learned vector per token id
    - ``wpe``: position embedding ``(block_size, C)``, one learned vector per position
    - ``drop``: dropout on the summed embeddings
    - ``h``: ``n_layer`` :class:`~gptlib.block.Block` s
    - ``ln_f``: final LayerNorm
    - ``lm_head``: ``Linear(C, V, bias=False)`` turning each vector into one score (logit) per token

    **Weight tying.** ``lm_head.weight`` *is* ``wte.weight`` (the same tensor, not a copy). Reading a
    token in and scoring it as the next token use one matrix: tokens with similar embeddings get
    similar scores. It saves ``vocab_size * n_embd`` parameters, 38.6M of GPT-2 small's 124M.
    Because of the sharing, ``state_dict()`` lists the matrix under both names (and
    ``safetensors.torch.save_file`` refuses such a dict; ``safetensors.torch.save_model`` handles it).

    **Initialisation** (GPT-2's): Linear and Embedding weights ~ N(0, 0.02), biases 0, LayerNorm
    gains 1. The two projections that write into the residual stream in each block (``attn.c_proj``,
    ``mlp.c_proj``) use std ``0.02 / sqrt(2 * n_layer)`` instead: every block adds two outputs to the
    stream, and the variance of a sum of ``2L`` independent terms grows like ``2L``, so shrinking each
    term's std by ``sqrt(2L)`` keeps the stream's size the same however deep the model is.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        config.validate()
        self.config = config
        C = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, C)
        self.wpe = nn.Embedding(config.block_size, C)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(C, bias=config.bias)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one tensor, two roles
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """(Re)initialise every parameter the way GPT-2 does; see the class docstring."""
        residual_std = INIT_STD / math.sqrt(2 * self.config.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                if module is self.lm_head:
                    continue  # its weight is wte.weight, initialised as an Embedding below
                std = residual_std if name.endswith("c_proj") else INIT_STD
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
            elif isinstance(module, LayerNorm):
                nn.init.ones_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters, the tied embedding/head matrix counted once.

        ``non_embedding=True`` leaves out ``wte`` and ``wpe`` (see :func:`param_count`).
        """
        n = sum(p.numel() for p in self.parameters())  # parameters() yields a shared tensor once
        if non_embedding:
            n -= self.wte.weight.numel() + self.wpe.weight.numel()
        return n

    # ------------------------------------------------------------------ input checks
    #: ``forward`` checks shapes, dtypes and lengths always (no device sync), and the ids' range while
    #: this is True (:func:`check_token_ids`, a sync on a GPU). A caller that checked its whole dataset
    #: once sets it to False while it runs, as gptlib's trainer and :mod:`gptlib.evaluation` do.
    check_ids: bool = True

    def _check_ids(self, name: str, t) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(t).__name__}")
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise ValueError(
                f"{name} must hold integer token ids, got dtype {t.dtype}; "
                f"token ids index the embedding table, convert with {name}.long() if the values are whole numbers"
            )
        if t.dtype not in (torch.int64, torch.int32):
            t = t.long()  # nn.Embedding and cross_entropy accept int64 (and int32 for the embedding)
        return t

    def _check_inputs(
        self, idx: torch.Tensor, targets: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self._check_ids("idx", idx)
        if idx.ndim != 2:
            hint = "; for a single sequence use idx.unsqueeze(0)" if idx.ndim == 1 else ""
            raise ValueError(f"idx must have shape (B, T), got shape {tuple(idx.shape)} ({idx.ndim}-D){hint}")
        B, T = idx.shape
        if B == 0 or T == 0:
            raise ValueError(f"idx is empty: shape {tuple(idx.shape)}; need at least one token")
        if T > self.config.block_size:
            raise ValueError(
                f"sequence length T={T} is longer than block_size={self.config.block_size}: the model has "
                f"position embeddings for {self.config.block_size} positions; keep the last ones with "
                f"idx[:, -{self.config.block_size}:]"
            )
        if targets is not None:
            targets = self._check_ids("targets", targets)
            if targets.shape != idx.shape:
                raise ValueError(
                    f"targets must have the same shape as idx, {tuple(idx.shape)}, got {tuple(targets.shape)}"
                )
            if targets.dtype != torch.int64:
                targets = targets.long()  # cross_entropy wants int64 class indices
        if self.check_ids:
            check_token_ids(idx, self.config.vocab_size, "idx", targets=targets)
        return idx, targets

    # ------------------------------------------------------------------ forward

    def _embed(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = idx.size(1)
        pos = torch.arange(start, start + T, device=idx.device)  # (T,) absolute positions
        tok_emb = self.wte(idx)  # (B, T, C)  what each token is
        pos_emb = self.wpe(pos)  # (T, C)     where it is; broadcast over the batch
        return self.drop(tok_emb + pos_emb)  # (B, T, C)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores for the next token at every position, and optionally the loss.

        Args:
            idx: ``(B, T)`` integer token ids, ``T <= block_size``, each id in ``[0, vocab_size)``.
            targets: optional ``(B, T)`` ids of the tokens that follow; ``targets[b, t]`` is the token
                that should come after ``idx[b, :t+1]``. Positions whose target is ``IGNORE_INDEX``
                (-1) are left out of the loss, e.g. padding.

        Returns:
            ``logits``: ``(B, T, vocab_size)`` unnormalised scores (softmax turns them into
            probabilities). ``loss``: mean cross-entropy over the non-ignored positions, a scalar
            tensor, or ``None`` without targets. (If every target is ignored the mean is NaN.)
            An untrained model guesses uniformly, so its loss starts near ``ln(vocab_size)``.

        Raises ``ValueError`` (naming the offending value) for ids of the wrong shape, dtype or range
        (the range unless ``check_ids`` is False), sequences longer than ``block_size`` and targets
        that do not match ``idx``; ``TypeError`` if ``idx`` is not a tensor at all.
        """
        idx, targets = self._check_inputs(idx, targets)
        x = self._embed(idx)  # (B, T, C)
        for block in self.h:
            x = block(x)  # (B, T, C)
        x = self.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            # cross_entropy wants (N, V) scores and (N,) classes: flatten batch and time together
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return logits, loss

    def forward_with_cache(self, idx: torch.Tensor, cache, last_only: bool = False) -> torch.Tensor:
        """Logits for ``idx``, the tokens that come right after the ones already in ``cache``.

        This is how generation avoids recomputing the past: ``cache`` (a
        :class:`gptlib.generation.KVCache`) holds every layer's keys and values of the
        ``cache.length`` earlier positions. Only the new tokens go through the model; each layer
        appends their keys and values to its part of the cache, and their queries attend to all
        positions so far. Run the prompt through once ("prefill"), then one token per step.

        Args:
            idx: ``(B, T)`` token ids; they sit at the absolute positions
                ``cache.length .. cache.length + T - 1``, which pick their position embeddings. ``B``
                must be the cache's batch size.
            cache: the cache; afterwards ``cache.length`` has grown by ``T``.
            last_only: compute logits for the last position only, ``(B, 1, V)``. That is all that
                generation needs, and it spares the ``(T, C) @ (C, V)`` head for a long prompt.

        Returns:
            ``(B, T, V)`` logits (``(B, 1, V)`` with ``last_only``), the same as ``forward`` on the
            whole sequence would give for these positions (up to float rounding).

        Only shapes and the cache's room are checked here (``ValueError``), not the id values: reading
        them would make the device wait for the host once per generated token.
        """
        if idx.ndim != 2 or idx.size(1) == 0:
            raise ValueError(f"idx must have shape (B, T) with T >= 1, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        start = cache.length
        if B != cache.batch_size:
            raise ValueError(f"idx has batch size {B} but the cache was made for batch size {cache.batch_size}")
        if start + T > cache.max_len:
            raise ValueError(
                f"the cache holds {start} positions and has room for {cache.max_len}; {T} more do not fit "
                f"(reset it, or keep only the last tokens)"
            )
        x = self._embed(idx, start)  # (B, T, C), position embeddings of start .. start + T - 1
        for block, layer_cache in zip(self.h, cache.layers):
            x = block(x, kv_cache=layer_cache)  # (B, T, C); the layer's keys/values are written to the cache
        cache.length = start + T  # every layer has written its T new positions
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C)
        x = self.ln_f(x)
        return self.lm_head(x)  # (B, T, V) or (B, 1, V)

    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head for ``idx``: ``(n_layer, B, n_head, T, T)``.

        Runs the model with the explicit attention path so the weights can be kept. Entry
        ``[l, b, h, i, j]`` is how much position ``i`` attends to position ``j`` in head ``h`` of
        block ``l``. Call ``model.eval()`` first (in training mode dropout removes some weights) and
        wrap the call in ``torch.no_grad()`` unless you need gradients.
        """
        idx, _ = self._check_inputs(idx, None)
        x = self._embed(idx)
        weights = []
        for block in self.h:
            x, w = block(x, return_weights=True)  # (B, T, C), (B, nh, T, T)
            weights.append(w)
        return torch.stack(weights)  # (L, B, nh, T, T)
