"""Where training and evaluation make the host wait for the device.

The token-id range check (one host read per call) runs once per dataset, not in every forward call;
the model's own per-forward check is switched off only while the trainer or an evaluation runs. On a
GPU (skipped without one), training steps between two log intervals do not synchronise at all.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gptlib.evaluation
import gptlib.model
from gptlib.evaluation import estimate_loss, evaluate, to_device
from gptlib.objective import model_token_nll
from gptlib.train import Trainer
from train_worker import tiny_config, tiny_data, tiny_model


@pytest.fixture
def range_checks(monkeypatch):
    """The name passed to every token-id range check made: the model's per-forward one ("idx") and the
    once-per-dataset ones (the dataset's name)."""
    calls = []
    real = gptlib.model.check_token_ids

    def counting(ids, vocab_size, name="idx", **kwargs):
        calls.append(name)
        return real(ids, vocab_size, name, **kwargs)

    monkeypatch.setattr(gptlib.model, "check_token_ids", counting)
    monkeypatch.setattr(gptlib.evaluation, "check_token_ids", counting)
    return calls


@pytest.mark.parametrize("eval_batches", ["full", 2])
def test_a_fit_checks_each_dataset_once_not_every_step(range_checks, eval_batches):
    train, val = tiny_data()
    model = tiny_model()
    trainer = Trainer(model, train, val, tiny_config(max_steps=6, eval_interval=2, eval_batches=eval_batches,
                                                     eval_batch_size=4), device="cpu")
    assert range_checks == ["train_data", "val_data"]
    history = trainer.fit()  # 6 steps and 3 evaluations, each of several batches
    assert len(history.steps) == 6 and len(history.val_loss) == 3
    assert range_checks == ["train_data", "val_data"]
    history = trainer.fit()  # nothing left to do; and a second fit does not check again either
    assert model.check_ids, "the model checks its inputs again after fit"
    model(train[None, :16])
    assert range_checks == ["train_data", "val_data", "idx"]


def test_evaluating_on_its_own_checks_the_data_once(range_checks):
    model = tiny_model()
    val = tiny_data()[1]  # 300 tokens: many batches of 4 windows
    evaluate(model, val, 16, batch_size=4)
    assert range_checks == ["data"]
    estimate_loss(model, val, 16, 4, num_batches=3)
    assert range_checks == ["data", "data"]
    model_token_nll(model, val, 16, batch_size=4)
    assert range_checks == ["data", "data", "ids"]
    evaluate(model, val, 16, batch_size=4, ids_checked=True)  # the caller vouches for the data
    assert range_checks == ["data", "data", "ids"] and model.check_ids


def test_bad_ids_are_caught_once_with_the_dataset_named():
    train, val = tiny_data()
    bad = val.clone()
    bad[123] = 65
    with pytest.raises(ValueError, match=r"token id 65 in val_data is outside the vocabulary: .*\[0, 64\]"):
        Trainer(tiny_model(), train, bad, tiny_config(), device="cpu")
    with pytest.raises(ValueError, match=r"token id -3 in train_data is outside"):
        Trainer(tiny_model(), torch.cat([train, torch.tensor([-3])]), val, tiny_config(), device="cpu")
    with pytest.raises(ValueError, match=r"token id 65 in data is outside the vocabulary"):
        evaluate(tiny_model(), bad, 16)
    model = tiny_model()
    with pytest.raises(ValueError, match=r"token id 65 in ids is outside"):
        model_token_nll(model, bad.to(torch.uint8), 16)  # uint8, uint16, ...: widened for the check
    assert model.check_ids and model.training


def test_models_without_a_vocabulary_or_a_switch_keep_their_own_checks(range_checks):
    class Wrapped(nn.Module):  # has config.vocab_size, but no check_ids switch: the inner GPT keeps checking
        def __init__(self):
            super().__init__()
            self.gpt = tiny_model()
            self.config = self.gpt.config

        def forward(self, x, y):
            return self.gpt(x, y)

    train, val = tiny_data()
    Trainer(Wrapped(), train, val, tiny_config(max_steps=2, eval_interval=0), device="cpu").fit()
    assert range_checks[:2] == ["train_data", "val_data"] and range_checks.count("idx") >= 2

    class NoVocabulary(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x, y):
            return None, (self.w * y).mean()

    range_checks.clear()
    evaluate(NoVocabulary(), val, 16)
    assert range_checks == []


def test_to_device_leaves_cpu_tensors_alone():
    t = torch.arange(6)
    assert to_device(t, torch.device("cpu")) is t


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_steps_do_not_synchronise_on_a_gpu(monkeypatch):
    """Every step after a few warm-up ones (cuBLAS handles, the optimizer's state, the caching allocators)
    runs under torch.cuda.set_sync_debug_mode("error"): any host-device sync inside it raises. The syncs
    of the log steps (reading the losses, the NaN check) come after the step, outside it."""
    warmup = 3
    strict = []
    real_step = Trainer._train_step

    def step_without_syncs(self):
        if self.step < warmup:
            return real_step(self)
        torch.cuda.set_sync_debug_mode("error")
        try:
            real_step(self)
        finally:
            torch.cuda.set_sync_debug_mode(0)
        strict.append(self.step)

    monkeypatch.setattr(Trainer, "_train_step", step_without_syncs)
    train, val = tiny_data()
    cfg = tiny_config(max_steps=12, log_interval=4, eval_interval=6, progress=False)
    trainer = Trainer(tiny_model(dropout=0.1), train, val, cfg, device="cuda")
    history = trainer.fit()
    assert strict == list(range(warmup + 1, 13)) and history.steps == list(range(1, 13))
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
