"""Where tensors live: pick the device once, the same way in every notebook and script.

Rule (checked in ``tests/test_device.py``):

- ``GPTLIB_DEVICE`` set to ``cpu``, ``cuda`` (or ``cuda:N``) or ``mps`` forces that device;
  asking for one this machine does not have is an error, never a silent fallback.
- Otherwise: ``cuda`` if a CUDA GPU is available, else ``cpu``.
- ``mps`` (Apple GPUs) is used only when asked for: it works for most notebooks, but CI does not
  cover it, and some operations may be missing or slow there.

Why pick the device in one place? So a notebook's stored outputs never depend on it: notebooks
draw random numbers and build models on the CPU, then move them with ``.to(device)``.
"""

from __future__ import annotations

import itertools
import os
import re

import torch

ENV_VAR = "GPTLIB_DEVICE"
ALLOWED = ("cpu", "cuda", "cuda:N", "mps")
_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def _parse(value: str) -> torch.device:
    text = value.strip().lower()
    if not _DEVICE_RE.match(text):
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a device gptlib knows; allowed: {', '.join(ALLOWED)} "
            f"(or leave {ENV_VAR} unset to use cuda when available, else cpu)"
        )
    device = torch.device(text)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{ENV_VAR}={value!r} asks for a CUDA GPU, but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                f"Install a CUDA build of torch (see the README) or unset {ENV_VAR}."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"{ENV_VAR}={value!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"numbered 0..{torch.cuda.device_count() - 1}"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(
            f"{ENV_VAR}={value!r} asks for Apple's MPS backend, which this machine/torch build "
            f"does not have; use cpu, or unset {ENV_VAR}"
        )
    return device


def get_device() -> torch.device:
    """The device gptlib computes on: ``GPTLIB_DEVICE`` if set, else cuda if available, else cpu.

    >>> get_device()            # on a laptop without a GPU  # doctest: +SKIP
    device(type='cpu')
    """
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        return _parse(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer): where its inputs must go. CPU for a model without tensors.

    >>> model_device(torch.nn.Linear(2, 2))
    device(type='cpu')
    """
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def describe(device: torch.device | None = None) -> str:
    """One line about the device, for environment checks: ``'cpu (2 threads)'`` or the GPU's name."""
    device = get_device() if device is None else device
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU, not covered by CI)"
    return f"cpu ({torch.get_num_threads()} threads)"
