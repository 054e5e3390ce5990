"""The committed reference model: its hash check, its size, and the validation loss its card states."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
from safetensors import safe_open

from gptlib import reference
from gptlib.data import load_text, sha256_of, split
from gptlib.reference import (
    MODEL_DIR,
    MODEL_FILE,
    MODEL_SHA256,
    TOKENIZER_FILE,
    TOKENIZER_SHA256,
    ReferenceModelError,
    load_reference_model,
    verify_reference_files,
)
from gptlib.tokenizers import CharTokenizer
from gptlib.train import evaluate

CARD = MODEL_DIR / "README.md"


@pytest.fixture(scope="module")
def loaded():
    return load_reference_model(device="cpu")


def test_committed_files_pass_the_hash_check():
    assert verify_reference_files() == MODEL_DIR
    assert sha256_of(MODEL_DIR / MODEL_FILE) == MODEL_SHA256


def test_model_file_is_at_most_5_mb():
    assert (MODEL_DIR / MODEL_FILE).stat().st_size <= 5 * 1024 * 1024


def test_model_card_records_the_hashes_and_the_loss():
    card = CARD.read_text(encoding="utf-8")
    assert MODEL_SHA256 in card and TOKENIZER_SHA256 in card
    assert f"Validation loss: {reference.VAL_LOSS:.3f} nats per character" in card
    for heading in ("## Results", "## Model", "## Training recipe", "## Data licence", "## Intended use",
                    "## Limitations"):
        assert heading in card
    assert "public domain" in card and "python tools/train_reference_model.py" in card


@pytest.mark.parametrize("name", [MODEL_FILE, TOKENIZER_FILE])
def test_a_modified_copy_is_refused_naming_file_and_both_hashes(tmp_path, name):
    copy = tmp_path / "shakespeare-char"
    shutil.copytree(MODEL_DIR, copy)
    path = copy / name
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01  # one bit, in the last weights (or inside the tokenizer's JSON)
    path.write_bytes(bytes(data))
    actual = sha256_of(path)
    expected = MODEL_SHA256 if name == MODEL_FILE else TOKENIZER_SHA256
    with pytest.raises(ReferenceModelError) as info:
        load_reference_model(device="cpu", folder=copy)
    message = str(info.value)
    assert str(path) in message and expected in message and actual in message
    assert "git checkout" in message


def test_the_untouched_copy_loads_and_a_missing_file_is_named(tmp_path):
    copy = tmp_path / "shakespeare-char"
    shutil.copytree(MODEL_DIR, copy)
    model, _ = load_reference_model(device="cpu", folder=copy)
    assert not model.training
    (copy / TOKENIZER_FILE).unlink()
    with pytest.raises(ReferenceModelError, match=re.escape(str(copy / TOKENIZER_FILE)) + " is missing"):
        load_reference_model(device="cpu", folder=copy)


def test_loading_never_unpickles(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load (pickle) was called")

    monkeypatch.setattr(torch, "load", refuse)
    model, tokenizer = load_reference_model(device="cpu")
    assert tokenizer.vocab_size == model.config.vocab_size == 65


def test_model_config_and_tokenizer(loaded):
    model, tokenizer = loaded
    assert not model.training
    assert (model.config.n_layer, model.config.n_head, model.config.n_embd, model.config.block_size) == (4, 4, 128, 128)
    assert model.config.block_size == reference.EVAL_BLOCK_SIZE
    assert tokenizer == CharTokenizer.from_text(load_text("tinyshakespeare"))
    with safe_open(str(MODEL_DIR / MODEL_FILE), framework="pt") as f:
        meta = json.loads(f.metadata()["gptlib"])
    assert meta["model_config"]["vocab_size"] == 65 and meta["optimizer"] is None
    assert round(meta["extra"]["val_loss"], 3) == reference.VAL_LOSS


def test_full_validation_loss_is_the_model_cards(loaded):
    model, tokenizer = loaded
    ids = torch.tensor(tokenizer.encode(load_text("tinyshakespeare")))
    _, val_ids = split(ids, 0.9)
    val_loss = evaluate(model, val_ids, reference.EVAL_BLOCK_SIZE, batch_size=64)
    assert round(val_loss, 3) == reference.VAL_LOSS, val_loss
