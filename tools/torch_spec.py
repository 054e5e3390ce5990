#!/usr/bin/env python3
"""Print what `make install` hands to ``pip install`` for torch, and say why on stderr.

    python tools/torch_spec.py           # e.g. torch>=2.4 --index-url https://download.pytorch.org/whl/cpu

- ``TORCH_SPEC`` set (``make lab TORCH_SPEC=...`` or the environment): exactly that.
- Linux without an NVIDIA GPU: PyPI's default Linux wheel bundles CUDA (several GB) that such a machine
  cannot use, so the CPU build from PyTorch's own index is taken (about 200 MB), if that index answers
  within a few seconds; otherwise PyPI's default wheel, with a note.
- Anything else (an NVIDIA GPU, macOS, Windows): PyPI's default wheel.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import urllib.request
from pathlib import Path

DEFAULT = "torch>=2.4"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def has_nvidia_gpu() -> bool:
    """Whether an NVIDIA driver is present (its kernel module, or its command-line tool)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def index_answers(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url/torch/`` can be fetched now (a package index page)."""
    try:
        with urllib.request.urlopen(f"{url}/torch/", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def choose(*, environ: dict, system: str, nvidia: bool, cpu_index_answers) -> tuple[list[str], str]:
    """The pip arguments for torch and the reason, as one sentence.

    ``cpu_index_answers`` is called only when the CPU index would be used.

    >>> choose(environ={"TORCH_SPEC": "torch==2.13.0"}, system="Linux", nvidia=False, cpu_index_answers=None)[0]
    ['torch==2.13.0']
    >>> choose(environ={}, system="Linux", nvidia=False, cpu_index_answers=lambda: True)[0]
    ['torch>=2.4', '--index-url', 'https://download.pytorch.org/whl/cpu']
    >>> choose(environ={}, system="Linux", nvidia=False, cpu_index_answers=lambda: False)[0]
    ['torch>=2.4']
    >>> choose(environ={}, system="Darwin", nvidia=False, cpu_index_answers=None)[0]
    ['torch>=2.4']
    """
    spec = environ.get("TORCH_SPEC", "").strip()
    if spec:
        return spec.split(), f"torch: TORCH_SPEC={spec!r}, as given"
    if system != "Linux":
        return [DEFAULT], f"torch: PyPI's default wheel for {system}"
    if nvidia:
        return [DEFAULT], "torch: an NVIDIA GPU was found, so PyPI's default Linux wheel (with CUDA, a few GB)"
    if cpu_index_answers():
        return [DEFAULT, "--index-url", CPU_INDEX], (
            f"torch: no NVIDIA GPU found, so the CPU build from {CPU_INDEX} (about 200 MB); "
            "for another build, set TORCH_SPEC (see the README)")
    return [DEFAULT], (
        f"torch: no NVIDIA GPU found, but {CPU_INDEX} did not answer, so PyPI's default Linux wheel, "
        "which includes CUDA (a few GB); set TORCH_SPEC to choose another build (see the README)")


def main() -> int:
    args, reason = choose(environ=dict(os.environ), system=platform.system(), nvidia=has_nvidia_gpu(),
                          cpu_index_answers=lambda: index_answers(CPU_INDEX))  # fmt: skip
    print(reason, file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
