"""Wrong answers to the exercises of 09_gpt_store beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/store.py)."""

import hashlib
import re
from pathlib import Path, PurePosixPath

from gptlib.store import FileEntry


def _data(folder, path):
    return (Path(folder) / path).read_bytes()


def _text_keeping_line_endings(folder, path):
    with open(Path(folder) / path, encoding="utf-8", newline="") as f:  # keeps "\r\n", still decodes
        data = f.read().encode("utf-8")
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _with(key, value_of):
    """A right entry, but for ``key``, whose value is ``value_of(folder, path)``."""
    def answer(folder, path):
        data = _data(folder, path)
        return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                key: value_of(folder, path)}
    return answer


WRONG = {
    "09_gpt_store.manifest_entry": [
        (_text_keeping_line_endings, "UnicodeDecodeError"),  # right for text files, fails on weights
        (_with("sha256", lambda folder, path: hashlib.md5(_data(folder, path)).hexdigest()), "the MD5 digest"),
        (_with("sha256", lambda folder, path: hashlib.sha3_256(_data(folder, path)).hexdigest()),
         "the SHA3_256 digest"),  # 64 lowercase hex digits, but not SHA-256
        (_with("sha256", lambda folder, path: hashlib.sha256(_data(folder, path)).digest()),
         "32 raw bytes (from .digest())"),
        (_with("sha256", lambda folder, path: hashlib.sha256(path.encode()).hexdigest()), "digest of the path string"),
        (_with("size", lambda folder, path: (Path(folder) / path).stat().st_size / 1), "the integer 22"),
        (lambda folder, path: FileEntry(path, len(_data(folder, path)), hashlib.sha256(_data(folder, path)).hexdigest()),
         "returned a FileEntry"),
        (_with("path", lambda folder, path: str(PurePosixPath(path).name)), "'path' is 'vocab.json'"),
    ],
    "09_gpt_store.is_safe_path": [
        (lambda path: ".." not in PurePosixPath(path).parts, "'/etc/passwd' is unsafe"),  # parts hide '', '.'
        (lambda path: not path.startswith((".", "/")) and ".." not in path.split("/"), "'.config/settings.json' is safe"),
        (lambda path: re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", path) is not None
         and all(part not in (".", "..") for part in path.split("/")), "any printable characters"),
        (lambda path: path[0] != "/" and ".." not in path.split("/"), "for '', your function raised IndexError"),
    ],
    "09_gpt_store.price_per_million_tokens": [
        (lambda tokens_per_second, dollars_per_hour: tokens_per_second / 1e6 * dollars_per_hour,
         "a faster model finishes a million tokens sooner"),
        (lambda tokens_per_second, dollars_per_hour: 1e6 / tokens_per_second / 3600 / dollars_per_hour,
         "so at $0.05/hour they cost $0.01543"),  # divided by the rate
        (lambda tokens_per_second, dollars_per_hour: None, "returned None"),
    ],
}
