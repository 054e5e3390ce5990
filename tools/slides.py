#!/usr/bin/env python3
"""Give every notebook cell its slide type, so that each notebook presents as slides.

    python tools/slides.py            # write the slide types into every notebook (metadata only)
    python tools/slides.py --check    # exit 1, naming the cells, if any notebook is out of step

The rule (``metadata.slideshow.slide_type``, read by ``jupyter nbconvert --to slides`` and by
``jupyterlab-rise``):

- a markdown cell that opens with a ``#`` or ``##`` heading starts a new **slide**;
- one that opens with ``###`` starts a **subslide** (reveal.js's vertical step below the slide);
- the set-up cell (the one with ``%matplotlib inline``) is **skip**ped: it is plumbing, not content;
- every other cell continues the slide it is on (``-``); long slides scroll.

tools/run_notebooks.py applies the same rule each time it runs a notebook; this script is for
markdown-only edits, which need no re-run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def slide_type(cell) -> str:
    """The slide type the rule gives ``cell``.

    >>> from nbformat.v4 import new_markdown_cell as md, new_code_cell as code
    >>> [slide_type(c) for c in (md("# 00 · Welcome"), md("## 1. Tokens"), md("### A detail"), md("Text"),
    ...                          code("%matplotlib inline\\nimport torch"), code("x = 1"))]
    ['slide', 'slide', 'subslide', '-', 'skip', '-']
    """
    first = cell.source.lstrip().split("\n", 1)[0]
    if cell.cell_type == "markdown":
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    elif cell.cell_type == "code" and cell.source.lstrip().startswith("%matplotlib inline"):
        return "skip"
    return "-"


def apply(nb) -> list[int]:
    """Set every cell's slide type by the rule; return the indices of the cells that changed."""
    changed = []
    for i, cell in enumerate(nb.cells):
        wanted = slide_type(cell)
        if cell.metadata.get("slideshow", {}).get("slide_type") != wanted:
            cell.metadata["slideshow"] = {"slide_type": wanted}
            changed.append(i)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of step")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = apply(nb)
        if not changed:
            continue
        if args.check:
            stale += 1
            print(f"{path.name}: cells {changed} do not have the slide type of the rule; run tools/slides.py")
        else:
            tmp = path.with_suffix(".partial")
            nbformat.write(nb, tmp)
            tmp.replace(path)
            print(f"{path.name}: {len(changed)} cell(s) given their slide type")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
