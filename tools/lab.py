#!/usr/bin/env python3
"""Open the series in JupyterLab, the way `make lab` does, on any machine the README addresses.

    python tools/lab.py             # what `make lab` runs after installing
    python tools/lab.py --dry-run   # print the command, start nothing
    python tools/lab.py -- --port=8890   # more arguments for jupyter lab
    python tools/lab.py --edition zh     # open the Chinese edition's notebook 00 (make lab EDITION=zh)

What it adds to a plain ``jupyter lab notebooks/00_welcome.ipynb``:

- **as root** (a container, a cloud VM, CI) JupyterLab refuses to start without ``--allow-root``: added
  when the effective user id is 0;
- **on a machine without a desktop** (Linux with neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``) it does not
  try to open a browser (which could start a text-mode one inside the terminal); it says to open the
  URL that JupyterLab prints;
- **the news pop-up** ("Would you like to get notified about official Jupyter news?") is turned off
  for this project only: JupyterLab reads its settings overrides from ``tools/jupyterlab/overrides.json``
  (``--LabApp.app_settings_dir``), which says never to fetch news or check for updates; nothing is
  written anywhere, and a student's own settings still win;
- JupyterLab opens on notebook 00, with the file browser at ``notebooks/``: the URL it prints is
  ``http://127.0.0.1:8888/lab/tree/00_welcome.ipynb?token=...`` (``--LabApp.default_url``), so opening it by
  hand shows notebook 00 too (``zh/00_welcome.ipynb``, the Chinese edition's, with ``--edition zh``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_NOTEBOOK = {"en": "00_welcome.ipynb", "zh": "zh/00_welcome.ipynb"}  # by edition, under notebooks/
SETTINGS = ROOT / "tools" / "jupyterlab"  # overrides.json: the news pop-up turned off


def has_desktop(environ: dict, platform: str) -> bool:
    """Whether a browser window can be opened: always on macOS and Windows; on Linux, with a display.

    >>> has_desktop({}, "linux"), has_desktop({"DISPLAY": ":0"}, "linux"), has_desktop({}, "darwin")
    (False, True, True)
    """
    if not platform.startswith("linux"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def lab_command(*, euid: int | None, environ: dict, platform: str, jupyter: str = "jupyter",
                edition: str = "en") -> list[str]:
    """The command line that starts JupyterLab on the series for this user and machine.

    >>> lab_command(euid=0, environ={}, platform="linux")[-2:]
    ['--allow-root', '--no-browser']
    >>> lab_command(euid=1000, environ={"DISPLAY": ":0"}, platform="linux")[-1]
    '--LabApp.default_url=/lab/tree/00_welcome.ipynb'
    >>> lab_command(euid=1000, environ={"DISPLAY": ":0"}, platform="linux", edition="zh")[-1]
    '--LabApp.default_url=/lab/tree/zh/00_welcome.ipynb'
    """
    if edition not in FIRST_NOTEBOOK:
        raise ValueError(f"edition {edition!r} is not one of the series' editions: {', '.join(FIRST_NOTEBOOK)}")
    command = [jupyter, "lab", f"--ServerApp.root_dir={ROOT / 'notebooks'}", f"--LabApp.app_settings_dir={SETTINGS}",
               f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK[edition]}"]  # the URL it prints opens notebook 00
    if euid == 0:
        command.append("--allow-root")
    if not has_desktop(environ, platform):
        command.append("--no-browser")
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the command, start nothing")
    parser.add_argument("--edition", choices=sorted(FIRST_NOTEBOOK), default="en",
                        help="which edition's notebook 00 to open: en (default) or zh, the Chinese one")
    parser.add_argument("extra", nargs="*", help="more arguments for jupyter lab (after --), e.g. --port=8890")
    args = parser.parse_args(argv)

    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    command = lab_command(euid=getattr(os, "geteuid", lambda: None)(), environ=dict(os.environ),
                          platform=sys.platform, jupyter=jupyter, edition=args.edition) + args.extra  # fmt: skip
    if args.dry_run:
        print(" ".join(command))
        return 0
    if "--no-browser" in command:
        print("No desktop found: JupyterLab will not open a browser. Open the http://127.0.0.1:... URL it "
              "prints below (with its token) in a browser on this machine, or forward the port.", flush=True)
    if "--allow-root" in command:
        print("Running as root: starting JupyterLab with --allow-root.", flush=True)
    os.execv(command[0], command) if os.path.isabs(command[0]) else os.execvp(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
