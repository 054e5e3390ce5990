"""Every benchmark's results table is written by its script: the README markers and the one writer."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.parent for p in (ROOT / "benchmarks").glob("*/bench.py"))


def _readme_module():
    spec = importlib.util.spec_from_file_location("benchmarks_readme", ROOT / "benchmarks" / "readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_benchmarks():
    assert {p.name for p in BENCHMARKS} >= {"tokenizer_training", "train_speed", "generation_speed", "store_install"}


@pytest.mark.parametrize("folder", BENCHMARKS, ids=lambda p: p.name)
def test_readme_has_a_results_section_that_its_script_writes(folder):
    readme = (folder / "README.md").read_text(encoding="utf-8")
    start, end = _readme_module().markers()
    assert readme.count(start) == readme.count(end) == 1 and readme.index(start) < readme.index(end)
    assert re.search(r"\S", readme[readme.index(start) + len(start):readme.index(end)]), "empty results section"
    scripts = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.py"))
    assert "--write-readme" in scripts and "replace_results(" in scripts


def test_replace_results_keeps_the_prose_and_refuses_a_readme_without_markers(tmp_path):
    readme_module = _readme_module()
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\nprose\n<!-- results: start -->\nold table\n<!-- results: end -->\nmore prose\n")
    readme_module.replace_results(readme, "| new | table |")
    assert readme.read_text() == ("# B\n\nprose\n<!-- results: start -->\n| new | table |\n<!-- results: end -->\n"
                                  "more prose\n")
    readme_module.replace_results(readme, "second\n", name="results")
    assert "second\n<!-- results: end -->" in readme.read_text() and "| new |" not in readme.read_text()
    bare = tmp_path / "BARE.md"
    bare.write_text("# no markers\n")
    with pytest.raises(ValueError, match="must hold one line '<!-- results: start -->'"):
        readme_module.replace_results(bare, "x")
    assert bare.read_text() == "# no markers\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BARE.md", "README.md"]  # no temporary file left
