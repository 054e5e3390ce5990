"""Training: the loop that turns a randomly initialised model into a language model.

- :class:`TrainConfig`          the knobs of a run, checked on creation
- :func:`configure_optimizer`   AdamW, weight decay on matrices only
- :func:`lr_at`, :func:`cosine_schedule`   linear warmup, then cosine decay to ``min_lr``
- :func:`evaluate`              mean loss over a whole split (every target token once)
- :func:`estimate_loss`         mean loss over a few random batches (quick, noisy)
- :class:`Trainer`              ``Trainer(model, train, val, cfg).fit()`` -> :class:`History`
- :class:`NonFiniteLossError`   raised when the loss or the gradient becomes NaN or infinite

The trainer knows nothing about GPT: any ``nn.Module`` whose ``forward(x, y)`` returns
``(logits, loss)``, with ``loss`` the mean over all ``B * T`` targets, will do. Data are 1-D tensors
of token ids; batches come from :func:`gptlib.data.get_batch`.

**Distributed.** Started by ``torchrun --nproc_per_node=N script.py``, the trainer notices the
environment variables torchrun sets (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ...), joins the
process group (gloo on CPU, nccl on CUDA) and wraps the model in ``DistributedDataParallel``.
``batch_size`` is the *global* batch: each of the N processes draws the same random offsets and
keeps its own ``batch_size / N`` rows, and DDP averages the gradients, so one step is the step a
single process would take on the whole batch. Only rank 0 writes checkpoints, logs and the
progress bar.

Shapes: ``B`` batch (rows per process), ``T`` block size.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import math
import numbers
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gptlib.checkpoint import (
    CHECKPOINT_NAME,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from gptlib.data import get_batch

__all__ = [
    "TrainConfig",
    "History",
    "Trainer",
    "NonFiniteLossError",
    "configure_optimizer",
    "decay_parameter_names",
    "cosine_schedule",
    "lr_at",
    "evaluate",
    "estimate_loss",
    "DistInfo",
    "setup_distributed",
]


# --------------------------------------------------------------------------- configuration


@dataclass
class TrainConfig:
    """The settings of a training run. Checked on creation (``ValueError`` naming the field).

    Steps count optimizer updates. The defaults train a character-level model of tiny Shakespeare.

    Attributes:
        max_steps: optimizer steps to take in total (a resumed run continues up to it).
        batch_size: sequences per step, over all processes together (the global batch).
        block_size: tokens per sequence (``T``); at most the model's context length.
        learning_rate: peak learning rate, reached at the end of warmup.
        min_lr: learning rate at the end of the cosine decay and after it.
        warmup_steps: steps of linear warmup from ``learning_rate / warmup_steps`` up to ``learning_rate``.
        lr_decay_steps: step at which the cosine decay reaches ``min_lr``; ``None`` means ``max_steps``.
        weight_decay: AdamW's decoupled weight decay, applied to matrices only (see :func:`configure_optimizer`).
        betas: AdamW's ``(beta1, beta2)``: how long the running averages of the gradient and its
            square remember (about ``1 / (1 - beta)`` steps).
        grad_clip: rescale the gradient when its norm exceeds this; ``None`` or 0 turns it off.
        eval_interval: evaluate on the validation data every this many steps, and always at the end;
            0 evaluates only at the end.
        eval_batches: ``"full"`` for the whole validation split (:func:`evaluate`, exact), or a number
            of random batches (:func:`estimate_loss`, quicker, noisier; the same batches every time).
        eval_batch_size: sequences per evaluation batch, over all processes; ``None`` means ``batch_size``.
        log_interval: bring the losses to the host, check them, update the history, the progress
            bar and the callbacks every this many steps. Each time costs one host-device sync.
        seed: seeds the batch generator and torch's global generator (used by dropout). The model's
            initialisation is the caller's business.
        out_dir: folder for the checkpoint (``out_dir/ckpt.safetensors``); ``None`` saves nothing.
        checkpoint_interval: save every this many steps (and at the end and on an interrupt);
            ``None`` means at every evaluation, 0 only at the end and on an interrupt.
        resume: continue from the checkpoint in ``out_dir`` if there is one.
        progress: show a tqdm progress bar.
        verbose: print a line at every evaluation and on an interrupt.
    """

    max_steps: int = 5000
    batch_size: int = 64
    block_size: int = 256
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    lr_decay_steps: int | None = None
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float | None = 1.0
    eval_interval: int = 250
    eval_batches: int | str = "full"
    eval_batch_size: int | None = None
    log_interval: int = 10
    seed: int = 1337
    out_dir: str | None = None
    checkpoint_interval: int | None = None
    resume: bool = False
    progress: bool = True
    verbose: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):
            self.betas = tuple(self.betas)
        if isinstance(self.out_dir, os.PathLike):
            self.out_dir = os.fspath(self.out_dir)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what it may be."""

        def fail(name: str, allowed: str) -> None:
            raise ValueError(f"TrainConfig.{name} must be {allowed}, got {getattr(self, name)!r}")

        def is_int(v) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_real(v) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        for name in ("max_steps", "batch_size", "block_size", "log_interval"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("warmup_steps", "eval_interval"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 0:
                fail(name, "an integer >= 0")
        for name in ("lr_decay_steps", "checkpoint_interval", "eval_batch_size"):
            value = getattr(self, name)
            low = 1 if name == "eval_batch_size" else 0
            if value is not None and (not is_int(value) or value < low):
                fail(name, f"None or an integer >= {low}")
        if not is_int(self.seed):
            fail("seed", "an integer")
        if not is_real(self.learning_rate) or self.learning_rate <= 0:
            fail("learning_rate", "a finite number > 0")
        if not is_real(self.min_lr) or not 0 <= self.min_lr <= self.learning_rate:
            fail("min_lr", f"a number in [0, learning_rate={self.learning_rate}]")
        if self.lr_decay_steps is not None and self.lr_decay_steps < self.warmup_steps:
            fail("lr_decay_steps", f"None or >= warmup_steps={self.warmup_steps} (decay starts after warmup)")
        if not is_real(self.weight_decay) or self.weight_decay < 0:
            fail("weight_decay", "a finite number >= 0")
        if (not isinstance(self.betas, tuple) or len(self.betas) != 2
                or not all(is_real(b) and 0 <= b < 1 for b in self.betas)):
            fail("betas", "two numbers in [0, 1), such as (0.9, 0.99)")
        if self.grad_clip is not None and (not is_real(self.grad_clip) or self.grad_clip < 0):
            fail("grad_clip", "None, 0 (off) or a finite number > 0")
        if self.eval_batches != "full" and (not is_int(self.eval_batches) or self.eval_batches < 1):
            fail("eval_batches", '"full" (the whole validation split) or an integer >= 1')
        if self.out_dir is not None and (not isinstance(self.out_dir, str) or not self.out_dir):
            fail("out_dir", "None or a folder path")
        for name in ("resume", "progress", "verbose"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "True or False")

    @property
    def decay_steps(self) -> int:
        """The step where the cosine decay ends: ``lr_decay_steps``, or ``max_steps`` if that is None."""
        return self.max_steps if self.lr_decay_steps is None else self.lr_decay_steps

    @property
    def checkpoint_path(self) -> Path | None:
        """``out_dir/ckpt.safetensors``, or ``None`` when checkpoints are off."""
        return None if self.out_dir is None else Path(self.out_dir) / CHECKPOINT_NAME

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {sorted(unknown)}")
        return cls(**d)


# Fields that change what a run computes. Resuming with other values is allowed (to lower the
# learning rate, say) but is warned about: the result will not match an uninterrupted run.
_TRAJECTORY_FIELDS = ("batch_size", "block_size", "learning_rate", "min_lr", "warmup_steps", "decay_steps",
                      "weight_decay", "betas", "grad_clip", "seed")


# --------------------------------------------------------------------------- optimizer and schedule


def decay_parameter_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """``(decayed, not_decayed)``: names of trainable parameters with ``ndim >= 2`` and the rest.

    A tied parameter (GPT's ``wte.weight`` / ``lm_head.weight``) appears once, under its first name.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # yields a shared parameter once
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(name)
    return decay, no_decay


def configure_optimizer(
    model: nn.Module,
    weight_decay: float,
    learning_rate: float,
    betas: tuple[float, float] = (0.9, 0.99),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices (``ndim >= 2``) only.

    Weight decay shrinks every decayed weight towards 0 a little at each step. On a matrix (a
    Linear layer's weight, an embedding table) that keeps the weights small and the function
    smooth, which fights overfitting. A bias or a LayerNorm gain is a single vector that sets an
    offset or a scale: pulling a gain towards 0 fights the normalisation, whose output it is
    meant to rescale freely, and such a handful of numbers adds nothing to overfitting. So they go
    in a group with ``weight_decay=0``.

    Uses the fused AdamW kernel where this torch has one for the parameters' device (CUDA, and the
    CPU since torch 2.4): one kernel for all parameters instead of several passes over memory. It
    computes the same elementwise formula, with no atomics, so results stay deterministic. Where
    there is none, the ``foreach`` (multi-tensor) version is used.
    """
    params = dict(model.named_parameters())
    decay, no_decay = decay_parameter_names(model)
    groups = [
        {"params": [params[n] for n in decay], "weight_decay": weight_decay},
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
    ]
    kwargs = dict(lr=learning_rate, betas=tuple(betas), eps=eps)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.AdamW(groups, foreach=True, **kwargs)


def cosine_schedule(step: int, *, learning_rate: float, min_lr: float, warmup_steps: int, decay_steps: int) -> float:
    """Learning rate for the update made at ``step`` (0-based: steps already completed).

    - warmup, ``step < warmup_steps``: rises linearly, ``learning_rate * (step + 1) / warmup_steps``,
      reaching ``learning_rate`` at step ``warmup_steps - 1``. Adam's running averages start at
      zero and are noisy in the first steps; small steps there keep the model from being thrown
      far by them.
    - decay, ``warmup_steps <= step <= decay_steps``: half a cosine from ``learning_rate`` down to
      ``min_lr``: large steps while the loss falls fast, small ones to settle into a minimum.
    - after ``decay_steps``: ``min_lr``.

    >>> [round(cosine_schedule(s, learning_rate=1.0, min_lr=0.1, warmup_steps=2, decay_steps=4), 3)
    ...  for s in range(6)]
    [0.5, 1.0, 1.0, 0.55, 0.1, 0.1]
    """
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)  # 0 -> 1; decay_steps > warmup here
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate of ``cfg``'s schedule for the update made at ``step`` (see :func:`cosine_schedule`)."""
    return cosine_schedule(step, learning_rate=cfg.learning_rate, min_lr=cfg.min_lr,
                           warmup_steps=cfg.warmup_steps, decay_steps=cfg.decay_steps)


# --------------------------------------------------------------------------- evaluation


def _tokens(data, name: str) -> torch.Tensor:
    data = torch.as_tensor(data)
    if data.ndim != 1 or data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D tensor of integer token ids, got dtype {data.dtype} "
                         f"and shape {tuple(data.shape)}")
    return data


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """``model.eval()`` (dropout off) and no autograd inside; the previous mode restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _all_reduce_sum(t: torch.Tensor, world_size: int) -> torch.Tensor:
    if world_size > 1:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def evaluate(
    model: nn.Module,
    data,
    block_size: int,
    batch_size: int = 64,
    *,
    device: torch.device | str | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> float:
    """Mean loss per token over the whole of ``data``, each target token counted exactly once.

    ``data`` (``N`` token ids) has ``N - 1`` targets: token ``i + 1`` is predicted from tokens
    ``..i``. They are cut into non-overlapping windows of ``block_size`` targets:
    window ``k`` reads ``data[k*T : (k+1)*T]`` and is scored on ``data[k*T + 1 : (k+1)*T + 1]``.
    **The tail**: the last ``(N - 1) % T`` targets, too few for a full window, form one shorter
    window of their own, so no token is dropped and none counted twice. (Each window starts without
    context, like the random windows of training, so its first tokens are harder to predict.)

    Runs with ``model.eval()`` (no dropout) and ``torch.no_grad()``, then restores the model's mode.
    ``batch_size`` windows go through the model at once (per process). With ``world_size > 1``
    (inside an initialised process group) process ``rank`` takes windows ``rank, rank + world_size, ...``
    and the sums are all-reduced, so every process returns the same value.
    Assumes ``model(x, y)`` returns the mean loss over all targets of the batch.
    """
    data = _tokens(data, "data")
    if len(data) < 2:
        raise ValueError(f"data has {len(data)} token(s); evaluation needs at least 2 (one input, one target)")
    if not isinstance(block_size, int) or block_size < 1 or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"block_size={block_size!r} and batch_size={batch_size!r} must be positive integers")
    device = torch.device(device) if device is not None else _model_device(model)
    T = block_size
    n_targets = len(data) - 1
    n_full, tail = divmod(n_targets, T)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    offsets = torch.arange(T + 1)
    with _eval_mode(model):
        mine = torch.arange(rank, n_full, world_size)  # this process's windows
        for starts in mine.split(batch_size) if len(mine) else ():
            rows = data[(starts * T)[:, None] + offsets].long().to(device)  # (B, T+1)
            _, loss = model(rows[:, :-1], rows[:, 1:])
            total += loss.double() * (rows.size(0) * T)  # mean -> sum over the batch's targets
            count += rows.size(0) * T
        if tail and n_full % world_size == rank:  # the short last window, on one process
            rows = data[n_full * T:].long().to(device)[None]  # (1, tail + 1)
            _, loss = model(rows[:, :-1], rows[:, 1:])
            total += loss.double() * tail
            count += tail
    sums = _all_reduce_sum(torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)]),
                           world_size)
    total, count = sums.tolist()
    return total / count


def estimate_loss(
    model: nn.Module,
    data,
    block_size: int,
    batch_size: int,
    num_batches: int,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> float:
    """Mean loss over ``num_batches`` random batches of ``data``: quicker than :func:`evaluate`, noisier.

    The batches come from a fresh generator seeded with ``seed``, so every call sees the same
    batches and two estimates differ only because the model did. ``batch_size`` is per process;
    with ``world_size > 1`` the processes share each global batch as in training and the result
    is all-reduced. Runs in eval mode without gradients, restoring the model's mode after.
    """
    data = _tokens(data, "data")
    device = torch.device(device) if device is not None else _model_device(model)
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64, device=device)
    with _eval_mode(model):
        for _ in range(num_batches):
            x, y = get_batch(data, batch_size, block_size, generator, rank=rank, world_size=world_size)
            _, loss = model(x.to(device), y.to(device))
            total += loss.double()
    total = _all_reduce_sum(total, world_size)
    return total.item() / (num_batches * world_size)


def _grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The gradients' total L2 norm as a tensor (no sync), for when nothing is clipped."""
    grads = [p.grad for p in params if p.grad is not None]
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
        return torch.nn.utils.get_total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


# --------------------------------------------------------------------------- distributed setup


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a distributed run (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints and logs."""
        return self.rank == 0


def _env_world() -> DistInfo:
    """The ranks torchrun announces in the environment (rank 0 of 1 if none)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    try:
        return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    except KeyError as err:
        raise RuntimeError(f"WORLD_SIZE={world} is set but {err.args[0]} is not: start distributed runs "
                           f"with torchrun, which sets RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT") from None


def setup_distributed(device: torch.device | None = None) -> DistInfo:
    """Join the process group torchrun describes in the environment, if any; return this rank.

    Uses ``nccl`` when ``device`` is a CUDA device, ``gloo`` otherwise. Does nothing if the group
    is already initialised (then its rank and size are returned) or if ``WORLD_SIZE`` is unset or 1.
    A group started here is destroyed when the interpreter exits.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    info = _env_world()
    if info.world_size == 1:
        return info
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)  # reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)


# --------------------------------------------------------------------------- trainer


class NonFiniteLossError(FloatingPointError):
    """The loss (or the gradient norm) became NaN or infinite; training stopped.

    Attributes: ``step`` (the 1-based step whose value was bad), ``loss``, ``grad_norm``, and
    ``checkpoint`` (path of the last good checkpoint, or ``None``).
    """

    def __init__(self, step: int, loss: float, grad_norm: float, checkpoint: str | None, checkpoint_step: int | None):
        self.step, self.loss, self.grad_norm, self.checkpoint = step, loss, grad_norm, checkpoint
        what = (f"the loss at step {step} is {loss}" if not math.isfinite(loss)
                else f"the gradient norm at step {step} is {grad_norm} (loss {loss:.4f})")
        kept = (f"The last good checkpoint, from step {checkpoint_step}, is {checkpoint}; no checkpoint was "
                f"written after the bad step. Load it with trainer.load_checkpoint()" if checkpoint
                else "No checkpoint had been written")
        super().__init__(
            f"Training stopped: {what}. {kept}. Usual causes: a learning rate too high (lower learning_rate, "
            f"lengthen warmup_steps, set grad_clip) or bad input (token ids, a model bug).")


@dataclass
class History:
    """What happened during training; the lists grow as ``fit`` runs.

    Per step (``steps[i]`` is the number of completed updates after that step, 1-based):
    ``train_loss`` (the global batch's loss, measured in train mode, before the update),
    ``lr`` (used for the update), ``grad_norm`` (before clipping), ``tokens`` (seen so far, all
    processes) and ``elapsed`` (seconds of ``fit``, over all sessions of a resumed run).
    Per evaluation: ``val_steps`` and ``val_loss`` (eval mode, no dropout).
    ``interrupted`` is True when the last ``fit`` was stopped by Ctrl-C / a kernel interrupt.
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def best_val_loss(self) -> float | None:
        return min(self.val_loss) if self.val_loss else None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


Callback = Callable[[History], Any]


class Trainer:
    """Trains ``model`` on ``train_data``, evaluating on ``val_data``, as ``cfg`` says.

    >>> trainer = Trainer(model, train_ids, val_ids, TrainConfig(max_steps=2000))  # doctest: +SKIP
    >>> history = trainer.fit()                                                      # doctest: +SKIP

    Args:
        model: any module whose ``forward(x, y)`` returns ``(logits, loss)``. Moved to ``device``.
        train_data, val_data: 1-D tensors of token ids (kept on the CPU; batches are moved).
            ``val_data=None`` skips evaluation.
        cfg: a :class:`TrainConfig` (defaults if ``None``).
        device: where to train; ``None`` picks :func:`gptlib.device.get_device`, or under torchrun
            with CUDA the GPU ``LOCAL_RANK``.
        callbacks: functions called with the :class:`History` (on rank 0) every ``log_interval``
            steps and after every evaluation, e.g. to redraw a live loss plot.

    Creating a trainer seeds the batch generator with ``cfg.seed`` and torch's global generator
    (dropout draws from it) with ``cfg.seed + rank``. ``fit()`` can be called again after an
    interrupt, or after raising ``cfg.max_steps``: it continues where it stopped.

    **Stopping.** Ctrl-C (a Jupyter kernel interrupt) does not kill a step half done: the current
    step finishes, a checkpoint is written (when ``out_dir`` is set) and ``fit`` returns with
    ``history.interrupted = True``. A second Ctrl-C stops at once, without a checkpoint. Under
    torchrun the processes agree to stop at the next ``log_interval`` step.

    **Bad values.** A NaN or infinite loss or gradient norm raises :class:`NonFiniteLossError`
    (at the next ``log_interval`` step at the latest, and always before a checkpoint is written,
    so the last checkpoint is always a good one).

    **Resuming** (``trainer.load_checkpoint()`` or ``cfg.resume=True``) restores the weights, the
    optimizer's state, the step, the history and every random generator, so on a CPU a resumed run
    gives bit for bit the weights of an uninterrupted one.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data,
        val_data,
        cfg: TrainConfig | None = None,
        *,
        device: torch.device | str | None = None,
        callbacks: Sequence[Callback] | Callback = (),
    ):
        self.cfg = cfg = TrainConfig() if cfg is None else cfg
        cfg.validate()
        self.callbacks = [callbacks] if callable(callbacks) else list(callbacks)

        # where we run: rank, world size, device; join torchrun's process group if there is one
        env = _env_world()
        self.device = self._pick_device(device, env)
        self.dist = setup_distributed(self.device)
        ws = self.dist.world_size
        for name in ("batch_size", "eval_batch_size"):
            value = getattr(cfg, name)
            if value is not None and value % ws:
                raise ValueError(f"TrainConfig.{name}={value} is the global batch, split over {ws} processes: "
                                 f"it must be a multiple of {ws}")

        self.train_data = self._check_data(train_data, "train_data")
        self.val_data = None if val_data is None else self._check_data(val_data, "val_data")
        model_block = getattr(getattr(model, "config", None), "block_size", None)
        if isinstance(model_block, int) and cfg.block_size > model_block:
            raise ValueError(f"TrainConfig.block_size={cfg.block_size} is longer than the model's context, "
                             f"config.block_size={model_block}")

        self.model = model.to(self.device)
        self.model.train()
        self.optimizer = configure_optimizer(self.model, cfg.weight_decay, cfg.learning_rate, cfg.betas)
        self._params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if ws > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._forward_model = DistributedDataParallel(self.model, device_ids=ids)
        else:
            self._forward_model = self.model

        self.generator = torch.Generator().manual_seed(cfg.seed)  # batches: same on every rank
        torch.manual_seed(cfg.seed + self.dist.rank)  # dropout: different masks on each rank
        self.step = 0
        self.history = History()
        self._elapsed_before = 0.0  # seconds spent in earlier fit() calls (and runs, when resumed)
        self._last_checkpoint: tuple[str, int] | None = None
        self._stop_requested = False
        self._pending: list[tuple[int, float, float, torch.Tensor, torch.Tensor]] = []
        self._bar = None
        self._t0: float | None = None  # perf_counter() at the start of the running fit(), else None
        self._resumed = False

    # ------------------------------------------------------------------ setup helpers

    @staticmethod
    def _pick_device(device, env: DistInfo) -> torch.device:
        if device is not None:
            device = torch.device(device)
        else:
            from gptlib.device import get_device

            device = get_device()
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", env.local_rank if env.world_size > 1 else torch.cuda.current_device())
        return device

    def _check_data(self, data, name: str) -> torch.Tensor:
        data = _tokens(data, name).cpu()
        T = self.cfg.block_size
        if len(data) <= T:
            raise ValueError(f"{name} has {len(data)} tokens, too few for block_size={T}: one sequence needs "
                             f"block_size + 1 = {T + 1} tokens (its inputs and the token after them). "
                             f"Use a smaller block_size or more data")
        return data

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def _log(self, message: str) -> None:
        if self.cfg.verbose and self.is_main:
            if self._bar is not None and not self._bar.disable:
                self._bar.write(message)
            else:
                print(message, flush=True)

    # ------------------------------------------------------------------ the loop

    def fit(self) -> History:
        """Train until ``cfg.max_steps`` steps are done (or Ctrl-C); return the :class:`History`."""
        cfg = self.cfg
        cfg.validate()
        if cfg.resume and not self._resumed and self.step == 0 and cfg.checkpoint_path is not None \
                and cfg.checkpoint_path.exists():
            self.load_checkpoint()
        self.history.interrupted = False
        self._stop_requested = False
        if self.step >= cfg.max_steps:
            return self.history
        from tqdm.auto import tqdm

        self._bar = tqdm(total=cfg.max_steps, initial=self.step, desc="training", unit="step",
                         disable=not (cfg.progress and self.is_main), dynamic_ncols=True)
        self.model.train()
        self._t0 = time.perf_counter()
        ddp = self.dist.world_size > 1
        ckpt_every = cfg.eval_interval if cfg.checkpoint_interval is None else cfg.checkpoint_interval
        try:
            with self._deferred_interrupts():
                while self.step < cfg.max_steps:
                    self._train_step()
                    s = self.step
                    last = s == cfg.max_steps
                    do_eval = self.val_data is not None and (last or (cfg.eval_interval and s % cfg.eval_interval == 0))
                    do_ckpt = cfg.out_dir is not None and (last or (ckpt_every and s % ckpt_every == 0))
                    stop_here = self._stop_requested and not ddp  # under DDP all ranks agree at a sync
                    stop = False
                    if last or do_eval or do_ckpt or stop_here or s % cfg.log_interval == 0:
                        stop = self._sync()  # raises NonFiniteLossError before anything is saved
                        stop = stop or (self._stop_requested and not ddp)  # e.g. during a callback
                    if stop and not last:
                        self._interrupted()
                        break
                    if do_eval:
                        self._evaluate_and_record()
                    if do_ckpt:
                        self.save_checkpoint()
        finally:
            self._elapsed_before += time.perf_counter() - self._t0
            self._t0 = None
            self._pending.clear()
            self._bar.close()
            self._bar = None
        return self.history

    def _train_step(self) -> None:
        """One optimizer update on one global batch. No host-device synchronisation here."""
        cfg = self.cfg
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(self.train_data, cfg.batch_size // self.dist.world_size, cfg.block_size,
                         self.generator, rank=self.dist.rank, world_size=self.dist.world_size)
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)  # (B, T) each
        _, loss = self._forward_model(x, y)
        loss.backward()  # under DDP, gradients are averaged over the processes here
        if cfg.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self._params, cfg.grad_clip)  # the norm before clipping
        else:
            norm = _grad_norm(self._params)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        elapsed = self._elapsed_before + time.perf_counter() - self._t0
        self._pending.append((self.step, lr, elapsed, loss.detach(), norm.detach()))
        self._bar.update(1)

    def _sync(self) -> bool:
        """Bring the pending losses to the host (one sync; all-reduced under DDP), check them, record
        them, run the callbacks. Returns whether to stop (any rank asked to)."""
        pending, self._pending = self._pending, []
        ws = self.dist.world_size
        flag = torch.tensor([float(self._stop_requested)], device=self.device)
        packed = torch.cat([torch.stack([p[3].float() for p in pending] + [p[4].float() for p in pending]), flag]) \
            if pending else flag
        if ws > 1:
            _all_reduce_sum(packed, ws)
            packed[:-1] /= ws  # losses: the mean over ranks is the global batch's loss
        values = packed.tolist()
        n = len(pending)
        h = self.history
        tokens_per_step = self.cfg.batch_size * self.cfg.block_size
        for (step, lr, elapsed, _, _), loss, norm in zip(pending, values[:n], values[n:2 * n]):
            h.steps.append(step)
            h.train_loss.append(loss)
            h.lr.append(lr)
            h.grad_norm.append(norm)
            h.tokens.append(step * tokens_per_step)
            h.elapsed.append(elapsed)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                last = self._last_checkpoint
                raise NonFiniteLossError(step, loss, norm, last[0] if last else None, last[1] if last else None)
        if n and self._bar is not None:
            self._bar.set_postfix(loss=f"{values[n - 1]:.4f}", lr=f"{pending[-1][1]:.2e}", refresh=False)
        self._run_callbacks()
        return values[-1] > 0

    def _run_callbacks(self) -> None:
        if self.is_main:
            for callback in self.callbacks:
                callback(self.history)

    def evaluate(self) -> float:
        """Validation loss of the model now, as ``cfg.eval_batches`` says (all ranks take part)."""
        if self.val_data is None:
            raise ValueError("this trainer has no val_data to evaluate on")
        cfg, ws = self.cfg, self.dist.world_size
        per_rank = (cfg.eval_batch_size or cfg.batch_size) // ws
        if cfg.eval_batches == "full":
            return evaluate(self.model, self.val_data, cfg.block_size, per_rank, device=self.device,
                            rank=self.dist.rank, world_size=ws)
        return estimate_loss(self.model, self.val_data, cfg.block_size, per_rank, cfg.eval_batches,
                             seed=cfg.seed + 1, device=self.device, rank=self.dist.rank, world_size=ws)

    def _evaluate_and_record(self) -> None:
        val = self.evaluate()
        self.history.val_steps.append(self.step)
        self.history.val_loss.append(val)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{self.history.train_loss[-1]:.4f}", val=f"{val:.4f}", refresh=False)
        recent = self.history.train_loss[-self.cfg.log_interval:]
        self._log(f"step {self.step}: train loss {sum(recent) / len(recent):.4f}, val loss {val:.4f}")
        self._run_callbacks()

    # ------------------------------------------------------------------ interrupts

    @contextlib.contextmanager
    def _deferred_interrupts(self):
        """While training, the first SIGINT only sets a flag (the step in progress finishes and a
        checkpoint is written); a second one raises KeyboardInterrupt at once. Signal handlers can
        only be set from the main thread; elsewhere nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True  # no printing here: a signal handler may interrupt a print

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)

    def _interrupted(self) -> None:
        self.history.interrupted = True
        where = ""
        if self.cfg.out_dir is not None:
            where = f"; checkpoint written to {self.save_checkpoint()}"
        self._log(f"interrupted: stopped after step {self.step}{where}. Call fit() again to continue.")

    # ------------------------------------------------------------------ checkpoints

    def _rng_state(self) -> dict[str, torch.Tensor]:
        """The batch generator (the same on every rank) and each rank's own torch generators."""
        mine = {"torch_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            mine["torch_cuda"] = torch.cuda.get_rng_state(self.device)
        if self.dist.world_size > 1:
            import torch.distributed as dist

            everyone: list = [None] * self.dist.world_size
            dist.all_gather_object(everyone, {k: v.tolist() for k, v in mine.items()})
            ranks = [{k: torch.tensor(v, dtype=torch.uint8) for k, v in r.items()} for r in everyone]
        else:
            ranks = [mine]
        state = {"batch_generator": self.generator.get_state()}
        for rank, states in enumerate(ranks):
            state.update({f"rank{rank}.{k}": v for k, v in states.items()})
        return state

    def _set_rng_state(self, state: dict[str, torch.Tensor], path) -> None:
        if "batch_generator" in state:
            self.generator.set_state(state["batch_generator"])
        own = f"rank{self.dist.rank}.torch_cpu"
        if own in state:
            torch.set_rng_state(state[own])
        elif self.is_main:
            warnings.warn(f"{path} has no RNG state for rank {self.dist.rank} (written by fewer processes): "
                          f"dropout masks will differ from an uninterrupted run", stacklevel=3)
        cuda = f"rank{self.dist.rank}.torch_cuda"
        if cuda in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state[cuda], self.device)

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint of the current state (rank 0 writes; every rank must call this).

        ``path`` defaults to ``cfg.out_dir/ckpt.safetensors``. Returns the path written (``None`` on
        other ranks). Checks pending losses first: a NaN raises instead of being saved.
        """
        if self._pending:
            self._sync()
        path = Path(path) if path is not None else self.cfg.checkpoint_path
        if path is None:
            raise ValueError("no checkpoint path: set TrainConfig.out_dir or pass a path")
        rng = self._rng_state()  # a collective under DDP: every rank gets here
        if not self.is_main:
            return None
        extra = {"history": self.history.to_dict(), "elapsed": self._elapsed_now(), "world_size": self.dist.world_size}
        written = save_checkpoint(path, self.model, self.optimizer, step=self.step, train_config=self.cfg,
                                  rng_state=rng, extra=extra)
        self._last_checkpoint = (str(written), self.step)
        return written

    def _elapsed_now(self) -> float:
        running = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        return self._elapsed_before + running

    def load_checkpoint(self, path: str | os.PathLike | None = None, *, allow_config_changes: Iterable[str] = ()) -> int:
        """Restore weights, optimizer, step, history and random generators from a checkpoint.

        ``path`` defaults to ``cfg.out_dir``. A checkpoint of a model with another configuration
        is refused (:class:`~gptlib.checkpoint.CheckpointMismatchError` naming the fields); other
        training settings than the saved ones give a warning, since the run will then differ from
        an uninterrupted one. Returns the step reached.
        """
        path = path if path is not None else self.cfg.checkpoint_path
        if path is None:
            raise ValueError("no checkpoint path: set TrainConfig.out_dir or pass a path")
        ckpt = read_checkpoint(path)
        load_checkpoint(ckpt, self.model, self.optimizer, allow_config_changes=allow_config_changes)
        if ckpt.train_config is not None and self.is_main:
            self._warn_train_config_changes(ckpt.train_config, ckpt.path)
        self._set_rng_state(ckpt.rng_state, ckpt.path)
        self.step = ckpt.step
        self.history = History.from_dict(ckpt.extra.get("history", {}))
        self._elapsed_before = float(ckpt.extra.get("elapsed", 0.0))
        self._last_checkpoint = (str(ckpt.path), ckpt.step)
        self._resumed = True
        return self.step

    def _warn_train_config_changes(self, saved: dict, path) -> None:
        def effective(d: dict) -> dict:
            d = dict(d)
            d["decay_steps"] = d.get("lr_decay_steps") if d.get("lr_decay_steps") is not None else d.get("max_steps")
            return d

        saved = effective(saved)
        now = effective(json.loads(json.dumps(self.cfg.to_dict())))  # tuples -> lists, as saved
        diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in _TRAJECTORY_FIELDS
                 if saved.get(k) != now.get(k)]
        if diffs:
            warnings.warn(f"resuming {path} with other training settings ({'; '.join(diffs)}): the run will "
                          f"not match an uninterrupted one", stacklevel=3)
