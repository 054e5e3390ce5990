"""Benchmark: installing a model from a store server, gptlib.store against Hugging Face's hub client.

    .venv/bin/python benchmarks/store_install/bench.py [--megabytes 200] [--rounds 5] [--write-readme]

Both clients download the same model (a safetensors file of ``--megabytes`` of random float32 weights, a
tokenizer file and a model card) from the same server: ``python -m gptlib.store serve`` in its own process
on 127.0.0.1, which speaks both protocols. Each round, alternating the order, times:

- ``gptlib``: ``gptlib.store.install`` into an empty store; it hashes every byte as it streams it, and
  the model exists only once every digest matched;
- ``hub``: ``huggingface_hub.snapshot_download`` into an empty cache (its defaults: up to 8 files at
  once); it checks sizes only;
- ``hub + verify``: the same download followed by ``HfApi.verify_repo_checksums``, the Hub client's own
  hash check, so that both sides end with the same guarantee: every byte hashed.

Reported: the median and the worst (slowest) of ``--rounds`` rounds, in seconds and MB/s. No progress
bars on either side. ``--write-readme`` puts the report between the result markers of README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = Path(__file__).with_name("README.md")
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from benchmarks.readme import replace_results  # noqa: E402
from gptlib.store import CardFacts, LocalStore, install, make_card  # noqa: E402

NAME = "bench/big"


def make_model(folder: Path, megabytes: int) -> None:
    """A model folder with ``megabytes`` MB of float32 weights in 16 tensors, a tokenizer and a card."""
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    per = megabytes * 1_000_000 // 4 // 16
    save_file({f"w{i}": torch.randn(per, generator=g) for i in range(16)}, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_text('{"format": "gptlib-char", "version": 1, "chars": ["a", "b"]}')
    facts = CardFacts(parameters=per * 16, val_loss=1.0, tokens_per_second=1.0, measured_on="not measured",
                      context=128, vocab_size=2, intended_use="benchmarking downloads only")
    (folder / "README.md").write_text(make_card("# bench/big\n\nRandom weights for a download benchmark.\n", facts))


def hash_speed(megabytes: int, repeats: int = 3) -> float:
    """MB/s of ``hashlib.sha256`` over ``megabytes`` of random bytes in memory, the best of ``repeats``."""
    data = os.urandom(megabytes * 1_000_000)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        best = min(best, time.perf_counter() - start)
    return megabytes / best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/gptlib/v1/index", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args(argv)

    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    work = Path(tempfile.mkdtemp(prefix="store-bench-"))
    make_model(work / "model", args.megabytes)
    served = LocalStore(work / "served")
    served.publish(work / "model", NAME)
    size = served.manifest(NAME).size
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "gptlib.store", "--store", str(served.root), "serve",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: dict[str, list[float]] = {"gptlib": [], "hub": [], "hub + verify": []}
    try:
        wait_for(url)

        def run_gptlib(i: int) -> None:
            t = time.perf_counter()
            done = install(url, NAME, into=LocalStore(work / f"gptlib-{i}"), progress=False)
            times["gptlib"].append(time.perf_counter() - t)
            assert set(done.files.values()) == {"downloaded"}

        def run_hub(i: int) -> None:
            cache = work / f"hub-{i}"
            t = time.perf_counter()
            snapshot_download(NAME, endpoint=url, cache_dir=cache)
            t_download = time.perf_counter() - t
            report = HfApi(endpoint=url).verify_repo_checksums(NAME, cache_dir=cache)
            t_all = time.perf_counter() - t
            assert not report.mismatches and report.checked_count == 3
            times["hub"].append(t_download)
            times["hub + verify"].append(t_all)

        run_gptlib(-1)  # warm-up of both (imports, page cache), not counted
        run_hub(-1)
        for side in times.values():
            side.clear()
        for i in range(args.rounds):
            for run in ((run_gptlib, run_hub) if i % 2 == 0 else (run_hub, run_gptlib)):
                run(i)
    finally:
        server.terminate()
        server.wait(timeout=10)
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    lines = [f"{args.megabytes} MB model ({size:,} bytes in 3 files), {args.rounds} alternated rounds, server "
             f"`python -m gptlib.store serve` on 127.0.0.1; {platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}.", "",
             "| client | median s | worst s | median MB/s | worst MB/s | bytes hashed |", "|---|---|---|---|---|---|"]
    hashed = {"gptlib": "all, while downloading", "hub": "none (sizes only)", "hub + verify": "all, afterwards"}
    for name, ts in times.items():
        med, worst = statistics.median(ts), max(ts)
        lines.append(f"| {name} | {med:.2f} | {worst:.2f} | {size / 1e6 / med:.0f} | {size / 1e6 / worst:.0f} | "
                     f"{hashed[name]} |")
    ratio = statistics.median(times["gptlib"]) / statistics.median(times["hub + verify"])
    lines += ["", f"gptlib / (hub + verify), median time: {ratio:.2f}",
              f"SHA-256 alone (hashlib, one core, {args.megabytes} MB in memory): {hash_speed(args.megabytes):,.0f} MB/s"]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_readme:
        replace_results(README, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
