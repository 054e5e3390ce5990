"""Fixtures shared by the unit tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    # Tests that draw from torch's global generator get the same numbers whatever ran before them.
    torch.manual_seed(0)
