#!/usr/bin/env python3
"""Make the series' models in several sizes, for the model store of notebook 09, and write every model card.

    GPTLIB_DATA_DIR=... python tools/make_store_models.py           # train the models below (a few minutes)
    python tools/make_store_models.py --cards-only                  # re-measure speeds, rewrite every card

Besides the reference model (``shakespeare-char``, 818,048 parameters, made by
``tools/train_reference_model.py``), the store offers models that make the choice in notebook 09 worth
making: a tiny one that is fast and poor, a small one, and a wide one with more parameters than the
reference but trained far less, which shows that size alone does not make a model good. Each is
trained exactly like the reference (the same data, split, seeds, one thread, deterministic algorithms:
:func:`train_reference_model.train_and_write`), with the settings below, and written to
``gptlib/models/<name>/``: ``model.safetensors``, ``tokenizer.json`` and ``README.md``, a model card with
the facts the store reads in its YAML front matter (``gptlib.store.card``), tokens/s measured on this
machine when the card is written.

``--cards-only`` trains nothing: it measures every committed model's speed again and rewrites its card
(the reference's too: its prose is kept, the front matter replaced), leaving the weights untouched.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_reference_model, beside this file

import train_reference_model as ref  # noqa: E402

from gptlib.checkpoint import load_gpt, read_checkpoint  # noqa: E402

MODELS_DIR = ref.ROOT / "gptlib" / "models"

#: name -> (model settings, training settings changed from the reference's, what the model is for)
MODELS = {
    "shakespeare-char-tiny": (
        {"block_size": 64, "n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0, "bias": True},
        {"max_steps": 400, "block_size": 64, "learning_rate": 1e-2, "min_lr": 1e-3, "eval_interval": 100},
        "the cheapest choice: generates fastest, writes the least Shakespeare-like text",
    ),
    "shakespeare-char-small": (
        {"block_size": 128, "n_layer": 2, "n_head": 4, "n_embd": 64, "dropout": 0.0, "bias": True},
        {"max_steps": 600, "learning_rate": 8e-3, "min_lr": 8e-4, "eval_interval": 100},
        "a middle choice: a seventh of the reference's parameters, trained half as long",
    ),
    "shakespeare-char-wide": (
        {"block_size": 128, "n_layer": 2, "n_head": 4, "n_embd": 192, "dropout": 0.0, "bias": True},
        {"max_steps": 150, "warmup_steps": 20, "eval_interval": 50},
        "more parameters than the reference but trained an eighth as long: big is not the same as good",
    ),
}


def _intro(name: str, purpose: str) -> str:
    return (f"# {name}: one of the series' models, for the model store\n\n"
            f"A character-level GPT (gptlib.model.GPT) of tiny Shakespeare, trained deterministically on a CPU by\n"
            f"`tools/make_store_models.py`, like the reference model `shakespeare-char` but with other\n"
            f"settings: {purpose}. Notebook 09 publishes it in a model store and compares it with the others.")


def _use(purpose: str) -> str:
    return (f"Teaching: choosing a model by quality, speed and cost in notebook 09 ({purpose}); generating\n"
            f"Shakespeare-shaped text for fun.")


def rewrite_cards() -> None:
    """Measure every model's speed again and rewrite its card; the body of each card is kept."""
    from gptlib.store import read_card_data

    for folder in sorted(p for p in MODELS_DIR.iterdir() if p.is_dir()):
        card = (folder / ref.CARD_FILE).read_text(encoding="utf-8")
        body = card.split("---\n", 2)[2].lstrip("\n") if card.startswith("---") else card
        data = read_card_data(card)
        intended = data.get("gptlib", {}).get("intended_use") if data else None
        if intended is None:
            intended = ref.REFERENCE_USE if folder.name == "shakespeare-char" else _use(MODELS[folder.name][2])
        val_loss = read_checkpoint(folder / ref.MODEL_FILE).extra["val_loss"]
        model = load_gpt(folder / ref.MODEL_FILE)
        ref.write_card(folder, body, model, val_loss, f"series/{folder.name}", intended)
        print(f"rewrote {folder.name}/{ref.CARD_FILE}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards-only", action="store_true", help="train nothing; re-measure and rewrite cards")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if not args.cards_only:
        for name, (model_settings, train_changes, purpose) in MODELS.items():
            ref.train_and_write(MODELS_DIR / name, model_settings, {**ref.TRAIN_CONFIG, **train_changes},
                                f"series/{name}", _intro(name, purpose), _use(purpose))
    rewrite_cards()
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
