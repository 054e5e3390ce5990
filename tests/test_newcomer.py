"""The README's quick start, followed literally in a fresh clone by tools/newcomer.py (CI only: it takes minutes).

Run by ``.ci/run`` (which sets ``CI``); skipped on a student's ``make test``, and inside the newcomer's own
clone (``GPTLIB_SKIP_OUTER=1``), so it never runs itself.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import skip_inside_newcomer

ROOT = Path(__file__).resolve().parents[1]


@skip_inside_newcomer
@pytest.mark.skipif(not os.environ.get("CI"), reason="CI only (set CI=1): clones, installs and runs the suite")
def test_quick_start_commands_work_in_a_fresh_clone():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "newcomer.py")], cwd=ROOT,
                            capture_output=True, text=True, timeout=25 * 60)  # fmt: skip
    printed = result.stdout + result.stderr
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "newcomer.log").write_text(printed, encoding="utf-8")  # with each step's time
    assert result.returncode == 0, printed[-6000:]
    assert "every quick-start command worked" in printed
    assert "answered: 00_welcome.ipynb is a notebook" in printed
