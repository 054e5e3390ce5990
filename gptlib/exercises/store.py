"""Exercises of notebook 09_gpt_store: one manifest entry, a safe file path, the price of a million tokens.

Each checker compares with the store itself: ``LocalStore.add_blob`` (what ``publish`` records for a file),
``names.check_path`` and ``catalog.price_per_million_tokens``. The path cases agree with ``check_path``:

>>> all(_safe(p) for p, _ in _SAFE), any(_safe(p) for p, _ in _UNSAFE)
(True, False)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import posixpath
import tempfile
from pathlib import Path

from ..store.catalog import price_per_million_tokens
from ..store.local import LocalStore
from ..store.names import UnsafePathError, check_path
from ._core import (
    RAISED,
    Catalogue,
    Mistake,
    Wrong,
    as_float,
    call,
    exercise,
    first_match,
)

# --------------------------------------------------------------------------- 1. one manifest entry

# (path, bytes, whether it is text). A non-ASCII line (more bytes than characters), a nested path, Windows
# line endings (text mode turns "\r\n" into "\n") and bytes that are not UTF-8 at all, as in weights.
_FILES = (("README.md", b"# tiny\n\nA model card.\n", True),
          ("poem.txt", "Ô mon âme: 猫 sur le toit.\n".encode(), True),
          ("tokenizer/vocab.json", b'{"a": 0, "b": 1}\n', True),
          ("notes/windows.txt", b"line one\r\nline two\r\n", True),
          ("weights.raw", bytes(range(256)), False))


def _entry(path, data: bytes, algorithm: str = "sha256") -> dict:
    return {"path": path, "size": len(data), "sha256": hashlib.new(algorithm, data).hexdigest()}


def _bytes(folder, path) -> bytes:
    return (Path(folder) / path).read_bytes()


def _but(key: str, value_of):
    """A wrong answer: the right entry, except its ``key``, which is ``value_of(folder, path, data)``."""
    return lambda folder, path: {**_entry(path, _bytes(folder, path)), key: value_of(folder, path, _bytes(folder, path))}


_ENTRY = Catalogue(
    RAISED.with_example(lambda folder, path: _entry(path, Path(folder + "/" + path).read_bytes())),  # Path + str
    Mistake("not_a_dict", "for {path}, your function returned a {got}; return a dict {{'path': ..., 'size': ..., "
                          "'sha256': ...}}, the form each file has in a manifest's JSON",
            example=lambda folder, path: tuple(_entry(path, _bytes(folder, path)).values())),
    Mistake("wrong_keys", "for {path}, your dict has the keys {got}; a manifest entry has exactly 'path', 'size' "
                          "and 'sha256'",
            example=lambda folder, path: {"name": path, **_entry(path, _bytes(folder, path))}),
    Mistake("path_changed", "for {path}, 'path' is {got}: it should be the path inside the model, as given "
                            "({path!r}), not where the file is on your disk",
            example=lambda folder, path: _entry(str(Path(folder) / path), _bytes(folder, path))),
    Mistake("text_mode", "for {path}: {problem}. A model's files are bytes: count and hash the bytes themselves "
                         "(Path.read_bytes(), or open(..., 'rb'))",
            example=lambda folder, path: _entry(path, (Path(folder) / path).read_text(encoding="utf-8").encode()),
            shows="'\\r\\n'"),  # read_text turns "\r\n" into "\n"
    Mistake("size_in_characters", "for {path}, 'size' is {got}, its number of characters; a manifest counts bytes, "
                                  "{want} here: in UTF-8 an accented letter such as 'â' takes 2 bytes, and '猫' 3",
            example=_but("size", lambda folder, path, data: len(data.decode("utf-8")))),
    Mistake("wrong_size", "for {path}, 'size' is {got!r}; it should be the file's size in bytes, the integer {want}",
            example=_but("size", lambda folder, path, data: os.path.getsize(folder))),  # the folder's size
    Mistake("not_hex_text", "for {path}, 'sha256' is {got}; a manifest stores the digest as text, 64 hex digits: "
                            "hashlib.sha256(data).hexdigest()",
            example=_but("sha256", lambda folder, path, data: hashlib.sha256(data))),
    Mistake("uppercase_hex", "for {path}, 'sha256' is in uppercase; a digest is written in lowercase hex digits "
                             "(0-9, a-f), as .hexdigest() gives it and check_digest requires",
            example=_but("sha256", lambda folder, path, data: hashlib.sha256(data).hexdigest().upper())),
    Mistake("other_algorithm", "for {path}, 'sha256' is the {algorithm} digest of the file's bytes, not their "
                               "SHA-256: use hashlib.sha256",
            example=lambda folder, path: _entry(path, _bytes(folder, path), "sha1")),
    Mistake("hashed_path", "for {path}, 'sha256' is the digest of the path string, not of the file's content: "
                           "open the file and hash its bytes",
            example=_but("sha256", lambda folder, path, data: _entry(path, os.path.join(folder, path).encode())["sha256"])),
    Mistake("wrong_digest", "for {path}, 'sha256' is {got}, but the SHA-256 of the file's bytes is {want}: hash "
                            "exactly the bytes, nothing before or after them",
            example=_but("sha256", lambda folder, path, data: _entry(path, b"blob %d\0" % len(data) + data)["sha256"])),
)


@exercise("09_gpt_store", "manifest_entry",
          "correct: the path as given, the size in bytes and the SHA-256 of the bytes, as the store records them.",
          signature="folder, path", mistakes=_ENTRY)
def check_manifest_entry(student) -> None:
    """Check ``student(folder, path) -> {"path", "size", "sha256"}`` against what ``LocalStore.add_blob`` records."""
    with tempfile.TemporaryDirectory(prefix="gptlib-exercise-") as tmp:
        folder = Path(tmp) / "model"
        for path, data, _ in _FILES:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        store = LocalStore(Path(tmp) / "store")
        try:
            for path, _, is_text in _FILES:
                want = dataclasses.asdict(store.add_blob(folder / path, path))  # one source of truth
                _check_entry(student, folder, path, is_text, want)
        except Wrong as wrong:  # messages name no temporary folder, so they are the same every run
            raise Wrong(str(wrong).replace(str(folder), "<folder>"), wrong.mistake) from None


def _check_entry(student, folder: Path, path: str, is_text: bool, want: dict) -> None:
    try:
        got = call(student, folder, path)
    except Wrong as wrong:
        if wrong.student_raised("UnicodeDecodeError"):
            raise _ENTRY.text_mode.wrong(path=path, problem=f"{wrong}: its bytes are not text, as a model's "
                                                            "weights are not") from None
        raise
    if not isinstance(got, dict):
        raise _ENTRY.not_a_dict.wrong(path=path, got=type(got).__name__)
    if set(got) != {"path", "size", "sha256"}:
        raise _ENTRY.wrong_keys.wrong(path=path, got=", ".join(repr(k) for k in got))
    if got["path"] != path:
        raise _ENTRY.path_changed.wrong(path=path, got=repr(got["path"]))
    as_text = _ENTRY.text_mode.example(folder, path) if is_text else {}
    if ((as_text.get("size") != want["size"] and got["size"] == as_text.get("size"))
            or (as_text.get("sha256") != want["sha256"] and got["sha256"] == as_text.get("sha256"))):
        raise _ENTRY.text_mode.wrong(path=path, problem="reading it as text turned its '\\r\\n' line endings into "
                                                        "'\\n': your size or digest is of that text, not of the file")
    if got["size"] != want["size"] or type(got["size"]) is not int:
        characters = _ENTRY.size_in_characters.example(folder, path)["size"] if is_text else None
        if characters != want["size"] and got["size"] == characters:
            raise _ENTRY.size_in_characters.wrong(path=path, got=got["size"], want=want["size"])
        raise _ENTRY.wrong_size.wrong(path=path, got=got["size"], want=want["size"])
    digest = got["sha256"]
    if digest == want["sha256"]:
        return
    if not isinstance(digest, str):
        raise _ENTRY.not_hex_text.wrong(path=path, got=f"{len(digest)} raw bytes (from .digest())" if isinstance(
            digest, bytes) else f"a {type(digest).__name__} object, not its digest")
    if digest.lower() == want["sha256"]:
        raise _ENTRY.uppercase_hex.wrong(path=path)
    data = _bytes(folder, path)
    for algorithm in ("sha1", "md5", "sha512", "sha3_256", "blake2b"):
        if digest.lower() == hashlib.new(algorithm, data).hexdigest():
            raise _ENTRY.other_algorithm.wrong(path=path, algorithm=algorithm.upper())
    if digest == _ENTRY.hashed_path.example(folder, path)["sha256"] or digest == _entry(path, path.encode())["sha256"]:
        raise _ENTRY.hashed_path.wrong(path=path)
    raise _ENTRY.wrong_digest.wrong(path=path, got=digest, want=want["sha256"])


# --------------------------------------------------------------------------- 2. a safe path

# (path, why): the safe ones first, so that a function that refuses too much is told about a safe path.
_SAFE = (("README.md", "a file at the top of the model folder"),
         ("tokenizer/vocab.json", "a file in a folder of the model: '/' separates the parts"),
         (".config/settings.json", "a name may start with a dot; only a part that is exactly '.' or '..' is not"),
         ("v2..final.txt", "two dots inside a name are part of the name; only a part that is exactly '..' climbs"),
         ("données/猫.txt", "a name may hold any printable characters, not only ASCII"))
_UNSAFE = (("../x", "its first part '..' climbs out of the model folder"),
           ("a/../../b", "it goes into a, then up twice with '..': out of the model folder"),
           ("a/../b", "it has a '..' part, and the store refuses a path as written rather than cleaning it up"),
           ("/etc/passwd", "it is absolute: it starts with '/', at the top of the whole disk"),
           ("a//b", "it has an empty part between '//'"),
           ("a/", "it ends with '/': its last part is empty (a folder, not a file)"),
           ("./README.md", "it has a '.' part"),
           (".", "'.' is the model folder itself, not a file in it"),
           ("", "the empty string names no file"),
           ("a\\b", "'\\' separates folders on Windows"),
           ("..\\secret.txt", "on Windows '\\' separates folders, so this climbs out with '..'"),
           ("C:x", "':' names a drive on Windows (C:x is x in drive C's current folder)"))
_CASES = _SAFE + _UNSAFE


def _safe(path: str) -> bool:
    try:
        return check_path(path) == path
    except UnsafePathError:
        return False


def _parts_ok(path: str, refused=("", ".", "..")) -> bool:
    return all(part not in refused for part in path.split("/"))


_PATH = Catalogue(
    RAISED.with_example(lambda path: not os.path.isabs(path) and ".." not in path.parts),  # a str has no .parts
    Mistake("raised_for_unsafe", "for {path!r}, {raised}. An unsafe path should make it return False, not raise "
                                 "(raising is check_path's job)",
            example=lambda path: check_path(path) == path),
    Mistake("not_a_bool", "is_safe_path({path!r}) returned {got!r}; return True or False",
            example=lambda path: path if _safe(path) else None),
    Mistake("refused_folders", "{path!r} is safe ({why}), but you refused it: a model may have folders; check each "
                               "part between the '/', not whether there is one",
            example=lambda path: _safe(path) and "/" not in path),
    Mistake("only_the_start", "{path!r} is unsafe ({why}), but you accepted it: a check of how the path starts "
                              "misses a '..' further in, absolute paths and empty parts; split it at '/' and check "
                              "every part",
            example=lambda path: not path.startswith("..")),
    Mistake("normalised", "{path!r} is unsafe ({why}), but you accepted it: os.path.normpath cleans it up to "
                          "{clean!r}, but the store never rewrites a path a manifest gives it; it takes it as it is, "
                          "or refuses it",
            example=lambda path: not path.startswith("/") and not posixpath.normpath(path).startswith("..")),
    Mistake("empty_parts", "{path!r} is unsafe ({why}), but you accepted it: you refuse '.' and '..' parts, not empty "
                           "ones. path.split('/') gives an empty part for a leading '/' (an absolute path), for '//' "
                           "and for a trailing '/'",
            example=lambda path: bool(path) and "\\" not in path and ":" not in path and _parts_ok(path, (".", ".."))),
    Mistake("windows", "{path!r} is unsafe ({why}), but you accepted it: the model may be installed on Windows, so "
                       "refuse '\\' and ':' anywhere in the path",
            example=_parts_ok),
    Mistake("wrong_verdict", "{path!r} is {verdict}: {why}; your function says {got}",
            example=lambda path: ".." not in path and not path.startswith("/")),
)
_BY_VERDICTS = (_PATH.refused_folders, _PATH.only_the_start, _PATH.normalised, _PATH.empty_parts, _PATH.windows)


@exercise("09_gpt_store", "is_safe_path",
          "correct: relative, '/' between parts, no '..', '.' or empty part, no '\\' or ':', as check_path decides.",
          signature="path", mistakes=_PATH)
def check_is_safe_path(student) -> None:
    """Check ``student(path) -> bool`` against :func:`gptlib.store.names.check_path` on safe and unsafe paths."""
    verdicts = {}
    for path, _ in _CASES:
        try:
            got = call(student, path)
        except Wrong as wrong:
            if wrong.mistake == RAISED.id and not _safe(path):
                raise _PATH.raised_for_unsafe.wrong(path=path, raised=wrong) from None
            raise
        if not isinstance(got, bool):
            raise _PATH.not_a_bool.wrong(path=path, got=got)
        verdicts[path] = got
    wrong = [(path, why) for path, why in _CASES if verdicts[path] != _safe(path)]
    if not wrong:
        return
    path, why = wrong[0]
    for mistake in _BY_VERDICTS:
        if all(verdicts[p] == mistake.example(p) for p, _ in _CASES):
            raise mistake.wrong(path=path, why=why, clean=posixpath.normpath(path))
    raise _PATH.wrong_verdict.wrong(path=path, why=why, verdict="safe" if _safe(path) else "unsafe", got=verdicts[path])


# --------------------------------------------------------------------------- 3. the price of a million tokens

_SPEEDS = ((900.0, 0.05), (12_500.0, 2.5), (40.0, 0.9))  # (tokens per second, dollars per hour)


def _close(value: float, answer) -> bool:
    answer = as_float(answer)
    return answer is not None and math.isclose(value, answer, rel_tol=1e-6)


_PRICE = Catalogue(
    RAISED.with_example(lambda tps, dph: dph * int("1e6") / tps / 3600),  # int() reads no exponent
    Mistake("not_a_number", "at {tps:g} tokens/s and ${dph:g}/hour your function returned {got!r}; return the "
                            "price as a number (format it only to print it)",
            example=lambda tps, dph: f"${dph * 1e6 / tps / 3600:.2f}"),
    Mistake("no_3600", "at {tps:g} tokens/s and ${dph:g}/hour you return {got:.6g}, 3600 times the price: a million "
                       "tokens take {seconds:,.0f} seconds, that is {hours:.4g} hours (an hour has 3600 seconds), "
                       "and the rate is per hour",
            example=lambda tps, dph: dph * 1e6 / tps),
    Mistake("per_token", "at {tps:g} tokens/s and ${dph:g}/hour you return {got:.4g}, the price of one token; a "
                         "million tokens cost a million times as much",
            example=lambda tps, dph: dph / tps / 3600),
    Mistake("faster_costs_more", "at ${dph:g}/hour your price for {fast:g} tokens/s is {faster:.4g}, more than "
                                 "{got:.4g} for {tps:g} tokens/s: a faster model finishes a million tokens sooner, so "
                                 "it costs less. They take 1,000,000 / tokens_per_second seconds",
            example=lambda tps, dph: tps * dph / 3600),
    Mistake("wrong_price", "at {tps:g} tokens/s, a million tokens take 1,000,000 / {tps:g} = {seconds:,.1f} seconds "
                           "= {hours:.4g} hours, so at ${dph:g}/hour they cost ${want:.4g}; you return {got:.4g}",
            example=lambda tps, dph: dph * 1e6 / tps / 60),  # per minute
)


def _price(student, tps: float, dph: float) -> float:
    got = call(student, tps, dph)
    value = as_float(got)
    if value is None or not math.isfinite(value):
        raise _PRICE.not_a_number.wrong(tps=tps, dph=dph, got=got)
    return value


@exercise("09_gpt_store", "price_per_million_tokens",
          "correct: dollars per hour times the hours a million tokens take, 1,000,000 / tokens_per_second / 3600.",
          signature="tokens_per_second, dollars_per_hour", mistakes=_PRICE)
def check_price_per_million_tokens(student) -> None:
    """Check ``student(tokens_per_second, dollars_per_hour)`` against gptlib's ``price_per_million_tokens``."""
    for tps, dph in _SPEEDS:
        got = _price(student, tps, dph)
        want = price_per_million_tokens(tps, dph)
        if _close(got, want):
            continue
        seconds = 1e6 / tps
        values = {"tps": tps, "dph": dph, "got": got, "want": want, "seconds": seconds, "hours": seconds / 3600}
        mistake = first_match(got, (_PRICE.no_3600, _PRICE.per_token), tps, dph, same=_close)
        if mistake is not None:
            raise mistake.wrong(**values)
        faster = _price(student, 2 * tps, dph)
        if faster > got:
            raise _PRICE.faster_costs_more.wrong(**values, fast=2 * tps, faster=faster)
        raise _PRICE.wrong_price.wrong(**values)
