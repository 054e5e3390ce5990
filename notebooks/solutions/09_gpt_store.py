"""Solutions to the exercises of 09_gpt_store.ipynb. Try them yourself first!"""

import hashlib
from pathlib import Path


def manifest_entry(folder, path):
    """The manifest entry of the file folder/path: its path in the model, its size in bytes, its SHA-256."""
    data = (Path(folder) / path).read_bytes()  # bytes, not text: no decoding, no change of line endings
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # 64 lowercase hex digits


def is_safe_path(path):
    """Whether path may name a file inside a model folder: relative, '/'-separated, every part a real name."""
    if not isinstance(path, str) or "\\" in path or ":" in path:  # Windows separators and drives
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))  # '' also catches a leading '/' and '//'


def price_per_million_tokens(tokens_per_second, dollars_per_hour):
    """Dollars for generating one million tokens at tokens_per_second on a machine rented at dollars_per_hour."""
    seconds = 1_000_000 / tokens_per_second  # how long a million tokens take
    return dollars_per_hour * seconds / 3600  # an hour has 3600 seconds
