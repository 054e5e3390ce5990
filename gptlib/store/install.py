"""Installing a model from a remote: every byte hashed on the way in, the manifest written last.

``install`` downloads a revision blob by blob. Each blob is streamed into ``partial/<sha256>.part`` while
its SHA-256 is computed; only when the digest and the size are the manifest's is it renamed into
``blobs/``. A mismatch deletes the partial file and names the file and both hashes. After the last
blob, the manifest is written, and only then does the model exist in the store: an install that is
interrupted (a dropped connection, a stalled server, Ctrl-C) leaves no half-installed model, only
partial files. Run again, it asks the server to continue each partial blob where it stopped
(``Range: bytes=<size>-``); a server that answers ``206`` sends the rest, one that answers ``200`` sends
the whole file and that blob starts over.
"""

from __future__ import annotations

import hashlib
import http.client
from dataclasses import dataclass
from typing import Any

from .catalog import ModelInfo
from .local import IntegrityError, LocalStore
from .manifest import FileEntry, Manifest
from .names import (
    REVISION_ID,
    ModelNotFoundError,
    check_name,
    check_revision,
    not_found,
)
from .remote import Remote, StoreConnectionError, open_remote
from .safety import UnsafeFileError, check_file, refuse_pickle_name

__all__ = ["Installed", "install"]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Installed:
    """The result of :func:`install`: the model as the store now lists it, and what happened to each file.

    ``files`` maps each path to ``"present"`` (its blob was already in the store), ``"downloaded"``,
    ``"resumed"`` (a partial blob continued after a ``206``) or ``"restarted"`` (the server sent ``200``).
    """

    info: ModelInfo
    files: dict[str, str]


def _download(remote: Remote, store: LocalStore, entry: FileEntry, bar: Any) -> str:
    partial = store.partial_path(entry.sha256)
    partial.parent.mkdir(parents=True, exist_ok=True)
    offset = partial.stat().st_size if partial.is_file() else 0
    if offset >= entry.size:  # a leftover that cannot be a prefix of this blob
        partial.unlink()
        offset = 0
    stream, start = remote.open_blob(entry.sha256, offset)
    how = "downloaded" if offset == 0 else ("resumed" if start == offset else "restarted")
    h, written = hashlib.sha256(), start
    try:
        if start:
            with open(partial, "rb") as f:  # the bytes already here count towards the hash
                for piece in iter(lambda: f.read(1 << 20), b""):
                    h.update(piece)
        if bar is not None:
            bar.update(start)
        with stream, open(partial, "ab" if start else "wb") as out:
            while True:
                piece = stream.read(_CHUNK)
                if not piece:
                    break
                written += len(piece)
                if written > entry.size:
                    out.close()
                    partial.unlink(missing_ok=True)
                    raise IntegrityError(f"{entry.path}: the remote sent more than the manifest's {entry.size} "
                                         f"bytes; refused, nothing installed")
                h.update(piece)
                out.write(piece)
                if bar is not None:
                    bar.update(len(piece))
    except (TimeoutError, OSError, http.client.HTTPException) as e:
        raise StoreConnectionError(
            f"{entry.path}: the transfer stopped after {written:,} of {entry.size:,} bytes ({type(e).__name__}: "
            f"{e}); nothing was installed, and running install again resumes from byte {written:,}") from None
    if written < entry.size:
        raise StoreConnectionError(
            f"{entry.path}: the remote closed the transfer after {written:,} of {entry.size:,} bytes; nothing was "
            f"installed, and running install again resumes from there")
    digest = h.hexdigest()
    if digest != entry.sha256:
        partial.unlink(missing_ok=True)
        raise IntegrityError(f"{entry.path}: expected sha256 {entry.sha256}, got {digest}; the download was "
                             f"refused and deleted, nothing installed")
    try:
        check_file(partial, entry.path)
    except UnsafeFileError:
        partial.unlink(missing_ok=True)
        raise
    store.place_blob(partial, entry.sha256)
    return how


def install(source: Remote | str, name: str, revision: str = "main", *, into: LocalStore, offline: bool = False,
            progress: bool = True, timeout: float = 30.0) -> Installed:
    """Install revision ``revision`` (a tag or an id) of model ``name`` from ``source`` into the store ``into``.

    ``source`` is a URL, a store folder or a :class:`~gptlib.store.remote.Remote`. With ``offline=True``
    nothing is requested: the answer comes from ``into`` alone (an error if the model is not installed).
    Returns an :class:`Installed`: the model's :class:`~gptlib.store.catalog.ModelInfo` and what
    happened to each file.
    """
    check_name(name)
    check_revision(revision)
    if offline:
        if name not in into.names():
            raise ModelNotFoundError(f"{name!r} is not installed in {into.root}, and offline mode makes no "
                                     f"requests; installed: {', '.join(into.names()) or 'nothing'}")
        return Installed(into.info(name, revision), {})
    remote = open_remote(source, timeout=timeout)
    if REVISION_ID.fullmatch(revision):
        revision_id = revision
    else:
        try:
            tags = remote.tags(name)
        except ModelNotFoundError:
            known = [m.get("name", "") for m in remote.index() if isinstance(m, dict)]
            raise not_found("model", name, [k for k in known if isinstance(k, str)]) from None
        if revision not in tags:
            raise not_found(f"tag of {name!r}", revision, tags)
        revision_id = tags[revision]
    manifest = Manifest.from_json(remote.manifest_text(name, revision_id))
    if manifest.revision != revision_id or manifest.name != name:
        raise IntegrityError(f"the remote's manifest for {name}@{revision_id} is {manifest.name}@{manifest.revision} "
                             f"by its own hash; refused, nothing installed")
    for entry in manifest.files:  # refuse a pickle before a byte of it is downloaded
        refuse_pickle_name(entry.path)
    todo = [e for e in manifest.files if not into.blob_path(e.sha256).is_file()]
    report = {e.path: "present" for e in manifest.files if e not in todo}
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(e.size for e in todo), unit="B", unit_scale=True, desc=f"install {name}")
    try:
        for entry in todo:
            report[entry.path] = _download(remote, into, entry, bar)
    finally:
        if bar is not None:
            bar.close()
    into.add_manifest(manifest, tag=None if REVISION_ID.fullmatch(revision) else revision)
    return Installed(into.info(name, manifest.revision), report)
