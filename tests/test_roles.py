"""Tensor names → component, role and layer, for the spellings real checkpoints use."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramscope.knowledge import roles
from paramscope.knowledge.roles import place

CASES = [
    # Llama / Qwen / Mistral (Hugging Face)
    ("model.embed_tokens.weight", "embedding", "weight", None),
    ("model.layers.0.self_attn.q_proj.weight", "attention/q", "weight", 0),
    ("model.layers.12.self_attn.k_proj.bias", "attention/k", "bias", 12),
    ("model.layers.3.self_attn.v_proj.weight", "attention/v", "weight", 3),
    ("model.layers.3.self_attn.o_proj.weight", "attention/o", "weight", 3),
    ("model.layers.3.self_attn.q_norm.weight", "norm", "norm", 3),
    ("model.layers.3.mlp.gate_proj.weight", "ffn/gate", "weight", 3),
    ("model.layers.3.mlp.up_proj.weight", "ffn/up", "weight", 3),
    ("model.layers.3.mlp.down_proj.weight", "ffn/down", "weight", 3),
    ("model.layers.3.input_layernorm.weight", "norm", "norm", 3),
    ("model.layers.3.post_attention_layernorm.weight", "norm", "norm", 3),
    ("model.layers.3.pre_feedforward_layernorm.weight", "norm", "norm", 3),
    ("model.norm.weight", "norm", "norm", None),
    ("lm_head.weight", "output", "weight", None),
    # Phi-3 fused projections
    ("model.layers.1.self_attn.qkv_proj.weight", "attention/qkv", "weight", 1),
    ("model.layers.1.mlp.gate_up_proj.weight", "ffn/gate_up", "weight", 1),
    # Mixtral
    ("model.layers.5.block_sparse_moe.gate.weight", "router", "weight", 5),
    ("model.layers.5.block_sparse_moe.experts.7.w1.weight", "experts/gate", "weight", 5),
    ("model.layers.5.block_sparse_moe.experts.7.w2.weight", "experts/down", "weight", 5),
    ("model.layers.5.block_sparse_moe.experts.7.w3.weight", "experts/up", "weight", 5),
    # Qwen MoE
    ("model.layers.2.mlp.gate.weight", "router", "weight", 2),
    ("model.layers.2.mlp.experts.59.gate_proj.weight", "experts/gate", "weight", 2),
    ("model.layers.2.mlp.shared_expert.up_proj.weight", "shared_experts/up", "weight", 2),
    ("model.layers.2.mlp.shared_expert_gate.weight", "router", "weight", 2),
    # DeepSeek V3 (MLA, shared experts, router bias)
    ("model.layers.9.self_attn.q_a_proj.weight", "attention/q_a", "weight", 9),
    ("model.layers.9.self_attn.q_a_layernorm.weight", "norm", "norm", 9),
    ("model.layers.9.self_attn.q_b_proj.weight", "attention/q_b", "weight", 9),
    ("model.layers.9.self_attn.kv_a_proj_with_mqa.weight", "attention/kv_a", "weight", 9),
    ("model.layers.9.self_attn.kv_a_layernorm.weight", "norm", "norm", 9),
    ("model.layers.9.self_attn.kv_b_proj.weight", "attention/kv_b", "weight", 9),
    ("model.layers.9.mlp.gate.e_score_correction_bias", "router", "bias", 9),
    # the same score bias as Sarvam, Hy3 and MiniMax-M2 checkpoints name it
    ("model.layers.3.mlp.gate.expert_bias", "router", "bias", 3),
    ("model.layers.3.mlp.expert_bias", "router", "bias", 3),
    ("model.layers.3.block_sparse_moe.e_score_correction_bias", "router", "bias", 3),
    ("model.layers.9.mlp.shared_experts.down_proj.weight", "shared_experts/down", "weight", 9),
    # gpt-oss
    ("model.layers.0.mlp.router.weight", "router", "weight", 0),
    ("model.layers.0.mlp.experts.gate_up_proj_blocks", "experts/gate_up", "weight", 0),
    ("model.layers.0.mlp.experts.down_proj_bias", "experts/down", "bias", 0),
    ("model.layers.0.self_attn.sinks", "attention/sinks", "weight", 0),
    # MiniMax-Text-01 (lightning attention layers)
    ("model.layers.0.self_attn.output_gate.weight", "attention/gate", "weight", 0),
    ("model.layers.0.self_attn.qkv_proj.weight", "attention/qkv", "weight", 0),
    # GPT-2
    ("wte.weight", "embedding", "weight", None),
    ("wpe.weight", "embedding/position", "weight", None),
    ("h.0.attn.c_attn.weight", "attention/qkv", "weight", 0),
    ("h.0.attn.c_attn.bias", "attention/qkv", "bias", 0),
    ("h.0.attn.c_proj.weight", "attention/o", "weight", 0),
    ("h.0.mlp.c_fc.weight", "ffn/up", "weight", 0),
    ("h.0.mlp.c_proj.weight", "ffn/down", "weight", 0),
    ("h.0.ln_1.weight", "norm", "norm", 0),
    ("h.0.ln_1.bias", "norm", "bias", 0),
    ("ln_f.weight", "norm", "norm", None),
    # BERT / all-MiniLM-L6-v2
    ("embeddings.word_embeddings.weight", "embedding", "weight", None),
    ("embeddings.position_embeddings.weight", "embedding/position", "weight", None),
    ("embeddings.token_type_embeddings.weight", "embedding/token_type", "weight", None),
    ("embeddings.LayerNorm.weight", "norm", "norm", None),
    ("encoder.layer.4.attention.self.query.weight", "attention/q", "weight", 4),
    ("encoder.layer.4.attention.self.key.bias", "attention/k", "bias", 4),
    ("encoder.layer.4.attention.self.value.weight", "attention/v", "weight", 4),
    ("encoder.layer.4.attention.output.dense.weight", "attention/o", "weight", 4),
    ("encoder.layer.4.attention.output.LayerNorm.bias", "norm", "bias", 4),
    ("encoder.layer.4.intermediate.dense.weight", "ffn/up", "weight", 4),
    ("encoder.layer.4.output.dense.weight", "ffn/down", "weight", 4),
    ("encoder.layer.4.output.LayerNorm.weight", "norm", "norm", 4),
    ("pooler.dense.weight", "other", "weight", None),
    # Gemma 3 multimodal
    ("language_model.model.layers.2.self_attn.q_proj.weight", "attention/q", "weight", 2),
    ("vision_tower.vision_model.encoder.layers.3.self_attn.q_proj.weight", "vision", "weight", None),
    ("vision_tower.vision_model.embeddings.patch_embedding.weight", "vision", "weight", None),
    ("multi_modal_projector.mm_input_projection_weight", "projector", "weight", None),
    ("multi_modal_projector.mm_soft_emb_norm.weight", "projector", "norm", None),
    # wrappers' heads, projectors and towers under other prefixes (LLaVA / Llama 4; Mllama's one-Linear
    # projector; Idefics3 / SmolVLM's connector; LLaVA-NeXT's image_newline; Qwen3-VL's model.visual)
    ("language_model.lm_head.weight", "output", "weight", None),
    ("multi_modal_projector.weight", "projector", "weight", None),
    ("model.connector.modality_projection.proj.weight", "projector", "weight", None),
    ("image_newline", "projector", "weight", None),
    ("model.visual.blocks.3.attn.qkv.weight", "vision", "weight", None),
    ("model.visual.merger.norm.weight", "vision", "norm", None),
    ("vision_tower.vision_model.encoder.layers.0.layer_norm1.weight", "vision", "norm", None),
    ("vision_tower.vision_model.post_layernorm.bias", "vision", "bias", None),
    # Gemma 3n: text model, timm vision tower, USM audio tower, per-tower embedders, per-layer embeddings
    ("model.language_model.layers.4.self_attn.q_proj.weight", "attention/q", "weight", 4),
    ("model.language_model.layers.4.laurel.linear_left.weight", "other", "weight", 4),
    ("model.language_model.embed_tokens_per_layer.weight", "other", "weight", None),
    ("model.vision_tower.timm_model.blocks.3.1.attn.query.proj.weight", "vision", "weight", None),
    ("model.audio_tower.conformer.3.attention.attn.q_proj.weight", "audio", "weight", None),
    ("model.audio_tower.conformer.3.ffw_layer_start.pre_layer_norm.weight", "audio", "norm", None),
    ("model.embed_vision.embedding_projection.weight", "projector", "weight", None),
    ("model.embed_audio.hard_embedding_norm.weight", "projector", "norm", None),
    ("a.blk.0.attn_q.weight", "audio", "weight", None),
    # Aria's fused experts, as its checkpoints name them
    ("language_model.model.layers.5.mlp.experts.fc1.weight", "experts/gate_up", "weight", 5),
    ("language_model.model.layers.5.mlp.experts.fc2.weight", "experts/down", "weight", 5),
    ("language_model.model.layers.5.mlp.router.weight", "router", "weight", 5),
    # Gemma 4's routed block beside its dense MLP
    ("model.language_model.layers.2.router.proj.weight", "router", "weight", 2),
    ("model.language_model.layers.2.router.per_expert_scale", "router", "weight", 2),
    ("model.language_model.layers.2.router.scale", "router", "weight", 2),
    ("model.language_model.layers.2.experts.gate_up_proj", "experts/gate_up", "weight", 2),
    ("model.language_model.layers.2.mlp.gate_proj.weight", "ffn/gate", "weight", 2),
    # Granite Speech: a top-level Conformer and Q-Former (gguf-py tensor_mapping's A_ENC_* / A_QF_*), beside
    # BartModel's bare encoder.layers.N.…, which stays text
    ("encoder.layers.3.attn.to_q.weight", "audio", "weight", None),
    ("encoder.layers.3.conv.batch_norm.running_mean", "audio", "weight", None),
    ("encoder.layers.3.ff2.pre_norm.bias", "audio", "bias", None),
    ("encoder.out_mid.weight", "audio", "weight", None),
    ("projector.qformer.encoder.layer.1.crossattention.attention.key.weight", "projector", "weight", None),
    ("projector.query", "projector", "weight", None),
    ("encoder.layers.3.self_attn.q_proj.weight", "attention/q", "weight", 3),
    ("encoder.layers.3.fc1.weight", "ffn/up", "weight", 3),
    # GGUF (llama.cpp names)
    ("token_embd.weight", "embedding", "weight", None),
    ("blk.0.attn_q.weight", "attention/q", "weight", 0),
    ("blk.0.attn_k.weight", "attention/k", "weight", 0),
    ("blk.0.attn_v.weight", "attention/v", "weight", 0),
    ("blk.0.attn_output.weight", "attention/o", "weight", 0),
    ("blk.0.attn_qkv.weight", "attention/qkv", "weight", 0),
    ("blk.0.attn_norm.weight", "norm", "norm", 0),
    ("blk.0.attn_q_norm.weight", "norm", "norm", 0),
    ("blk.0.post_attention_norm.weight", "norm", "norm", 0),
    ("blk.0.ffn_norm.weight", "norm", "norm", 0),
    ("blk.0.post_ffw_norm.weight", "norm", "norm", 0),
    ("blk.0.ffn_gate.weight", "ffn/gate", "weight", 0),
    ("blk.0.ffn_up.weight", "ffn/up", "weight", 0),
    ("blk.0.ffn_down.weight", "ffn/down", "weight", 0),
    ("blk.7.ffn_gate_inp.weight", "router", "weight", 7),
    ("blk.7.exp_probs_b.bias", "router", "bias", 7),
    ("blk.7.ffn_gate_exps.weight", "experts/gate", "weight", 7),
    ("blk.7.ffn_up_exps.weight", "experts/up", "weight", 7),
    ("blk.7.ffn_down_exps.weight", "experts/down", "weight", 7),
    ("blk.7.ffn_gate_shexp.weight", "shared_experts/gate", "weight", 7),
    ("blk.7.attn_kv_a_mqa.weight", "attention/kv_a", "weight", 7),
    ("blk.7.attn_kv_b.weight", "attention/kv_b", "weight", 7),
    ("blk.7.attn_q_a_norm.weight", "norm", "norm", 7),
    ("output_norm.weight", "norm", "norm", None),
    ("output.weight", "output", "weight", None),
    ("rope_freqs.weight", "other", "weight", None),
    ("v.blk.0.attn_q.weight", "vision", "weight", None),
    ("mm.input_projection.weight", "projector", "weight", None),
]


@pytest.mark.parametrize(("name", "component", "role", "layer"), CASES)
def test_place(name, component, role, layer):
    p = place(name)
    assert (p.component, p.role, p.layer) == (component, role, layer)


# The table's patterns, their words ("q_proj", "attn.c_proj") and names built from them
PATTERNS = ([p for _, patterns in roles.COMPONENTS for p in patterns] + [p for p, _ in roles._PARENT_HINTS]
            + [p for kind in [*roles.TOWERS, "norm"] for p in roles._PATTERNS[kind]])
WORDS = sorted({w.replace("\\.", ".") for p in PATTERNS for w in re.findall(r"(?:[A-Za-z0-9_]|\\\.)+", p)}
               | {"x", "0", "17"})
NAMES = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([".", "_", "", "\n", "..", "s", "-"])),
                 min_size=1, max_size=5).map(lambda parts: "".join(w + sep for w, sep in parts))


def _same_as_re(text: str) -> None:
    for p in PATTERNS:
        assert roles._test(p)(text) == (re.search(p, text) is not None), (p, text)


def test_word_patterns_match_as_re_does():
    # _test answers "^word$", "\\.word$", "(^|\\.)word$" and "^word" with str methods: as re.search would,
    # on every word of the table alone, after a dot or a prefix, before a newline ("$" matches there)
    for word in WORDS:
        for before in ("", ".", "x.", "\n", "s"):
            for after in ("", "\n", "\n\n", ".", "s", ".x"):
                _same_as_re(before + word + after)


@given(NAMES)
def test_word_patterns_match_as_re_does_on_longer_names(name):
    _same_as_re(name)
    _same_as_re("." + name)


def _regex() -> st.SearchStrategy[str]:
    """Small patterns of the syntax `_test` answers with str methods ("^word", "(^|\\.)(a|b)$"), and of
    syntax it leaves to re."""
    atom = st.sampled_from(["a", "b", "_", "\\.", "\\d", "x"])
    leaf = st.builds(lambda a, q: a + q, atom, st.sampled_from(["", "", "?", "*", "+"]))
    body = st.recursive(
        st.lists(leaf, min_size=0, max_size=3).map("".join),
        lambda inner: st.builds(lambda alts, q, pre, post: pre + "(" + "|".join(alts) + ")" + q + post,
                                st.lists(inner, min_size=1, max_size=3), st.sampled_from(["", "?"]),
                                st.sampled_from(["", "a", "\\."]), st.sampled_from(["", "b", "\\."])),
        max_leaves=6)
    top = st.builds(lambda a, b, alt: a + ("|" + b if alt else ""), body, body, st.booleans())
    return st.builds(lambda start, b, end: start + b + end, st.sampled_from(["", "^", "(^|\\.)"]), top,
                     st.sampled_from(["", "$"]))


TEXTS = st.lists(st.sampled_from(["a", "b", "_", ".", "\n", "x", "7", "ab"]), max_size=8).map("".join)


@given(_regex(), TEXTS)
def test_any_pattern_matches_as_re_does(pattern, text):
    assert roles._test.__wrapped__(pattern)(text) == (re.search(pattern, text) is not None), (pattern, text)


def _fixture_composites() -> list[tuple[str, dict]]:
    from paramscope.knowledge.families.multimodal import COMPOSITES

    fixtures = Path(__file__).resolve().parent / "fixtures/configs"
    configs = [(mt, {"model_type": mt}) for mt in COMPOSITES]  # each wrapper's default config
    for path in sorted(fixtures.glob("*.json")):
        cfg = json.loads(path.read_text())
        if cfg.get("model_type") in COMPOSITES:
            configs.append((path.name, cfg))
    return configs


# Granite Speech (audio only) stores its Conformer as a top-level encoder.… and its Q-Former as
# projector.…, names a text encoder-decoder's bare checkpoint also starts with: placed by the Conformer's
# own names (roles.COMPONENTS' audio row), which the text encoders below keep as text
@pytest.mark.parametrize(("name", "cfg"), _fixture_composites())
def test_multimodal_tensors_sit_in_the_tower_projector_or_head_their_names_say(name, cfg):
    """Every tensor a multimodal wrapper lists is placed where the wrapper's own prefixes put it: the
    vision (or audio) tower, the projector, the output head, or the text model. A miss here files
    a tower as text layers (quantized with them, its size in the text model's) or a head as "other"."""
    from paramscope.knowledge.families import arch_config_from_hf, expected_tensors
    from paramscope.knowledge.families.multimodal import COMPOSITES, VISION_TOWERS

    c = COMPOSITES[cfg["model_type"]]
    # the tower's own prefix under the wrapper's (LLaVA's Pixtral tower: vision_tower., no vision_model.)
    vision = arch_config_from_hf(cfg, fallback=False).extra.get("vision")  # none in Granite Speech
    vision_prefix = VISION_TOWERS[vision["model_type"]].prefix(c.vision_prefix) if vision else ""
    towers = [(vision_prefix, "vision"), (c.audio_prefix, "audio"),
              (c.projector_prefix, "projector"), (c.head_prefix + "lm_head.", "output")]
    misplaced = {}
    for t in expected_tensors(cfg, fallback=False):
        # outside the text model and the towers (LLaVA-NeXT's image_newline): between them, the projector
        rest = "text" if t.name.startswith(c.text_prefix) else "projector"
        want = next((comp for prefix, comp in towers if prefix and t.name.startswith(prefix)), rest)
        got = place(t.name).component
        if (got if got in ("vision", "audio", "projector", "output") else "text") != want:
            misplaced[t.name] = (want, got)
    assert not misplaced, list(misplaced.items())[:5]


# roles.without_layer keys what is alike in every layer (knowledge/quant_layouts.py picks how a tensor is
# stored once per key): names that differ only in their layer index have one key and one placement but
# for the layer, whatever the words around the index.
_SEGMENTS = st.lists(st.sampled_from([*WORDS, "layers", "layer", "h", "blk", "7", "vision_tower", "v", "a"]),
                     min_size=0, max_size=4).map(".".join)


@given(_SEGMENTS, st.sampled_from(["layers", "layer", "h", "blk", "blocks", "decoder.layers"]), _SEGMENTS,
       st.integers(0, 200), st.integers(0, 200))
def test_names_alike_but_for_the_layer_index_are_placed_alike(before, keyword, after, i, j):
    head = f"{before}.{keyword}" if before else keyword
    a, b = f"{head}.{i}.{after or 'weight'}", f"{head}.{j}.{after or 'weight'}"
    assert roles.without_layer(a) == roles.without_layer(b)
    pa, pb = place(a), place(b)
    assert (pa.component, pa.role) == (pb.component, pb.role)
    assert (pa.layer is None) == (pb.layer is None)
    assert roles.without_layer(a) != roles.without_layer(f"{head}.{i}x.{after or 'weight'}")


def _text_rows() -> list[str]:
    from paramscope.knowledge.families import FAMILIES

    return sorted(FAMILIES)


@pytest.mark.parametrize("model_type", _text_rows())
def test_text_rows_have_no_tower_tensors(model_type):
    """A text family's tensors (BART's and Whisper's encoder.layers.N.…, T5's encoder.block, BERT's
    encoder.layer) are never placed in a tower or projector: the names that tell Granite Speech's
    Conformer and Q-Former from them hold for every text row's default layout."""
    from paramscope.knowledge.families import expected_tensors

    cfg = {"model_type": model_type}
    towers = {t.name: place(t.name).component for t in expected_tensors(cfg, fallback=False)
              if place(t.name).component in roles.TOWERS}
    assert not towers, list(towers.items())[:5]
