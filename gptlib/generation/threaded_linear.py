"""A linear layer's product split between threads: for decoding one row of a big model on a CPU.

- :func:`_in_parts`     ``linear(x, weight, bias)`` with the output features cut in ``parts`` slices,
                        the first computed by the calling thread, the others by resident workers
- :class:`_Worker`      a daemon thread that runs the calls handed to it, one at a time
- ``_SPLIT_MIN_NUMEL``  weights at least this big are split; smaller ones are not worth the hand-off

Decoding one row reads every weight once per token, so its speed is set by how fast the weights are
read from memory. The BLAS behind PyTorch's CPU matrix-vector product reads a weight in PyTorch's
``(out, in)`` layout with one core, and one core cannot draw all of the memory's bandwidth; several
threads, each multiplying a slice of the rows, can. The product releases the GIL, so the threads do
run in parallel. (The measurements are in ``benchmarks/generation_speed/README.md``.)

>>> x, weight, bias = torch.randn(512), torch.randn(1024, 512), torch.randn(1024)  # 2 MiB: split
>>> out = _in_parts(x, weight, bias, linear=lambda x, w, b: torch.addmv(b, w, x), parts=2)
>>> torch.allclose(out, torch.addmv(bias, weight, x))
True
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable

import torch

__all__: list[str] = []  # used by gptlib.generation.fast_step; nothing here is public

# Weight matrices with at least this many entries are read by several threads during decoding.
_SPLIT_MIN_NUMEL = 1 << 19  # 2 MiB of float32: all of GPT-2 small's matrices; every one of the series' models is smaller
_workers: list[_Worker] = []
_workers_lock = threading.Lock()  # one split product at a time, whichever thread of the program asks
_calls = itertools.count()


class _Worker:
    """A daemon thread that runs the function calls handed to it, one at a time, through C-level queues
    (less work per hand-off than ``concurrent.futures``, which counts: a GPT-2 step hands over about 50
    products, one after another)."""

    def __init__(self, index: int):
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=f"gptlib-decode-{index}", daemon=True).start()

    def _loop(self) -> None:
        with torch.inference_mode():  # grad modes are per thread; decoding needs none
            while True:
                call, fn, args = self.tasks.get()
                try:
                    self.results.put((call, None, fn(*args)))
                except BaseException as err:  # noqa: BLE001 - handed back to the caller, raised there
                    self.results.put((call, err, None))

    def result(self, call: int):
        """The outcome of task ``call``; outcomes of older tasks, whose caller was interrupted, are dropped."""
        while True:
            done, err, value = self.results.get()
            if done == call:
                return err, value


def _in_parts(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    linear: Callable,
    parts: int,
) -> torch.Tensor:
    """``linear(x, weight, bias)`` with the output features split in ``parts`` slices computed by as many threads.

    ``x`` is ``(in,)`` or ``(B, in)``, ``weight`` ``(out, in)``; the result ``(..., out)`` is the
    slices' results side by side. The calling thread computes the first slice and waits for the
    workers' (all of them, also when its own part fails, so that no result is left over for the next
    call); a part's error is raised here. Weights with fewer than ``_SPLIT_MIN_NUMEL`` entries are
    not split.
    """
    if weight.numel() < _SPLIT_MIN_NUMEL:
        return linear(x, weight, bias)
    cuts = [round(i * weight.size(0) / parts) for i in range(parts + 1)]
    pieces = [(weight[cuts[i] : cuts[i + 1]], None if bias is None else bias[cuts[i] : cuts[i + 1]]) for i in range(parts)]
    with _workers_lock:
        while len(_workers) < parts - 1:
            _workers.append(_Worker(len(_workers)))
        call = next(_calls)
        for worker, (w, b) in zip(_workers, pieces[1:]):
            worker.tasks.put((call, linear, (x, w, b)))
        try:
            first = linear(x, *pieces[0])
        finally:
            outcomes = [worker.result(call) for worker in _workers[: parts - 1]]  # always collected
    for err, _ in outcomes:
        if err is not None:
            raise err
    return torch.cat([first] + [value for _, value in outcomes], dim=-1)
