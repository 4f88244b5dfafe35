"""llama.cpp's own quantizer against paramscope's recipe, tensor by tensor.

tests/fixtures/llamacpp_quantize_types.json was recorded by bench/bench_llamacpp_quantize.py --record: the
C library's ``llama_model_quantize`` (llama-cpp-python, the version in the file) turned nine small random
F16 GGUFs of bench/llamacpp_ggufs.py (llama, qwen2, gemma3, qwen3, a Mixtral-style llama, qwen3moe, phi3
with its fused attn_qkv, gpt-oss, and a llama mixing attn_qkv, attn_v and attn_kv_b layers) into every
file type it makes without an importance matrix, and with one (ones for every weight but the token
embedding) into those that need one and those whose rules read it ("Q4_0_IMATRIX": the spelling
paramscope prices them by), and the type of each tensor it wrote is kept. Here each
file is rebuilt as its header alone (the data a sparse hole, which paramscope's reader never reads) and
re-priced at the same file type by the recipe the fixture says the library follows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.weights import gguf_type_counts, reprice

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import llamacpp_ggufs  # noqa: E402

DATA = json.loads((ROOT / "tests" / "fixtures" / "llamacpp_quantize_types.json").read_text())
SUFFIX = DATA["recipe_suffix"]  # "" (today's rules) or "_before_2026_03"
CASES = [(arch, ftype) for arch, entry in sorted(DATA["archs"].items()) for ftype in sorted(entry["types"])]


@pytest.fixture(scope="module")
def headers(tmp_path_factory) -> dict[str, paramscope.Model]:
    out = {}
    for arch, entry in DATA["archs"].items():
        path = tmp_path_factory.mktemp("gguf") / f"{arch}.gguf"
        llamacpp_ggufs.write_gguf_header(entry["recipe"], path)
        out[arch] = paramscope.open_model(str(path))
    return out


def test_the_fixture_covers_the_file_types_and_the_attn_v_like_tensors():
    assert len(DATA["archs"]) >= 9 and len(CASES) >= 280
    # phi3 holds attn_qkv, which the two recipes type differently; mixed-attn interleaves attn_qkv, attn_v
    # and attn_kv_b over 16 layers, on the one counter they share
    assert any(name.endswith("attn_qkv.weight") for name in DATA["archs"]["phi3"]["types"]["Q4_K_M"])
    mixed = DATA["archs"]["mixed-attn"]["types"]["Q4_K_M"]
    assert {n.split(".")[2] for n in mixed if n.startswith("blk.")} >= {
        "attn_qkv", "attn_v", "attn_kv_b", "attn_k_b", "attn_v_b"}
    assert {mixed[n] for n in mixed if "attn_qkv" in n} == {"Q4_K", "Q6_K"}
    # with an importance matrix Q4_0 keeps its first eighth of ffn_down in Q4_1 (two of 16 layers)
    with_im = DATA["archs"]["mixed-attn"]["types"]["Q4_0_IMATRIX"]
    assert [with_im[f"blk.{il}.ffn_down.weight"] for il in range(3)] == ["Q4_1", "Q4_1", "Q4_0"]
    assert "IQ1_S" in DATA["archs"]["mixed-attn"]["types"]  # the file types that need one


@pytest.mark.parametrize(("arch", "ftype"), CASES)
def test_every_tensor_takes_the_quantizers_type(arch, ftype, headers):
    model = headers[arch]
    want = DATA["archs"][arch]["types"][ftype]
    got = {row.name: row.type for row in reprice(model, ftype + SUFFIX).rows}
    assert got == want
    counts = gguf_type_counts(model, ftype + SUFFIX)
    assert sum(counts.values()) == len(want)


def test_the_other_recipe_differs_where_attn_qkv_is_typed(headers):
    # by the other recipe phi3's Q4_K_M does not match: the fixture tells the two apart
    other = "_before_2026_03" if SUFFIX == "" else ""
    want = DATA["archs"]["phi3"]["types"]["Q4_K_M"]
    got = {row.name: row.type for row in reprice(headers["phi3"], "Q4_K_M" + other).rows}
    assert got != want
    assert {n for n in want if got[n] != want[n]} <= {n for n in want if "attn_qkv" in n or "attn_v" in n}
