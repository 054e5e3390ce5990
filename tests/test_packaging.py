"""The install files agree with each other: ranges, pins, the conda route and CI's entry point."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
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
    # the outer run keeps only the outer tests; the newcomer's clone runs the whole suite, without the variable
    assert "export GPTLIB_ONLY_OUTER=1" in ci and "export CI=1" in ci
    newcomer = (ROOT / "tools" / "newcomer.py").read_text()
    assert 'not k.startswith(("GPTLIB_"' in newcomer and 'GPTLIB_SKIP_OUTER="1"' in newcomer
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme


def test_reference_model_works_after_a_plain_install_of_the_wheel(tmp_path):
    """A non-editable install of the built wheel, imported from another folder with this checkout out of
    the way, has the reference model and loads it, hash-checked, without the network."""
    src, wheels, site, elsewhere = (tmp_path / name for name in ("src", "wheels", "site", "elsewhere"))
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "gptlib", src / "gptlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("gptlib-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere.mkdir()
    code = ("import json, gptlib, gptlib.reference as r\n"
            "model, tok = r.load_reference_model(device='cpu')\n"
            "print(json.dumps({'package': gptlib.__file__, 'folder': str(r.MODEL_DIR), "
            "'params': model.num_params(), 'vocab': tok.vocab_size}))")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GPTLIB_DEVICE")}
    env["PYTHONPATH"] = str(site)  # ahead of site-packages, where the editable install's finder lives
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(site), result  # the installed copy, not this checkout
    assert Path(result["folder"]).is_relative_to(site), result
    assert (result["params"], result["vocab"]) == (818_048, 65)
