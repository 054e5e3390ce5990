"""Checkpoints: a model, its optimizer and everything needed to resume, in ONE safetensors file.

- :func:`save_checkpoint`  write weights, optimizer state, RNG state, configs and step, atomically
- :func:`read_checkpoint`  read and verify a file, without needing a model: a :class:`Checkpoint`
- :func:`load_checkpoint`  read a file into an existing model (and optimizer), refusing a mismatch
- :func:`load_gpt`         build the :class:`~gptlib.model.GPT` a checkpoint was made from

**Why one file.** A checkpoint has tensors (weights, the optimizer's moment estimates, RNG states)
and small facts (step, configurations, the training history). safetensors stores tensors and a
``metadata`` dict of strings in its header, so the facts go there as one JSON string. One file can
be replaced atomically (:func:`gptlib.files.atomic_path`): a crash, a Ctrl-C or a full disk while
writing leaves the previous checkpoint untouched.

**Why not pickle.** ``torch.save``/``torch.load`` use pickle, which can run arbitrary code when a
file is loaded. safetensors files hold only numbers and JSON, so opening one is safe whatever its
origin. Nothing here ever unpickles.

**What is inside.** Tensors are named ``model.<parameter name>``, ``optim.<path>`` and
``rng.<name>``. The header's ``"gptlib"`` entry holds::

    {"format": "gptlib.checkpoint", "version": 1, "step": ..., "model_class": "gptlib.model.GPT",
     "model_config": {...}, "train_config": {...}, "aliases": {...}, "optimizer": {...},
     "extra": {...}, "crc32": {tensor name: checksum}}

- ``aliases``: GPT's ``lm_head.weight`` *is* ``wte.weight`` (weight tying). ``state_dict()`` lists
  the one matrix under both names and safetensors refuses to store shared memory twice, so it is
  stored once and the second name recorded as an alias. Loading copies the values into the model's
  existing parameters, so the tie (which lives in the model's structure) is kept.
- ``optimizer``: ``optimizer.state_dict()`` with every tensor replaced by a reference to a stored
  tensor (``exp_avg`` and ``exp_avg_sq`` per parameter for AdamW) and tuples and int-keyed dicts
  spelled out, so the JSON round trip gives back exactly the same structure.
- ``crc32``: a checksum per tensor. safetensors notices a truncated file by itself; the checksums
  also catch damaged bytes inside the data (a bad disk, a broken copy).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from gptlib.files import atomic_path

__all__ = ["CHECKPOINT_NAME", "Checkpoint", "CheckpointError", "CheckpointMismatchError", "save_checkpoint",
           "read_checkpoint", "load_checkpoint", "load_gpt"]

FORMAT = "gptlib.checkpoint"
VERSION = 1
META_KEY = "gptlib"  # the safetensors header's metadata entry that holds our JSON
CHECKPOINT_NAME = "ckpt.safetensors"  # file name used when a folder is given instead of a file

# Optimizer settings that say how the update is computed on this machine (fused CUDA kernels,
# foreach loops) rather than what it computes: on loading, the current optimizer's values win, so
# a checkpoint made on a GPU with fused=True resumes on a CPU.
_IMPLEMENTATION_KEYS = ("fused", "foreach", "capturable", "differentiable")


class CheckpointError(RuntimeError):
    """A file that cannot be used as a checkpoint: truncated, damaged, or not a gptlib checkpoint."""


class CheckpointMismatchError(ValueError):
    """A valid checkpoint that belongs to another model (or optimizer) than the one given."""


@dataclass
class Checkpoint:
    """Everything read from a checkpoint file; tensors are on the CPU.

    Attributes:
        path: the file it was read from.
        step: optimizer steps completed when it was saved.
        model_state: the model's ``state_dict()``, aliases (tied weights) filled back in.
        optimizer_state: the optimizer's ``state_dict()``, or ``None`` if none was saved.
        rng_state: named random-generator states (uint8 tensors), as given to :func:`save_checkpoint`.
        model_class: ``module.QualName`` of the model's class.
        model_config: the model's ``config`` as a dict (``dataclasses.asdict``), or ``None``.
        train_config: the training configuration as a dict, or ``None``.
        extra: any other JSON data saved with it (the trainer keeps its loss history here).
    """

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None = None
    rng_state: dict[str, torch.Tensor] = field(default_factory=dict)
    model_class: str | None = None
    model_config: dict | None = None
    train_config: dict | None = None
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _resolve(path: str | os.PathLike) -> Path:
    """A folder means the checkpoint file inside it."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def _as_dict(config: Any, what: str) -> dict | None:
    """A config object (dataclass or mapping) as a plain JSON-able dict."""
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        config = dict(config)
    else:
        raise TypeError(f"{what} must be a dataclass instance or a dict, got {type(config).__name__}")
    try:
        return json.loads(json.dumps(config, default=os.fspath))  # tuples become lists, paths strings
    except TypeError as err:
        raise TypeError(f"{what} must hold only JSON values (numbers, strings, lists, dicts): {err}") from None


def _model_config(model: nn.Module) -> dict | None:
    config = getattr(model, "config", None)
    if config is None or not (dataclasses.is_dataclass(config) or isinstance(config, Mapping)):
        return None
    return _as_dict(config, f"{type(model).__name__}.config")


def _crc32(t: torch.Tensor) -> int:
    """Checksum of a CPU tensor's bytes (any dtype, including bfloat16 which numpy lacks)."""
    raw = t.contiguous().reshape(-1).view(torch.uint8).numpy()
    return zlib.crc32(memoryview(raw))


def _encode(obj: Any, name: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``obj`` as JSON; tensors go into ``tensors`` (under a name derived from ``name``) and are
    replaced by ``{"__tensor__": name}``. Tuples and dicts are tagged so that decoding gives back
    exactly the same types (JSON has no tuples, and its object keys are always strings)."""
    if isinstance(obj, torch.Tensor):
        key, n = name, 1
        while key in tensors:  # keys holding dots could make two paths spell the same name
            key, n = f"{name}~{n}", n + 1
        tensors[key] = obj.detach()
        return {"__tensor__": key}
    if isinstance(obj, Mapping):
        return {"__items__": [[k, _encode(v, f"{name}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{name}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{name}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {name!r} in a checkpoint")


def _decode(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__items__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        raise ValueError(f"unknown entry {sorted(obj)}")
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


def _model_tensors(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The model's state dict with every piece of memory once: ``(tensors, aliases)``.

    Two names for the very same tensor (weight tying) become one tensor plus an alias. Tensors that
    overlap in any other way (views of one buffer) are copied, so each is stored whole.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}  # exact layout -> first name
    storages: set[tuple] = set()
    for name, t in model.state_dict().items():
        t = t.detach()
        storage = (t.device, t.untyped_storage().data_ptr()) if t.numel() else None
        layout = (storage, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        if storage is not None and layout in seen:
            aliases[name] = seen[layout]
            continue
        if storage is not None:
            if storage in storages:
                t = t.clone()  # shares memory with another entry, but is not the same tensor
            else:
                storages.add(storage)
            seen[layout] = name
        tensors[name] = t
    return tensors, aliases


# --------------------------------------------------------------------------- save / read


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    step: int = 0,
    train_config: Any = None,
    rng_state: Mapping[str, torch.Tensor] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically to ``path`` (a file, or a folder to hold ``ckpt.safetensors``).

    Args:
        model: its ``state_dict()`` is saved, and its ``config`` attribute too if it is a dataclass
            or dict (checked against the model when loading). Pass the bare model, not a
            ``DistributedDataParallel`` wrapper (whose names start with ``module.``).
        optimizer: its ``state_dict()`` is saved, tensors and all.
        step: optimizer steps completed.
        train_config: a dataclass or dict, saved as JSON.
        rng_state: named uint8 tensors such as ``torch.get_rng_state()``.
        extra: any JSON-able data (lists, dicts, numbers, strings).

    Returns the path of the file written. If writing fails the previous file at ``path`` is kept.
    """
    path = _resolve(path)
    model_tensors, aliases = _model_tensors(model)
    tensors = {f"model.{k}": v for k, v in model_tensors.items()}
    optim_json = None if optimizer is None else _encode(optimizer.state_dict(), "optim", tensors)  # adds optim.*
    for name, t in (rng_state or {}).items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"rng_state[{name!r}] must be a tensor, got {type(t).__name__}")
        tensors[f"rng.{name}"] = t.detach()
    tensors = {k: v.to("cpu").contiguous() for k, v in tensors.items()}  # as safetensors wants them
    cls = type(model)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": int(step),
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        "model_config": _model_config(model),
        "train_config": _as_dict(train_config, "train_config"),
        "aliases": {f"model.{k}": f"model.{v}" for k, v in aliases.items()},
        "optimizer": optim_json,
        "extra": _as_dict(dict(extra or {}), "extra"),
        "crc32": {k: _crc32(v) for k, v in tensors.items()},
    }
    with atomic_path(path) as tmp:  # the old checkpoint until the new one is whole
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
    return path


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and verify a checkpoint file (or the ``ckpt.safetensors`` in a folder).

    Raises ``FileNotFoundError`` if there is none, and :class:`CheckpointError` naming the file if
    it is truncated, damaged (a checksum differs) or not a gptlib checkpoint.
    """
    path = _resolve(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")

    def bad(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a usable checkpoint: {reason}")

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            if META_KEY not in header:
                raise bad(f"it is a safetensors file, but not one written by gptlib.checkpoint "
                          f"(its header has no {META_KEY!r} entry)")
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except SafetensorError as err:
        raise bad(f"the file is truncated or damaged ({err}); it may be an interrupted copy. "
                  f"Use an older checkpoint or start training afresh") from None
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as err:
        raise bad(f"its header's JSON is damaged ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise bad(f"its header does not describe a {FORMAT} file")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise bad(f"it has format version {meta.get('version')!r}; this gptlib reads version {VERSION} "
                  f"and older: upgrade gptlib")
    crc = meta.get("crc32", {})
    for name in sorted(set(crc) | set(tensors)):
        if name not in tensors:
            raise bad(f"tensor {name!r} is missing")
        if name not in crc:
            raise bad(f"tensor {name!r} has no checksum")
        if _crc32(tensors[name]) != crc[name]:
            raise bad(f"tensor {name!r} does not match its checksum: the file's data are damaged")

    model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    for alias, target in meta.get("aliases", {}).items():
        model_state[alias.removeprefix("model.")] = model_state[target.removeprefix("model.")]
    try:
        optim = _decode(meta["optimizer"], tensors) if meta.get("optimizer") is not None else None
    except (KeyError, ValueError, TypeError) as err:
        raise bad(f"its optimizer entry is damaged ({err!r})") from None
    rng_state = {k.removeprefix("rng."): v for k, v in tensors.items() if k.startswith("rng.")}
    return Checkpoint(path=path, step=int(meta.get("step", 0)), model_state=model_state, optimizer_state=optim,
                      rng_state=rng_state, model_class=meta.get("model_class"), model_config=meta.get("model_config"),
                      train_config=meta.get("train_config"), extra=meta.get("extra") or {})


# --------------------------------------------------------------------------- load into a model


def _config_differences(saved: dict, current: dict, allowed: Iterable[str]) -> list[str]:
    """``"name: checkpoint A, this model B"`` for every field that differs and is not ``allowed`` to."""
    pairs = [(n, saved.get(n, "<absent>"), current.get(n, "<absent>"))
             for n in sorted((set(saved) | set(current)) - set(allowed))]
    return [f"{n}: checkpoint {a!r}, this model {b!r}" for n, a, b in pairs if a != b]


def _check_state(ckpt: Checkpoint, model: nn.Module) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in ckpt.model_state.items()}
    problems = []
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing:
        problems.append(f"missing from the checkpoint: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append(f"not in this model: {', '.join(unexpected[:5])}" + (" ..." if len(unexpected) > 5 else ""))
    shapes = [f"{k}: checkpoint {stored[k]}, this model {expected[k]}" for k in sorted(set(stored) & set(expected))
              if stored[k] != expected[k]]
    if shapes:
        problems.append("different shapes: " + "; ".join(shapes[:5]) + (" ..." if len(shapes) > 5 else ""))
    if problems:
        raise CheckpointMismatchError(f"{ckpt.path} holds weights of another model ({'; '.join(problems)})")


def _load_optimizer(ckpt: Checkpoint, optimizer: torch.optim.Optimizer) -> None:
    if ckpt.optimizer_state is None:
        raise CheckpointMismatchError(f"{ckpt.path} holds no optimizer state (saved without an optimizer)")
    state = ckpt.optimizer_state
    current = optimizer.state_dict()
    saved_sizes = [len(g["params"]) for g in state.get("param_groups", [])]
    current_sizes = [len(g["params"]) for g in current["param_groups"]]
    if saved_sizes != current_sizes:
        raise CheckpointMismatchError(
            f"{ckpt.path} holds the state of an optimizer with parameter groups of sizes {saved_sizes}; "
            f"this optimizer has {current_sizes}")
    groups = [{**saved, **{k: now[k] for k in _IMPLEMENTATION_KEYS if k in now}}  # this machine's kernels
              for saved, now in zip(state["param_groups"], current["param_groups"])]
    optimizer.load_state_dict({"state": state["state"], "param_groups": groups})


def load_checkpoint(
    path_or_checkpoint: str | os.PathLike | Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    allow_config_changes: Iterable[str] = (),
) -> Checkpoint:
    """Load a checkpoint's weights into ``model`` (and its state into ``optimizer``); return it.

    Refused with :class:`CheckpointMismatchError` when the checkpoint belongs to another model:
    when ``model.config`` differs from the saved model config (the message names every differing
    field with both values), or when parameter names or shapes differ. ``allow_config_changes``
    names config fields that may differ, e.g. ``("dropout",)`` to fine-tune with other dropout.
    Tied weights stay tied: values are copied into the model's existing parameters.
    """
    ckpt = path_or_checkpoint if isinstance(path_or_checkpoint, Checkpoint) else read_checkpoint(path_or_checkpoint)
    current = _model_config(model)
    if ckpt.model_config is not None and current is not None:
        diffs = _config_differences(ckpt.model_config, current, allow_config_changes)
        if diffs:
            raise CheckpointMismatchError(
                f"{ckpt.path} was saved from a model with another configuration: " + "; ".join(diffs)
                + ". Build the model with the checkpoint's config (gptlib.checkpoint.load_gpt does) "
                  "or train into another out_dir")
    _check_state(ckpt, model)
    model.load_state_dict(ckpt.model_state, strict=True)
    if optimizer is not None:
        _load_optimizer(ckpt, optimizer)
    return ckpt


def load_gpt(path: str | os.PathLike, device: str | torch.device | None = None):
    """The :class:`~gptlib.model.GPT` saved in a checkpoint, built from its saved config, in eval mode.

    >>> model = load_gpt("out/char-small")  # doctest: +SKIP
    """
    from gptlib.model import GPT, GPTConfig

    ckpt = read_checkpoint(path)
    expected = f"{GPT.__module__}.{GPT.__qualname__}"
    if ckpt.model_class != expected or ckpt.model_config is None:
        raise CheckpointMismatchError(f"{ckpt.path} holds a {ckpt.model_class}, not a {expected} with its config; "
                                      f"build that model yourself and use load_checkpoint(path, model)")
    model = GPT(GPTConfig(**ckpt.model_config))
    load_checkpoint(ckpt, model)
    return model.to(device if device is not None else "cpu").eval()
