"""Tests for gptlib.train: config checks, optimizer groups, schedule, the loop, stopping on NaN,
Ctrl-C, and resuming bit for bit (also in a new process). Evaluation: tests/test_evaluation.py."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gptlib.checkpoint import CheckpointMismatchError, read_checkpoint
from gptlib.model import GPT, GPTConfig
from gptlib.train import (
    History,
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    configure_optimizer,
    cosine_schedule,
    decay_parameter_names,
    estimate_loss,
    lr_at,
    setup_distributed,
)
from train_worker import STEPS, one_thread, tiny_config, tiny_data, tiny_model

WORKER = Path(__file__).with_name("train_worker.py")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():  # runs here are compared bit for bit with runs in subprocesses, which use one thread
        yield


def make_trainer(out_dir=None, dropout=0.1, callbacks=(), **overrides) -> Trainer:
    train, val = tiny_data()
    cfg = tiny_config(out_dir=None if out_dir is None else str(out_dir), **overrides)
    return Trainer(tiny_model(dropout), train, val, cfg, device="cpu", callbacks=callbacks)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run: STEPS steps, dropout 0.1. Returns (weights, history)."""
    with one_thread():
        trainer = make_trainer()
        history = trainer.fit()
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}, history


# ---------------------------------------------------------------- TrainConfig


def test_default_config_is_valid_and_normalises_betas():
    cfg = TrainConfig(betas=[0.9, 0.95])
    assert cfg.betas == (0.9, 0.95)
    assert cfg.decay_steps == cfg.max_steps and cfg.checkpoint_path is None
    assert TrainConfig(out_dir="x", lr_decay_steps=300).checkpoint_path == Path("x/ckpt.safetensors")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("field, value, allowed", [
    ("max_steps", 0, "integer >= 1"),
    ("batch_size", 2.0, "integer >= 1"),
    ("block_size", True, "integer >= 1"),
    ("learning_rate", -1e-3, "> 0"),
    ("learning_rate", float("nan"), "> 0"),
    ("min_lr", 1.0, r"\[0, learning_rate=0.001\]"),
    ("warmup_steps", -1, ">= 0"),
    ("lr_decay_steps", 50, "warmup_steps=100"),
    ("weight_decay", -0.1, ">= 0"),
    ("betas", (0.9, 1.0), r"\[0, 1\)"),
    ("betas", (0.9,), "two numbers"),
    ("grad_clip", -1.0, "None, 0"),
    ("eval_interval", -5, ">= 0"),
    ("eval_batches", "all", '"full"'),
    ("eval_batches", 0, '"full"'),
    ("eval_batch_size", 0, "None or an integer >= 1"),
    ("checkpoint_interval", -1, "None or an integer >= 0"),
    ("log_interval", 0, ">= 1"),
    ("seed", 1.5, "an integer"),
    ("out_dir", "", "folder"),
    ("progress", 1, "True or False"),
])
def test_config_rejects_bad_values_naming_the_field(field, value, allowed):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be .*{allowed}.*got"):
        TrainConfig(**{field: value})


def test_unknown_config_field_in_from_dict():
    with pytest.raises(ValueError, match="lr"):
        TrainConfig.from_dict({"lr": 0.1})


# ---------------------------------------------------------------- optimizer


def test_weight_decay_only_on_matrices_and_tied_weight_counted_once():
    model = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32))
    opt = configure_optimizer(model, weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["betas"] == (0.9, 0.95) and decay["lr"] == 1e-3
    params = dict(model.named_parameters())
    expected_decay = {id(p) for n, p in params.items() if p.ndim >= 2}
    assert {id(p) for p in decay["params"]} == expected_decay
    assert {id(p) for p in no_decay["params"]} == {id(p) for p in params.values() if p.ndim < 2}
    # every bias and LayerNorm gain is in the no-decay group, every Linear/Embedding weight decays
    names_decay, names_no = decay_parameter_names(model)
    assert all(n.endswith(".bias") or ".ln_" in n or n.startswith("ln_f") for n in names_no)
    assert "wte.weight" in names_decay and "wpe.weight" in names_decay and "lm_head.weight" not in names_decay
    total = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert total == model.num_params()  # the tied matrix once
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert decay["fused"] or decay["foreach"]


def test_frozen_parameters_are_left_out():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    model[0].weight.requires_grad_(False)
    decay, no_decay = decay_parameter_names(model)
    assert decay == [] and no_decay == ["0.bias", "1.weight", "1.bias"]


# ---------------------------------------------------------------- schedule


def test_schedule_values_at_the_landmarks():
    kw = dict(learning_rate=1e-3, min_lr=1e-4, warmup_steps=10, decay_steps=110)
    assert cosine_schedule(0, **kw) == pytest.approx(1e-4)  # 1/10 of the peak
    assert cosine_schedule(4, **kw) == pytest.approx(5e-4)
    assert cosine_schedule(9, **kw) == pytest.approx(1e-3)  # warmup ends at the peak
    assert cosine_schedule(10, **kw) == pytest.approx(1e-3)  # cosine starts at the peak
    assert cosine_schedule(60, **kw) == pytest.approx(0.55e-3)  # halfway: the mean of peak and floor
    assert cosine_schedule(110, **kw) == pytest.approx(1e-4)
    assert cosine_schedule(10_000, **kw) == 1e-4  # constant after the decay
    values = [cosine_schedule(s, **kw) for s in range(10, 111)]
    assert all(a > b for a, b in zip(values, values[1:]))  # strictly decreasing during the decay


def test_schedule_edge_cases_and_lr_at():
    assert cosine_schedule(0, learning_rate=1.0, min_lr=0.0, warmup_steps=0, decay_steps=10) == 1.0
    # no decay phase: straight from the end of warmup to min_lr
    assert cosine_schedule(5, learning_rate=1.0, min_lr=0.1, warmup_steps=5, decay_steps=5) == 0.1
    cfg = TrainConfig(max_steps=200, warmup_steps=20, learning_rate=6e-4, min_lr=6e-5)
    assert lr_at(19, cfg) == pytest.approx(6e-4) and lr_at(200, cfg) == pytest.approx(6e-5)
    assert lr_at(110, cfg) == pytest.approx((6e-4 + 6e-5) / 2)


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-5, 1.0), frac=st.floats(0.0, 1.0), warmup=st.integers(0, 50), decay=st.integers(0, 200),
       step=st.integers(0, 400))
def test_schedule_stays_between_min_lr_and_the_peak(lr, frac, warmup, decay, step):
    kw = dict(learning_rate=lr, min_lr=lr * frac, warmup_steps=warmup, decay_steps=warmup + decay)
    value = cosine_schedule(step, **kw)
    assert 0 <= value <= lr * (1 + 1e-12)
    if step >= warmup:
        assert value >= lr * frac * (1 - 1e-12)
        assert value >= cosine_schedule(step + 1, **kw) * (1 - 1e-12)  # never rises after warmup
    else:
        assert value < cosine_schedule(step + 1, **kw) or warmup == step + 1


# ---------------------------------------------------------------- the loop


def test_fit_learns_and_records_history(reference):
    _, h = reference
    assert h.steps == list(range(1, STEPS + 1))
    assert len(h.train_loss) == len(h.lr) == len(h.grad_norm) == len(h.tokens) == len(h.elapsed) == STEPS
    cfg = tiny_config()
    assert h.lr == [lr_at(s, cfg) for s in range(STEPS)]
    assert h.tokens[-1] == STEPS * 8 * 16
    assert h.val_steps == [10, 20, 30, 40]
    assert h.val_loss[-1] < h.val_loss[0] < math.log(65) + 0.1  # it learns the motif
    assert h.elapsed == sorted(h.elapsed) and not h.interrupted
    assert h.best_val_loss == min(h.val_loss)


def test_callbacks_get_the_history_at_each_log_step_and_eval():
    calls = []
    trainer = make_trainer(callbacks=[lambda h: calls.append((len(h.steps), len(h.val_loss)))],
                           max_steps=12, log_interval=5, eval_interval=6)
    trainer.fit()
    assert calls == [(5, 0), (6, 0), (6, 1), (10, 1), (12, 1), (12, 2)]


def test_train_mode_during_steps_eval_mode_during_evaluation():
    modes = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny_model()
            self.config = self.inner.config

        def forward(self, x, y):
            modes.append((self.training, torch.is_grad_enabled()))
            return self.inner(x, y)

    train, val = tiny_data()
    Trainer(Spy(), train, val[:40], tiny_config(max_steps=3, eval_interval=2, batch_size=4),
            device="cpu").fit()
    # steps 1, 2, eval (39 targets: two windows of 16 in one batch, then the tail of 7), step 3, eval
    assert modes[0] == (True, True) and modes[1] == (True, True)
    assert (False, False) in modes
    assert modes[-1] == (False, False)
    assert [m for m in modes if m[0]] == [(True, True)] * 3


def test_eval_batches_uses_the_same_random_batches_each_time():
    trainer = make_trainer(max_steps=4, eval_interval=2, eval_batches=3)
    history = trainer.fit()
    val = tiny_data()[1]
    assert history.val_loss[-1] == estimate_loss(trainer.model, val, 16, 8, 3, seed=trainer.cfg.seed + 1)
    assert len(history.val_loss) == 2


def test_too_little_data_is_a_clear_error():
    train, val = tiny_data()
    with pytest.raises(ValueError, match=r"val_data has 16 tokens.*block_size=16.*17"):
        Trainer(tiny_model(), train, val[:16], tiny_config(), device="cpu")
    with pytest.raises(ValueError, match="train_data has 10 tokens"):
        Trainer(tiny_model(), train[:10], val, tiny_config(), device="cpu")
    with pytest.raises(ValueError, match="block_size=32 is longer than the model's context"):
        Trainer(tiny_model(), train, val, tiny_config(block_size=32), device="cpu")
    with pytest.raises(ValueError, match="1-D tensor of integer token ids"):
        Trainer(tiny_model(), train.float(), val, tiny_config(), device="cpu")


class NanAt(nn.Module):
    """Wraps the tiny GPT; its training loss becomes NaN from the ``bad_step``-th training forward on."""

    def __init__(self, bad_step: int):
        super().__init__()
        self.gpt = tiny_model()
        self.config = self.gpt.config
        self.bad_step, self.calls = bad_step, 0

    def forward(self, x, y):
        logits, loss = self.gpt(x, y)
        if self.training:
            self.calls += 1
            if self.calls >= self.bad_step:
                loss = loss * float("nan")
        return logits, loss


@pytest.mark.parametrize("log_interval", [1, 10])
def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, log_interval):
    train, val = tiny_data()
    cfg = tiny_config(out_dir=str(tmp_path), checkpoint_interval=3, eval_interval=0, log_interval=log_interval)
    trainer = Trainer(NanAt(bad_step=5), train, val, cfg, device="cpu")
    with pytest.raises(NonFiniteLossError, match=r"the loss at step 5 is nan.*from step 3") as err:
        trainer.fit()
    assert err.value.step == 5 and math.isnan(err.value.loss)
    ckpt = read_checkpoint(tmp_path)
    assert ckpt.step == 3  # with log_interval=10 the check still runs before the save at step 6
    assert all(torch.isfinite(t).all() for t in ckpt.model_state.values())


def test_infinite_gradient_is_caught_too():
    class InfGrad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2, 2))
            self.w.register_hook(lambda g: g * float("inf"))  # a finite loss, an infinite gradient

        def forward(self, x, y):
            return None, self.w.sum()

    cfg = tiny_config(max_steps=2, eval_interval=0, grad_clip=None)
    trainer = Trainer(InfGrad(), torch.arange(100) % 7, None, cfg, device="cpu")
    with pytest.raises(NonFiniteLossError, match="step 1"):
        trainer.fit()


# ---------------------------------------------------------------- checkpoints, resume, Ctrl-C


def test_checkpoint_holds_configs_history_and_rng(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=10)
    trainer.fit()
    ckpt = read_checkpoint(tmp_path / "ckpt.safetensors")
    assert ckpt.step == 10 and ckpt.model_class == "gptlib.model.GPT"
    assert ckpt.model_config["n_layer"] == 2 and ckpt.train_config["max_steps"] == 10
    assert set(ckpt.rng_state) == {"batch_generator", "rank0.torch_cpu"}
    assert ckpt.extra["history"]["steps"] == list(range(1, 11))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left


def test_resume_in_the_same_process_matches_an_uninterrupted_run(tmp_path, reference):
    first = make_trainer(tmp_path, max_steps=STEPS // 2)
    first.fit()
    torch.manual_seed(123)  # whatever happens in between must not matter
    second = make_trainer(tmp_path)
    assert second.load_checkpoint() == STEPS // 2
    history = second.fit()
    assert_same_weights(second.model.state_dict(), reference[0])
    assert history.train_loss == reference[1].train_loss and history.val_loss == reference[1].val_loss


def test_resume_in_a_new_process_matches_an_uninterrupted_run(tmp_path, reference):
    make_trainer(tmp_path, max_steps=STEPS // 2).fit()
    run = subprocess.run([sys.executable, str(WORKER), "--out", str(tmp_path), "--resume"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f'"done": {STEPS}' in run.stdout
    ckpt = read_checkpoint(tmp_path)
    assert ckpt.step == STEPS
    assert_same_weights(ckpt.model_state, reference[0])
    assert ckpt.extra["history"]["train_loss"] == reference[1].train_loss


def test_sigint_in_process_stops_after_the_step_and_fit_continues(tmp_path, reference):
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(history):
        if history.steps[-1] == 7 and not history.interrupted:
            os.kill(os.getpid(), signal.SIGINT)

    trainer = make_trainer(tmp_path, callbacks=[interrupt])
    history = trainer.fit()
    assert history.interrupted and trainer.step == 7
    assert read_checkpoint(tmp_path).step == 7
    assert signal.getsignal(signal.SIGINT) is previous  # handler restored
    trainer.callbacks.clear()
    history = trainer.fit()  # continues in place
    assert trainer.step == STEPS and not history.interrupted
    assert_same_weights(trainer.model.state_dict(), reference[0])


def test_second_sigint_stops_at_once(tmp_path):
    def interrupt_twice(history):
        if history.steps[-1] == 3:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # let the first one be handled on its own
            os.kill(os.getpid(), signal.SIGINT)

    trainer = make_trainer(tmp_path, callbacks=[interrupt_twice], checkpoint_interval=0)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert not (tmp_path / "ckpt.safetensors").exists()  # no checkpoint of a state stopped anywhere


def test_sigint_to_a_training_process_checkpoints_and_resumes_exactly(tmp_path, reference):
    proc = subprocess.Popen([sys.executable, str(WORKER), "--out", str(tmp_path), "--sleep", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        for line in proc.stdout:
            if line.strip() == "step 3":
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "the worker did not report steps"
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert '"interrupted": true' in out and "interrupted: stopped after step" in out
    ckpt = read_checkpoint(tmp_path)
    assert 3 <= ckpt.step < STEPS and ckpt.extra["history"]["interrupted"]
    trainer = make_trainer(tmp_path)
    trainer.load_checkpoint()
    trainer.fit()
    assert_same_weights(trainer.model.state_dict(), reference[0])


def test_resume_flag_picks_up_the_checkpoint(tmp_path):
    make_trainer(tmp_path, max_steps=4).fit()
    trainer = make_trainer(tmp_path, max_steps=6, resume=True)
    trainer.fit()
    assert trainer.history.steps == [1, 2, 3, 4, 5, 6]


def test_resuming_another_model_config_is_refused(tmp_path):
    make_trainer(tmp_path, max_steps=2).fit()
    train, val = tiny_data()
    other = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=3, n_head=2, n_embd=48))
    trainer = Trainer(other, train, val, tiny_config(), device="cpu")
    with pytest.raises(CheckpointMismatchError, match=r"n_embd: checkpoint 32, this model 48; n_layer: checkpoint 2, "
                                                      r"this model 3"):
        trainer.load_checkpoint(tmp_path)
    assert trainer.step == 0


def test_resuming_with_other_training_settings_warns(tmp_path):
    make_trainer(tmp_path, max_steps=2).fit()
    trainer = make_trainer(tmp_path, learning_rate=1e-3)
    with pytest.warns(UserWarning, match=r"learning_rate: checkpoint 0.003, now 0.001"):
        trainer.load_checkpoint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_trainer(tmp_path, max_steps=100, eval_interval=3).load_checkpoint()  # harmless changes: no warning


def test_single_process_setup_does_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = setup_distributed()
    assert (info.rank, info.world_size, info.is_main) == (0, 1, True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="RANK is not"):
        setup_distributed()


def test_history_round_trips():
    h = History(steps=[1], train_loss=[2.0], val_steps=[1], val_loss=[1.5])
    assert History.from_dict(h.to_dict()) == h
