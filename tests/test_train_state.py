"""Training leaves the process as it found it: torch's thread count, the global generator(s), signal
handlers, the environment and grad mode, after creating a Trainer, after fit(), and after a fit() that
raised. Dropout draws from the trainer's own stream instead, which starts where
``torch.manual_seed(cfg.seed + rank)`` would put the global generator, so runs are what they were when
the trainer seeded torch itself."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from torch import nn

from gptlib.data import get_batch
from gptlib.evaluation import estimate_loss, evaluate
from gptlib.objective import model_token_nll
from gptlib.train import NonFiniteLossError, Trainer, configure_optimizer, lr_at
from gptlib.train.dropout_rng import DropoutRNG
from train_worker import one_thread, tiny_config, tiny_data, tiny_model
from helpers import assert_global_state_unchanged, global_state


@pytest.fixture(scope="module", autouse=True)
def _torch_imports_done():
    """The first optimizer made in a process makes torch import torch._dynamo, which writes
    TORCHINDUCTOR_CACHE_DIR into os.environ, once. That is torch's import, not the trainer's doing,
    so it happens before the snapshots."""
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():  # the bit-for-bit comparisons below run on one thread, as the trainer tests do
        yield


def test_creating_a_trainer_and_fitting_change_nothing_global():
    train, val = tiny_data()
    model = tiny_model(dropout=0.1)  # seeds torch (its own business), so before the snapshot
    torch.rand(3)  # the caller's generator is somewhere in its stream
    before = global_state()
    trainer = Trainer(model, train, val, tiny_config(max_steps=6, eval_interval=3, log_interval=2), device="cpu")
    assert_global_state_unchanged(before)
    history = trainer.fit()
    assert history.steps == list(range(1, 7)) and len(history.val_loss) == 2
    assert_global_state_unchanged(before)


def test_a_fit_that_raises_changes_nothing_global():
    class NanFromStep3(nn.Module):
        def __init__(self):
            super().__init__()
            self.gpt = tiny_model(dropout=0.1)
            self.config = self.gpt.config
            self.calls = 0

        def forward(self, x, y):
            logits, loss = self.gpt(x, y)
            self.calls += 1
            return logits, loss * float("nan") if self.calls >= 3 else loss

    train, val = tiny_data()
    model = NanFromStep3()
    before = global_state()
    with pytest.raises(NonFiniteLossError, match="step 3"):
        Trainer(model, train, val, tiny_config(max_steps=10, log_interval=1), device="cpu").fit()
    assert_global_state_unchanged(before)


def test_an_interrupted_fit_changes_nothing_global():
    train, val = tiny_data()
    model = tiny_model(dropout=0.1)
    sent = []

    def ctrl_c(history):  # the first Ctrl-C: fit finishes the step and returns
        if history.steps[-1] == 2 and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    def kill_at_once(history):  # a KeyboardInterrupt straight through fit
        if history.steps[-1] == 4:
            raise KeyboardInterrupt

    before = global_state()
    trainer = Trainer(model, train, val, tiny_config(max_steps=8), device="cpu", callbacks=[ctrl_c])
    assert trainer.fit().interrupted and trainer.step == 2
    assert_global_state_unchanged(before)
    trainer.callbacks = [kill_at_once]
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert_global_state_unchanged(before)


def test_evaluation_changes_nothing_global():
    model = tiny_model(dropout=0.1)
    val = tiny_data()[1]
    before = global_state()
    evaluate(model, val, 16, batch_size=4)
    estimate_loss(model, val, 16, 4, 2)
    model_token_nll(model, val, 16)
    assert_global_state_unchanged(before)
    assert model.training and model.check_ids


def test_runs_do_not_depend_on_what_the_caller_draws_between_them():
    train, val = tiny_data()

    def run(draw_between: bool) -> dict:
        trainer = Trainer(tiny_model(dropout=0.1), train, val, tiny_config(max_steps=6, eval_interval=0), device="cpu")
        if draw_between:
            torch.manual_seed(99)
            torch.rand(1000)
        trainer.cfg.max_steps = 3
        trainer.fit()
        if draw_between:
            torch.rand(1000)
        trainer.cfg.max_steps = 6
        trainer.fit()
        return trainer.model.state_dict()

    a, b = run(False), run(True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dropout_masks_are_those_torch_manual_seed_gives():
    """A hand-written loop that seeds torch itself, as the trainer once did, ends on the same weights, bit
    for bit: the trainer's own stream starts where torch.manual_seed(cfg.seed + rank) would."""
    train, _ = tiny_data()
    cfg = tiny_config(max_steps=5, eval_interval=0)
    trainer = Trainer(tiny_model(dropout=0.2), train, None, cfg, device="cpu")
    trainer.fit()

    model = tiny_model(dropout=0.2)
    optimizer = configure_optimizer(model, cfg.weight_decay, cfg.learning_rate, cfg.betas)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    batches = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        for step in range(cfg.max_steps):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            x, y = get_batch(train, cfg.batch_size, cfg.block_size, batches)
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    mine, theirs = model.state_dict(), trainer.model.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_dropout_rng_swaps_in_and_out_and_keeps_its_place():
    rng = DropoutRNG(seed=5)
    torch.manual_seed(0)
    caller = torch.get_rng_state()
    reference = torch.Generator().manual_seed(5)
    with rng.active():
        assert torch.equal(torch.rand(4), torch.rand(4, generator=reference))
        with rng.active():  # re-entrant
            torch.rand(1)
            torch.rand(1, generator=reference)
        state_inside = rng.state_dict()["torch_cpu"]
    assert torch.equal(torch.get_rng_state(), caller) and torch.equal(rng.state_dict()["torch_cpu"], state_inside)
    with pytest.raises(RuntimeError), rng.active():  # put back also when the block raises
        torch.rand(2)
        torch.rand(2, generator=reference)
        raise RuntimeError
    assert torch.equal(torch.get_rng_state(), caller)
    with rng.active():  # continues where it stopped
        assert torch.equal(torch.rand(3), torch.rand(3, generator=reference))
    restored = DropoutRNG(seed=123)  # as a resumed trainer does
    restored.load_state_dict(rng.state_dict())
    with restored.active():
        a = torch.rand(3)
    with rng.active():
        assert torch.equal(torch.rand(3), a)
