"""Small helpers shared by the unit tests."""

import contextlib
import logging
import warnings
from types import SimpleNamespace


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
