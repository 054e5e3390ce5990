"""Tests for the set-up scripts behind `make install` and `make lab`: tools/torch_spec.py, tools/lab.py."""

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_until_answers

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


torch_spec = load("torch_spec")
lab = load("lab")


# ---------------------------------------------------------------- which torch `make install` takes


def never_called():
    raise AssertionError("the CPU index was asked although it is not used")


@pytest.mark.parametrize("system, nvidia, answers, expected", [
    ("Linux", False, True, ["torch>=2.4", "--index-url", "https://download.pytorch.org/whl/cpu"]),
    ("Linux", False, False, ["torch>=2.4"]),  # the CPU index unreachable: PyPI's default, with a note
    ("Linux", True, None, ["torch>=2.4"]),  # an NVIDIA GPU: the CUDA build is wanted
    ("Darwin", False, None, ["torch>=2.4"]),
    ("Windows", False, None, ["torch>=2.4"]),
])  # fmt: skip
def test_torch_choice_by_machine(system, nvidia, answers, expected):
    ask = never_called if answers is None else (lambda: answers)
    args, reason = torch_spec.choose(environ={}, system=system, nvidia=nvidia, cpu_index_answers=ask)
    assert args == expected
    assert reason.startswith("torch: ")
    if system == "Linux" and not nvidia:
        assert "no NVIDIA GPU" in reason and ("did not answer" in reason) == (answers is False)


def test_torch_spec_given_wins_and_is_split_into_pip_arguments():
    environ = {"TORCH_SPEC": "torch --index-url https://download.pytorch.org/whl/cu126"}
    args, _ = torch_spec.choose(environ=environ, system="Linux", nvidia=False, cpu_index_answers=never_called)
    assert args == ["torch", "--index-url", "https://download.pytorch.org/whl/cu126"]


def test_unreachable_index_is_reported_as_not_answering():
    assert torch_spec.index_answers(f"http://127.0.0.1:{free_port()}/whl/cpu", timeout=2) is False


# ---------------------------------------------------------------- how `make lab` starts JupyterLab


@pytest.mark.parametrize("euid, environ, platform, root, browser", [
    (0, {}, "linux", True, False),  # a container or CI: root, no desktop
    (1000, {"DISPLAY": ":0"}, "linux", False, True),
    (1000, {"WAYLAND_DISPLAY": "wayland-0"}, "linux", False, True),
    (501, {}, "darwin", False, True),
    (None, {}, "win32", False, True),  # Windows has no euid
])  # fmt: skip
def test_lab_command_for_each_kind_of_machine(euid, environ, platform, root, browser):
    command = lab.lab_command(euid=euid, environ=environ, platform=platform)
    assert command[:2] == ["jupyter", "lab"]
    assert ("--allow-root" in command) == root
    assert ("--no-browser" in command) == (not browser)
    assert "--LabApp.default_url=/lab/tree/00_welcome.ipynb" in command
    assert f"--ServerApp.root_dir={ROOT / 'notebooks'}" in command
    assert f"--LabApp.app_settings_dir={ROOT / 'tools' / 'jupyterlab'}" in command


def test_lab_opens_either_editions_notebook_00_and_refuses_another_edition():
    for edition in ("en", "zh"):
        [url] = [a for a in lab.lab_command(euid=1000, environ={}, platform="linux", edition=edition)
                 if a.startswith("--LabApp.default_url=/lab/tree/")]
        assert (ROOT / "notebooks" / url.removeprefix("--LabApp.default_url=/lab/tree/")).is_file(), url
    assert url.endswith("/zh/00_welcome.ipynb")
    with pytest.raises(ValueError, match="edition 'fr' is not one of the series' editions: en, zh"):
        lab.lab_command(euid=1000, environ={}, platform="linux", edition="fr")
    make = subprocess.run(["make", "-n", "lab", "EDITION=zh"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "tools/lab.py --edition zh" in make.stdout


def test_news_pop_up_setting_is_the_one_jupyterlab_defines():
    overrides = json.loads((ROOT / "tools" / "jupyterlab" / "overrides.json").read_text(encoding="utf-8"))
    schema_file = (Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab"
                   / "apputils-extension" / "notification.json")  # fmt: skip
    schema = json.loads(schema_file.read_text(encoding="utf-8"))["properties"]
    ours = overrides["@jupyterlab/apputils-extension:notification"]
    assert {"const": ours["fetchNews"], "title": "Never"} in schema["fetchNews"]["oneOf"]
    assert ours["checkForUpdates"] is False and schema["checkForUpdates"]["type"] == "boolean"


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def test_make_lab_starts_jupyterlab_on_notebook_00_without_the_news(tmp_path):
    """Start tools/lab.py for real (as this user, no desktop), wait until notebook 00 answers, stop it."""
    port, token = free_port(), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))  # fmt: skip
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "lab.py"), "--", f"--ServerApp.port={port}",
             f"--ServerApp.token={token}", "--ServerApp.port_retries=0"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        contents = f"{base}/api/contents/00_welcome.ipynb?content=0&token={token}"
        wait_until_answers(contents, process, log, timeout_s=90)
        status, body = get(contents)
        assert status == 200 and json.loads(body)["type"] == "notebook"
        _, body = get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
        properties = json.loads(body)["schema"]["properties"]
        assert properties["fetchNews"]["default"] == "false"
        assert properties["checkForUpdates"]["default"] is False
        status, page = get(f"{base}/lab/tree/00_welcome.ipynb?token={token}")
        assert status == 200 and b"jupyter-widgets/jupyterlab-manager" in page  # the widgets still load
    finally:
        process.terminate()
        process.wait(timeout=30)
    printed = log.read_text()
    assert "No desktop found" in printed and f"http://127.0.0.1:{port}/lab/tree/00_welcome.ipynb?token=" in printed
    assert ("--allow-root" in printed) == (os.geteuid() == 0)
