"""Shared pytest setup: the hypothesis profile, nbval's comparison settings for notebooks, and one check
that the corpus is there before any test that needs it runs."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI profile: no deadlines (shared 2-core machines are noisy) and derandomized, so a run is repeatable.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Solutions and wrong answers are loaded by tests/test_exercises.py, not collected (their notebook-style
# names, e.g. 00_welcome.py, are not importable module names).
collect_ignore_glob = ["notebooks/solutions/*.py", "tests/wrong_answers/*.py"]

# The Chinese edition runs the English code cells with the English outputs (tests/test_zh_edition.py checks
# it cell by cell), so nbval runs two of its notebooks, 00 and 02, to show that the edition runs as it
# stands; a Chinese notebook named on the command line is still collected.
ZH_UNDER_NBVAL = ("00_welcome.ipynb", "02_self_attention.ipynb")
collect_ignore = [f"notebooks/zh/{p.name}" for p in sorted((Path(__file__).parent / "notebooks" / "zh").glob("*.ipynb"))
                  if p.name not in ZH_UNDER_NBVAL]


def pytest_collectstart(collector):
    # Warnings and progress text on stderr differ between machines and devices. Stored notebook
    # outputs carry no stderr at all (tests/test_notebook_hygiene.py checks it), so nothing is lost.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def _needs_corpus(items) -> bool:
    """Whether a collected item reads tiny Shakespeare: a notebook cell, or a test or doctest whose file
    names the dataset."""
    mentions = {}
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb":
            return True
        if path not in mentions:
            mentions[path] = path.suffix == ".py" and "tinyshakespeare" in path.read_text(encoding="utf-8")
        if mentions[path]:
            return True
    return False


def pytest_collection_finish(session):
    # Offline, without the corpus, dozens of tests would fail with the same long message: say it once.
    if session.config.option.collectonly or not _needs_corpus(session.items):
        return
    from gptlib.data import DatasetUnavailableError, ensure_dataset

    try:
        ensure_dataset("tinyshakespeare", progress=False)
    except DatasetUnavailableError as err:
        pytest.exit(f"the test suite needs the tiny Shakespeare corpus, and it is not here.\n{err}", returncode=4)


# What only CI's outer run does: the tests that start browsers, build the book, run instructor mode, or
# (the newcomer) run the whole suite again in a fresh clone. With GPTLIB_ONLY_OUTER=1 (.ci/run sets it) the
# outer run keeps just these: the newcomer's `make test` in its clone runs everything else, so CI runs the
# whole suite once, as a newcomer would, instead of twice.
OUTER_TESTS = {"test_newcomer.py", "test_browser.py", "test_book.py", "test_fast_mode.py"}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("GPTLIB_ONLY_OUTER") != "1":
        return
    keep = [item for item in items if Path(str(item.fspath)).name in OUTER_TESTS]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep
