"""``python -m gptlib.store``: see :mod:`gptlib.store.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
