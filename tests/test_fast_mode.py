"""Instructor mode (``GPTLIB_FAST=1``, gptlib/fast_mode.py): the whole series runs, every assert holding.

Each notebook that asks ``fast_mode`` (the others run the same in both modes, so nbval's run is theirs) is
executed in a fresh kernel with the switch on, exactly as tools/run_notebooks.py runs it
(same executor, same folder), but nothing is written back: the stored outputs stay those of the full run,
and a fast run's numbers are not compared with them. The time of each notebook in fast mode is written to
``test-artifacts/fast_mode_times.json``, where the README's instructor table takes its numbers from.
``GPTLIB_SKIP_OUTER=1`` leaves these tests out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from gptlib import fast_mode
from tests.helpers import skip_inside_newcomer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = {p: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in NOTEBOOKS}
# A notebook that never asks fast_mode runs the same in both modes: nbval's run of it is its fast-mode run.
SWITCHED = [p for p in NOTEBOOKS if "fast_mode." in SOURCES[p]]
TIMES = ROOT / "test-artifacts" / "fast_mode_times.json"
pytestmark = skip_inside_newcomer


def test_switch_values_and_tables():
    for name, (full, fast) in fast_mode.STEPS.items():
        assert isinstance(full, int) and isinstance(fast, int) and 0 < fast < full, name
    for name, (full, fast) in fast_mode.LIMITS.items():
        assert full != fast, f"{name}: the same bound in both modes belongs in the notebook, not here"


def test_bad_switch_value_is_named(monkeypatch):
    monkeypatch.setenv(fast_mode.ENV_FAST, "yes")
    with pytest.raises(ValueError, match=r"GPTLIB_FAST='yes': use 1 .* or 0"):
        fast_mode.is_fast()
    monkeypatch.setenv(fast_mode.ENV_FAST, "1")
    with pytest.raises(KeyError, match="no run named 'nope'; known: "):
        fast_mode.steps("nope")


def test_every_table_entry_is_used_by_a_notebook():
    sources = "\n".join(SOURCES.values())
    for name in [*fast_mode.STEPS, *fast_mode.LIMITS]:
        assert f'"{name}"' in sources, f"fast_mode entry {name!r} is used by no notebook"


def test_only_fast_mode_reads_the_switch():
    """So a notebook that does not call fast_mode really runs the same in both modes."""
    readers = [p.relative_to(ROOT) for p in (ROOT / "gptlib").rglob("*.py") if "GPTLIB_FAST" in p.read_text()]
    assert readers == [Path("gptlib/fast_mode.py")], readers
    assert not [p.name for p in NOTEBOOKS if "GPTLIB_FAST" in SOURCES[p] and p not in SWITCHED]
    assert {p.stem for p in SWITCHED} >= {"05_likelihood", "06_training", "08_hugging_face", "10_applications",
                                          "11_challenges"}  # every notebook that trains a model


@pytest.mark.parametrize("path", SWITCHED, ids=[p.stem for p in SWITCHED])
def test_notebook_runs_in_fast_mode(path, monkeypatch):
    monkeypatch.setenv(fast_mode.ENV_FAST, "1")
    monkeypatch.setenv("GPTLIB_DEVICE", "cpu")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    nb = nbformat.read(path, as_version=4)
    run_notebooks.normalise(nb)
    seconds = run_notebooks.execute(nb, path.parent, timeout=600)  # raises on a failing cell or assert
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[path.stem] = round(seconds, 1)
    TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
