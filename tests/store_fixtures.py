"""Tiny model folders for the store's tests: a gptlib model and a Hugging Face one, each with a model card."""

from __future__ import annotations

from pathlib import Path

import torch

from gptlib.checkpoint import save_checkpoint
from gptlib.model import GPT, GPTConfig
from gptlib.store import CardFacts, LocalStore, make_card
from gptlib.tokenizers import CharTokenizer

TEXT = "to be, or not to be: that is the question"


def card(parameters: int, val_loss: float = 2.5, tokens_per_second: float = 1000.0, name: str = "series/toy",
         **extra) -> str:
    facts = CardFacts(parameters=parameters, val_loss=val_loss, tokens_per_second=tokens_per_second,
                      measured_on="a test", context=16, vocab_size=20, **extra)
    return make_card(f"# {name}\n\nA model for tests.\n", facts, model_name=name)


def gptlib_model(folder: Path, seed: int = 0, n_embd: int = 16, val_loss: float = 2.5,
                 tokens_per_second: float = 1000.0) -> GPT:
    """Write a tiny gptlib model (weights, tokenizer, card) to ``folder``; return the model."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=n_embd)).eval()
    save_checkpoint(folder / "model.safetensors", model)
    tokenizer.save(folder / "tokenizer.json")
    (folder / "README.md").write_text(card(model.num_params(), val_loss, tokens_per_second))
    return model


def hf_model(folder: Path, seed: int = 0):
    """Write a tiny transformers GPT2LMHeadModel (safetensors) with a card to ``folder``; return the model."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=20, n_positions=16, n_embd=16, n_layer=1, n_head=2)).eval()
    model.save_pretrained(folder)
    (folder / "nested").mkdir()
    (folder / "nested" / "notes.txt").write_text("a file in a folder\n")
    (folder / "README.md").write_text(card(model.num_parameters(), name="series/hf-toy"))
    return model


def published(tmp_path: Path, name: str = "series/toy") -> tuple[LocalStore, GPT]:
    """A store in tmp_path/'store' with one tiny gptlib model published as ``name``."""
    model = gptlib_model(tmp_path / "src")
    store = LocalStore(tmp_path / "store")
    store.publish(tmp_path / "src", name)
    return store, model
