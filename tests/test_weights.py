"""Weights re-priced at another scheme: checked against real files, llama.cpp's own logs, and arithmetic
done here by hand."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.loaded import loaded_weights
from paramscope.analyses.sizing.weights import gguf_type_counts, reprice, reprice_totals
from paramscope.errors import UnsupportedError
from paramscope.knowledge import catalogue
from paramscope.knowledge import quant_schemes as qs
from paramscope.knowledge.hardware import find_device
from paramscope.knowledge.quant_configs import from_hf_config
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.model.dtypes import DType

GIB, MIB = 2**30, 2**20


def T(name, shape, dtype=DType.BF16, **kw):
    return Tensor(name, tuple(shape), dtype, dtype.nbytes(math.prod(shape)), **kw)


def cfg(**kw):
    base = dict(family="llama", architecture="llama", n_layers=8, hidden_size=256, n_heads=8,
                n_kv_heads=2, head_dim_k=32, head_dim_v=32, ffn_size=512, vocab_size=1024,
                context_length=64)
    return ArchConfig(**(base | kw))


def gguf_model(n_layers=8, hidden=256, ffn=512, kv=64, head=True, fmt="gguf", **config):
    """A llama-shaped model with GGUF names; ``head=False`` makes it tied (no output.weight)."""
    ts = [T("token_embd.weight", (1024, hidden)), T("output_norm.weight", (hidden,), DType.F32)]
    if head:
        ts.append(T("output.weight", (1024, hidden)))
    for i in range(n_layers):
        p = f"blk.{i}."
        ts += [T(p + "attn_q.weight", (hidden, hidden)), T(p + "attn_k.weight", (kv, hidden)),
               T(p + "attn_v.weight", (kv, hidden)), T(p + "attn_output.weight", (hidden, hidden)),
               T(p + "ffn_gate.weight", (ffn, hidden)), T(p + "ffn_up.weight", (ffn, hidden)),
               T(p + "ffn_down.weight", (hidden, ffn)), T(p + "attn_norm.weight", (hidden,), DType.F32),
               T(p + "ffn_norm.weight", (hidden,), DType.F32)]
    return Model(fmt, "test", tuple(ts), cfg(n_layers=n_layers, tied_embeddings=not head, **config))


def types(r, suffix):
    """Types of the rows whose name is ``suffix`` or ends in "." + ``suffix``, in order."""
    return [row.type for row in r.rows if row.name == suffix or row.name.endswith("." + suffix)]


# --- the real Gemma 3 270M Q4_K_M GGUF, made by llama.cpp's quantizer ------------------------------------
def test_gemma_q4_k_m_reproduces_every_tensor_of_the_file(gemma_gguf):
    model = paramscope.open_model(str(gemma_gguf))
    r = reprice(model, "q4_k_m")
    assert len(r.rows) == len(model.tensors) == 236
    wrong = [(row.name, row.type, t.dtype.value) for row, t in zip(r.rows, model.tensors, strict=True)
             if (row.name, row.type, row.bytes) != (t.name, t.dtype.value, t.nbytes)]
    assert wrong == []
    assert r.total_bytes == model.tensor_bytes == 246_587_904
    assert {k: v.tensors for k, v in r.by_type.items()} == {
        "Q8_0": 10, "Q5_0": 81, "Q4_K": 27, "Q6_K": 9, "F32": 109}
    # 640 is not a multiple of 256: the tied token_embd (treated as the output) takes Q8_0 …
    embd = next(row for row in r.rows if row.name == "token_embd.weight")
    assert embd.type == "Q8_0" and embd.bytes == 262144 * 640 // 32 * 34
    # … attn_v takes Q6_K on use_more_bits layers (0, 1, 4, 7, 10, 13, 15, 16, 17 of 18) → Q8_0, else
    # Q4_K → Q5_0; ffn_down rows are 2048 long, so its Q6_K needs no fallback
    more = {i for i in range(18) if qs.use_more_bits(i, 18)}
    assert more == {0, 1, 4, 7, 10, 13, 15, 16, 17}
    for row in r.rows:
        if row.name.endswith("attn_v.weight"):
            assert row.type == ("Q8_0" if row.layer in more else "Q5_0"), row.name
        if row.name.endswith("ffn_down.weight"):
            assert row.type == ("Q6_K" if row.layer in more else "Q4_K"), row.name
    v0 = next(row for row in r.rows if row.name == "blk.0.attn_v.weight")
    assert "fallback Q6_K→Q8_0: row 640 is not a multiple of 256" in v0.why


def test_gemma_catalogue_config_prices_like_the_gguf(gemma_gguf):
    """Hugging Face names (the catalogue config) land on the same types as the GGUF names."""
    hf = reprice(paramscope.open_model("gemma-3-270m"), "q4_k_m")
    gguf = reprice(paramscope.open_model(str(gemma_gguf)), "q4_k_m")
    assert hf.total_bytes == gguf.total_bytes
    assert {k: (v.tensors, v.bytes) for k, v in hf.by_type.items()} == {
        k: (v.tensors, v.bytes) for k, v in gguf.by_type.items()}


# --- Llama 3.1 8B against llama.cpp's own log lines ------------------------------------------------------
def test_llama_3_1_8b_q4_k_m_matches_llama_cpp():
    r = reprice(paramscope.open_model("llama-3.1-8b"), "q4_k_m")
    # llama.cpp: "type f32: 66 tensors, q4_K: 193, q6_K: 33" (its 66th F32 tensor is rope_freqs, 64
    # values that convert_hf_to_gguf.py adds for llama3 rope scaling and the config does not list)
    assert {k: v.tensors for k, v in r.by_type.items()} == {"Q4_K": 193, "Q6_K": 33, "F32": 65}
    assert r.total_bytes == 4_912_898_048
    # llama.cpp: "CPU model buffer size = 281.81 MiB" (token_embd) + "CUDA0 … = 4403.49 MiB"
    embd = next(row for row in r.rows if row.component == "embedding")
    assert f"{embd.bytes / MIB:.2f}" == "281.81"
    assert f"{(r.total_bytes - embd.bytes) / MIB:.2f}" == "4403.49"
    # "model size = 4.58 GiB (4.89 BPW)"
    assert f"{r.total_bytes / GIB:.2f} GiB ({r.bits_per_weight:.2f} BPW)" == "4.58 GiB (4.89 BPW)"


def test_llama_3_1_8b_q8_0_matches_llama_cpp():
    r = reprice(paramscope.open_model("llama-3.1-8b"), "q8_0")
    # llama.cpp (Llama 3 8B, same shapes): "type f32: 65, q8_0: 226", "CPU buffer size = 8137.64 MiB",
    # "model size = 7.95 GiB (8.50 BPW)"
    assert {k: v.tensors for k, v in r.by_type.items()} == {"Q8_0": 226, "F32": 65}
    assert f"{r.total_bytes / MIB:.2f}" == "8137.64"
    assert f"{r.total_bytes / GIB:.2f} GiB ({r.bits_per_weight:.2f} BPW)" == "7.95 GiB (8.50 BPW)"


def test_gpt_oss_20b_mxfp4_moe_matches_llama_cpp():
    r = reprice(paramscope.open_model("gpt-oss-20b"), "mxfp4_moe")
    # llama.cpp: "q8_0: 98 tensors, mxfp4: 72" (gate_up split in two: 48 fused here), "11.27 GiB"
    assert r.by_type["Q8_0"].tensors == 98 and r.by_type["MXFP4"].tensors == 48
    assert f"{r.total_bytes / GIB:.2f}" == "11.27"


def test_llama_3_1_70b_bumps_attn_v():
    r = reprice(paramscope.open_model("llama-3.1-70b"), "q4_k_m")
    # 80 layers with GQA is LLM_TYPE_70B: the 40 attn_v that are not Q6_K go Q4_K → Q5_K
    assert Counter(types(r, "v_proj.weight")) == {"Q6_K": 40, "Q5_K": 40}


# --- rules on hand-built models --------------------------------------------------------------------------
def test_q4_k_m_rules_and_counters():
    r = reprice(gguf_model(n_layers=8), "q4_k_m")
    more = ["Q6_K" if qs.use_more_bits(i, 8) else "Q4_K" for i in range(8)]
    assert more == ["Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q6_K"]
    assert types(r, "attn_v.weight") == more and types(r, "ffn_down.weight") == more
    assert types(r, "output.weight") == ["Q6_K"] and types(r, "token_embd.weight") == ["Q4_K"]
    assert set(types(r, "attn_q.weight")) == {"Q4_K"}
    assert {row.type for row in r.rows if row.name.endswith("_norm.weight")} == {"F32"}
    q4k, q6k = DType.Q4_K, DType.Q6_K
    assert next(row for row in r.rows if row.name == "blk.0.attn_v.weight").bytes == q6k.nbytes(64 * 256)
    assert r.total_bytes == sum(row.bytes for row in r.rows)
    assert r.by_type["Q4_K"].bytes == q4k.nbytes(sum(row.params for row in r.rows if row.type == "Q4_K"))


def qkv_model(n_layers=8, hidden=256, kv=64):
    """A Phi-3-shaped model with GGUF names: one fused attn_qkv a layer, no attn_v."""
    ts = [T("token_embd.weight", (1024, hidden)), T("output.weight", (1024, hidden))]
    for i in range(n_layers):
        p = f"blk.{i}."
        ts += [T(p + "attn_qkv.weight", (hidden + 2 * kv, hidden)),
               T(p + "attn_output.weight", (hidden, hidden)),
               T(p + "ffn_up.weight", (1024, hidden)), T(p + "ffn_down.weight", (hidden, 512))]
    return Model("gguf", "test", tuple(ts), cfg(n_layers=n_layers))


def test_attn_qkv_takes_attn_v_rules_now_and_its_own_before_2026_03():
    more = ["Q6_K" if qs.use_more_bits(i, 8) else "Q4_K" for i in range(8)]
    # since PR #19770, category_is_attn_v: attn_qkv counts and bumps as attn_v does
    assert types(reprice(qkv_model(), "q4_k_m"), "attn_qkv.weight") == more
    # before it, attn_qkv's own branch: one type for every layer, by file type
    for scheme, want in (("q4_k_m", "Q5_K"), ("q5_k_m", "Q6_K"), ("q3_k_m", "Q4_K"), ("q3_k_l", "Q4_K"),
                         ("q4_k_s", "Q4_K"), ("iq3_m", "Q4_K")):
        r = reprice(qkv_model(), scheme + "_before_2026_03")
        assert set(types(r, "attn_qkv.weight")) == {want}, scheme
        assert r.scheme == qs.lookup(scheme).name + " (before 2026-03)"
    # the rules of ffn_down and the output did not change
    old, new = reprice(qkv_model(), "q4_k_m_before_2026_03"), reprice(qkv_model(), "q4_k_m")
    assert types(old, "ffn_down.weight") == types(new, "ffn_down.weight") == more
    # each names the other's difference
    (note,) = [n for n in new.notes if "PR #19770" in n]
    diff = old.total_bytes - new.total_bytes
    assert "made before March 2026" in note and f"{diff:+,} B" in note  # under 0.05 MiB: in bytes
    assert "q4_k_m_before_2026_03" in note
    (note,) = [n for n in old.notes if "PR #19770" in n]
    assert "made since March 2026" in note and f"{-diff:+,} B" in note
    # a model without attn_qkv or attn_kv_b prices alike in both, and says nothing of it
    plain = reprice(gguf_model(), "q4_k_m")
    assert plain.total_bytes == reprice(gguf_model(), "q4_k_m_before_2026_03").total_bytes
    assert not [n for n in plain.notes if "PR #19770" in n]


def test_before_2026_03_attn_v_counts_attn_qkv_without_advancing():
    # a hybrid: attn_qkv in three layers of four, attn_v in the fourth (Qwen3.5's layout). n_attention_wv
    # counts both (8 here); before PR #19770 only attn_v advanced the counter, so the two attn_v are its
    # tensors 0 and 1 of 8: Q6_K both (the first eighth)
    ts = [T("token_embd.weight", (1024, 256)), T("output.weight", (1024, 256))]
    for i in range(8):
        name = "attn_v" if i % 4 == 3 else "attn_qkv"
        ts += [T(f"blk.{i}.{name}.weight", (64, 256))]
    model = Model("gguf", "test", tuple(ts), cfg(n_layers=8))
    old = reprice(model, "q4_k_m_before_2026_03")
    assert types(old, "attn_v.weight") == ["Q6_K", "Q4_K"] and set(types(old, "attn_qkv.weight")) == {"Q5_K"}
    # now all eight share the counter: layers 3 and 7 are its tensors 3 and 7
    new = reprice(model, "q4_k_m")
    assert types(new, "attn_v.weight") == ["Q6_K", "Q6_K"]
    assert types(new, "attn_qkv.weight") == ["Q6_K", "Q4_K", "Q4_K", "Q4_K", "Q4_K", "Q6_K"]


@pytest.mark.parametrize(("source", "counts", "mib"), [
    # Unsloth's Qwen3.5-0.8B Q4_K_M as llama.cpp printed it (fixtures/engine_logs/llamacpp/r36l-qwen35-08b-*):
    # 152 q4_K, 18 q5_K (the linear layers' attn_qkv), 17 q6_K, 133 f32 (conv1d among them); 492.61 MiB
    ("engine_logs/configs/qwen3.5-0.8b-text.config.json",
     {"Q4_K": 152, "Q5_K": 18, "Q6_K": 17, "F32": 133}, 492.61),
    # Microsoft's Phi-3-mini-4k-instruct-q4.gguf (r36l-shimmy-*): 81 q4_K, 32 q5_K, 17 q6_K, 65 f32; 2.23 GiB
    ("phi-3-mini-4k-instruct", {"Q4_K": 81, "Q5_K": 32, "Q6_K": 17, "F32": 65}, 2.23 * 1024),
])
def test_files_made_before_2026_03_tensor_for_tensor(source, counts, mib):
    path = Path(__file__).parent / "fixtures" / source
    model = paramscope.open_model(str(path) if path.exists() else source)
    r = reprice(model, "q4_k_m_before_2026_03")
    text = [row for row in r.rows if row.component not in qs.MMPROJ_COMPONENTS]
    assert Counter(row.type for row in text) == counts
    # the printed figure's last digit: 0.01 MiB, or 0.01 GiB
    assert sum(row.bytes for row in text) / MIB == pytest.approx(mib, abs=0.005 * (1 if mib < 1000 else 1024))


def test_ssm_conv1d_stays_f32_and_gated_deltanet_qkv_is_attn_qkv():
    config = Path(__file__).parent / "fixtures/engine_logs/configs/qwen3.5-9b.config.json"
    model = paramscope.open_model(str(config))
    r = reprice(model, "q4_k_m")
    conv = [row for row in r.rows if row.name.endswith("conv1d.weight")]
    assert conv and {(row.type, row.why) for row in conv} == {("F32", "not quantized by llama.cpp")}
    qkv = [row for row in r.rows if row.name.endswith("linear_attn.in_proj_qkv.weight")]
    assert len(qkv) == 24 and {row.why for row in qkv} <= {"attn_v rule", ""}
    assert Counter(row.type for row in qkv) == {"Q6_K": 12, "Q4_K": 12}


def test_before_2026_03_fallback_and_explicit_imatrix():
    # rows of 96: Q2_K's fallback was IQ4_NL before PR #19770, Q4_0 now; the same bytes
    ts = (T("token_embd.weight", (1024, 256)), T("output.weight", (1024, 256)),
          T("blk.0.ffn_down.weight", (256, 96)), T("blk.0.attn_qkv.weight", (384, 256)))
    model = Model("gguf", "test", ts, cfg(n_layers=1))
    now, old = reprice(model, "q2_k"), reprice(model, "q2_k_before_2026_03")
    assert types(now, "ffn_down.weight") == ["Q4_0"] and types(old, "ffn_down.weight") == ["IQ4_NL"]
    down = [next(r.bytes for r in x.rows if "ffn_down" in r.name) for x in (now, old)]
    assert down[0] == down[1]
    # an explicit importance matrix is named in the note's scheme, so that it prices what the note says
    (note,) = [n for n in reprice(qkv_model(), "q4_k_m", imatrix=True).notes if "PR #19770" in n]
    assert "(scheme q4_k_m_imatrix_before_2026_03)" in note
    # a difference of a twentieth of a MiB or more is shown in MiB (Qwen3.5-9B: 12 attn_qkv in Q6_K, 12 in
    # Q4_K against all 24 in Q5_K)
    config = Path(__file__).parent / "fixtures/engine_logs/configs/qwen3.5-9b.config.json"
    (note,) = [n for n in reprice(paramscope.open_model(str(config)), "q4_k_m").notes if "PR #19770" in n]
    assert note.endswith("other types: -2.0 MiB (scheme q4_k_m_before_2026_03)")


def test_loaded_buffers_are_priced_f32_by_their_elements():
    # a buffer the model loads (not a parameter) is written by the converter in F32 when 1-D or scalar
    ts = (T("model.embed_tokens.weight", (1024, 256)),
          T("model.layers.0.layer_scalar", (1,), DType.BF16, is_parameter=False),
          T("model.layers.0.mlp.down_proj.weight", (256, 512)))
    r = reprice(Model("safetensors", "test", ts, cfg(n_layers=1)), "q4_0")
    (row,) = [row for row in r.rows if row.name.endswith("layer_scalar")]
    assert (row.type, row.bytes) == ("F32", 4)


def test_before_2026_03_spellings():
    for name in ("q4_k_m_before_2026_03", "Q4_K_M-before-2026-03", "q4_k_before_2026_03"):
        found = qs.lookup(name)
        assert isinstance(found, qs.FileType) and found.name == "Q4_K_M" and found.before_2026_03
    assert qs.lookup("bf16_before_2026_03") is None and qs.lookup("q4_k_pure_before_2026_03") is None
    assert "<file type>_before_2026_03" in qs.known_schemes()


def test_int4_group_and_symmetric_spellings():
    """int4 (and its aliases) take a group size and ``_sym``; one object per variant; int4_g128 is int4."""
    assert qs.lookup("int4_g128") is qs.lookup("awq") is qs.PLAIN_SCHEMES["int4"]
    for name, (group, sym) in {"int4_g32": (32, False), "W4A16-g32-sym": (32, True), "gptq_g64": (64, False),
                               "int4_sym": (128, True), "i4_g256_sym": (256, True)}.items():
        found = qs.lookup(name)
        assert found is qs.int4_scheme(group, sym) and qs.is_int4(found), name
        assert found.label == f"I4/g{group}" + ("/sym" if sym else "")
    assert qs.lookup("int4_g48") is None and qs.lookup("int8_g32") is None and qs.lookup("q4_k_m_sym") is None
    # AutoAWQ and GPTQ files keep zero points even when symmetric: no "_sym" for those names
    assert qs.lookup("awq_sym") is None and qs.lookup("gptq_g64_sym") is None
    assert qs.lookup("gptq_g64") is qs.int4_scheme(64, False) and qs.lookup("int4_g032") is None
    assert qs.is_int4(qs.lookup("int4_g32"), symmetric=False) and not qs.is_int4(qs.lookup("int4_sym"),
                                                                                  symmetric=False)
    assert not qs.is_int4(qs.lookup("int8")) and not qs.is_int4(qs.lookup("q4_0"))
    assert "int4_g{32,64,128,256}[_sym]" in qs.known_schemes()


def test_int4_variants_price_the_same_matrices_at_their_own_layout():
    """Smaller groups cost more scales; dropping the zero points saves half a byte a group a row; only the
    matrices int4 quantizes change."""
    m = gguf_model(hidden=256, kv=64, ffn=512)
    base = reprice(m, "int4")
    priced = {name: reprice(m, name) for name in ("int4_g32", "int4_g32_sym", "int4_sym", "int4_g256")}
    assert (priced["int4_g32"].total_bytes > priced["int4_g32_sym"].total_bytes > base.total_bytes
            > priced["int4_sym"].total_bytes > priced["int4_g256"].total_bytes - 1)
    for name, r in priced.items():
        quantized = {t.name for t in r.rows if t.type.startswith("I4/")}
        assert quantized == {t.name for t in base.rows if t.type == "I4/g128"}, name
        assert {t.type for t in r.rows if t.name in quantized} == {qs.lookup(name).label}
    assert_totals_match_rows(m, "int4_g32_sym")


def test_tied_embedding_is_quantized_as_the_output():
    r = reprice(gguf_model(head=False), "q4_k_m")
    assert types(r, "token_embd.weight") == ["Q6_K"]
    assert types(reprice(gguf_model(head=False), "q8_0"), "token_embd.weight") == ["Q8_0"]


def test_q2_k_follows_gqa():
    # n_gqa = 8 / 2 = 4 → attn_v Q4_K; with 8 / 4 = 2 → Q3_K; ffn_down Q3_K, attn_output Q3_K
    assert set(types(reprice(gguf_model(), "q2_k"), "attn_v.weight")) == {"Q4_K"}
    r = reprice(gguf_model(n_kv_heads=4), "q2_k")
    assert set(types(r, "attn_v.weight")) == {"Q3_K"}
    assert set(types(r, "ffn_down.weight")) == {"Q3_K"} and set(types(r, "attn_output.weight")) == {"Q3_K"}
    assert set(types(r, "attn_q.weight")) == {"Q2_K"}


def test_q3_k_m_and_q4_k_s_count_attn_v():
    r = reprice(gguf_model(n_layers=16), "q3_k_m")
    assert types(r, "attn_v.weight") == ["Q5_K"] * 2 + ["Q4_K"] * 14
    assert types(r, "ffn_down.weight")[:1] == ["Q5_K"] and set(types(r, "ffn_down.weight")[1:]) == {"Q4_K"}
    r = reprice(gguf_model(n_layers=16), "q4_k_s")
    assert types(r, "attn_v.weight") == ["Q5_K"] * 4 + ["Q4_K"] * 12
    assert types(r, "ffn_down.weight") == ["Q5_K"] * 2 + ["Q4_K"] * 14


def test_iq3_xs_middle_gate_and_up():
    r = reprice(gguf_model(n_layers=16, n_kv_heads=8), "iq3_xs")
    middle = ["IQ3_XXS" if 2 <= i < 14 else "IQ3_S" for i in range(16)]
    assert types(r, "ffn_gate.weight") == middle and types(r, "ffn_up.weight") == middle
    assert set(types(r, "attn_q.weight")) == {"IQ3_XXS"}


def test_imatrix_changes_the_rules_that_read_it():
    # IQ4_XS: the first eighth of ffn_down goes Q5_K only without an importance matrix
    plain = reprice(gguf_model(n_layers=16), "iq4_xs")
    assert types(plain, "ffn_down.weight")[:3] == ["Q5_K"] * 2 + ["IQ4_XS"]
    with_im = reprice(gguf_model(n_layers=16), "iq4_xs", imatrix=True)
    assert set(types(with_im, "ffn_down.weight")) == {"IQ4_XS"}
    assert any("with an importance matrix" in n for n in with_im.notes)
    # the scheme's own spelling says so too, for the CLI and the web page, which pass no imatrix argument
    spelled = reprice(gguf_model(n_layers=16), "iq4_xs_imatrix")
    assert spelled.rows == with_im.rows and spelled.scheme == "IQ4_XS (imatrix)"
    # an explicit argument still wins
    assert reprice(gguf_model(n_layers=16), "iq4_xs_imatrix", imatrix=False).rows == plain.rows
    # Q4_0: the first eighth of ffn_down in Q4_1 with one
    assert types(reprice(gguf_model(n_layers=16), "q4_0_imatrix"), "ffn_down.weight")[:3] == \
        ["Q4_1"] * 2 + ["Q4_0"]


def test_gguf_type_counts_merge_experts_and_leave_the_mmproj_out(gemma_gguf):
    # the real Gemma 3 270M Q4_K_M file's own tensors, by type, from its Hugging Face config
    counts = gguf_type_counts(paramscope.open_model("gemma-3-270m"), "q4_k_m")
    stored = Counter(t.dtype.value for t in paramscope.open_model(str(gemma_gguf)).tensors)
    assert counts == dict(stored) and list(counts) == sorted(counts, key=lambda t: -counts[t])
    # DeepSeek-V2-Lite: 64 experts a layer are one ffn_*_exps tensor, as in its GGUF (Ollama's file prints
    # 229 q5_K, 13 q6_K, 13 q8_0, 14 q5_1 and 108 f32 tensors)
    lite = gguf_type_counts(paramscope.open_model("DeepSeek-V2-Lite"), "q5_k_m_before_2026_03")
    assert lite == {"Q5_K": 229, "F32": 108, "Q5_1": 14, "Q6_K": 13, "Q8_0": 13}
    with pytest.raises(UnsupportedError, match=r"not a llama\.cpp type"):
        gguf_type_counts(paramscope.open_model("gemma-3-270m"), "int4")


def test_fallback_chain():
    # rows of 96: Q4_K (256) → Q5_0 (32); rows of 48: not even Q5_0 → F16
    r = reprice(gguf_model(hidden=96, kv=32, ffn=192), "q4_k_m")
    assert set(types(r, "attn_q.weight")) == {"Q5_0"}
    assert types(r, "output.weight") == ["Q8_0"]  # the output rule itself picks Q8_0 for 96-wide rows
    r = reprice(gguf_model(hidden=48, kv=16, ffn=96), "q4_k_m")
    assert set(types(r, "attn_q.weight")) == {"F16"}
    assert set(types(r, "ffn_down.weight")) == {"Q5_0", "Q8_0"}  # 96-long rows
    refused = reprice(gguf_model(hidden=48, kv=16, ffn=96), "q8_0")
    assert set(types(refused, "attn_q.weight")) == {"F16"}
    assert any("llama.cpp refuses" in n for n in refused.notes)


def moe_model(n_experts=8, per_expert=True, n_layers=4):
    ts = [T("model.embed_tokens.weight", (1024, 256)), T("lm_head.weight", (1024, 256)),
          T("model.norm.weight", (256,))]
    for i in range(n_layers):
        p = f"model.layers.{i}."
        ts += [T(p + "self_attn.q_proj.weight", (256, 256)), T(p + "self_attn.k_proj.weight", (64, 256)),
               T(p + "self_attn.v_proj.weight", (64, 256)), T(p + "self_attn.o_proj.weight", (256, 256)),
               T(p + "block_sparse_moe.gate.weight", (n_experts, 256)),
               T(p + "input_layernorm.weight", (256,))]
        if per_expert:
            for e in range(n_experts):
                q = f"{p}block_sparse_moe.experts.{e}."
                ts += [T(q + "w1.weight", (512, 256)), T(q + "w2.weight", (256, 512)),
                       T(q + "w3.weight", (512, 256))]
        else:
            ts += [T(p + "mlp.experts.gate_up_proj", (n_experts, 256, 1024)),
                   T(p + "mlp.experts.down_proj", (n_experts, 512, 256))]
    config = cfg(family="mixtral", architecture="MixtralForCausalLM", n_layers=n_layers,
                 n_experts=n_experts, n_experts_per_token=2)
    return Model("safetensors", "test", tuple(ts), config)


def test_eight_experts_take_q8_0_attention_and_merge_per_expert_tensors():
    r = reprice(moe_model(), "q4_k_m")
    assert set(types(r, "v_proj.weight")) == {"Q8_0"} and set(types(r, "k_proj.weight")) == {"Q8_0"}
    assert set(types(r, "o_proj.weight")) == {"Q5_K"}
    assert set(types(r, "gate.weight")) == {"F32"}  # the router is never quantized
    # ffn_down by block number (layer_info), each layer's 8 matrices one merged tensor: of 4 layers,
    # use_more_bits picks 2 ((2 - 0) % 3 == 2) and 3 (≥ 7 × 4 / 8)
    down = {(row.layer, row.type) for row in r.rows if row.name.endswith("w2.weight")}
    assert down == {(0, "Q4_K"), (1, "Q4_K"), (2, "Q6_K"), (3, "Q6_K")}


def test_mxfp4_moe_puts_experts_in_mxfp4():
    for model in (moe_model(), moe_model(per_expert=False)):
        r = reprice(model, "mxfp4_moe")
        expert_types = {row.type for row in r.rows if row.component.startswith("experts/")}
        assert expert_types == {"MXFP4"}
        assert set(types(r, "q_proj.weight")) == {"Q8_0"} and types(r, "lm_head.weight") == ["Q8_0"]


def test_pure_type_and_aliases():
    m = gguf_model()
    pure = reprice(m, "q4_k_pure")
    assert pure.scheme == "Q4_K (pure)" and pure.kind == "ggml"
    assert {row.type for row in pure.rows if not row.name.endswith("norm.weight")} == {"Q4_K"}
    assert reprice(m, "Q4_K").scheme == reprice(m, "q4-k-m").scheme == "Q4_K_M"
    assert reprice(m, "f16").total_bytes == reprice(m, "fp16").total_bytes
    assert reprice(m, "mxfp4").scheme == "MXFP4 (pure)"


def test_hf_source_keeps_unquantized_tensors_in_f32():
    r = reprice(moe_model(), "q8_0")
    assert types(r, "input_layernorm.weight") == ["F32"] * 4
    assert any("convert_hf_to_gguf" in n for n in r.notes)


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(UnsupportedError) as e:
        reprice(gguf_model(), "q3_k_xl")
    assert "'q3_k_xl'" in str(e.value) and "q4_k_m" in str(e.value) and "nf4" in str(e.value)
    with pytest.raises(UnsupportedError):
        reprice(gguf_model(), "f16_pure")


# --- plain schemes, by hand ------------------------------------------------------------------------------
def plain_model():
    ts = (T("model.embed_tokens.weight", (50, 200)), T("model.layers.0.mlp.down_proj.weight", (300, 200)),
          T("model.layers.0.mlp.down_proj.bias", (300,)), T("model.layers.0.input_layernorm.weight", (200,)),
          T("model.embeddings.position_ids", (1, 7), DType.I64, is_parameter=False))
    return Model("safetensors", "test", ts, cfg(n_layers=1))


@pytest.mark.parametrize(("scheme", "matrix"), [
    ("fp8", 300 * 200 + 4 * 3 * 2),  # 128 × 128 blocks: ceil(300/128) × ceil(200/128) float32 scales
    ("fp8_tensor", 300 * 200 + 4),
    ("int8", 300 * 200 + 4 * 300),  # a float32 scale per output row
    # AWQ: qweight 200 × ceil(300/8) int32, qzeros 2 groups × 38 int32, scales 2 groups × 300 fp16
    ("int4", 200 * 38 * 4 + 2 * 38 * 4 + 2 * 300 * 2),
    # nf4: 30000 B of nibbles, 938 8-bit absmax, ceil(938/256) = 4 float32 absmax, one float32 offset
    ("nf4", 30000 + 938 + 4 * 4 + 4),
])
def test_plain_quantized_matrix_bytes(scheme, matrix):
    r = reprice(plain_model(), scheme)
    rows = {row.name.split(".")[-2] + "." + row.name.split(".")[-1]: row for row in r.rows}
    assert rows["down_proj.weight"].bytes == matrix
    # everything else in the model's 16-bit dtype (BF16 here); the buffer as stored
    assert rows["embed_tokens.weight"].bytes == 50 * 200 * 2 and rows["embed_tokens.weight"].type == "BF16"
    assert rows["down_proj.bias"].type == "BF16" and rows["input_layernorm.weight"].type == "BF16"
    assert rows["embeddings.position_ids"].bytes == 7 * 8
    assert r.total_bytes == matrix + (50 * 200 + 300 + 200) * 2 + 56


def test_plain_casts_and_f32_model_half_dtype():
    m = plain_model()
    params = 50 * 200 + 300 * 200 + 300 + 200
    assert reprice(m, "fp32").total_bytes == params * 4 + 56
    assert reprice(m, "bf16").bits_per_weight == pytest.approx(16 + 8 * 56 / params)
    f32 = Model("safetensors", "test", (T("embed_tokens.weight", (50, 200), DType.F32),), None)
    assert reprice(f32, "int8").rows[0].type == "F16"  # vLLM dtype="auto": F16 for an F32 model


def test_tied_head_priced_once_and_side_data_dropped():
    ts = (T("model.embed_tokens.weight", (64, 256)), T("lm_head.weight", (64, 256)),
          T("model.layers.0.mlp.down_proj.qweight", (32, 256), DType.I32, weight_bits=4),
          T("model.layers.0.mlp.down_proj.scales", (2, 256), DType.F16, is_parameter=False),
          T("model.layers.0.mlp.down_proj.qzeros", (2, 32), DType.I32, is_parameter=False))
    m = Model("safetensors", "test", ts, cfg(n_layers=1, tied_embeddings=True),
              quantization=from_hf_config({"quant_method": "gptq", "bits": 4}))
    r = reprice(m, "bf16")
    embed, down = r.rows
    assert (embed.name, down.name) == ("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.qweight")
    assert down.shape == (256, 256) and down.params == 65536 and down.bytes == 65536 * 2  # GPTQ unpacked
    assert any("tied" in n for n in r.notes) and any("side data (2 tensors" in n for n in r.notes)


# --- properties over the whole catalogue ----------------------------------------------------------------
# DeepSeek-V3 and R1 (90k tensors, 4 CPU-s each) and Qwen3-30B-A3B (2 CPU-s) run long: make test-fast
# leaves them out
LONG_ENTRIES = {"deepseek-v3", "deepseek-r1", "qwen3-30b-a3b"}


# (on the catalogue worker, beside test_catalogue.py, which has built their Models: open_entry keeps them)
LONG = [pytest.mark.slow, pytest.mark.xdist_group("catalogue")]


@pytest.mark.parametrize("name", [pytest.param(e.name, marks=LONG * (e.name in LONG_ENTRIES))
                                  for e in catalogue.entries()])
def test_catalogue_order_of_schemes(name):
    m = paramscope.open_model(name)
    b = {s: reprice(m, s).total_bytes for s in ("q4_k_m", "q8_0", "bf16", "fp32", "int4", "int8")}
    assert b["q4_k_m"] < b["q8_0"] < b["bf16"] < b["fp32"]
    assert b["int4"] < b["int8"] < b["bf16"]


@pytest.mark.slow  # runs long: prices DeepSeek-V2-Lite in every scheme
def test_every_file_type_and_plain_scheme_runs():
    m = paramscope.open_model("deepseek-v2-lite")  # MLA, shared and routed experts, dense first layer
    n = m.params
    for name in [*qs.FILE_TYPES, *qs.PLAIN_SCHEMES]:
        r = reprice(m, name)
        assert r.params == n and r.total_bytes == sum(t.bytes for t in r.by_type.values())
        assert 1.125 < r.bits_per_weight <= 32.0001, name


# --- reprice_totals: the sums `fit` and `size` show, without a row per tensor ------------------------------
def assert_totals_match_rows(m, scheme, **kw):
    """reprice_totals shares cells between units of one kind and counts them; the rows price each tensor."""
    r, t = reprice(m, scheme, **kw), reprice_totals(m, scheme, **kw)
    assert (t.scheme, t.kind, t.description, t.notes) == (r.scheme, r.kind, r.description, r.notes)
    assert list(t.by_type.items()) == list(r.by_type.items())  # same tallies, in the same order
    assert (t.total_bytes, t.params, t.source_bytes) == (r.total_bytes, r.params, r.source_bytes)
    assert t.bits_per_weight == r.bits_per_weight


@pytest.mark.parametrize("scheme", [*qs.FILE_TYPES, *qs.PLAIN_SCHEMES, "q4_k_pure", "q8_0_pure"])
def test_totals_match_rows_on_fallbacks_and_refusals(scheme):
    # rows of 48 and 96 are not a whole number of K blocks: fallbacks, and refusals for some types
    for m in (gguf_model(hidden=48, kv=16, ffn=96), gguf_model(n_layers=16, head=False)):
        assert_totals_match_rows(m, scheme)
    assert_totals_match_rows(gguf_model(n_layers=16), scheme, imatrix=True)


def test_totals_match_rows_on_a_gguf_of_mixed_types(gemma_gguf):
    m = paramscope.open_model(str(gemma_gguf))  # Q4_K_M: Q5_0, Q8_0, Q6_K, F32 tensors as stored
    assert len({t.dtype for t in m.tensors}) > 2
    for scheme in ("q4_k_m", "q3_k_s", "iq3_xxs", "q4_0_pure", "int4", "bf16"):
        assert_totals_match_rows(m, scheme)


@pytest.mark.parametrize("name", ["deepseek-v2-lite", "gpt-oss-20b", "qwen1.5-moe-a2.7b",
                                  pytest.param("deepseek-v3", marks=LONG)])
def test_totals_match_rows_on_moe_models(name):
    # dense first layers beside expert layers (DeepSeek), packed MXFP4 experts (gpt-oss)
    m = paramscope.open_model(name)
    for scheme in ("q4_k_m", "q2_k", "iq3_xxs", "mxfp4_moe", "int4", "fp8"):
        assert_totals_match_rows(m, scheme)


# --- weights as an engine holds a quantized checkpoint (knowledge/quant_layouts.ENGINE_LAYOUTS) ------
ENGINE_LOGS = Path(__file__).parent / "fixtures" / "engine_logs" / "vllm"


def printed_weights(record: str) -> int:
    """'Model loading took X GiB' of a vLLM record (tests/fixtures/engine_logs), in bytes."""
    rec = json.loads((ENGINE_LOGS / f"{record}.json").read_text())
    (fig,) = [f for f in rec["figures"] if f["name"] == "weights"]
    assert fig["unit"] == "GiB"
    return round(float(fig["value"]) * GIB)


@pytest.mark.parametrize(("record", "model", "backend"), [
    ("33155-gpt-oss-120b-h100-v0141", "gpt-oss-120b", "triton"),  # log: "Using Triton backend"
    ("23278-gpt-oss-120b-h100", "gpt-oss-120b", "marlin"),  # log: "... leveraging the Marlin kernel"
    ("myoceane-gpt-oss-20b-a100-v0190", "gpt-oss-20b", "marlin"),  # A100: CUDA capability 8.0
])
def test_vllm_mxfp4_weights_match_the_engine_log(record, model, backend):
    """Stored bytes (60.8 GiB for 120b) are 5–8 % under what vLLM holds: it pads the experts per backend
    and the Triton backend keeps a swizzled copy of the scales. With that, within 0.5 % (the rest is the
    RoPE cache and allocator rounding, which the vLLM profile adds on its own)."""
    m = paramscope.open_model(model)
    loaded = loaded_weights(m, "vllm", backend=backend)
    printed = printed_weights(record)
    assert loaded.stored_bytes == m.tensor_bytes < loaded.bytes < printed
    assert abs(loaded.bytes - printed) / printed < 0.005
    assert abs(m.tensor_bytes - printed) / printed > 0.02  # the stored bytes alone would not do


def test_vllm_backend_follows_the_device():
    m = paramscope.open_model("gpt-oss-120b")
    assert loaded_weights(m, "vllm", find_device("h100")).backend == "triton"
    assert loaded_weights(m, "vllm", find_device("a100-80g")).backend == "marlin"
    assert loaded_weights(m, "vllm").backend == "triton"
    with pytest.raises(UnsupportedError, match="unknown vLLM MXFP4 backend"):
        loaded_weights(m, "vllm", backend="cuda-graphs")


def test_vllm_pads_each_tensor_parallel_rank():
    """gpt-oss-120b at TP 4: intermediate 2880 / 4 = 720 per rank, padded to 768 (Triton: multiple of 64)."""
    m = paramscope.open_model("gpt-oss-120b")
    tp1 = loaded_weights(m, "vllm", backend="triton").bytes
    tp4 = loaded_weights(m, "vllm", backend="triton", tensor_parallel=4).bytes
    assert tp4 > tp1
    e, h, layers = 128, 2880, 36
    rank_gate_up = e * 2 * 768 * (h // 2 + h // 32 + 4) + e * 2 * 768 * (h // 32)  # + swizzled scales
    rank_down = e * h * (768 // 2 + 768 // 32 + 4) + e * 3072 * 24  # rows padded to 256, blocks to 2
    stored_experts = layers * sum(t.nbytes for t in m.tensors if ".layers.0.mlp.experts." in t.name)
    assert tp4 - (m.tensor_bytes - stored_experts) == layers * 4 * (rank_gate_up + rank_down)


def test_other_runtimes_and_methods_take_the_stored_bytes():
    m = paramscope.open_model("gpt-oss-20b")
    assert loaded_weights(m, "llama.cpp").bytes == m.tensor_bytes
    d = paramscope.open_model("deepseek-v3")
    assert loaded_weights(d, "vllm").bytes == d.tensor_bytes


def test_size_as_stored_on_vllm_includes_the_mxfp4_layout():
    est = paramscope.size("gpt-oss-120b", runtime="vllm", gpu="h100", context=4096)
    assert est.estimate.weights_bytes == loaded_weights(paramscope.open_model("gpt-oss-120b"), "vllm").bytes
    assert any("vLLM triton MXFP4 backend" in line for line in est.estimate.explain)


def test_repricing_a_quantized_checkpoint_says_what_it_assumes():
    r = reprice(paramscope.open_model("gpt-oss-120b"), "q4_k_m")
    assert any("already quantized (mxfp4" in n and "omit --weights" in n for n in r.notes)
    assert any("dropped the source's quantization side data" in n for n in r.notes)
    plain = reprice(paramscope.open_model("llama-3.1-8b"), "int4")
    assert not any("already quantized" in n for n in plain.notes)


GPTQ_RUNS = [("11230-qwen25-72b-gptq-a40-v064", "qwen2.5-72b-instruct-gptq-int4.config.json", 1),
             ("xinference2389-qwen25-72b-gptq-int8-tp4", "qwen2.5-72b-instruct-gptq-int8.config.json", 4)]


@pytest.mark.parametrize(("record", "config", "tp"), GPTQ_RUNS)
def test_vllm_gptq_marlin_drops_zero_points_and_g_idx(record, config, tp):
    """vLLM's Marlin kernel replaces a symmetric GPTQ checkpoint's qzeros, and g_idx without act-order, by
    empty tensors; what is left (plus the RoPE cache) is what V0 printed, within 0.25 %, and nearer than
    the stored bytes."""
    m = paramscope.open_model(str(ENGINE_LOGS.parent / "configs" / config))
    loaded = loaded_weights(m, "vllm")
    dropped = sum(t.nbytes for t in m.tensors if t.name.endswith((".qzeros", ".g_idx")))
    assert loaded.backend == "marlin" and dropped > 0
    assert loaded.bytes == m.tensor_bytes - dropped
    rec = json.loads((ENGINE_LOGS / f"{record}.json").read_text())
    (fig,) = [f for f in rec["figures"] if f["name"] == "weights"]
    printed = float(fig["value"]) * GIB  # "Loading model weights took … GB": GiB
    rope = 32768 * 128 * 2
    assert abs(loaded.bytes / tp + rope - printed) / printed < 0.0025
    assert abs(loaded.bytes / tp + rope - printed) < abs(m.tensor_bytes / tp + rope - printed)


def test_vllm_gptq_keeps_g_idx_with_act_order_and_everything_when_asymmetric(tmp_path):
    """Act-order: Marlin keeps g_idx (sorted) and adds its sort indices, an int32 per input row (vLLM
    before 0.30, which refuses such checkpoints); asymmetric: every stored tensor kept."""
    from paramscope.analyses.sizing.loaded import EngineBuild

    base = json.loads((ENGINE_LOGS.parent / "configs" / GPTQ_RUNS[0][1]).read_text())
    for desc_act, sym, kept in ((True, True, (".g_idx",)), (False, False, (".qzeros", ".g_idx"))):
        cfg = {**base, "quantization_config": {**base["quantization_config"], "desc_act": desc_act,
                                               "sym": sym}}
        path = tmp_path / f"{desc_act}-{sym}" / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps(cfg))
        m = paramscope.open_model(str(path))
        gone = sum(t.nbytes for t in m.tensors if t.name.endswith((".qzeros", ".g_idx"))
                   and not t.name.endswith(kept))
        g_idx = sum(t.nbytes for t in m.tensors if t.name.endswith(".g_idx"))
        sort_indices = g_idx if desc_act and sym else 0
        loaded = loaded_weights(m, "vllm", build=EngineBuild("v1", (0, 29, 0)))
        assert loaded.bytes == m.tensor_bytes - gone + sort_indices


def test_vllm_builds_a_llava_tower_only_up_to_its_feature_layer(tmp_path):
    # llava-v1.6-mistral-7b: CLIP-L's 24 layers, vision_feature_layer -2 → vLLM builds 24 − 2 + 1 = 23
    # (models/llava.py _get_num_hidden_layers) and no post-norm: one layer of 1024 wide (4 × 1024² + 2 ×
    # 1024 × 4096 weights, their biases, two layer norms) and the post-norm's 2 × 1024, in fp16
    source = Path(__file__).parent / "fixtures" / "configs" / "llava-hf__llava-v1.6-mistral-7b-hf.json"
    m = paramscope.open_model(str(source))
    layer = 4 * 1024 * 1024 + 4 * 1024 + 2 * 1024 * 4096 + 4096 + 1024 + 2 * 2 * 1024
    freed = (layer + 2 * 1024) * 2
    assert m.tensor_bytes - loaded_weights(m, "vllm").bytes == freed == 25_196_544
    # other runtimes build the whole tower
    assert loaded_weights(m, "sglang").bytes == m.tensor_bytes
    # a feature layer given as a list: the deepest one counts; -1 builds every layer (the post-norm still not)
    raw = json.loads(source.read_text())
    for wanted, dropped in (([-2, -5], freed), (-1, 2 * 1024 * 2)):
        path = tmp_path / f"llava-{abs(wanted if isinstance(wanted, int) else wanted[0])}.json"
        path.write_text(json.dumps({**raw, "vision_feature_layer": wanted}))
        other = paramscope.open_model(str(path))
        assert other.tensor_bytes - loaded_weights(other, "vllm").bytes == dropped


def test_a_llava_config_without_its_feature_layer_takes_the_architectures_default(tmp_path):
    # transformers' LlavaNextConfig defaults vision_feature_layer to −2: the same 23 layers are built
    source = Path(__file__).parent / "fixtures" / "configs" / "llava-hf__llava-v1.6-mistral-7b-hf.json"
    raw = json.loads(source.read_text())
    raw.pop("vision_feature_layer")
    path = tmp_path / "llava-next-default.json"
    path.write_text(json.dumps(raw))
    m = paramscope.open_model(str(path))
    assert m.tensor_bytes - loaded_weights(m, "vllm").bytes == 25_196_544
