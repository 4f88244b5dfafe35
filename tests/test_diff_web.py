"""GET /api/diff answers what `paramscope diff A B --json` prints, and stays inside the allowed roots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")  # TestClient needs it

from fastapi.testclient import TestClient

from paramscope.cli.app import build_parser
from paramscope.web.app import create_app

VOLATILE = {"seconds", "bytes_per_second"}


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


@pytest.fixture()
def pair(tmp_path) -> tuple[Path, Path]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    w = {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((64, 32)).astype(np.float32)}
    save_file(w, tmp_path / "a.safetensors")
    w["model.layers.0.mlp.up_proj.weight"][3, 4] += 1
    save_file(w, tmp_path / "b.safetensors")
    return tmp_path / "a.safetensors", tmp_path / "b.safetensors"


@pytest.mark.slow  # runs long: the value diff through the web app and the CLI
def test_diff_endpoint_equals_cli(pair, capsys, tmp_path):
    client = TestClient(create_app([tmp_path], defaults=False), base_url="http://127.0.0.1:8765")
    a, b = (str(p) for p in pair)
    r = client.get("/api/diff", params={"a": a, "b": b})
    assert r.status_code == 200
    args = build_parser().parse_args(["diff", a, b, "--json"])
    assert args.run(args) == 0
    assert strip(r.json()) == strip(json.loads(capsys.readouterr().out))
    assert r.json()["verdict"]["kind"] == "fine-tune"
    outside = client.get("/api/diff", params={"a": a, "b": "/etc/passwd"})
    assert outside.status_code == 403
