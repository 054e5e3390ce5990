"""gptlib.hf.pretrained_gpt2: the pretrained GPT-2, offline-first, tested without the real hub.

- a small GPT2LMHeadModel saved to a local folder loads, converts with from_hf, same logits;
- the same model served by a hub on 127.0.0.1 (tests/test_hf_hub.py's own tiny HTTP server) is
  downloaded into a temporary cache, then found there once the server is gone;
- no hub and an empty cache: None and a reason, within the timeout, nothing raised;
- nothing global changes, and nothing is written outside the temporary cache.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest
import torch
from helpers import assert_global_state_unchanged, free_port, global_state

from gptlib.hf import MODEL_FILES, TOKENIZER_FILES, from_hf, pretrained_gpt2

transformers = pytest.importorskip("transformers")
huggingface_hub = pytest.importorskip("huggingface_hub")

REPO = "tiny/gpt2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small random GPT-2 (and a 300-token byte-level BPE tokenizer) saved as from_pretrained expects."""
    from gptlib.data import load_text
    from gptlib.tokenizers import BPETokenizer
    from gptlib.tokenizers.gpt2_files import write_gpt2_files

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=300, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                                  bos_token_id=299, eos_token_id=299)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)  # config.json, model.safetensors
    tok = BPETokenizer.train(load_text("tinyshakespeare", progress=False)[:20_000], vocab_size=300)
    write_gpt2_files(tok, folder / "vocab.json", folder / "merges.txt")
    return folder


def same_logits(found):
    gpt = from_hf(found.model)
    idx = torch.tensor([found.tokenizer.encode("To be, or not to be")])
    with torch.no_grad():
        torch.testing.assert_close(gpt(idx)[0], found.model(idx).logits, rtol=1e-5, atol=1e-5)
    return True



class Hub:
    """The part of the hub's HTTP interface hf_hub_download uses: HEAD and GET of
    /{repo}/resolve/{revision}/{file}, with the commit, ETag and length headers."""

    def __init__(self, folder):
        self.requests = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, body: bool):
                hub.requests.append((self.command, self.path))
                prefix = f"/{REPO}/resolve/"
                if not self.path.startswith(prefix):
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.end_headers()
                    return
                path = folder / self.path[len(prefix):].split("/", 1)[1]
                if not path.is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):
                self.answer(False)

            def do_GET(self):
                self.answer(True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.server is not None:  # closing twice is fine
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None


@pytest.fixture()
def hub(saved):
    server = Hub(saved)
    yield server
    server.close()


@pytest.fixture()
def real_cache_untouched():
    """The user's own hub cache is the same after the test (the tests use tmp_path only)."""
    cache = huggingface_hub.constants.HF_HUB_CACHE

    def listing():
        import os

        return sorted(os.path.join(d, f) for d, _, files in os.walk(cache) for f in files) if os.path.isdir(cache) else []

    before = listing()
    yield
    assert listing() == before


# ---------------------------------------------------------------- a local folder


def test_local_folder_loads_and_converts(saved, real_cache_untouched):
    found = pretrained_gpt2(saved)
    assert found.available and found.reason is None and found.folder == saved
    assert isinstance(found.model, transformers.GPT2LMHeadModel) and not found.model.training
    assert isinstance(found.tokenizer, transformers.GPT2Tokenizer) and len(found.tokenizer) == 300
    assert same_logits(found)


def test_only_what_is_asked_for(saved):
    assert pretrained_gpt2(saved, model=False).model is None
    assert pretrained_gpt2(saved, tokenizer=False).tokenizer is None
    with pytest.raises(ValueError, match="nothing to load"):
        pretrained_gpt2(saved, model=False, tokenizer=False)
    with pytest.raises(ValueError, match="timeout_s must be a positive number"):
        pretrained_gpt2(saved, timeout_s=0)


def test_a_folder_without_the_files_says_which(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="has no model.safetensors, vocab.json, merges.txt"):
        pretrained_gpt2(tmp_path)


def test_loading_changes_no_global_state(saved):
    before = global_state()
    pretrained_gpt2(saved)
    assert_global_state_unchanged(before)


# ---------------------------------------------------------------- a hub on 127.0.0.1


def test_download_from_a_hub_then_from_the_cache_when_it_is_gone(saved, hub, tmp_path, real_cache_untouched):
    before = global_state()
    found = pretrained_gpt2(REPO, cache_dir=tmp_path, endpoint=hub.endpoint, timeout_s=5)
    assert_global_state_unchanged(before)
    assert found.available and found.folder.parent.name == "snapshots" and found.folder.name == COMMIT
    assert str(found.folder).startswith(str(tmp_path))
    assert same_logits(found)
    fetched = {path.rsplit("/", 1)[1] for method, path in hub.requests if method == "GET"}
    assert fetched == set(MODEL_FILES + TOKENIZER_FILES)  # only these: no pickled weights, nothing else

    hub.close()  # the hub goes away; the files are in the cache
    again = pretrained_gpt2(REPO, cache_dir=tmp_path, endpoint=hub.endpoint, timeout_s=2)
    assert again.available and again.folder == found.folder
    assert same_logits(again)


def test_tokenizer_only_fetches_only_the_tokenizer(hub, tmp_path):
    found = pretrained_gpt2(REPO, model=False, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert found.model is None and len(found.tokenizer) == 300
    assert {path.rsplit("/", 1)[1] for method, path in hub.requests if method == "GET"} == set(TOKENIZER_FILES)


def test_a_name_the_hub_does_not_have_is_an_error_not_offline(hub, tmp_path):
    with pytest.raises(huggingface_hub.errors.RepositoryNotFoundError):
        pretrained_gpt2("nobody/nothing", cache_dir=tmp_path, endpoint=hub.endpoint)


# ---------------------------------------------------------------- no hub


def test_no_hub_and_an_empty_cache_gives_none_and_the_reason_quickly(tmp_path, real_cache_untouched):
    endpoint = f"http://127.0.0.1:{free_port()}"
    before = global_state()
    started = time.perf_counter()
    found = pretrained_gpt2("gpt2", cache_dir=tmp_path, endpoint=endpoint, timeout_s=2)
    elapsed = time.perf_counter() - started
    assert_global_state_unchanged(before)
    assert (found.model, found.tokenizer, found.folder, found.available) == (None, None, None, False)
    assert found.reason.startswith("'gpt2' is not available: the hub at " + endpoint)
    assert "could not be reached in 2 s (ConnectionRefusedError" in found.reason and "not in the local cache" in found.reason
    assert elapsed < 3, elapsed  # one request, no retries with back-off
    assert not any(tmp_path.rglob("*.safetensors"))


def test_hf_hub_offline_is_respected_without_a_request(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    found = pretrained_gpt2(REPO, cache_dir=tmp_path, endpoint=hub.endpoint)
    assert not found.available and "HF_HUB_OFFLINE is set" in found.reason
    assert hub.requests == []
