"""What a training run records, and the error it stops with when the numbers go bad.

- :class:`History`              per-step losses, learning rates, gradient norms, tokens, time; validation losses
- :class:`NonFiniteLossError`   the loss or the gradient norm became NaN or infinite

>>> h = History(steps=[1, 2], train_loss=[4.2, 3.9], val_steps=[2], val_loss=[3.95])
>>> h.best_val_loss, History.from_dict(h.to_dict()) == h
(3.95, True)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

__all__ = ["History", "NonFiniteLossError"]


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
