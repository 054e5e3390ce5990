"""Tests for gptlib.checkpoint: round trips (tied weights, optimizer state, RNG), atomic writes,
and clear errors for truncated, damaged, foreign and mismatched files."""

from __future__ import annotations

import errno
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

import gptlib.checkpoint as checkpoint
from gptlib.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    load_checkpoint,
    load_gpt,
    read_checkpoint,
    save_checkpoint,
)
from gptlib.model import GPT, GPTConfig
from gptlib.train import TrainConfig, configure_optimizer

ROOT = Path(__file__).resolve().parents[1]


def tiny(**overrides) -> GPT:
    fields = dict(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
    return GPT(GPTConfig(**{**fields, **overrides}))


def trained(steps: int = 2):
    """A tiny GPT and its AdamW after a few steps, so the optimizer has state."""
    torch.manual_seed(0)
    model = tiny()
    opt = configure_optimizer(model, 0.1, 1e-2, (0.9, 0.95))
    for _ in range(steps):
        x = torch.randint(65, (2, 16))
        _, loss = model(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model, opt


@pytest.fixture
def saved(tmp_path):
    model, opt = trained()
    path = save_checkpoint(tmp_path / "ckpt.safetensors", model, opt, step=2,
                           train_config=TrainConfig(max_steps=9), rng_state={"cpu": torch.get_rng_state()},
                           extra={"note": "hi", "losses": [1.5, float("nan")]})
    return path, model, opt


def test_round_trip_restores_weights_optimizer_rng_and_ties(saved):
    path, model, opt = saved
    torch.manual_seed(1)
    model2 = tiny()
    opt2 = configure_optimizer(model2, 0.1, 1e-2, (0.9, 0.95))
    ckpt = load_checkpoint(path, model2, opt2)
    assert ckpt.step == 2 and ckpt.train_config["max_steps"] == 9
    assert ckpt.extra["note"] == "hi" and ckpt.extra["losses"][0] == 1.5
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k]), k
    assert model2.lm_head.weight is model2.wte.weight  # still tied
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]  # tuples stay tuples (betas), floats exact
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for key, value in a["state"][i].items():
            assert torch.equal(value, b["state"][i][key]), (i, key)
    with safe_open(str(path), "pt") as f:
        names = set(f.keys())
        assert torch.equal(f.get_tensor("rng.cpu"), ckpt.rng_state["cpu"])
    assert "model.wte.weight" in names and "model.lm_head.weight" not in names  # tied matrix stored once


def test_the_next_step_after_loading_is_the_same(saved):
    path, model, opt = saved
    model2 = tiny()
    opt2 = configure_optimizer(model2, 0.1, 1e-2, (0.9, 0.95))
    load_checkpoint(path, model2, opt2)
    x = torch.randint(65, (2, 16), generator=torch.Generator().manual_seed(3))
    for m, o in ((model, opt), (model2, opt2)):
        m(x, x)[1].backward()
        o.step()
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k]), k


def test_file_is_plain_safetensors_with_json_metadata(saved):
    path = saved[0]
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header["__metadata__"]["gptlib"])
    assert meta["format"] == "gptlib.checkpoint" and meta["step"] == 2
    assert meta["model_config"]["n_embd"] == 32
    assert meta["aliases"] == {"model.lm_head.weight": "model.wte.weight"}


def test_no_pickle_anywhere_near_checkpoints():
    files = [ROOT / "gptlib" / "checkpoint.py", *sorted((ROOT / "gptlib" / "train").glob("*.py"))]
    assert len(files) > 2, "gptlib/train/ is a package of modules"
    for path in files:
        source = path.read_text()
        for call in ("torch.load(", "torch.save(", "import pickle", "pickle.load"):
            assert call not in source, f"{path.name} uses {call}"


def test_folder_path_means_the_file_inside(tmp_path):
    model, _ = trained(0)
    path = save_checkpoint(tmp_path, model)
    assert path == tmp_path / "ckpt.safetensors"
    assert read_checkpoint(tmp_path).optimizer_state is None


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_failed_write_keeps_the_previous_checkpoint(saved, monkeypatch, failure):
    path, model, opt = saved
    before = path.read_bytes()

    def broken_save_file(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise failure

    monkeypatch.setattr(checkpoint, "save_file", broken_save_file)
    with pytest.raises(type(failure)):
        save_checkpoint(path, model, opt, step=3)
    assert path.read_bytes() == before
    assert read_checkpoint(path).step == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the temporary file is gone


@pytest.mark.parametrize("keep", [0, 7, 100, "half", "all but one"])
def test_truncated_file_gets_a_clear_error_naming_it(saved, keep):
    path = saved[0]
    raw = path.read_bytes()
    n = {"half": len(raw) // 2, "all but one": len(raw) - 1}.get(keep, keep)
    path.write_bytes(raw[:n])
    with pytest.raises(CheckpointError, match=rf"{path.name} is not a usable checkpoint: .*truncated or damaged"):
        read_checkpoint(path)


def test_damaged_data_is_caught_by_the_checksum(saved):
    path = saved[0]
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # a byte inside the last tensor's data
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"does not match its checksum"):
        read_checkpoint(path)


def test_foreign_and_missing_files(tmp_path):
    foreign = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match=r"other.safetensors .*not one written by gptlib"):
        read_checkpoint(foreign)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        read_checkpoint(tmp_path / "nothing.safetensors")
    newer = tmp_path / "newer.safetensors"
    save_file({"w": torch.zeros(2)}, str(newer),
              metadata={"gptlib": json.dumps({"format": "gptlib.checkpoint", "version": 99})})
    with pytest.raises(CheckpointError, match="version 99"):
        read_checkpoint(newer)


def test_other_model_config_is_refused_naming_fields_and_values(saved):
    path = saved[0]
    with pytest.raises(CheckpointMismatchError,
                       match=r"another configuration: n_head: checkpoint 2, this model 4; n_layer: checkpoint 2, "
                             r"this model 1"):
        load_checkpoint(path, tiny(n_layer=1, n_head=4))
    with pytest.raises(CheckpointMismatchError, match=r"dropout: checkpoint 0.0, this model 0.1"):
        load_checkpoint(path, tiny(dropout=0.1))
    load_checkpoint(path, tiny(dropout=0.1), allow_config_changes=["dropout"])


def test_models_without_config_are_checked_by_names_and_shapes(tmp_path):
    path = save_checkpoint(tmp_path / "mlp.safetensors", nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)))
    with pytest.raises(CheckpointMismatchError, match=r"different shapes: 1.bias: checkpoint \(2,\), this model \(5,\); "
                                                      r"1.weight: checkpoint \(2, 4\), this model \(5, 4\)"):
        load_checkpoint(path, nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5)))
    with pytest.raises(CheckpointMismatchError, match=r"missing from the checkpoint: 2.bias, 2.weight"):
        load_checkpoint(path, nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2), nn.Linear(2, 2)))
    with pytest.raises(CheckpointMismatchError, match="no optimizer state"):
        m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
        load_checkpoint(path, m, torch.optim.AdamW(m.parameters()))


def test_optimizer_implementation_flags_come_from_the_current_optimizer(saved):
    path = saved[0]
    model2 = tiny()
    groups = [{"params": [p for p in model2.parameters() if p.ndim >= 2], "weight_decay": 0.1},
              {"params": [p for p in model2.parameters() if p.ndim < 2], "weight_decay": 0.0}]
    opt2 = torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95), foreach=False)
    load_checkpoint(path, model2, opt2)
    assert opt2.param_groups[0]["foreach"] is False and opt2.param_groups[0]["fused"] is None


def test_load_gpt_builds_the_saved_model(saved):
    path, model, _ = saved
    loaded = load_gpt(path)
    assert not loaded.training and loaded.config == model.config
    x = torch.randint(65, (1, 16))
    model.eval()
    assert torch.equal(loaded(x)[0], model(x)[0])
