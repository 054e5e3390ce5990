"""Where models are installed from: another store's folder, or any HTTP server that speaks the store's protocol.

A *remote* answers four questions, whatever it is:

- ``index()``                   the catalogue: each model's name, tags, size and card front matter
- ``tags(name)``                ``{tag: revision id}``
- ``manifest_text(name, rev)``  the manifest of one revision, as stored (its hash is the revision id)
- ``open_blob(digest, offset)`` a stream of a blob's bytes from ``offset`` on, and where it really starts

The HTTP protocol is plain ``GET`` requests under ``/gptlib/v1/`` (``index``, ``models/<name>/refs``,
``models/<name>/revisions/<id>``, ``blobs/<sha256>``); a blob request may carry ``Range: bytes=<offset>-``,
and a server that honours it answers ``206 Partial Content``, one that does not answers ``200`` with
the whole file, which is why ``open_blob`` says where its stream starts. ``python -m gptlib.store serve``
is such a server (:mod:`gptlib.store.server`).

>>> open_remote("http://127.0.0.1:8000/")
HTTPRemote('http://127.0.0.1:8000')
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any, Protocol

from .._checks import is_number
from .local import LocalStore
from .names import (
    ModelNotFoundError,
    StoreError,
    check_digest,
    check_name,
    check_revision,
)

__all__ = ["API", "FolderRemote", "HTTPRemote", "Remote", "StoreConnectionError", "open_remote"]

API = "/gptlib/v1"


class StoreConnectionError(StoreError, ConnectionError):
    """A remote store that could not be reached, or stopped answering mid-transfer."""


class Remote(Protocol):
    def index(self) -> list[dict[str, Any]]: ...
    def tags(self, name: str) -> dict[str, str]: ...
    def manifest_text(self, name: str, revision: str) -> str: ...
    def open_blob(self, digest: str, offset: int = 0) -> tuple[IO[bytes], int]: ...


class FolderRemote:
    """Another :class:`~gptlib.store.local.LocalStore`'s folder (a USB stick, a shared drive) used as a remote."""

    def __init__(self, root: str | os.PathLike):
        self.store = LocalStore(root, create=False)

    def __repr__(self) -> str:
        return f"FolderRemote({str(self.store.root)!r})"

    def index(self) -> list[dict[str, Any]]:
        return self.store.index()

    def tags(self, name: str) -> dict[str, str]:
        return self.store.tags(name)

    def manifest_text(self, name: str, revision: str) -> str:
        return self.store.manifest_text(name, revision)

    def open_blob(self, digest: str, offset: int = 0) -> tuple[IO[bytes], int]:
        path = self.store.blob_path(digest)
        if not path.is_file():
            raise ModelNotFoundError(f"{self}: no blob {digest}")
        f = open(path, "rb")  # noqa: SIM115 (the caller closes the stream)
        f.seek(offset)
        return f, offset


class HTTPRemote:
    """A store served over HTTP at ``url`` (``http://host:port``), read with the standard library's ``urllib``.

    ``timeout`` (seconds) bounds every wait for the server, so a stalled server gives an error, not a hang.
    """

    def __init__(self, url: str, *, timeout: float = 30.0):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"a remote store URL must start with http:// or https://, got {url!r}")
        if not is_number(timeout) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"HTTPRemote({self.url!r})"

    def _open(self, path: str, headers: dict[str, str] | None = None):
        url = self.url + API + path
        request = urllib.request.Request(url, headers={"User-Agent": "gptlib-store", **(headers or {})})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("error", "")
            except (ValueError, OSError, AttributeError):
                message = ""
            if e.code == 404:
                raise ModelNotFoundError(message or f"{url}: not found") from None
            raise StoreError(f"{url}: the server answered {e.code} {e.reason}. {message}".strip()) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise StoreConnectionError(f"cannot reach the store at {self.url} ({reason}); if you are offline, "
                                       f"install with offline=True (CLI: --offline) to use the local store alone"
                                       ) from None

    def _json(self, path: str) -> Any:
        with self._open(path) as response:
            try:
                return json.loads(response.read())
            except ValueError as e:
                raise StoreError(f"{self.url}{API}{path}: not JSON ({e})") from None
            except RecursionError:
                raise StoreError(f"{self.url}{API}{path}: JSON nested too deeply to be a store's answer") from None

    @staticmethod
    def _quote_name(name: str) -> str:
        return "/".join(urllib.parse.quote(part, safe="") for part in check_name(name).split("/"))

    def index(self) -> list[dict[str, Any]]:
        data = self._json("/index")
        if not isinstance(data, list):
            raise StoreError(f"{self.url}: the index must be a JSON list")
        return data

    def tags(self, name: str) -> dict[str, str]:
        data = self._json(f"/models/{self._quote_name(name)}/refs")
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise StoreError(f"{self.url}: the tags of {name} must be a JSON object of strings")
        return data

    def manifest_text(self, name: str, revision: str) -> str:
        path = f"/models/{self._quote_name(name)}/revisions/{urllib.parse.quote(check_revision(revision))}"
        with self._open(path) as response:
            return response.read().decode("utf-8")

    def open_blob(self, digest: str, offset: int = 0) -> tuple[IO[bytes], int]:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._open(f"/blobs/{check_digest(digest)}", headers)
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                response.close()
                raise StoreError(f"{self.url}: asked for blob {digest} from byte {offset}, got a range from {start}")
            return response, offset
        return response, 0  # 200: the server sent the whole file


def _content_range_start(value: str) -> int | None:
    """``bytes 100-199/200 -> 100``; ``None`` if it is not that form."""
    try:
        unit, rest = value.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def open_remote(source: str | os.PathLike | Remote, *, timeout: float = 30.0) -> Remote:
    """A remote for ``source``: an ``http(s)://`` URL, a store folder, or a remote object as it is."""
    if isinstance(source, (FolderRemote, HTTPRemote)):
        return source
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return HTTPRemote(source, timeout=timeout)
    if isinstance(source, (str, os.PathLike)):
        return FolderRemote(Path(source))
    if all(hasattr(source, m) for m in ("index", "tags", "manifest_text", "open_blob")):
        return source
    raise TypeError(f"a remote is a URL, a folder or a Remote, got {type(source).__name__}")
