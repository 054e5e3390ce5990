"""gptlib.store refuses hostile input with a clear error: pickles, unsafe paths, symlinks, bad digests and names,
lying safetensors headers; and nothing it does ever unpickles."""

import hashlib
import io
import json
import pickle
import re
import struct
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import pytest
import torch
from safetensors.torch import save_file
from store_fixtures import gptlib_model, published

from gptlib.store import (
    FolderRemote,
    HTTPRemote,
    LocalStore,
    Manifest,
    ManifestError,
    ModelNotFoundError,
    StoreServer,
    UnsafeFileError,
    UnsafePathError,
    check_safetensors,
    install,
)
from gptlib.store.manifest import FORMAT, VERSION, FileEntry
from gptlib.store.names import (
    check_digest,
    check_name,
    check_path,
    check_revision,
    check_tag,
)
from gptlib.store.remote import API
from gptlib.store.safety import PICKLE_SUFFIXES, check_file

GOOD_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of b""


def stored_files(store):
    """Every file (and symlink) under a store's root: a refused operation must leave this empty or unchanged."""
    return sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if not p.is_dir())


def tree(folder):
    """Every path under ``folder``, for checking that nothing was written outside a store."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# ---------------------------------------------------------------------------------------------- pickles


def assert_publish_refused(folder, message, tmp_path):
    store = LocalStore(tmp_path / "store")
    with pytest.raises(UnsafeFileError, match=message):
        store.publish(folder, "series/toy")
    assert stored_files(store) == [] and store.names() == []


@pytest.mark.parametrize("name", [f"weights{s}" for s in PICKLE_SUFFIXES] + ["nested/WEIGHTS.PT"])
def test_a_pickle_by_name_is_refused_and_nothing_is_stored(tmp_path, name):
    gptlib_model(tmp_path / "src")
    target = tmp_path / "src" / name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(b"harmless bytes, but the name says pickle")
    suffix = re.escape(target.suffix)
    assert_publish_refused(tmp_path / "src", f"{re.escape(name)}: refused, a {suffix} file is \\(or may be\\) a "
                                             f"pickle.*keeps weights only in safetensors", tmp_path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["weights.dat", "model.safetensors", "notes.txt"])
def test_a_pickle_by_its_first_bytes_is_refused_whatever_its_name(tmp_path, protocol, name):
    gptlib_model(tmp_path / "src")
    (tmp_path / "src" / name).write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=protocol))
    assert_publish_refused(tmp_path / "src", f"{re.escape(name)}: refused, its first bytes are a pickle "
                                             f"\\(protocol {protocol}\\), whatever its name", tmp_path)


def test_a_torch_save_archive_is_refused(tmp_path):
    model = gptlib_model(tmp_path / "src")
    torch.save(model.state_dict(), tmp_path / "src" / "weights.dat")
    assert (tmp_path / "src" / "weights.dat").read_bytes()[:4] == b"PK\x03\x04"  # a zip, not a bare pickle
    assert_publish_refused(tmp_path / "src", "weights.dat: refused, it is a zip archive holding a pickle "
                                             "\\(what torch.save writes\\)", tmp_path)


def test_a_legacy_torch_save_file_is_refused(tmp_path):
    model = gptlib_model(tmp_path / "src")
    torch.save(model.state_dict(), tmp_path / "src" / "weights.dat", _use_new_zipfile_serialization=False)
    assert_publish_refused(tmp_path / "src", "weights.dat: refused, its first bytes are a pickle", tmp_path)


def test_a_zip_without_a_pickle_is_accepted(tmp_path):
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as z:
        z.writestr("notes/readme.txt", "just text")
    check_file(tmp_path / "data.zip", "data.zip")  # no error: only a zip holding a pickle is refused


def test_a_pickle_that_bypassed_publish_is_refused_on_install_and_on_load(tmp_path):
    store, model = published(tmp_path)
    evil = tmp_path / "evil.dat"
    torch.save(model.state_dict(), evil)
    card = store.manifest("series/toy").file("README.md")
    # add_blob only hashes; a hostile store (or a hand-edited one) can list a pickle under an innocent name
    bad = Manifest("series/evil", (card, store.add_blob(evil, "weights.dat")))
    store.add_manifest(bad)
    laptop = LocalStore(tmp_path / "laptop")
    with pytest.raises(UnsafeFileError, match="weights.dat: refused, it is a zip archive holding a pickle"):
        install(FolderRemote(store.root), "series/evil", into=laptop, progress=False)
    pickled = bad.file("weights.dat").sha256
    assert laptop.names() == [] and not laptop.blob_path(pickled).exists()
    assert not list((laptop.root / "partial").glob("*.part"))
    # the same pickle as the store's own model.safetensors: load refuses it before any weights are read
    snuck = Manifest("series/snuck", (card, FileEntry("model.safetensors", bad.file("weights.dat").size, pickled),
                                      store.manifest("series/toy").file("tokenizer.json")))
    store.add_manifest(snuck)
    with pytest.raises(UnsafeFileError, match="model.safetensors: refused, it is a zip archive holding a pickle"):
        store.load("series/snuck")


# ---------------------------------------------------------------------------------------------- paths

BAD_PATHS = ["../x", "/etc/passwd", "a//b", "a\\b", "C:x", ".", "a/../../b", "a/", "a/./b", "", "a\0b"]
PATH_RULE = "it must be relative, with '/' between parts and no '..', '.' or empty parts"


def hand_written_manifest(name, path, entry):
    """A manifest's JSON, written by hand as a hostile store would, listing ``entry``'s blob under ``path``."""
    return json.dumps({"format": FORMAT, "version": VERSION, "name": name,
                       "files": [{"path": path, "size": entry.size, "sha256": entry.sha256}]},
                      sort_keys=True, separators=(",", ":"))


def plant_manifest(store, name, text):
    """Write ``text`` into ``store`` as revision (its hash) of ``name``, tagged main, bypassing every check."""
    revision = hashlib.sha256(text.encode()).hexdigest()[:40]
    model = store.root / "models" / name
    (model / "revisions").mkdir(parents=True, exist_ok=True)
    (model / "refs").mkdir(exist_ok=True)
    (model / "revisions" / f"{revision}.json").write_text(text)
    (model / "refs" / "main").write_text(revision + "\n")
    return revision


@pytest.mark.parametrize("path", BAD_PATHS)
def test_check_path_and_file_entries_refuse_unsafe_paths(path):
    for attempt in (lambda: check_path(path), lambda: FileEntry(path, 1, GOOD_DIGEST)):
        with pytest.raises(UnsafePathError, match=re.escape(f"file path {path!r} is not allowed in a model: "
                                                            f"{PATH_RULE}")):
            attempt()


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a//b", "a\\b", "C:x", ".", "a/../../b"])
@pytest.mark.parametrize("via", ["folder", "http"])
def test_a_manifest_with_an_unsafe_path_is_refused_on_install_and_writes_nothing(tmp_path, path, via):
    remote = LocalStore(tmp_path / "remote")
    (tmp_path / "payload.txt").write_text("written outside the store if the path were followed\n")
    entry = remote.add_blob(tmp_path / "payload.txt", "payload.txt")
    plant_manifest(remote, "series/evil", hand_written_manifest("series/evil", path, entry))
    laptop = LocalStore(tmp_path / "deep" / "laptop")
    before, siblings = tree(tmp_path), sorted(p.name for p in tmp_path.parent.iterdir())
    with pytest.raises(UnsafePathError, match=re.escape(f"refused manifest: file path {path!r} is not allowed")):
        if via == "http":
            with StoreServer(remote) as server:
                install(server.url, "series/evil", into=laptop, progress=False)
        else:
            install(FolderRemote(remote.root), "series/evil", into=laptop, progress=False)
        laptop.snapshot("series/evil")  # had install let it in, this would write the file under its path
    assert tree(tmp_path) == before, "install wrote files although it refused the manifest"
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == siblings
    assert laptop.names() == [] and stored_files(laptop) == []


@pytest.mark.parametrize("path", ["../x", "a/../../b", "/etc/passwd"])
def test_a_planted_manifest_in_a_local_store_is_refused_when_used(tmp_path, path):
    store, _ = published(tmp_path)
    entry = store.manifest("series/toy").file("README.md")
    plant_manifest(store, "series/evil", hand_written_manifest("series/evil", path, entry))
    before = tree(tmp_path)
    for use in (store.manifest, store.snapshot, store.load, store.info):
        with pytest.raises(UnsafePathError, match=re.escape(f"file path {path!r} is not allowed")):
            use("series/evil")
    assert tree(tmp_path) == before


def test_a_deeply_nested_manifest_from_a_remote_is_refused_not_a_crash(tmp_path):
    remote = LocalStore(tmp_path / "remote")
    plant_manifest(remote, "series/evil", "[" * 100_000 + "]" * 100_000)
    laptop = LocalStore(tmp_path / "laptop")
    with pytest.raises(ManifestError, match="a manifest must be JSON of the expected form: this one is nested too"):
        install(FolderRemote(remote.root), "series/evil", into=laptop, progress=False)
    assert stored_files(laptop) == []


# ---------------------------------------------------------------------------------------------- symlinks


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_symlink_in_a_published_folder_is_refused(tmp_path, kind):
    gptlib_model(tmp_path / "src")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the model\n")
    link = tmp_path / "src" / "extra"
    link.symlink_to(outside / "secret.txt" if kind == "file" else outside)
    store = LocalStore(tmp_path / "store")
    with pytest.raises(UnsafePathError, match="extra is a symlink; publish real files only"):
        store.publish(tmp_path / "src", "series/toy")
    assert stored_files(store) == []


def move_out_and_link(store, rel, outside):
    """Replace the store's folder ``rel`` by a symlink to ``outside`` (holding what it held)."""
    inside = store.root / rel
    if inside.exists():
        inside.rename(outside)
    else:
        outside.mkdir()
    inside.symlink_to(outside, target_is_directory=True)
    return inside


def test_a_symlinked_blobs_folder_is_refused(tmp_path):
    store, _ = published(tmp_path)
    entry = store.manifest("series/toy").file("model.safetensors")
    link = move_out_and_link(store, "blobs", tmp_path / "outside")
    for use in (lambda: store.read_blob(entry.sha256), lambda: store.blob_path(entry.sha256),
                lambda: store.load("series/toy")):
        with pytest.raises(UnsafePathError, match=f"refused: {re.escape(str(link))} is a symlink, and the store "
                                                  f"never follows one"):
            use()


def test_a_symlinked_blob_file_is_refused(tmp_path):
    store, _ = published(tmp_path)
    entry = store.manifest("series/toy").file("tokenizer.json")
    blob = store.blob_path(entry.sha256)
    blob.unlink()
    (tmp_path / "elsewhere.json").write_bytes(b"{}")
    blob.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(UnsafePathError, match=f"{re.escape(str(blob))} is a symlink"):
        store.read_blob(entry.sha256)
    with pytest.raises(UnsafePathError, match="is a symlink"):
        store.snapshot("series/toy")


def test_a_symlinked_snapshots_folder_is_refused_and_nothing_is_written_there(tmp_path):
    store, _ = published(tmp_path)
    move_out_and_link(store, "snapshots", tmp_path / "outside")
    with pytest.raises(UnsafePathError, match="snapshots is a symlink, and the store never follows one"):
        store.snapshot("series/toy")
    with pytest.raises(UnsafePathError, match="snapshots is a symlink"):
        store.load("series/toy")
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_symlinked_snapshot_file_is_refused(tmp_path):
    store, _ = published(tmp_path)
    folder = store.snapshot("series/toy")
    (tmp_path / "copy.json").write_bytes((folder / "tokenizer.json").read_bytes())  # even with the right bytes
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer.json").symlink_to(tmp_path / "copy.json")
    with pytest.raises(UnsafePathError, match="tokenizer.json is a symlink"):
        store.snapshot("series/toy")


def test_a_symlinked_model_folder_is_refused(tmp_path):
    store, _ = published(tmp_path)
    move_out_and_link(store, "models/series", tmp_path / "outside")
    with pytest.raises((UnsafePathError, ModelNotFoundError)) as e:
        store.manifest("series/toy")
    if isinstance(e.value, UnsafePathError):
        assert "is a symlink" in str(e.value)
    # writing through it is refused too, so the folder outside never changes
    before = tree(tmp_path / "outside")
    with pytest.raises((UnsafePathError, ModelNotFoundError)):
        store.set_tag("series/toy", "v2", "main")
    gptlib_model(tmp_path / "src2", seed=1)
    with pytest.raises(UnsafePathError, match="is a symlink"):
        store.publish(tmp_path / "src2", "series/other")
    assert tree(tmp_path / "outside") == before


def test_a_symlinked_partial_folder_is_refused_on_install(tmp_path):
    store, _ = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    move_out_and_link(laptop, "partial", tmp_path / "outside")
    with pytest.raises(UnsafePathError, match="partial is a symlink"):
        install(FolderRemote(store.root), "series/toy", into=laptop, progress=False)
    assert list((tmp_path / "outside").iterdir()) == [] and laptop.names() == []


# ---------------------------------------------------------------------------------------------- digests

BAD_DIGESTS = ["", "abc", "a" * 63, "a" * 65, GOOD_DIGEST.upper(), "../" + "a" * 60, "../" + "a" * 61,
               "g" + "a" * 63, "a" * 63 + "\0", "a" * 64 + "\n", " " + "a" * 63, "a" * 32 + "/" + "a" * 31]
DIGEST_RULE = "is not a SHA-256: it must be exactly 64 lowercase hex digits (0-9, a-f)"


@pytest.mark.parametrize("digest", BAD_DIGESTS + [None, 64, b"a" * 64, ["a" * 64]])
def test_check_digest_refuses_anything_but_64_lowercase_hex_digits(digest):
    with pytest.raises(UnsafePathError, match=re.escape(f"digest {digest!r} {DIGEST_RULE}")):
        check_digest(digest)


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_blob_lookups_refuse_a_bad_digest_before_building_a_path(tmp_path, monkeypatch, digest):
    store, _ = published(tmp_path)

    def no_path(*parts):
        raise AssertionError(f"a path was built from {parts!r}")

    monkeypatch.setattr(store, "_inside", no_path)
    lookups = [store.blob_path, store.read_blob, store.partial_path, FolderRemote(store.root).open_blob,
               lambda d: FileEntry("a", 1, d)]
    for lookup in lookups:
        with pytest.raises(UnsafePathError, match=re.escape(f"digest {digest!r} {DIGEST_RULE}")):
            lookup(digest)


def test_check_digest_accepts_a_sha256():
    assert check_digest(GOOD_DIGEST) == GOOD_DIGEST


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_blob_route_answers_400_for_a_malformed_digest_and_404_for_an_unknown_one(tmp_path):
    store, _ = published(tmp_path)
    known = store.manifest("series/toy").file("README.md")
    with StoreServer(store) as server:
        for digest in [d for d in BAD_DIGESTS if d]:
            status, body = http_get(f"{server.url}{API}/blobs/{urllib.parse.quote(digest, safe='')}")
            assert status == 400, (digest, status, body)
            assert json.loads(body)["error"] == f"digest {digest!r} {DIGEST_RULE}"
        status, body = http_get(f"{server.url}{API}/blobs/{GOOD_DIGEST}")
        assert status == 404 and json.loads(body)["error"] == f"no blob {GOOD_DIGEST}"
        status, body = http_get(f"{server.url}{API}/blobs/{known.sha256}")
        assert status == 200 and body == store.read_blob(known.sha256)
        # the client refuses a bad digest itself, before it asks
        seen = len(server.requests)
        for digest in BAD_DIGESTS:
            with pytest.raises(UnsafePathError, match=re.escape(f"digest {digest!r} {DIGEST_RULE}")):
                HTTPRemote(server.url).open_blob(digest)
        assert len(server.requests) == seen


# ---------------------------------------------------------------------------------------------- names, tags


BAD_NAMES = ["", "../evil", "a/b/c", "/abs", "owner/", "/name", ".hidden", "-dash", "a..b", "has space", "a\\b",
             "C:name", "x" * 97, "a/" + "y" * 97, "owner/..", "tab\tname", None, 7]
NAME_RULE = "is not allowed: use 'name' or 'owner/name', each part starting with a letter or digit"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names_are_refused_with_what_is_allowed(name):
    with pytest.raises(UnsafePathError, match=re.escape(f"model name {name!r} {NAME_RULE}")):
        check_name(name)


@pytest.mark.parametrize("name", ["../evil", "a/b/c", "/abs", "a..b"])
def test_publishing_under_a_bad_name_stores_nothing(tmp_path, name):
    gptlib_model(tmp_path / "src")
    store = LocalStore(tmp_path / "store")
    with pytest.raises(UnsafePathError, match=re.escape(f"model name {name!r} {NAME_RULE}")):
        store.publish(tmp_path / "src", name)
    with pytest.raises(UnsafePathError, match=re.escape(f"model name {name!r}")):
        install(FolderRemote(store.root), name, into=LocalStore(tmp_path / "l"), progress=False)
    assert stored_files(store) == [] and tree(tmp_path / "l") == []


def test_good_names_tags_and_revisions_pass():
    assert check_name("shakespeare-char") == "shakespeare-char"
    assert check_name("series/v1.0_x") == "series/v1.0_x"
    assert check_tag("v1.0") == "v1.0" and check_revision("main") == "main"
    assert check_revision("0" * 40) == "0" * 40


BAD_TAGS = ["", "../main", "a/b", "-x", ".x", "v1..2", "x" * 65, "main\n", "0123456789abcdef" * 2 + "01234567", None]
TAG_RULE = "is not allowed: use letters, digits, '-', '_' or '.' (at most 64, no '..'), and not 40 hex digits"


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_bad_tags_are_refused_with_what_is_allowed(tag):
    with pytest.raises(UnsafePathError, match=re.escape(f"tag {tag!r} {TAG_RULE}")):
        check_tag(tag)
    if tag is not None and len(tag) == 40:
        assert check_revision(tag) == tag  # 40 hex digits are a revision id, not a tag
    else:
        with pytest.raises(UnsafePathError, match=re.escape(f"tag {tag!r} {TAG_RULE}")):
            check_revision(tag)


def test_bad_tags_and_revisions_are_refused_by_the_store(tmp_path):
    store, _ = published(tmp_path)
    before = stored_files(store)
    with pytest.raises(UnsafePathError, match=re.escape(f"tag '../main' {TAG_RULE}")):
        store.set_tag("series/toy", "../main", "main")
    with pytest.raises(UnsafePathError, match=re.escape(f"tag 'a/b' {TAG_RULE}")):
        store.publish(tmp_path / "src", "series/toy", tag="a/b")
    with pytest.raises(UnsafePathError, match=re.escape(f"tag '../../refs' {TAG_RULE}")):
        store.resolve("series/toy", "../../refs")
    with pytest.raises(UnsafePathError, match=re.escape(f"tag 'main/..' {TAG_RULE}")):
        install(FolderRemote(store.root), "series/toy", "main/..", into=LocalStore(tmp_path / "l"), progress=False)
    assert stored_files(store) == before
    with pytest.raises(ModelNotFoundError, match=f"no revision of 'series/toy' {re.escape(repr('0' * 40))} in this "
                                                 f"store; it has: {store.resolve('series/toy')}"):
        store.resolve("series/toy", "0" * 40)


def test_an_unknown_model_name_suggests_the_close_match(tmp_path):
    store, _ = published(tmp_path, name="shakespeare-char")
    message = "no model 'shakespeare-chr' in this store; did you mean: shakespeare-char?"
    for use in (store.info, store.tags, store.load, store.manifest):
        with pytest.raises(ModelNotFoundError, match=re.escape(message)):
            use("shakespeare-chr")
    with pytest.raises(ModelNotFoundError, match=re.escape(message)):
        install(FolderRemote(store.root), "shakespeare-chr", into=LocalStore(tmp_path / "l"), progress=False)
    with pytest.raises(ModelNotFoundError, match=re.escape("no model 'zzz' in this store; it has: shakespeare-char")):
        store.info("zzz")


# ---------------------------------------------------------------------------------------------- safetensors


def st(header, data=b"", *, length=None):
    """A safetensors file by hand: 8-byte little-endian header length, the header, the data."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


class ReadLog(io.BytesIO):
    """A file that records how many bytes each read asked for."""

    def __init__(self, data):
        super().__init__(data)
        self.asked = []

    def read(self, n=-1):
        self.asked.append(n)
        return super().read(n)


def refused(data, *, size=None):
    f = ReadLog(data)
    with pytest.raises(UnsafeFileError) as e:
        check_safetensors(f, len(data) if size is None else size, "model.safetensors")
    assert str(e.value).startswith("model.safetensors: ")
    return str(e.value), f.asked


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def test_a_huge_header_length_is_refused_before_reading_it():
    message, asked = refused(st(b"{}", length=2 ** 60))
    assert f"the header claims {2 ** 60:,} bytes but the file has 2 after the length" in message
    assert asked == [8]  # only the length was read: nothing of 2**60 bytes was asked for
    # even if the caller believed the file were that big, the store's own limit holds
    message, asked = refused(st(b"{}", length=2 ** 60), size=2 ** 62)
    assert "the store reads at most 100,000,000" in message and asked == [8]


def test_a_header_longer_than_the_file_is_refused():
    message, asked = refused(st(b'{"a": 1}', length=1000))
    assert "the header claims 1,000 bytes but the file has 8 after the length" in message and asked == [8]


@pytest.mark.parametrize("data", [b"", b"\x10", b"\x02\x00\x00\x00\x00\x00\x00"])
def test_a_file_shorter_than_the_length_field_is_refused(data):
    message, asked = refused(data)
    assert f"{len(data)} bytes is too short for a safetensors file" in message and asked == []


def test_data_shorter_than_the_offsets_claim_is_refused():
    message, _ = refused(st({"w": tensor("F32", [4], 0, 16)}, bytes(15)))
    assert "tensor 'w' claims bytes 0..16 of the data, but the file holds only 15 bytes of data" in message


@pytest.mark.parametrize("raw", [b"{not json}", b'{"w": ', b"\xc3\x28", b"{}garbage"])
def test_a_header_that_is_not_json_is_refused(raw):
    message, _ = refused(st(raw))
    assert "the header is not valid JSON" in message


def test_a_deeply_nested_header_is_refused_not_a_crash():
    message, _ = refused(st(b"[" * 100_000 + b"]" * 100_000))
    assert "nested" in message


@pytest.mark.parametrize("raw, kind", [(b"[]", "list"), (b"1", "int"), (b'"x"', "str"), (b"null", "NoneType")])
def test_a_header_that_is_not_an_object_is_refused(raw, kind):
    message, _ = refused(st(raw))
    assert f"the header must be a JSON object, got {kind}" in message


@pytest.mark.parametrize("header, data_size, expected", [
    ({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, 12,
     "tensor 'b' starts at byte 4 of the data, not at 8: tensors overlap or leave gaps"),
    ({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 0, 8)}, 8,
     "starts at byte 0 of the data, not at 8: tensors overlap"),
    ({"a": tensor("F32", [4], 0, 16), "b": tensor("F32", [1], 4, 8)}, 16, "starts at byte 4 of the data, not at 16"),
    ({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 12, 20)}, 20,
     "tensor 'b' starts at byte 12 of the data, not at 8: tensors overlap or leave gaps"),
    ({"a": tensor("F32", [2], 4, 12)}, 12, "tensor 'a' starts at byte 4 of the data, not at 0"),
    ({"a": tensor("F32", [2], 0, 8)}, 12, "the tensors cover 8 bytes of data but the file has 12"),
], ids=["overlap", "same-range", "inside", "gap", "leading-gap", "trailing-bytes"])
def test_overlaps_and_gaps_are_refused(header, data_size, expected):
    message, _ = refused(st(header, bytes(data_size)))
    assert expected in message


@pytest.mark.parametrize("entry, data_size, expected", [
    (tensor("F32", [3], 0, 8), 8, "tensor 'w' is F32 of shape [3], which is 12 bytes, but its range holds 8"),
    (tensor("F16", [2], 0, 8), 8, "tensor 'w' is F16 of shape [2], which is 4 bytes, but its range holds 8"),
    (tensor("I64", [2, 2], 0, 16), 16, "is I64 of shape [2, 2], which is 32 bytes, but its range holds 16"),
    (tensor("F32", [], 0, 8), 8, "is F32 of shape [], which is 4 bytes, but its range holds 8"),
    (tensor("F33", [2], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor(["F32"], [2], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor({"F32": 1}, [2], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor(None, [2], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor("F32", [-2], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor("F32", [2.0], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor("F32", [True, True], 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor("F32", "2", 0, 8), 8, "tensor 'w' has no valid dtype and shape"),
    (tensor("F32", [2], 8, 0), 8, "tensor 'w' has invalid data_offsets [8, 0]"),
    (tensor("F32", [2], -8, 0), 8, "tensor 'w' has invalid data_offsets [-8, 0]"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 16]}, 16, "has invalid data_offsets [0, 8, 16]"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}, 8, "has invalid data_offsets [0.0, 8.0]"),
    ({"dtype": "F32", "shape": [2]}, 8, "tensor 'w' has invalid data_offsets None"),
    ([1, 2], 8, "tensor 'w' has no valid dtype and shape: [1, 2]"),
], ids=lambda v: None)
def test_a_dtype_shape_or_range_that_does_not_add_up_is_refused(entry, data_size, expected):
    message, _ = refused(st({"w": entry}, bytes(data_size)))
    assert expected in message


@pytest.mark.parametrize("metadata", [{"a": 1}, ["x"], "text", {"a": None}])
def test_metadata_must_map_names_to_strings(metadata):
    message, _ = refused(st({"__metadata__": metadata, "w": tensor("F32", [2], 0, 8)}, bytes(8)))
    assert "__metadata__ must map names to strings" in message


def test_a_lying_safetensors_file_is_refused_on_publish(tmp_path):
    gptlib_model(tmp_path / "src")
    (tmp_path / "src" / "model.safetensors").write_bytes(st({"w": tensor("F32", [4], 0, 16)}, bytes(8)))
    assert_publish_refused(tmp_path / "src", "model.safetensors: tensor 'w' claims bytes 0..16", tmp_path)


def test_safetensors_written_by_the_library_are_accepted(tmp_path):
    tensors = {"weight": torch.randn(3, 5), "bias": torch.zeros(5, dtype=torch.float16),
               "steps": torch.arange(7, dtype=torch.int64), "mask": torch.ones(2, 3, dtype=torch.bool),
               "half": torch.randn(4, dtype=torch.bfloat16), "bytes": torch.arange(3, dtype=torch.uint8),
               "empty": torch.zeros(0, 4), "scalar": torch.tensor(1.5, dtype=torch.float64),
               "complex": torch.zeros(3, dtype=torch.complex64)}
    if hasattr(torch, "float8_e8m0fnu"):  # torch 2.7 and newer
        tensors["fp8"] = torch.zeros(2, dtype=torch.float8_e8m0fnu)
    save_file(tensors, tmp_path / "plain.safetensors")
    save_file(tensors, tmp_path / "meta.safetensors", metadata={"format": "pt", "note": "a test, with ünïcode"})
    save_file({}, tmp_path / "nothing.safetensors")
    for name in ("plain", "meta"):
        path = tmp_path / f"{name}.safetensors"
        with open(path, "rb") as f:
            header = check_safetensors(f, path.stat().st_size, path.name)
        assert set(header) - {"__metadata__"} == set(tensors)
        assert header["weight"]["shape"] == [3, 5] and header["weight"]["dtype"] == "F32"
        check_file(path, path.name)
    with open(tmp_path / "meta.safetensors", "rb") as f:
        meta = check_safetensors(f, (tmp_path / "meta.safetensors").stat().st_size, "meta.safetensors")
    assert meta["__metadata__"] == {"format": "pt", "note": "a test, with ünïcode"}
    with open(tmp_path / "nothing.safetensors", "rb") as f:
        assert set(check_safetensors(f, (tmp_path / "nothing.safetensors").stat().st_size, "x")) <= {"__metadata__"}


# ---------------------------------------------------------------------------------------------- no unpickling


def test_publish_install_and_load_never_unpickle(tmp_path, monkeypatch):
    calls = []

    def forbidden(what):
        def refuse(*args, **kwargs):
            calls.append(what)
            raise AssertionError(f"{what} was called: the store must never unpickle")
        return refuse

    for module, attr in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load"),
                         (torch.serialization, "load")]:
        monkeypatch.setattr(module, attr, forbidden(f"{module.__name__}.{attr}"))
    with pytest.raises(AssertionError, match="torch.load was called"):  # the trap works
        torch.load(io.BytesIO(b""))
    calls.clear()
    store, model = published(tmp_path)
    laptop = LocalStore(tmp_path / "laptop")
    with StoreServer(store) as server:
        install(server.url, "series/toy", into=laptop, progress=False)
    assert laptop.verify() == []
    loaded, tokenizer = laptop.load("series/toy")
    idx = torch.tensor([tokenizer.encode("to be or not")])
    with torch.no_grad():
        assert torch.equal(loaded(idx)[0], model(idx)[0])
    assert calls == []
