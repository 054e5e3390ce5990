"""The README stays in step with what it describes: the exercises table lists every notebook's exercises
and checkers, in order."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import nbformat

import gptlib.exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def notebook_exercises(path: Path) -> list[tuple[str, str]]:
    """(``"N. title"``, checker name) of each ``### Exercise N: title`` in the notebook, in order: the checker
    is the one ``check_*`` its code cells call."""
    found, checkers = [], []
    inside = False
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^### Exercise (\d+): (.+)$", cell.source, re.M)
            if headings:
                for number, title in headings:
                    found.append(f"{number}. {title.strip()}")
                    checkers.append(set())
                inside = True
            elif re.search(r"^## ", cell.source, re.M):
                inside = False
        elif inside and cell.cell_type == "code":
            checkers[-1].update(re.findall(r"\b(check_\w+)\(", cell.source))
    for title, names in zip(found, checkers):
        assert len(names) == 1, f"{path.name}, exercise {title}: calls {sorted(names) or 'no checker'}, not one"
    return [(title, names.pop()) for title, names in zip(found, checkers)]


def checker_modules() -> dict[str, str]:
    where = {}
    for info in pkgutil.walk_packages(gptlib.exercises.__path__, "gptlib.exercises."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("check_") and getattr(value, "__module__", None) == info.name:
                where[name] = info.name.removeprefix("gptlib.exercises.")
    return where


def test_every_notebook_ends_with_its_exercises():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        sections = [c.source.split("\n", 1)[0] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
        exercises = notebook_exercises(path)
        assert 2 <= len(exercises) <= 3, f"{path.name}: {len(exercises)} exercises"
        assert [t.split(".")[0] for t, _ in exercises] == [str(i + 1) for i in range(len(exercises))], path.name
        assert sections[-1].startswith(("## Next", "## The end")), f"{path.name}: ends with {sections[-1]!r}"


def test_readme_lists_every_exercise_and_its_checker():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| (\d\d_\w+) \| (\d+\. .+?) \| `([\w.]+)` \|$", readme, re.M)
    where = checker_modules()
    expected = [(path.stem, title, f"{where[checker]}.{checker}")
                for path in NOTEBOOKS for title, checker in notebook_exercises(path)]  # fmt: skip
    assert listed == expected, set(listed) ^ set(expected)
