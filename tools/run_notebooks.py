#!/usr/bin/env python3
"""Re-execute notebooks from a clean kernel, in order, on the CPU, and write the outputs back.

This is the only way the committed outputs are produced (never edit a notebook's JSON by hand):

    python tools/run_notebooks.py                           # every notebooks/*.ipynb, in order
    python tools/run_notebooks.py notebooks/00_welcome.ipynb

Each notebook is cleared, normalised (nbformat 4.5, cell ids, kernel ``python3``, no stored widget
state, no per-cell timestamps, slide types by tools/slides.py's rule) and run top to bottom in its own folder with ``GPTLIB_DEVICE=cpu``
and short tracebacks.
A cell that raises stops the run and nothing is written, unless the cell is tagged
``raises-exception``. The widgets' final state (what a static view such as the book shows in place of a
live widget) is not kept in the notebook, where every run would churn it, but beside it, in
``notebooks/widget_state/<notebook>.json`` (see tools/build_book.py).
The Chinese edition of each notebook run (notebooks/zh/) is then rebuilt by tools/build_zh.py, so it
carries the new outputs; a Chinese notebook is never run on its own.
The wall time of the run is recorded in the notebook's metadata
(``metadata.gptlib.run_time_s``), where tests/test_notebook_hygiene.py checks it against the budget.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from gptlib.files import atomic_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_zh  # noqa: E402  (tools/ is not a package)
import slides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def widget_state_path(notebook: Path) -> Path:
    """Where a notebook's widget state is kept: ``widget_state/<stem>.json`` in the notebook's folder."""
    return notebook.parent / "widget_state" / f"{notebook.stem}.json"


def normalise(nb: nbformat.NotebookNode) -> None:
    """Clear outputs and everything a run or an editor leaves behind that is not content."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    seen = set()
    for cell in nb.cells:
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    slides.apply(nb)  # each cell's slide type (tools/slides.py)


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> float:
    """Run ``nb`` top to bottom in a fresh kernel started in ``folder`` (outputs go into ``nb``); return the
    wall time in seconds. A cell that raises stops the run (``CellExecutionError``) unless it is tagged
    ``raises-exception``. The kernel inherits this process's environment (``GPTLIB_FAST`` included)."""
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=False, record_timing=False,
        store_widget_state=True, resources={"metadata": {"path": str(folder)}},
        # Stored tracebacks (of cells tagged raises-exception) keep only "ErrorType: message": full
        # ones name files on this machine. nbval compares the name and message, never the traceback.
        extra_arguments=["--InteractiveShell.xmode=Minimal"],
        # A cell that prints piece by piece (streaming text) stores one output, not one per print call.
        coalesce_streams=True,
    )
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def run(path: Path, timeout: int) -> float:
    """Execute one notebook in place; returns its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    normalise(nb)
    elapsed = execute(nb, path.parent, timeout)
    widgets = nb.metadata.pop("widgets", None)
    state = (widgets or {}).get("application/vnd.jupyter.widget-state+json", {}).get("state")
    sidecar = widget_state_path(path)
    if state:
        with atomic_path(sidecar) as tmp:
            tmp.write_text(json.dumps(widgets, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    elif sidecar.exists():
        sidecar.unlink()
    nb.metadata["gptlib"] = {
        "run_time_s": round(elapsed, 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": _version("torch"),
    }
    nbformat.validate(nb)
    with atomic_path(path) as tmp:  # a crash mid-write never leaves half a notebook
        nbformat.write(nb, tmp)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for p in paths:
        if p.suffix != ".ipynb" or not p.is_file():
            parser.error(f"{p} is not a notebook file")
        if p.parent == build_zh.CHINESE:
            parser.error(f"{p} is of the Chinese edition, which tools/build_zh.py builds from the English notebook; "
                         f"run notebooks/{p.name}")
    # The kernel inherits this environment: outputs are made on the CPU, with a fixed hash seed.
    os.environ.update(GPTLIB_DEVICE="cpu", PYTHONHASHSEED="0")
    if os.environ.get("GPTLIB_FAST", "0") != "0":
        parser.error("GPTLIB_FAST is set: the stored outputs are those of the full runs; unset it")
    total = 0.0
    for p in paths:
        print(f"running {p.relative_to(ROOT)} ...", flush=True)
        elapsed = run(p, args.timeout)
        total += elapsed
        print(f"  {elapsed:6.1f} s", flush=True)
    print(f"{len(paths)} notebook(s), {total:.1f} s in all, on {os.cpu_count()} CPU core(s)")
    behind = []
    for p in paths:
        if p.parent == build_zh.ENGLISH:
            behind += build_zh.rebuild(p.stem)[0]
    print(f"the Chinese edition rebuilt; {len(behind)} cell(s) of its prose behind the English"
          + "".join(f"\n  {problem}" for problem in behind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
