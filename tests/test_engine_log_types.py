"""The tensor types of each GGUF file that an engine log names, against the types paramscope's llama-quantize
recipe gives the same model.

llama.cpp prints a file's types on loading ("llama_model_loader: - type q4_K: 193 tensors"); where a record
in tests/fixtures/engine_logs/llamacpp/ keeps them, paramscope's recipe for its `weights` (a llama.cpp file
type, with `_imatrix` or `_before_2026_03` where the file was made so) must give the same counts, or the
difference listed below with its reason. A listed difference that changes fails too, so the list only
shrinks.
"""

from __future__ import annotations

import re

import engine_log_compare
import engine_logs
import pytest

from paramscope.analyses.sizing.weights import gguf_type_counts
from paramscope.knowledge import quant_schemes as qs

# "152 q4_K, 18 q5_K, 17 q6_K, 133 f32": the counts a record's model.quant or model.id quotes
TYPE_COUNT = re.compile(r"(\d+) (q\d_[a-z0-9]+|iq\d_[a-z0-9]+|f32|f16|bf16|mxfp4|tq\d_\d)\b")

UNSLOTH_UD = "Unsloth's dynamic mix (UD-*), no llama-quantize file type"
ROPE_FREQS = "the rope_freqs tensor convert_hf_to_gguf.py writes for Llama 3's RoPE scaling (not a weight)"
LONGROPE = "LongRoPE's rope_factors_long and rope_factors_short, which the converter writes (not weights)"

# record: (printed − priced, per type; why)
EXPLAINED: dict[str, tuple[dict[str, int], str]] = {
    "r56l-gemma4-e2b-qat-q4-0-cuda-gtx1650ti-maxq-8192-np1-fa": (
        {"f16": 1}, "Google's own QAT Q4_0 GGUF of Gemma 4 E2B: 541 tensors printed, 540 in paramscope's "
                    "listing of the converter's file; the one F16 tensor more is not named in the excerpt"),
    "qwen35-9b-q4ks-metal-m4pro-b8999-262k-q8kv": (
        {"q4_k": -72, "q5_k": 24, "q8_0": 48},
        "Unsloth's own Q4_K_S of Qwen3.5: 48 q8_0 (the linear layers' ssm_alpha and ssm_beta) and every "
        "attn_qkv in q5_K, which no llama-quantize rule gives"),
    "r13l-ollama0163-gemma-2b-q4-0-cpu-docker": (
        {"q6_k": -1, "q8_0": 1}, "Ollama's file of February 2024 keeps the tied token embedding in q8_0"),
    "r13l-ollama0163-phi3-mini-128k-q4-0-cpu-docker": ({"f32": 2}, LONGROPE),
    "r13l-phi4-mini-q4km-vulkan-rx580-rx560-np4-dmr": ({"f32": 2}, LONGROPE),
    "r13l-qwen25-vl-7b-q6kxl-rocm-radeonpro7-fit21-np4-q8kv-b7972": ({"q6_k": -106, "q8_0": 106}, UNSLOTH_UD),
    "r13l-qwen25-vl-7b-q6kxl-rocm-radeonpro7-np4-q8kv-b7972": ({"q6_k": -106, "q8_0": 106}, UNSLOTH_UD),
    "r17l-llama31-8b-q4-0-vulkan-rx6900xt-ngl0-aarch64repack-b4589": (
        {"f16": 2, "f32": 1, "q4_0": -1, "q6_k": -1},
        "the file keeps the token embedding and the output in f16; and " + ROPE_FREQS),
    "r18l-gemma4-26b-a4b-qat-q4-0-vulkan-3090-b9849-np1-ub2048": (
        {"f32": 1}, "the rope_freqs tensor of Gemma 4's proportional RoPE (not a weight)"),
    "r18l-llama31-70b-q4-0-rpc-2xgraviton-cpu-b6209": ({"f32": 1}, ROPE_FREQS),
    "r20l-ik562-llama31-8b-q4-0-vulkan-4080-ub1024-fa-b5781": ({"f32": 1}, ROPE_FREQS),
    "r22l-rocm4903-qwen3-embedding-8b-q8-7900xt-fa-ub2048-b5618": (
        {"q8_0": -1}, "the embedding model's file has no output.weight, where Qwen3-8B (priced) has a head"),
    "r25l-qwen25-05b-q4km-metal-m4-512-bunknown": (
        {"q5_0": 1}, "the file holds an output matrix beside Qwen2.5-0.5B's tied embedding"),
    "r34l-ik398-qwen3-30b-a3b-udq4kxl-2xt4-fa-32768-ikb3673": (
        {"q4_k": 1, "q5_k": 37, "q6_k": -38}, UNSLOTH_UD),
    "r34l-qvac-qwen3-17b-q4km-android-cpu-repack-4096-b7343": (
        {"q4_k": 1}, "the file holds an output.weight beside Qwen3-1.7B's tied embedding: the embedding in "
                     "Q4_K, the output in Q6_K"),
    "r37l-bartowski-qwen3-30b-a3b-q4km-3090ti-32768-fa-b5274": (
        {"q4_k": -96, "q5_k": 48, "q8_0": 48},
        "bartowski's file puts one Q4_K tensor a layer in q8_0 and one in q5_K: no rule paramscope knows"),
    "r40l-unsloth-gpt-oss-20b-q4km-metal-m5-np4auto-131072-b8198": (
        {"f32": 24, "mxfp4": 24, "q4_k": 24, "q5_0": 61, "q8_0": -85},
        "Unsloth's 'Q4_K_M' of gpt-oss keeps the experts in MXFP4 and the rest in its own mix; the record "
        "prices MXFP4_MOE"),
    "r41l-granite41-8b-udq8kxl-rocm-rx9070xt-fit31488-np4-b9106": ({"f16": 102, "q8_0": -101}, UNSLOTH_UD),
    "r47l-acdtrx-gemma4-e4b-q8-metal-m4-65536-b8680": (
        {"bf16": 1, "f32": 102, "q8_0": -48},
        "this Gemma 4 E4B file keeps the per-layer inp_gate and proj in f32 and the KV-shared layers' attn_k "
        "and attn_v (tests/test_engine_log_predictions.py, its model_buffer)"),
}


def printed_types(r: engine_logs.Record) -> dict[str, int]:
    text = f"{r.model.get('quant') or ''} {r.model.get('id') or ''}".lower()
    return {t: int(n) for n, t in TYPE_COUNT.findall(text)}


def typed_records() -> list[engine_logs.Record]:
    """llama.cpp records that quote their file's types and price a llama.cpp file type."""
    return [r for r in engine_logs.load_all()
            if r.engine == "llamacpp" and printed_types(r)
            and isinstance(qs.lookup(r.model.get("weights") or ""), qs.FileType)]


RECORDS = {r.id: r for r in typed_records()}


def difference(r: engine_logs.Record) -> dict[str, int]:
    model = engine_log_compare.open_record_model(r)
    assert model is not None
    priced = {t.lower(): n for t, n in gguf_type_counts(model, r.model["weights"]).items()}
    printed = printed_types(r)
    return {t: printed.get(t, 0) - priced.get(t, 0) for t in sorted(set(printed) | set(priced))
            if printed.get(t, 0) != priced.get(t, 0)}


def test_enough_records_quote_their_types():
    assert len(RECORDS) >= 40
    assert set(EXPLAINED) <= set(RECORDS)


@pytest.mark.parametrize("record_id", sorted(RECORDS))
def test_the_recipe_gives_the_files_types(record_id):
    want, why = EXPLAINED.get(record_id, ({}, ""))
    assert difference(RECORDS[record_id]) == want, why or "printed and priced types differ"


def test_the_earlier_recipe_is_what_the_old_files_show():
    # the records priced by the rules before PR #19770: by today's rules their types would differ
    old = [r for r in RECORDS.values() if r.model["weights"].lower().endswith("_before_2026_03")]
    assert len(old) >= 6
    for r in old:
        model = engine_log_compare.open_record_model(r)
        today = r.model["weights"].lower().removesuffix("_before_2026_03")
        assert gguf_type_counts(model, today) != gguf_type_counts(model, r.model["weights"]), r.id
