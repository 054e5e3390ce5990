"""``python -m gptlib.store``: help, publish/list/search/info/verify/install, exit codes, and a real server process."""

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import free_port
from store_fixtures import gptlib_model

from gptlib.store import Faults, LocalStore, StoreServer
from gptlib.store.cli import default_store_dir, main
from gptlib.store.remote import API

SUBCOMMANDS = ("list", "search", "info", "install", "verify", "publish", "serve")


@pytest.fixture(autouse=True)
def env_store(tmp_path, monkeypatch):
    """Point $GPTLIB_STORE (and $XDG_CACHE_HOME) at tmp paths, so no test can touch ~/.cache."""
    monkeypatch.setenv("GPTLIB_STORE", str(tmp_path / "env-store"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "env-store"


def cli(capsys, *argv):
    """Run the CLI in-process: ``(exit code, stdout, stderr)``; argparse's own exits (help, usage) included."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err



def tamper(path):
    os.chmod(path, 0o644)  # blobs are read-only files
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def two_models(tmp_path, capsys):
    """A store at tmp_path/'store' with series/tiny and series/big published through the CLI."""
    store = tmp_path / "store"
    params = {}
    for name, n_embd, loss, speed in [("series/tiny", 8, 2.6, 3000.0), ("series/big", 32, 1.8, 500.0)]:
        params[name] = gptlib_model(tmp_path / name, n_embd=n_embd, val_loss=loss, tokens_per_second=speed
                                    ).num_params()
        code, out, err = cli(capsys, "--store", store, "publish", tmp_path / name, "--name", name)
        assert code == 0 and err == ""
        revision = LocalStore(store).resolve(name)
        assert out.strip().startswith(f"published {name}@{revision} (")
        assert out.strip().endswith(f"bytes) in {store.resolve()}")
    return store, params


# ---------------------------------------------------------------------------------------------- help


def test_top_level_help_names_every_subcommand_and_the_exit_codes(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    for command in SUBCOMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), f"{command} is not described in --help"
    assert "--store" in out and "exit codes: 0 done, 1 integrity problem, 2 bad usage" in out


@pytest.mark.parametrize("command, options", [
    ("list", ["--remote"]),
    ("search", ["query", "--max-params", "--max-loss", "--min-speed", "--sort", "--remote"]),
    ("info", ["name", "--revision"]),
    ("install", ["name", "--remote", "--revision", "--offline", "--timeout", "--no-progress"]),
    ("verify", ["name"]),
    ("publish", ["folder", "--name", "--tag"]),
    ("serve", ["--host", "--port"]),
])
def test_each_subcommand_has_help_naming_its_options(capsys, command, options):
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: python -m gptlib.store {command}")
    for option in options:
        assert option in out, f"{command} --help does not mention {option}"


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["publish", "somewhere"], "the following arguments are required: --name"),
    (["search", "--max-loss", "low"], "argument --max-loss: invalid float value: 'low'"),
    (["search", "--sort", "speed"], "argument --sort: invalid choice: 'speed'"),
])
def test_bad_usage_exits_2(capsys, tmp_path, argv, message):
    code, out, err = cli(capsys, "--store", tmp_path / "store", *argv)
    assert code == 2 and message in err and out == ""


# ---------------------------------------------------------------------------------------------- the commands


def test_list_shows_every_model_with_revision_tags_and_parameters(capsys, two_models, env_store):
    store, params = two_models
    code, out, err = cli(capsys, "--store", store, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "revision", "tags", "parameters", "val_loss", "tokens/s", "size", "license"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"series/tiny", "series/big"}
    for name, row in rows.items():
        assert row[1] == LocalStore(store).resolve(name)[:12] and row[2] == "main" and row[3] == f"{params[name]:,}"
    assert rows["series/big"][4] == "1.800" and rows["series/tiny"][5] == "3,000"
    assert not env_store.exists()  # --store wins over $GPTLIB_STORE


def test_search_filters_and_sorts(capsys, two_models):
    store, params = two_models

    def names(*argv):
        code, out, err = cli(capsys, "--store", store, "search", *argv)
        assert code == 0 and err == ""
        return [line.split()[0] for line in out.splitlines()[1:]] if out.strip() != "(no models)" else []

    assert names("--max-params", params["series/tiny"]) == ["series/tiny"]
    assert names("--max-loss", "2.0") == ["series/big"]
    assert names("--min-speed", "1000") == ["series/tiny"]
    assert names("BIG") == ["series/big"]
    assert names("--sort", "val_loss") == ["series/big", "series/tiny"]
    assert names("--sort", "tokens_per_second") == ["series/tiny", "series/big"]
    assert names("series", "--max-params", params["series/tiny"] - 1) == []


def test_info_lists_every_file_with_its_hash_and_the_card(capsys, two_models):
    store, _ = two_models
    code, out, err = cli(capsys, "--store", store, "info", "series/tiny")
    assert code == 0 and err == ""
    manifest = LocalStore(store).manifest("series/tiny")
    for entry in manifest.files:
        assert f"  {entry.path}  {entry.size:,} bytes  sha256 {entry.sha256}" in out
    assert "series/tiny" in out.splitlines()[1] and "intended use: learning how a GPT works" in out
    code, out, _ = cli(capsys, "--store", store, "info", "series/tiny", "--revision", manifest.revision)
    assert code == 0 and manifest.revision[:12] in out


def test_verify_passes_then_finds_a_corrupted_blob_and_exits_1(capsys, two_models):
    store, _ = two_models
    code, out, _ = cli(capsys, "--store", store, "verify")
    assert code == 0 and out.strip() == f"0 problem(s) in {store.resolve()}"
    entry = LocalStore(store).manifest("series/big").file("model.safetensors")
    tamper(LocalStore(store).blob_path(entry.sha256))
    code, out, _ = cli(capsys, "--store", store, "verify")
    assert code == 1
    assert f"series/big@{LocalStore(store).resolve('series/big')[:12]} model.safetensors: expected sha256 " \
           f"{entry.sha256}" in out
    assert out.strip().endswith(f"1 problem(s) in {store.resolve()}")
    code, out, _ = cli(capsys, "--store", store, "verify", "series/tiny")  # only the named model is checked
    assert code == 0 and "0 problem(s)" in out
    code, _, err = cli(capsys, "--store", store, "info", "series/big")  # info still reads; load would refuse
    assert code == 0 and err == ""


def test_an_unknown_model_exits_3_with_a_close_match(capsys, two_models, tmp_path):
    store, _ = two_models
    code, out, err = cli(capsys, "--store", store, "info", "series/tinny")
    assert code == 3 and out == ""
    assert err.startswith("error: no model 'series/tinny' in this store; did you mean: series/tiny")
    assert err.count("\n") == 1
    code, _, err = cli(capsys, "--store", tmp_path / "laptop", "install", "series/bigg", "--remote", store,
                       "--no-progress")
    assert code == 3 and "did you mean: series/big" in err
    code, _, err = cli(capsys, "--store", store, "info", "series/tiny", "--revision", "v9")
    assert code == 3 and "no tag of 'series/tiny' 'v9' in this store; it has: main" in err
    code, _, err = cli(capsys, "--store", tmp_path / "laptop", "install", "series/tiny", "--offline")
    assert code == 3 and "'series/tiny' is not installed" in err and "offline mode makes no requests" in err


@pytest.mark.parametrize("argv, message", [
    (["install", "series/tiny"], "install needs --remote URL_OR_FOLDER (or --offline"),
    (["install", "../evil", "--remote", "."], "model name '../evil' is not allowed: use 'name' or 'owner/name'"),
    (["info", "series/tiny", "--revision", "../main"], "tag '../main' is not allowed"),
    (["install", "series/tiny", "--remote", "ftp://example.org"], "no model store at ftp:/example.org"),
    (["install", "series/tiny", "--remote", "http://127.0.0.1:1", "--timeout", "0"],
     "timeout must be a positive number of seconds, got 0.0"),
])
def test_refused_input_exits_2(capsys, two_models, argv, message):
    store, _ = two_models
    code, out, err = cli(capsys, "--store", store, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_publishing_a_pickle_or_under_a_bad_name_exits_2_and_stores_nothing(capsys, tmp_path):
    gptlib_model(tmp_path / "src")
    store = tmp_path / "store"
    code, _, err = cli(capsys, "--store", store, "publish", tmp_path / "src", "--name", "../evil")
    assert code == 2 and "model name '../evil' is not allowed: use 'name' or 'owner/name'" in err
    (tmp_path / "src" / "optimizer.pt").write_bytes(b"\x80\x04pickled")
    code, _, err = cli(capsys, "--store", store, "publish", tmp_path / "src", "--name", "series/toy")
    assert code == 2 and "optimizer.pt: refused, a .pt file is (or may be) a pickle" in err
    code, _, err = cli(capsys, "--store", store, "publish", tmp_path / "nowhere", "--name", "series/toy")
    assert code == 2 and "not a folder" in err
    assert [p for p in store.rglob("*") if p.is_file()] == []


def test_a_store_path_that_is_a_file_exits_2(capsys, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    code, _, err = cli(capsys, "--store", tmp_path / "file", "list")
    assert code == 2 and err.startswith("error: ") and str(tmp_path / "file") in err and err.count("\n") == 1


def test_an_unreachable_remote_exits_4(capsys, tmp_path):
    port = free_port()  # bound and released: nothing listens there now
    code, out, err = cli(capsys, "--store", tmp_path / "laptop", "install", "series/tiny", "--remote",
                         f"http://127.0.0.1:{port}", "--timeout", "2", "--no-progress")
    assert code == 4 and out == ""
    assert f"error: cannot reach the store at http://127.0.0.1:{port}" in err and "--offline" in err
    code, _, err = cli(capsys, "--store", tmp_path / "laptop", "list", "--remote", f"http://127.0.0.1:{port}")
    assert code == 4 and "cannot reach the store" in err
    assert LocalStore(tmp_path / "laptop").names() == []


def test_a_server_sending_wrong_bytes_makes_install_exit_1(capsys, two_models, tmp_path):
    store, _ = two_models
    laptop = tmp_path / "laptop"
    with StoreServer(LocalStore(store), faults=Faults(corrupt=frozenset({"tokenizer.json"}))) as server:
        code, _, err = cli(capsys, "--store", laptop, "install", "series/tiny", "--remote", server.url, "--no-progress")
    expected = LocalStore(store).manifest("series/tiny").file("tokenizer.json").sha256
    assert code == 1 and f"tokenizer.json: expected sha256 {expected}, got " in err
    assert LocalStore(laptop).names() == []


def test_install_from_a_folder_then_list_and_remote_list(capsys, two_models, tmp_path):
    store, _ = two_models
    laptop = tmp_path / "laptop"
    code, out, err = cli(capsys, "--store", laptop, "install", "series/big", "--remote", store, "--no-progress")
    revision = LocalStore(store).resolve("series/big")
    assert code == 0 and err == "" and out == f"installed series/big@{revision[:12]} in {laptop.resolve()}\n"
    code, out, _ = cli(capsys, "--store", laptop, "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["series/big"]
    code, out, _ = cli(capsys, "--store", laptop, "list", "--remote", store)  # the remote's catalogue
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["series/big", "series/tiny"]
    code, out, _ = cli(capsys, "--store", laptop, "search", "tiny", "--remote", store)
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["series/tiny"]
    code, out, _ = cli(capsys, "--store", laptop, "install", "series/big", "--offline")
    assert code == 0 and out.startswith(f"installed series/big@{revision[:12]}")
    assert LocalStore(laptop).verify() == []


def test_without_store_the_cli_uses_gptlib_store(capsys, tmp_path, env_store):
    gptlib_model(tmp_path / "src")
    code, out, _ = cli(capsys, "publish", tmp_path / "src", "--name", "series/toy")
    assert code == 0 and out.strip().endswith(f"in {env_store.resolve()}")
    assert LocalStore(env_store).names() == ["series/toy"]
    code, out, _ = cli(capsys, "list")
    assert code == 0 and "series/toy" in out
    assert default_store_dir() == env_store


def test_the_default_store_dir_without_gptlib_store(monkeypatch, tmp_path):
    monkeypatch.delenv("GPTLIB_STORE")
    assert default_store_dir() == tmp_path / "xdg" / "gptlib" / "store"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_dir() == tmp_path / "home" / ".cache" / "gptlib" / "store"


# ---------------------------------------------------------------------------------------------- processes


def run_cli(*argv, env_store, timeout=60):
    env = {**os.environ, "GPTLIB_STORE": str(env_store)}
    return subprocess.run([sys.executable, "-m", "gptlib.store", *map(str, argv)], check=False, capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture
def server_process(tmp_path, two_models, env_store):
    """``python -m gptlib.store serve`` on a free port of 127.0.0.1, serving two_models' store; yields its URL."""
    store, _ = two_models
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115 (closed in the teardown)
    proc = subprocess.Popen([sys.executable, "-m", "gptlib.store", "--store", str(store), "serve", "--port",
                             str(port)], stdout=log, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "GPTLIB_STORE": str(env_store)})
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"the server exited with {proc.returncode}: {Path(log.name).read_text()}"
            try:
                with urllib.request.urlopen(f"{url}{API}/index", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:  # URLError, refused, reset or timed out: not listening yet
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer within 20 s: {Path(log.name).read_text()}")
                time.sleep(0.05)
        yield url, Path(log.name)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_install_from_a_server_process_is_byte_identical(tmp_path, two_models, server_process, env_store):
    store, _ = two_models
    url, log = server_process
    laptop = tmp_path / "laptop"
    done = run_cli("--store", laptop, "install", "series/tiny", "--remote", url, "--no-progress", "--timeout", "10",
                   env_store=env_store)
    assert done.returncode == 0, done.stderr
    revision = LocalStore(store).resolve("series/tiny")
    assert done.stdout == f"installed series/tiny@{revision[:12]} in {laptop.resolve()}\n"
    source, installed = LocalStore(store), LocalStore(laptop)
    assert installed.tags("series/tiny") == {"main": revision}
    assert installed.manifest_text("series/tiny") == source.manifest_text("series/tiny")
    folder = installed.snapshot("series/tiny")
    originals = sorted(p for p in (tmp_path / "series" / "tiny").rglob("*") if p.is_file())
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == \
           [p.relative_to(tmp_path / "series" / "tiny") for p in originals]
    for original in originals:
        assert (folder / original.relative_to(tmp_path / "series" / "tiny")).read_bytes() == original.read_bytes()
    for entry in source.manifest("series/tiny").files:
        assert installed.read_blob(entry.sha256) == source.read_blob(entry.sha256)
    listed = run_cli("--store", laptop, "list", "--remote", url, env_store=env_store)
    assert listed.returncode == 0 and "series/big" in listed.stdout and "series/tiny" in listed.stdout
    text = log.read_text()
    assert f"serving {store.resolve()} at {url}" in text
    assert f"GET {API}/blobs/" in text  # the bytes really came from the server process
    assert not env_store.exists()


def test_end_to_end_smoke_with_gptlib_store_only(tmp_path, env_store):
    gptlib_model(tmp_path / "src")
    published = run_cli("publish", tmp_path / "src", "--name", "series/toy", env_store=env_store)
    assert published.returncode == 0 and published.stdout.startswith("published series/toy@"), published.stderr
    verified = run_cli("verify", env_store=env_store)
    assert verified.returncode == 0 and verified.stdout == f"0 problem(s) in {env_store.resolve()}\n"
    missing = run_cli("info", "series/toi", env_store=env_store)
    assert missing.returncode == 3 and "did you mean: series/toy?" in missing.stderr and missing.stdout == ""
    store = LocalStore(env_store)
    tamper(store.blob_path(store.manifest("series/toy").file("README.md").sha256))
    damaged = run_cli("verify", env_store=env_store)
    assert damaged.returncode == 1 and "README.md: expected sha256" in damaged.stdout
    assert run_cli("--help", env_store=env_store).returncode == 0
