"""Downloads against a local HTTP server: verified, atomic, and nothing left behind on failure."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import glassnet.datasets as ds
from glassnet.datasets import full
from glassnet.datasets.idx import write_idx
from glassnet.errors import DownloadError, GlassnetError, InvalidArgumentError


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; ``server.behaviour[path]`` makes one path misbehave."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append(self.path)
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        behaviour = server.behaviour.get(self.path, "ok")
        if behaviour == "slow":
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if behaviour not in ("no-length", "no-length-cut"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour in ("cut", "no-length-cut"):
            # Promise the whole file, send half, hang up.
            body = body[: len(body) // 2]
            self.close_connection = True
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, which is what some tests want

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.block_on_close = False
    httpd.files, httpd.behaviour, httpd.requests = {}, {}, []
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("GLASSNET_DATA", "GLASSNET_MIRROR", "GLASSNET_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    for name, spec in list(full.SPECS.items()):
        system = tuple(str(tmp_path / "system" / name) for _ in spec.system_dirs)
        monkeypatch.setitem(full.SPECS, name, dataclasses.replace(spec, system_dirs=system))
    return tmp_path


def small_set(tmp_path):
    """The four files of a tiny mnist, as bytes, and the arrays in them."""
    rng = np.random.default_rng(7)
    arrays = (
        rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        (np.arange(20) % 10).astype(np.uint8),
        rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
        (np.arange(10) % 10).astype(np.uint8),
    )
    blobs = {}
    for name, array in zip(full.FILES, arrays):
        write_idx(tmp_path / "src" / name, array)
        blobs[name] = (tmp_path / "src" / name).read_bytes()
    return blobs, arrays


def publish(
    server, monkeypatch, tmp_path, prefix="/mnist/", *, sizes=True, wrong=None, mirrors=None
):
    """Serve a tiny mnist under ``prefix`` and make glassnet's table describe it."""
    blobs, arrays = small_set(tmp_path)
    for name, blob in blobs.items():
        server.files[prefix + name] = blob
    files = tuple(
        full.RemoteFile(
            name,
            "0" * 64 if name == wrong else hashlib.sha256(blob).hexdigest(),
            len(blob) if sizes else None,
        )
        for name, blob in blobs.items()
    )
    spec = dataclasses.replace(
        full.SPECS["mnist"], files=files, mirrors=tuple(mirrors or (server.url + prefix,))
    )
    monkeypatch.setitem(full.SPECS, "mnist", spec)
    return blobs, arrays


def cache_of(env):
    return env / "cache" / "glassnet" / "mnist"


def everything_in(directory):
    return sorted(p.name for p in Path(directory).rglob("*")) if Path(directory).exists() else []


def test_download_success(server, env, monkeypatch):
    blobs, arrays = publish(server, monkeypatch, env)
    (x_train, y_train), (x_test, y_test) = ds.load("mnist", verbose=False)
    np.testing.assert_array_equal(x_train, arrays[0])
    np.testing.assert_array_equal(y_train, arrays[1])
    np.testing.assert_array_equal(x_test, arrays[2])
    np.testing.assert_array_equal(y_test, arrays[3])
    assert everything_in(cache_of(env)) == sorted(full.FILES)
    for name in full.FILES:
        assert (cache_of(env) / name).read_bytes() == blobs[name]
    assert len(server.requests) == 4
    # Second time: from the cache, no network, even offline.
    monkeypatch.setenv("GLASSNET_OFFLINE", "1")
    (again, _), _ = ds.load("mnist")
    np.testing.assert_array_equal(again, arrays[0])
    assert len(server.requests) == 4
    assert ds.info("mnist").location == str(cache_of(env))


def test_download_reports_progress_on_stderr(server, env, monkeypatch, capsys):
    publish(server, monkeypatch, env)
    ds.load("mnist")
    err = capsys.readouterr().err
    assert err.count("glassnet: downloading " + server.url) == 4


def test_checksum_mismatch_leaves_the_cache_untouched(server, env, monkeypatch):
    publish(server, monkeypatch, env, wrong="train-images-idx3-ubyte.gz")
    with pytest.raises(DownloadError) as info:
        ds.load("mnist", verbose=False)
    message = str(info.value)
    assert "SHA-256 mismatch" in message and "train-images-idx3-ubyte.gz" in message
    assert "0" * 64 in message
    assert isinstance(info.value, GlassnetError) and isinstance(info.value, OSError)
    assert everything_in(cache_of(env)) == []


def test_checksum_mismatch_keeps_files_already_verified(server, env, monkeypatch):
    publish(server, monkeypatch, env, wrong="t10k-images-idx3-ubyte.gz")
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        ds.load("mnist", verbose=False)
    # The two verified files stay (a retry will not fetch them again); the bad one is absent.
    assert everything_in(cache_of(env)) == sorted(full.FILES[:2])


@pytest.mark.parametrize("behaviour", ["cut", "no-length-cut"])
@pytest.mark.parametrize("sizes", [True, False], ids=["size-known", "size-unknown"])
def test_connection_cut_mid_file_leaves_nothing(server, env, monkeypatch, behaviour, sizes):
    publish(server, monkeypatch, env, sizes=sizes)
    server.behaviour["/mnist/train-images-idx3-ubyte.gz"] = behaviour
    with pytest.raises(DownloadError) as info:
        ds.load("mnist", verbose=False)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    if behaviour == "cut":
        assert "the connection closed after" in message
    assert everything_in(cache_of(env)) == []  # not even a temporary file


def test_second_mirror_is_tried(server, env, monkeypatch):
    _, arrays = publish(
        server,
        monkeypatch,
        env,
        prefix="/good/",
        mirrors=[server.url + "/missing/", server.url + "/good/"],
    )
    (x_train, _), _ = ds.load("mnist", verbose=False)
    np.testing.assert_array_equal(x_train, arrays[0])
    assert server.requests[:2] == [
        "/missing/train-images-idx3-ubyte.gz",
        "/good/train-images-idx3-ubyte.gz",
    ]


def test_mirror_option_and_variable(server, env, monkeypatch):
    _, arrays = publish(
        server, monkeypatch, env, prefix="/opt/", mirrors=["http://127.0.0.1:9/unused/"]
    )
    (x_train, _), _ = ds.load("mnist", mirrors=server.url + "/opt", verbose=False)
    np.testing.assert_array_equal(x_train, arrays[0])

    for path in list(cache_of(env).iterdir()):
        path.unlink()
    blobs, _ = small_set(env)
    for name, blob in blobs.items():
        server.files["/root/mnist/" + name] = blob
    monkeypatch.setenv("GLASSNET_MIRROR", server.url + "/root")
    ds.load("mnist", verbose=False)
    assert "/root/mnist/train-images-idx3-ubyte.gz" in server.requests


def test_explicit_download_true_overrides_offline_variable(server, env, monkeypatch):
    publish(server, monkeypatch, env)
    monkeypatch.setenv("GLASSNET_OFFLINE", "1")
    ds.load("mnist", download=True, verbose=False)
    assert everything_in(cache_of(env)) == sorted(full.FILES)


def test_oversized_body_is_rejected(server, env, monkeypatch):
    publish(server, monkeypatch, env)
    server.files["/mnist/train-labels-idx1-ubyte.gz"] += b"extra"
    server.behaviour["/mnist/train-labels-idx1-ubyte.gz"] = "no-length"
    with pytest.raises(DownloadError, match="more than the expected"):
        ds.load("mnist", verbose=False)
    assert everything_in(cache_of(env)) == ["train-images-idx3-ubyte.gz"]


def test_announced_length_must_match(server, env, monkeypatch):
    publish(server, monkeypatch, env)
    server.files["/mnist/train-images-idx3-ubyte.gz"] += b"x"
    with pytest.raises(DownloadError, match="announced"):
        ds.load("mnist", verbose=False)
    assert everything_in(cache_of(env)) == []


def test_timeout(server, env, monkeypatch):
    publish(server, monkeypatch, env)
    server.behaviour["/mnist/train-images-idx3-ubyte.gz"] = "slow"
    started = time.monotonic()
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.gz"):
        ds.load("mnist", timeout=0.2, verbose=False)
    assert time.monotonic() - started < 0.9
    assert everything_in(cache_of(env)) == []


def test_unreachable_mirror_error_says_how_to_get_the_files(env, monkeypatch):
    spec = dataclasses.replace(full.SPECS["fashion-mnist"], mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(full.SPECS, "fashion-mnist", spec)
    with pytest.raises(DownloadError) as info:
        ds.load("fashion-mnist", timeout=2, verbose=False)
    message = str(info.value)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in message
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert everything_in(env / "cache" / "glassnet" / "fashion-mnist") == []


def test_download_options_are_checked(env):
    with pytest.raises(InvalidArgumentError, match="http, https or file URL"):
        ds.load("mnist", mirrors="ftp://example.org/", verbose=False)
    with pytest.raises(InvalidArgumentError, match="mirrors must be a URL"):
        ds.load("mnist", mirrors=[], verbose=False)
    with pytest.raises(InvalidArgumentError, match="timeout must be"):
        ds.load("mnist", timeout=0, verbose=False)


def test_file_url_mirror(env, monkeypatch):
    blobs, arrays = small_set(env)
    files = tuple(
        full.RemoteFile(n, hashlib.sha256(b).hexdigest(), len(b)) for n, b in blobs.items()
    )
    monkeypatch.setitem(full.SPECS, "mnist", dataclasses.replace(full.SPECS["mnist"], files=files))
    (x_train, _), _ = ds.load("mnist", mirrors=(env / "src").as_uri(), verbose=False)
    np.testing.assert_array_equal(x_train, arrays[0])
    assert gzip.decompress((cache_of(env) / full.FILES[0]).read_bytes())[:4] == b"\0\0\x08\x03"
