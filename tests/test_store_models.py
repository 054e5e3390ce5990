"""The series' models in gptlib/models: each has a model card whose facts match its weights, and is small."""

from pathlib import Path

import pytest

import gptlib
from gptlib.checkpoint import load_gpt, read_checkpoint
from gptlib.store import LocalStore, read_facts

MODELS = Path(gptlib.__file__).parent / "models"
FOLDERS = sorted(p for p in MODELS.iterdir() if p.is_dir())


def test_the_store_offers_the_reference_and_more_sizes():
    names = [p.name for p in FOLDERS]
    assert "shakespeare-char" in names and len(names) >= 3, names


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_card_facts_match_the_weights(folder):
    facts = read_facts((folder / "README.md").read_text(encoding="utf-8"))
    model = load_gpt(folder / "model.safetensors")
    assert facts.parameters == model.num_params()
    assert facts.context == model.config.block_size and facts.vocab_size == model.config.vocab_size
    assert facts.val_loss == pytest.approx(read_checkpoint(folder / "model.safetensors").extra["val_loss"], abs=1e-4)
    assert facts.tokens_per_second > 0 and facts.measured_on and facts.license == "mit"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_file_is_under_5_mb_and_publishes(folder, tmp_path):
    assert {p.name for p in folder.iterdir()} == {"README.md", "model.safetensors", "tokenizer.json"}
    assert all(p.stat().st_size < 5_000_000 for p in folder.iterdir())
    info = LocalStore(tmp_path).publish(folder, "series/" + folder.name)
    assert info.facts is not None and info.size == sum(p.stat().st_size for p in folder.iterdir())


def test_sizes_differ_and_bigger_is_not_always_better():
    facts = {p.name: read_facts((p / "README.md").read_text(encoding="utf-8")) for p in FOLDERS}
    assert len({f.parameters for f in facts.values()}) == len(facts)
    biggest = max(facts, key=lambda n: facts[n].parameters)
    best = min(facts, key=lambda n: facts[n].val_loss)
    assert biggest != best, "the wide model is meant to show that size alone does not decide quality"
