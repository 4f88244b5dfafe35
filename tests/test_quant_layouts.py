"""knowledge/quant_layouts.py: quantized checkpoints listed from config.json as they are stored.

Checked against (1) the index files of real public checkpoints (tests/fixtures/quantized/): byte total
equal to ``metadata.total_size`` and the same tensor names as ``weight_map``; (2) per-matrix byte counts
written out here from each quantizer's allocation, independently of the layout table, over many shapes
(hypothesis); (3) the plain schemes of knowledge/quant_schemes.py where they price the same layout; (4)
tiny safetensors checkpoints written from the listing and read back by the safetensors reader, whose own
packing table (knowledge/packing.py) must count the same parameters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from builders.safetensors_files import NUMPY, write_safetensors, writer_file_size, writer_header
from paramscope.knowledge import catalogue
from paramscope.knowledge import quant_schemes as qs
from paramscope.knowledge.config_tensors import CONFIG_ONLY_NOTE, config_tensors, stored_mtp
from paramscope.knowledge.families import expected_tensors
from paramscope.knowledge.quant_configs import from_config, from_hf_config
from paramscope.knowledge.quant_layouts import NESTED_OFFSET_CHARS, as_stored, excluded
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

FIXTURES = Path(__file__).parent / "fixtures" / "quantized"
REPOS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def load(repo: str) -> tuple[dict, dict]:
    return (json.loads((FIXTURES / repo / "config.json").read_text()),
            json.loads((FIXTURES / repo / "model.safetensors.index.json").read_text()))


def stored(cfg: dict) -> tuple[Tensor, ...]:
    return config_tensors(expected_tensors(cfg), from_config(cfg), cfg)[0]


# --- (1) real checkpoints ---------------------------------------------------------------------------------
def test_every_method_has_a_real_checkpoint():
    """Indexes kept whole, index totals of large checkpoints, single files known by their size."""
    configs = [load(r)[0] for r in REPOS] + [e["config"] for e in TOTALS["checkpoints"]]
    configs += [single_config(e) for e in SINGLE["checkpoints"]]
    methods = {q.method for q in map(from_config, configs) if q is not None}
    assert {"bitsandbytes_4bit", "bitsandbytes_8bit", "mxfp4", "mlx", "awq", "gptq",
            "compressed-tensors"} <= methods


@pytest.mark.parametrize("repo", REPOS)
def test_names_are_the_index_names(repo):
    cfg, index = load(repo)
    ours = [t.name for t in stored(cfg)]
    assert len(ours) == len(set(ours))
    assert set(ours) == set(index["weight_map"])


@pytest.mark.parametrize("repo", REPOS)
def test_bytes_are_the_index_total_size(repo):
    cfg, index = load(repo)
    q = from_config(cfg)
    ours = sum(t.nbytes for t in stored(cfg))
    total = index["metadata"]["total_size"]
    if q.method == "bitsandbytes_4bit" and q.double_quant:
        # every quantized matrix stores its nested_offset (a float) as JSON text: 16–21 characters,
        # data-dependent; we assume NESTED_OFFSET_CHARS. Everything else is exact, so the difference is
        # the sum of (assumed − real) lengths: at most a few bytes per matrix.
        states = sum(1 for t in stored(cfg) if ".quant_state." in t.name)
        assert states == 280
        assert abs(ours - total) <= 2 * states, (ours, total)
        assert ours - total == -43  # 7,201,770,880 vs 7,201,770,923: the real offsets average 19.15
    else:
        assert ours == total


@pytest.mark.parametrize("repo", REPOS)
def test_parameters_are_the_logical_ones(repo):
    cfg, index = load(repo)
    logical = sum(t.params for t in expected_tensors(cfg))
    assert sum(t.params for t in stored(cfg)) == logical
    if "total_parameters" in index["metadata"]:  # transformers ≥ 4.56 writes the model's own count
        assert logical == index["metadata"]["total_parameters"]


def test_published_sizes_quoted_in_the_docs():
    """The figures docs/quantization.md quotes, through the public API."""
    size = {r: sum(t.nbytes for t in stored(load(r)[0])) for r in REPOS}
    assert size == {"IrfanUruchi__Llama-2-13B-Computer-Engineering-": 7_201_770_880,
                    "jeevanchaps__Meta-Llama3.1-8B-Instruct-assessment": 9_086_705_888,
                    "openai__gpt-oss-20b": 13_761_264_768,
                    "root-hypercube__Qwen3-14B-MLX-4bit": 8_307_783_680}
    assert paramscope.open_model("gpt-oss-20b").tensor_bytes == 13_761_264_768
    assert paramscope.open_model("gpt-oss-120b").tensor_bytes == 65_248_815_744


def test_config_folder_reads_as_stored(tmp_path):
    """A folder with only config.json (hf_dir's config-only path) lists the same tensors."""
    cfg, _ = load("root-hypercube__Qwen3-14B-MLX-4bit")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    model = paramscope.open_model(str(tmp_path))
    assert model.tensor_bytes == 8_307_783_680 and not model.has_weights
    assert CONFIG_ONLY_NOTE in model.metadata["warnings"]


@pytest.mark.xdist_group("catalogue")  # beside test_catalogue.py, which has built its Model
def test_deepseek_v3_fp8_blocks():
    """DeepSeek-V3's FP8 linears with 128 × 128 float32 scale_inv; router (MoEGate, a bare parameter),
    embeddings, output head and norms in BF16; the MTP layer is not listed (families)."""
    m = paramscope.open_model("deepseek-v3")
    by = {t.name: t for t in m.tensors}
    w = by["model.layers.3.mlp.experts.0.gate_proj.weight"]
    assert (w.dtype, w.shape) == (DType.F8_E4M3, (2048, 7168))
    s = by["model.layers.3.mlp.experts.0.gate_proj.weight_scale_inv"]
    assert (s.dtype, s.shape, s.is_parameter) == (DType.F32, (16, 56), False)
    assert by["model.layers.3.mlp.gate.weight"].dtype == DType.BF16
    assert by["lm_head.weight"].dtype == DType.BF16
    assert m.params == 671_026_419_200
    assert 1.0 < m.tensor_bytes / m.params < 1.01  # one byte per parameter (+ bf16 embeddings), not two


# --- (2) per-matrix bytes, written out independently --------------------------------------------------------
def one_linear(out: int, inn: int, dtype: DType = DType.BF16, bias: bool = False) -> list[Tensor]:
    ts = [Tensor("model.layers.0.mlp.down_proj.weight", (out, inn), dtype, dtype.nbytes(out * inn))]
    if bias:
        ts.append(Tensor("model.layers.0.mlp.down_proj.bias", (out,), dtype, dtype.nbytes(out)))
    return ts


def stored_bytes(qc: dict, out: int, inn: int, **kw) -> int:
    return sum(t.nbytes for t in as_stored(one_linear(out, inn, **kw), from_hf_config(qc)).tensors)


dims = st.integers(1, 64).map(lambda k: 32 * k)  # multiples of 32, as packers require
groups = st.sampled_from([32, 64, 128])


@settings(max_examples=60, deadline=None)
@given(out=dims, inn=dims, group=groups, bits=st.sampled_from([2, 4, 8]), bias=st.booleans())
def test_gptq_bytes(out, inn, group, bits, bias):
    # AutoGPTQ QuantLinear: qweight int32 in·bits/32 × out; qzeros int32 ⌈in/g⌉ × out·bits/32;
    # scales fp16 ⌈in/g⌉ × out; g_idx int32 × in; bias fp16 × out
    g = math.ceil(inn / group)
    expect = (4 * inn * bits // 32 * out + 4 * g * out * bits // 32 + 2 * g * out + 4 * inn
              + (2 * out if bias else 0))
    qc = {"quant_method": "gptq", "bits": bits, "group_size": group}
    assert stored_bytes(qc, out, inn, bias=bias, dtype=DType.BF16) == expect


@settings(max_examples=60, deadline=None)
@given(out=dims, k=st.integers(1, 16), group=groups)
def test_awq_bytes_and_the_int4_plain_scheme(out, k, group):
    # AutoAWQ WQLinear_GEMM (in_features % group_size == 0 asserted): qweight int32 in × out/8;
    # qzeros int32 in/g × out/8; scales fp16 in/g × out
    inn = group * k
    expect = 4 * inn * out // 8 + 4 * (inn // group) * out // 8 + 2 * (inn // group) * out
    assert stored_bytes({"quant_method": "awq", "bits": 4, "group_size": group}, out, inn) == expect
    assert expect == qs.int4_scheme(group, symmetric=False).matrix_bytes(1, out, inn)
    if group == qs.INT4_GROUP:
        assert expect == qs.PLAIN_SCHEMES["int4"].matrix_bytes(1, out, inn)


@settings(max_examples=60, deadline=None)
@given(out=dims, inn=dims, group=st.sampled_from(qs.INT4_GROUPS),
       dtype=st.sampled_from([DType.F16, DType.BF16]))
def test_compressed_tensors_symmetric_int4_and_the_int4_sym_plain_scheme(out, inn, group, dtype):
    """``int4_g<N>_sym`` prices what llm-compressor's symmetric W4A16 stores for one Linear: weight_packed,
    a 16-bit weight_scale per group, weight_shape, no zero points."""
    qc = {"quant_method": "compressed-tensors", "format": "pack-quantized",
          "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
              "num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": group}}}}
    plain = qs.int4_scheme(group, symmetric=True).matrix_bytes(1, out, inn)
    assert stored_bytes(qc, out, inn, dtype=dtype) == plain


@settings(max_examples=60, deadline=None)
@given(out=st.integers(1, 1000), inn=st.integers(1, 1000))
def test_fp8_block_bytes_and_the_fp8_plain_scheme(out, inn):
    qc = {"quant_method": "fp8", "weight_block_size": [128, 128]}
    expect = out * inn + 4 * math.ceil(out / 128) * math.ceil(inn / 128)
    assert stored_bytes(qc, out, inn) == expect == qs.PLAIN_SCHEMES["fp8"].matrix_bytes(1, out, inn)


@settings(max_examples=60, deadline=None)
@given(out=st.integers(1, 512), inn=st.integers(1, 512))
def test_bnb8_bytes_and_the_int8_plain_scheme(out, inn):
    qc = {"quant_method": "bitsandbytes", "load_in_8bit": True}
    # int8 weight + float32 SCB per row + one uint8 weight_format (the plain scheme prices memory: no tag)
    plain = qs.PLAIN_SCHEMES["int8"].matrix_bytes(1, out, inn)
    assert stored_bytes(qc, out, inn) == out * inn + 4 * out + 1 == plain + 1


@settings(max_examples=60, deadline=None)
@given(out=dims, inn=dims, double=st.booleans(), kind=st.sampled_from(["nf4", "fp4"]),
       dtype=st.sampled_from([DType.F16, DType.BF16, DType.F32]))
def test_bnb4_bytes(out, inn, double, kind, dtype):
    n = out * inn
    blocks = math.ceil(n / 64)
    state = {"quant_type": kind, "blocksize": 64,
             "dtype": {DType.F16: "float16", DType.BF16: "bfloat16", DType.F32: "float32"}[dtype],
             "shape": [out, inn]}
    if double:  # 8-bit absmax, float32 absmax of those per 256, the 256-entry nested code, the offset
        state |= {"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5}
        side = blocks + 4 * math.ceil(blocks / 256) + 4 * 256
        text = len(json.dumps(state)) - len("0.5") + NESTED_OFFSET_CHARS
    else:
        side = 4 * blocks
        text = len(json.dumps(state))
    expect = n // 2 + side + 4 * 16 + text
    qc = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": kind,
          "bnb_4bit_use_double_quant": double}
    assert stored_bytes(qc, out, inn, dtype=dtype) == expect


@settings(max_examples=60, deadline=None)
@given(out=st.integers(1, 256), k=st.integers(1, 16), group=st.sampled_from([32, 64, 128]),
       bits=st.sampled_from([2, 3, 4, 5, 6, 8]), dtype=st.sampled_from([DType.F16, DType.BF16]))
def test_mlx_bytes(out, k, group, bits, dtype):
    inn = group * k
    # uint32 words of 32/bits weights, then a scale and a bias per group in the model dtype
    expect = out * inn * bits // 8 + 2 * dtype.type_size * out * (inn // group)
    assert stored_bytes({"group_size": group, "bits": bits}, out, inn, dtype=dtype) == expect


@settings(max_examples=60, deadline=None)
@given(out=dims, inn=dims, group=groups, symmetric=st.booleans())
def test_compressed_tensors_w4a16_bytes(out, inn, group, symmetric):
    qc = {"quant_method": "compressed-tensors", "format": "pack-quantized", "ignore": ["lm_head"],
          "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
              "num_bits": 4, "type": "int", "strategy": "group", "group_size": group,
              "symmetric": symmetric}}}}
    g = math.ceil(inn / group)
    # weight_packed int32 out × in/8; weight_scale bf16 out × groups; weight_shape int64 × 2;
    # asymmetric: weight_zero_point packed along the outputs, int32 out/8 × groups
    expect = 4 * out * inn // 8 + 2 * out * g + 16 + (0 if symmetric else 4 * math.ceil(out / 8) * g)
    assert stored_bytes(qc, out, inn) == expect


def test_mxfp4_expert_bytes():
    e, h, f = 4, 64, 96  # GptOssExperts.gate_up_proj (E, hidden, 2·ffn)
    ts = [Tensor("model.layers.0.mlp.experts.gate_up_proj", (e, h, 2 * f), DType.BF16, 2 * e * h * 2 * f)]
    out = as_stored(ts, from_hf_config({"quant_method": "mxfp4"}), "gpt_oss").tensors
    assert [(t.name.rsplit(".", 1)[1], t.shape, t.params) for t in out] == [
        ("gate_up_proj_blocks", (e, 2 * f, h // 32, 16), e * h * 2 * f),
        ("gate_up_proj_scales", (e, 2 * f, h // 32), 0)]


# --- which modules each method quantizes -------------------------------------------------------------
def small_llama(**extra) -> dict:
    return {"model_type": "llama", "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "torch_dtype": "float16",
            **extra}


def dtypes(cfg: dict) -> dict[str, str]:
    return {t.name: t.dtype.value for t in stored(cfg)}


def test_bnb_skips_the_head_and_the_skip_list():
    d = dtypes(small_llama(quantization_config={
        "quant_method": "bitsandbytes", "load_in_8bit": True, "llm_int8_skip_modules": ["mlp.down_proj"]}))
    assert d["lm_head.weight"] == "F16" and d["model.embed_tokens.weight"] == "F16"
    assert d["model.layers.0.self_attn.q_proj.weight"] == "I8"
    assert d["model.layers.1.mlp.down_proj.weight"] == "F16"
    assert "model.layers.1.mlp.down_proj.SCB" not in d


def test_mlx_quantizes_embeddings_and_head_and_honours_overrides():
    d = dtypes(small_llama(quantization={"group_size": 64, "bits": 4, "model.layers.0.mlp.up_proj": False,
                                         "lm_head": {"group_size": 64, "bits": 8}}))
    assert d["model.embed_tokens.weight"] == "U32" and d["lm_head.weight"] == "U32"
    assert d["model.layers.0.mlp.up_proj.weight"] == "F16"
    cfg = small_llama(quantization={"group_size": 64, "bits": 4, "lm_head": {"group_size": 64, "bits": 8}})
    head = next(t for t in stored(cfg) if t.name == "lm_head.weight")
    assert head.shape == (512, 128 * 8 // 32)


def test_gptq_dynamic_rules_and_block_list():
    d = dtypes(small_llama(quantization_config={
        "quant_method": "gptq", "bits": 4, "group_size": 128,
        "dynamic": {r"-:model\.layers\.1\..*": {}, r"+:.*down_proj": {"bits": 8, "group_size": 64}}}))
    assert "model.layers.1.self_attn.q_proj.qweight" not in d
    assert d["model.layers.1.self_attn.q_proj.weight"] == "F16"
    cfg = small_llama(quantization_config={"quant_method": "gptq", "bits": 4, "group_size": 128,
                                           "dynamic": {r"+:.*down_proj": {"bits": 8, "group_size": 64}}})
    down = next(t for t in stored(cfg) if t.name.endswith("0.mlp.down_proj.qweight"))
    assert down.shape == (256 * 8 // 32, 128)
    d = dtypes(small_llama(quantization_config={"quant_method": "gptq", "bits": 4, "group_size": 128,
                                                "modules_in_block_to_quantize": [["self_attn.q_proj"]]}))
    assert "model.layers.0.self_attn.q_proj.qweight" in d and d["model.layers.0.mlp.up_proj.weight"] == "F16"


def test_compressed_tensors_ignore_and_targets():
    group = {"weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True},
             "input_activations": {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False}}
    d = dtypes(small_llama(quantization_config={
        "quant_method": "compressed-tensors", "format": "float-quantized",
        "ignore": ["lm_head", "re:.*\\.o_proj$"],
        "config_groups": {"g": {**group, "targets": ["re:.*mlp.*", "re:.*q_proj$"]}}}))
    layer = "model.layers.0."
    assert d[layer + "mlp.gate_proj.weight"] == d[layer + "self_attn.q_proj.weight"] == "F8_E4M3"
    assert d["model.layers.0.self_attn.k_proj.weight"] == "F16"  # not targeted
    assert d["model.layers.0.self_attn.o_proj.weight"] == "F16" and d["lm_head.weight"] == "F16"  # ignored
    assert d["model.layers.0.mlp.gate_proj.input_scale"] == "F16"  # static activations


def test_routers_that_are_parameters_are_never_quantized():
    m = paramscope.open_model("gpt-oss-20b")
    assert {t.dtype for t in m.tensors if ".router." in t.name} == {DType.BF16}


@pytest.mark.parametrize(("module", "patterns", "expected"), [
    ("model.layers.3.self_attn.q_proj", ["model.layers.*.self_attn"], True),
    ("model.layers.3.mlp.router", ["model.layers.*.self_attn"], False),
    ("model.layers.0.block_sparse_moe.gate", ["gate"], True),
    ("model.layers.0.mlp.gate_proj", ["gate"], False),
    ("lm_head", ["lm_head"], True),
    ("model.layers.0.mlp.down_proj", ["model.layers.0.mlp"], True),
    ("model.layers.10.mlp.down_proj", ["model.layers.1.mlp"], False),
    ("model.layers.0.self_attn.o_proj", [r"re:.*\.o_proj$"], True),
])
def test_excluded(module, patterns, expected):
    assert excluded(module, patterns) is expected


def test_unknown_method_keeps_the_logical_list_and_says_so():
    ts = one_linear(64, 64)
    s = as_stored(ts, from_hf_config({"quant_method": "hqq", "nbits": 4}))
    assert s.tensors == tuple(ts) and "no stored layout" in s.notes[0]


# --- (4) files written from the listing, read back --------------------------------------------------------
# Every method's config (a small Llama's), for the tests below: the stored listing written and read back,
# and each stored piece's place.
QUANT_CONFIGS = [
    {"quant_method": "gptq", "bits": 4, "group_size": 64},
    {"quant_method": "awq", "bits": 4, "group_size": 64, "version": "gemm"},
    {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
     "bnb_4bit_use_double_quant": True},
    {"quant_method": "bitsandbytes", "load_in_8bit": True},
    {"quant_method": "fp8", "weight_block_size": [128, 128]},
    {"quant_method": "fp8", "activation_scheme": "static"},
    {"quant_method": "compressed-tensors", "format": "pack-quantized", "ignore": ["lm_head"],
     "config_groups": {"g": {"targets": ["Linear"], "input_activations": {"dynamic": False}, "weights": {
         "num_bits": 4, "type": "int", "strategy": "group", "group_size": 64, "symmetric": False,
         "actorder": "group"}}}},
    {"group_size": 64, "bits": 4},
]


@pytest.mark.parametrize("qc", QUANT_CONFIGS, ids=lambda qc: str(qc.get("quant_method", "mlx")))
def test_written_checkpoint_reads_back_the_same(tmp_path, qc):
    cfg = small_llama(quantization_config=qc)
    listing = stored(cfg)
    write_safetensors(tmp_path / "model.safetensors", {t.name: (t.dtype.value, t.shape) for t in listing})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    model = paramscope.open_model(str(tmp_path))
    assert model.has_weights
    assert model.tensor_bytes == sum(t.nbytes for t in listing)
    assert model.params == sum(t.params for t in expected_tensors(cfg))
    side = {t.name for t in listing if not t.is_parameter}
    assert {t.name for t in model.tensors if not t.is_parameter} == side


# --- (1b) real checkpoints whose index is too large to keep whole: the byte total and the first names -----
TOTALS = json.loads((Path(__file__).parent / "fixtures" / "quantized_totals" / "index_totals.json")
                    .read_text())


@pytest.mark.parametrize("entry", TOTALS["checkpoints"], ids=lambda e: e["name"])
def test_large_checkpoints_total_size(entry):
    cfg = {**(catalogue.load_config(entry["base"]) if entry["base"] else {}), **entry["config"]}
    ours = stored(cfg)
    assert sum(t.nbytes for t in ours) == entry["total_size"]
    assert len(ours) == entry.get("tensors", len(ours))
    assert set(entry["names"]) <= {t.name for t in ours}


HUB_COUNTS = json.loads((FIXTURES.parent / "quantized_totals" / "hub_dtype_counts.json").read_text())


@pytest.mark.parametrize("entry", HUB_COUNTS["checkpoints"], ids=lambda e: e["name"].split(" (")[0])
def test_hub_dtype_counts(entry):
    """DeepSeek-V3's FP8 files hold, per dtype, exactly our listing as stored (e4m3 matrices, float32
    128×128 weight_scale_inv, float32 router score biases, the rest bf16) plus the multi-token-prediction
    layer the listing's note announces (a copy of the last decoder layer's kind, bf16 eh_proj, norms,
    embedding and head) — and without that layer, or with the score biases in bf16, they do not.
    GLM-4.5-Air's element total is its listing plus its MTP layer too."""
    if "catalogue" in entry:
        cfg = catalogue.load_config(entry["catalogue"])
    else:
        cfg = json.loads((Path(__file__).parents[1] / entry["config_file"]).read_text())
    if "parameters" not in entry:
        logical = expected_tensors(cfg)
        mtp = stored_mtp(logical, from_config(cfg), cfg)
        assert mtp and sum(t.n_elements for t in logical) != entry["total"]
        assert sum(t.n_elements for t in (*logical, *mtp)) == entry["total"]
        return
    q = from_config(cfg)
    logical = expected_tensors(cfg)
    ts, notes = config_tensors(logical, q, cfg)
    mtp = stored_mtp(logical, q, cfg)
    mtp_bytes = sum(t.nbytes for t in mtp)
    assert any(f"{mtp_bytes:,} bytes as stored" in n for n in notes)

    def by_dtype(tensors):
        counts: dict[str, int] = {}
        for t in tensors:
            counts[t.dtype.value] = counts.get(t.dtype.value, 0) + t.n_elements
        return counts

    assert by_dtype((*ts, *mtp)) == entry["parameters"]
    assert sum(entry["parameters"].values()) == entry["total"]
    assert by_dtype(ts) != entry["parameters"]
    biases = [t for t in ts if t.name.endswith("e_score_correction_bias")]
    assert biases and {t.dtype for t in biases} == {DType.F32}


FIRST_NAMES = json.loads((FIXTURES.parent / "quantized_totals" / "first_names.json").read_text())


@pytest.mark.parametrize("entry", FIRST_NAMES["checkpoints"], ids=lambda e: e["name"].split(" (")[0])
def test_first_names_of_real_indexes(entry):
    """GLM-5 W4A16 (compressed-tensors pack-quantized, symmetric): the real index's first keys are our sorted
    listing's first names, no more, no fewer — weight_packed / weight_scale / weight_shape for every Linear
    (the sparse-attention indexer's too), no zero points, the head and the norms unquantized."""
    ours = sorted(t.name for t in stored(entry["config"]))
    assert ours[:len(entry["names"])] == entry["names"]


# --- (1c) real single-file checkpoints known by their size: config → listing → the file's exact size -----
SINGLE = json.loads((FIXTURES.parent / "quantized_totals" / "single_files.json").read_text())


def single_config(entry: dict) -> dict:
    """The repository's config.json, with the branch's quantization_config where the entry gives one."""
    cfg = dict(SINGLE["configs"][entry["config"]])
    if "quantization_config" in entry:
        cfg["quantization_config"] = entry["quantization_config"]
    return cfg


@pytest.mark.parametrize("entry", SINGLE["checkpoints"], ids=lambda e: e["name"].split(",")[0])
def test_single_file_checkpoints_file_size(entry):
    """Each file's size is 8 + the writer's header for our listing + its data: five AutoGPTQ 0.4.x files of
    TheBloke/MythoMax-L2-13B-GPTQ (4- and 8-bit, groups 32/64/128/none, with and without act order) and three
    older ones of TheBloke/Wizard-Vicuna-30B-Uncensored-GPTQ, once the float16 zero bias the listing's note
    announces is added for each quantized linear (and, in the older files, the rotary inv_freq buffers); a
    Llama 3.2 1B LLM.int8 file with its tied head stored once; two double-quantized nf4 files up to their
    nested_offset texts; an EXAONE 4.0 1.2B compressed-tensors W4A16 file (weight_packed int32, weight_scale,
    weight_shape; lm_head ignored) that also stores its tied head."""
    cfg = single_config(entry)
    q = from_config(cfg)
    ts, notes = config_tensors(expected_tensors(cfg), q, cfg)
    tensors = {t.name: (t.dtype.value, t.shape) for t in ts}
    if entry.get("gptq_zero_biases"):
        biases = {t.name.removesuffix(".qweight") + ".bias": ("F16", (t.shape[1],))
                  for t in ts if t.name.endswith(".qweight")}
        assert biases and not set(biases) & set(tensors)
        extra = sum(2 * shape[0] for _, shape in biases.values())
        assert f"{len(biases)} more tensors, {extra:,} bytes" in " ".join(notes)
        assert writer_file_size(tensors, entry["safetensors_metadata"]) != entry["file_size"]
        tensors |= biases
    if entry.get("rotary_inv_freq_buffers"):  # persistent in transformers < 4.31
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        tensors |= {f"model.layers.{i}.self_attn.rotary_emb.inv_freq": ("F32", (head_dim // 2,))
                    for i in range(cfg["num_hidden_layers"])}
    if entry.get("tied_head_copy"):  # what the config-only note says a file of a tied model may also hold
        assert cfg.get("tie_word_embeddings") and "second copy of the output head" in " ".join(notes)
        embed = next(t for t in ts if t.name.endswith("embed_tokens.weight"))
        assert writer_file_size(tensors, entry["safetensors_metadata"]) != entry["file_size"]
        tensors["lm_head.weight"] = (embed.dtype.value, embed.shape)
    size = writer_file_size(tensors, entry["safetensors_metadata"])
    if q.method == "bitsandbytes_4bit" and q.double_quant:
        # nested_offset (JSON text in each matrix's quant_state) is data: the file's texts are this many
        # characters longer in all; the header's padding blurs that by up to 7 either way
        states = sum(1 for name in tensors if ".quant_state." in name)
        excess = entry["nested_offset_chars_over_assumed"]
        assert abs(entry["file_size"] - size - excess) <= 7 and abs(excess) <= 2 * states
    else:
        assert size == entry["file_size"]


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
specs = st.tuples(st.sampled_from(sorted(NUMPY)), st.lists(st.integers(0, 4), max_size=3))


@settings(max_examples=60, deadline=None)
@given(tensors=st.dictionaries(names, specs, min_size=1, max_size=10),
       metadata=st.none() | st.dictionaries(names, names, max_size=1))
def test_writer_header_is_the_librarys(tensors, metadata):
    """The header writer_header predicts (layout order, compact JSON, padding) is the one the safetensors
    library writes, byte for byte."""
    import numpy as np
    from safetensors.numpy import save

    raw = save({n: np.zeros(s, dtype=NUMPY[d]) for n, (d, s) in tensors.items()}, metadata=metadata)
    length = int.from_bytes(raw[:8], "little")
    assert raw[8:8 + length] == writer_header(tensors, metadata)
    assert len(raw) == writer_file_size(tensors, metadata)


# --- what the packers' own code stores beyond the common case -------------------------------------------
def listed(qc: dict, **extra) -> tuple[tuple[Tensor, ...], tuple[str, ...]]:
    cfg = small_llama(quantization_config=qc, **extra)
    return config_tensors(expected_tensors(cfg), from_config(cfg), cfg)


@settings(max_examples=40, deadline=None)
@given(out=st.integers(1, 32).map(lambda k: 64 * k), inn=st.integers(1, 32).map(lambda k: 64 * k),
       group=groups, bits=st.sampled_from([2, 4, 8]),
       pack=st.sampled_from([("int8", 1), ("int16", 2), ("int32", 4), ("int64", 8)]))
def test_gptqmodel_pack_dtype_bytes(out, inn, group, bits, pack):
    # GPTQModel BaseQuantLinear: qweight (in // pack_bits · bits, out) and qzeros (⌈in/g⌉, out // pack_bits ·
    # bits) in pack_dtype; scales float16 (⌈in/g⌉, out); g_idx int32 (in,)
    name, size = pack
    if 8 * size % bits:
        return
    g = math.ceil(inn / group)
    expect = (size * (inn // (8 * size) * bits) * out + size * g * (out // (8 * size) * bits) + 2 * g * out
              + 4 * inn)
    qc = {"quant_method": "gptq", "bits": bits, "group_size": group, "pack_dtype": name}
    assert stored_bytes(qc, out, inn) == expect


@pytest.mark.parametrize(("key", "qc"), [
    ("quantization_config", {"quant_method": "gptq", "bits": 3, "group_size": 64}),
    *(("quantization", {"group_size": 64, "bits": b}) for b in (3, 5, 6)),
], ids=["gptq-3", "mlx-3", "mlx-5", "mlx-6"])
def test_words_straddled_by_3_5_6_bit_weights_count_every_parameter(key, qc):
    """AutoGPTQ packs 3-bit weights 32 to every 3 int32 words (qweight (in / 32 × 3, out), qzeros (groups,
    out / 32 × 3)); MLX packs any width so (w_q (out, in × bits / 32) uint32). The listing holds them as
    stored, each container counting elements × 32 / bits weights: the unquantized model's parameters."""
    cfg = small_llama(**{key: qc})
    ts = stored(cfg)
    packed = [t for t in ts if t.weight_bits]
    assert packed and {t.weight_bits for t in packed} == {qc["bits"]}
    assert sum(t.params for t in ts) == sum(t.params for t in expected_tensors(small_llama()))
    if key == "quantization_config":
        q = {t.name: t for t in ts}["model.layers.0.mlp.down_proj.qweight"]
        assert q.shape == (256 // 32 * 3, 128)  # (in / 32 × 3, out)


def test_gptqmodel_quantizes_the_head_when_lm_head_is_set():
    signed = {"meta": {"quantizer": ["gptqmodel:2.2.0"]}}
    ts, _ = listed({"quant_method": "gptq", "bits": 4, "group_size": 64, "lm_head": True, **signed})
    head = {t.name: t for t in ts if t.name.startswith("lm_head.")}
    assert set(head) == {"lm_head.qweight", "lm_head.qzeros", "lm_head.scales", "lm_head.g_idx"}
    assert head["lm_head.qweight"].shape == (128 * 4 // 32, 512)
    ts, _ = listed({"quant_method": "gptq", "bits": 4, "group_size": 64, **signed})
    assert "lm_head.weight" in {t.name for t in ts}


def test_gptq_files_of_unsigned_configs_may_hold_zero_biases():
    """Older AutoGPTQ / optimum built every QuantLinear with bias=True: the real Qwen/Qwen-VL-Chat-Int4 index
    (github.com/x1ngzai/Qwen-VL-Chat-Int4 model.safetensors.index.json @ 1cd721a2) lists
    transformer.h.0.mlp.w1.bias though Qwen's config says no_bias. The config cannot say which release wrote
    the file, so the listing stays as the model is and a warning gives the difference."""
    qc = {"quant_method": "gptq", "bits": 4, "group_size": 64}
    ts, notes = listed(qc)
    quantized = [t for t in ts if t.name.endswith(".qweight")]
    assert len(quantized) == 14 and not any(t.name.endswith(".bias") for t in ts)
    extra = sum(2 * t.shape[1] for t in quantized)  # one float16 per output of each quantized linear
    assert any(f"{len(quantized)} more tensors, {extra:,} bytes" in n for n in notes)
    _, notes = listed({**qc, "meta": {"quantizer": ["optimum:1.24.0", "gptqmodel:2.2.0"]}})
    assert notes == (CONFIG_ONLY_NOTE,)


@pytest.mark.parametrize(("extra", "says"), [
    ({"checkpoint_format": "marlin"}, "checkpoint_format 'marlin'"),
    ({"pack_dtype": "uint4"}, "pack_dtype 'uint4'"),
])
def test_gptq_layouts_not_known_are_said_not_guessed(extra, says):
    ts, notes = listed({"quant_method": "gptq", "bits": 4, "group_size": 64, **extra})
    assert all(t.dtype == DType.F16 for t in ts)
    assert says in notes[0]


def test_autofp8_per_tensor_scales():
    """AutoFP8 (quant_method fp8, no weight_block_size): float32 scalar weight_scale, input_scale when
    activation_scheme is static, output_scale on k_proj / v_proj with kv_cache_scheme static;
    ignored_layers stay unquantized."""
    ts, _ = listed({"quant_method": "fp8", "activation_scheme": "static", "kv_cache_scheme": "static",
                    "ignored_layers": ["model.layers.1.mlp.down_proj"]})
    by = {t.name: t for t in ts}
    attn = "model.layers.0.self_attn."
    assert (by[attn + "q_proj.weight_scale"].shape, by[attn + "q_proj.input_scale"].dtype) == ((), DType.F32)
    assert attn + "k_proj.output_scale" in by and attn + "q_proj.output_scale" not in by
    assert by["model.layers.1.mlp.down_proj.weight"].dtype == DType.F16
    ts, _ = listed({"quant_method": "fp8", "activation_scheme": "dynamic"})
    assert not any(t.name.endswith(("input_scale", "output_scale")) for t in ts)


def test_fp8_block_scale_dtype_is_said_not_guessed():
    """weight_scale_inv is float32 in DeepSeek-V3/R1's files, bfloat16 or float16 in Qwen's FP8 releases,
    and the config is the same for both: the listing keeps float32, the note gives what the others hold
    less."""
    ts, notes = listed({"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                        "weight_block_size": [128, 128]})
    scales = [t for t in ts if t.name.endswith(".weight_scale_inv")]
    assert len(scales) == 14 and {t.dtype for t in scales} == {DType.F32}
    half = sum(2 * math.prod(t.shape) for t in scales)  # the same scales, two bytes each
    assert any(f"hold {half:,} bytes less ({len(scales):,} scale tensors)" in n for n in notes)
    _, notes = listed({"quant_method": "fp8", "activation_scheme": "dynamic"})  # per-tensor: no such tensors
    assert not any("weight_scale_inv" in n for n in notes)


def test_compressed_tensors_kv_cache_scales_and_input_zero_points():
    group = {"targets": ["Linear"],
             "weights": {"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": True},
             "input_activations": {"num_bits": 8, "type": "int", "strategy": "tensor", "dynamic": False,
                                   "symmetric": False}}
    kv = {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False, "symmetric": True}
    ts, _ = listed({"quant_method": "compressed-tensors", "format": "int-quantized", "ignore": ["lm_head"],
                    "config_groups": {"group_0": group}, "kv_cache_scheme": kv})
    names = [t.name for t in ts]
    by = {t.name: t for t in ts}
    for layer in (0, 1):
        attn = f"model.layers.{layer}.self_attn."
        for kind in ("k_scale", "v_scale"):
            scale = by[attn + kind]
            assert (scale.shape, scale.dtype, scale.params) == ((1,), DType.F16, 0)
        assert names.index(attn + "k_scale") > names.index(attn + "o_proj.weight")
    assert by["model.layers.0.mlp.up_proj.input_zero_point"].dtype == DType.I8
    assert sum(t.params for t in ts) == sum(t.params for t in expected_tensors(small_llama()))
    _, notes = listed({"quant_method": "compressed-tensors", "format": "int-quantized",
                       "config_groups": {"group_0": group}, "kv_cache_scheme": kv})
    assert "k_proj.output_scale" in notes[0]  # an unversioned config: older names, same bytes
    _, notes = listed({"quant_method": "compressed-tensors", "format": "int-quantized", "version": "0.10.2",
                       "config_groups": {"group_0": group}, "kv_cache_scheme": kv})
    assert notes == (CONFIG_ONLY_NOTE,)



@pytest.mark.parametrize("qc", QUANT_CONFIGS, ids=lambda qc: str(qc.get("quant_method", "mlx")))
def test_stored_pieces_sit_in_their_weights_component(qc):
    """roles.place puts each stored piece (qweight, weight.absmax, weight_packed, scales …) in the component
    of the weight it stores, so component tables of quantized files are not all "other"."""
    from paramscope.knowledge.roles import place

    cfg = small_llama(quantization_config=qc)
    logical = {t.name.removesuffix(".weight"): place(t.name).component
               for t in expected_tensors(cfg) if t.name.endswith(".weight")}
    pieces = [t for t in stored(cfg) if t.name not in {x.name for x in expected_tensors(cfg)}]
    assert pieces
    for t in pieces:
        module = max((m for m in logical if t.name.startswith((m + ".", m + "_"))), key=len)
        assert place(t.name).component == logical[module], t.name


@settings(max_examples=60, deadline=None)
@given(out=st.integers(1, 64).map(lambda k: 8 * k), k=st.integers(1, 40),
       group=st.sampled_from([32, 64, 128]))
def test_awq_gemv_bytes(out, k, group):
    # AutoAWQ WQLinear_GEMV: qweight int32 (out, in/8); qzeros int32 (out, w); scales fp16 (out, 8·w) where
    # w = calculate_zeros_width: ⌈(in/g)/8⌉ words rounded up to a multiple of 1, 2, 4 for g ≥ 128, 64, 32
    inn = group * k
    mult = {32: 4, 64: 2, 128: 1}[group]
    w = math.ceil(math.ceil(inn // group / 8) / mult) * mult
    expect = 4 * out * inn // 8 + 4 * out * w + 2 * out * 8 * w
    assert stored_bytes({"quant_method": "awq", "bits": 4, "group_size": group, "version": "gemv"},
                        out, inn) == expect


@pytest.mark.parametrize(("qc", "says"), [
    ({"version": "marlin"}, "AWQ version 'marlin'"),
    ({"version": "gemv", "group_size": 48}, "GEMV packs only 4-bit"),
])
def test_awq_layouts_not_known_are_said_not_guessed(qc, says):
    ts, notes = listed({"quant_method": "awq", "bits": 4, "group_size": 64, **qc})
    assert all(t.dtype == DType.F16 for t in ts) and says in notes[0]
    ts, _ = listed({"quant_method": "awq", "bits": 4, "group_size": 64, "version": "exllama"})
    assert "model.layers.0.mlp.up_proj.qweight" in {t.name for t in ts}  # stored as GEMM


def _excluded_by_scan(module: str, patterns: list[str]) -> bool:
    """The rule as transformers states it, pattern by pattern (what ``excluded`` looks up in a set)."""
    import fnmatch
    import re

    dotted = "." + module + "."
    for pat in patterns:
        if pat.startswith("re:"):
            if re.match(pat[3:], module):
                return True
        elif "*" in pat:
            if fnmatch.fnmatchcase(module, pat) or fnmatch.fnmatchcase(module, pat + ".*"):
                return True
        elif "." + pat + "." in dotted or dotted.startswith("." + pat + "."):
            return True
    return False


_parts = st.sampled_from(["model", "layers", "0", "1", "12", "mlp", "gate", "self_attn", "q_proj", "lm_head",
                          "experts", "", "x.y"])
_names = st.lists(_parts, min_size=1, max_size=7).map(".".join)
_special = st.sampled_from(["re:.*gate$", "re:model\\.layers\\.1\\.", "re:lm_head", "*.mlp",
                            "model.layers.*.self_attn"])
_patterns = st.lists(_names | _names.map(lambda n: n.replace("1", "*")) | _special, max_size=6)


@settings(max_examples=300, deadline=None)
@given(module=_names, patterns=_patterns)
def test_excluded_equals_the_pattern_by_pattern_rule(module, patterns):
    assert excluded(module, tuple(patterns)) == _excluded_by_scan(module, patterns)


# --- one pick for the same tensor of every layer -----------------------------------------------------------
# as_stored picks how a tensor is stored once for the same tensor of every layer and replays it under the
# other names, testing the config's exclusions name by name; configs whose own module lists may name one
# layer (GPTQ dynamic, MLX per-module settings, compressed-tensors targets by regex) are picked tensor by
# tensor. Each listing must equal the one made of every tensor listed alone, where nothing is replayed.
def small_deepseek(key: str, qc: dict) -> dict:
    cfg = catalogue.load_config("deepseek-v3")
    del cfg["quantization_config"]
    return cfg | {"hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 128,
                  "n_routed_experts": 8, "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1,
                  "num_hidden_layers": 5, "first_k_dense_replace": 1, "num_attention_heads": 4,
                  "num_key_value_heads": 4, "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 64,
                  "qk_rope_head_dim": 64, "v_head_dim": 64, "vocab_size": 512, "num_nextn_predict_layers": 0,
                  key: qc}


def listed_alone(cfg: dict) -> tuple[Tensor, ...]:
    """Each logical tensor's stored tensors, listed by itself (the listing's later passes, which look at
    several tensors, change nothing in these configs: no biases, no kv_cache_scheme)."""
    q = from_config(cfg)
    return tuple(s for t in expected_tensors(cfg) for s in as_stored([t], q, cfg["model_type"]).tensors)


def listed_whole(cfg: dict) -> tuple[Tensor, ...]:
    return as_stored(expected_tensors(cfg), from_config(cfg), cfg["model_type"]).tensors


EXPERT = "model.layers.{}.mlp.experts.{}.{}_proj"
FLOAT_GROUP = {"weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True}}


@pytest.mark.parametrize(("key", "qc", "kept"), [
    ("quantization_config", {"quant_method": "fp8", "weight_block_size": [128, 128],
                             "modules_to_not_convert": [EXPERT.format(2, 5, "gate")]},
     {EXPERT.format(2, 5, "gate")}),
    ("quantization_config", {"quant_method": "fp8", "weight_block_size": [128, 128],
                             "modules_to_not_convert": ["re:.*layers\\.[3-4]\\.mlp\\.experts\\.1\\..*"]},
     {EXPERT.format(i, 1, p) for i in (3, 4) for p in ("gate", "up", "down")}),
    ("quantization_config", {"quant_method": "bitsandbytes", "load_in_4bit": True,
                             "llm_int8_skip_modules": ["layers.4.mlp.experts.7.down_proj", "lm_head"]},
     {EXPERT.format(4, 7, "down")}),
    ("quantization_config", {"quant_method": "compressed-tensors", "format": "float-quantized",
                             "ignore": ["lm_head", "re:.*layers\\.1\\.mlp\\.experts\\.[0-1]\\.up_proj$"],
                             "config_groups": {"g": {**FLOAT_GROUP, "targets": ["Linear"]}}},
     {EXPERT.format(1, i, "up") for i in (0, 1)}),
    ("quantization_config", {"quant_method": "compressed-tensors", "format": "float-quantized",
                             "ignore": ["lm_head"],
                             "config_groups": {"g": {**FLOAT_GROUP, "targets": ["re:.*layers\\.2\\..*"]}}},
     None),
    ("quantization_config", {"quant_method": "gptq", "bits": 4, "group_size": 64,
                             "dynamic": {"-:model\\.layers\\.3\\..*": {},
                                         "+:.*layers\\.1\\..*": {"bits": 8}}},
     None),
    ("quantization_config", {"quant_method": "gptq", "bits": 4, "group_size": 64,
                             "modules_in_block_to_quantize": [["mlp.experts.0.gate_proj",
                                                               "self_attn.q_a_proj"]]},
     None),
    ("quantization", {"group_size": 64, "bits": 4, EXPERT.format(2, 3, "up"): False,
                      "model.layers.1.self_attn.q_b_proj": {"group_size": 64, "bits": 8}}, None),
], ids=["fp8-one-expert", "fp8-regex", "bnb4-skip", "ct-ignore-regex", "ct-targets-regex", "gptq-dynamic",
        "gptq-block-list", "mlx-per-module"])
def test_one_pick_per_kind_equals_picking_each_tensor(key, qc, kept):
    cfg = small_deepseek(key, qc)
    whole = listed_whole(cfg)
    assert whole == listed_alone(cfg)
    if kept is not None:  # the named experts alone stay in the model dtype, the same in other layers do not
        experts = {t.name.removesuffix(".weight"): t.dtype for t in whole if ".experts." in t.name
                   and t.name.endswith(".weight")}
        assert {m for m, dtype in experts.items() if dtype == DType.BF16} == kept


@settings(max_examples=20, deadline=None)
@given(layer=st.integers(1, 4), expert=st.integers(0, 7), proj=st.sampled_from(["gate", "up", "down"]),
       spelling=st.sampled_from(["{}", "model.{}", "re:.*{}$"]))
def test_an_exclusion_naming_one_layers_expert_leaves_only_it(layer, expert, proj, spelling):
    module = EXPERT.format(layer, expert, proj)
    pattern = spelling.format(module.removeprefix("model.") if spelling != "re:.*{}$"
                              else module.replace(".", "\\."))
    cfg = small_deepseek("quantization_config", {"quant_method": "fp8", "weight_block_size": [128, 128],
                                                 "modules_to_not_convert": [pattern]})
    whole = listed_whole(cfg)
    assert whole == listed_alone(cfg)
    bf16 = {t.name for t in whole if ".experts." in t.name and t.dtype == DType.BF16}
    assert bf16 == {module + ".weight"}


def test_a_linear_scheme_leaves_the_per_layer_embedding_table():
    """Google's gemma-4-E4B-it-qat-w4a16-ct (its own quantization_config, configs/README.md) quantizes every
    decoder Linear, per_layer_model_projection included, to int4 in groups of 32; embed_tokens_per_layer is
    an nn.Embedding, stored in bf16 ([262144, 10752] in its safetensors header), as embed_tokens is."""
    configs = Path(__file__).parent / "fixtures/engine_logs/configs"
    path = configs / "google-gemma-4-e4b-it-qat-w4a16-ct.config.json"
    model = paramscope.open_model(str(path))
    by_name = {t.name: t for t in model.tensors}
    table = next(t for name, t in by_name.items() if name.endswith("embed_tokens_per_layer.weight"))
    assert table.dtype.value == "BF16" and table.shape == (262144, 10752)
    packed = [name for name, t in by_name.items() if name.endswith(".weight_packed")]
    assert any("per_layer_model_projection" in name for name in packed)
    assert not any("embed_tokens" in name for name in packed)
    # the 343 Linears the checkpoint quantizes (42 layers, 18 of them sharing KV without k_proj and v_proj)
    assert len(packed) == 343


@pytest.mark.parametrize(("config", "tables"), [
    ("umt5-xxl.json", ("shared.weight", "relative_attention_bias.weight")),
    ("state-spaces__mamba-2.8b-hf.json", ("backbone.embeddings.weight",)),
    ("nvidia__Nemotron-H-47B-Reasoning-128K.json", ("backbone.embeddings.weight",)),
])
def test_a_linear_scheme_leaves_every_embedding_table(tmp_path, config, tables):
    """An nn.Embedding is no Linear whatever the roles call it: T5's shared table and relative position
    bias, Mamba's and Nemotron-H's backbone.embeddings stay in the model's type under FP8 for every
    Linear (compressed-tensors float-quantized, the layout of the FP8-dynamic exports)."""
    raw = json.loads((Path(__file__).parent / "fixtures/configs" / config).read_text())
    raw["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": "float-quantized", "ignore": ["lm_head"],
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
            "num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True, "dynamic": False}}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    model = paramscope.open_model(str(path))
    found = [t for t in model.tensors if t.name.endswith(tables)]
    assert found
    for t in found:
        assert t.dtype.value in ("BF16", "F16", "F32"), t.name
    assert any(t.dtype.value == "F8_E4M3" for t in model.tensors)


@pytest.mark.parametrize(("target", "packed"), [
    ("re:.*embed_tokens_per_layer$", {"model.language_model.embed_tokens_per_layer"}),
    ("Embedding", {"model.language_model.embed_tokens_per_layer", "model.language_model.embed_tokens"}),
])
def test_a_compressed_tensors_group_may_name_an_embedding_table(target, packed):
    """compressed-tensors packs whatever module a group's targets name, an nn.Embedding too (by its name, a
    re: pattern or the class name Embedding): a writer that packs Gemma's per-layer table says so there."""
    configs = Path(__file__).parent / "fixtures/engine_logs/configs"
    raw = json.loads((configs / "google-gemma-4-e4b-it-qat-w4a16-ct.config.json").read_text())
    groups = raw["quantization_config"]["config_groups"]
    groups["group_1"] = {**groups["group_0"], "targets": [target]}
    from paramscope.knowledge.config_tensors import config_tensors
    from paramscope.knowledge.families import expected_tensors
    from paramscope.knowledge.quant_configs import from_config

    tensors, _ = config_tensors(expected_tensors(raw), from_config(raw), raw)
    tables = {t.name.removesuffix(".weight_packed") for t in tensors if t.name.endswith(".weight_packed")
              and "embed" in t.name}
    assert tables == packed


def test_compressed_tensors_targets_by_precedence_not_order():
    """compressed-tensors picks a module's scheme by how its targets match: the exact name, then a re:
    pattern, then the class name, whatever the groups' order (apply.py); a bare name matches only the
    whole name. A Linear group listed first does not take a head a re: group names."""
    from paramscope.knowledge.config_tensors import config_tensors
    from paramscope.knowledge.families import expected_tensors
    from paramscope.knowledge.quant_configs import from_config

    raw = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    w4 = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 128}
    w8 = {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel"}
    raw["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": "pack-quantized", "ignore": [],
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": w4},
                          "group_1": {"targets": ["re:.*lm_head$"], "weights": w8},
                          "group_2": {"targets": ["embed_tokens"], "weights": w8}}}
    tensors, _ = config_tensors(expected_tensors(raw), from_config(raw), raw)
    shapes = {t.name: t.shape for t in tensors}
    assert shapes["lm_head.weight_packed"] == (128256, 4096 * 8 // 32)  # 8 bits, not the Linear group's 4
    assert shapes["lm_head.weight_scale"] == (128256, 1)
    assert shapes["model.layers.0.mlp.down_proj.weight_packed"] == (4096, 14336 * 4 // 32)
    # "embed_tokens" is not the module's whole name (model.embed_tokens): the table stays as it is
    assert "model.embed_tokens.weight" in shapes
