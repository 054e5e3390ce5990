"""gptlib.data without a network: the cached corpus, local files, the split and the batches."""

from __future__ import annotations

import hashlib

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gptlib import data
from gptlib.data import get_batch, load_text, split


def test_tinyshakespeare_from_the_cache():
    text = load_text("tinyshakespeare")
    raw = text.encode("utf-8")
    assert len(raw) == 1_115_394
    assert hashlib.sha256(raw).hexdigest() == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    assert data.dataset_path("tinyshakespeare") == tmp_path / "tinyshakespeare" / "input.txt"
    monkeypatch.delenv(data.ENV_DATA_DIR)
    assert data.data_dir().name == "data" and "gptlib" in str(data.data_dir())


@given(st.text())
def test_load_text_reads_any_utf8_file_exactly(text):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any.txt"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # lone surrogates are not valid UTF-8
            with pytest.raises(ValueError, match="not UTF-8"):
                load_text(path)
        else:
            assert load_text(str(path)) == text  # line endings included: "\r\n" stays "\r\n"


def test_load_text_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"'tinyshakespear' is neither a dataset gptlib knows \(tinyshakespeare\)"):
        load_text("tinyshakespear")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt is not UTF-8 text: byte 3 is b'\\xe9'"):
        load_text(latin1)
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        data.dataset_path("nope")
    with pytest.raises(TypeError, match="named datasets only"):
        load_text(latin1, progress=False)


def test_split_is_contiguous():
    train, val = split(list(range(10)), 0.9)
    assert train == list(range(9)) and val == [9]
    for frac in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=f"frac={frac!r}"):
            split("abc", frac)
    with pytest.raises(ValueError, match="leaves one of the two parts empty"):
        split("ab", 0.1)


def test_get_batch_pairs_are_shifted_by_one():
    tokens = torch.arange(1000)
    x, y = get_batch(tokens, batch_size=8, block_size=16, generator=torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(y, x + 1)  # with data = 0, 1, 2, ... the next token is the id plus one


def test_get_batch_is_deterministic_and_covers_both_ends():
    tokens = torch.arange(20, dtype=torch.int32)
    a = get_batch(tokens, 4, 5, torch.Generator().manual_seed(7))
    b = get_batch(tokens, 4, 5, torch.Generator().manual_seed(7))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    starts = torch.cat([get_batch(tokens, 64, 5, torch.Generator().manual_seed(s))[0][:, 0] for s in range(5)])
    assert starts.min() == 0 and starts.max() == 20 - 5 - 1  # every valid offset is reachable


@given(world_size=st.integers(1, 4), batch_size=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_ranks_take_disjoint_slices_of_one_global_batch(world_size, batch_size, seed):
    tokens = torch.arange(500)
    global_x, _ = get_batch(tokens, world_size * batch_size, 8, torch.Generator().manual_seed(seed))
    parts = [get_batch(tokens, batch_size, 8, torch.Generator().manual_seed(seed), rank=r, world_size=world_size)[0]
             for r in range(world_size)]
    assert torch.equal(torch.cat(parts), global_x)


def test_get_batch_bad_inputs():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="1-D tensor of integer token ids, got dtype torch.float32"):
        get_batch(torch.zeros(100), 2, 4, g)
    with pytest.raises(ValueError, match="block_size=0 must be a positive integer"):
        get_batch(torch.arange(100), 2, 0, g)
    with pytest.raises(ValueError, match="data has 4 tokens; a block of block_size=4 needs at least 5"):
        get_batch(torch.arange(4), 2, 4, g)
    with pytest.raises(ValueError, match=r"rank=2 must be an integer in \[0, 1\] for world_size=2"):
        get_batch(torch.arange(100), 2, 4, g, rank=2, world_size=2)
    with pytest.raises(ValueError, match="must be a CPU torch.Generator"):
        get_batch(torch.arange(100), 2, 4, 1234)


UNREACHABLE_MIRROR_PLUGIN = '''
import dataclasses, socket
from gptlib import data
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # closed again: nothing listens there
ds = data.DATASETS["tinyshakespeare"]
data.DATASETS["tinyshakespeare"] = dataclasses.replace(ds, urls=(f"http://127.0.0.1:{port}/input.txt",))
'''


def test_suite_without_the_corpus_stops_before_any_test_with_one_message(tmp_path):
    """Offline and with no corpus, `make test` says so once, before running anything (conftest.py)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "offline_plugin.py").write_text(UNREACHABLE_MIRROR_PLUGIN, encoding="utf-8")
    env = {**os.environ, data.ENV_DATA_DIR: str(tmp_path / "empty"), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "offline_plugin", "-p", "no:cacheprovider", "-q",
         "tests/test_data.py", "tests/test_playground.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    printed = result.stdout + result.stderr
    assert result.returncode == 4, printed[-3000:]
    assert printed.count("the test suite needs the tiny Shakespeare corpus") == 1, printed[-3000:]
    assert "set GPTLIB_DATA_DIR to a folder that holds tinyshakespeare/input.txt" in printed
    assert " passed" not in printed and " failed" not in printed and "no tests ran" in printed
