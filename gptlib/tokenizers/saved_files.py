"""gptlib's own tokenizer files: the JSON that ``save`` writes and ``load`` reads.

- :func:`write_char`, :func:`read_char`   a :class:`CharTokenizer`'s characters
- :func:`write_bpe`, :func:`read_bpe`     a :class:`BPETokenizer`'s parts (:class:`BPEParts`)

Files are UTF-8 JSON, written whole or not at all (:func:`gptlib.files.write_text`: a temporary
file moved into place with ``os.replace``), so a crash never leaves half a file. Both kinds start
with ``"format"`` and ``"version"``; a reader refuses anything else with a ``ValueError`` naming
the file.

``CharTokenizer`` (``"format": "gptlib-char"``, version 1)::

    {"format": "gptlib-char", "version": 1, "chars": ["\\n", " ", "!", ...]}

``chars[i]`` is the character with id ``i``.

``BPETokenizer`` (``"format": "gptlib-bpe"``, version 1)::

    {
      "format": "gptlib-bpe",
      "version": 1,
      "pattern": "<the split regex>",
      "byte_ids": [0, 1, ..., 255],
      "merges": [
        [104, 101, 256],
        ...
      ],
      "special_tokens": {"<|endoftext|>": 1023}
    }

``byte_ids[b]`` is the id of the token for byte value ``b`` (0..255; the identity for a trained
tokenizer, GPT-2's own order for one loaded with :meth:`BPETokenizer.from_gpt2_files`). Each
merge ``[left, right, new]`` says "the pair (left, right) becomes token new"; the list is in rank
order (first learned first). Together the ids are exactly ``0 .. vocab_size - 1``.

The readers check the file's shape (keys, types); whether the ids fit together is checked by the
tokenizer's constructor.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "chars.json"
>>> write_char(path, ["a", "b"])
>>> print(path.read_text(encoding="utf-8"), end="")
{"format": "gptlib-char", "version": 1, "chars": ["a", "b"]}
>>> read_char(path)
['a', 'b']
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import regex

from .._checks import is_int
from ..files import write_text
from ._helpers import PathLike, compiled
from .parts import BPEParts

__all__ = ["write_char", "read_char", "write_bpe", "read_bpe"]

FORMAT_CHAR = "gptlib-char"
FORMAT_BPE = "gptlib-bpe"
FORMAT_VERSION = 1

_KIND_BY_FORMAT = {FORMAT_CHAR: "CharTokenizer", FORMAT_BPE: "BPETokenizer"}


# ---- writing --------------------------------------------------------------------------------


def write_char(path: PathLike, chars: Sequence[str]) -> None:
    """Write a ``gptlib-char`` file: ``chars[i]`` is the character with id ``i``."""
    payload = {"format": FORMAT_CHAR, "version": FORMAT_VERSION, "chars": list(chars)}
    write_text(path, _dump_json(payload))


def write_bpe(path: PathLike, parts: BPEParts) -> None:
    """Write a ``gptlib-bpe`` file, one merge per line so that it reads (and diffs) well.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "bpe.json"
    >>> parts = BPEParts([(104, 105)], {"<|endoftext|>": 257}, list(range(256)), [256], " ?[a-z]+")
    >>> write_bpe(path, parts)
    >>> print(path.read_text(encoding="utf-8"), end="")  # doctest: +ELLIPSIS
    {
      "format": "gptlib-bpe",
      "version": 1,
      "pattern": " ?[a-z]+",
      "byte_ids": [0, 1, 2, ..., 255],
      "merges": [
        [104, 105, 256]
      ],
      "special_tokens": {"<|endoftext|>": 257}
    }
    >>> read_bpe(path) == parts
    True
    """
    head = {"format": FORMAT_BPE, "version": FORMAT_VERSION, "pattern": parts.pattern}
    lines = ["{"]
    lines += [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in head.items()]
    lines.append(f'  "byte_ids": {json.dumps(parts.byte_ids)},')
    merge_lines = [f"    [{a}, {b}, {c}]" for (a, b), c in zip(parts.merges, parts.merged_ids)]
    lines.append('  "merges": [' + ("\n" + ",\n".join(merge_lines) + "\n  ]," if merge_lines else "],"))
    lines.append(f'  "special_tokens": {json.dumps(parts.special_tokens, ensure_ascii=False)}')
    lines.append("}")
    write_text(path, "\n".join(lines) + "\n")


def _dump_json(payload: Mapping[str, Any]) -> str:
    """Readable JSON (non-ASCII kept as is), falling back to escapes for lone surrogates."""
    text = json.dumps(payload, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(payload, ensure_ascii=True)
    return text + "\n"


# ---- reading --------------------------------------------------------------------------------


def read_char(path: PathLike) -> list[Any]:
    """The ``chars`` list of a ``gptlib-char`` file (checked to be a list; its entries by the caller)."""
    data = _read_tokenizer_json(path, FORMAT_CHAR)
    _check_keys(path, data, {"format", "version", "chars"})
    chars = data["chars"]
    if not isinstance(chars, list):
        raise ValueError(f"{path}: 'chars' must be a list of single characters")
    return chars


def read_bpe(path: PathLike) -> BPEParts:
    """The parts stored in a ``gptlib-bpe`` file; a malformed file is a ``ValueError`` naming it."""
    data = _read_tokenizer_json(path, FORMAT_BPE)
    _check_keys(path, data, {"format", "version", "pattern", "byte_ids", "merges", "special_tokens"})
    pattern, byte_ids, merges, special = data["pattern"], data["byte_ids"], data["merges"], data["special_tokens"]
    if not isinstance(pattern, str):
        raise ValueError(f"{path}: 'pattern' must be a string")
    try:
        compiled(pattern)
    except regex.error as err:
        raise ValueError(f"{path}: 'pattern' is not a valid regex ({err})") from None
    if not (isinstance(byte_ids, list) and all(is_int(i) for i in byte_ids)):
        raise ValueError(f"{path}: 'byte_ids' must be a list of 256 ints")
    if not isinstance(merges, list):
        raise ValueError(f"{path}: 'merges' must be a list of [left, right, new] id triples")
    for i, entry in enumerate(merges):
        if not (isinstance(entry, list) and len(entry) == 3 and all(is_int(x) for x in entry)):
            raise ValueError(f"{path}: merges[{i}] is {entry!r}, not a [left, right, new] triple of ints")
    if not (isinstance(special, dict) and all(is_int(i) for i in special.values())):
        raise ValueError(f"{path}: 'special_tokens' must map strings to int ids")
    return BPEParts(
        merges=[(a, b) for a, b, _ in merges],
        special_tokens=special,
        byte_ids=byte_ids,
        merged_ids=[c for _, _, c in merges],
        pattern=pattern,
    )


def _read_tokenizer_json(path: PathLike, expected_format: str) -> dict[str, Any]:
    """Parse a saved tokenizer and check its format and version; anything wrong is a ValueError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a gptlib tokenizer file: not valid JSON ({err})") from None
    if not isinstance(data, dict) or "format" not in data:
        raise ValueError(f"{path}: not a gptlib tokenizer file: expected a JSON object with a 'format' key")
    fmt = data["format"]
    if fmt != expected_format:
        if fmt in _KIND_BY_FORMAT:
            raise ValueError(
                f"{path}: holds a {_KIND_BY_FORMAT[fmt]} (format {fmt!r}), not a "
                f"{_KIND_BY_FORMAT[expected_format]}; load it with {_KIND_BY_FORMAT[fmt]}.load"
            )
        raise ValueError(f"{path}: unknown format {fmt!r}; expected {expected_format!r}")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: {fmt} format version {version!r} is not supported; this gptlib reads version {FORMAT_VERSION}"
        )
    return data


def _check_keys(path: PathLike, data: Mapping[str, Any], expected: set[str]) -> None:
    missing, extra = expected - data.keys(), data.keys() - expected
    if missing:
        raise ValueError(f"{path}: missing key(s) {sorted(missing)}")
    if extra:
        raise ValueError(f"{path}: unexpected key(s) {sorted(extra)}")
