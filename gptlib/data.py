"""Text corpora: download once, verify, cache, load; then split and cut into training batches.

``load_text("tinyshakespeare")`` returns the tiny Shakespeare corpus. Where it comes from:

1. the cache folder ``<data dir>/tinyshakespeare/input.txt``, where ``<data dir>`` is
   ``GPTLIB_DATA_DIR`` if set, else a per-user cache folder (``~/.cache/gptlib/data`` on Linux);
2. else a download from the first mirror that delivers the exact file: its SHA-256 decides whether
   a copy is accepted. The file is written to a temporary name beside its final place and renamed
   only after the check, so an interrupted or corrupted download never leaves a bad cached file.

Offline with no cached copy, :class:`DatasetUnavailableError` says which file to put where.
``load_text(path)`` reads any local UTF-8 text file instead.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gptlib._checks import is_int
from gptlib.files import atomic_path, sha256_of  # noqa: F401  (sha256_of: part of this module's API)

ENV_DATA_DIR = "GPTLIB_DATA_DIR"
CONNECT_TIMEOUT_S = 10.0  # seconds to establish a connection to a mirror
READ_TIMEOUT_S = 30.0  # seconds a mirror may stay silent while sending
DEADLINE_S = 300.0  # seconds a whole download from one mirror may take (a server that trickles)


@dataclass(frozen=True)
class Dataset:
    """A text file we know by name: where to fetch it and how to recognise the right copy."""

    name: str
    filename: str
    size: int  # bytes
    sha256: str
    urls: tuple[str, ...]  # mirrors, tried in order
    about: str = ""


DATASETS: dict[str, Dataset] = {
    "tinyshakespeare": Dataset(
        name="tinyshakespeare",
        filename="input.txt",
        size=1_115_394,
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        urls=(
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt",
        ),
        about="Shakespeare's plays (public domain), 40,000 lines, as collected for char-rnn",
    ),
}


class DatasetUnavailableError(RuntimeError):
    """No verified copy of a dataset in the cache, and none could be downloaded."""


class _RejectedCopy(Exception):
    """A mirror answered, but not with the file we want (wrong size or checksum)."""


def data_dir() -> Path:
    """The folder that holds the datasets: ``GPTLIB_DATA_DIR``, else a per-user cache folder."""
    configured = os.environ.get(ENV_DATA_DIR, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gptlib")) / "data"


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def dataset_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where the dataset ``name`` lives in the cache: ``<data dir>/<name>/<filename>``."""
    ds = _dataset(name)
    return (Path(root) if root is not None else data_dir()) / ds.name / ds.filename


def _problem_with(path: Path, ds: Dataset) -> str | None:
    """Why the file at ``path`` is not a good copy of ``ds``; None when it is."""
    size = path.stat().st_size
    if size != ds.size:
        return f"it has {size:,} bytes, expected {ds.size:,}"
    digest = sha256_of(path)
    if digest != ds.sha256:
        return f"its SHA-256 is {digest}, expected {ds.sha256}"
    return None


def _download_to(url: str, dest: Path, ds: Dataset, connect_timeout: float, read_timeout: float,
                 deadline: float, progress: bool) -> None:
    """Stream ``url`` into a temporary file beside ``dest``; rename it into place only if verified.

    Anything raised inside the ``atomic_path`` block (a rejected copy, a timeout, Ctrl-C) removes the
    temporary file, so ``dest`` is either the verified file or what it was before.
    """
    import requests
    from tqdm.auto import tqdm

    started = time.monotonic()
    with atomic_path(dest, suffix=".part") as tmp, open(tmp, "wb") as out, requests.get(
        url, stream=True, timeout=(connect_timeout, read_timeout),
        headers={"User-Agent": "gptlib (GPT from scratch notebooks)"},
    ) as response:
        response.raise_for_status()
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) != ds.size:
            raise _RejectedCopy(f"the server announced {int(announced):,} bytes, expected {ds.size:,}")
        h, received = hashlib.sha256(), 0
        with tqdm(total=ds.size, unit="B", unit_scale=True, desc=ds.filename, disable=not progress,
                  leave=False) as bar:
            # read1 returns whatever has arrived (up to 64 KiB), so the deadline is checked
            # even while a server trickles a byte at a time.
            while piece := response.raw.read1(1 << 16, decode_content=True):
                received += len(piece)
                if received > ds.size:
                    raise _RejectedCopy(f"the server sent more than the expected {ds.size:,} bytes")
                if time.monotonic() - started > deadline:
                    raise TimeoutError(f"the download took longer than {deadline:g} s")
                h.update(piece)
                out.write(piece)
                bar.update(len(piece))
        if received != ds.size:
            raise _RejectedCopy(f"the download stopped after {received:,} of {ds.size:,} bytes")
        if h.hexdigest() != ds.sha256:
            raise _RejectedCopy(f"its SHA-256 is {h.hexdigest()}, expected {ds.sha256}")


def ensure_dataset(name: str, root: str | os.PathLike | None = None, *, urls: tuple[str, ...] | None = None,
                   connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = READ_TIMEOUT_S,
                   deadline: float = DEADLINE_S, progress: bool = True) -> Path:
    """Path of a verified local copy of dataset ``name``, downloading it first if needed.

    ``urls`` overrides the dataset's mirrors (tests point it at a local server). A cached copy
    that fails verification is replaced by a fresh download, never used.
    """
    ds = _dataset(name)
    dest = dataset_path(name, root)
    damaged = None
    if dest.is_file():
        damaged = _problem_with(dest, ds)
        if damaged is None:
            return dest
    import requests
    import urllib3

    failures = []
    for url in urls if urls is not None else ds.urls:
        try:
            _download_to(url, dest, ds, connect_timeout, read_timeout, deadline, progress)
            return dest
        except _RejectedCopy as err:
            failures.append(f"{url}: rejected, {err}")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            failures.append(f"{url}: {type(err).__name__}: {err}")
    tried = "\n".join(f"  - {line}" for line in failures)
    cached = f"The cached copy {dest} is damaged ({damaged}).\n" if damaged else ""
    raise DatasetUnavailableError(
        f"The {ds.name!r} dataset is not in the cache and could not be downloaded.\n{cached}"
        f"Tried:\n{tried}\n"
        f"To fix it without a network: on a machine with one, download {ds.urls[0]}\n"
        f"and save it as {dest}\n"
        f"(exactly {ds.size:,} bytes, SHA-256 {ds.sha256}), or set {ENV_DATA_DIR} to a folder "
        f"that holds {ds.name}/{ds.filename}."
    )


def load_text(name_or_path: str | os.PathLike, **kwargs) -> str:
    """The text of a known dataset (``"tinyshakespeare"``) or of any local UTF-8 text file.

    Line endings are kept as they are in the file. Extra keyword arguments go to
    :func:`ensure_dataset` (``root``, ``progress``, ...).

    >>> text = load_text("tinyshakespeare")
    >>> len(text), text[:14]
    (1115394, 'First Citizen:')
    """
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        path = ensure_dataset(name_or_path, **kwargs)
    else:
        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} apply to named datasets only, not to a file path")
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"{str(name_or_path)!r} is neither a dataset gptlib knows "
                f"({', '.join(sorted(DATASETS))}) nor an existing file"
            )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text: byte {err.start} is {raw[err.start:err.start + 1]!r} ({err.reason}); "
            f"re-save the file as UTF-8"
        ) from None


def split(data, frac: float = 0.9):
    """Contiguous train/validation split: the first ``frac`` of ``data`` and the rest.

    Contiguous, not shuffled (as nanoGPT does): the held-out part is one unbroken stretch the training part
    never saw. The cut falls where ``frac`` lands, inside a sentence or not.

    >>> split("abcdefghij", 0.8)
    ('abcdefgh', 'ij')
    """
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac={frac!r} must lie strictly between 0 and 1 (0.9 keeps 90% for training)")
    n = int(frac * len(data))
    if n == 0 or n == len(data):
        raise ValueError(f"frac={frac} of {len(data)} items leaves one of the two parts empty")
    return data[:n], data[n:]


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator,
              rank: int = 0, world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of training pairs: ``x`` (B, T) and ``y`` (B, T), ``y`` being ``x`` shifted by one.

    Each row starts at a random offset ``i``: ``x = data[i : i+T]``, ``y = data[i+1 : i+T+1]``,
    so position ``t`` of ``y`` is the token that follows ``x[:t+1]``.

    Deterministic given ``generator`` (a CPU ``torch.Generator``). With ``world_size > 1`` every
    rank draws the same ``world_size * batch_size`` offsets (one global batch) and keeps its own
    slice ``[rank * batch_size, (rank + 1) * batch_size)``, so ranks never overlap and the global
    batch does not depend on how many processes share it. Returns int64 tensors on the CPU.

    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = get_batch(torch.arange(100), batch_size=2, block_size=4, generator=g)
    >>> x.shape, bool((y[:, :-1] == x[:, 1:]).all())
    (torch.Size([2, 4]), True)
    """
    data = torch.as_tensor(data)
    if data.ndim != 1 or data.is_floating_point() or data.is_complex():
        raise ValueError(f"data must be a 1-D tensor of integer token ids, got dtype {data.dtype} "
                         f"and shape {tuple(data.shape)}")
    for name, value in (("batch_size", batch_size), ("block_size", block_size), ("world_size", world_size)):
        if not is_int(value) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")
    if not is_int(rank) or not 0 <= rank < world_size:
        raise ValueError(f"rank={rank!r} must be an integer in [0, {world_size - 1}] for world_size={world_size}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens; a block of block_size={block_size} needs at least "
                         f"{block_size + 1} (inputs plus the one token that follows)")
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator (so batches are the same on every "
                         f"device), got {generator!r}")
    starts = torch.randint(len(data) - block_size, (world_size * batch_size,), generator=generator)
    starts = starts[rank * batch_size:(rank + 1) * batch_size]  # (B,)
    rows = data[starts[:, None] + torch.arange(block_size + 1)].long()  # (B, T+1)
    return rows[:, :-1], rows[:, 1:]
