#!/usr/bin/env python3
"""Train the series' reference model: a character-level GPT of tiny Shakespeare, on the CPU.

    GPTLIB_DATA_DIR=... python tools/train_reference_model.py            # the real run (~10 min)
    python tools/train_reference_model.py --max-steps 20 --out /tmp/ref  # a quick smoke test

Notebooks that need a *trained* model (the attention maps of 02, the comparison in 06, generation
later) load the result with :func:`gptlib.reference.load_reference_model`, which checks its SHA-256,
so every notebook runs on its own, in any order, without training anything first.

Everything is fixed: the seeds, the number of CPU threads (float sums depend on how the work is
split between threads), the device (the CPU), the data split and every hyperparameter. Run again
with the same torch version on the same kind of CPU, the script should write the same bytes, and
so the same SHA-256. It writes to ``--out`` (default ``gptlib/models/shakespeare-char``, where
:data:`gptlib.reference.MODEL_DIR` points):

- ``model.safetensors``  the weights, written by :func:`gptlib.checkpoint.save_checkpoint` without
  an optimizer: model config, training config and the results sit as JSON in the header. No pickle.
- ``tokenizer.json``     the :class:`~gptlib.tokenizers.CharTokenizer` over the corpus' 65 characters
- ``README.md``          the model card: what, how, how well, for what, with both files' SHA-256

The last lines printed are the constants to paste into ``gptlib/reference.py`` when the model is
retrained on purpose.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

from gptlib.checkpoint import save_checkpoint
from gptlib.data import DATASETS, load_text, sha256_of, split
from gptlib.model import GPT, GPTConfig
from gptlib.tokenizers import CharTokenizer
from gptlib.train import Trainer, TrainConfig, estimate_loss, evaluate

ROOT = Path(__file__).resolve().parents[1]
# Fixed: float sums depend (in the last bits) on how the work is split between threads. One thread also
# makes the run independent of the machine's core count, and for a model this small it loses little: its
# matrices are too small to split well, and on a busy machine several threads mostly wait for each other.
THREADS = 1
INIT_SEED = 1337  # the model's initial weights
MODEL_FILE, TOKENIZER_FILE, CARD_FILE = "model.safetensors", "tokenizer.json", "README.md"

MODEL_CONFIG = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True)
TRAIN_CONFIG = dict(
    max_steps=1200,
    batch_size=32,
    block_size=128,
    learning_rate=6e-3,
    min_lr=6e-4,
    warmup_steps=50,
    weight_decay=0.1,
    betas=(0.9, 0.99),
    grad_clip=1.0,
    eval_interval=200,
    eval_batches=20,  # quick estimates during training; the full split is evaluated at the end
    eval_batch_size=64,
    log_interval=10,
    seed=1337,
    progress=False,
    verbose=True,
)
EVAL_BATCH_SIZE = 64  # windows per forward pass of the final full evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "gptlib" / "models" / "shakespeare-char",
                        help="folder to write the model, tokenizer and model card to")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="train for fewer steps (smoke tests only; the reference uses the default)")
    args = parser.parse_args(argv)
    train_config = {**TRAIN_CONFIG, **({"max_steps": args.max_steps} if args.max_steps else {})}
    model_sha, tokenizer_sha, val_loss = train_and_write(args.out, MODEL_CONFIG, train_config, "series/shakespeare-char",
                                                         REFERENCE_INTRO, REFERENCE_USE)
    print("constants for gptlib/reference.py:")
    print(f'MODEL_SHA256 = "{model_sha}"')
    print(f'TOKENIZER_SHA256 = "{tokenizer_sha}"')
    print(f"VAL_LOSS = {round(val_loss, 3)}")
    return 0


REFERENCE_INTRO = """# shakespeare-char: the series' reference model

A small character-level GPT (gptlib.model.GPT) trained on tiny Shakespeare, deterministically, on a
CPU, by `tools/train_reference_model.py`. The notebooks that need a *trained* model load it with
`gptlib.reference.load_reference_model()`, which checks the SHA-256 below before using the file."""

REFERENCE_USE = """Teaching: a small trained model to look inside (attention maps, notebook 02), to compare a
notebook's own short training run against (notebook 06), and to generate from (later notebooks)."""


def train_and_write(out: Path, model_settings: dict, train_settings: dict, name: str, intro: str,
                    intended_use: str) -> tuple[str, str, float]:
    """Train one character-level model of tiny Shakespeare and write its three files (weights, tokenizer, card)
    to ``out``; return the SHA-256 of the weights and of the tokenizer, and the validation loss."""
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()

    text = load_text("tinyshakespeare")
    tokenizer = CharTokenizer.from_text(text)
    assert tokenizer.vocab_size == 65, tokenizer.vocab_size
    ids = torch.tensor(tokenizer.encode(text))
    train_ids, val_ids = split(ids, 0.9)  # contiguous: the first 90% for training, the rest held out

    model_config = GPTConfig(vocab_size=tokenizer.vocab_size, **model_settings)
    torch.manual_seed(INIT_SEED)
    model = GPT(model_config)
    train_config = TrainConfig(**train_settings)
    print(f"{name}: {model.num_params():,} parameters, {json.dumps(dataclasses.asdict(model_config))}", flush=True)
    print(f"data: {len(train_ids):,} training / {len(val_ids):,} validation characters", flush=True)

    trainer = Trainer(model, train_ids, val_ids, train_config, device="cpu")
    history = trainer.fit()
    train_seconds = history.elapsed[-1]
    model.eval()

    val_loss = evaluate(model, val_ids, train_config.block_size, EVAL_BATCH_SIZE, device="cpu")
    train_estimate = estimate_loss(model, train_ids, train_config.block_size, EVAL_BATCH_SIZE, 20, seed=0)
    tokens_seen = train_config.max_steps * train_config.batch_size * train_config.block_size
    print(f"full validation loss {val_loss:.4f} nats/char; training loss (20 random batches) {train_estimate:.4f}",
          flush=True)

    out.mkdir(parents=True, exist_ok=True)
    # Only deterministic facts go into the file, so a rerun writes the same bytes (time goes in the card).
    results = {
        "val_loss": round(val_loss, 4),
        "val_loss_note": "mean cross-entropy in nats per character over the whole validation split "
                         "(gptlib.train.evaluate, block_size 128)",
        "tokens_seen": tokens_seen,
        "data": {"name": "tinyshakespeare", "sha256": DATASETS["tinyshakespeare"].sha256, "split": 0.9},
        "init_seed": INIT_SEED,
        "threads": THREADS,
        "tokenizer": TOKENIZER_FILE,
        "trained_with": "tools/train_reference_model.py",
    }
    save_checkpoint(out / MODEL_FILE, model, step=trainer.step, train_config=train_config, extra=results)
    tokenizer.save(out / TOKENIZER_FILE)
    model_sha, tokenizer_sha = sha256_of(out / MODEL_FILE), sha256_of(out / TOKENIZER_FILE)
    size = (out / MODEL_FILE).stat().st_size

    body = _model_card(model, model_config, train_config, history, val_loss, train_estimate, tokens_seen,
                       train_seconds, time.perf_counter() - started, model_sha, tokenizer_sha, size, intro,
                       intended_use)
    write_card(out, body, model, val_loss, name, intended_use)
    print(f"wrote {out / MODEL_FILE} ({size:,} bytes), {out / TOKENIZER_FILE}, {out / CARD_FILE}")
    print(f"training took {train_seconds:.0f} s")
    return model_sha, tokenizer_sha, val_loss


def machine() -> str:
    """A short description of this machine and torch's settings, for a model card's ``measured_on``."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {THREADS} CPU thread, torch {torch.__version__}, greedy generate with KV cache, "
            f"{datetime.date.today().isoformat()}")


def write_card(out: Path, body: str, model, val_loss: float, name: str, intended_use: str) -> None:
    """Write ``README.md``: ``body`` under the Hub's YAML front matter, its speed measured now on this machine."""
    from gptlib.generation import tokens_per_second
    from gptlib.store import CardFacts, make_card

    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        speed = tokens_per_second(model.eval(), new_tokens=200, repeats=5)
    finally:
        torch.set_num_threads(threads)
    facts = CardFacts(parameters=model.num_params(), val_loss=round(val_loss, 4),
                      tokens_per_second=round(speed.median, 1), measured_on=machine(),
                      context=model.config.block_size, vocab_size=model.config.vocab_size,
                      val_loss_note="mean cross-entropy in nats per character over the whole validation split",
                      intended_use=" ".join(intended_use.split()),
                      limitations="a small character-level model of Shakespeare's plays: it invents words, has "
                                  "no meaning across sentences, knows 65 characters only, and nothing it writes "
                                  "is a fact")
    (out / CARD_FILE).write_text(make_card(body, facts, model_name=name), encoding="utf-8")


def _model_card(model, model_config, train_config, history, val_loss, train_estimate, tokens_seen,
                train_seconds, total_seconds, model_sha, tokenizer_sha, size, intro, intended_use) -> str:
    cfg = train_config
    curve = "\n".join(f"| {s} | {s * cfg.batch_size * cfg.block_size:,} | {v:.3f} |"
                      for s, v in zip(history.val_steps, history.val_loss))
    today = datetime.date.today().isoformat()
    command, after = "python tools/train_reference_model.py", (" After retraining on\n  purpose, paste the printed "
                                                                "constants into `gptlib/reference.py`.")
    if not intro.startswith("# shakespeare-char:"):
        command, after = "python tools/make_store_models.py", ""
    return f"""{intro}

| file | what | SHA-256 |
|---|---|---|
| `model.safetensors` | weights ({size:,} bytes, float32) and, as JSON in the header, the model config, training config and results | `{model_sha}` |
| `tokenizer.json` | `gptlib.tokenizers.CharTokenizer`, one id per character, 65 characters | `{tokenizer_sha}` |

## Results

- **Validation loss: {val_loss:.3f} nats per character** (full validation split, every character
  once: `gptlib.train.evaluate(model, val_ids, block_size=128, batch_size=64)`), perplexity
  {torch.tensor(val_loss).exp().item():.2f}. For scale: a uniform guess over 65 characters scores
  ln 65 = 4.174; counting which character follows which (notebook 00) about 2.48.
- Training loss, estimated on 20 random batches of 64 x 128 characters: {train_estimate:.3f}.
- Tokens seen: {tokens_seen:,} characters ({cfg.max_steps} steps of {cfg.batch_size} x {cfg.block_size}),
  about {tokens_seen / 1_003_854:.1f} passes over the training split.
- Training time: {train_seconds / 60:.1f} minutes ({total_seconds / 60:.1f} in all, with data loading and the final
  evaluation) on {THREADS} CPU thread{'s' if THREADS > 1 else ''}, {platform.machine()}, torch {torch.__version__}, {today}. The machine was
  shared with other jobs, so on an idle one it is quicker.

Validation loss during training (quick estimates on 20 fixed random batches, not the full split):

| step | tokens | val loss (estimate) |
|---|---|---|
{curve}

## Model

`GPTConfig(vocab_size={model_config.vocab_size}, block_size={model_config.block_size}, n_layer={model_config.n_layer},
n_head={model_config.n_head}, n_embd={model_config.n_embd}, dropout={model_config.dropout}, bias={model_config.bias})`:
{model.num_params():,} parameters (the output head shares the token embedding matrix). Its context is
{model_config.block_size} characters.

## Training recipe

- Data: tiny Shakespeare (`gptlib.data.load_text("tinyshakespeare")`, 1,115,394 characters, SHA-256
  `{DATASETS["tinyshakespeare"].sha256}`), encoded with the CharTokenizer of its 65 distinct
  characters, split contiguously with `gptlib.data.split(ids, 0.9)`: the first 1,003,854 characters train,
  the last 111,540 validate.
- `gptlib.train.Trainer` with `TrainConfig(max_steps={cfg.max_steps}, batch_size={cfg.batch_size}, block_size={cfg.block_size},
  learning_rate={cfg.learning_rate}, min_lr={cfg.min_lr}, warmup_steps={cfg.warmup_steps}, weight_decay={cfg.weight_decay},
  betas={cfg.betas}, grad_clip={cfg.grad_clip}, seed={cfg.seed})`: AdamW with weight decay on matrices only, linear
  warmup then cosine decay, gradient clipping at global norm {cfg.grad_clip}, random windows of {cfg.block_size}
  characters.
- Initial weights: `torch.manual_seed({INIT_SEED})` then `GPT(config)`. CPU only,
  `torch.set_num_threads({THREADS})`, `torch.use_deterministic_algorithms(True)`.
- Command (from the repository root, with the corpus cached or downloadable):

      {command}

  With the same torch version and thread count it should write the same weights; across versions,
  CPUs or thread counts they differ in the last bits, and so the SHA-256 differs.{after}

## Data licence

Tiny Shakespeare is text from Shakespeare's plays, in the public domain, as collected by Andrej
Karpathy for char-rnn. The weights, derived from it, are released with this repository (MIT).

## Intended use

{intended_use}

## Limitations

- It writes Shakespeare-*shaped* text: names in capitals followed by a colon, line breaks, plausible
  spelling of common words, often invented words and no meaning across sentences.
- It knows 65 characters only (the letters, the digit 3, some punctuation, space and newline);
  `CharTokenizer.encode` refuses any other character.
- It sees at most {model_config.block_size} characters of context.
- It was trained for minutes, not hours: a larger model trained longer gets well below this loss.
- Its text is 400-year-old English drama: it repeats the period's views, and nothing it writes is
  a fact.
"""


if __name__ == "__main__":
    sys.exit(main())
