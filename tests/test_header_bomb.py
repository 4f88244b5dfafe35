"""Header bombs (issue 10): a header declaring more tensors than formats/limits.py allows is refused
with one line, before its entries are read, in the CLI and in `serve`; the same file just under the
limit is read. The files are sparse and small (the limit is lowered for the test; the real sizes are
bench/bench_header_bomb.py's)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from paramscope.errors import HeaderError
from paramscope.formats import gguf, limits, safetensors

N = 64


def safetensors_file(path, n: int):
    header = json.dumps({f"l.{i}.w": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
                         for i in range(n)}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4 * n))
    return path


def gguf_file(path, n: int):
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, n, 0))
    for i in range(n):
        name = f"blk.{i}.attn_q.weight".encode()
        out += struct.pack("<Q", len(name)) + name + struct.pack("<IQIQ", 1, 32, 0, 128 * i)
    out += bytes(-len(out) % 32)
    path.write_bytes(bytes(out) + bytes(128 * n))
    return path


@pytest.fixture
def low_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TENSORS", N)


@pytest.mark.parametrize("make,reader", [(safetensors_file, safetensors), (gguf_file, gguf)])
def test_a_bomb_beyond_the_limit_is_refused(tmp_path, low_limit, make, reader):
    ok = make(tmp_path / f"ok.{reader.NAME}", N)
    assert len(reader.read(ok).tensors) == N
    bomb = make(tmp_path / f"bomb.{reader.NAME}", N + 1)
    refused = r"more tensors than paramscope reads .*found 65, expected at most 64"
    with pytest.raises(HeaderError, match=refused):
        reader.read(bomb)


def test_a_sharded_model_counts_all_its_shards(tmp_path, low_limit):
    from builders.safetensors_files import write_sharded

    index = write_sharded(tmp_path, [{f"a{i}": ("F32", [1]) for i in range(40)},
                                     {f"b{i}": ("F32", [1]) for i in range(40)}])
    with pytest.raises(HeaderError, match="the weight_map names more tensors"):
        safetensors.read(index)


def test_the_cli_refuses_with_one_line(tmp_path):
    """The real limit, in a fresh process: a GGUF file declaring one tensor more, long enough to hold
    them (sparse): the count is refused before anything else is read."""
    path = tmp_path / "bomb.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, limits.MAX_TENSORS + 1, 0))
    with open(path, "r+b") as f:  # sparse: room for the smallest tensor infos, never written
        f.truncate(24 + 24 * (limits.MAX_TENSORS + 1))
    r = subprocess.run([sys.executable, "-m", "paramscope", "inspect", str(path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: ")
    assert f"expected at most {limits.MAX_TENSORS:,}" in r.stderr


def test_serve_refuses_with_one_line(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from paramscope.web.app import create_app

    path = tmp_path / "bomb.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, limits.MAX_TENSORS + 1, 0))
    with open(path, "r+b") as f:
        f.truncate(24 + 24 * (limits.MAX_TENSORS + 1))
    client = TestClient(create_app([tmp_path], defaults=False), base_url="http://127.0.0.1:8765")
    r = client.get("/api/inspect", params={"source": str(path.resolve())})
    assert r.status_code == 400
    assert "more tensors than paramscope reads" in json.dumps(r.json())
