"""Where a tensor lives, from its name: one table of the names each component goes by.

Names are classified after the layer prefix (``model.layers.7.``, ``blk.7.``, ``encoder.layer.7.``)
and the trailing ``.weight``/``.bias`` are cut off, so the table lists local names only. Hugging Face
and GGUF (llama.cpp) spellings stand side by side in each row, with the families that use them, the way
gguf-py's tensor_mapping.py lists them. First match wins; order rows from specific to general.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

from paramscope.records import record

# (component path, [regular expressions on the local name]); families in comments.
COMPONENTS: list[tuple[str, list[str]]] = [
    # multimodal towers first: their inner names look like a text model's
    # (Qwen2-VL's pre-4.52 checkpoints: visual.…; Qwen3-VL's: model.visual.…)
    ("vision", [r"^(model\.)?vision_(tower|model)\.", r"^v\.", r"^(model\.)?visual\.", r"^vision_encoder\."]),
    # audio encoders (Gemma 3n's USM: model.audio_tower.…; llama.cpp's mmproj: a.…)
    # Granite Speech's Conformer sits at the top level as encoder.… (input_linear, the CTC heads out and
    # out_mid, layers of ff1/ff2/attn.to_q…/conv/post_norm), names a text encoder-decoder's bare checkpoint
    # starts with too (BartModel's encoder.layers.N.self_attn…): told apart by the Conformer's own names,
    # as gguf-py's tensor_mapping.py lists them (A_ENC_INP_PROJ, A_CTC_OUT, A_ENC_* "# granite_speech")
    ("audio", [r"^(model\.)?audio_(tower|model)\.", r"^a\.", r"^encoder\.(input_linear|out|out_mid)$",
               r"^encoder\.layers\.\d+\.(ff1|ff2|conv|post_norm|attn\.(to_q|to_kv|to_out|pre_norm|"
               r"rel_pos_emb))(\.|$)"]),
    # projectors (Mllama's is one Linear: multi_modal_projector.weight; Idefics3 / SmolVLM:
    # model.connector.modality_projection), LLaVA-NeXT's image_newline between image rows, and Gemma 3n's
    # per-tower embedders into the text width (model.embed_vision/audio)
    ("projector", [r"^(model\.)?multi_modal_projector(\.|$)", r"^(model\.)?connector\.",
                   r"^(model\.)?image_newline$", r"^mm\.", r"^mm_input_projection", r"^mm_soft_emb_norm",
                   r"^(model\.)?embed_(vision|audio)\.",
                   # Granite Speech's windowed Q-Former (gguf-py: A_QF_PROJ_*, A_QF_*)
                   r"^projector\.(query|linear|qformer\.)"]),
    # a multi-token-prediction module stored apart from the layer stack (Qwen3-Next's and Qwen3.5's mtp.…:
    # knowledge/families/mtp.py); its own layers are not the text model's layers of the same index
    ("mtp", [r"^mtp\."]),
    # norms (scale and bias) before anything they share words with
    ("norm", [r"(^|[._])(ln|norm|layernorm|layer_norm|LayerNorm|rmsnorm)(_?\w*)?$",
              r"(^|\.)(input_layernorm|post_attention_layernorm|pre_feedforward_layernorm|"
              r"post_feedforward_layernorm|q_norm|k_norm|q_a_layernorm|kv_a_layernorm|final_layernorm|"
              r"ln_f|ln_1|ln_2|norm|final_norm)$",
              r"(^|\.)(attn_norm|ffn_norm|attn_q_norm|attn_k_norm|post_attention_norm|post_ffw_norm|"
              r"attn_q_a_norm|attn_kv_a_norm|output_norm|token_embd_norm|attn_post_norm|"
              r"layer_output_norm|attn_output_norm)$"]),
    # embeddings
    ("embedding/position", [r"(^|\.)(wpe|position_embeddings|embed_positions)$", r"^position_embd$"]),
    ("embedding/token_type", [r"(^|\.)token_type_embeddings$", r"^token_types$"]),
    # (not Gemma 3n's per-layer embeddings, embed_tokens_per_layer: "other", so that "embedding" stays
    # the token table a tied head shares)
    ("embedding", [r"(^|\.)(embed_tokens|wte|word_embeddings|tok_embeddings|embedding|embed_in)$",
                   r"(^|\.)token_embeddings$",  # OpenELM
                   r"^token_embd$"]),
    # output head (LLaVA, Llama 4 and other wrappers keep it under language_model.), and the head a
    # …ForSequenceClassification / …ForTokenClassification checkpoint has in its place: ``score`` on
    # decoders, ``classifier`` on encoders and older decoders (transformers' modeling_layers.py)
    ("output", [r"^(lm_head|embed_out|output)$", r"^(model\.|language_model\.)?lm_head$",
                r"^(score|classifier)$"]),
    # mixture of experts: router, shared experts, routed experts
    ("router", [r"(^|\.)(block_sparse_moe|mlp|feed_forward)\.(gate|router)$",
                r"(^|\.)mlp\.gate\.e_score_correction$", r"(^|\.)shared_expert_gate$",
                # the router's score bias under other names, its "_bias" cut off as a suffix: Sarvam's
                # mlp.gate.expert_bias, Hy3's and Ling's mlp.expert_bias, feed_forward.expert_bias, and
                # MiniMax-M2's block_sparse_moe.e_score_correction_bias (the whole suffix cut off)
                r"(^|\.)(mlp\.gate|mlp|feed_forward)\.expert$", r"(^|\.)block_sparse_moe$",
                r"(^|\.)router$", r"\.block_sparse_moe\.router\.layer$",  # Granite MoE
                # Gemma 4's router: proj (experts × hidden), scale and per_expert_scale ("_scale" is cut
                # off as a suffix, leaving router.per_expert)
                r"(^|\.)router\.(proj|per_expert)$",
                r"^(ffn_gate_inp|ffn_gate_inp_shexp|exp_probs_b)$"]),
    # Granite MoE / Granite 4.0 (modeling_granitemoehybrid.py): the shared MLP's input_linear is gate and
    # up stacked, output_linear the down projection; the routed experts' are block_sparse_moe's
    ("shared_experts/gate_up", [r"\.shared_mlp\.input_linear$"]),
    ("shared_experts/down", [r"\.shared_mlp\.output_linear$"]),
    ("experts/gate_up", [r"\.block_sparse_moe\.input_linear$"]),
    ("experts/down", [r"\.block_sparse_moe\.output_linear$"]),
    ("shared_experts/gate", [r"\.shared_experts?\.gate_proj$", r"^ffn_gate_shexp$"]),
    ("shared_experts/up", [r"\.shared_experts?\.up_proj$", r"^ffn_up_shexp$"]),
    ("shared_experts/down", [r"\.shared_experts?\.down_proj$", r"^ffn_down_shexp$"]),
    # (Aria's checkpoints keep the fused experts as experts.fc1 = gate and up, experts.fc2 = down:
    # transformers' conversion_mapping.py renames them to gate_up_proj / down_proj on load)
    ("experts/gate_up", [r"\.experts\.gate_up_proj(_blocks|_scales)?$", r"^ffn_gate_up_exps$",
                         r"\.experts\.fc1$"]),
    ("experts/gate", [r"\.experts\.(\d+\.)?(w1|gate_proj)$", r"\.experts\.gate_proj$", r"^ffn_gate_exps$"]),
    ("experts/up", [r"\.experts\.(\d+\.)?(w3|up_proj)$", r"^ffn_up_exps$"]),
    ("experts/down", [r"\.experts\.(\d+\.)?(w2|down_proj)(_blocks|_scales)?$", r"^ffn_down_exps$",
                      r"\.experts\.fc2$"]),
    # attention (MLA pieces of DeepSeek V2/V3 first)
    ("attention/q_a", [r"\.q_a_proj$", r"^attn_q_a$"]),
    ("attention/q_b", [r"\.q_b_proj$", r"^attn_q_b$"]),
    ("attention/kv_a", [r"\.kv_a_proj_with_mqa$", r"^attn_kv_a_mqa$"]),
    ("attention/kv_b", [r"\.kv_b_proj$", r"^attn_(kv_b|k_b|v_b)$"]),
    ("attention/qkv", [r"\.(qkv_proj|c_attn|query_key_value|Wqkv|W_pack)$", r"^attn_qkv$"]),
    ("attention/q", [r"\.(q_proj|query|wq)$", r"^attn_q$"]),
    ("attention/k", [r"\.(k_proj|key|wk)$", r"^attn_k$"]),
    ("attention/v", [r"\.(v_proj|value|wv)$", r"^attn_v$"]),
    ("attention/o", [r"\.(o_proj|out_proj|c_proj|wo|dense)$", r"^attn\.c_proj$",
                     r"^attention\.output\.dense$", r"^attn_output$"]),
    ("attention/sinks", [r"\.sinks$", r"^attn_sinks$"]),
    # Nemotron-NAS (modeling_decilm.py): an attention or FFN block replaced by one hidden × hidden linear
    ("attention/linear", [r"\.self_attn\.linear_attn$"]),
    ("ffn/linear", [r"\.mlp\.linear_mlp$"]),
    # MiniMax-Text-01's lightning attention gates its output (sigmoid(output_gate(x)) × attention)
    ("attention/gate", [r"\.self_attn\.output_gate$"]),
    # dense feed-forward
    ("ffn/gate_up", [r"\.gate_up_proj$", r"^ffn_gate_up$"]),
    ("ffn/gate", [r"\.(gate_proj|w1)$", r"^ffn_gate$"]),
    ("ffn/up", [r"\.(up_proj|w3|c_fc|fc1|dense_h_to_4h)$", r"^intermediate\.dense$", r"^ffn_up$"]),
    ("ffn/down", [r"\.(down_proj|w2|fc2|dense_4h_to_h)$", r"^mlp\.c_proj$", r"^output\.dense$",
                  r"^ffn_down$"]),
]

# Leaf names that mean different things under different parents, so the parent decides: GPT-2's
# ``attn.c_proj`` and ``mlp.c_proj``; BERT's ``attention.output.dense`` (attention out),
# ``intermediate.dense`` (FFN up), ``output.dense`` (FFN down) and ``pooler.dense``.
_PARENT_HINTS = [
    (r"(^|\.)(mlp|feed_forward|ffn)\.c_proj$", "ffn/down"),
    (r"^attention\.output\.dense$", "attention/o"),
    (r"^intermediate\.dense$", "ffn/up"),
    (r"^output\.dense$", "ffn/down"),
    (r"(^|\.)pooler\.dense$", "other"),
    # OpenELM (modeling_openelm.py): ffn.proj_1 is gate and up stacked, ffn.proj_2 the down projection
    (r"(^|\.)ffn\.proj_1$", "ffn/gate_up"),
    (r"(^|\.)ffn\.proj_2$", "ffn/down"),
]

_LAYER = (
    r"^(?P<prefix>.*?(?:^|\.)(?:layers|layer|h|blk|blocks|block|decoder\.layers|encoder\.layer))"
    r"\.(?P<index>\d+)\.(?P<rest>.*)$")
# gpt-oss spells some suffixes with "_" (``down_proj_bias``, ``gate_up_proj_blocks``). Quantized checkpoints
# store a module's weight as pieces (knowledge/quant_layouts.py LAYOUTS): GPTQ/AWQ qweight, qzeros, scales,
# g_idx; compressed-tensors weight_packed, weight_scale, weight_zero_point, weight_shape, weight_g_idx,
# input_scale; bitsandbytes SCB, weight_format, weight.absmax, quant_map, nested_*, quant_state.*; MLX biases
_SUFFIX = (
    r"[._](e_score_correction_bias|weight_scale_inv|weight_scale|weight_packed|weight_zero_point|weight_shape"
    r"|weight_g_idx|weight_global_scale|input_global_scale|input_scale|input_zero_point|output_scale|"
    r"weight\.(?:nested_)?(?:absmax|quant_map)|weight\.quant_state\.bitsandbytes__\w+|weight_format|SCB|"
    r"qweight|qzeros|scales|g_idx|biases|weight|bias|scale|blocks)$")

# Patterns are compiled on first use: compiling ~80 of them is most of what importing this module would
# cost (~10 ms), and a name is placed by the first rows that match, so later rows may never be needed.
_rx = cache(re.compile)

# Most rows' patterns only say that the name is a word, ends in ".word", starts with "word" or one of
# those for a few words: "^(lm_head|output)$", r"\.(q_proj|query)$", r"(^|\.)router$", r"^v\.". Those are
# tested with str methods, the rest with re: compiling every pattern a model's names reach was most of
# what placing its tensors cost at start-up (~3 ms of `inspect` and of `fit`).
_WORD = r"(?:[A-Za-z0-9_]|\\\.)+"  # letters, digits, "_" and escaped dots
_LITERAL = re.compile(rf"(\^|\\\.|\(\^\|\\\.\))(?:({_WORD})|\(({_WORD}(?:\|{_WORD})*)\))(\$?)")


@cache
def _test(pattern: str) -> Callable[[str], bool]:
    """``bool(re.search(pattern, text))`` as a function of ``text``."""
    m = _LITERAL.fullmatch(pattern)
    if m is None or (not m[4] and m[1] != "^"):
        rx = _rx(pattern)
        return lambda text: rx.search(text) is not None
    anchor, one, several, end = m.groups()
    words = tuple(w.replace("\\.", ".") for w in ((one,) if one else several.split("|")))
    if not end:  # "^word": the text starts with it
        return lambda text: text.startswith(words)
    whole = anchor != "\\."  # "^word$" or "(^|\.)word$": the text is the word
    part = anchor != "^"  # "\.word$" or "(^|\.)word$": the text ends in ".word"
    exact, dotted = frozenset(words), tuple("." + w for w in words)

    def test(text: str) -> bool:
        if text.endswith("\n"):  # "$" matches before a final newline too
            text = text[:-1]
        return (whole and text in exact) or (part and text.endswith(dotted))

    return test


@record
class Placement:
    """Where a tensor sits in the model: component path, role and layer."""

    component: str  # path in the component tree: "attention/q", "experts/down", "norm", "other"
    role: str  # "weight", "bias" or "norm"
    layer: int | None  # index of the (text) layer, None outside the layer stack


# Cached by name: sizing a model re-places the same names in every estimate (fit on DeepSeek-V3 asks
# ~25 estimates of 91k tensors: 3.6 M calls); the cache holds one of the largest headers we read.
@lru_cache(maxsize=1 << 18)
def place(name: str) -> Placement:
    """Component, role and layer of a tensor name (Hugging Face or GGUF spelling)."""
    m = _rx(_LAYER).match(name)
    if m and not _in_tower(m.group("prefix")):
        tower = _tower_layer(m.group("prefix"), m.group("rest"))
        if tower is None:
            return _placement(_local_class(m.group("rest")), int(m.group("index")))
        return _placement(tower, None)
    return _placement(_local_class(name), None)


# a layer index inside what follows the (outermost) layer index: blanked in ``without_layer``'s key, so that
# names alike but for any of their layer indices key alike ("h.3.layers.7.v", T5's "block.0.layer.1.…")
_INNER_LAYER = r"((?:^|\.)(?:layers|layer|h|blk|blocks|block|decoder\.layers|encoder\.layer)\.)\d+(?=\.)"


def without_layer(name: str) -> tuple[str, ...]:
    """The name less its layer index: ("model.layers", "mlp.up_proj.weight") for
    "model.layers.7.mlp.up_proj.weight", (name,) for a name without one (a tower's layers have one too,
    though ``place`` counts them as the tower's).

    Names alike but for that index are placed alike but for the layer (the index is a whole numeric
    segment, so the layer pattern matches them at the same place, and the rest is the same); a layer
    index further in (a nested block) is blanked ("#"), so names alike but for it key alike too."""
    m = _rx(_LAYER).match(name)
    return (m.group("prefix"), _rx(_INNER_LAYER).sub(r"\1#", m.group("rest"))) if m else (name,)


# A model's names are few local names repeated in every layer (DeepSeek-V3's 90k stored names: 1.6k in
# 61 layers), so a name first seen costs its layer split and a few lookups, not a classification: these
# three caches took placing a new name from ~6.4 µs to ~2.8 µs.
@lru_cache(maxsize=1 << 16)
def _local_class(local: str) -> tuple[str, str]:
    # numeric segments do not change the class: "experts.17.w1" ~ "experts.0.w1"
    return _classify(_rx(_DIGITS).sub("0", local))


@lru_cache(maxsize=1 << 16)
def _tower_layer(prefix: str, rest: str) -> tuple[str, str] | None:
    """The class of a layer's tensor when its whole name is a tower's (Granite Speech's Conformer layers,
    encoder.layers.N.ff1…, which only their names tell from a text encoder's), else None. Keyed by the
    name less its layer index, which every layer repeats."""
    whole = _local_class(f"{prefix}.0.{rest}")
    return whole if whole[0] in TOWERS else None


@lru_cache(maxsize=1024)
def _in_tower(prefix: str) -> bool:
    """Layers under a multimodal tower's prefix are the tower's, not the text model's."""
    return _rx(_TOWER_PREFIX).search(prefix) is not None


@lru_cache(maxsize=1 << 16)
def _placement(kind: tuple[str, str], layer: int | None) -> Placement:
    return Placement(*kind, layer)  # one record per (component, role, layer), shared by every name there


_DIGITS = r"(?<=\.)\d+(?=\.)"  # whole numeric segments only (not w1/w3)


@lru_cache(maxsize=4096)
def _classify(local: str) -> tuple[str, str]:
    stem, suffix = local, ""
    s = _rx(_SUFFIX).search(local)
    if s:
        stem, suffix = local[: s.start()], s.group(1)
    component = _component(stem)
    is_norm = component == "norm" or any(_test(p)(stem) for p in _PATTERNS["norm"])
    if suffix in ("bias", "e_score_correction_bias"):
        return component, "bias"
    return component, "norm" if is_norm else "weight"


def _component(stem: str) -> str:
    for tower in TOWERS:
        if any(_test(p)(stem) for p in _PATTERNS[tower]):
            return tower
    for p, comp in _PARENT_HINTS:
        if _test(p)(stem):
            return comp
    dotted = "." + stem
    for comp, patterns in COMPONENTS:
        for p in patterns:
            test = _test(p)
            if test(stem) or test(dotted):
                return comp
    return "other"


TOWERS = ("vision", "audio", "projector")  # components outside the text model
_PATTERNS = dict(COMPONENTS)
_TOWER_PREFIX = (r"(vision_tower|vision_model|visual|^v$|^v\.|vision_encoder|"
                 r"audio_tower|audio_model|^a$|^a\.|^mtp\.)")
