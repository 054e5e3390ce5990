"""gptlib.store.LocalStore: publish, list, search, tags and revisions, load, verify."""

import json
import os

import pytest
import torch
from store_fixtures import card, gptlib_model, published

from gptlib.store import (CardError, IntegrityError, LocalStore, Manifest, ManifestError, ModelNotFoundError,
                          search)
from gptlib.store.manifest import FileEntry


def tamper(path):
    os.chmod(path, 0o644)  # blobs are read-only files
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_publish_then_list_and_info(tmp_path):
    store, model = published(tmp_path)
    [info] = store.models()
    assert info.name == "series/toy" and info.tags == ("main",) and len(info.revision) == 40
    assert info.facts.parameters == model.num_params()
    assert info.size == sum(p.stat().st_size for p in (tmp_path / "src").iterdir())
    assert [e.path for e in store.manifest("series/toy").files] == ["README.md", "model.safetensors",
                                                                     "tokenizer.json"]


def test_revision_id_is_the_hash_of_the_manifest_and_follows_every_byte(tmp_path):
    store, _ = published(tmp_path)
    first = store.resolve("series/toy")
    assert store.publish(tmp_path / "src", "series/toy").revision == first  # same bytes, same revision
    text = store.manifest_text("series/toy")
    assert Manifest.from_json(text).revision == first
    readme = tmp_path / "src" / "README.md"
    readme.write_text(readme.read_text() + " ")
    second = store.publish(tmp_path / "src", "series/toy").revision
    assert second != first and store.resolve("series/toy", "main") == second
    assert store.revisions("series/toy") == sorted([first, second])
    assert store.manifest("series/toy", first).revision == first  # the old revision stays, by id


def test_tags_move_and_unknown_tags_list_the_known(tmp_path):
    store, _ = published(tmp_path)
    rev = store.resolve("series/toy")
    store.set_tag("series/toy", "v1", "main")
    assert store.tags("series/toy") == {"main": rev, "v1": rev}
    with pytest.raises(ModelNotFoundError, match="no tag of .series/toy. .v2. in this store; it has: main, v1"):
        store.resolve("series/toy", "v2")


def test_load_gives_the_same_model_and_tokenizer(tmp_path):
    store, model = published(tmp_path)
    loaded, tokenizer = store.load("series/toy")
    idx = torch.tensor([tokenizer.encode("to be")])
    with torch.no_grad():
        assert torch.equal(loaded(idx)[0], model(idx)[0])
    assert tokenizer.decode(tokenizer.encode("or not")) == "or not"


def test_a_blob_changed_on_disk_is_found_by_verify_and_refused_by_load(tmp_path):
    store, _ = published(tmp_path)
    entry = store.manifest("series/toy").file("model.safetensors")
    tamper(store.blob_path(entry.sha256))
    [problem] = store.verify()
    assert "model.safetensors" in problem and entry.sha256 in problem
    with pytest.raises(IntegrityError, match=f"model.safetensors: expected sha256 {entry.sha256} .*, got [0-9a-f]{{64}}"):
        store.load("series/toy")


def test_a_snapshot_changed_on_disk_is_refused(tmp_path):
    store, _ = published(tmp_path)
    folder = store.snapshot("series/toy")
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(IntegrityError, match="tokenizer.json"):
        store.snapshot("series/toy")


def test_verify_reports_a_missing_blob(tmp_path):
    store, _ = published(tmp_path)
    entry = store.manifest("series/toy").file("tokenizer.json")
    store.blob_path(entry.sha256).unlink()
    assert store.verify() == [f"series/toy@{store.resolve('series/toy')[:12]} tokenizer.json: blob "
                              f"{entry.sha256} is missing"]


def test_publishing_needs_a_card_with_facts(tmp_path):
    gptlib_model(tmp_path / "src")
    (tmp_path / "src" / "README.md").write_text("# no front matter\n")
    with pytest.raises(CardError, match="front matter"):
        LocalStore(tmp_path / "store").publish(tmp_path / "src", "series/toy")
    (tmp_path / "src" / "README.md").unlink()
    with pytest.raises(CardError, match="no model card"):
        LocalStore(tmp_path / "store").publish(tmp_path / "src", "series/toy")
    assert LocalStore(tmp_path / "store").names() == []


def test_search_filters_and_sorts(tmp_path):
    store = LocalStore(tmp_path / "store")
    for name, n_embd, loss, speed in [("series/big", 32, 1.8, 500.0), ("series/mid", 16, 2.0, 900.0),
                                      ("series/tiny", 8, 2.6, 3000.0)]:
        gptlib_model(tmp_path / name, n_embd=n_embd, val_loss=loss, tokens_per_second=speed)
        store.publish(tmp_path / name, name)
    models = store.models()
    params = {m.name: m.facts.parameters for m in models}
    assert [m.name for m in search(models, sort="val_loss")] == ["series/big", "series/mid", "series/tiny"]
    assert [m.name for m in search(models, sort="tokens_per_second")] == ["series/tiny", "series/mid", "series/big"]
    assert [m.name for m in search(models, max_parameters=params["series/mid"])] == ["series/mid", "series/tiny"]
    assert [m.name for m in search(models, max_val_loss=2.0, min_tokens_per_second=600)] == ["series/mid"]
    assert [m.name for m in search(models, "TINY")] == ["series/tiny"]
    with pytest.raises(ValueError, match="sort must be one of"):
        search(models, sort="speed")
    with pytest.raises(ValueError, match="max_val_loss must be a number or None, got 'low'"):
        search(models, max_val_loss="low")


@pytest.mark.parametrize("text, message", [
    ("not json", "must be JSON"),
    (json.dumps({"format": "other", "version": 1, "name": "a", "files": []}), "not a gptlib-store-manifest"),
    (json.dumps({"format": "gptlib-store-manifest", "version": 1, "name": "a", "files": [{"path": "x"}]}),
     "list of {path, size, sha256}"),
])
def test_malformed_manifests_are_refused(text, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(text)


def test_manifest_refuses_duplicates_and_a_path_that_is_file_and_folder():
    e = FileEntry("a", 1, "0" * 64)
    with pytest.raises(ManifestError, match="more than once"):
        Manifest("m", (e, e))
    with pytest.raises(ManifestError, match="both as a file and as a folder"):
        Manifest("m", (e, FileEntry("a/b", 1, "1" * 64)))
    with pytest.raises(ManifestError, match="size must be an integer >= 0"):
        FileEntry("a", -1, "0" * 64)


def test_card_facts_are_checked():
    with pytest.raises(CardError, match="parameters must be a positive integer"):
        card(0)
