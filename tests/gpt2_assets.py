"""Test helper: GPT-2's BPE ranks, fetched from PyPI and turned into GPT-2's ``vocab.json`` + ``merges.txt``.

GPT-2's tokenizer is 50,000 merges over 256 byte tokens plus ``<|endoftext|>``. OpenAI ships the
merge ranks as ``whisper/assets/gpt2.tiktoken`` inside the ``openai-whisper`` source package on
PyPI (MIT licence): one line per token, ``<base64 of the token's bytes> <rank>``, the rank
being GPT-2's token id. :func:`gpt2_ranks_file` downloads that package with
``pip download`` (PyPI is the only network the CI has), checks the file's SHA-256 and keeps it in
a cache folder inside the checkout (``.test-assets/``, ignored by git: the tests never write into the
user's own cache); the file is never committed to the repository.

:func:`ranks_to_merges` recovers the merge list from the ranks, and :func:`write_gpt2_files`
writes the two files in GPT-2's own layout, so the tests can load them with
``BPETokenizer.from_gpt2_files`` and compare with ``tiktoken`` built from the very same ranks.

The byte -> character table here is written independently of ``gptlib.tokenizers`` on purpose:
if both used gptlib's table, a wrong table would go unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from gptlib.files import write_bytes

WHISPER_REQUIREMENT = "openai-whisper==20250625"
RANKS_MEMBER = "whisper/assets/gpt2.tiktoken"
RANKS_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
RANKS_FILENAME = "gpt2.tiktoken"
ENDOFTEXT_ID = 50256


class AssetError(RuntimeError):
    """The test asset could not be fetched or is not what we expect."""


def asset_cache_dir() -> Path:
    """``.test-assets`` in the checkout: kept between runs, ignored by git, outside the user's caches."""
    return Path(__file__).resolve().parents[1] / ".test-assets"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_member(archive: Path, member_suffix: str) -> bytes:
    """The bytes of the archive member whose path ends with ``member_suffix`` (sdist or wheel)."""
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar.getmembers():
                if info.isfile() and info.name.endswith("/" + member_suffix):
                    handle = tar.extractfile(info)
                    assert handle is not None
                    return handle.read()
    elif archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name == member_suffix or name.endswith("/" + member_suffix):
                    return zf.read(name)
    raise AssetError(f"{archive.name} has no member {member_suffix!r}")


def gpt2_ranks_file() -> Path:
    """Path of the cached ``gpt2.tiktoken`` (downloaded on first use); raises :class:`AssetError`."""
    cache = asset_cache_dir()
    target = cache / RANKS_FILENAME
    if target.is_file() and _sha256(target.read_bytes()) == RANKS_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            "--quiet", "--dest", tmp, WHISPER_REQUIREMENT,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise AssetError(f"could not run {' '.join(command)}: {err}") from err
        if result.returncode != 0:
            raise AssetError(
                f"`{' '.join(command)}` failed (exit {result.returncode}); the GPT-2 exactness tests need "
                f"PyPI to fetch GPT-2's merge ranks.\n{result.stderr.strip()[-2000:]}"
            )
        archives = sorted(Path(tmp).iterdir())
        if len(archives) != 1:
            raise AssetError(f"expected one downloaded archive, found {[a.name for a in archives]}")
        data = _read_member(archives[0], RANKS_MEMBER)
        if _sha256(data) != RANKS_SHA256:
            raise AssetError(f"{archives[0].name}:{RANKS_MEMBER} has SHA-256 {_sha256(data)}, expected {RANKS_SHA256}")
        write_bytes(target, data)  # atomic: readers see no file or the whole file
    return target


def load_ranks(path: Path) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file: ``<base64 token bytes> <rank>`` per line -> {token bytes: rank}."""
    ranks: dict[bytes, int] = {}
    for line_no, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        if not line:
            continue
        encoded, rank = line.split(" ")
        token = base64.b64decode(encoded, validate=True)
        if token in ranks:
            raise AssetError(f"{path}, line {line_no}: token {token!r} listed twice")
        ranks[token] = int(rank)
    return ranks


def gpt2_byte_table() -> dict[int, str]:
    """GPT-2's byte -> character table, built independently of gptlib (see the module docstring).

    Bytes that print as themselves in Latin-1 keep their character; the 68 others take the
    characters from U+0100 upward, in byte order.
    """
    keeps_itself = [b for b in range(256) if (0x21 <= b <= 0x7E) or (0xA1 <= b <= 0xAC) or (0xAE <= b <= 0xFF)]
    others = [b for b in range(256) if b not in set(keeps_itself)]
    table = {b: chr(b) for b in keeps_itself}
    table.update({b: chr(0x100 + n) for n, b in enumerate(others)})
    return table


def _bpe_parts(token: bytes, known: dict[bytes, int]) -> list[bytes]:
    """Run BPE on ``token`` with the merges known so far (rank of a pair = rank of its concatenation)."""
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 1:
        candidates = [(known[a + b], a, b) for a, b in zip(parts, parts[1:]) if a + b in known]
        if not candidates:
            break
        _, a, b = min(candidates)
        merged: list[bytes] = []
        i = 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                merged.append(a + b)
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return parts


def ranks_to_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merges, in rank order, that produce the multi-byte tokens of ``ranks``.

    For each multi-byte token, lowest rank first, run BPE on its bytes with the merges found so
    far; BPE stops at two parts (the whole token is not known yet), and those two parts are the
    merge that made the token. Raises :class:`AssetError` if that is not two parts.
    """
    known: dict[bytes, int] = {}
    merges: list[tuple[bytes, bytes]] = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            parts = _bpe_parts(token, known)
            if len(parts) != 2:
                raise AssetError(f"token {token!r} (rank {rank}) does not split into two known tokens: {parts}")
            merges.append((parts[0], parts[1]))
        known[token] = rank
    return merges


def write_gpt2_files(
    ranks: dict[bytes, int], merges: list[tuple[bytes, bytes]], folder: Path, special: dict[str, int]
) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` in GPT-2's layout; return their paths."""
    table = gpt2_byte_table()

    def as_text(token: bytes) -> str:
        return "".join(table[b] for b in token)

    vocab = {as_text(token): rank for token, rank in sorted(ranks.items(), key=lambda item: item[1])}
    vocab.update(special)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{as_text(a)} {as_text(b)}" for a, b in merges]
    merges_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vocab_path, merges_path
