"""nanoGPT, the peer of the training benchmark: prepare its data, run its recipe, score its checkpoints.

nanoGPT lives in a checkout outside this repository (``--nanogpt DIR``); nothing of it is committed.
Its checkpoints are scored with gptlib's own whole-split evaluator (:func:`gptlib.train.evaluate`),
the function that scores gptlib's runs, through :func:`load_model`, a thin adapter: nanoGPT's
``GPT`` built from the checkpoint's ``model_args``, its weights loaded from ``ckpt.pt`` with
``torch.load(weights_only=True)`` (tensors and plain values only: nothing is unpickled as code).
nanoGPT's ``forward(x, y)`` already returns ``(logits, loss)`` with the mean cross-entropy over
every target, which is what the evaluator asks of a model; the adapter only hands it contiguous
tensors (it flattens the targets with ``.view``, which the evaluator's sliced windows do not allow).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gptlib.train import evaluate

#: nanoGPT's README CPU recipe ("on a MacBook ... or a CPU"), as its README gives it.
RECIPE_ARGS = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
               "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
               "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]
MAX_ITERS, BATCH, BLOCK, EVAL_INTERVAL = 2000, 12, 64, 250  # from the arguments above and its config file
OUT_DIR = "out-shakespeare-char"  # its config file's out_dir
CHECKPOINT = "ckpt.pt"


def prepare(nanogpt: Path, dataset: str, train_ids: torch.Tensor, val_ids: torch.Tensor) -> None:
    """Write ``data/<dataset>/{train,val}.bin`` (uint16 ids, nanoGPT's format) and its ``meta.pkl``.

    ``meta.pkl`` (the vocabulary) is made by nanoGPT's own ``prepare.py`` from gptlib's verified
    corpus, so the ids are the same characters; for another split of the same ids only the ``.bin``
    files differ and ``meta.pkl`` is copied as bytes.
    """
    from gptlib.data import ensure_dataset

    source = nanogpt / "data" / "shakespeare_char"
    if not (source / "prepare.py").is_file():
        sys.exit(f"{nanogpt} does not look like a nanoGPT checkout (no data/shakespeare_char/prepare.py)")
    if not (source / "meta.pkl").is_file():
        shutil.copyfile(ensure_dataset("tinyshakespeare", progress=False), source / "input.txt")
        subprocess.run([sys.executable, "prepare.py"], cwd=source, check=True, capture_output=True)
    folder = nanogpt / "data" / dataset
    folder.mkdir(exist_ok=True)
    if folder != source:
        shutil.copyfile(source / "meta.pkl", folder / "meta.pkl")
    for name, ids in (("train", train_ids), ("val", val_ids)):
        ids.numpy().astype(np.uint16).tofile(folder / f"{name}.bin")


def _evals(stdout: str) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v in re.findall(r"step (\d+): train loss [\d.]+, val loss ([\d.]+)", stdout)]


def _train_seconds(stdout: str) -> tuple[float, int]:
    """Seconds spent in training steps, and their number, from nanoGPT's per-iteration log lines.

    Its ``time`` of iteration ``i`` runs from the end of iteration ``i - 1``, so for an iteration that
    starts with an evaluation (``i % 250 == 0``) it includes that evaluation; those iterations are
    counted at the median time of the others.
    """
    times = {int(i): float(ms) / 1000 for i, ms in re.findall(r"iter (\d+): loss [\d.]+, time ([\d.]+)ms", stdout)}
    plain = [t for i, t in times.items() if i % EVAL_INTERVAL]
    median = statistics.median(plain)
    return sum(plain) + median * (len(times) - len(plain)), len(times)


def run(nanogpt: Path, dataset: str = "shakespeare_char", *, curve_dir: Path | None = None) -> dict:
    """One run of the recipe from process start to exit, in a fresh process; its final checkpoint is left
    in ``OUT_DIR``. With ``curve_dir``, stream its output and copy each checkpoint it saves there, with
    the time since the start at which its evaluation was logged (for the curve; such a run is not timed
    for the comparison)."""
    ckpt = nanogpt / OUT_DIR / CHECKPOINT
    ckpt.unlink(missing_ok=True)
    cmd = [sys.executable, "train.py", *RECIPE_ARGS, f"--dataset={dataset}"]
    curve: list[dict] = []
    started = time.perf_counter()
    if curve_dir is None:
        out = subprocess.run(cmd, cwd=nanogpt, capture_output=True, text=True)
        wall, stdout, code, stderr = time.perf_counter() - started, out.stdout, out.returncode, out.stderr
    else:
        curve_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        lines, pending, step, at = [], False, None, None
        with subprocess.Popen(cmd, cwd=nanogpt, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) as proc:
            for line in proc.stdout:
                lines.append(line)
                if pending:  # the line after "saving checkpoint": torch.save has returned
                    target = curve_dir / f"ckpt_{step}.pt"
                    shutil.copyfile(ckpt, target)
                    curve.append({"step": step, "elapsed_s": at, "path": target})
                    pending = False
                found = re.match(r"step (\d+): train loss", line)
                if found:
                    step, at = int(found.group(1)), time.perf_counter() - started
                pending = pending or line.startswith("saving checkpoint")
            stderr = proc.stderr.read()
        wall, stdout, code = time.perf_counter() - started, "".join(lines), proc.returncode
        if pending:
            target = curve_dir / f"ckpt_{step}.pt"
            shutil.copyfile(ckpt, target)
            curve.append({"step": step, "elapsed_s": at, "path": target})
    if code:
        sys.exit(f"nanoGPT failed:\n{stderr[-3000:]}")
    evals = _evals(stdout)
    train_s, steps = _train_seconds(stdout)
    return {"wall_s": wall, "train_s": train_s, "steps": steps, "own_val_loss": evals[-1][1],
            "own_evals": evals, "tokens": MAX_ITERS * BATCH * BLOCK, "tokens_trained": steps * BATCH * BLOCK,
            "curve": curve}


@contextlib.contextmanager
def _importable(nanogpt: Path):
    sys.path.insert(0, str(nanogpt))
    try:
        yield
    finally:
        sys.path.remove(str(nanogpt))


class Adapter(torch.nn.Module):
    """nanoGPT's ``GPT`` as the evaluator calls a model: ``forward(x, y) -> (logits, loss)``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        return self.model(x.contiguous(), y.contiguous())


def load_model(nanogpt: Path, path: Path) -> tuple[Adapter, int]:
    """nanoGPT's model from one of its checkpoints, in eval mode, and the training step it was saved at."""
    with _importable(nanogpt), contextlib.redirect_stdout(sys.stderr):  # it prints its size when built
        from model import GPT, GPTConfig  # nanoGPT's model.py, from its checkout

        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = GPT(GPTConfig(**ckpt["model_args"]))
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    model.load_state_dict(state)
    return Adapter(model).eval(), int(ckpt["iter_num"])


def score(nanogpt: Path, path: Path, ids: torch.Tensor, batch_size: int) -> dict:
    """The whole-split loss of a nanoGPT checkpoint on ``ids``, by gptlib's evaluator."""
    model, step = load_model(nanogpt, path)
    loss = evaluate(model, ids, BLOCK, batch_size, device="cpu")
    return {"loss": loss, "step": step, "params": sum(p.numel() for p in model.parameters())}
