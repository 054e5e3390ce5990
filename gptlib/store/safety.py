"""What the store will not let in: pickles, and safetensors files whose header lies.

**Pickle** is Python's object serialisation, and loading a pickle runs code chosen by whoever made the file
(``torch.load`` of an old ``.bin``/``.pt`` checkpoint does exactly that). A model downloaded from a
stranger must never be unpickled, so the store refuses a pickle wherever it appears: by its name
(``.bin``, ``.pt``, ``.pkl``, ...) and by its first bytes (the pickle opcode ``PROTO``, ``0x80``; or a
zip archive holding a ``.pkl``, which is what ``torch.save`` writes today).

**safetensors** is a format that holds only numbers: an 8-byte little-endian length ``N``, a JSON header of
``N`` bytes (each tensor's dtype, shape and byte range) and the raw bytes. Reading it runs no code, but
a hostile header can still claim a huge ``N`` or byte ranges outside the file. :func:`check_safetensors`
checks the header against the file size *before* reading it whole or allocating anything:

>>> import io, json, struct
>>> header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
>>> good = struct.pack("<Q", len(header)) + header + bytes(8)
>>> check_safetensors(io.BytesIO(good), len(good), "model.safetensors")
{'w': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]}}
>>> check_safetensors(io.BytesIO(good[:-1]), len(good) - 1, "model.safetensors")
Traceback (most recent call last):
...
gptlib.store.safety.UnsafeFileError: model.safetensors: tensor 'w' claims bytes 0..8 of the data, but the file holds only 7 bytes of data (truncated or corrupt)
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

from .names import StoreError

__all__ = [
    "MAX_HEADER_BYTES",
    "PICKLE_SUFFIXES",
    "UnsafeFileError",
    "check_file",
    "check_safetensors",
    "refuse_pickle_name",
]

#: File name endings that mean a pickle, or may hold one (PyTorch, scikit-learn, numpy object arrays).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")
#: The largest safetensors header the store reads (the safetensors library's own limit is 100 MB).
MAX_HEADER_BYTES = 100_000_000
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8, "F8_E8M0": 1}


class UnsafeFileError(StoreError, ValueError):
    """A file the store refuses to keep or load: a pickle, or a safetensors file that is not what it says."""


def refuse_pickle_name(path: str) -> None:
    """:class:`UnsafeFileError` if ``path``'s name says it is a pickle."""
    if path.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeFileError(
            f"{path}: refused, a {Path(path).suffix} file is (or may be) a pickle, and loading a pickle runs "
            f"arbitrary code; the store keeps weights only in safetensors (convert with "
            f"safetensors.torch.save_file on a machine you trust)")


def _refuse_pickle_bytes(f: IO[bytes], path: str) -> None:
    start = f.read(4)
    f.seek(0)
    if len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5:
        raise UnsafeFileError(f"{path}: refused, its first bytes are a pickle (protocol {start[1]}), whatever its "
                              f"name; the store never keeps pickles")
    if start == b"PK\x03\x04":
        try:
            members = zipfile.ZipFile(f).namelist()
        except zipfile.BadZipFile:
            members = []
        f.seek(0)
        if any(m.endswith((".pkl", ".pickle")) for m in members):
            raise UnsafeFileError(f"{path}: refused, it is a zip archive holding a pickle (what torch.save "
                                  f"writes); the store never keeps pickles")


def check_safetensors(f: IO[bytes], size: int, path: str) -> dict[str, Any]:
    """The header of the safetensors file ``f`` (``size`` bytes), checked; :class:`UnsafeFileError` if it lies."""
    if size < 8:
        raise UnsafeFileError(f"{path}: {size} bytes is too short for a safetensors file (it starts with an "
                              f"8-byte header length)")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER_BYTES or n > size - 8:
        raise UnsafeFileError(f"{path}: the header claims {n:,} bytes but the file has {size - 8:,} after the "
                              f"length (and the store reads at most {MAX_HEADER_BYTES:,}): corrupt or hostile")
    raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnsafeFileError(f"{path}: the header is not valid JSON ({e})") from None
    except RecursionError:
        raise UnsafeFileError(f"{path}: the header is nested too deeply to be a safetensors header") from None
    if not isinstance(header, dict):
        raise UnsafeFileError(f"{path}: the header must be a JSON object, got {type(header).__name__}")
    data_bytes = size - 8 - n
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                raise UnsafeFileError(f"{path}: __metadata__ must map names to strings")
            continue
        dtype, shape, offsets = (entry.get(k) for k in ("dtype", "shape", "data_offsets")) if isinstance(
            entry, dict) else (None, None, None)
        if not isinstance(dtype, str) or dtype not in _ITEMSIZE or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise UnsafeFileError(f"{path}: tensor {name!r} has no valid dtype and shape: {entry!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets) and 0 <= offsets[0] <= offsets[1]):
            raise UnsafeFileError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        if end > data_bytes:
            raise UnsafeFileError(f"{path}: tensor {name!r} claims bytes {begin}..{end} of the data, but the file "
                                  f"holds only {data_bytes} bytes of data (truncated or corrupt)")
        if end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
            raise UnsafeFileError(f"{path}: tensor {name!r} is {dtype} of shape {shape}, which is "
                                  f"{math.prod(shape) * _ITEMSIZE[dtype]} bytes, but its range holds {end - begin}")
        ranges.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(ranges):
        if begin != covered:
            raise UnsafeFileError(f"{path}: tensor {name!r} starts at byte {begin} of the data, not at {covered}: "
                                  f"tensors overlap or leave gaps")
        covered = end
    if covered != data_bytes:
        raise UnsafeFileError(f"{path}: the tensors cover {covered} bytes of data but the file has {data_bytes}")
    return header


def check_file(file: str | Path, path: str) -> None:
    """Refuse the file at ``file`` (called ``path`` in its model) if it is a pickle or a lying safetensors file."""
    refuse_pickle_name(path)
    file = Path(file)
    with open(file, "rb") as f:
        _refuse_pickle_bytes(f, path)
        if path.lower().endswith(".safetensors"):
            check_safetensors(f, file.stat().st_size, path)
