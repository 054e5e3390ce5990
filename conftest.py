"""Shared pytest setup: the hypothesis profile, and nbval's comparison settings for notebooks."""

import os

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


def pytest_collectstart(collector):
    # Warnings and progress text on stderr differ between machines and devices. Stored notebook
    # outputs carry no stderr at all (tests/test_notebook_hygiene.py checks it), so nothing is lost.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
