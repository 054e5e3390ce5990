#!/usr/bin/env python3
"""Follow the README's quick start literally, as a newcomer would, in a fresh clone; fail if any step fails.

    python tools/newcomer.py            # clones this repository's HEAD into a temporary folder

1. ``git clone`` the repository (its committed HEAD) into a temporary folder.
2. Give the corpus the way the README's "Offline" block says (``export GPTLIB_DATA_DIR=...``, a folder
   holding ``tinyshakespeare/input.txt``), copied from this machine's ``GPTLIB_DATA_DIR``.
3. Run each command of the README's quick-start block, in order, in the clone:
   - ``make lab`` is started, the URL it prints is fetched until notebook 00 answers, then it is stopped;
   - any other command (``make test``) must exit with status 0. The suite inside the clone runs with
     ``GPTLIB_SKIP_OUTER=1``, which leaves out this test and the browser tests (no recursion).

``TORCH_SPEC``, when set (``.ci/run`` sets the CPU build), is passed on, as the README's table says.
Prints the time of each step; exits 1 with what failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFLINE_LINE = re.compile(r"^export GPTLIB_DATA_DIR=(\S+)")


def bash_block_after(readme: str, heading: str) -> list[str]:
    """The command lines (comments stripped) of the first ```bash block after ``heading``.

    >>> bash_block_after("## Quick start\\ntext\\n```bash\\nmake lab   # open\\n\\nmake test\\n```\\n", "## Quick start")
    ['make lab', 'make test']
    """
    start = readme.index(heading)
    block = re.search(r"```bash\n(.*?)```", readme[start:], re.S)
    if block is None:
        raise ValueError(f"no ```bash block after {heading!r} in the README")
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def lab_url(log: Path) -> str | None:
    """The http://127.0.0.1:PORT/lab/... URL JupyterLab printed, if it has yet."""
    found = re.search(r"(http://127\.0\.0\.1:\d+/lab\S*)", log.read_text(errors="replace"))
    return found.group(1) if found else None


def check_lab(command: str, clone: Path, env: dict, log: Path, timeout_s: float = 900) -> str:
    """Start ``make lab``, wait for its URL, fetch notebook 00 through it, stop it; return what was fetched."""
    with open(log, "w") as out:
        process = subprocess.Popen(command, shell=True, cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"`{command}` stopped (exit {process.returncode}):\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"`{command}` printed no working URL in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
            url = lab_url(log)
            if url:
                server, token = re.match(r"(http://[^/]+)/", url).group(1), re.search(r"token=(\w+)", url)
                if "/lab/tree/00_welcome.ipynb" not in url:
                    raise RuntimeError(f"`{command}` prints a URL that does not open notebook 00: {url}")
                api = f"{server}/api/contents/00_welcome.ipynb?content=0" + (f"&token={token.group(1)}" if token else "")
                try:
                    with urllib.request.urlopen(api, timeout=5) as response:
                        model = json.loads(response.read())
                    if model.get("type") == "notebook":
                        return f"{url.split('?')[0]} answered: {model['name']} is a notebook"
                except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                    pass
            time.sleep(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make, and the JupyterLab it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = bash_block_after(readme, "## Quick start")
    offline = [OFFLINE_LINE.match(line) for line in bash_block_after(readme, "### Offline")]
    if not any(offline):
        print("the README's Offline block has no `export GPTLIB_DATA_DIR=...` line", file=sys.stderr)
        return 1
    corpus = Path(os.environ.get("GPTLIB_DATA_DIR", "")) / "tinyshakespeare" / "input.txt"
    if not corpus.is_file():
        print(f"set GPTLIB_DATA_DIR to a folder holding tinyshakespeare/input.txt (not found: {corpus})",
              file=sys.stderr)  # fmt: skip
        return 1

    times = {}
    with tempfile.TemporaryDirectory(prefix="newcomer-") as tmp:
        tmp = Path(tmp)
        clone, data = tmp / "gpt-from-scratch", tmp / "data"
        started = time.monotonic()
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        (data / "tinyshakespeare").mkdir(parents=True)
        shutil.copyfile(corpus, data / "tinyshakespeare" / "input.txt")  # as the README's Offline block says
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GPTLIB_", "VIRTUAL_ENV", "PYTEST"))}
        env.update(GPTLIB_DATA_DIR=str(data), GPTLIB_SKIP_OUTER="1", JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
        if "TORCH_SPEC" in os.environ:
            env["TORCH_SPEC"] = os.environ["TORCH_SPEC"]
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if not p.startswith(str(ROOT)))  # fmt: skip  # not this checkout's .venv
        times["git clone"] = time.monotonic() - started
        for command in commands:
            started = time.monotonic()
            print(f"$ {command}", flush=True)
            if command.startswith("make lab"):
                print(check_lab(command, clone, env, tmp / "lab.log"), flush=True)
            else:
                result = subprocess.run(command, shell=True, cwd=clone, env=env)
                if result.returncode != 0:
                    print(f"`{command}` failed with exit status {result.returncode}", file=sys.stderr)
                    return 1
            times[command] = time.monotonic() - started
    print("newcomer: every quick-start command worked; times:")
    for step, seconds in times.items():
        print(f"  {step:<12} {seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
