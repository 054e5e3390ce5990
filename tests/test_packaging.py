"""The install files agree with each other: ranges, pins, the conda route and CI's entry point."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)")


def _name(line: str) -> str:
    return NAME.match(line).group(1).lower().replace("_", "-")


def _requirements() -> dict[str, str]:
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    return {_name(l): l for l in lines if l and not l.startswith("#")}


def test_requirements_are_ranges_and_torch_is_not_pinned():
    reqs = _requirements()
    for name in ("torch", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "nbval", "transformers",
                 "tqdm", "safetensors", "regex", "hypothesis"):
        assert name in reqs, f"requirements.txt lacks {name}"
    for name, line in reqs.items():
        assert "==" not in line, f"requirements.txt pins {line!r}; exact pins belong in constraints.txt"


def test_constraints_pin_every_requirement_but_torch():
    text = (ROOT / "constraints.txt").read_text()
    pins = {_name(l): l for l in text.splitlines() if l and not l.startswith("#")}
    assert all("==" in line for line in pins.values())
    assert re.search(r"^# python: 3\.\d+$", text, re.M), "constraints.txt must say which Python it was made on"
    for name in _requirements():
        if name != "torch":
            assert name in pins, f"constraints.txt does not pin {name}: run `make constraints`"
    assert not {n for n in pins if n == "torch" or n.startswith("nvidia-")}, "torch's build is TORCH_SPEC's job"


def test_package_dependencies_are_among_the_requirements():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = _requirements()
    for dep in project["dependencies"]:
        assert _name(dep) in reqs, f"pyproject.toml needs {dep} but requirements.txt does not list it"


def test_conda_environment_lists_the_same_packages():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    deps = lines[lines.index("dependencies:") + 1:]
    names = {_name(l) for l in deps if l.startswith("  - ") and not l.strip().startswith("- pip")}
    names = {"torch" if n == "pytorch" else n for n in names} - {"python"}
    assert names == set(_requirements()), names ^ set(_requirements())


def test_ci_runs_the_readme_test_command_with_the_cpu_torch_and_local_data():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'TORCH_SPEC="torch==2.13.0"' in ci
    assert "GPTLIB_DATA_DIR" in ci and "shared/data/tinyshakespeare" in ci
    assert ci.rstrip().endswith("make test")
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
