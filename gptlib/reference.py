"""The series' reference model: a small trained character-level GPT of tiny Shakespeare.

- :func:`load_reference_model`   ``(model, tokenizer)``, after checking both files' SHA-256
- :func:`verify_reference_files` the check alone; returns the folder
- :data:`VAL_LOSS`               its validation loss, as recorded in the model card
- :class:`ReferenceModelError`   a file is missing or is not the one recorded here

Notebooks that need a *trained* model (attention maps, comparisons, generation) load this one
instead of training their own first, so each runs on its own, in any order, with the same outputs
everywhere. The files ship inside the package, in ``gptlib/models/shakespeare-char/`` (model card:
``README.md`` there), so a plain ``pip install`` of gptlib has them too; they were made by
``tools/train_reference_model.py``.

**Why a hash in the code.** The SHA-256 of each file is written below, in this module, not read
from the folder: a file that was changed, re-trained, damaged or swapped (by anyone, or by an
editor or a git setting that rewrites line endings) is refused with a message naming the file and
both hashes, instead of silently giving other attention maps and other numbers. The weights are a
safetensors file read by :func:`gptlib.checkpoint.load_gpt`; nothing is ever unpickled.

>>> model, tokenizer = load_reference_model(device="cpu")
>>> model.config.n_layer, model.config.n_embd, tokenizer.vocab_size, model.training
(4, 128, 65, False)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gptlib.files import sha256_of

__all__ = [
    "MODEL_DIR",
    "MODEL_FILE",
    "TOKENIZER_FILE",
    "MODEL_SHA256",
    "TOKENIZER_SHA256",
    "VAL_LOSS",
    "EVAL_BLOCK_SIZE",
    "ReferenceModelError",
    "verify_reference_files",
    "load_reference_model",
    "check_committed_file",
    "load_committed_model",
]

#: The folder of the files, inside the installed package: ``gptlib/models/shakespeare-char``.
MODEL_DIR = Path(__file__).resolve().parent / "models" / "shakespeare-char"
MODEL_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"

# Printed by tools/train_reference_model.py; change them only when the model is retrained on purpose.
MODEL_SHA256 = "a475962ab0fc35f1447fb1f7ba81737f54c0bb56c14ff0cd5b3e5f91d1d45645"
TOKENIZER_SHA256 = "43cb86b474e23445380fd7ead82417ba5caf1d125ead1fbcc5b51f6701d91036"
_TOOL = "tools/train_reference_model.py"  # what prints them

#: Mean cross-entropy (nats per character) over the whole validation split, rounded to 3 decimals:
#: ``gptlib.train.evaluate(model, val_ids, EVAL_BLOCK_SIZE, batch_size=64)`` with
#: ``train_ids, val_ids = gptlib.data.split(ids, 0.9)``. The same number is in the model card.
VAL_LOSS = 1.633
#: The window length of that evaluation (the model's context length).
EVAL_BLOCK_SIZE = 128


class ReferenceModelError(RuntimeError):
    """A reference model file is missing, or its SHA-256 is not the one recorded in gptlib.reference."""


def check_committed_file(path: Path, expected: str, *, tool: str, module: str = "gptlib/reference.py") -> None:
    """Raise :class:`ReferenceModelError` unless ``path`` exists and has SHA-256 ``expected``.

    The message names the file, both hashes, how to restore it (``git checkout`` of its folder, or
    reinstalling gptlib) and, for a deliberate retraining, the ``tool`` that prints the new hashes and
    the ``module`` they go into. Used for every model committed with the package.
    """
    try:  # the folder as the repository names it, e.g. gptlib/models/shakespeare-char
        folder = path.parent.resolve().relative_to(Path(__file__).resolve().parents[1]).as_posix()
    except ValueError:  # a folder outside the repository
        folder = str(path.parent)
    if not path.is_file():
        raise ReferenceModelError(
            f"committed model file {path} is missing. It is committed with the repository "
            f"and with the package ({folder}/); in a clone, restore it with "
            f"`git checkout -- {folder}`, otherwise reinstall gptlib")
    actual = sha256_of(path)
    if actual != expected:
        raise ReferenceModelError(
            f"committed model file {path} has SHA-256 {actual}, expected {expected}: it is not the "
            f"committed file (changed, damaged or replaced). Restore it with "
            f"`git checkout -- {folder}` (or reinstall gptlib); if you retrained "
            f"the model on purpose, put the hashes that {tool} printed into {module}")


def load_committed_model(folder: Path, model_sha256: str, tokenizer_sha256: str, *, tool: str, module: str,
                         device: str | torch.device | None = None):
    """``(model, tokenizer)`` from a folder holding ``model.safetensors`` and ``tokenizer.json``, both hash-checked.

    The model is a :class:`~gptlib.model.GPT` in eval mode on ``device`` (``None``:
    :func:`gptlib.device.get_device`), read by :func:`gptlib.checkpoint.load_gpt` (nothing is unpickled);
    the tokenizer a :class:`~gptlib.tokenizers.CharTokenizer`.
    """
    from gptlib.checkpoint import load_gpt
    from gptlib.device import get_device
    from gptlib.tokenizers import CharTokenizer

    folder = Path(folder)
    check_committed_file(folder / MODEL_FILE, model_sha256, tool=tool, module=module)
    check_committed_file(folder / TOKENIZER_FILE, tokenizer_sha256, tool=tool, module=module)
    model = load_gpt(folder / MODEL_FILE, device=device if device is not None else get_device())
    tokenizer = CharTokenizer.load(folder / TOKENIZER_FILE)
    if tokenizer.vocab_size != model.config.vocab_size:  # cannot happen with the recorded files
        raise ReferenceModelError(f"tokenizer has {tokenizer.vocab_size} ids, the model {model.config.vocab_size}")
    return model.eval(), tokenizer


def verify_reference_files(folder: str | os.PathLike | None = None) -> Path:
    """Check the SHA-256 of the model and tokenizer files in ``folder`` (default :data:`MODEL_DIR`).

    Returns the folder; raises :class:`ReferenceModelError` naming the file, the expected and the
    actual hash at the first file that does not match.
    """
    folder = Path(folder) if folder is not None else MODEL_DIR
    for name, expected in ((MODEL_FILE, MODEL_SHA256), (TOKENIZER_FILE, TOKENIZER_SHA256)):
        check_committed_file(folder / name, expected, tool=_TOOL)
    return folder


def load_reference_model(device: str | torch.device | None = None, *, folder: str | os.PathLike | None = None):
    """The reference model and its tokenizer: ``(model, tokenizer)``, after checking both files' SHA-256.

    Args:
        device: where to put the model; ``None`` means :func:`gptlib.device.get_device` (a GPU if
            there is one, or ``GPTLIB_DEVICE``).
        folder: where the files are; ``None`` means the committed :data:`MODEL_DIR`. Whatever the
            folder, the files must have the hashes recorded in this module.

    Returns a :class:`~gptlib.model.GPT` in eval mode (no dropout) on ``device``, and its
    :class:`~gptlib.tokenizers.CharTokenizer`. Raises :class:`ReferenceModelError` if a file is
    missing or is not the recorded one.
    """
    folder = Path(folder) if folder is not None else MODEL_DIR
    return load_committed_model(folder, MODEL_SHA256, TOKENIZER_SHA256, tool=_TOOL, module="gptlib/reference.py",
                                device=device)
