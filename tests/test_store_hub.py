"""Hugging Face's own client (huggingface_hub, transformers) downloading from gptlib.store's server."""

import json
import subprocess
import sys

import pytest
import torch
from store_fixtures import hf_model, published

from gptlib.store import IntegrityError, LocalStore, StoreServer, install
from gptlib.store.server import Faults

hub = pytest.importorskip("huggingface_hub")


@pytest.fixture(autouse=True)
def _private_hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def hf_store(tmp_path):
    model = hf_model(tmp_path / "hf-src")
    store = LocalStore(tmp_path / "store")
    store.publish(tmp_path / "hf-src", "series/hf-toy")
    return store, model


def test_snapshot_download_and_hf_hub_download_get_every_file_byte_identical(hf_store, tmp_path):
    store, _ = hf_store
    with StoreServer(store) as server:
        path = hub.snapshot_download("series/hf-toy", endpoint=server.url, cache_dir=tmp_path / "c1")
        one = hub.hf_hub_download("series/hf-toy", "config.json", endpoint=server.url, cache_dir=tmp_path / "c2")
    manifest = store.manifest("series/hf-toy")
    for entry in manifest.files:
        assert (tmp_path / "c1").exists()
        assert open(f"{path}/{entry.path}", "rb").read() == store.read_blob(entry.sha256), entry.path
    assert open(one, "rb").read() == store.read_blob(manifest.file("config.json").sha256)
    assert manifest.revision in path  # the client keeps our revision id as its commit


def test_transformers_loads_a_model_from_our_server_by_name(hf_store, tmp_path):
    store, model = hf_store
    idx = [[1, 2, 3, 4]]
    with torch.no_grad():
        expected = model(torch.tensor(idx)).logits
    script = ("import json, torch; from transformers import AutoModelForCausalLM;"
              "m = AutoModelForCausalLM.from_pretrained('series/hf-toy').eval();"
              f"print(json.dumps(m(torch.tensor({idx})).logits.tolist()))")
    with StoreServer(store) as server:
        env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "sub-home"), "HF_HUB_DISABLE_TELEMETRY": "1",
               "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = torch.tensor(json.loads(out.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(got, expected)


def test_the_hub_client_accepts_same_size_wrong_bytes_which_gptlib_refuses_and_verify_finds(hf_store, tmp_path):
    store, _ = hf_store
    entry = store.manifest("series/hf-toy").file("model.safetensors")
    with StoreServer(store, faults=Faults(corrupt=frozenset({"model.safetensors"}))) as server:
        path = hub.snapshot_download("series/hf-toy", endpoint=server.url, cache_dir=tmp_path / "cache")
        received = open(f"{path}/model.safetensors", "rb").read()
        assert len(received) == entry.size and received != store.read_blob(entry.sha256)  # accepted: size only
        with pytest.raises(IntegrityError, match=f"model.safetensors: expected sha256 {entry.sha256}"):
            install(server.url, "series/hf-toy", into=LocalStore(tmp_path / "laptop"), progress=False)
        report = hub.HfApi(endpoint=server.url).verify_repo_checksums("series/hf-toy", cache_dir=tmp_path / "cache")
    assert [m["path"] for m in report.mismatches] == ["model.safetensors"]
    assert report.mismatches[0]["expected"] == entry.sha256


def test_unknown_repo_file_and_revision_get_the_hub_clients_own_errors(hf_store, tmp_path):
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    store, _ = hf_store
    with StoreServer(store) as server:
        with pytest.raises(RepositoryNotFoundError):
            hub.snapshot_download("series/nope", endpoint=server.url, cache_dir=tmp_path / "c")
        with pytest.raises(EntryNotFoundError):
            hub.hf_hub_download("series/hf-toy", "nope.json", endpoint=server.url, cache_dir=tmp_path / "c")
        with pytest.raises(RevisionNotFoundError):
            hub.snapshot_download("series/hf-toy", revision="v9", endpoint=server.url, cache_dir=tmp_path / "c")


def test_tree_listing_recursive_and_not(hf_store):
    store, _ = hf_store
    with StoreServer(store) as server:
        api = hub.HfApi(endpoint=server.url)
        top = {(type(e).__name__, e.path) for e in api.list_repo_tree("series/hf-toy")}
        deep = {e.path for e in api.list_repo_tree("series/hf-toy", recursive=True)}
        weights = [e for e in api.list_repo_tree("series/hf-toy") if e.path == "model.safetensors"]
    assert ("RepoFolder", "nested") in top and ("RepoFile", "nested/notes.txt") not in top
    assert {"nested", "nested/notes.txt", "config.json", "model.safetensors", "README.md"} <= deep
    assert weights[0].lfs.sha256 == store.manifest("series/hf-toy").file("model.safetensors").sha256


def test_a_gptlib_model_downloads_with_the_hub_client_too(tmp_path):
    store, _ = published(tmp_path)
    with StoreServer(store) as server:
        path = hub.snapshot_download("series/toy", endpoint=server.url, cache_dir=tmp_path / "c")
    assert sorted(p.name for p in __import__("pathlib").Path(path).iterdir()) == [
        "README.md", "model.safetensors", "tokenizer.json"]
