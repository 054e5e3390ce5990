"""Every committed notebook is what one clean in-order run produced, so nbval's comparison is real.

nbval compares a cell only if it has an execution count, never compares PNGs, and cannot tell an
output that was hand-edited from one that was produced. These checks close those gaps. Outputs
come from `python tools/run_notebooks.py` only.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import prose_numbers  # noqa: E402  (tools/ is not a package)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]

DEFAULT_BUDGET_S = 60  # recorded run time on a 2-core CPU
TRAINING_BUDGET_S = 180
TRAINING_NOTEBOOKS = {"05_likelihood", "06_training"}
NOTEBOOK_BUDGET_S = {"08_hugging_face": 45, "10_applications": 120, "11_challenges": 150}  # its own budget, where it has one
SERIES_BUDGET_S = 600

RAISES = {"raises-exception"}
IGNORED = {"nbval-ignore-output"}
LOCAL_PATH = re.compile(r"(/home/[^/\s]+|/root/|/Users/[^/\s]+|[A-Za-z]:\\+Users\\+|/tmp/|/private/var/)")
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{6,}")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(output: dict) -> str:
    parts = [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
    parts += [output.get("evalue", "")] + output.get("traceback", [])
    return "\n".join("".join(p) if isinstance(p, list) else str(p) for p in parts)


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def test_there_are_notebooks_and_names_are_safe():
    assert "00_welcome" in NAMES
    for name in NAMES:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", name), f"{name}.ipynb: name notebooks NN_topic.ipynb"
        assert not name.startswith("test_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_format_and_kernel(path):
    nb = _load(path)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "stale widget state: re-run with tools/run_notebooks.py"
    ids = [c.get("id") for c in nb["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), "missing or duplicate cell ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_outputs_come_from_one_clean_in_order_run(path):
    cells = _code_cells(_load(path))
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"execution counts {counts}: not one in-order run"
    first = "".join(cells[0]["source"])
    assert first.lstrip().startswith("%matplotlib inline"), "the first code cell starts with %matplotlib inline"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_stored_outputs_are_safe_to_compare(path):
    user = getpass.getuser()
    user_pattern = re.compile(rf"\b{re.escape(user)}\b") if user not in {"root", "runner", "jovyan"} else None
    for i, cell in enumerate(_code_cells(_load(path))):
        tags = _tags(cell)
        for out in cell["outputs"]:
            kind = out["output_type"]
            where = f"code cell {i + 1} ({cell.get('id')})"
            if kind == "error":
                assert tags & RAISES, f"{where}: an error output without the raises-exception tag"
            if kind == "stream" and out["name"] == "stderr":
                assert tags & IGNORED, f"{where}: stderr in a compared output (warnings/progress differ by machine)"
            assert not {"image/svg+xml", "application/javascript"} & set(out.get("data", {})), \
                f"{where}: SVG or JavaScript output (differs every run; use PNG)"
            text = _text(out)
            assert not LOCAL_PATH.search(text), f"{where}: a local absolute path in the output"
            assert str(ROOT) not in text, f"{where}: the repository's absolute path in the output"
            assert not (user_pattern and user_pattern.search(text)), f"{where}: the user name {user!r} in the output"
            if not tags & IGNORED:
                assert not ADDRESS.search(text), f"{where}: a memory address in a compared output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_ignored_outputs_are_checked_by_an_assert_in_the_next_cell(path):
    cells = _code_cells(_load(path))
    for i, cell in enumerate(cells):
        if _tags(cell) & IGNORED:
            assert i + 1 < len(cells), f"code cell {i + 1} is ignored and is the last one"
            following = "".join(cells[i + 1]["source"])
            assert "assert" in following, (
                f"code cell {i + 1} ({cell.get('id')}) has its output ignored; the next code cell must check "
                f"what matters with an assert")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_recorded_run_time_within_budget(path):
    meta = _load(path)["metadata"].get("gptlib", {})
    assert "run_time_s" in meta, "no recorded run time: produce outputs with tools/run_notebooks.py"
    budget = TRAINING_BUDGET_S if path.stem in TRAINING_NOTEBOOKS else DEFAULT_BUDGET_S
    budget = NOTEBOOK_BUDGET_S.get(path.stem, budget)
    assert meta["run_time_s"] <= budget, f"{path.name} ran {meta['run_time_s']} s; its budget is {budget} s"


def test_whole_series_within_budget():
    total = sum(_load(p)["metadata"].get("gptlib", {}).get("run_time_s", 0) for p in NOTEBOOKS)
    assert total <= SERIES_BUDGET_S, f"the series ran {total:.0f} s in all; the budget is {SERIES_BUDGET_S} s"


def test_welcome_map_marks_exactly_the_existing_notebooks_available():
    welcome = _load(ROOT / "notebooks" / "00_welcome.ipynb")
    rows = {}
    for cell in welcome["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            m = re.match(r"\|\s*\[?(\d\d_[a-z0-9_]+)\]?(?:\([^)]*\))?\s*\|.*\|\s*(available|coming)\s*\|$", line)
            if m:
                rows[m.group(1)] = m.group(2)
    assert len(rows) >= 12, f"the map lists {len(rows)} notebooks"
    available = {name for name, status in rows.items() if status == "available"}
    assert available == set(NAMES), f"map says available: {sorted(available)}; notebooks present: {NAMES}"


def test_every_notebook_with_exercises_has_solutions():
    for path in NOTEBOOKS:
        source = "\n".join("".join(c["source"]) for c in _code_cells(_load(path)))
        if "gptlib.exercises" in source:
            assert (ROOT / "notebooks" / "solutions" / f"{path.stem}.py").is_file(), f"{path.stem}: no solutions file"


# ---------------------------------------------------------------- numbers in prose

_NUMBER = prose_numbers.NUMBER  # a number worth checking: a decimal (2.48), or four or more digits (50,257)
_YEAR = re.compile(r"(19|20)\d\d")  # a year, as in a citation
_NOT_PROSE = (re.compile(r"`[^`]*`"),  # code
              re.compile(r"\$\$.*?\$\$", re.S),  # a displayed formula: its constants are the definition
              re.compile(r"^#+\s+[\d.]+\s", re.M),  # a section number in a heading
              re.compile(r'"[^"\n]*"'))  # a quoted example string
CITED = "cited:"  # "(cited: Radford et al., 2019, section 2.1)" after a number, in its sentence, marks it cited
_CITED_WITHIN = 300  # characters after the number, in the same paragraph
_SENTENCE_END = re.compile(r"[.!?]\s+[A-Z]")


def _unchecked_numbers(nb: dict) -> list[tuple[str, str]]:
    """(number, its context) for each number in the prose that no output prints, no code writes, and no
    "cited:" marker follows in its sentence."""
    outputs = "\n".join(_text(o) for c in _code_cells(nb) for o in c.get("outputs", []))
    code = "\n".join("".join(c["source"]) for c in _code_cells(nb))
    bare_outputs, bare_code = outputs.replace(",", ""), code.replace("_", "")
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        prose = "".join(cell["source"])
        for pattern in _NOT_PROSE:
            prose = pattern.sub(lambda m: " " * len(m.group()), prose)
        for paragraph in re.split(r"\n\s*\n", prose):
            for m in _NUMBER.finditer(paragraph):
                number, bare = m.group(1), m.group(1).replace(",", "")
                if _YEAR.fullmatch(number) or number in outputs or bare in bare_outputs:
                    continue
                if re.search(rf"(?<![\w.]){re.escape(bare)}(?![\w])", bare_code):
                    continue  # a setting, written in the code that uses it
                after = paragraph[m.end():m.end() + _CITED_WITHIN]
                if CITED in after and not _SENTENCE_END.search(after[:after.index(CITED)]):
                    continue
                found.append((number, " ".join(paragraph[max(0, m.start() - 60):m.end() + 20].split())))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_numbers_in_prose_are_printed_written_in_code_or_cited(path):
    found = _unchecked_numbers(_load(path))
    assert not found, (
        f"{len(found)} number(s) in the prose of {path.name} appear in no stored output and no code cell, and are "
        f"not marked '(cited: source)': " + "; ".join(f"{n!r} in '…{ctx}…'" for n, ctx in found))


def test_the_numbers_check_finds_what_it_should():
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["The loss is 2.48 and 1,115,394 characters. GPT-2 has 50,257 tokens "
                                             "(cited: Radford et al., 2019). In 2019, `3.14` and \"my PIN 48213\".\n"]},
        {"cell_type": "code", "source": ["n = 1_115_394\n"], "outputs": [{"output_type": "stream", "text": "1.5\n"}]}]}
    assert [n for n, _ in _unchecked_numbers(nb)] == ["2.48"]
