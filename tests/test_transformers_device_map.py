"""transformers' device_map placement (analyses/sizing/device_map.py) by hand, by its invariants, and the
transformers runtime's GPU / CPU / disk split (no torch, no accelerate needed here; the comparison with
transformers' own rule is tests/test_transformers_device_map_oracle.py)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.device_map import (
    CPU,
    DISK,
    balanced_memory,
    device_map,
    device_order,
    module_tree,
    parse_max_memory,
)
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.app.common import open_source
from paramscope.errors import UsageError
from paramscope.knowledge.hardware import parse_gpu_spec

GiB = 1 << 30
LLAMA_8B = "tests/fixtures/configs/mistralai__Ministral-8B-Instruct-2410.json"


def tiny(layers: int = 4, *, alphabetical: bool = False) -> list[tuple[str, int]]:
    """A Llama-shaped model: embedding 100 B, layers of 50 B (two tensors), final norm 1 B, head 100 B."""
    t = [("model.embed_tokens.weight", 100)]
    for i in range(layers):
        t += [(f"model.layers.{i}.self_attn.q_proj.weight", 30), (f"model.layers.{i}.mlp.up_proj.weight", 20)]
    t += [("model.norm.weight", 1), ("lm_head.weight", 100)]
    return sorted(t) if alphabetical else t


def test_sequential_by_hand():
    # GPU 0 keeps room for the largest layer (100 B: the embedding, then the head): 250 - 100 = 150 B;
    # the embedding (100) and layer 0 (50) fill it; layer 1 moves the walk to the CPU (1000 - 100 B)
    m = device_map(tiny(), "sequential", {0: 250, CPU: 1000})
    assert dict(m.placed) == {"model.embed_tokens": 0, "model.layers.0": 0, "model.layers.1": CPU,
                              "model.layers.2": CPU, "model.layers.3": CPU, "model.norm": CPU,
                              "lm_head": CPU}
    assert m.bytes_by_device == ((0, 150), (CPU, 3 * 50 + 1 + 100), (DISK, 0))
    assert m.reserved == 100 and m.main_device == 0


def test_checkpoint_order_is_not_definition_order():
    """safetensors sorts names (lm_head first, layers.10 before layers.2): the walk follows the modules'
    definition order all the same."""
    assert device_map(tiny(12, alphabetical=True), "sequential", {0: 500, CPU: 300}).placed == \
        device_map(tiny(12), "sequential", {0: 500, CPU: 300}).placed


def test_the_rest_goes_to_disk():
    m = device_map(tiny(), "sequential", {0: 250, CPU: 200})
    # CPU: 200 - 100 kept = 100 B: layers 1 and 2; then disk
    assert m.on(CPU) == 100 and m.on(DISK) == 50 + 1 + 100
    assert m.device_of("model.layers.3.mlp.up_proj.weight") == DISK


def test_whole_model_fits_whole():
    m = device_map(tiny(), "auto", {0: 10_000})
    assert m.placed == (("model", 0), ("lm_head", 0)) and m.on(0) == 401


def test_balanced_by_hand():
    # get_balanced_memory: 401 B over 2 GPUs = 200, + 1.25 × the largest leaf (100 B) = 325 on GPU 0;
    # the last GPU keeps what it was given
    root = module_tree(tiny())
    balanced = balanced_memory(root, {0: 1000, 1: 1000, CPU: None}, low_zero=False)
    assert balanced == {0: 325, 1: 1000, CPU: None}
    # balanced_low_0: GPU 0 keeps what GPU 1 cannot hold: max(0, 401 - 1000) = 0
    assert balanced_memory(root, {0: 1000, 1: 1000}, low_zero=True)[0] == 0
    # one GPU and no max_memory given: 90 % of it (the other 10 % "for the buffer")
    assert balanced_memory(root, {0: 1000, CPU: None}, low_zero=False, user_set=False)[0] == 900


def test_tied_copies_go_with_the_tensor_they_copy():
    """A tied copy weighs nothing (compute_module_sizes skips tied keys) and lands with its tensor, even
    when the module holding it comes later (T5's shared embedding, its encoder's and decoder's copies)."""
    t = [("shared.weight", 100), ("encoder.embed_tokens.weight", 0), ("encoder.block.0.w", 60),
         ("encoder.block.1.w", 60), ("decoder.embed_tokens.weight", 0), ("decoder.block.0.w", 60)]
    tied = [["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]]
    m = device_map(t, "sequential", {0: 230, CPU: 1000}, tied=tied)
    assert m.device_of("encoder.embed_tokens.weight") == m.device_of("decoder.embed_tokens.weight") == 0
    assert m.placed[0] == ("shared", 0)


def test_no_split_blocks_are_given_or_numbered():
    t = [("vision.embeddings.patch.weight", 40), ("vision.embeddings.position.weight", 40),
         ("text.layers.0.a.weight", 50), ("text.layers.0.b.weight", 50)]
    # GPU 0 keeps 100 B free for text.layers.0: nothing fits it, and the walk splits what it may
    whole = device_map(t, "sequential", {0: 100, CPU: 1000})
    assert ("vision.embeddings", CPU) in whole.placed  # BertEmbeddings, CLIPVisionEmbeddings: kept whole
    assert ("text", CPU) in whole.placed  # on the CPU the walk places it whole
    # the class lists none: the largest layer is a 50 B leaf, and half the embeddings stays on GPU 0
    split = device_map(t, "sequential", {0: 100, CPU: 1000}, no_split=set())
    assert split.placed[:2] == (("vision.embeddings.patch", 0), ("vision.embeddings.position", CPU))


def test_max_memory_spellings():
    assert parse_max_memory("0=20GiB,1=20GB,cpu=64GiB") == {0: 20 * GiB, 1: 20 * 10**9, CPU: 64 * GiB}
    assert parse_max_memory(str({0: "20GiB", "cpu": "64GiB"})) == {0: 20 * GiB, CPU: 64 * GiB}
    assert parse_max_memory({0: 5, "disk": "1GB"}) == {0: 5, DISK: 10**9}
    assert parse_max_memory("0:0, 1:10GB") == {0: 0, 1: 10**10}
    assert device_order({CPU: 1, 1: 1, 0: 1}) == [0, 1, CPU, DISK]
    for bad, says in (("0=20", "needs a unit"), ("gpu0=1GiB", "unknown device"), ("20GiB", "DEVICE=SIZE"),
                      ("", "no device")):
        with pytest.raises(UsageError, match=says):
            parse_max_memory(bad)


@st.composite
def budgets(draw: st.DrawFn) -> dict:
    n = draw(st.integers(0, 3))
    out: dict = {i: draw(st.integers(0, 600)) for i in range(n)}
    if draw(st.booleans()):
        out[CPU] = draw(st.integers(0, 600))
    if not out:
        out[CPU] = draw(st.integers(0, 600))
    return out


@settings(max_examples=200, deadline=None)
@given(budgets(), st.sampled_from(["auto", "balanced", "balanced_low_0", "sequential"]),
       st.integers(1, 12), st.booleans())
def test_placement_invariants(max_memory, mode, layers, alphabetical):
    m = device_map(tiny(layers, alphabetical=alphabetical), mode, max_memory)
    total = 201 + 50 * layers
    assert sum(b for _, b in m.bytes_by_device) == total
    order = {d: i for i, d in enumerate(device_order(max_memory))}
    walked = [order[d] for _, d in m.placed]
    assert walked == sorted(walked)  # the walk never goes back to a device it left
    budget = dict(m.budgets)
    for d, used in m.bytes_by_device:
        if d != DISK and budget.get(d) is not None:
            assert used <= budget[d]  # type: ignore[operator]
    # a layer is never split over devices
    assert all("." not in name.removeprefix("model.layers.") for name, _ in m.placed
               if name.startswith("model.layers."))


# --- the runtime: GPU / CPU / disk split ----------------------------------------------------------------
def _size(**options):
    model = open_source(LLAMA_8B)
    device, n = parse_gpu_spec(options.pop("gpu")) if "gpu" in options else (None, 1)
    return estimate(model, MemoryRequest(context=4096, runtime="transformers", device=device, n_devices=n,
                                         options=options))


def test_without_device_map_nothing_changes():
    one = _size()
    assert one.split == "even split" and one.host_bytes == one.disk_bytes == 0
    assert one.per_device[0].weights_bytes == one.weights_bytes


def test_split_over_two_gpus_cpu_and_disk():
    est = _size(device_map="auto", max_memory="0=6GiB,1=5GiB,cpu=3GiB")
    assert est.split == "device_map=auto" and len(est.per_device) == 2
    g0, g1 = est.per_device
    weights = g0.weights_bytes + g1.weights_bytes + est.host_bytes + est.disk_bytes
    assert weights == est.weights_bytes and est.disk_bytes > 0
    assert g0.weights_bytes <= 6 * GiB and g1.weights_bytes <= 5 * GiB and est.host_bytes <= 3 * GiB
    # the cache of every layer lives on a GPU: its own, or GPU 0 for the offloaded ones
    assert g0.kv_cache_bytes + g1.kv_cache_bytes == est.kv_cache_bytes
    # GPU 0 runs the offloaded modules: beside one layer's activations it holds the largest of them
    assert g0.compute_bytes > g1.compute_bytes > 0
    assert any(line.startswith("device_map=auto: GPU 0") for line in est.explain)


def test_device_map_with_gpu_and_no_max_memory():
    est = _size(device_map="sequential", gpu="rtx-4070")
    (g0,) = est.per_device
    assert g0.weights_bytes <= g0.device.usable_bytes and est.host_bytes > 0  # 16 GB of bf16 on 12 GiB
    assert est.disk_bytes == 0  # the CPU is not limited when max_memory is not given


def test_everything_offloaded_runs_on_the_cpu():
    est = _size(device_map="auto", max_memory="cpu=64GiB")
    assert est.per_device == () and est.host_bytes == est.weights_bytes + est.kv_cache_bytes


@pytest.mark.parametrize("options, says", [
    ({"device_map": "auto"}, "needs --max-memory"),
    ({"max_memory": "0=20GiB"}, "applies with --device-map"),
    ({"device_map": "auto", "max_memory": "0=20"}, "needs a unit"),
])
def test_one_line_errors(options, says):
    with pytest.raises(UsageError, match=says):
        _size(**options)


def test_cli_shows_the_split(capsys):
    from paramscope.cli.app import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            main(list(argv))
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        return code, *capsys.readouterr()

    code, out, _ = run("size", LLAMA_8B, "--runtime", "transformers", "--context", "4096", "--device-map",
                       "auto", "--max-memory", "0=8GiB,cpu=4GiB", "--json")
    data = json.loads(out)
    assert code == 0 and data["per_device_split"] == "device_map=auto"
    on_gpu = data["per_device"][0]["weights_bytes"]
    assert on_gpu + data["host_bytes"] + data["disk_bytes"] == data["weights_bytes"]
    code, out, _ = run("size", LLAMA_8B, "--runtime", "transformers", "--context", "4096", "--device-map",
                       "auto", "--max-memory", "0=8GiB,cpu=4GiB")
    assert code == 0 and "Per device (device_map=auto)" in out and "CPU RAM (offloaded)" in out
    assert "disk (offload_folder)" in out
    code, _, err = run("size", LLAMA_8B, "--runtime", "llama.cpp", "--device-map", "auto")
    assert code == 1 and "does not apply to runtime llama.cpp" in err


def test_python_api_takes_from_pretrained_s_dict():
    import paramscope

    est = paramscope.size("llama-3.1-8b", runtime="transformers", device_map="auto",
                          max_memory={0: "10GiB", "cpu": "4GiB"}).estimate
    # transformers 5.24's _get_device_map on the meta model: GPU 0 9,338,929,152 B, CPU 3,053,568,000 B
    # (docs/runtimes.md 2.4)
    assert [d.weights_bytes for d in est.per_device] == [9_338_929_152]
    assert est.host_bytes == 3_053_568_000
    assert est.disk_bytes == est.weights_bytes - 9_338_929_152 - 3_053_568_000


@pytest.mark.slow  # the web app's first import
def test_web_api_takes_the_same_options(tmp_path):
    pytest.importorskip("fastapi", reason="the web API needs the web extra")
    from fastapi.testclient import TestClient

    import paramscope
    from paramscope.web.app import create_app

    client = TestClient(create_app([tmp_path], defaults=False), base_url="http://127.0.0.1:8765")
    params = {"runtime": "transformers", "device_map": "sequential", "max_memory": "0=12GiB,1=4GiB,cpu=2GiB"}
    r = client.get("/api/size", params={"source": "llama-3.1-8b", **params})
    assert r.status_code == 200, r.text
    assert r.json() == paramscope.size("llama-3.1-8b", **params).to_json()
    assert r.json()["per_device_split"] == "device_map=sequential" and len(r.json()["per_device"]) == 2


def test_fit_shows_transformers_own_split_not_llamacpps(capsys):
    import paramscope
    from paramscope.cli.app import main

    r = paramscope.fit("llama-3.1-8b", gpu="rtx-4070", ram="32GiB", runtime="transformers", device_map="auto")
    one = r.report.one_device
    assert r.report.offload is None and one.split == "device_map=auto"  # not llama.cpp's -ngl split
    assert one.per_device[0].weights_bytes + one.host_bytes == one.weights_bytes
    with contextlib.suppress(SystemExit):
        main(["fit", "llama-3.1-8b", "--gpu", "rtx-4070", "--ram", "32GiB", "--runtime", "transformers",
              "--device-map", "auto"])
    out = capsys.readouterr().out
    assert "placed as asked" in out and "device_map=auto: weights on GPU 0" in out
