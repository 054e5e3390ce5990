"""The settings of a training run: :class:`TrainConfig`, checked on creation.

- :class:`TrainConfig`             every knob of a run, with a ``ValueError`` naming a bad one
- :func:`trajectory_differences`   the settings a resumed run changed that make it differ from an uninterrupted one

>>> TrainConfig(max_steps=100, warmup_steps=10).decay_steps   # the cosine ends at max_steps
100
>>> TrainConfig(batch_size=0)
Traceback (most recent call last):
...
ValueError: TrainConfig.batch_size must be an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from gptlib._checks import is_int, is_number
from gptlib.checkpoint import CHECKPOINT_NAME

__all__ = ["TrainConfig", "trajectory_differences"]


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
        weight_decay: AdamW's decoupled weight decay, applied to matrices only (see
            :func:`~gptlib.train.configure_optimizer`).
        betas: AdamW's ``(beta1, beta2)``: how long the running averages of the gradient and its
            square remember (about ``1 / (1 - beta)`` steps).
        grad_clip: rescale the gradient when its norm exceeds this; ``None`` or 0 turns it off.
        eval_interval: evaluate on the validation data every this many steps, and always at the end;
            0 evaluates only at the end.
        eval_batches: ``"full"`` for the whole validation split (:func:`~gptlib.evaluation.evaluate`,
            exact), or a number of random batches (:func:`~gptlib.evaluation.estimate_loss`, quicker,
            noisier; the same batches every time).
        eval_batch_size: sequences per evaluation batch, over all processes; ``None`` means ``batch_size``.
        log_interval: bring the losses to the host, check them, update the history, the progress
            bar and the callbacks every this many steps. Each time costs one host-device sync.
        seed: seeds the batch generator, and the trainer's own dropout generator with
            ``seed + rank`` (see :class:`~gptlib.train.Trainer`). The model's initialisation is the
            caller's business.
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

        def is_real(v) -> bool:
            return is_number(v) and math.isfinite(v)

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


def trajectory_differences(saved: dict, cfg: TrainConfig) -> list[str]:
    """``"field: checkpoint A, now B"`` for every setting that changes what a run computes and differs
    between ``saved`` (a checkpoint's ``train_config``) and ``cfg``. Harmless changes
    (``eval_interval``, ``out_dir``, ...) are not listed.

    >>> trajectory_differences(TrainConfig(seed=1).to_dict(), TrainConfig(seed=2, eval_interval=9))
    ['seed: checkpoint 1, now 2']
    """
    def effective(d: dict) -> dict:
        d = dict(d)
        d["decay_steps"] = d.get("lr_decay_steps") if d.get("lr_decay_steps") is not None else d.get("max_steps")
        return d

    saved = effective(json.loads(json.dumps(saved)))
    now = effective(json.loads(json.dumps(cfg.to_dict())))  # tuples -> lists, as saved
    return [f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in _TRAJECTORY_FIELDS
            if saved.get(k) != now.get(k)]
