"""Small helpers shared by the unit tests."""

import contextlib
import logging
import os
import signal
import socket
import time
import urllib.error
import urllib.request
import warnings
from types import SimpleNamespace

import pytest
import torch

# The tests that start browsers, build the book, run instructor mode or clone the repository: left out of the
# suite the newcomer test runs inside its clone (tools/newcomer.py sets GPTLIB_SKIP_OUTER=1).
skip_inside_newcomer = pytest.mark.skipif(os.environ.get("GPTLIB_SKIP_OUTER") == "1",
                                          reason="GPTLIB_SKIP_OUTER=1: inside the newcomer's clone")  # fmt: skip


def make_config(n_embd=32, n_head=4, dropout=0.0, bias=True):
    """The fields attention and block modules read from a config, without a full GPTConfig."""
    return SimpleNamespace(n_embd=n_embd, n_head=n_head, dropout=dropout, bias=bias)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def transformers_messages():
    """Collect what transformers logs at WARNING or above, and Python warnings, inside the block.

    transformers logs through its own "transformers" logger, which does not propagate to the root
    logger (so pytest's caplog misses it) and repeats a given message only once per process (so a
    test that wants to see a message must make it new, e.g. with a vocabulary size no other test uses).
    """
    handler = _Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield handler.messages
    finally:
        logger.removeHandler(handler)
    handler.messages.extend(str(w.message) for w in caught)


def global_state() -> dict:
    """The process-wide state a gptlib call must leave as it found it: torch's thread counts, random
    generators, grad and inference modes and default dtype; every readable signal handler; the environment."""
    handlers = {}
    for sig in signal.valid_signals():
        try:
            handlers[sig] = signal.getsignal(sig)
        except (OSError, ValueError):  # signals that cannot be read on this platform
            pass
    state = dict(threads=torch.get_num_threads(), interop_threads=torch.get_num_interop_threads(),
                 rng=torch.get_rng_state(), handlers=handlers, environ=dict(os.environ),
                 grad=torch.is_grad_enabled(), inference=torch.is_inference_mode_enabled(),
                 default_dtype=torch.get_default_dtype())
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def assert_global_state_unchanged(before: dict) -> None:
    """Compare :func:`global_state` now with ``before``, naming what changed."""
    after = global_state()
    for name in ("rng", "cuda_rng"):
        if name in before:
            assert torch.equal(after.pop(name), before[name]), f"{name}: a global generator's state changed"
    assert after == {k: v for k, v in before.items() if k not in ("rng", "cuda_rng")}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, process, log, timeout_s: float) -> None:
    """Poll ``url`` until the server started as ``process`` gives any HTTP answer; fail with the end of its
    ``log`` (a path) if it stops first or stays silent for ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:  # an error page is an answer: the server is up
            return
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, f"the server stopped: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer from {url} in {timeout_s} s: {log.read_text()[-3000:]}"
            time.sleep(0.3)
