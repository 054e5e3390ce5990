"""The three kinds of string the store turns into file names, each checked before it is ever used in a path.

A model store writes files named after things that come from outside: a digest read from a manifest,
a file path listed in it, a model name typed by a user. Each is refused unless it has exactly the
allowed form, so none of them can point outside the store (``../../.ssh/id_rsa``, ``/etc/passwd``):

- a **digest**: the SHA-256 of a file's bytes, exactly 64 lowercase hex digits;
- a **file path** inside a model: relative, ``/``-separated, no ``..``, ``.`` or empty parts;
- a **model name**: ``name`` or ``owner/name`` in letters, digits, ``-``, ``_`` and ``.``.

>>> check_digest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")[:8]
'e3b0c442'
>>> check_path("tokenizer/vocab.json"), check_name("series/shakespeare-char")
('tokenizer/vocab.json', 'series/shakespeare-char')
>>> check_path("../outside.txt")
Traceback (most recent call last):
...
gptlib.store.names.UnsafePathError: file path '../outside.txt' is not allowed in a model: it must be relative, with '/' between parts and no '..', '.' or empty parts
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = [
    "REVISION_ID",
    "ModelNotFoundError",
    "StoreError",
    "UnsafePathError",
    "check_digest",
    "check_name",
    "check_path",
    "check_revision",
    "check_tag",
    "not_found",
]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
#: A revision's immutable id: 40 hex digits (the length of a git commit id, which the Hub's clients expect).
REVISION_ID = re.compile(r"[0-9a-f]{40}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class StoreError(Exception):
    """Something the model store refuses to do; the message says what and why."""


class UnsafePathError(StoreError, ValueError):
    """A name, path or digest that could lead outside the store, or a file the store never opens."""


class ModelNotFoundError(StoreError, LookupError):
    """A model (or revision) the store does not have."""


def check_digest(digest: object) -> str:
    """``digest`` if it is a SHA-256 in hex (64 lowercase hex digits), else :class:`UnsafePathError`."""
    if isinstance(digest, str) and _DIGEST.fullmatch(digest):
        return digest
    raise UnsafePathError(f"digest {digest!r} is not a SHA-256: it must be exactly 64 lowercase hex digits "
                          f"(0-9, a-f)")


def check_path(path: object) -> str:
    """``path`` if it is a safe relative file path inside a model, else :class:`UnsafePathError`."""
    ok = isinstance(path, str) and 0 < len(path) <= 255 and "\\" not in path and ":" not in path
    ok = ok and path.isprintable() and all(part not in ("", ".", "..") for part in path.split("/"))
    if ok:
        return path
    raise UnsafePathError(f"file path {path!r} is not allowed in a model: it must be relative, with '/' between "
                          f"parts and no '..', '.' or empty parts")


def check_name(name: object) -> str:
    """``name`` if it is a model name (``name`` or ``owner/name``), else ``ValueError`` saying what is allowed."""
    parts = name.split("/") if isinstance(name, str) else []
    if 1 <= len(parts) <= 2 and all(_PART.fullmatch(p) and ".." not in p for p in parts):
        return name
    raise UnsafePathError(f"model name {name!r} is not allowed: use 'name' or 'owner/name', each part starting "
                          f"with a letter or digit, then letters, digits, '-', '_' or '.' (at most 96), no '..'")


def check_tag(tag: object) -> str:
    """``tag`` if it is a tag name (``main``, ``v1.0``) that is not itself a revision id."""
    if isinstance(tag, str) and _TAG.fullmatch(tag) and not REVISION_ID.fullmatch(tag) and ".." not in tag:
        return tag
    raise UnsafePathError(f"tag {tag!r} is not allowed: use letters, digits, '-', '_' or '.' (at most 64, no '..'), "
                          f"and not 40 hex digits, which name a revision")


def check_revision(revision: object) -> str:
    """``revision`` if it is a revision id (40 hex digits) or a tag name."""
    if isinstance(revision, str) and REVISION_ID.fullmatch(revision):
        return revision
    return check_tag(revision)


def not_found(what: str, wanted: str, known: Iterable[str]) -> ModelNotFoundError:
    """A :class:`ModelNotFoundError` for ``wanted`` that lists the closest of ``known``.

    >>> print(not_found("model", "series/shakespear", ["series/shakespeare-char", "series/tiny"]))
    no model 'series/shakespear' in this store; did you mean: series/shakespeare-char?
    """
    known = sorted(known)
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean: " + ", ".join(close) + "?"
    elif known:
        hint = "it has: " + ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    else:
        hint = "it is empty"
    return ModelNotFoundError(f"no {what} {wanted!r} in this store; {hint}")
