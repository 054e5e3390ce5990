"""The training loop: ``Trainer(model, train_data, val_data, cfg).fit()`` returns a :class:`History`.

- :class:`Trainer`   optimizer steps, evaluation, logging, Ctrl-C, checkpoints and resuming, DDP

**Where the host waits for the device.** On a GPU, a training step only queues work: its batch is
drawn on the CPU and copied from pinned memory with ``non_blocking=True``, its loss and gradient
norm stay on the device, and the model's per-forward token-id check is off (the data's ids were
checked once, when the trainer was made). The host waits every ``log_interval`` steps, when the
pending losses are read and checked for NaN (:meth:`Trainer._sync`), and at evaluations and
checkpoints.

Shapes: ``B`` batch (rows per process), ``T`` block size.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gptlib.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from gptlib.data import get_batch
from gptlib.evaluation import check_data_ids, estimate_loss, evaluate, id_checks_off, to_device, token_stream
from gptlib.train.config import TrainConfig, trajectory_differences
from gptlib.train.distributed import all_gather, all_reduce_sum, device_for, setup_distributed, world_from_environment
from gptlib.train.dropout_rng import DropoutRNG
from gptlib.train.history import History, NonFiniteLossError
from gptlib.train.interrupts import DeferredInterrupt
from gptlib.train.optimizer import configure_optimizer, grad_norm, lr_at

__all__ = ["Trainer"]

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
        distributed: ``None`` joins a process group only when torchrun started this process;
            ``True`` also when another launcher set ``RANK``/``WORLD_SIZE``; ``False`` never (see
            :mod:`gptlib.train.distributed`). A kernel that merely inherited ``RANK``/``WORLD_SIZE``
            trains as one process.

    **Checked at creation**: the settings, that the data are long enough for ``block_size``, and,
    when the model has a ``config.vocab_size``, every token id of both datasets (once, on the CPU),
    so that the model need not check them on every forward call (see :mod:`gptlib.evaluation`).

    **Random numbers.** Batches come from a generator seeded with ``cfg.seed`` (the same on every
    rank). Dropout draws from the trainer's own stream (:class:`~gptlib.train.dropout_rng.DropoutRNG`),
    seeded with ``cfg.seed + rank`` when the trainer is made and put in place of torch's global
    generators only while ``fit()`` runs (callbacks run inside it), then taken out again, also when
    ``fit`` raises or is interrupted. Neither creating a trainer nor training changes the caller's
    random numbers, and what the caller draws in between does not change the run. ``fit()`` can be
    called again after an interrupt, or after raising ``cfg.max_steps``: it continues where it stopped.

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
        distributed: bool | None = None,
    ):
        self.cfg = cfg = TrainConfig() if cfg is None else cfg
        cfg.validate()
        self.callbacks = [callbacks] if callable(callbacks) else list(callbacks)

        # where we run: rank, world size, device; join the process group if there is one to join
        world = world_from_environment(distributed)
        self.device = device_for(world, device)
        self.dist = setup_distributed(self.device, distributed=world.world_size > 1)
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
        # every token id once, here, rather than in every forward call (False: no vocabulary to check against)
        self._ids_checked = check_data_ids(model, self.train_data, "train_data") and (
            self.val_data is None or check_data_ids(model, self.val_data, "val_data"))

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

        self.generator = torch.Generator().manual_seed(cfg.seed)  # batches: the same on every rank
        self.dropout_rng = DropoutRNG(cfg.seed + self.dist.rank, self.device)  # other masks on each rank
        self.step = 0
        self.history = History()
        self._elapsed_before = 0.0  # seconds spent in earlier fit() calls (and runs, when resumed)
        self._last_checkpoint: tuple[str, int] | None = None
        self._stop = DeferredInterrupt()  # the first Ctrl-C sets _stop.requested
        self._pending: list[tuple[int, float, float, torch.Tensor, torch.Tensor]] = []
        self._bar = None
        self._t0: float | None = None  # perf_counter() at the start of the running fit(), else None
        self._resumed = False

    # ------------------------------------------------------------------ setup helpers

    def _check_data(self, data, name: str) -> torch.Tensor:
        data = token_stream(data, name).cpu()
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
        if self.step >= cfg.max_steps:
            return self.history
        from tqdm.auto import tqdm

        self._bar = tqdm(total=cfg.max_steps, initial=self.step, desc="training", unit="step",
                         disable=not (cfg.progress and self.is_main), dynamic_ncols=True)
        self.model.train()
        self._t0 = time.perf_counter()
        ids_trusted = id_checks_off(self.model) if self._ids_checked else contextlib.nullcontext()
        try:
            with self._stop, self.dropout_rng.active(), ids_trusted:
                self._steps_until_done()
        finally:
            self._elapsed_before += time.perf_counter() - self._t0
            self._t0 = None
            self._pending.clear()
            self._bar.close()
            self._bar = None
        return self.history

    def _steps_until_done(self) -> None:
        """Steps, with a sync, an evaluation and a checkpoint where ``cfg`` asks for them, until
        ``max_steps`` or a stop request."""
        cfg = self.cfg
        ddp = self.dist.world_size > 1
        ckpt_every = cfg.eval_interval if cfg.checkpoint_interval is None else cfg.checkpoint_interval
        while self.step < cfg.max_steps:
            self._train_step()
            s = self.step
            last = s == cfg.max_steps
            do_eval = self.val_data is not None and (last or (cfg.eval_interval and s % cfg.eval_interval == 0))
            do_ckpt = cfg.out_dir is not None and (last or (ckpt_every and s % ckpt_every == 0))
            stop_here = self._stop.requested and not ddp  # under DDP all ranks agree at a sync
            stop = False
            if last or do_eval or do_ckpt or stop_here or s % cfg.log_interval == 0:
                stop = self._sync()  # raises NonFiniteLossError before anything is saved
                stop = stop or (self._stop.requested and not ddp)  # e.g. during a callback
            if stop and not last:
                self._interrupted()
                return
            if do_eval:
                self._evaluate_and_record()
            if do_ckpt:
                self.save_checkpoint()

    def _train_step(self) -> None:
        """One optimizer update on one global batch. No host-device synchronisation here."""
        cfg = self.cfg
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(self.train_data, cfg.batch_size // self.dist.world_size, cfg.block_size,
                         self.generator, rank=self.dist.rank, world_size=self.dist.world_size)
        x, y = to_device(x, self.device), to_device(y, self.device)  # (B, T) each; a GPU copy does not wait
        _, loss = self._forward_model(x, y)
        loss.backward()  # under DDP, gradients are averaged over the processes here
        if cfg.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self._params, cfg.grad_clip)  # the norm before clipping
        else:
            norm = grad_norm(self._params)
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
        flag = torch.tensor([float(self._stop.requested)], device=self.device)
        packed = torch.cat([torch.stack([p[3].float() for p in pending] + [p[4].float() for p in pending]), flag]) \
            if pending else flag
        if ws > 1:
            all_reduce_sum(packed, ws)
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
        where = dict(device=self.device, rank=self.dist.rank, world_size=ws, ids_checked=self._ids_checked)
        if cfg.eval_batches == "full":
            return evaluate(self.model, self.val_data, cfg.block_size, per_rank, **where)
        return estimate_loss(self.model, self.val_data, cfg.block_size, per_rank, cfg.eval_batches,
                             seed=cfg.seed + 1, **where)

    def _evaluate_and_record(self) -> None:
        val = self.evaluate()
        self.history.val_steps.append(self.step)
        self.history.val_loss.append(val)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{self.history.train_loss[-1]:.4f}", val=f"{val:.4f}", refresh=False)
        recent = self.history.train_loss[-self.cfg.log_interval:]
        self._log(f"step {self.step}: train loss {sum(recent) / len(recent):.4f}, val loss {val:.4f}")
        self._run_callbacks()

    def _interrupted(self) -> None:
        self.history.interrupted = True
        where = ""
        if self.cfg.out_dir is not None:
            where = f"; checkpoint written to {self.save_checkpoint()}"
        self._log(f"interrupted: stopped after step {self.step}{where}. Call fit() again to continue.")

    # ------------------------------------------------------------------ checkpoints

    def _rng_state(self) -> dict[str, torch.Tensor]:
        """The batch generator (the same on every rank) and every rank's dropout streams (a collective under DDP)."""
        mine = {name: state.tolist() for name, state in self.dropout_rng.state_dict().items()}
        state = {"batch_generator": self.generator.get_state()}
        for rank, streams in enumerate(all_gather(mine, self.dist.world_size)):
            state.update({f"rank{rank}.{name}": torch.tensor(s, dtype=torch.uint8) for name, s in streams.items()})
        return state

    def _set_rng_state(self, state: dict[str, torch.Tensor], path) -> None:
        if "batch_generator" in state:
            self.generator.set_state(state["batch_generator"])
        prefix = f"rank{self.dist.rank}."
        mine = {name[len(prefix):]: s for name, s in state.items() if name.startswith(prefix)}
        if "torch_cpu" not in mine and self.is_main:
            warnings.warn(f"{path} has no RNG state for rank {self.dist.rank} (written by fewer processes): "
                          f"dropout masks will differ from an uninterrupted run", stacklevel=3)
        self.dropout_rng.load_state_dict(mine)

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

    def load_checkpoint(self, path: str | os.PathLike | None = None, *,
                        allow_config_changes: Iterable[str] = ()) -> int:
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
            diffs = trajectory_differences(ckpt.train_config, self.cfg)
            if diffs:
                warnings.warn(f"resuming {ckpt.path} with other training settings ({'; '.join(diffs)}): the run "
                              f"will not match an uninterrupted one", stacklevel=2)
        self._set_rng_state(ckpt.rng_state, ckpt.path)
        self.step = ckpt.step
        self.history = History.from_dict(ckpt.extra.get("history", {}))
        self._elapsed_before = float(ckpt.extra.get("elapsed", 0.0))
        self._last_checkpoint = (str(ckpt.path), ckpt.step)
        self._resumed = True
        return self.step
