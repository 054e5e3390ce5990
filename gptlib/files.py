"""Files written whole or not at all: the one atomic-write helper every writer in gptlib uses.

A file is written under a temporary name in the folder it belongs in, flushed to disk, then renamed
over the final name with :func:`os.replace`, which is atomic on POSIX and Windows: a reader (or a
crash, a Ctrl-C, a full disk) sees the old file or the new one, never half of one. If anything goes
wrong before the rename, the temporary file is removed and the old file is left as it was.

- :func:`atomic_path`   a context manager: write to the temporary path it yields, any way you like
- :func:`write_bytes`, :func:`write_text`   the common cases, in one call
- :func:`sha256_of`     the SHA-256 of a file, read in pieces

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_text(folder / "hello.txt", "hi\\n")
>>> sorted(p.name for p in folder.iterdir()), (folder / "hello.txt").read_text()
(['hello.txt'], 'hi\\n')
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text", "hash_file", "sha256_of"]


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); not possible, nor needed, everywhere."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends, it becomes ``path``.

    Write the file at the yielded path (open it, hand it to ``save_file``, stream a download into it).
    If the block finishes, the file is flushed to disk, made readable (``0o644``; temporary files
    start private) and renamed to ``path``. If the block raises (``KeyboardInterrupt`` included), the
    temporary file is deleted and ``path`` is untouched. The parent folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # atomic: the old file until here, the new one after
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, with ``\\n`` line endings on every platform; return the path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="\n") as f:
        f.write(text)
    return Path(path)


def hash_file(path: str | os.PathLike) -> tuple[str, int]:
    """``(hex SHA-256, size in bytes)`` of a file, both from one read in 1 MiB pieces."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
            size += len(piece)
    return h.hexdigest(), size


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    return hash_file(path)[0]
