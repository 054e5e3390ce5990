"""Benchmark: how long tools/build_zh.py takes to rebuild the whole Chinese edition.

    .venv/bin/python benchmarks/zh_build/bench.py [--rounds 5] [--write-readme]

Each round rebuilds all 12 Chinese notebooks from the English notebooks and the translation files into an
empty temporary folder (the same work as ``python tools/build_zh.py`` on a fresh checkout: read, build, check,
write), and times it with ``time.perf_counter``. A last check compares one round's files with the committed
notebooks/zh/ byte for byte. Reported: the median and the worst of the rounds, and the bytes written.
``--write-readme`` puts the report between the result markers of README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = Path(__file__).with_name("README.md")
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tools"))

import build_zh  # noqa: E402

from benchmarks.readme import replace_results  # noqa: E402


def one_round(out: Path) -> tuple[float, int]:
    """Seconds to rebuild every Chinese notebook into ``out``, and how many cells are behind the English."""
    started = time.perf_counter()
    behind = sum(len(build_zh.rebuild(name, chinese=out)[0]) for name in build_zh.names())
    return time.perf_counter() - started, behind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    times, behind, same = [], 0, True
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, behind = one_round(Path(tmp))
            times.append(seconds)
            written = sorted(Path(tmp).glob("*.ipynb"))
            size = sum(p.stat().st_size for p in written)
            same = same and all(p.read_bytes() == (build_zh.CHINESE / p.name).read_bytes() for p in written)
    report = (
        f"{len(written)} Chinese notebooks ({size:,} bytes) rebuilt {args.rounds} times into an empty folder; "
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}, "
        f"{date.today().isoformat()}.\n\n"
        "| rebuild of the whole edition | median s | worst s |\n|---|---|---|\n"
        f"| tools/build_zh.py | {statistics.median(times):.2f} | {max(times):.2f} |\n\n"
        f"cells behind the English: {behind}; files identical to the committed notebooks/zh/: {same}\n")
    print(report, end="")
    if args.write_readme:
        replace_results(README, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
