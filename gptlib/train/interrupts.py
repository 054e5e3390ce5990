"""Ctrl-C that waits for the step in progress: stop cleanly at the next step boundary.

- :class:`DeferredInterrupt`   inside ``with stop:``, a first SIGINT only sets ``stop.requested``;
  a second one raises ``KeyboardInterrupt`` at once

A Jupyter kernel interrupt is a SIGINT too. Python's default handler raises ``KeyboardInterrupt``
wherever the program happens to be, say between ``loss.backward()`` and ``optimizer.step()``; a
checkpoint written then would hold a state that no step boundary ever had.

>>> stop = DeferredInterrupt()
>>> with stop:
...     stop.requested
False
"""

from __future__ import annotations

import signal
import threading

__all__ = ["DeferredInterrupt"]


class DeferredInterrupt:
    """A SIGINT handler for the duration of a ``with`` block; the previous handler is put back after.

    Signal handlers can only be set from the main thread: in any other thread nothing changes
    (Ctrl-C raises as usual). ``requested`` is reset to False on entering.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True  # no printing here: a signal handler may interrupt a print

    def __enter__(self) -> DeferredInterrupt:
        self.requested = False
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            previous = self._previous
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
            self._installed, self._previous = False, None
