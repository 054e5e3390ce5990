"""A model revision's manifest: every file's path, size and SHA-256, and the revision id derived from it.

The store keeps each file once, as a *blob* named by the SHA-256 of its bytes (content addressing: the
name says what the content is, so a changed byte is a different name). A **manifest** lists which blobs
make up one version of a model and under which paths. Its own id, the **revision id**, is the first 40
hex digits of the SHA-256 of the manifest's canonical JSON, so a revision can never change: changing
any file changes its digest, the manifest and so the id. Tags such as ``main`` are movable names for
revision ids.

>>> m = Manifest("series/tiny", (FileEntry("README.md", 3, "a" * 64),))
>>> m.revision == Manifest.from_json(m.to_json()).revision, len(m.revision), m.size
(True, 40, 3)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .._checks import is_int
from .names import StoreError, UnsafePathError, check_digest, check_name, check_path

__all__ = ["FORMAT", "FileEntry", "Manifest", "ManifestError"]

FORMAT = "gptlib-store-manifest"
VERSION = 1


class ManifestError(StoreError, ValueError):
    """A manifest that is not valid JSON of the expected form."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a model: where it goes, how many bytes, and their SHA-256."""

    path: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        check_path(self.path)
        check_digest(self.sha256)
        if not is_int(self.size) or self.size < 0:
            raise ManifestError(f"{self.path}: size must be an integer >= 0, got {self.size!r}")


@dataclass(frozen=True)
class Manifest:
    """The files of one revision of model ``name``, sorted by path."""

    name: str
    files: tuple[FileEntry, ...]

    def __post_init__(self) -> None:
        check_name(self.name)
        object.__setattr__(self, "files", tuple(sorted(self.files, key=lambda f: f.path)))
        paths = [f.path for f in self.files]
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise ManifestError(f"manifest of {self.name!r} lists {', '.join(dupes)} more than once")
        folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
        clash = sorted(folders & set(paths))
        if clash:
            raise ManifestError(f"manifest of {self.name!r} uses {clash[0]!r} both as a file and as a folder")

    def to_json(self) -> str:
        """The canonical JSON text (sorted keys, no spaces): the bytes the revision id is computed from."""
        payload = {"format": FORMAT, "version": VERSION, "name": self.name,
                   "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files]}
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @property
    def revision(self) -> str:
        """The immutable revision id: the first 40 hex digits of the SHA-256 of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:40]

    @property
    def size(self) -> int:
        """The model's total size in bytes."""
        return sum(f.size for f in self.files)

    def file(self, path: str) -> FileEntry:
        """The entry for ``path``; ``KeyError`` naming the files there are."""
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(f"{self.name} has no file {path!r}; it has {', '.join(f.path for f in self.files)}")

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and check a manifest; every path, digest and size is validated before anything uses them."""
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ManifestError(f"a manifest must be JSON: {e}") from None
        except RecursionError:
            raise ManifestError("a manifest must be JSON of the expected form: this one is nested too deeply") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ManifestError(f"not a {FORMAT} version {VERSION} manifest")
        files = data.get("files")
        if not isinstance(files, list) or not all(isinstance(f, dict) and set(f) == {"path", "size", "sha256"}
                                                  for f in files):
            raise ManifestError("a manifest's 'files' must be a list of {path, size, sha256} objects")
        try:
            return cls(data.get("name"), tuple(FileEntry(f["path"], f["size"], f["sha256"]) for f in files))
        except UnsafePathError as e:
            raise UnsafePathError(f"refused manifest: {e}") from None
