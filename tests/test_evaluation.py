"""Tests for gptlib.evaluation: the windows over a held-out split (every target once, also split over
processes), the exact mean loss, the random-batch estimate."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptlib.evaluation import estimate_loss, evaluate, heldout_windows
from train_worker import tiny_data, tiny_model


class MeanTarget(nn.Module):
    """A fake model whose 'loss' is the mean target id: averaging it over a split gives the mean of
    the targets counted, and it records which targets it saw."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.seen: list[torch.Tensor] = []

    def forward(self, x, y):
        assert not torch.is_grad_enabled() and not self.training
        self.seen.append(y.reshape(-1))
        return None, y.double().mean() + 0 * self.w.sum()


@pytest.mark.parametrize("n, block, batch", [(54, 16, 2), (49, 16, 64), (17, 16, 1), (2, 16, 4), (100, 7, 3)])
def test_evaluate_counts_every_target_token_once(n, block, batch):
    data = torch.randperm(1000)[:n]  # distinct ids, so each target is recognisable
    model = MeanTarget()
    loss = evaluate(model, data, block_size=block, batch_size=batch)
    seen = torch.cat(model.seen)
    assert sorted(seen.tolist()) == sorted(data[1:].tolist())  # every target exactly once, nothing else
    assert loss == pytest.approx(data[1:].double().mean().item(), rel=1e-12)
    assert model.training  # mode restored


def test_evaluate_matches_a_manual_computation_on_a_gpt():
    model = tiny_model(dropout=0.2)
    data = tiny_data()[1][:54]  # 53 targets: three windows of 16 and a tail of 5
    model.eval()
    with torch.no_grad():
        total = 0.0
        for start in range(0, 53, 16):
            x = data[start:start + 16]
            y = data[start + 1:start + 17]
            logits, _ = model(x[None, :len(y)], y[None])
            total += F.cross_entropy(logits[0], y, reduction="sum").item()
    model.train()
    expected = total / 53
    assert evaluate(model, data, 16, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert evaluate(model, data, 16, batch_size=64) == pytest.approx(expected, rel=1e-6)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_evaluate_and_estimate_reject_or_handle_short_data():
    with pytest.raises(ValueError, match="at least 2"):
        evaluate(MeanTarget(), torch.tensor([3]), 4)
    with pytest.raises(ValueError, match="1-D tensor of integer"):
        evaluate(MeanTarget(), torch.zeros(10), 4)


def test_estimate_loss_is_repeatable_and_restores_mode():
    model = tiny_model(dropout=0.2)
    val = tiny_data()[1]
    a = estimate_loss(model, val, 16, 4, 3, seed=5)
    b = estimate_loss(model, val, 16, 4, 3, seed=5)
    assert a == b and model.training
    assert estimate_loss(model, val, 16, 4, 3, seed=6) != a


@pytest.mark.parametrize("n, block, batch, world", [(54, 16, 2, 2), (49, 16, 64, 3), (17, 16, 1, 2), (100, 7, 3, 4),
                                                    (8, 3, 2, 1)])
def test_windows_split_over_processes_cover_every_target_once(n, block, batch, world):
    data = torch.randperm(1000)[:n]  # distinct ids: a row's place in data is where its first id is
    where = {v: i for i, v in enumerate(data.tolist())}
    targets = []
    for rank in range(world):
        for rows in heldout_windows(data, block, batch, rank=rank, world_size=world):
            assert rows.dtype == torch.int64 and rows.ndim == 2 and rows.size(0) <= batch
            assert rows.size(1) == block + 1 or rows.size(0) == 1  # only the tail is shorter, in a batch alone
            for row in rows:
                start = where[row[0].item()]
                assert start % block == 0 and torch.equal(row, data[start:start + len(row)])  # a window of data
            targets += rows[:, 1:].flatten().tolist()
    assert sorted(targets) == sorted(data[1:].tolist())  # every target once, on exactly one process


def test_windows_reject_bad_arguments_at_once():
    with pytest.raises(ValueError, match="block_size=0 must be a positive integer"):
        heldout_windows(torch.arange(10), 0)
    with pytest.raises(ValueError, match="batch_size=True must be a positive integer"):
        heldout_windows(torch.arange(10), 4, True)
    with pytest.raises(ValueError, match=r"rank=2 must be an integer in \[0, 1\]"):
        heldout_windows(torch.arange(10), 4, rank=2, world_size=2)


def test_the_functions_are_importable_where_they_used_to_be():
    import gptlib.objective
    import gptlib.train

    assert gptlib.train.evaluate is evaluate and gptlib.train.estimate_loss is estimate_loss
    assert gptlib.objective.model_token_nll.__module__ == "gptlib.objective"
