"""The trainer's own random stream for dropout, kept apart from torch's global generators.

Dropout draws its masks from torch's global generator (the CPU's, or the GPU's for a model on a
GPU); it takes no generator argument. A trainer that seeded the global generator would change the
caller's random numbers, and whatever the caller drew between two ``fit()`` calls would change the
masks. So the trainer keeps its own generator states and puts them in place of the global ones only
while it trains:

- :class:`DropoutRNG`   seeded states for the CPU and the training device; ``with rng.active():`` swaps them in

>>> rng = DropoutRNG(seed=0, device="cpu")
>>> before = torch.get_rng_state()
>>> with rng.active():
...     a = torch.rand(2)                    # drawn from the trainer's stream, seeded with 0
>>> torch.equal(a, torch.rand(2, generator=torch.Generator().manual_seed(0)))
True
>>> torch.equal(torch.get_rng_state(), before)   # the caller's stream is as it was
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import torch

__all__ = ["DropoutRNG"]


def _global_streams(device: torch.device) -> dict[str, tuple[Callable, Callable]]:
    """``name -> (get_state, set_state)`` of torch's global generators that training on ``device`` draws from."""
    streams = {"torch_cpu": (torch.get_rng_state, torch.set_rng_state)}
    if device.type == "cuda":
        streams["torch_cuda"] = (lambda: torch.cuda.get_rng_state(device),
                                 lambda state: torch.cuda.set_rng_state(state, device))
    elif device.type == "mps":
        streams["torch_mps"] = (torch.mps.get_rng_state, torch.mps.set_rng_state)
    return streams


class DropoutRNG:
    """Generator states for the CPU and ``device``, seeded with ``seed``, swapped in only inside :meth:`active`.

    The states are those ``torch.manual_seed(seed)`` would give the global generators, so a run
    draws the same dropout masks as one that seeded torch itself. :meth:`state_dict` and
    :meth:`load_state_dict` save and restore them (named ``torch_cpu``, ``torch_cuda``, ``torch_mps``).
    """

    def __init__(self, seed: int, device: torch.device | str = "cpu"):
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        self._streams = _global_streams(device)
        fresh = {"torch_cpu": torch.device("cpu")}
        fresh.update({name: device for name in self._streams if name != "torch_cpu"})
        self._states = {name: torch.Generator(device=dev).manual_seed(seed).get_state() for name, dev in fresh.items()}
        self._callers: dict[str, torch.Tensor] | None = None  # the global states put aside while active

    @property
    def is_active(self) -> bool:
        return self._callers is not None

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The current states (read from torch's generators while active)."""
        if self.is_active:
            return {name: get() for name, (get, _) in self._streams.items()}
        return {name: state.clone() for name, state in self._states.items()}

    def load_state_dict(self, states: Mapping[str, torch.Tensor]) -> None:
        """Take the states of the streams named in ``states``; the others are kept."""
        for name, (_, put) in self._streams.items():
            if name in states:
                self._states[name] = states[name].clone()
                if self.is_active:
                    put(self._states[name])

    @contextlib.contextmanager
    def active(self) -> Iterator[DropoutRNG]:
        """Inside, torch's global generators hold this stream; on leaving (an exception or Ctrl-C
        included), the stream's new state is kept here and the caller's states are put back.
        Re-entrant: an inner ``active()`` changes nothing."""
        if self.is_active:
            yield self
            return
        self._callers = {name: get() for name, (get, _) in self._streams.items()}
        try:
            for name, (_, put) in self._streams.items():
                put(self._states[name])
            yield self
        finally:
            self._states = {name: get() for name, (get, _) in self._streams.items()}
            for name, (_, put) in self._streams.items():
                put(self._callers[name])
            self._callers = None
