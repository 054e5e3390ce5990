"""gptlib.device: GPTLIB_DEVICE forces a device; the default is cuda when available, else cpu."""

import pytest
import torch

from gptlib.device import describe, get_device


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv("GPTLIB_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")  # never mps unless asked for


@pytest.mark.parametrize("value, expected", [("cpu", "cpu"), (" CPU ", "cpu")])
def test_forced_cpu(monkeypatch, value, expected):
    monkeypatch.setenv("GPTLIB_DEVICE", value)
    assert get_device() == torch.device(expected)
    assert describe().startswith("cpu (")


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "tpu", "cpu0"])
def test_unknown_device_is_named_with_the_allowed_ones(monkeypatch, value):
    monkeypatch.setenv("GPTLIB_DEVICE", value)
    with pytest.raises(ValueError, match=f"GPTLIB_DEVICE={value!r} is not a device.*allowed: cpu, cuda, cuda:N, mps"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_forced_cuda_without_a_gpu_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("GPTLIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
        get_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_forced_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setenv("GPTLIB_DEVICE", f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(RuntimeError, match="CUDA device"):
        get_device()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="checks the error on a machine without MPS")
def test_forced_mps_without_apple_gpu(monkeypatch):
    monkeypatch.setenv("GPTLIB_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="MPS backend"):
        get_device()
