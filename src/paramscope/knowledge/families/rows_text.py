"""Decoder-only text families beyond the first table: one row each, defaults from each family's
``configuration_*.py`` in transformers (for the fields we read), names from its ``modeling_*.py``.

Every row here is checked tensor for tensor against transformers on its default config and on a real
config.json of a public checkpoint (tests/test_families_oracle.py, tests/fixtures/configs/).
"""

from __future__ import annotations

from paramscope.knowledge.dtypes import DType
from paramscope.knowledge.families.row import Family

_ON = "input_layernorm", "post_attention_layernorm"
_POST = "post_attention_layernorm", "post_feedforward_layernorm"  # OLMo 2/3, EXAONE 4: norms after


def _d(vocab: int, hidden: int, ffn: int, layers: int, heads: int, kv: int | None = None,
       context: int = 2048, tied: bool = False, **more: object) -> dict[str, object]:
    """A defaults mapping in the spelling of Llama-style configs."""
    out: dict[str, object] = {"vocab_size": vocab, "hidden_size": hidden, "intermediate_size": ffn,
                              "num_hidden_layers": layers, "num_attention_heads": heads,
                              "max_position_embeddings": context, "tie_word_embeddings": tied}
    if kv is not None:
        out["num_key_value_heads"] = kv
    out.update(more)
    return out


TEXT_ROWS: tuple[Family, ...] = (
    # -- Llama-shaped: q/k/v/o + gate/up/down, RMSNorm ---------------------------------------------
    Family("granite", "models/granite/modeling_granite.py", architectures=("GraniteForCausalLM",),
           defaults=_d(32000, 4096, 11008, 32, 32), qkv_bias="attention_bias", o_bias="attention_bias",
           mlp_bias="mlp_bias"),
    Family("helium", "models/helium/modeling_helium.py", architectures=("HeliumForCausalLM",),
           defaults=_d(48000, 2560, 7040, 24, 20, 20, 4096, head_dim=128),
           qkv_bias="attention_bias", o_bias="attention_bias", mlp_bias="mlp_bias"),
    Family("smollm3", "models/smollm3/modeling_smollm3.py", architectures=("SmolLM3ForCausalLM",),
           defaults=_d(128256, 2048, 11008, 36, 16, 4, 32768, True),
           qkv_bias="attention_bias", o_bias="attention_bias", mlp_bias="mlp_bias", sliding="qwen"),
    Family("internlm3", "models/internlm3/modeling_internlm3.py", architectures=("InternLM3ForCausalLM",),
           defaults=_d(128512, 4096, 10240, 48, 32, 2, 32768, head_dim=128),
           attribute_map={"attention_bias": "qkv_bias", "mlp_bias": "bias"},
           qkv_bias="attention_bias", o_bias="mlp_bias", mlp_bias="mlp_bias"),
    Family("iquestcoder", "models/iquestcoder/modeling_iquestcoder.py",
           architectures=("IQuestCoderForCausalLM",),
           defaults=_d(76800, 5120, 27648, 80, 40, 8, 131072, head_dim=128),
           qkv_bias="attention_bias", o_bias="attention_bias", mlp_bias="mlp_bias"),
    Family("ministral3", "models/ministral3/modeling_ministral3.py",
           architectures=("Ministral3ForCausalLM",),
           defaults=_d(131072, 4096, 14336, 34, 32, 8, 262144, head_dim=128), sliding="all_if_window"),
    Family("cwm", "models/cwm/modeling_cwm.py", architectures=("CwmForCausalLM",),
           defaults=_d(128256, 6144, 21504, 64, 48, 8, 131072, head_dim=128, sliding_window=8192),
           mlp_bias="mlp_bias", sliding="every4_from0"),
    Family("seed_oss", "models/seed_oss/modeling_seed_oss.py", architectures=("SeedOssForCausalLM",),
           defaults=_d(155136, 4096, 27648, 64, 80, 8, 524288, head_dim=128, attention_bias=True,
                       attention_out_bias=False),
           qkv_bias="attention_bias", o_bias="attention_out_bias", mlp_bias="mlp_bias"),
    Family("ernie4_5", "models/ernie4_5/modeling_ernie4_5.py", architectures=("Ernie4_5ForCausalLM",),
           defaults=_d(103424, 1024, 3072, 18, 16, 2, 131072, True, head_dim=128),
           qkv_bias="use_bias", o_bias="use_bias", mlp_bias="use_bias"),
    Family("arcee", "models/arcee/modeling_arcee.py", architectures=("ArceeForCausalLM",),
           defaults=_d(32000, 2560, 18432, 32, 32, 32, 4096, head_dim=80),
           qkv_bias="attention_bias", o_bias="attention_bias", mlp_bias="mlp_bias", ffn="plain"),
    Family("vaultgemma", "models/vaultgemma/modeling_vaultgemma.py",
           architectures=("VaultGemmaForCausalLM",),
           defaults=_d(256000, 2304, 9216, 26, 8, 4, 8192, True, head_dim=256, sliding_window=4096),
           norms=("input_layernorm", "pre_feedforward_layernorm"),
           qkv_bias="attention_bias", o_bias="attention_bias", sliding="alternate"),
    # -- GLM: fused gate_up; GLM-4 adds sandwich norms ----------------------------------------------
    Family("glm", "models/glm/modeling_glm.py", architectures=("GlmForCausalLM",),
           defaults=_d(151552, 4096, 13696, 40, 32, 2, 131072, head_dim=128, attention_bias=True),
           qkv_bias="attention_bias", ffn="fused_gated"),
    Family("glm4", "models/glm4/modeling_glm4.py", architectures=("Glm4ForCausalLM",),
           defaults=_d(151552, 4096, 13696, 40, 32, 2, 131072, head_dim=128, attention_bias=True),
           norms=(*_ON, "post_self_attn_layernorm", "post_mlp_layernorm"),
           qkv_bias="attention_bias", ffn="fused_gated"),
    # -- OLMo: parameter-free LayerNorm (1); norms after the blocks and q/k norms (2, 3) -------------
    Family("olmo", "models/olmo/modeling_olmo.py", architectures=("OlmoForCausalLM",),
           defaults=_d(50304, 4096, 11008, 32, 32), names={"final_norm": ""}, norms=(),
           qkv_bias="attention_bias", o_bias="attention_bias"),
    Family("olmo2", "models/olmo2/modeling_olmo2.py", architectures=("Olmo2ForCausalLM",),
           defaults=_d(50304, 4096, 11008, 32, 32), norms=_POST, qk_norm="full",
           qkv_bias="attention_bias", o_bias="attention_bias"),
    Family("olmo3", "models/olmo3/modeling_olmo3.py", architectures=("Olmo3ForCausalLM",),
           defaults=_d(50304, 4096, 11008, 32, 32, sliding_window=4096), norms=_POST, qk_norm="full",
           qkv_bias="attention_bias", o_bias="attention_bias", sliding="every4"),
    Family("exaone4", "models/exaone4/modeling_exaone4.py", architectures=("Exaone4ForCausalLM",),
           defaults=_d(102400, 4096, 16384, 32, 32, 32, sliding_window=4096, sliding_window_pattern=4),
           norms=_POST, qk_norm="head", sliding="every4"),
    # -- Cohere: one LayerNorm (no bias) before parallel attention and MLP; tied head ----------------
    Family("cohere", "models/cohere/modeling_cohere.py", architectures=("CohereForCausalLM",),
           defaults=_d(256000, 8192, 22528, 40, 64, 64, 8192, True, use_qk_norm=False),
           norms=("input_layernorm",), qk_norm="head2d", qk_norm_switch="use_qk_norm",
           qkv_bias="attention_bias", o_bias="attention_bias"),
    Family("cohere2", "models/cohere2/modeling_cohere2.py", architectures=("Cohere2ForCausalLM",),
           defaults=_d(256000, 8192, 22528, 40, 64, 64, 8192, True, head_dim=128, sliding_window=4096),
           norms=("input_layernorm",), qkv_bias="attention_bias", o_bias="attention_bias",
           sliding="every4"),
    # -- LayerNorm with biases, two-matrix MLPs ------------------------------------------------------
    Family("stablelm", "models/stablelm/modeling_stablelm.py", architectures=("StableLmForCausalLM",),
           defaults=_d(50304, 2560, 6912, 32, 32, 32, 4096), norm_rule="stablelm", norm_bias=True,
           qkv_bias="use_qkv_bias"),
    Family("starcoder2", "models/starcoder2/modeling_starcoder2.py",
           architectures=("Starcoder2ForCausalLM",),
           defaults=_d(49152, 3072, 12288, 30, 24, 2, 4096, True, use_bias=True),
           names={"up": "c_fc", "down": "c_proj"}, norm_bias=True, ffn="plain",
           qkv_bias="use_bias", o_bias="use_bias", mlp_bias="use_bias", sliding="all_if_window"),
    Family("phi", "models/phi/modeling_phi.py", architectures=("PhiForCausalLM",),
           defaults=_d(51200, 2048, 8192, 24, 32, 32, 2048, qk_layernorm=False),
           names={"o": "dense", "final_norm": "final_layernorm", "up": "fc1", "down": "fc2",
                  "q_norm": "q_layernorm", "k_norm": "k_layernorm"},
           norms=("input_layernorm",), norm_bias=True, qk_norm="head", qk_norm_switch="qk_layernorm",
           ffn="plain", qkv_bias=True, o_bias=True, mlp_bias=True, head_bias=True),
    Family("gpt_neox", "models/gpt_neox/modeling_gpt_neox.py", architectures=("GPTNeoXForCausalLM",),
           defaults=_d(50432, 6144, 24576, 44, 64, None, 2048, attention_bias=True),
           names={"base": "gpt_neox.", "embed": "embed_in", "final_norm": "final_layer_norm",
                  "head": "embed_out", "attn": "attention.", "qkv": "query_key_value", "o": "dense",
                  "up": "dense_h_to_4h", "down": "dense_4h_to_h"},
           attention="fused_qkv", norm_bias=True, ffn="plain", qkv_bias="attention_bias",
           o_bias="attention_bias", mlp_bias=True),
    Family("gptj", "models/gptj/modeling_gptj.py", architectures=("GPTJForCausalLM",),
           dtype=DType.F32,
           defaults={"vocab_size": 50400, "n_positions": 2048, "n_embd": 4096, "n_layer": 28, "n_head": 16,
                     "tie_word_embeddings": False},
           attribute_map={"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
                          "num_attention_heads": "n_head", "num_hidden_layers": "n_layer",
                          "intermediate_size": "n_inner"},
           names={"base": "transformer.", "embed": "wte", "layers": "h", "final_norm": "ln_f",
                  "attn": "attn.", "o": "out_proj", "up": "fc_in", "down": "fc_out"},
           norms=("ln_1",), norm_bias=True, ffn="plain", mlp_bias=True, head_bias=True),
    Family("bloom", "models/bloom/modeling_bloom.py", architectures=("BloomForCausalLM", "BloomModel"),
           dtype=DType.F32,
           defaults={"vocab_size": 250880, "hidden_size": 64, "n_layer": 2, "n_head": 8,
                     "tie_word_embeddings": True},
           attribute_map={"num_hidden_layers": "n_layer", "num_attention_heads": "n_head"},
           names={"base": "transformer.", "embed": "word_embeddings",
                  "embed_norm": "word_embeddings_layernorm", "layers": "h", "final_norm": "ln_f",
                  "attn": "self_attention.", "qkv": "query_key_value", "o": "dense",
                  "up": "dense_h_to_4h", "down": "dense_4h_to_h"},
           attention="fused_qkv", norm_bias=True, ffn="plain", qkv_bias=True, o_bias=True, mlp_bias=True),
    Family("mpt", "models/mpt/modeling_mpt.py", architectures=("MptForCausalLM",),
           defaults={"vocab_size": 50368, "d_model": 2048, "n_layers": 24, "n_heads": 16,
                     "expansion_ratio": 4, "max_seq_len": 2048, "no_bias": True,
                     "tie_word_embeddings": True},
           attribute_map={"hidden_size": "d_model", "num_hidden_layers": "n_layers",
                          "num_attention_heads": "n_heads", "max_position_embeddings": "max_seq_len"},
           names={"base": "transformer.", "embed": "wte", "layers": "blocks", "final_norm": "norm_f",
                  "attn": "attn.", "qkv": "Wqkv", "o": "out_proj", "mlp": "ffn."},
           norms=("norm_1", "norm_2"), attention="fused_qkv", ffn="plain", ffn_rule="expansion_ratio",
           qkv_bias="!no_bias", o_bias="!no_bias", mlp_bias="!no_bias", norm_bias="!no_bias"),
    Family("falcon", "models/falcon/modeling_falcon.py", architectures=("FalconForCausalLM",),
           defaults={"vocab_size": 65024, "hidden_size": 4544, "num_hidden_layers": 32,
                     "num_attention_heads": 71, "max_position_embeddings": 2048, "bias": False,
                     "tie_word_embeddings": True},
           attribute_map={"intermediate_size": "ffn_hidden_size", "num_hidden_layers": "n_layer",
                          "num_attention_heads": "n_head", "num_kv_heads": "n_head_kv"},
           names={"base": "transformer.", "embed": "word_embeddings", "layers": "h", "final_norm": "ln_f",
                  "attn": "self_attention.", "qkv": "query_key_value", "o": "dense",
                  "up": "dense_h_to_4h", "down": "dense_4h_to_h"},
           attention="fused_qkv", kv_rule="falcon", norm_rule="falcon", norm_bias=True, ffn="plain",
           qkv_bias="bias", o_bias="bias", mlp_bias="bias"),
)
