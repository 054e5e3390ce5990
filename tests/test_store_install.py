"""gptlib.store.install against servers on 127.0.0.1 that work, drop the connection, ignore Range, stall or lie."""

import io
import time

import pytest
from helpers import assert_global_state_unchanged, global_state
from store_fixtures import published

from gptlib.store import (Faults, FolderRemote, IntegrityError, LocalStore, ModelNotFoundError,
                          StoreConnectionError, StoreServer, install)
from gptlib.store.manifest import FileEntry, Manifest


def blob_requests(server):
    return [(m, status) for m, path, status in server.requests if "/blobs/" in path]


def test_install_over_http_gives_the_same_bytes_and_leaves_global_state_alone(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store) as server:
        before = global_state()
        done = install(server.url, "series/toy", into=laptop, progress=False)
        assert_global_state_unchanged(before)
    assert done.info.revision == store.resolve("series/toy")
    assert set(done.files.values()) == {"downloaded"}
    assert laptop.verify() == [] and laptop.tags("series/toy") == {"main": done.info.revision}
    for entry in store.manifest("series/toy").files:
        assert laptop.read_blob(entry.sha256) == store.read_blob(entry.sha256)


def test_install_from_a_folder_and_again_is_a_no_op(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    install(FolderRemote(store.root), "series/toy", into=laptop, progress=False)
    again = install(str(store.root), "series/toy", into=laptop, progress=False)
    assert set(again.files.values()) == {"present"}


def test_a_cut_transfer_leaves_no_model_and_resumes_with_a_206(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store, faults=Faults(cut_after=5000)) as server:
        with pytest.raises(StoreConnectionError, match=r"model.safetensors: .* after 5,000 of [\d,]+ bytes"):
            install(server.url, "series/toy", into=laptop, progress=False)
        assert laptop.names() == [] and laptop.models() == []
        [partial] = (laptop.root / "partial").glob("*.part")
        assert partial.stat().st_size == 5000
        done = install(server.url, "series/toy", into=laptop, progress=False)
        assert done.files["model.safetensors"] == "resumed"
        assert blob_requests(server)[-2] == ("GET", 206)
    assert laptop.verify() == [] and not list((laptop.root / "partial").glob("*.part"))


def test_a_server_that_ignores_range_makes_the_blob_start_over(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store, faults=Faults(cut_after=5000, ignore_range=True)) as server:
        with pytest.raises(StoreConnectionError):
            install(server.url, "series/toy", into=laptop, progress=False)
        done = install(server.url, "series/toy", into=laptop, progress=False)
    assert done.files["model.safetensors"] == "restarted"
    assert laptop.verify() == []


def test_a_stalled_server_gives_an_error_not_a_hang(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store, faults=Faults(stall_s=3)) as server:
        start = time.monotonic()
        with pytest.raises(StoreConnectionError, match="stopped after 0 of"):
            install(server.url, "series/toy", into=laptop, progress=False, timeout=0.5)
        assert time.monotonic() - start < 2.5
    assert laptop.names() == []


def test_same_size_wrong_bytes_are_refused_naming_the_file_and_both_hashes(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    expected = store.manifest("series/toy").file("model.safetensors").sha256
    with StoreServer(store, faults=Faults(corrupt=frozenset({"model.safetensors"}))) as server:
        with pytest.raises(IntegrityError, match=f"model.safetensors: expected sha256 {expected}, got [0-9a-f]{{64}}"):
            install(server.url, "series/toy", into=laptop, progress=False)
    assert laptop.names() == [] and not list((laptop.root / "partial").glob("*.part"))
    assert not laptop.blob_path(expected).exists()


class LyingRemote:
    """A remote whose blobs or manifest are not what it promises."""

    def __init__(self, store, *, extra_bytes=b"", wrong_revision=False):
        self.store, self.extra, self.wrong_revision = store, extra_bytes, wrong_revision

    def index(self):
        return self.store.index()

    def tags(self, name):
        tags = self.store.tags(name)
        return {k: "f" * 40 for k in tags} if self.wrong_revision else tags

    def manifest_text(self, name, revision):
        return self.store.manifest_text(name, "main")

    def open_blob(self, digest, offset=0):
        return io.BytesIO(self.store.read_blob(digest)[offset:] + self.extra), offset


def test_more_bytes_than_the_manifest_says_are_refused(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with pytest.raises(IntegrityError, match="README.md: the remote sent more than the manifest's"):
        install(LyingRemote(store, extra_bytes=b"x"), "series/toy", into=laptop, progress=False)
    assert laptop.names() == []


def test_a_manifest_that_does_not_hash_to_its_revision_id_is_refused(tmp_path):
    store, _ = published(tmp_path)
    with pytest.raises(IntegrityError, match="by its own hash; refused"):
        install(LyingRemote(store, wrong_revision=True), "series/toy", into=LocalStore(tmp_path / "l"), progress=False)


def test_unknown_names_list_close_matches_locally_and_remotely(tmp_path):
    store, _ = published(tmp_path)
    with pytest.raises(ModelNotFoundError, match="no model 'series/toi' in this store; did you mean: series/toy"):
        store.info("series/toi")
    with StoreServer(store) as server:
        with pytest.raises(ModelNotFoundError, match="did you mean: series/toy"):
            install(server.url, "series/toi", into=LocalStore(tmp_path / "l"), progress=False)


def test_an_unreachable_server_says_so(tmp_path):
    with pytest.raises(StoreConnectionError, match="cannot reach the store at http://127.0.0.1:9 .*offline=True"):
        install("http://127.0.0.1:9", "series/toy", into=LocalStore(tmp_path / "l"), progress=False, timeout=2)


def test_offline_answers_from_the_local_store_alone(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store) as server:
        install(server.url, "series/toy", into=laptop, progress=False)
        seen = len(server.requests)
        done = install(server.url, "series/toy", into=laptop, offline=True)
        with pytest.raises(ModelNotFoundError, match="not installed .* offline mode makes no requests"):
            install(server.url, "series/other", into=laptop, offline=True)
        assert len(server.requests) == seen
    assert done.info.revision == store.resolve("series/toy") and done.files == {}


def test_a_pickle_in_a_manifest_is_refused_before_any_blob_is_requested(tmp_path):
    store, _ = published(tmp_path)
    blob = store.add_blob(tmp_path / "src" / "README.md", "README.md")
    bad = Manifest("series/pickled", (blob, FileEntry("pytorch_model.bin", blob.size, blob.sha256)))
    store.add_manifest(bad)
    with StoreServer(store) as server:
        with pytest.raises(Exception, match="pytorch_model.bin: refused, a .bin file is \\(or may be\\) a pickle"):
            install(server.url, "series/pickled", into=LocalStore(tmp_path / "l"), progress=False)
        assert blob_requests(server) == []
