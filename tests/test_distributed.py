"""The trainer under torchrun: 2 CPU processes (gloo) take the same steps as one process on the
same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from gptlib.checkpoint import read_checkpoint
from gptlib.train import Trainer
from train_worker import tiny_config, tiny_data, tiny_model

WORKER = Path(__file__).with_name("train_worker.py")
STEPS = 20

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with gloo is not available")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train, val = tiny_data()
        single = Trainer(tiny_model(dropout=0.0), train, val, tiny_config(max_steps=STEPS), device="cpu")
        expected = single.fit()
    finally:
        torch.set_num_threads(before)

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
