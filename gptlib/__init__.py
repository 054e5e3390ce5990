"""gptlib: the small GPT library that the "GPT from scratch" notebooks build, one idea per module.

Modules, in series order:

- ``gptlib.device``     where tensors live (cpu / cuda / mps)
- ``gptlib.data``       the text corpora: download, verify, cache, load
- ``gptlib.exercises``  checkers for the exercises at the end of each notebook
"""

__version__ = "0.1.0"
