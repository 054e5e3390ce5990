"""A tiny training run, shared by the trainer tests and run by them as a separate process.

The tests that need a fresh interpreter (resuming in a new process, Ctrl-C, torchrun) start::

    python tests/train_worker.py --out DIR [--max-steps N] [--resume] [--sleep S] [--dropout P] [--result DIR]
    python -m torch.distributed.run --nproc_per_node=2 ... tests/train_worker.py --out DIR --dropout 0 ...

Importing this file runs nothing; the tests import :func:`tiny_model`, :func:`tiny_data` and
:func:`tiny_config` from it so that both sides build exactly the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # gptlib, also when run from elsewhere

from gptlib.checkpoint import save_checkpoint
from gptlib.model import GPT, GPTConfig
from gptlib.train import TrainConfig, Trainer

STEPS = 40  # length of the reference run


@contextlib.contextmanager
def one_thread():
    """torch on one thread inside (as in the worker processes, so runs compare bit for bit); put back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tiny_model(dropout: float = 0.1, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=dropout))


def tiny_data(n: int = 3000, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable token stream: a fixed 23-token motif, 10% of tokens replaced at random."""
    g = torch.Generator().manual_seed(seed)
    motif = torch.randint(65, (23,), generator=g)
    data = motif.repeat(n // 23 + 1)[:n].clone()
    noise = torch.rand(n, generator=g) < 0.1
    data[noise] = torch.randint(65, (int(noise.sum()),), generator=g)
    cut = int(0.9 * n)
    return data[:cut], data[cut:]


def tiny_config(**overrides) -> TrainConfig:
    fields = dict(max_steps=STEPS, batch_size=8, block_size=16, learning_rate=3e-3, min_lr=3e-4, warmup_steps=5,
                  lr_decay_steps=STEPS, weight_decay=0.1, grad_clip=1.0, eval_interval=10, eval_batches="full",
                  log_interval=1, seed=7, progress=False, verbose=False)
    return TrainConfig(**{**fields, **overrides})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-steps", type=int, default=STEPS)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds to wait after each step")
    parser.add_argument("--result", help="folder for each rank's final weights and history")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the tests compare with runs made in the pytest process, also on 1 thread

    def report(history):
        print(f"step {history.steps[-1]}", flush=True)
        time.sleep(args.sleep)

    train, val = tiny_data()
    cfg = tiny_config(max_steps=args.max_steps, batch_size=args.batch_size, out_dir=args.out, verbose=True)
    trainer = Trainer(tiny_model(args.dropout), train, val, cfg, device="cpu", callbacks=[report])
    if args.resume:
        trainer.load_checkpoint()
    history = trainer.fit()
    rank = trainer.dist.rank
    if args.result:
        result = Path(args.result)
        result.mkdir(parents=True, exist_ok=True)
        save_checkpoint(result / f"rank{rank}.safetensors", trainer.model)
        (result / f"rank{rank}.json").write_text(json.dumps(
            {"history": history.to_dict(), "is_main": trainer.is_main, "world_size": trainer.dist.world_size}))
    if trainer.is_main:
        print(json.dumps({"done": trainer.step, "interrupted": history.interrupted}), flush=True)


if __name__ == "__main__":
    main()
