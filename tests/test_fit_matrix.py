"""The fit matrix (app/fit_matrix.py, the page's context × weight type table): each cell's GPU count is
`fit --json`'s ``devices_needed`` at that context and weight type, its max batch is the largest batch
that `size --gpu NAMExN` says fits, and /api/fit_matrix answers the function's to_json()."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders.cli import cli_json
from paramscope.app.common import open_source
from paramscope.app.fit_matrix import MAX_BATCH, fit_matrix
from paramscope.records import replace

MODELS = ("llama-3.1-8b", "qwen3-30b-a3b", "gemma-3-27b")
GPUS = ("rtx-4090", "rtx-3060-12g", "a100-80g", "h100-sxm")
WEIGHTS = ("", "bf16", "q8_0", "q4_k_m", "q2_k")
CONTEXTS = (2048, 8192, 32768, 131072)


@pytest.mark.parametrize(("source", "gpu", "context", "weights"), [
    ("llama-3.1-8b", "rtx-4090", 8192, ""),
    ("llama-3.1-70b", "rtx-4090", 32768, "q4_k_m"),
    ("qwen3-30b-a3b", "a100-80g", 131072, "bf16"),
])
def test_cells_equal_fit_cli(source, gpu, context, weights):
    m = fit_matrix(source, gpu=gpu, contexts=(context,), weight_types=(weights,))
    argv = ["fit", source, "--gpu", gpu, "--context", str(context), "--ram", "64GiB"]
    cli = cli_json(*argv, *(["--weights", weights] if weights else []))
    assert m.cell(context, weights).devices == cli["devices_needed"]


@pytest.mark.slow  # runs long (several CPU-s): make test runs it, make test-fast does not
@settings(max_examples=25)
@given(source=st.sampled_from(MODELS), gpu=st.sampled_from(GPUS), context=st.sampled_from(CONTEXTS),
       weights=st.sampled_from(WEIGHTS), batch=st.sampled_from((1, 4)))
def test_cell_is_fit_and_max_batch_is_largest(source, gpu, context, weights, batch):
    import paramscope

    model = open_source(source)
    m = fit_matrix(model, gpu=gpu, contexts=(context,), weight_types=(weights,), batch=batch)
    cell = m.cell(context, weights)
    options = {"context": context, "batch": batch, "weights": weights or None}
    assert cell.devices == paramscope.fit(model, gpu=gpu, ram="64GiB", **options).report.devices_needed
    n = cell.devices or 1

    def fits(b: int) -> bool:
        return bool(paramscope.size(model, gpu=f"{gpu}x{n}", **{**options, "batch": b}).estimate.fits)

    if cell.max_batch == 0:
        assert not fits(1)
    else:
        assert fits(cell.max_batch)
        assert cell.max_batch == MAX_BATCH or not fits(cell.max_batch + 1)


def test_runtimes_and_errors_are_cells():
    m = fit_matrix("llama-3.1-8b", gpu="rtx-4090", contexts=(8192,), weight_types=("", "q4_k_m"),
                   runtimes=("llama.cpp", "vllm", "transformers"))
    assert [c.runtime for c in m.cells] == ["llama.cpp"] * 2 + ["vllm"] * 2 + ["transformers"] * 2
    assert all(c.devices == 1 or c.error for c in m.cells)
    sizes = {r: cli_json("size", "llama-3.1-8b", "--context", "8192", "--runtime", r, "--gpu", "rtx-4090")
             for r in ("llama.cpp", "vllm", "transformers")}
    for c in m.cells:
        if c.weights == "" and not c.error:
            # on the GPU: size's per-device total (llama.cpp keeps the input embedding in host memory)
            assert c.bytes_per_device == max(d["total_bytes"] for d in sizes[c.runtime]["per_device"])


def test_too_many_cells_and_counts_are_refused():
    from paramscope.errors import UsageError

    with pytest.raises(UsageError, match="limited to"):
        fit_matrix("llama-3.1-8b", contexts=tuple(range(1000, 1101)),
                   weight_types=("", "q8_0", "q4_k_m", "q2_k"))
    with pytest.raises(UsageError, match="one device type"):
        fit_matrix("llama-3.1-8b", gpu="rtx-4090x2")


@pytest.mark.slow  # runs long: the fit matrix twice
def test_weights_memo_answers_as_without():
    from paramscope.analyses.sizing import memory
    from paramscope.knowledge.hardware import parse_gpu_spec

    model = open_source("qwen3-30b-a3b")
    device, _ = parse_gpu_spec("h100-sxm")
    for scheme, runtime, n in [(None, "vllm", 2), ("q4_k_m", "llama.cpp", 1), (None, "llama.cpp", 1)]:
        first = memory.weights_for(model, scheme, runtime, device, n)
        assert memory.weights_for(model, scheme, runtime, device, n) == first
        assert memory._weights_for(model, scheme, runtime, device, n) == first
    other = replace(model, source="another")  # equal content, another object: its own entry
    assert memory.weights_for(other, "q4_k_m", "llama.cpp", device, 1)[0] == \
        memory._weights_for(model, "q4_k_m", "llama.cpp", device, 1)[0]


def test_api_equals_function(gemma_gguf):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from paramscope.web.app import create_app

    src = str(gemma_gguf.resolve())
    client = TestClient(create_app([gemma_gguf.resolve().parent], defaults=False), base_url="http://127.0.0.1")
    r = client.get("/api/fit_matrix", params={"source": src, "gpu": "rtx-3060-12g", "context": [4096, 32768],
                                             "weights": ["stored", "q8_0"], "batch": 2})
    assert r.status_code == 200
    assert r.json() == fit_matrix(src, gpu="rtx-3060-12g", contexts=(4096, 32768), weight_types=("", "q8_0"),
                                  batch=2).to_json()
    assert client.get("/api/fit_matrix", params={"source": "/etc/passwd"}).status_code == 403
    picker = client.get("/api/picker").json()
    assert src in [m["source"] for m in picker["models"]]
    assert "llama-3.1-8b" in [m["source"] for m in picker["models"]]
    assert "rtx-4090" in [g["key"] for g in picker["gpus"]]
