"""The one way a benchmark script puts its results into its README: between two marker lines.

A README keeps its prose by hand; the measured part stands between

    <!-- results: start -->
    ...
    <!-- results: end -->

and is replaced, whole, by the script that measured it (``bench.py --write-readme``), so the table a
reader sees is always one the script printed, never numbers typed in afterwards.

>>> import tempfile, pathlib
>>> readme = pathlib.Path(tempfile.mkdtemp()) / "README.md"
>>> _ = readme.write_text("# Bench\\n<!-- results: start -->\\nold\\n<!-- results: end -->\\nprose\\n")
>>> replace_results(readme, "| a | b |\\n")
>>> print(readme.read_text(), end="")
# Bench
<!-- results: start -->
| a | b |
<!-- results: end -->
prose
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout, installed or not

from gptlib.files import write_text  # noqa: E402


def markers(name: str = "results") -> tuple[str, str]:
    return f"<!-- {name}: start -->", f"<!-- {name}: end -->"


def replace_results(readme: str | Path, text: str, name: str = "results") -> None:
    """Replace the lines between the ``name`` markers of ``readme`` with ``text`` (atomically).

    ``ValueError`` if the markers are missing or out of order: the README is then left as it was.
    """
    readme = Path(readme)
    start, end = markers(name)
    lines = readme.read_text(encoding="utf-8").splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.strip() in (start, end)]
    if len(found) != 2 or lines[found[0]].strip() != start:
        raise ValueError(f"{readme} must hold one line {start!r} followed later by one line {end!r}")
    body = text if text.endswith("\n") else text + "\n"
    write_text(readme, "".join(lines[: found[0] + 1]) + body + "".join(lines[found[1]:]))
