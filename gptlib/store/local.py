"""A model store on disk: content-addressed blobs, one manifest per revision, movable tags.

The layout, under the store's root folder::

    blobs/ab/ab3f...c9            every file's bytes, once, named by their SHA-256 (here ab3f...c9)
    models/series/tiny/revisions/<revision id>.json     the manifest of one revision (never changes)
    models/series/tiny/refs/main                          a tag: the revision id it points at (moves)
    partial/<sha256>.part         a download in progress, kept so an interrupted install can resume
    snapshots/series/tiny/<revision id>/...               the files checked out, for loading

A revision exists once its manifest is written, and the manifest is written only after every blob it
lists is in place, so a crash at any moment leaves either the old state or the new one. Nothing is
trusted that has not been hashed: blobs are hashed as they are written, and again before a model is
loaded.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> store = LocalStore(root / "store")
>>> store.models()
[]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..files import hash_file, write_text
from .card import CardError, read_facts
from .catalog import ModelInfo
from .manifest import FileEntry, Manifest
from .names import (
    REVISION_ID,
    StoreError,
    UnsafePathError,
    check_digest,
    check_name,
    check_path,
    check_revision,
    check_tag,
    not_found,
)
from .safety import check_file

__all__ = ["CARD_FILE", "IntegrityError", "LocalStore"]

CARD_FILE = "README.md"
_CHUNK = 1 << 20


class IntegrityError(StoreError):
    """Bytes whose SHA-256 (or size) is not the one the manifest promises."""


class LocalStore:
    """A model store in the folder ``root`` (created if missing, unless ``create=False``)."""

    def __init__(self, root: str | os.PathLike, *, create: bool = True):
        root = Path(root).expanduser()
        if create:
            root.mkdir(parents=True, exist_ok=True)
        elif not root.is_dir():
            raise StoreError(f"no model store at {root}: the folder does not exist")
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # ------------------------------------------------------------------ paths, each checked
    def _inside(self, *parts: str) -> Path:
        """``root/parts...``, refusing any path that leaves the root or passes through a symlink."""
        path = self.root.joinpath(*parts)
        current = self.root
        for part in path.relative_to(self.root).parts:
            current = current / part
            if current.is_symlink():
                raise UnsafePathError(f"refused: {current} is a symlink, and the store never follows one")
        if not path.resolve().is_relative_to(self.root):
            raise UnsafePathError(f"refused: {path} is outside the store at {self.root}")
        return path

    def blob_path(self, digest: str) -> Path:
        digest = check_digest(digest)
        return self._inside("blobs", digest[:2], digest)

    def partial_path(self, digest: str) -> Path:
        return self._inside("partial", check_digest(digest) + ".part")

    def _model_dir(self, name: str) -> Path:
        return self._inside("models", *check_name(name).split("/"))

    def _manifest_path(self, name: str, revision: str) -> Path:
        if not REVISION_ID.fullmatch(revision):
            raise UnsafePathError(f"revision id {revision!r} is not 40 hex digits")
        return self._inside("models", *check_name(name).split("/"), "revisions", revision + ".json")

    def _ref_path(self, name: str, tag: str) -> Path:
        return self._inside("models", *check_name(name).split("/"), "refs", check_tag(tag))

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """The names of the models with at least one revision, sorted."""
        models = self.root / "models"
        if not models.is_dir():
            return []
        found = {str(p.parent.parent.relative_to(models).as_posix()) for p in models.glob("**/revisions/*.json")}
        return sorted(found)

    def tags(self, name: str) -> dict[str, str]:
        """``{tag: revision id}`` for model ``name``; :class:`ModelNotFoundError` with close matches if unknown."""
        if check_name(name) not in self.names():  # a malformed name is told what is allowed, not "not found"
            raise not_found("model", name, self.names())
        refs = self._model_dir(name) / "refs"
        out = {}
        for p in sorted(refs.iterdir()) if refs.is_dir() else []:
            if p.name.startswith("."):
                continue
            revision = p.read_text().strip()
            if REVISION_ID.fullmatch(revision):
                out[p.name] = revision
        return out

    def revisions(self, name: str) -> list[str]:
        """Every revision id of model ``name``."""
        if check_name(name) not in self.names():
            raise not_found("model", name, self.names())
        return sorted(p.stem for p in (self._model_dir(name) / "revisions").glob("*.json"))

    def resolve(self, name: str, revision: str = "main") -> str:
        """The revision id that ``revision`` (a tag or an id) names for model ``name``."""
        revision = check_revision(revision)
        if REVISION_ID.fullmatch(revision):
            if revision not in self.revisions(name):
                raise not_found(f"revision of {name!r}", revision, self.revisions(name))
            return revision
        tags = self.tags(name)
        if revision not in tags:
            raise not_found(f"tag of {name!r}", revision, tags)
        return tags[revision]

    def manifest_text(self, name: str, revision: str = "main") -> str:
        """The stored manifest JSON of a revision (its SHA-256 is the revision id)."""
        return self._manifest_path(name, self.resolve(name, revision)).read_text()

    def manifest(self, name: str, revision: str = "main") -> Manifest:
        revision = self.resolve(name, revision)
        manifest = Manifest.from_json(self._manifest_path(name, revision).read_text())
        if manifest.revision != revision or manifest.name != name:
            raise IntegrityError(f"the manifest stored as {name}@{revision} describes {manifest.name}@"
                                 f"{manifest.revision}: the store's files were changed")
        return manifest

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def info(self, name: str, revision: str = "main") -> ModelInfo:
        """What the store shows about one revision: tags, size and the facts on its model card."""
        manifest = self.manifest(name, revision)
        tags = tuple(t for t, r in self.tags(name).items() if r == manifest.revision)
        facts, error = None, None
        try:
            facts = read_facts(self.read_blob(manifest.file(CARD_FILE).sha256).decode("utf-8"))
        except (CardError, KeyError, UnicodeDecodeError, OSError) as e:
            error = str(e)
        return ModelInfo(name, manifest.revision, tags, manifest.size, facts, error)

    def models(self) -> list[ModelInfo]:
        """Every model at its ``main`` tag (or, without one, its first revision)."""
        out = []
        for name in self.names():
            tags = self.tags(name)
            out.append(self.info(name, "main" if "main" in tags else self.revisions(name)[0]))
        return out

    def index(self) -> list[dict[str, Any]]:
        """The catalogue a remote client reads: every model's tags and its card's front matter, as JSON data."""
        from .card import read_card_data

        out = []
        for name in self.names():
            tags = self.tags(name)
            manifest = self.manifest(name, "main" if "main" in tags else self.revisions(name)[0])
            try:
                card = read_card_data(self.read_blob(manifest.file(CARD_FILE).sha256).decode("utf-8"))
            except (KeyError, UnicodeDecodeError, OSError, ValueError):
                card = {}
            out.append({"name": name, "revision": manifest.revision, "tags": tags, "size": manifest.size,
                        "card": card})
        return out

    # ------------------------------------------------------------------ checking
    def verify(self, name: str | None = None) -> list[str]:
        """Re-hash every blob of every revision (of ``name``, or of all models); the problems found, ``[]`` if none."""
        problems = []
        for model in [name] if name is not None else self.names():
            for revision in self.revisions(model):
                for entry in self.manifest(model, revision).files:
                    path = self.blob_path(entry.sha256)
                    if not path.is_file():
                        problems.append(f"{model}@{revision[:12]} {entry.path}: blob {entry.sha256} is missing")
                        continue
                    digest, size = hash_file(path)
                    if digest != entry.sha256 or size != entry.size:
                        problems.append(f"{model}@{revision[:12]} {entry.path}: expected sha256 {entry.sha256} "
                                        f"({entry.size} bytes), found {digest} ({size} bytes)")
        return problems

    def check_blob(self, entry: FileEntry) -> Path:
        """The blob of ``entry``, after hashing it; :class:`IntegrityError` naming the file and both hashes."""
        path = self.blob_path(entry.sha256)
        if not path.is_file():
            raise IntegrityError(f"{entry.path}: blob {entry.sha256} is missing from the store")
        digest, size = hash_file(path)
        if digest != entry.sha256 or size != entry.size:
            raise IntegrityError(f"{entry.path}: expected sha256 {entry.sha256} ({entry.size} bytes), "
                                 f"got {digest} ({size} bytes)")
        return path

    # ------------------------------------------------------------------ writing
    def add_blob(self, source: str | os.PathLike, path: str) -> FileEntry:
        """Copy the file ``source`` (called ``path`` in its model) into the store, hashing it as it is copied."""
        check_path(path)
        tmp_dir = self._inside("partial")
        tmp_dir.mkdir(parents=True, exist_ok=True)
        h, size = hashlib.sha256(), 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=".add.")
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                for piece in iter(lambda: src.read(_CHUNK), b""):
                    h.update(piece)
                    size += len(piece)
                    dst.write(piece)
            entry = FileEntry(path, size, h.hexdigest())
            self.place_blob(Path(tmp_name), entry.sha256)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return entry

    def place_blob(self, tmp: Path, digest: str) -> Path:
        """Move the already-hashed file ``tmp`` into place as blob ``digest`` (a no-op if the blob exists)."""
        target = self.blob_path(digest)
        if target.is_file():
            tmp.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        return target

    def add_manifest(self, manifest: Manifest, tag: str | None = "main") -> str:
        """Record ``manifest`` (every blob must be in place already), then point ``tag`` at it."""
        missing = [e.path for e in manifest.files if not self.blob_path(e.sha256).is_file()]
        if missing:
            raise IntegrityError(f"cannot record {manifest.name}: blobs missing for {', '.join(missing)}")
        write_text(self._manifest_path(manifest.name, manifest.revision), manifest.to_json())
        if tag is not None:
            self.set_tag(manifest.name, tag, manifest.revision)
        return manifest.revision

    def set_tag(self, name: str, tag: str, revision: str) -> None:
        """Point ``tag`` of model ``name`` at ``revision`` (an id or another tag)."""
        revision = self.resolve(name, revision)
        write_text(self._ref_path(name, tag), revision + "\n")

    def publish(self, folder: str | os.PathLike, name: str, *, tag: str = "main") -> ModelInfo:
        """Add every file of ``folder`` as a new revision of model ``name`` and point ``tag`` at it.

        The folder must hold a model card (``README.md`` with the facts, see :mod:`gptlib.store.card`).
        Symlinks, pickles and safetensors files with a lying header are refused before anything is stored.
        """
        check_name(name)
        check_tag(tag)
        folder = Path(folder)
        if not folder.is_dir():
            raise StoreError(f"cannot publish {folder}: not a folder")
        files = []
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                raise UnsafePathError(f"cannot publish {folder}: {rel} is a symlink; publish real files only")
            if p.is_file():
                check_path(rel)
                check_file(p, rel)
                files.append((p, rel))
            elif not p.is_dir():
                raise UnsafePathError(f"cannot publish {folder}: {rel} is not a regular file")
        if CARD_FILE not in {rel for _, rel in files}:
            raise CardError(f"cannot publish {folder}: it has no model card ({CARD_FILE})")
        read_facts((folder / CARD_FILE).read_text(encoding="utf-8"))  # CardError if the facts are missing
        manifest = Manifest(name, tuple(self.add_blob(p, rel) for p, rel in files))
        self.add_manifest(manifest, tag)
        return self.info(name, manifest.revision)

    # ------------------------------------------------------------------ using
    def snapshot(self, name: str, revision: str = "main") -> Path:
        """A folder holding the revision's files under their paths, every blob hashed first (for loading)."""
        manifest = self.manifest(name, revision)
        target = self._inside("snapshots", *name.split("/"), manifest.revision)
        if target.is_dir():
            for entry in manifest.files:  # re-check what is there: a snapshot is only a copy
                digest, _ = hash_file(self._inside("snapshots", *name.split("/"), manifest.revision,
                                                      *entry.path.split("/")))
                if digest != entry.sha256:
                    raise IntegrityError(f"{entry.path} in {target}: expected sha256 {entry.sha256}, got {digest}")
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build."))
        try:
            for entry in manifest.files:
                dest = build.joinpath(*entry.path.split("/"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.check_blob(entry), dest)
            os.replace(build, target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return target

    def load(self, name: str, revision: str = "main", device: Any = None):
        """``(model, tokenizer)`` of a gptlib model in the store: its blobs hashed, its files checked, no pickle."""
        from ..checkpoint import load_gpt
        from ..tokenizers import BPETokenizer, CharTokenizer

        folder = self.snapshot(name, revision)
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                check_file(f, f.relative_to(folder).as_posix())
        if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
            raise StoreError(f"{name} is not a gptlib model (it needs model.safetensors and tokenizer.json); "
                             f"for a transformers model use snapshot() and from_pretrained")
        kind = json.loads((folder / "tokenizer.json").read_text()).get("format")
        tokenizers = {"gptlib-char": CharTokenizer, "gptlib-bpe": BPETokenizer}
        if kind not in tokenizers:
            raise StoreError(f"{name}: tokenizer.json has format {kind!r}; gptlib reads {', '.join(tokenizers)}")
        model = load_gpt(folder / "model.safetensors", device=device)
        return model, tokenizers[kind].load(folder / "tokenizer.json")


