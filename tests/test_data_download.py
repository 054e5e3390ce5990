"""The download path of gptlib.data, for real, against a local HTTP server on 127.0.0.1.

Every scenario a student's network can produce: a good file, a corrupted one, a truncated one,
a server that is down, one that stalls, one that trickles; plus the mirror fallback, the
atomic cache (no partial file ever left behind) and the offline error message.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from gptlib import data
from gptlib.data import DatasetUnavailableError, ensure_dataset, load_text

@pytest.fixture(scope="module")
def corpus_bytes() -> bytes:
    """The real corpus bytes, from gptlib's data folder (GPTLIB_DATA_DIR in CI; conftest.py checks it is there)."""
    raw = data.dataset_path("tinyshakespeare").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == data.DATASETS["tinyshakespeare"].sha256
    return raw


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves /<mode>; the mode decides how the server (mis)behaves."""

    protocol_version = "HTTP/1.1"
    body: bytes = b""
    hits: list[str] = []
    release = threading.Event()

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        mode = self.path.strip("/")
        self.hits.append(mode)
        body = self.body
        if mode == "missing":
            self.send_error(404)
            return
        if mode == "corrupt":  # same size, one byte changed
            body = body[:1000] + bytes([body[1000] ^ 1]) + body[1001:]
        if mode == "stall":  # accepts, then says nothing at all
            self.release.wait(20)
            return
        self.send_response(200)
        if mode == "nolength-short":  # no Content-Length, closes early: only the size check can tell
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncated":  # announces the full size, sends half, hangs up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "trickle":  # headers, then a byte now and then: never silent long enough to time out
            for i in range(40):
                if self.release.is_set():
                    return
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.25)
            return
        self.wfile.write(body)


@pytest.fixture()
def server(corpus_bytes):
    """A threaded HTTP server on 127.0.0.1 and a port chosen by the OS; yields its base URL."""
    handler = type("Handler", (_Handler,), {"body": corpus_bytes, "hits": [], "release": threading.Event()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, handler
    handler.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """A proxy set in the environment must not capture requests to 127.0.0.1."""
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/good"  # nobody listens there any more: connection refused


def _leftovers(root: Path) -> list[str]:
    folder = root / "tinyshakespeare"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download_is_cached_and_verified(tmp_path, server, corpus_bytes):
    base, handler = server
    path = ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/good",), progress=False)
    assert path == tmp_path / "tinyshakespeare" / "input.txt"
    assert path.read_bytes() == corpus_bytes
    assert _leftovers(tmp_path) == ["input.txt"]
    # A second call uses the cache and never touches the network.
    ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/good",), progress=False)
    assert handler.hits == ["good"]


def test_load_text_downloads_through_the_registered_mirrors(tmp_path, server, corpus_bytes, monkeypatch):
    base, _ = server
    real = data.DATASETS["tinyshakespeare"]
    fake = data.Dataset(real.name, real.filename, real.size, real.sha256, (f"{base}/good",))
    monkeypatch.setitem(data.DATASETS, "tinyshakespeare", fake)
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    text = load_text("tinyshakespeare", progress=False)
    assert text.encode("utf-8") == corpus_bytes
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")


@pytest.mark.parametrize("mode, reason", [
    ("corrupt", "SHA-256"),
    ("truncated", "IncompleteRead"),
    ("nolength-short", "stopped after"),
    ("missing", "404"),
])
def test_bad_copies_are_rejected_and_nothing_is_cached(tmp_path, server, mode, reason):
    base, _ = server
    with pytest.raises(DatasetUnavailableError) as info:
        ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/{mode}",), progress=False)
    message = str(info.value)
    assert reason in message and f"{base}/{mode}" in message
    assert _leftovers(tmp_path) == []  # no partial file, no bad file


def test_mirror_fallback_takes_the_copy_whose_checksum_matches(tmp_path, server, corpus_bytes):
    base, handler = server
    path = ensure_dataset("tinyshakespeare", tmp_path,
                          urls=(f"{base}/corrupt", _closed_port_url(), f"{base}/good"), progress=False)
    assert path.read_bytes() == corpus_bytes
    assert handler.hits == ["corrupt", "good"]


def test_server_down_gives_the_offline_instructions(tmp_path):
    url = _closed_port_url()
    with pytest.raises(DatasetUnavailableError) as info:
        ensure_dataset("tinyshakespeare", tmp_path, urls=(url,), progress=False)
    message = str(info.value)
    expected_file = tmp_path / "tinyshakespeare" / "input.txt"
    assert "ConnectionError" in message and url in message
    assert f"save it as {expected_file}" in message
    assert data.DATASETS["tinyshakespeare"].urls[0] in message  # where to get it by hand
    assert "GPTLIB_DATA_DIR" in message and "1,115,394 bytes" in message
    assert _leftovers(tmp_path) == []


def test_stalled_server_fails_within_15_seconds(tmp_path, server):
    base, _ = server
    started = time.monotonic()
    with pytest.raises(DatasetUnavailableError, match="timed out"):
        ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/stall",), read_timeout=3, progress=False)
    assert time.monotonic() - started < 15
    assert _leftovers(tmp_path) == []


def test_trickling_server_hits_the_deadline(tmp_path, server):
    base, _ = server
    started = time.monotonic()
    with pytest.raises(DatasetUnavailableError, match="longer than 2 s"):
        ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/trickle",), deadline=2, progress=False)
    assert time.monotonic() - started < 15
    assert _leftovers(tmp_path) == []


def test_default_timeouts_are_the_documented_ones():
    assert (data.CONNECT_TIMEOUT_S, data.READ_TIMEOUT_S) == (10.0, 30.0)


def test_damaged_cache_is_replaced_not_used(tmp_path, server, corpus_bytes):
    base, handler = server
    cached = tmp_path / "tinyshakespeare" / "input.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(corpus_bytes[:-10] + b"XXXXXXXXXX")
    path = ensure_dataset("tinyshakespeare", tmp_path, urls=(f"{base}/good",), progress=False)
    assert path.read_bytes() == corpus_bytes and handler.hits == ["good"]


def test_damaged_cache_and_no_network_says_both(tmp_path):
    cached = tmp_path / "tinyshakespeare" / "input.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"First Citizen:\n")
    with pytest.raises(DatasetUnavailableError, match="damaged.*15 bytes, expected 1,115,394"):
        ensure_dataset("tinyshakespeare", tmp_path, urls=(_closed_port_url(),), progress=False)
    assert cached.read_bytes() == b"First Citizen:\n"  # the old file is left as it was
