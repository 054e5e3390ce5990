"""Small helpers shared by the unit tests."""

from types import SimpleNamespace


def make_config(n_embd=32, n_head=4, dropout=0.0, bias=True):
    """The fields attention and block modules read from a config, without a full GPTConfig."""
    return SimpleNamespace(n_embd=n_embd, n_head=n_head, dropout=dropout, bias=bias)
