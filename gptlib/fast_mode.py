"""Instructor mode: one switch, ``GPTLIB_FAST=1``, shrinks every training run and sweep of the series.

With it, the whole series runs live in a class. The notebooks ask this module how long to train
(:func:`steps`) and how good a result a run of that length must reach (:func:`limit`); both answers come
from the tables below, the only place the two modes differ. The stored outputs are those of the full run:
a fast run prints other numbers, and is checked by ``tests/test_fast_mode.py`` (every cell runs, every
assert holds), not against them.

>>> import os
>>> os.environ.pop(ENV_FAST, None) and None
>>> steps("06_run_steps"), limit("06_run_val_loss")
(600, 1.86)
>>> os.environ[ENV_FAST] = "1"
>>> steps("06_run_steps"), limit("06_run_val_loss")
(200, 2.4)
>>> del os.environ[ENV_FAST]
"""

from __future__ import annotations

import os

__all__ = ["ENV_FAST", "is_fast", "steps", "limit", "STEPS", "LIMITS"]

ENV_FAST = "GPTLIB_FAST"

# name: (full run, fast run). Training steps or sweep sizes.
STEPS: dict[str, tuple[int, int]] = {
    "05_markov_steps": (1000, 400),  # notebook 05's model of the Markov source
    "06_hand_steps": (200, 100),  # notebook 06, section 1: the loop by hand
    "06_sweep_steps": (150, 80),  # each run of its learning-rate sweep
    "06_run_steps": (600, 200),  # its Shakespeare model
    "08_steps": (400, 150),  # notebook 08's training loop in transformers
    "10_live_steps": (800, 500),  # notebook 10's live translation model
    "11_steps": (600, 450),  # each of notebook 11's bias and privacy models
    "11_fewer_steps": (150, 110),  # its "fewer passes" mitigation: a quarter of the above
}

# name: (full run, fast run). The bound an assert holds a result to, in each mode.
LIMITS: dict[str, tuple[float, float]] = {
    "06_hand_loss": (2.75, 3.1),  # the mean of the hand loop's last 20 losses (nats per character)
    "06_run_val_loss": (1.86, 2.4),  # the Shakespeare model's final validation loss
    "06_train_val_gap": (0.05, 0.0),  # how much lower its loss on training text is than on held-out text
    "06_late_grad_norm": (1.0, 2.0),  # its largest gradient norm in the run's second half, in units of grad_clip
    "08_loss": (2.6, 2.9),  # the mean of the last 50 training losses, and the validation loss (nats)
    "10_exact_match": (0.8, 0.05),  # the live translation model's exact match on held-out numbers
}


def is_fast() -> bool:
    """Whether instructor mode is on: ``GPTLIB_FAST`` is ``1`` (``0`` or unset: off).

    Read each time it is asked, so a notebook sees the value its kernel was started with.
    """
    value = os.environ.get(ENV_FAST, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{ENV_FAST}={value!r}: use 1 for instructor mode (short runs) or 0 (or unset) for the full runs")
    return value == "1"


def _pick(table: dict, name: str, kind: str):
    try:
        full, fast = table[name]
    except KeyError:
        raise KeyError(f"no {kind} named {name!r}; known: {', '.join(sorted(table))}") from None
    return fast if is_fast() else full


def steps(name: str) -> int:
    """How many steps (or sweep points) the run ``name`` takes in the current mode."""
    return _pick(STEPS, name, "run")


def limit(name: str) -> float:
    """The bound the result ``name`` is held to in the current mode."""
    return _pick(LIMITS, name, "limit")
