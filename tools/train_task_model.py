#!/usr/bin/env python3
"""Train the series' task model: one character-level GPT on all five tasks of ``gptlib.tasks``, on the CPU.

    python tools/train_task_model.py                              # the real run (see the model card for its time)
    python tools/train_task_model.py --max-steps 20 --out /tmp/t  # a quick smoke test

Notebook 10 measures it on every task's held-out examples (and trains a smaller model live on one
task); notebook 11 uses it for prompt injection. It loads with :func:`gptlib.tasks.load_task_model`,
which checks both files' SHA-256. The data are :func:`gptlib.tasks.task_model_text` (the training
examples of :func:`gptlib.tasks.task_model_data`, compositional split, seed 0), generated: no download.

Everything is fixed as in ``tools/train_reference_model.py`` (whose helpers this script reuses): the
seeds, one CPU thread, deterministic algorithms, the CPU. It writes to ``--out`` (default
``gptlib/tasks/tasks-char``) ``model.safetensors`` (no pickle; the configs and results in its header),
``tokenizer.json`` and ``README.md`` (the model card, with both SHA-256 and the held-out scores). The last
lines printed are the constants to paste into ``gptlib/tasks/model.py`` when it is retrained on purpose.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_reference_model, beside this file

import train_reference_model as ref  # noqa: E402

from gptlib.checkpoint import save_checkpoint  # noqa: E402
from gptlib.files import sha256_of  # noqa: E402
from gptlib.model import GPT, GPTConfig  # noqa: E402
from gptlib.tasks import TASKS, evaluate_task, task_model_chars, task_model_data, task_model_text  # noqa: E402
from gptlib.tasks import model as task_model  # noqa: E402
from gptlib.tokenizers import CharTokenizer  # noqa: E402
from gptlib.train import Trainer, TrainConfig  # noqa: E402

INIT_SEED = 1337
MODEL_CONFIG = dict(block_size=160, n_layer=3, n_head=4, n_embd=96, dropout=0.0, bias=True)
TRAIN_CONFIG = dict(
    max_steps=6000,
    batch_size=32,
    block_size=160,
    learning_rate=3e-3,
    min_lr=3e-4,
    warmup_steps=100,
    weight_decay=0.1,
    betas=(0.9, 0.99),
    grad_clip=1.0,
    eval_interval=500,
    eval_batches=10,
    eval_batch_size=64,
    log_interval=50,
    seed=1337,
    progress=False,
    verbose=True,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=task_model.TASK_MODEL_DIR,
                        help="folder to write the model, tokenizer and model card to")
    parser.add_argument("--max-steps", type=int, default=TRAIN_CONFIG["max_steps"], help="optimizer steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(ref.THREADS)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()

    tokenizer = CharTokenizer(task_model_chars())
    train_ids = torch.tensor(tokenizer.encode(task_model_text()))
    held_out = {task: task_model_data(task)[1] for task in TASKS}
    val_ids = torch.tensor(tokenizer.encode("".join(ex.text for task in TASKS for ex in held_out[task])))
    model_config = GPTConfig(vocab_size=tokenizer.vocab_size, **MODEL_CONFIG)
    torch.manual_seed(INIT_SEED)
    model = GPT(model_config)
    train_config = TrainConfig(**{**TRAIN_CONFIG, "max_steps": args.max_steps})
    print(f"tasks-char: {model.num_params():,} parameters; {len(train_ids):,} training characters, "
          f"{tokenizer.vocab_size} distinct", flush=True)
    trainer = Trainer(model, train_ids, val_ids, train_config, device="cpu")
    history = trainer.fit()
    train_seconds = history.elapsed[-1]
    model.eval()

    scores = {task: evaluate_task(model, tokenizer, held_out[task]) for task in TASKS}
    for task, s in scores.items():
        print(f"  {task:16s} exact match {s.exact_match:.3f} ({s.exact_match_ci[0]:.3f}-{s.exact_match_ci[1]:.3f}), "
              f"chrF {s.chrf:.1f}, n={s.n}", flush=True)
    val_loss = history.val_loss[-1]

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    results = {  # deterministic facts only, so a rerun writes the same bytes (times go in the card)
        "held_out": {task: {"n": s.n, "exact_match": round(s.exact_match, 4), "chrf": round(s.chrf, 2)}
                     for task, s in scores.items()},
        "val_loss_estimate": round(val_loss, 4),
        "data": {"task_model_data": {"train_sizes": task_model.TRAIN_SIZES,
                                     "repeats": task_model.REPEATS, "test_size": task_model.TEST_SIZE,
                                     "seed": task_model.SEED, "split": task_model.SPLIT}},
        "init_seed": INIT_SEED,
        "threads": ref.THREADS,
        "tokenizer": ref.TOKENIZER_FILE,
        "trained_with": "tools/train_task_model.py",
    }
    save_checkpoint(out / ref.MODEL_FILE, model, step=trainer.step, train_config=train_config, extra=results)
    tokenizer.save(out / ref.TOKENIZER_FILE)
    model_sha, tokenizer_sha = sha256_of(out / ref.MODEL_FILE), sha256_of(out / ref.TOKENIZER_FILE)
    size = (out / ref.MODEL_FILE).stat().st_size
    card = _card(model, model_config, train_config, scores, val_loss, len(train_ids), train_seconds,
                 time.perf_counter() - started, model_sha, tokenizer_sha, size)
    (out / ref.CARD_FILE).write_text(card, encoding="utf-8")
    print(f"wrote {out / ref.MODEL_FILE} ({size:,} bytes), {out / ref.TOKENIZER_FILE}, {out / ref.CARD_FILE}")
    print(f"training took {train_seconds:.0f} s")
    print(f'MODEL_SHA256 = "{model_sha}"')
    print(f'TOKENIZER_SHA256 = "{tokenizer_sha}"')
    return 0


def _card(model, model_config, cfg, scores, val_loss, n_chars, train_seconds, total_seconds, model_sha,
          tokenizer_sha, size) -> str:
    rows = "\n".join(f"| `{task}` | {s.n} | {s.exact_match:.3f} | {s.exact_match_ci[0]:.3f}-{s.exact_match_ci[1]:.3f} "
                     f"| {s.chrf:.1f} |" for task, s in scores.items())
    sizes = ", ".join(f"{task} {n:,}" + (" (each twice)" if task_model.REPEATS[task] == 2 else "")
                      for task, n in task_model.TRAIN_SIZES.items())
    tokens_seen = cfg.max_steps * cfg.batch_size * cfg.block_size
    return f"""# tasks-char: one character-level GPT trained on five tasks

The task model of notebooks 10 and 11 of *GPT from scratch*: translation (English number words to
Chinese ones), number words to digits, dates in words to ISO dates, question answering over a
two-person context, and summarizing a weather report into its key fields, each written as a prompt
format (`gptlib.tasks.formats`), all in one training text. Load it with
`gptlib.tasks.load_task_model()`, which checks both files' SHA-256.

| file | what | SHA-256 |
|---|---|---|
| `model.safetensors` | weights ({size:,} bytes, float32) and, as JSON in the header, the model config, training config and results | `{model_sha}` |
| `tokenizer.json` | `gptlib.tokenizers.CharTokenizer`, {model_config.vocab_size} characters (the tasks' own) | `{tokenizer_sha}` |

## Results on held-out examples

Greedy decoding, the answer cut at the first newline; each task's {task_model.TEST_SIZE} test examples of the
**compositional** split (`gptlib.tasks.task_model_data`): combinations of parts seen in training, never
the combinations themselves. Exact match with its 95% Wilson interval; mean sentence chrF (sacrebleu).

| task | n | exact match | 95% interval | chrF |
|---|---|---|---|---|
{rows}

Loss on the held-out examples' text (estimate, 10 random batches): {val_loss:.3f} nats per character.

## Model and training

`GPTConfig(vocab_size={model_config.vocab_size}, block_size={model_config.block_size}, n_layer={model_config.n_layer},
n_head={model_config.n_head}, n_embd={model_config.n_embd}, dropout={model_config.dropout}, bias={model_config.bias})`:
{model.num_params():,} parameters.

- Data: `gptlib.tasks.task_model_text()`, {n_chars:,} characters: the training examples ({sizes}),
  shuffled together, one per line. Generated by `gptlib.tasks`, seed {task_model.SEED}; no download.
- `gptlib.train.Trainer`, `TrainConfig(max_steps={cfg.max_steps}, batch_size={cfg.batch_size}, block_size={cfg.block_size},
  learning_rate={cfg.learning_rate}, min_lr={cfg.min_lr}, warmup_steps={cfg.warmup_steps}, weight_decay={cfg.weight_decay},
  grad_clip={cfg.grad_clip}, seed={cfg.seed})`: random windows of {cfg.block_size} characters, {tokens_seen:,} in all.
- Initial weights `torch.manual_seed({INIT_SEED})`; CPU, `torch.set_num_threads({ref.THREADS})`,
  `torch.use_deterministic_algorithms(True)`.
- Training time: {train_seconds / 60:.1f} minutes ({total_seconds / 60:.1f} in all) on {ref.THREADS} CPU thread,
  {platform.machine()}, torch {torch.__version__}, {datetime.date.today().isoformat()}, on a machine shared with other jobs.
- Command: `python tools/train_task_model.py` (same torch version, thread count and kind of CPU: same bytes).

## Limitations

- It knows only the five formats and their {model_config.vocab_size} characters; any other character is refused by
  its tokenizer, and any other request gets an answer in one of the five formats.
- Everything in its data is generated: the people, cities and weather are fictional.
- A prompt is plain text: it cannot tell the user's question from text an attacker put in the
  context (notebook 11 shows this).
"""


if __name__ == "__main__":
    sys.exit(main())
