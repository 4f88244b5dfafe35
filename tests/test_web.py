"""The web API (FastAPI TestClient): the CLI's --json for the same arguments, path confinement,
request limits, the Host check; and `serve` / `report` through their argparse wiring."""

from __future__ import annotations

import argparse
import json
import os
import struct
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")  # TestClient needs it

from fastapi.testclient import TestClient

from paramscope.cli.app import build_parser
from paramscope.web.app import create_app

XSS = "<script>alert(1)</script>"
VOLATILE = ("seconds", "bytes_per_second", "backend")  # stats timings differ run to run


def cli_json(capsys, *argv: str) -> dict:
    args = build_parser().parse_args([*argv, "--json"])
    assert args.run(args) in (0, None)
    return json.loads(capsys.readouterr().out)


def write_safetensors(path: Path, name: str = XSS) -> Path:
    header = json.dumps({name: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, -1.0))
    return path


@pytest.fixture(scope="module")
def gemma_root(gemma_gguf) -> Path:
    return gemma_gguf.resolve().parent


@pytest.fixture()
def client(gemma_root, root) -> TestClient:
    app = create_app([gemma_root, root], defaults=False)
    return TestClient(app, base_url="http://127.0.0.1:8765")


@pytest.fixture()
def root(tmp_path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def test_inspect_equals_cli(client, capsys, gemma_gguf):
    src = str(gemma_gguf.resolve())
    for flags, params in (((), {}), (("--tensors", "--layers"), {"tensors": True, "layers": True})):
        r = client.get("/api/inspect", params={"source": src, **params})
        assert r.status_code == 200
        assert r.json() == cli_json(capsys, "inspect", src, *flags)
    assert r.json()["total_params"] == 268_098_176


@pytest.mark.parametrize("source", ["gemma", "llama-3.1-70b"])
def test_size_equals_cli(client, capsys, gemma_gguf, source):
    src = str(gemma_gguf.resolve()) if source == "gemma" else source
    cases = [({}, ()),
             ({"context": 4096, "batch": 2, "kv_type": "q8_0"},
              ("--context", "4096", "--batch", "2", "--kv-type", "q8_0")),
             ({"weights": "q4_k_m", "gpu": "h100x2", "runtime": "vllm"},
              ("--weights", "q4_k_m", "--gpu", "h100x2", "--runtime", "vllm"))]
    for params, flags in cases:
        r = client.get("/api/size", params={"source": src, **params})
        assert r.status_code == 200, r.text
        assert r.json() == cli_json(capsys, "size", src, *flags)


def test_fit_equals_cli(client, capsys):
    r = client.get("/api/fit", params={"source": "llama-3.1-70b", "gpu": "rtx-4090", "ram": "64GiB"})
    assert r.status_code == 200, r.text
    assert r.json() == cli_json(capsys, "fit", "llama-3.1-70b", "--gpu", "rtx-4090", "--ram", "64GiB")
    assert r.json()["devices_needed"] > 1


def test_tokens_equals_cli(client, capsys, gemma_gguf):
    src, text = str(gemma_gguf.resolve()), "The quick brown fox jumps over the lazy dog."
    r = client.get("/api/tokens", params={"source": src, "text": text})
    assert r.status_code == 200
    assert r.json() == cli_json(capsys, "tokens", src, text)
    assert client.post("/api/tokens", params={"source": src}, json={"text": text}).json() == r.json()
    ids = ",".join(str(t["id"]) for t in r.json()["tokens"])
    d = client.get("/api/tokens", params={"source": src, "ids": ids})
    assert d.json() == cli_json(capsys, "tokens", src, "--ids", ids)


def test_stats_equals_cli(client, capsys, root):
    path = str(write_safetensors(root / "tiny.safetensors", "w"))
    r = client.get("/api/stats", params={"source": path})
    assert r.status_code == 200
    strip = lambda d: {k: v for k, v in d.items() if k not in VOLATILE}  # noqa: E731
    assert strip(r.json()) == strip(cli_json(capsys, "stats", path))


def test_explain_equals_cli(client, capsys, gemma_gguf):
    src = str(gemma_gguf.resolve())
    r = client.get("/api/explain", params={"source": src, "level": "expert"})
    assert r.status_code == 200
    assert r.json() == cli_json(capsys, "explain", src, "--level", "expert")
    assert client.get("/api/explain", params={"source": src, "level": "novice"}).status_code == 422


def test_errors_are_one_line_json(client):
    r = client.get("/api/size", params={"source": "llama-3.1-70b", "weights": "q9_z"})
    assert r.status_code == 400 and "error" in r.json()
    r = client.get("/api/tokens", params={"source": "llama-3.1-70b", "text": "hi"})
    assert r.status_code == 400 and "no tokenizer" in r.json()["error"]
    assert client.get("/api/stats", params={"source": "llama-3.1-70b"}).status_code == 400


def test_outside_roots_dotdot_and_symlink_out_refused(client, root, tmp_path, gemma_gguf):
    outside = write_safetensors(tmp_path / "outside.safetensors")
    (root / "link.safetensors").symlink_to(outside)
    (root / "folder").mkdir()
    (root / "folder" / "model.safetensors").symlink_to(outside)
    dotdot = f"{root}/../outside.safetensors"
    for src in (str(outside), dotdot, str(root / "link.safetensors"), str(root / "folder"), "/etc/passwd",
                "relative/path.gguf"):
        for endpoint in ("inspect", "size", "tokens", "stats"):
            r = client.get(f"/api/{endpoint}", params={"source": src, "text": "x"})
            assert r.status_code == 403, (src, endpoint, r.text)
            assert "error" in r.json()


def test_non_regular_files_refused(client, root):
    os.mkfifo(root / "pipe.gguf")  # opening it would block the server forever
    r = client.get("/api/inspect", params={"source": str(root / "pipe.gguf")})
    assert r.status_code == 403


def test_symlink_inside_roots_allowed(client, root):
    target = write_safetensors(root / "real.safetensors", "w")
    (root / "alias.safetensors").symlink_to(target)
    r = client.get("/api/inspect", params={"source": str(root / "alias.safetensors")})
    assert r.status_code == 200 and r.json()["total_params"] == 2


def test_hostile_names_come_back_as_data(client, root):
    path = write_safetensors(root / "xss.safetensors")
    r = client.get("/api/inspect", params={"source": str(path), "tensors": True})
    assert r.headers["content-type"] == "application/json"
    assert r.json()["tensors"][0]["name"] == XSS


def test_page_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert client.get("/static/core.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/size"]


def test_request_limits(client, gemma_gguf):
    src = str(gemma_gguf.resolve())
    assert client.get("/api/inspect", params={"source": "x" * 20_000}).status_code == 414
    big = "a" * (1 << 20)
    r = client.post("/api/tokens", params={"source": src}, content=json.dumps({"text": big}),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.get("/api/size", params={"source": src, "context": 0}).status_code == 422


def test_dns_rebinding_host_refused(gemma_root):
    evil = TestClient(create_app([gemma_root], defaults=False), base_url="http://evil.example:8765")
    assert evil.get("/api/roots").status_code == 400


def test_models_lists_roots(client, gemma_gguf):
    body = client.get("/api/models").json()
    assert str(gemma_gguf.resolve()) in [m["path"] for m in body["local"]]
    assert body["catalogue"]


def harness(module) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    module.configure(p)
    p.set_defaults(as_json=False)
    return p


def test_serve_defaults_to_loopback():
    from paramscope.cli import serve_cmd

    args = harness(serve_cmd).parse_args([])
    assert args.host == "127.0.0.1" and args.port == 8765


def test_report_writes_self_contained_html(tmp_path, gemma_gguf, capsys):
    from paramscope.cli import report_cmd

    out = tmp_path / "report.html"
    args = harness(report_cmd).parse_args([str(gemma_gguf.resolve()), "-o", str(out)])
    assert report_cmd.run(args) == 0
    assert "wrote" in capsys.readouterr().out
    html = out.read_text()
    payload = html.split('<script type="application/json" id="paramscope-data">')[1].split("</script>")[0]
    # the data may name a web page as text (the tour's source for the training tokens); the page itself
    # fetches nothing
    shell = html.replace(payload, "")
    assert "http://" not in shell.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in shell
    assert "<script src" not in html and "<link" not in html
    data = json.loads(payload)
    assert data["inspect"] == cli_json(capsys, "inspect", str(gemma_gguf.resolve()), "--tensors", "--layers")
    # the tour, as `paramscope explain` writes it (without --stats the report reads no weights)
    assert data["explain"] == cli_json(capsys, "explain", str(gemma_gguf.resolve()), "--no-values")
    assert [s["key"] for s in data["explain"]["sections"]][:3] == ["parameters", "where", "largest"]
    assert "views/tour.js" not in html and "registerView({ id: \"tour\"" in html


def report_payload(html: str) -> dict:
    block = html.split('<script type="application/json" id="paramscope-data">')[1]
    return json.loads(block.split("</script>")[0])


def test_report_gpu_names_the_fit_matrix_device(tmp_path, capsys):
    """--gpu picks the device of the fit matrix (an alias resolves to the table's key, which the page's
    GPU list selects); the matrix is `fit --json`'s devices_needed on that device."""
    from paramscope.cli import report_cmd

    out = tmp_path / "r.html"
    args = harness(report_cmd).parse_args(["llama-3.2-1b", "-o", str(out), "--gpu", "H100"])
    assert report_cmd.run(args) == 0
    assert "wrote" in capsys.readouterr().out
    data = report_payload(out.read_text())
    assert data["gpu"] == data["fit_matrix"]["device"]["key"] == "h100-sxm"  # "H100": the SXM card
    assert data["gpu"] in {g["key"] for g in data["gpus"]}
    ctx = data["default_context"]
    runtime = data["fit_matrix"]["runtimes"][0]
    fit = cli_json(capsys, "fit", "llama-3.2-1b", "--gpu", "h100-sxm", "--context", str(ctx),
                   "--runtime", runtime)
    cell = next(c for c in data["fit_matrix"]["cells"] if c["context"] == ctx and c["weights"] == "")
    assert cell["devices"] == fit["devices_needed"]


@pytest.mark.parametrize(("gpu", "message"), [("h100x2", "one device type"), ("nonsense-gpu", "nonsense")])
def test_report_gpu_refused_in_one_line_before_reading(tmp_path, gpu, message):
    from paramscope.cli import report_cmd
    from paramscope.errors import ParamscopeError

    args = harness(report_cmd).parse_args(["no-such-model-anywhere", "-o", str(tmp_path / "r.html"),
                                           "--gpu", gpu])
    with pytest.raises(ParamscopeError, match=message):  # the GPU is checked before the source
        report_cmd.run(args)


def test_report_escapes_names(tmp_path):
    from paramscope.cli import report_cmd

    src = write_safetensors(tmp_path / "xss.safetensors")
    out = tmp_path / "r.html"
    assert report_cmd.run(harness(report_cmd).parse_args([str(src), "-o", str(out)])) == 0
    assert XSS not in out.read_text()  # "</script>" inside the data would end the data block
