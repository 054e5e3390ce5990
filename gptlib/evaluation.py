"""The loss on held-out text: how well a model predicts tokens it was not trained on.

- :func:`heldout_windows`   a token stream cut into non-overlapping windows, in batches: the one
  place that cuts (:func:`evaluate` and :func:`gptlib.objective.model_token_nll` both read it)
- :func:`evaluate`          mean loss over a whole split, every target token counted once (exact)
- :func:`estimate_loss`     mean loss over a few random batches (quick, noisy)
- :func:`token_stream`, :func:`positive_int`   argument checks with a ``ValueError`` naming the argument
- :func:`check_data_ids`    every id of a stream checked against ``model.config.vocab_size``, once
- :func:`id_checks_off`     the model's own per-forward id check switched off, for data checked already
- :func:`scoring_mode`      all of it around a scoring loop: ids checked once, eval mode, no autograd
- :func:`to_device`         a CPU batch copied to the device without making the host wait

**Where token ids are checked.** A :class:`~gptlib.model.GPT` checks that every id is in
``[0, vocab_size)`` on every forward call, which on a GPU makes the host wait for the device
each time. Here the whole stream is checked once instead (on the CPU, where data usually live:
no device is involved), and the per-forward check is switched off while its batches run. Shapes, dtypes and
lengths are still checked on every call: that needs no device.

Shapes: ``B`` windows per batch, ``T`` block size, ``t <= T`` targets in a window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from gptlib._checks import is_int
from gptlib.data import get_batch
from gptlib.device import model_device
from gptlib.model import check_token_ids

__all__ = ["heldout_windows", "evaluate", "estimate_loss", "token_stream", "positive_int", "check_data_ids",
           "id_checks_off", "evaluating", "scoring_mode", "to_device"]


def token_stream(data, name: str = "data") -> torch.Tensor:
    """``data`` as a 1-D tensor of integer token ids (no copy when it is one already)."""
    data = torch.as_tensor(data)
    if data.ndim != 1 or data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D tensor of integer token ids, got dtype {data.dtype} "
                         f"and shape {tuple(data.shape)}")
    return data


def positive_int(name: str, value) -> int:
    """``value`` if it is an integer >= 1, else ``ValueError("name=value must be a positive integer")``."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def heldout_windows(data, block_size: int, batch_size: int = 64, *, rank: int = 0,
                    world_size: int = 1) -> Iterator[torch.Tensor]:
    """Batches of non-overlapping windows over ``data``: int64 CPU tensors ``(B, t + 1)``.

    ``data`` (``N`` token ids) has ``N - 1`` targets: token ``i + 1`` is predicted from tokens
    ``..i``. Window ``k`` is ``data[k*T : (k+1)*T + 1]``: its inputs are ``row[:-1]`` and its
    targets ``row[1:]``, so consecutive windows share one token and every target is in exactly one
    window. **The tail**: the last ``(N - 1) % T`` targets, too few for a full window, form one
    shorter window of their own, in a batch of its own, last. (Each window starts without context,
    like the random windows of training, so its first targets are harder to predict.)

    With ``world_size > 1`` process ``rank`` takes windows ``rank, rank + world_size, ...`` and the
    tail goes to the process whose turn it would be. The arguments are checked at once, before
    the first batch is asked for.

    >>> [rows.tolist() for rows in heldout_windows(torch.arange(8), block_size=3, batch_size=2)]
    [[[0, 1, 2, 3], [3, 4, 5, 6]], [[6, 7]]]
    """
    data = token_stream(data)
    if len(data) < 2:
        raise ValueError(f"data has {len(data)} token(s); evaluation needs at least 2 (one input, one target)")
    T, batch_size = positive_int("block_size", block_size), positive_int("batch_size", batch_size)
    if not is_int(rank) or not 0 <= rank < world_size:
        raise ValueError(f"rank={rank!r} must be an integer in [0, {world_size - 1}] for world_size={world_size}")
    n_full, tail = divmod(len(data) - 1, T)

    def batches() -> Iterator[torch.Tensor]:
        offsets = torch.arange(T + 1)
        mine = torch.arange(rank, n_full, world_size)  # this process's full windows
        for starts in mine.split(batch_size) if len(mine) else ():
            yield data[(starts * T)[:, None] + offsets].long()  # (B, T + 1)
        if tail and n_full % world_size == rank:
            yield data[n_full * T:].long()[None]  # (1, tail + 1)

    return batches()


def check_data_ids(model: nn.Module, data: torch.Tensor, name: str = "data") -> bool:
    """Check every id of ``data`` against ``model.config.vocab_size`` (one pass over the stream).

    Returns whether there was a vocabulary to check against: ``False`` for a model without
    ``config.vocab_size``, whose own forward then has to cope with bad ids.

    >>> from gptlib.model import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))
    >>> check_data_ids(model, torch.tensor([0, 4, 5]), "val_ids")
    Traceback (most recent call last):
    ...
    ValueError: token id 5 in val_ids is outside the vocabulary: ids must be in [0, 4] (vocab_size=5)
    """
    vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
    if not is_int(vocab_size):
        return False
    check_token_ids(data, vocab_size, name)
    return True


@contextlib.contextmanager
def id_checks_off(model: nn.Module) -> Iterator[None]:
    """Inside, ``model`` skips its own per-forward id range check, when it offers that switch (a
    ``check_ids`` attribute, as :class:`~gptlib.model.GPT` has); the previous value is put back
    after. Only for data whose ids have been checked (:func:`check_data_ids`)."""
    if not isinstance(getattr(model, "check_ids", None), bool):
        yield
        return
    before, model.check_ids = model.check_ids, False
    try:
        yield
    finally:
        model.check_ids = before


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Inside, ``model.eval()`` (no dropout) and no autograd; the model's train/eval mode is put back
    after, whatever it was."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


@contextlib.contextmanager
def scoring_mode(model: nn.Module, data: torch.Tensor, name: str = "data", *,
                 ids_checked: bool = False) -> Iterator[None]:
    """How held-out data are scored: ``data``'s ids checked once (:func:`check_data_ids`; skipped
    when ``ids_checked`` says the caller has), then :func:`evaluating` (eval mode, no autograd) and,
    if the ids were checked, no per-forward id checks (:func:`id_checks_off`)."""
    trusted = ids_checked or check_data_ids(model, data, name)
    with evaluating(model), id_checks_off(model) if trusted else contextlib.nullcontext():
        yield


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``. From the CPU to a GPU it goes through pinned (page-locked) memory with
    ``non_blocking=True``: the copy is queued behind the work already on the stream, and the host
    goes on at once instead of waiting for the device."""
    if t.device.type != "cpu" or device.type != "cuda":
        return t.to(device)
    pinned = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
    pinned.copy_(t)
    return pinned.to(device, non_blocking=True)


def _all_reduce_sum(t: torch.Tensor, world_size: int) -> torch.Tensor:
    if world_size > 1:
        from gptlib.train.distributed import all_reduce_sum  # not at the top: gptlib.train imports this module

        all_reduce_sum(t, world_size)
    return t


def evaluate(model: nn.Module, data, block_size: int, batch_size: int = 64, *,
             device: torch.device | str | None = None, rank: int = 0, world_size: int = 1,
             ids_checked: bool = False) -> float:
    """Mean loss per token over the whole of ``data``, each target token counted exactly once.

    The windows are :func:`heldout_windows`'s, ``batch_size`` at a time (per process); the loss of
    each batch (``model(x, y)`` must return the mean over its targets) is weighted by its number of
    targets and summed in float64. Runs with ``model.eval()`` (no dropout) and ``torch.no_grad()``,
    then restores the model's mode. With ``world_size > 1`` (inside an initialised process group)
    the sums are all-reduced, so every process returns the same value.

    Token ids: ``data`` is checked against ``model.config.vocab_size`` once, first, and the model's
    per-forward checks are skipped (see the module docstring). ``ids_checked=True`` says the caller
    has checked ``data`` already (the trainer has), so only the skipping is left.
    """
    data = token_stream(data)
    windows = heldout_windows(data, block_size, batch_size, rank=rank, world_size=world_size)
    device = torch.device(device) if device is not None else model_device(model)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with scoring_mode(model, data, ids_checked=ids_checked):
        for rows in windows:
            rows = to_device(rows, device)  # (B, t + 1)
            _, loss = model(rows[:, :-1], rows[:, 1:])
            n = rows.size(0) * (rows.size(1) - 1)
            total += loss.double() * n  # mean -> sum over the batch's targets
            count += n
    sums = torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)])
    total, count = _all_reduce_sum(sums, world_size).tolist()
    return total / count


def estimate_loss(model: nn.Module, data, block_size: int, batch_size: int, num_batches: int, *, seed: int = 0,
                  device: torch.device | str | None = None, rank: int = 0, world_size: int = 1,
                  ids_checked: bool = False) -> float:
    """Mean loss over ``num_batches`` random batches of ``data``: quicker than :func:`evaluate`, noisier.

    The batches come from a fresh generator seeded with ``seed``, so every call sees the same
    batches and two estimates differ only because the model did. ``batch_size`` is per process;
    with ``world_size > 1`` the processes share each global batch as in training and the result
    is all-reduced. Runs in eval mode without gradients, restoring the model's mode after.
    Token ids are checked as in :func:`evaluate`.
    """
    data = token_stream(data)
    device = torch.device(device) if device is not None else model_device(model)
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64, device=device)
    with scoring_mode(model, data, ids_checked=ids_checked):
        for _ in range(num_batches):
            x, y = get_batch(data, batch_size, block_size, generator, rank=rank, world_size=world_size)
            _, loss = model(to_device(x, device), to_device(y, device))  # (B, T) each
            total += loss.double()
    return _all_reduce_sum(total, world_size).item() / (num_batches * world_size)
