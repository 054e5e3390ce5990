"""One gptlib training run on tiny Shakespeare (characters), timed from process start.

Prints one JSON line: the full-split validation loss at the end, the wall time, tokens/s and
the model's size. ``bench.py`` starts this script as a subprocess, so interpreter start-up,
imports, data loading and tokenization are all inside the measured time, as they are for nanoGPT.

    python benchmarks/train_speed/train_gptlib.py [--max-steps N] [--threads N] [--seed N]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()  # as early as possible: imports count

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

import torch  # noqa: E402

from gptlib.data import load_text, split  # noqa: E402
from gptlib.model import GPT, GPTConfig  # noqa: E402
from gptlib.tokenizers import CharTokenizer  # noqa: E402
from gptlib.train import Trainer, TrainConfig  # noqa: E402

# The recipe. Chosen for wall time to a validation loss of 1.88 on a 2-core CPU (README.md has the
# search): nanoGPT's width, heads and context, but ONE layer instead of four (a small model learns
# fastest per second while the loss is still high; depth pays off at lower losses), a batch of 32, a
# learning rate 8x higher with a short warmup, and a schedule that has decayed fully by the last step.
RECIPE = dict(
    n_layer=1, n_head=4, n_embd=128, block_size=64, dropout=0.0,
    batch_size=32, learning_rate=8e-3, min_lr=8e-4, warmup_steps=30, max_steps=600,
    weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=RECIPE["max_steps"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=1337, help="seed of the initial weights and the batches")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    r = dict(RECIPE, max_steps=args.max_steps)

    text = load_text("tinyshakespeare", progress=False)
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    train, val = split(data, 0.9)  # the last 10% of the characters, as nanoGPT's prepare.py

    torch.manual_seed(args.seed)
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=r["block_size"], n_layer=r["n_layer"],
                       n_head=r["n_head"], n_embd=r["n_embd"], dropout=r["dropout"])
    model = GPT(config)
    cfg = TrainConfig(max_steps=r["max_steps"], batch_size=r["batch_size"], block_size=r["block_size"],
                      learning_rate=r["learning_rate"], min_lr=r["min_lr"], warmup_steps=r["warmup_steps"],
                      weight_decay=r["weight_decay"], betas=r["betas"], grad_clip=r["grad_clip"],
                      eval_interval=0, log_interval=50, progress=False, verbose=False, seed=args.seed)
    trainer = Trainer(model, train, val, cfg, device="cpu")
    t_train = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        history = trainer.fit()  # eval_interval=0: one evaluation, over the whole validation split, at the end
    wall = time.perf_counter() - T_START
    tokens = cfg.max_steps * cfg.batch_size * cfg.block_size
    print(json.dumps({
        "val_loss": history.val_loss[-1],
        "wall_s": wall,
        "setup_s": t_train - T_START,
        "train_s": history.elapsed[-1],  # the optimizer steps only
        "tokens": tokens,
        "tokens_per_s": tokens / history.elapsed[-1],
        "params": model.num_params(),
        "n_layer": config.n_layer, "n_embd": config.n_embd, "block_size": config.block_size,
        "max_steps": cfg.max_steps, "threads": torch.get_num_threads(), "seed": args.seed,
    }))

if __name__ == "__main__":
    main()
