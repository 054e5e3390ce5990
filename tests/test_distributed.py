"""The trainer under torchrun: 2 CPU processes (gloo) take the same steps as one process on the
same global batch. And a process that merely inherited RANK/WORLD_SIZE (a Jupyter kernel) trains as
one process, unless asked to join."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from gptlib.checkpoint import read_checkpoint
from gptlib.train import DistInfo, Trainer
from gptlib.train.distributed import TORCHRUN_MARKERS, launched_by_torchrun, world_from_environment
from helpers import free_port
from train_worker import one_thread, tiny_config, tiny_data, tiny_model

WORKER = Path(__file__).with_name("train_worker.py")
STEPS = 20

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available")



def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    out, result = tmp_path / "out", tmp_path / "result"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GPTLIB_DEVICE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER),
           "--out", str(out), "--result", str(result), "--max-steps", str(STEPS), "--batch-size", "8",
           "--dropout", "0"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with one_thread():
        train, val = tiny_data()
        single = Trainer(tiny_model(dropout=0.0), train, val, tiny_config(max_steps=STEPS), device="cpu")
        expected = single.fit()

    ranks = [json.loads((result / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["is_main"] for r in ranks] == [True, False]
    h0, h1 = ranks[0]["history"], ranks[1]["history"]
    assert h0["steps"] == list(range(1, STEPS + 1))
    # the logged loss is the global batch's: all-reduced, the same on both ranks
    assert h0["train_loss"] == h1["train_loss"] and h0["val_loss"] == h1["val_loss"]
    torch.testing.assert_close(torch.tensor(h0["train_loss"]), torch.tensor(expected.train_loss), rtol=1e-4, atol=0)
    torch.testing.assert_close(torch.tensor(h0["val_loss"]), torch.tensor(expected.val_loss), rtol=1e-4, atol=0)
    assert h0["lr"] == expected.lr

    # DDP keeps the replicas identical
    w0, w1 = (read_checkpoint(result / f"rank{r}.safetensors").model_state for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)

    # rank 0 alone wrote the checkpoint, with every rank's RNG state; rank 1 printed nothing
    ckpt = read_checkpoint(out)
    assert ckpt.step == STEPS and {"rank0.torch_cpu", "rank1.torch_cpu"} <= set(ckpt.rng_state)
    assert [p.name for p in out.iterdir()] == ["ckpt.safetensors"]
    assert run.stdout.count('"done"') == 1 and run.stdout.count("step 1\n") == 1


# ---------------------------------------------------------------- joining only when asked (or under torchrun)


@pytest.fixture
def inherited_world(monkeypatch):
    """RANK and WORLD_SIZE as a Jupyter kernel may inherit them, without torchrun's marker or an address
    to meet at (so that a wrong attempt to join fails at once instead of waiting)."""
    for name in (*TORCHRUN_MARKERS, "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    return monkeypatch


def test_inherited_rank_and_world_size_without_torchrun_train_as_one_process(inherited_world):
    train, val = tiny_data()
    start = time.monotonic()
    with pytest.warns(UserWarning, match=r"WORLD_SIZE=2, RANK=0 set in the environment, but this process was "
                                         r"not started by torchrun .*distributed=True"):
        trainer = Trainer(tiny_model(dropout=0.0), train, val, tiny_config(max_steps=3, eval_interval=0),
                          device="cpu")
    history = trainer.fit()
    assert trainer.dist == DistInfo() and trainer.is_main and history.steps == [1, 2, 3]
    assert not dist.is_initialized()
    assert time.monotonic() - start < 60
    # distributed=False never joins, not even under torchrun's marker, and says nothing
    inherited_world.setenv(TORCHRUN_MARKERS[0], "some-run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer = Trainer(tiny_model(dropout=0.0), train, val, tiny_config(max_steps=1), device="cpu",
                          distributed=False)
    assert trainer.dist == DistInfo() and not dist.is_initialized()


def test_torchrun_marker_or_distributed_true_read_rank_and_world_size(inherited_world):
    assert not launched_by_torchrun()
    with pytest.warns(UserWarning, match="running as one process"):
        assert world_from_environment(None) == DistInfo()
    assert world_from_environment(True) == DistInfo(rank=0, world_size=2, local_rank=0)
    inherited_world.delenv("RANK")
    train, val = tiny_data()
    with pytest.raises(RuntimeError, match="RANK is not"):  # asked: the environment is read, and is incomplete
        Trainer(tiny_model(dropout=0.0), train, val, tiny_config(), device="cpu", distributed=True)
    inherited_world.setenv(TORCHRUN_MARKERS[0], "some-run")
    assert launched_by_torchrun()
    with pytest.raises(RuntimeError, match="RANK is not"):  # under torchrun the default reads it too
        Trainer(tiny_model(dropout=0.0), train, val, tiny_config(), device="cpu")
    assert not dist.is_initialized()


def test_torchrun_sets_the_marker_the_trainer_looks_for(tmp_path):
    script = tmp_path / "show_env.py"
    script.write_text("import os, sys\n"
                      f"print(all(n in os.environ for n in {TORCHRUN_MARKERS!r}), os.environ['WORLD_SIZE'])\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=1",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(script)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "True 1" in run.stdout
