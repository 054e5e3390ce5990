"""Training speed: gptlib against nanoGPT's README CPU recipe, measured side by side in one run.

    python benchmarks/train_speed/bench.py --nanogpt /tmp/nanogpt [--pairs 2]

``--nanogpt`` is a copy of nanoGPT outside this repository (never committed). The script

1. prepares nanoGPT's character-level Shakespeare data from gptlib's verified corpus (same file);
2. measures the CPU's float32 matrix-multiply rate (median of 2048³ products), for MFU, at the start
   and again at the end, and uses the higher of the two;
3. runs nanoGPT's recipe and gptlib's recipe alternately, A/B/A/B, each a fresh process timed
   from start to exit; reports medians, and judges the goal on the fastest run of each side (a
   shared machine slows single runs by up to 5x, which a median of a few pairs does not undo);
4. runs gptlib once more with as many steps as fit in nanoGPT's fastest wall time, to report the
   validation loss gptlib reaches in the recipe's full time, and with a few other seeds, to show the
   recipe does not hinge on a lucky one;
5. prints a markdown table (README.md holds the one measured) and exits 1 if the goal is missed:
   gptlib reaches a full-split validation loss <= 1.88 (every seed) in at most half nanoGPT's wall time.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TARGET = 1.88
NANOGPT_ARGS = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
                "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
                "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]


def prepare_nanogpt(nanogpt: Path) -> None:
    """Put the verified corpus where nanoGPT's prepare.py looks, and run it once."""
    from gptlib.data import ensure_dataset

    folder = nanogpt / "data" / "shakespeare_char"
    if not (folder / "prepare.py").is_file():
        sys.exit(f"{nanogpt} does not look like a nanoGPT checkout (no data/shakespeare_char/prepare.py)")
    if not (folder / "train.bin").is_file():
        shutil.copyfile(ensure_dataset("tinyshakespeare", progress=False), folder / "input.txt")
        subprocess.run([sys.executable, "prepare.py"], cwd=folder, check=True, capture_output=True)


def matmul_rate(n: int = 2048, repeats: int = 7) -> float:
    """Median float32 FLOP/s of an n x n by n x n product (2 n³ flops), with torch's default threads."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times)


def run_nanogpt(nanogpt: Path) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "train.py", *NANOGPT_ARGS], cwd=nanogpt, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode:
        sys.exit(f"nanoGPT failed:\n{out.stderr[-3000:]}")
    evals = re.findall(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", out.stdout)
    step, _, val = evals[-1]
    return {"wall_s": wall, "val_loss": float(val), "step": int(step), "tokens": 2000 * 12 * 64}


def run_gptlib(max_steps: int | None = None, seed: int | None = None) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_speed" / "train_gptlib.py")]
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode:
        sys.exit(f"gptlib run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall  # from process start to exit, as for nanoGPT
    return result


def mfu(r: dict, rate: float) -> float:
    """(6 N + 12 L d T) flops per token (training: forward + backward, attention included) x tokens/s / rate."""
    per_token = 6 * r["params"] + 12 * r["n_layer"] * r["n_embd"] * r["block_size"]
    return per_token * r["tokens_per_s"] / rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="a nanoGPT checkout outside this repository")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs (default 3)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3],
                        help="other seeds to run gptlib's recipe with, to show the loss does not hinge on one seed")
    args = parser.parse_args()
    prepare_nanogpt(args.nanogpt)
    rate_before = matmul_rate()
    print(f"float32 2048^3 matmul: {rate_before / 1e9:.1f} GFLOP/s (median of 7)", flush=True)

    nano, ours = [], []
    for i in range(args.pairs):
        nano.append(run_nanogpt(args.nanogpt))
        print(f"pair {i + 1}: nanoGPT {nano[-1]['wall_s']:.1f} s, val {nano[-1]['val_loss']:.3f}", flush=True)
        ours.append(run_gptlib())
        print(f"pair {i + 1}: gptlib  {ours[-1]['wall_s']:.1f} s, val {ours[-1]['val_loss']:.3f} (full split), "
              f"{ours[-1]['tokens_per_s']:,.0f} tokens/s", flush=True)

    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    nano_wall, ours_wall = med(nano, "wall_s"), med(ours, "wall_s")
    # Other jobs on a shared machine slow a run by up to 5x, and not both runs of a pair alike, so the
    # goal is judged on the fastest (least disturbed) run of each side; the medians are shown beside it.
    nano_best, ours_best = min(r["wall_s"] for r in nano), min(r["wall_s"] for r in ours)
    ratios = [o["wall_s"] / n["wall_s"] for n, o in zip(nano, ours)]
    # The same recipe, with as many steps as fit in nanoGPT's wall time (step time from the runs above).
    step_s = med(ours, "train_s") / ours[0]["max_steps"]
    overhead = ours_wall - med(ours, "train_s")
    budget_steps = int((nano_best - overhead) / step_s)
    long = run_gptlib(budget_steps)
    print(f"gptlib in nanoGPT's time: {budget_steps} steps, {long['wall_s']:.1f} s, val {long['val_loss']:.3f}", flush=True)

    others = [run_gptlib(seed=seed) for seed in args.seeds]
    for r in others:
        print(f"gptlib seed {r['seed']}: {r['wall_s']:.1f} s, val {r['val_loss']:.3f}", flush=True)

    # The matmul rate again at the end; a shared machine can slow one measurement, so MFU uses the higher
    # of the two medians (the machine's rate when undisturbed; the lower would flatter MFU).
    rate_after = matmul_rate()
    rate = max(rate_before, rate_after)
    print(f"float32 2048^3 matmul at the end: {rate_after / 1e9:.1f} GFLOP/s; MFU uses {rate / 1e9:.1f}", flush=True)

    ours_tps = med(ours, "tokens_per_s")
    nano_tps = nano[0]["tokens"] / nano_wall
    ok = max(r["val_loss"] for r in ours + others) <= TARGET and ours_best <= 0.5 * nano_best
    print()
    print("| | nanoGPT (README CPU recipe) | gptlib |")
    print("|---|---|---|")
    print(f"| wall time, process start to exit, fastest of {args.pairs} | {nano_best:.1f} s | {ours_best:.1f} s "
          f"(**{ours_best / nano_best:.2f}** of nanoGPT's) |")
    print(f"| wall time, median of {args.pairs} | {nano_wall:.1f} s | {ours_wall:.1f} s "
          f"(median of the pairs' ratios {statistics.median(ratios):.2f}) |")
    print(f"| validation loss at the end | {med(nano, 'val_loss'):.3f} (20 random batches) | "
          f"{med(ours, 'val_loss'):.3f} (whole split) |")
    print(f"| tokens trained on | {nano[0]['tokens']:,} | {ours[0]['tokens']:,} |")
    print(f"| tokens/s | {nano_tps:,.0f} (whole run) | {ours_tps:,.0f} (training steps) |")
    print(f"| model FLOPs utilization | - | {mfu(ours[0] | {'tokens_per_s': ours_tps}, rate):.1%} |")
    if others:
        seeds = ", ".join(str(r["seed"]) for r in others)
        losses = ", ".join(f"{r['val_loss']:.3f}" for r in others)
        print(f"| validation loss with other seeds ({seeds}) | - | {losses} |")
    print(f"| validation loss in nanoGPT's (fastest) wall time | {med(nano, 'val_loss'):.3f} | {long['val_loss']:.3f} "
          f"({budget_steps} steps, {long['wall_s']:.0f} s) |")
    print()
    print(f"Goal (val <= {TARGET} in <= half nanoGPT's wall time): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
