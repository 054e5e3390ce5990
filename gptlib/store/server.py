"""Serve a store over HTTP, in the store's own protocol and in the Hugging Face Hub's download protocol.

:class:`StoreServer` answers two sets of ``GET``/``HEAD`` requests from one :class:`LocalStore`:

- the store's protocol (:mod:`gptlib.store.remote`): ``/gptlib/v1/index``, ``.../models/<name>/refs``,
  ``.../models/<name>/revisions/<id>``, ``.../blobs/<sha256>``;
- enough of the Hub's for ``huggingface_hub`` and ``transformers`` to download from it:
  ``/api/models/<name>/revision/<rev>`` (the revision id and file list), ``/api/models/<name>/tree/<rev>``
  (sizes and hashes: a git blob SHA-1 for small files, the SHA-256 under ``lfs`` for weights), and
  ``/<name>/resolve/<rev>/<path>`` (the file, with ``X-Repo-Commit`` and ``ETag`` headers).

Blobs are served with ``Range`` support. It binds to 127.0.0.1 unless told otherwise: it has no
authentication and is meant for a class room's laptop, not the internet.

:class:`Faults` makes it misbehave on purpose, for tests and demonstrations: cut a transfer after a number
of bytes, ignore ``Range``, stall, or serve a file with one byte changed (same size, wrong content).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .local import CARD_FILE, LocalStore
from .manifest import FileEntry, Manifest
from .names import StoreError, UnsafePathError, check_digest
from .remote import API

__all__ = ["LFS_SUFFIXES", "Faults", "StoreServer"]

#: Files the Hub would keep in LFS (large binary files); their ETag is the SHA-256 of the content.
LFS_SUFFIXES = (".safetensors", ".gguf", ".onnx", ".msgpack")
_CHUNK = 1 << 16


@dataclass
class Faults:
    """Ways to misbehave, for tests and demonstrations. All off by default.

    - ``cut_after``: close the connection after this many bytes of a file longer than that, ``cuts`` times in all
    - ``ignore_range``: answer ``200`` and the whole file to a ``Range`` request
    - ``stall_s``: wait this long before sending a file's bytes
    - ``corrupt``: file paths (``"model.safetensors"``) served with their last byte changed, same size
    """

    cut_after: int | None = None
    cuts: int = 1
    ignore_range: bool = False
    stall_s: float = 0.0
    corrupt: frozenset[str] = field(default_factory=frozenset)


def _git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content: SHA-1 of ``b"blob <size>\\0" + data`` (what the Hub lists as ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class _NotFound(Exception):
    def __init__(self, message: str, code: str = "EntryNotFound"):
        super().__init__(message)
        self.code = code


class StoreServer(ThreadingHTTPServer):
    """An HTTP server for ``store``; ``port=0`` picks a free port. Use as a context manager to run it in a thread.

    >>> import tempfile
    >>> with StoreServer(LocalStore(tempfile.mkdtemp())) as server:  # doctest: +ELLIPSIS
    ...     server.url
    'http://127.0.0.1:...'
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, store: LocalStore, host: str = "127.0.0.1", port: int = 0, *, faults: Faults | None = None,
                 quiet: bool = True):
        self.store, self.faults, self.quiet = store, faults or Faults(), quiet
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), for tests and the curious
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StoreServer:  # noqa: PYI034
        self._thread = threading.Thread(target=self.serve_forever, name="gptlib-store-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def take_cut(self) -> bool:
        with self._lock:
            if self.faults.cut_after is None or self.faults.cuts <= 0:
                return False
            self.faults.cuts -= 1
            return True


class _Handler(BaseHTTPRequestHandler):
    server: StoreServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.requests.append((self.command, self.path, status))

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        self._json({"error": message}, status, {"X-Error-Code": code, "X-Error-Message": message[:200]}
                   if code else {"X-Error-Message": message[:200]})

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in parsed.path.split("/") if p]
        query = urllib.parse.parse_qs(parsed.query)
        try:
            if parsed.path.startswith(API + "/"):
                self._store_api(parts[2:])
            elif parts[:2] == ["api", "models"]:
                self._hub_api(parts[2:], query)
            elif "resolve" in parts[1:3]:
                self._hub_resolve(parts)
            else:
                self._error(404, f"no such endpoint: {parsed.path}", "EntryNotFound")
        except _NotFound as e:
            self._error(404, str(e), e.code)
        except (UnsafePathError, StoreError, KeyError) as e:
            status = 400 if isinstance(e, UnsafePathError) else 404
            self._error(status, str(e).strip("'\""), "RepoNotFound" if status == 404 else None)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _manifest(self, name: str, revision: str) -> Manifest:
        if name not in self.server.store.names():
            raise _NotFound(f"Repository {name} not found", "RepoNotFound")
        try:
            return self.server.store.manifest(name, revision)
        except StoreError as e:
            raise _NotFound(str(e), "RevisionNotFound") from None

    def _send_blob(self, entry: FileEntry, headers: dict[str, str]) -> None:
        """Send a file's bytes, honouring ``Range`` (and the faults)."""
        store, faults = self.server.store, self.server.faults
        data = store.read_blob(entry.sha256)
        if any(entry.sha256 in self._digests_of(p) for p in faults.corrupt):
            data = data[:-1] + bytes([data[-1] ^ 0xFF]) if data else data
        start, status = 0, 200
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and not faults.ignore_range:
            first, _, last = wanted[6:].partition("-")
            try:
                start, end = int(first), (int(last) if last else len(data) - 1)
            except ValueError:
                return self._error(416, f"cannot read the range {wanted!r}")
            if not 0 <= start < max(len(data), 1) or end < start:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            data, status = data[start:end + 1], 206
            headers = {**headers, "Content-Range": f"bytes {start}-{start + len(data) - 1}/{entry.size}"}
        self.send_response(status)
        for k, v in {"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                     "Accept-Ranges": "bytes", **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.server.requests.append((self.command, self.path, status))
        if self.command == "HEAD":
            return
        if faults.stall_s:
            time.sleep(faults.stall_s)
        if faults.cut_after is not None and len(data) > faults.cut_after and self.server.take_cut():
            self.wfile.write(data[:faults.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        for i in range(0, len(data), _CHUNK):
            self.wfile.write(data[i:i + _CHUNK])

    def _digests_of(self, path: str) -> set[str]:
        store = self.server.store
        return {e.sha256 for n in store.names() for r in store.revisions(n) for e in store.manifest(n, r).files
                if e.path == path}

    # ------------------------------------------------------------------ the store's own protocol
    def _store_api(self, parts: list[str]) -> None:
        store = self.server.store
        if parts == ["index"]:
            return self._json(store.index())
        if len(parts) == 2 and parts[0] == "blobs":
            digest = check_digest(parts[1])
            if not store.blob_path(digest).is_file():
                raise _NotFound(f"no blob {digest}")
            return self._send_blob(FileEntry("blob", store.blob_path(digest).stat().st_size, digest), {})
        if len(parts) >= 3 and parts[0] == "models" and parts[-1] == "refs":
            return self._json(store.tags("/".join(parts[1:-1])))
        if len(parts) >= 4 and parts[0] == "models" and parts[-2] == "revisions":
            name = "/".join(parts[1:-2])
            return self._send(200, store.manifest_text(name, parts[-1]).encode(), "application/json")
        raise _NotFound(f"no such endpoint: {API}/{'/'.join(parts)}")

    # ------------------------------------------------------------------ the Hub's protocol
    def _oid(self, entry: FileEntry) -> str:
        if entry.path.endswith(LFS_SUFFIXES):
            return entry.sha256
        return _git_blob_sha1(self.server.store.read_blob(entry.sha256))

    def _hub_api(self, parts: list[str], query: dict[str, list[str]]) -> None:
        for kind in ("revision", "tree"):
            if kind in parts[1:3]:
                at = parts.index(kind, 1)
                name, rest = "/".join(parts[:at]), parts[at + 1:]
                break
        else:
            raise _NotFound(f"Repository {'/'.join(parts)} not found", "RepoNotFound")
        if not rest:
            raise _NotFound("no revision given", "RevisionNotFound")
        manifest = self._manifest(name, rest[0])
        if kind == "revision":
            info = self.server.store.info(name, manifest.revision)
            return self._json({
                "_id": manifest.revision, "id": name, "modelId": name, "sha": manifest.revision,
                "private": False, "disabled": False, "gated": False, "downloads": 0, "likes": 0,
                "library_name": "gptlib", "pipeline_tag": "text-generation", "tags": list(info.tags),
                "lastModified": "1970-01-01T00:00:00.000Z", "createdAt": "1970-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": e.path, "size": e.size} for e in manifest.files],
                "cardData": _card_data(self.server.store, manifest)})
        prefix = "/".join(rest[1:])
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        entries, folders = [], set()
        for e in manifest.files:
            if prefix and not e.path.startswith(prefix + "/"):
                continue
            below = e.path[len(prefix) + 1:] if prefix else e.path
            if "/" in below and not recursive:
                folders.add((prefix + "/" if prefix else "") + below.split("/")[0])
                continue
            item = {"type": "file", "oid": self._oid(e), "size": e.size, "path": e.path}
            if e.path.endswith(LFS_SUFFIXES):
                item["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": 134}
            entries.append(item)
        if recursive:
            folders = {"/".join(e.path.split("/")[:i]) for e in manifest.files for i in range(1, e.path.count("/") + 1)
                       if not prefix or e.path.startswith(prefix + "/")} - {prefix}
        tree = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)] + entries
        return self._json(tree)

    def _hub_resolve(self, parts: list[str]) -> None:
        at = parts.index("resolve", 1)
        name, rest = "/".join(parts[:at]), parts[at + 1:]
        if len(rest) < 2:
            raise _NotFound("a resolve URL needs a revision and a file path")
        manifest = self._manifest(name, rest[0])
        path = "/".join(rest[1:])
        try:
            entry = manifest.file(path)
        except KeyError:
            raise _NotFound(f"{path} not found in {name}@{manifest.revision}") from None
        oid = self._oid(entry)
        headers = {"X-Repo-Commit": manifest.revision, "ETag": f'"{oid}"'}
        if entry.path.endswith(LFS_SUFFIXES):
            headers.update({"X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(entry.size)})
        self._send_blob(entry, headers)


def _card_data(store: LocalStore, manifest: Manifest) -> dict[str, Any]:
    from .card import read_card_data

    try:
        return read_card_data(store.read_blob(manifest.file(CARD_FILE).sha256).decode("utf-8"))
    except (KeyError, UnicodeDecodeError, ValueError):
        return {}


