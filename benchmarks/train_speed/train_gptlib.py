"""One gptlib training run on tiny Shakespeare (characters), timed from process start.

Prints one JSON line: the whole-split loss at the end, the times (process, setup, training steps,
evaluation), tokens and the model's size. ``bench.py`` and ``search.py`` start this script as a
subprocess, so interpreter start-up, imports, data loading and tokenization are all inside the
measured time, as they are for nanoGPT.

    python benchmarks/train_speed/train_gptlib.py [--max-steps N] [--seed N] [--dev] [--n-layer N ...]

``--dev`` is the recipe search's setting: the last :data:`DEV_FRACTION` of the training split (the
*dev slice*) is left out of training and the loss is measured on it, so that choices are made
without ever looking at the validation split, which is kept for the reported numbers.
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

#: The recipe, chosen on the dev slice by ``search.py`` (README.md has the search): nanoGPT's width,
#: heads and context, ONE layer instead of four, a batch of 32, a learning rate 8x nanoGPT's with a
#: short warmup, and a schedule that has decayed fully at the last step.
RECIPE = dict(
    n_layer=1, n_head=4, n_embd=128, block_size=64, dropout=0.0,
    batch_size=32, learning_rate=8e-3, min_lr=8e-4, warmup_steps=30, max_steps=500,
    weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0,
)
SEED = 1337
#: The dev slice: this share of the end of the training split, held out during the recipe search.
DEV_FRACTION = 0.05
#: Windows per batch of the whole-split evaluation (the same for nanoGPT's checkpoints in bench.py).
EVAL_BATCH_SIZE = 64


def splits(dev: bool) -> tuple[torch.Tensor, torch.Tensor, CharTokenizer]:
    """``(train, held_out, tokenizer)``: the train/val split of the corpus (nanoGPT's 90/10), or with
    ``dev`` the training split without its last :data:`DEV_FRACTION` and that slice."""
    text = load_text("tinyshakespeare", progress=False)
    tok = CharTokenizer.from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    train, val = split(data, 0.9)  # the last 10% of the characters, as nanoGPT's prepare.py
    if dev:
        train, val = split(train, 1 - DEV_FRACTION)
    return train, val, tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=RECIPE["max_steps"])
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the initial weights and the batches")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--dev", action="store_true", help="train without the dev slice and score on it")
    for name in ("n_layer", "n_embd", "n_head", "batch_size", "warmup_steps"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=RECIPE[name])
    for name in ("learning_rate", "min_lr"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=RECIPE[name])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    r = dict(RECIPE, **{k: getattr(args, k) for k in ("max_steps", "n_layer", "n_embd", "n_head", "batch_size",
                                                       "warmup_steps", "learning_rate", "min_lr")})
    train, held_out, tok = splits(args.dev)

    torch.manual_seed(args.seed)
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=r["block_size"], n_layer=r["n_layer"],
                       n_head=r["n_head"], n_embd=r["n_embd"], dropout=r["dropout"])
    model = GPT(config)
    cfg = TrainConfig(max_steps=r["max_steps"], batch_size=r["batch_size"], block_size=r["block_size"],
                      learning_rate=r["learning_rate"], min_lr=r["min_lr"], warmup_steps=r["warmup_steps"],
                      weight_decay=r["weight_decay"], betas=r["betas"], grad_clip=r["grad_clip"],
                      eval_interval=0, eval_batch_size=EVAL_BATCH_SIZE, log_interval=50, progress=False,
                      verbose=False, seed=args.seed)
    trainer = Trainer(model, train, held_out, cfg, device="cpu")
    t_train = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        history = trainer.fit()  # eval_interval=0: one evaluation, over the whole held-out split, at the end
    t_end = time.perf_counter()
    tokens = cfg.max_steps * cfg.batch_size * cfg.block_size
    print(json.dumps({
        "loss": history.val_loss[-1],
        "split": "dev" if args.dev else "val",
        "wall_s": t_end - T_START,
        "setup_s": t_train - T_START,
        "train_s": history.elapsed[-1],  # the optimizer steps only
        "eval_s": t_end - t_train - history.elapsed[-1],
        "tokens": tokens,
        "params": model.num_params(),
        "n_layer": config.n_layer, "n_embd": config.n_embd, "block_size": config.block_size,
        "batch_size": cfg.batch_size, "max_steps": cfg.max_steps, "learning_rate": cfg.learning_rate,
        "threads": torch.get_num_threads(), "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
