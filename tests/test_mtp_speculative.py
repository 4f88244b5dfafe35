"""Multi-token-prediction layers: where checkpoints store them (knowledge/families/mtp.py), that no engine
loads them with the model, and vLLM's MTP drafter (--speculative-config), its weights and its KV layers
(sizing/mtp.py, runtimes/vllm/speculative.py). The real references: Qwen3-Next-80B-A3B-Instruct's
checkpoint (1,553 mtp.* tensors, 1,650,471,424 parameters), nvidia/Qwen3.6-35B-A3B-NVFP4's start-up log
with an MTP drafter (tests/fixtures/engine_logs/vllm/r44q-*: 21.93 GiB loaded, 'Add 3 padding layers')."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.speculative import Speculation, parse_speculative_config
from paramscope.errors import UnsupportedError, UsageError
from paramscope.knowledge.families import expected_tensors, mtp_tensors
from paramscope.knowledge.families.mtp import is_mtp_tensor, mtp_layer_count, shared_copy

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"
GiB = 1 << 30


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


# --- where the layers are stored ---------------------------------------------------------------------
def test_qwen3_next_mtp_layer_matches_the_real_checkpoint():
    raw = json.loads((Path(__file__).parent / "fixtures" / "configs" /
                      "Qwen__Qwen3-Next-80B-A3B-Instruct.json").read_text())
    cfg = raw.get("config", raw)
    decoder, pieces = mtp_tensors(cfg, expected_tensors(cfg))
    # Qwen3-Next-80B-A3B-Instruct's safetensors index: 1,553 mtp.* tensors, 1,650,471,424 parameters
    assert len(decoder) + len(pieces) == 1553
    assert sum(t.params for t in (*decoder, *pieces)) == 1_650_471_424
    assert {t.name for t in pieces} == {"mtp.fc.weight", "mtp.pre_fc_norm_embedding.weight",
                                       "mtp.pre_fc_norm_hidden.weight", "mtp.norm.weight"}
    assert all(t.name.startswith("mtp.layers.0.") for t in decoder)


def test_qwen35_mtp_layer_copies_a_full_attention_layer():
    cfg = _config("qwen3.6-27b.config.json")
    decoder, _ = mtp_tensors(cfg, expected_tensors(cfg))
    names = {t.name for t in decoder}
    assert "mtp.layers.0.self_attn.q_proj.weight" in names
    assert not any("linear_attn" in n for n in names)  # the template is the last full-attention layer
    assert mtp_layer_count(cfg) == 1  # text_config's mtp_num_hidden_layers


def test_modelopt_checkpoint_keeps_its_mtp_layer_in_bf16():
    # nvidia/Qwen3.6-35B-A3B-NVFP4 excludes "mtp*": its MTP layer is bf16, 1.573 GiB (the checkpoint's
    # 21.82 GiB on disk less the listing's 20.227)
    inv = paramscope.inspect(CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4/config.json").inventory
    note = next(n for n in inv.notes if "multi-token-prediction" in n)
    assert "mtp.layers.0" in note and "1,689,281,536 bytes as stored" in note


@pytest.mark.parametrize("name, expected", [
    ("mtp.layers.0.self_attn.q_proj.weight", True), ("mtp.fc.weight", True),
    ("model.language_model.layers.3.self_attn.q_proj.weight", False), ("lm_head.weight", False)])
def test_qwen_mtp_names(name, expected):
    assert is_mtp_tensor(name, _config("qwen3.6-27b.config.json")) is expected


def test_deepseek_mtp_names_and_copies():
    cfg = {"model_type": "deepseek_v3", "num_hidden_layers": 61, "num_nextn_predict_layers": 1}
    assert is_mtp_tensor("model.layers.61.eh_proj.weight", cfg)
    assert not is_mtp_tensor("model.layers.60.self_attn.kv_a_proj_with_mqa.weight", cfg)
    assert shared_copy("model.layers.61.embed_tokens.weight", cfg) == "embedding"
    assert shared_copy("model.layers.61.shared_head.head.weight", cfg) == "head"
    assert shared_copy("model.layers.61.shared_head.norm.weight", cfg) == ""
    assert mtp_layer_count({"model_type": "llama", "num_nextn_predict_layers": 1}) == 0


# --- --speculative-config -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ('{"method": "mtp", "num_speculative_tokens": 2}', Speculation("mtp", 2)),
    ('{"method": "qwen3_next_mtp", "num_speculative_tokens": 3}', Speculation("mtp", 3)),
    ("mtp:2", Speculation("mtp", 2)),
    ("suffix", Speculation("suffix", 24)),  # vLLM's default for suffix decoding: its tree depth
    ('{"method": "suffix", "suffix_decoding_max_tree_depth": 8}', Speculation("suffix", 8)),
    ("ngram:4", Speculation("ngram", 4)), ("", None)])
def test_parse_speculative_config(text, expected):
    assert parse_speculative_config(text) == expected


@pytest.mark.parametrize("text, says", [
    ('{"method": "eagle3", "model": "x", "num_speculative_tokens": 3}', "another checkpoint"),
    ('{"model": "some/draft", "num_speculative_tokens": 3}', "another checkpoint"),
    ("mtp:0", "between 1 and 64"), ("mtp:two", "whole number"), ("{oops", "takes a JSON object"),
    ('{"a":' + "[" * 4000, "takes a JSON object"),  # nested past the parser's recursion limit
    ('{"method": "mtp", "x": "' + "y" * 5000 + '"}', "at most 4,096"),
    ('{"method": "mtp", "num_speculative_tokens": 2.7}', "whole number"),
    ('{"method": "mtp", "num_speculative_tokens": true}', "whole number"), ("ngram", "needs num_spec"),
    ("mtp", "needs num_spec"), ('{"method": "mtp"}', "needs num_spec"), ("eagle3", "another checkpoint"),
    ("lookahead:2", "unknown method")])
def test_parse_speculative_config_refuses(text, says):
    with pytest.raises(UsageError, match=says):
        parse_speculative_config(text)


# --- a checkpoint read from its files -----------------------------------------------------------------
TINY_QWEN35 = {
    "architectures": ["Qwen3_5ForCausalLM"], "model_type": "qwen3_5_text", "vocab_size": 512,
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 2,
    "num_key_value_heads": 1, "head_dim": 32, "attn_output_gate": True, "full_attention_interval": 4,
    "linear_conv_kernel_dim": 4, "linear_key_head_dim": 16, "linear_value_head_dim": 16,
    "linear_num_key_heads": 2, "linear_num_value_heads": 2, "max_position_embeddings": 4096,
    "layer_types": ["linear_attention"] * 3 + ["full_attention"], "mtp_num_hidden_layers": 1,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "rms_norm_eps": 1e-6,
}
TINY_DEEPSEEK = {
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "vocab_size": 512,
    "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2,
    "first_k_dense_replace": 1, "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2,
    "num_attention_heads": 2, "num_key_value_heads": 2, "q_lora_rank": 32, "kv_lora_rank": 32,
    "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "num_nextn_predict_layers": 1,
    "max_position_embeddings": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}


def _write_checkpoint(folder: Path, config: dict, with_mtp: bool = True) -> tuple[int, int]:
    """config.json and a model.safetensors of zeros holding the trunk and (``with_mtp``) the MTP layers;
    returns (trunk bytes, MTP bytes)."""
    trunk = expected_tensors(config)
    decoder, pieces = mtp_tensors(config, trunk)
    mtp = (*decoder, *pieces) if with_mtp else ()
    header, offset = {}, 0
    for t in (*trunk, *mtp):
        header[t.name] = {"dtype": t.dtype.value, "shape": list(t.shape),
                          "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    blob = json.dumps(header).encode()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    with open(folder / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        f.truncate(8 + len(blob) + offset)
    return sum(t.nbytes for t in trunk), sum(t.nbytes for t in mtp)


def test_engines_leave_a_stored_mtp_layer_out(tmp_path):
    trunk, mtp = _write_checkpoint(tmp_path / "m", TINY_QWEN35)
    assert mtp > 0
    assert paramscope.open_model(tmp_path / "m").tensor_bytes == trunk + mtp
    for runtime in ("vllm", "transformers", "sglang"):
        est = paramscope.size(tmp_path / "m", runtime=runtime, context=1024).estimate
        assert est.weights_bytes < trunk + mtp, runtime
        assert any("multi-token-prediction" in line for line in est.explain), runtime


def test_vllm_mtp_drafter_loads_the_stored_layer(tmp_path):
    _, mtp = _write_checkpoint(tmp_path / "m", TINY_QWEN35)
    plain = paramscope.size(tmp_path / "m", runtime="vllm", context=1024).estimate
    spec = paramscope.size(tmp_path / "m", runtime="vllm", context=1024,
                           speculative_config="mtp:2").estimate
    # the Qwen layout stores no embedding or head copy: the drafter is the whole mtp.* module
    assert spec.weights_bytes - plain.weights_bytes == mtp
    assert any("MTP drafter (1 layer, 2 speculative tokens)" in line for line in spec.explain)
    # its attention layer caches K and V like the model's one full-attention layer: twice the KV
    assert spec.kv_cache_bytes > plain.kv_cache_bytes


def test_a_checkpoint_saved_without_its_mtp_layer_cannot_draft(tmp_path):
    _write_checkpoint(tmp_path / "m", TINY_QWEN35, with_mtp=False)
    with pytest.raises(UnsupportedError, match="stores no multi-token-prediction layer"):
        paramscope.size(tmp_path / "m", runtime="vllm", speculative_config="mtp:1")


@pytest.mark.parametrize("release, head_kept", [("0.15", True), ("0.16", False)])
def test_deepseek_drafter_shares_embedding_and_from_016_the_head(tmp_path, release, head_kept):
    _write_checkpoint(tmp_path / "m", TINY_DEEPSEEK)
    model = paramscope.open_model(tmp_path / "m")
    stored = [t for t in model.tensors if t.name.startswith("model.layers.2.")]
    copy = {t.name.rsplit(".", 2)[-2] + "." + t.name.rsplit(".", 1)[-1]: t.nbytes for t in stored}
    embed, head = copy["embed_tokens.weight"], copy["head.weight"]
    plain = paramscope.size(tmp_path / "m", runtime="vllm", context=1024, vllm_release=release).estimate
    spec = paramscope.size(tmp_path / "m", runtime="vllm", context=1024, vllm_release=release,
                           speculative_config='{"method": "deepseek_mtp", "num_speculative_tokens": 1}')
    added = spec.estimate.weights_bytes - plain.weights_bytes
    assert added == sum(t.nbytes for t in stored) - embed - (0 if head_kept else head)


def test_llama_has_no_mtp_layer():
    with pytest.raises(UnsupportedError, match="no multi-token-prediction layers"):
        paramscope.size("llama-3.1-8b", runtime="vllm", speculative_config="mtp:1")


# --- from a config: the r44q run ---------------------------------------------------------------------
def test_config_drafter_and_kv_groups_as_the_r44q_log():
    source = CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4/config.json"
    plain = paramscope.size(source, runtime="vllm", context=262144, vllm_release="0.22").estimate
    spec = paramscope.size(source, runtime="vllm", context=262144, vllm_release="0.22",
                           speculative_config="mtp:2").estimate
    assert spec.weights_bytes - plain.weights_bytes == 1_689_281_536  # the bf16 MTP layer
    model = paramscope.open_model(source)
    cfg = model.config
    assert cfg is not None
    base = vllm_memory(cfg, 0, context=262144, kv_type=None, engine="v1", gpu_memory_bytes=None)
    drafted = vllm_memory(cfg, 0, context=262144, engine="v1", speculative_tokens=2, draft_layers=1)
    # 10 attention layers and the MTP layer: groups of 11 layers; the 30 DeltaNet layers in 3 groups of 11
    # ("Add 3 padding layers")
    assert (base.layout.group_size, drafted.layout.group_size) == (10, 11)
    assert drafted.layout.groups == {"full": 1, "linear": 3}
    # the 3 padding layers, beside the state pages' own padding
    assert drafted.kv_padding_bytes > base.kv_padding_bytes


def test_cli_takes_the_speculative_config():
    exe = [sys.executable, "-m", "paramscope", "size"]
    source = str(CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4" / "config.json")
    ok = subprocess.run([*exe, source, "--runtime", "vllm",
                         "--speculative-config", '{"method": "mtp", "num_speculative_tokens": 2}', "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert any("MTP drafter" in line for line in json.loads(ok.stdout)["explain"])
    bad = subprocess.run([*exe, "llama-3.1-8b", "--runtime", "vllm", "--speculative-config", "eagle3:3"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and bad.stderr.startswith("Error: ") and bad.stderr.count("\n") == 1
    assert "another checkpoint" in bad.stderr


def test_inspect_counts_a_stored_mtp_module_apart_from_the_layers(tmp_path):
    trunk, mtp = _write_checkpoint(tmp_path / "m", TINY_QWEN35)
    inv = paramscope.inspect(tmp_path / "m").inventory
    assert inv.by_component["mtp"].bytes == mtp
    # mtp.layers.0 is not the model's layer 0: each layer holds what the config lists for it
    plain = _write_checkpoint(tmp_path / "plain", TINY_QWEN35, with_mtp=False)[0]
    assert plain == trunk
    alone = paramscope.inspect(tmp_path / "plain").inventory
    assert inv.by_layer[0]["total"].bytes == alone.by_layer[0]["total"].bytes


# --- what a reviewer read in vLLM's source (0.11-0.34) ---------------------------------------------------
TINY_GLM = {**TINY_DEEPSEEK, "architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe",
            "num_key_value_heads": 1, "head_dim": 32, "partial_rotary_factor": 0.5, "use_qk_norm": False}
for _key in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
    TINY_GLM.pop(_key)


def test_llamacpp_skips_the_nextn_block_too(tmp_path):
    # llama.cpp's converter writes GLM-4.5's nextn block to the GGUF, but the loader skips it unless MTP
    # speculation is asked for (b11549 llama-model.cpp: load_mtp false by default, TENSOR_SKIP)
    trunk, mtp = _write_checkpoint(tmp_path / "m", TINY_GLM)
    assert mtp > 0
    est = paramscope.size(tmp_path / "m", runtime="llama.cpp", context=1024).estimate
    assert est.weights_bytes == trunk


def test_eh_proj_is_held_whole_on_every_rank(tmp_path):
    from paramscope.analyses.sizing.runtimes.vllm.adapter import drafter_replicated, with_speculation

    _write_checkpoint(tmp_path / "m", TINY_DEEPSEEK)
    model = paramscope.open_model(tmp_path / "m")
    spec = parse_speculative_config("mtp:1")
    built = with_speculation(model, (0, 21, 0), spec)[0]
    eh = drafter_replicated(built, spec)
    assert eh == next(t.nbytes for t in model.tensors if t.name == "model.layers.2.eh_proj.weight")
    cfg = model.config
    assert cfg is not None
    split = vllm_memory(cfg, 10**8, context=1024, tensor_parallel=2)
    whole = vllm_memory(cfg, 10**8, context=1024, tensor_parallel=2, drafter_replicated_bytes=eh)
    assert whole.model_bytes - split.model_bytes == eh - eh // 2  # its other half, on each rank


def test_drafters_by_release():
    qwen = CONFIGS / "qwen3.6-27b.config.json"
    glm = CONFIGS / "glm-5.2-pocketinfer-dummy.config.json"
    with pytest.raises(UnsupportedError, match="no MTP drafter for glm_moe_dsa"):
        paramscope.size(glm, runtime="vllm", vllm_release="0.15", speculative_config="mtp:1")
    assert paramscope.size(glm, runtime="vllm", vllm_release="0.16", speculative_config="mtp:1")
    assert paramscope.size(qwen, runtime="vllm", vllm_release="0.17", speculative_config="mtp:1")
    # before 0.17 only Qwen3-Next speculates among the hybrids
    with pytest.raises(UnsupportedError, match="refuses speculative decoding"):
        paramscope.size(qwen, runtime="vllm", vllm_release="0.16", speculative_config="ngram:3")
    with pytest.raises(UnsupportedError, match="pipeline parallelism"):
        paramscope.size(qwen, runtime="vllm", gpu="h100x2", pipeline_parallel_size=2,
                        speculative_config="mtp:1")


def test_state_blocks_count_the_speculative_tokens_from_016():
    raw = json.loads((Path(__file__).parent / "fixtures" / "configs" /
                      "Qwen__Qwen3-Next-80B-A3B-Instruct.json").read_text())
    path = Path(__file__).parent / "fixtures" / "configs" / "Qwen__Qwen3-Next-80B-A3B-Instruct.json"
    assert raw
    cfg = paramscope.open_model(path).config
    assert cfg is not None
    for release, extra in (((0, 14, 0), 0), ((0, 16, 0), 3)):
        plain = vllm_memory(cfg, 0, context=32768, engine="v1", release=release)
        spec = vllm_memory(cfg, 0, context=32768, engine="v1", release=release, speculative_tokens=3)
        assert spec.layout.blocks["linear"] - plain.layout.blocks["linear"] == extra


def test_a_dsa_mtp_layer_keeps_an_indexer_cache():
    from paramscope.analyses.sizing.kv_cache import indexer_layers
    from paramscope.analyses.sizing.runtimes.vllm.kv import with_draft_layers
    from paramscope.model import ArchConfig

    cfg = ArchConfig("glm_moe_dsa", "GlmMoeDsaForCausalLM", 4, 64, 2, 2, 32, 32, 128, 512, 4096,
                     kv_lora_rank=32, rope_head_dim=8,
                     extra={"index_head_dim": 128, "indexer_types": ["full", "shared", "shared", "full"]})
    assert indexer_layers(cfg) == 2
    assert indexer_layers(with_draft_layers(cfg, 1)) == 3


def test_capture_sizes_count_the_speculative_tokens():
    from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params
    from paramscope.analyses.sizing.runtimes.vllm.profile import captured_graphs
    from paramscope.model.dtypes import DType
    from paramscope.records import replace

    cfg = paramscope.open_model("qwen3-8b").config
    assert cfg is not None
    p = resolve_params(cfg, context=4096, batch=1, kv_type=None, dtype=DType.BF16, gpu_memory_bytes=None,
                       gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=8192,
                       max_num_seqs=64, cuda_graphs=True, tensor_parallel=1, engine="v1-0.16",
                       release=(0, 16, 0))
    # 64 sequences of 1 + 2 tokens: PIECEWISE sizes up to 64 × 3 × 2 = 384 and FULL ones from 3 to 192:
    # 68, as vLLM 0.13-0.28 captures (v1/cudagraph_dispatcher.py)
    assert (captured_graphs(cfg, p), captured_graphs(cfg, replace(p, speculative_tokens=2))) == (30, 68)
    early = replace(p, release=(0, 11, 0), engine="v1-0.11", speculative_tokens=2)
    assert captured_graphs(cfg, early) == captured_graphs(cfg, replace(early, speculative_tokens=0))


def test_glm47_flash_mtp_layer_as_its_checkpoint_stores_it():
    # GLM-4.7-Flash's checkpoint (a public tensor table, code index file id 62624914535): model.layers.47
    # holds eh_proj, embed_tokens, enorm, hnorm, shared_head.head [154880, 2048] and shared_head.norm
    cfg = {"architectures": ["Glm4MoeLiteForCausalLM"], "model_type": "glm4_moe_lite",
           "num_nextn_predict_layers": 1, "torch_dtype": "bfloat16"}
    _, pieces = mtp_tensors(cfg, expected_tensors(cfg))
    assert {t.name: t.shape for t in pieces} == {
        "model.layers.47.embed_tokens.weight": (154880, 2048), "model.layers.47.enorm.weight": (2048,),
        "model.layers.47.hnorm.weight": (2048,), "model.layers.47.eh_proj.weight": (2048, 4096),
        "model.layers.47.shared_head.norm.weight": (2048,),
        "model.layers.47.shared_head.head.weight": (154880, 2048)}
    assert is_mtp_tensor("model.layers.47.mlp.experts.3.up_proj.weight", cfg)


def test_inspect_says_which_tensors_are_the_mtp_layer(tmp_path):
    _, mtp = _write_checkpoint(tmp_path / "q", TINY_QWEN35)
    _write_checkpoint(tmp_path / "d", TINY_DEEPSEEK)
    qwen = paramscope.inspect(tmp_path / "q").inventory.notes
    assert any(n.startswith("mtp.layers.0: the checkpoint's multi-token-prediction layer, 15 tensors")
               and f"{mtp:,} bytes" in n for n in qwen)
    deepseek = paramscope.inspect(tmp_path / "d").inventory.notes
    assert any(n.startswith("model.layers.2: the checkpoint's multi-token-prediction layer")
               for n in deepseek)


def test_a_stored_mtp_module_is_not_active(tmp_path):
    # the model's forward never runs it: Qwen3.5-35B-A3B's MTP experts counted active would add about a
    # quarter to its active parameters
    _write_checkpoint(tmp_path / "q", TINY_QWEN35)
    inv = paramscope.inspect(tmp_path / "q").inventory
    assert inv.active_params == inv.total_params - inv.by_component["mtp"].params


def test_mtp_layers_numbered_after_the_trunk_are_not_active(tmp_path):
    # DeepSeek-V3's model.layers.61 sits among the trunk's layers: the same checkpoint without it has the
    # same active parameters (its routed experts are not active either)
    _write_checkpoint(tmp_path / "d", TINY_DEEPSEEK)
    _write_checkpoint(tmp_path / "plain", TINY_DEEPSEEK, with_mtp=False)
    with_mtp = paramscope.inspect(tmp_path / "d").inventory
    alone = paramscope.inspect(tmp_path / "plain").inventory
    assert with_mtp.total_params > alone.total_params
    assert with_mtp.active_params == alone.active_params


def test_limit_mm_per_prompt_refuses_hostile_json():
    from paramscope.analyses.sizing.runtimes.vllm.encoder import parse_mm_limits

    hostile = (('{"image":' + "[" * 4000, "takes image=N"), ("{" + " " * 5000 + "}", "at most 4,096"))
    for text, says in hostile:
        with pytest.raises(UsageError, match=says):
            parse_mm_limits(text)


def test_explain_says_what_the_drafter_adds():
    source = CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4" / "config.json"
    est = paramscope.size(source, runtime="vllm", context=8192, speculative_config="mtp:2").estimate
    explain = est.explain
    line = next(x for x in explain if x.startswith("speculative decoding:"))
    assert "1 attention layer caches K and V" in line and "2 state blocks more a request" in line
    plain = paramscope.size("llama-3.1-8b", runtime="vllm", speculative_config="ngram:4").estimate.explain
    assert "speculative decoding: no drafter weights or KV layers" in plain
