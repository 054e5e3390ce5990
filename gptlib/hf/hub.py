"""OpenAI's pretrained GPT-2 from the Hugging Face hub, when the network is there.

(Import these from :mod:`gptlib.hf`; this module is for reading.)

- :func:`pretrained_gpt2`   a hub model name or a local folder -> :class:`Pretrained`: the
  ``GPT2LMHeadModel`` and its tokenizer, or ``None`` and the reason why not
- :data:`MODEL_FILES`, :data:`TOKENIZER_FILES`   the files it fetches

``GPT2LMHeadModel.from_pretrained("gpt2")`` needs the hub (or files it left in the local cache
earlier). The series must also run where there is no network, so this function asks first, with a
short timeout, and answers ``None`` with a reason instead of failing after minutes of retries:

1. a local folder is used as it is: no network at all;
2. otherwise one quick ``HEAD`` request (``timeout_s``) tells whether the hub answers. If it does, each
   file is fetched with ``huggingface_hub.hf_hub_download`` (kept in the cache, fetched once); if
   it does not, or ``HF_HUB_OFFLINE`` is set, the files are looked up in the cache only;
3. the model is loaded with ``from_pretrained(folder, use_safetensors=True)``: the weights come from
   ``model.safetensors``, never from a pickle.

Nothing global is changed: no environment variable, no setting of ``huggingface_hub``, no random
generator (loading is done under :func:`torch.random.fork_rng`).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from gptlib.hf.models import _transformers

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from transformers import GPT2LMHeadModel, GPT2Tokenizer

__all__ = ["MODEL_FILES", "TOKENIZER_FILES", "Pretrained", "pretrained_gpt2"]

#: What ``GPT2LMHeadModel.from_pretrained`` reads: the configuration and the weights (safetensors).
MODEL_FILES = ("config.json", "model.safetensors")
#: What ``GPT2Tokenizer.from_pretrained`` reads: GPT-2's two tokenizer files.
TOKENIZER_FILES = ("vocab.json", "merges.txt")


class Pretrained(NamedTuple):
    """What :func:`pretrained_gpt2` found: the model and tokenizer asked for, or ``None`` and ``reason``."""

    model: GPT2LMHeadModel | None
    tokenizer: GPT2Tokenizer | None
    reason: str | None  # why nothing was loaded; None when it was
    folder: Path | None  # where the files are (a snapshot folder of the cache, or the folder given)

    @property
    def available(self) -> bool:
        return self.reason is None


def _hub_answers(url: str, timeout_s: float) -> tuple[bool, str]:
    """One ``HEAD`` request: ``(True, "")`` if the server answered at all (any HTTP status), else
    ``(False, why)``. No retries: a missing network is reported within ``timeout_s``."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s):
            return True, ""
    except urllib.error.HTTPError:  # an answer (404, 401, ...): hf_hub_download will say what it means
        return True, ""
    except (OSError, ValueError) as err:  # URLError, timeouts, refused connections; a malformed endpoint
        reason = getattr(err, "reason", err)
        return False, f"{type(reason).__name__}: {reason}"


def pretrained_gpt2(
    name: str | os.PathLike = "gpt2",
    *,
    model: bool = True,
    tokenizer: bool = True,
    revision: str = "main",
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    timeout_s: float = 5.0,
) -> Pretrained:
    """A pretrained GPT-2 (``GPT2LMHeadModel``, in eval mode) and its ``GPT2Tokenizer``, if they can be had.

    Args:
        name: a model on the hub (``"gpt2"``, ``"gpt2-medium"``, ``"owner/name"``) or a local folder
            holding :data:`MODEL_FILES` and/or :data:`TOKENIZER_FILES` (e.g. from ``save_pretrained``).
        model, tokenizer: which of the two to load; the other is ``None`` (and its files not fetched).
        revision: the hub branch, tag or commit.
        cache_dir: where downloads are kept; ``None`` is ``huggingface_hub``'s cache
            (``~/.cache/huggingface/hub`` unless ``HF_HOME`` or ``HF_HUB_CACHE`` say otherwise).
        endpoint: the hub's address; ``None`` is ``huggingface_hub``'s (``https://huggingface.co``
            unless ``HF_ENDPOINT`` says otherwise). Tests point it at a server on 127.0.0.1.
        timeout_s: how long the first request may wait for the hub to answer.

    Returns a :class:`Pretrained`. If the hub does not answer and the files are not in the cache,
    ``model`` and ``tokenizer`` are ``None`` and ``reason`` says so; nothing is raised. Errors that are
    not about the network are raised as they are: a name the hub does not have
    (``huggingface_hub``'s ``RepositoryNotFoundError``), a folder without the files
    (``FileNotFoundError``), a model that is not a GPT-2.

    >>> import tempfile
    >>> found = pretrained_gpt2("gpt2", endpoint="http://127.0.0.1:9", cache_dir=tempfile.mkdtemp(), timeout_s=1)
    >>> found.available, found.model, "not in the local cache" in found.reason
    (False, None, True)
    """
    if not (model or tokenizer):
        raise ValueError("nothing to load: pass model=True, tokenizer=True or both")
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    wanted = (MODEL_FILES if model else ()) + (TOKENIZER_FILES if tokenizer else ())
    if Path(name).is_dir():
        folder = Path(name)
        missing = [f for f in wanted if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} has no {', '.join(missing)} (it needs {', '.join(wanted)})")
    else:
        fetched = _fetch(str(name), wanted, revision, cache_dir, endpoint, float(timeout_s))
        if isinstance(fetched, str):
            return Pretrained(None, None, fetched, None)
        folder = fetched

    transformers = _transformers()
    with torch.random.fork_rng(devices=[]):  # loading must not move the caller's random generator
        hf_model = transformers.GPT2LMHeadModel.from_pretrained(folder, use_safetensors=True) if model else None
        hf_tokenizer = transformers.GPT2Tokenizer.from_pretrained(folder) if tokenizer else None
    if hf_model is not None:
        hf_model.eval()
    return Pretrained(hf_model, hf_tokenizer, None, folder)


def _fetch(name: str, files: tuple[str, ...], revision: str, cache_dir: Any, endpoint: str | None,
           timeout_s: float) -> Path | str:
    """The snapshot folder holding ``files`` (downloaded if the hub answers, else from the cache), or
    the reason they cannot be had."""
    import huggingface_hub
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        online, why = False, "HF_HUB_OFFLINE is set"
    else:
        url = huggingface_hub.hf_hub_url(name, files[0], revision=revision, endpoint=endpoint)
        online, why = _hub_answers(url, timeout_s)
        if not online:
            host = (endpoint or constants.ENDPOINT).rstrip("/")
            why = f"the hub at {host} could not be reached in {timeout_s:g} s ({why})"
    paths = []
    for filename in files:
        try:
            paths.append(Path(huggingface_hub.hf_hub_download(
                name, filename, revision=revision, cache_dir=cache_dir, endpoint=endpoint,
                etag_timeout=timeout_s, local_files_only=not online)))
        except huggingface_hub.errors.LocalEntryNotFoundError:
            if online:  # it answered the first request, then failed: a network that comes and goes
                why = "the hub stopped answering while the files were fetched"
            return f"{name!r} is not available: {why}, and its {filename} is not in the local cache"
    folders = {p.parent for p in paths}
    if len(folders) != 1:  # pragma: no cover - the revision moved between two downloads
        raise RuntimeError(f"the files of {name!r} came from different revisions: {sorted(map(str, folders))}")
    return folders.pop()
