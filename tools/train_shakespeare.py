#!/usr/bin/env python3
"""Train a character-level GPT on tiny Shakespeare, on one process or many.

    python tools/train_shakespeare.py --max-steps 2000 --out runs/shakespeare
    torchrun --nproc_per_node=2 tools/train_shakespeare.py --max-steps 2000 --out runs/ddp   # 2 CPU processes
    torchrun --nproc_per_node=8 tools/train_shakespeare.py --device cuda ...                  # 8 GPUs, one node

Under torchrun, gptlib.train.Trainer joins the process group (nccl on CUDA, gloo on the CPU), each
process takes its slice of the global batch (``--batch-size`` is the global batch), DDP averages the
gradients, and only rank 0 prints and writes the checkpoint. Stop with Ctrl-C: the current step
finishes and a checkpoint is written; run the same command with ``--resume`` to continue.
"""

from __future__ import annotations

import argparse

import torch

from gptlib.data import load_text, split
from gptlib.model import GPT, GPTConfig
from gptlib.tokenizers import CharTokenizer
from gptlib.train import Trainer, TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="char-small", help="a GPTConfig preset (default char-small)")
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch, over all processes")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--out", default=None, help="checkpoint folder (default: none)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: gptlib.device.get_device())")
    args = parser.parse_args()

    text = load_text("tinyshakespeare", progress=False)
    tok = CharTokenizer.from_text(text)
    train, val = split(torch.tensor(tok.encode(text)), 0.9)
    torch.manual_seed(1337)  # the same initial weights in every process
    config = GPTConfig.from_preset(args.preset, vocab_size=tok.vocab_size)
    model = GPT(config)
    cfg = TrainConfig(max_steps=args.max_steps, batch_size=args.batch_size, block_size=config.block_size,
                      learning_rate=args.learning_rate, min_lr=args.learning_rate / 10,
                      eval_interval=args.eval_interval, out_dir=args.out, resume=args.resume)
    trainer = Trainer(model, train, val, cfg, device=args.device)
    history = trainer.fit()
    if trainer.is_main and history.val_loss:
        print(f"final validation loss {history.val_loss[-1]:.3f} (whole split)")


if __name__ == "__main__":
    main()
