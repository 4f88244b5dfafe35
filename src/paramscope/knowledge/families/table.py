"""Architecture families, one row each: what a config.json of that ``model_type`` builds.

A row names the pieces (attention kind, norms, FFN kind, mixture-of-experts kind, sliding-window rule)
and the family's Hugging Face defaults; ``decoder.py``/``encoders.py`` turn rows into tensors and
``dims.py`` turns rows into numbers. A new family is a new row. Defaults are those of the family's
``configuration_*.py`` in transformers, for the fields we read; ``head_dim`` is listed only where the
family has its own default, every other family derives it as hidden / heads exactly as its HF code does.
"""

from __future__ import annotations

from paramscope.knowledge.families.row import Family
from paramscope.knowledge.families.rows_ssm import SSM_ROWS
from paramscope.knowledge.families.rows_text import TEXT_ROWS
from paramscope.model.dtypes import DType

_GEMMA_NORMS = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                "post_feedforward_layernorm")
_LLAMA = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
          "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False}
_QWEN2 = {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016, "num_hidden_layers": 32,
          "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 32768,
          "tie_word_embeddings": False, "use_sliding_window": False, "sliding_window": 4096,
          "max_window_layers": 28}
_T5_NAMES = {"hidden_size": "d_model", "num_attention_heads": "num_heads", "num_hidden_layers": "num_layers",
             "intermediate_size": "d_ff", "head_dim": "d_kv"}
_BERT = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
         "max_position_embeddings": 512, "type_vocab_size": 2, "tie_word_embeddings": True}
_DEEPSEEK_MLA = {"kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128,
                 "qk_nope_head_dim": 128, "tie_word_embeddings": False, "moe_layer_freq": 1}
# MT5Config / UMT5Config defaults (both force tie_word_embeddings = True, see encoders.t5_tensors)
_MT5 = {"vocab_size": 250112, "d_model": 512, "d_kv": 64, "d_ff": 1024, "num_layers": 8, "num_heads": 6,
        "relative_attention_num_buckets": 32, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": True}

FAMILY_ROWS: tuple[Family, ...] = (
    Family("llama", "models/llama/modeling_llama.py", architectures=("LlamaForCausalLM",),
           defaults=_LLAMA, qkv_bias="attention_bias", o_bias="attention_bias", mlp_bias="mlp_bias"),
    Family("mistral", "models/mistral/modeling_mistral.py", architectures=("MistralForCausalLM",),
           defaults={**_LLAMA, "intermediate_size": 14336, "num_key_value_heads": 8,
                     "max_position_embeddings": 4096 * 32, "sliding_window": 4096},
           sliding="all_if_window"),
    Family("mixtral", "models/mixtral/modeling_mixtral.py", architectures=("MixtralForCausalLM",),
           defaults={**_LLAMA, "intermediate_size": 14336, "num_key_value_heads": 8,
                     "max_position_embeddings": 4096 * 32, "num_local_experts": 8,
                     "num_experts_per_tok": 2},
           attribute_map={"num_experts": "num_local_experts", "moe_intermediate_size": "intermediate_size"},
           moe="mixtral", sliding="all_if_window"),
    # Qwen2: q/k/v always carry a bias, o_proj never (Qwen2Attention, bias=True / bias=False)
    Family("qwen2", "models/qwen2/modeling_qwen2.py", architectures=("Qwen2ForCausalLM",),
           defaults=_QWEN2, qkv_bias=True, sliding="qwen"),
    Family("qwen3", "models/qwen3/modeling_qwen3.py", architectures=("Qwen3ForCausalLM",),
           defaults={**_QWEN2, "head_dim": 128}, qkv_bias="attention_bias", o_bias="attention_bias",
           qk_norm="head", sliding="qwen"),
    Family("qwen2_moe", "models/qwen2_moe/modeling_qwen2_moe.py", architectures=("Qwen2MoeForCausalLM",),
           defaults={**_QWEN2, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 24,
                     "num_attention_heads": 16, "num_key_value_heads": 16, "decoder_sparse_step": 1,
                     "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
                     "num_experts_per_tok": 4, "num_experts": 60},
           qkv_bias=True, moe="qwen", sliding="qwen"),
    Family("qwen3_moe", "models/qwen3_moe/modeling_qwen3_moe.py", architectures=("Qwen3MoeForCausalLM",),
           defaults={**_QWEN2, "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 24,
                     "num_attention_heads": 32, "num_key_value_heads": 4, "decoder_sparse_step": 1,
                     "moe_intermediate_size": 768, "num_experts_per_tok": 8, "num_experts": 128},
           qkv_bias="attention_bias", o_bias="attention_bias", qk_norm="head", moe="qwen", sliding="qwen"),
    Family("gemma", "models/gemma/modeling_gemma.py", architectures=("GemmaForCausalLM",),
           defaults={"vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576,
                     "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
                     "head_dim": 256, "max_position_embeddings": 8192, "tie_word_embeddings": True},
           qkv_bias="attention_bias", o_bias="attention_bias"),
    Family("gemma2", "models/gemma2/modeling_gemma2.py", architectures=("Gemma2ForCausalLM",),
           defaults={"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                     "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
                     "head_dim": 256, "max_position_embeddings": 8192, "tie_word_embeddings": True,
                     "sliding_window": 4096},
           qkv_bias="attention_bias", o_bias="attention_bias", norms=_GEMMA_NORMS, sliding="alternate"),
    Family("gemma3_text", "models/gemma3/modeling_gemma3.py", architectures=("Gemma3ForCausalLM",),
           defaults={"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
                     "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
                     "head_dim": 256, "max_position_embeddings": 131072, "tie_word_embeddings": True,
                     "sliding_window": 4096, "sliding_window_pattern": 6},
           attribute_map={"sliding_window_pattern": "_sliding_window_pattern"},
           qkv_bias="attention_bias", o_bias="attention_bias", qk_norm="head", norms=_GEMMA_NORMS,
           sliding="gemma3"),
    # Phi-3 fuses q/k/v into qkv_proj and gate/up into gate_up_proj, no biases
    Family("phi3", "models/phi3/modeling_phi3.py", architectures=("Phi3ForCausalLM",),
           defaults={"vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
                     "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 4096,
                     "tie_word_embeddings": False},
           attention="fused_qkv", ffn="fused_gated", sliding="all_if_window"),
    Family("deepseek_v2", "models/deepseek_v2/modeling_deepseek_v2.py (and DeepSeek's modeling_deepseek.py)",
           architectures=("DeepseekV2ForCausalLM",),
           defaults={**_DEEPSEEK_MLA, "vocab_size": 102400, "hidden_size": 4096, "intermediate_size": 11008,
                     "moe_intermediate_size": 1407, "num_hidden_layers": 32, "num_attention_heads": 32,
                     "n_routed_experts": 64, "n_shared_experts": 2, "max_position_embeddings": 2048,
                     "first_k_dense_replace": 0, "topk_method": "greedy"},
           attribute_map={"num_experts": "n_routed_experts"},
           attention="mla", qkv_bias="attention_bias", o_bias="attention_bias", moe="deepseek"),
    Family("deepseek_v3", "models/deepseek_v3/modeling_deepseek_v3.py (and DeepSeek's modeling_deepseek.py)",
           architectures=("DeepseekV3ForCausalLM",),
           defaults={**_DEEPSEEK_MLA, "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
                     "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
                     "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256,
                     "num_experts_per_tok": 8, "first_k_dense_replace": 3, "topk_method": "noaux_tc",
                     "max_position_embeddings": 4096},
           attribute_map={"num_experts": "n_routed_experts"},
           attention="mla", qkv_bias="attention_bias", o_bias="attention_bias", moe="deepseek"),
    Family("gpt_oss", "models/gpt_oss/modeling_gpt_oss.py", architectures=("GptOssForCausalLM",),
           defaults={"vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880,
                     "num_hidden_layers": 36, "num_attention_heads": 64, "num_key_value_heads": 8,
                     "head_dim": 64, "num_local_experts": 128, "num_experts_per_tok": 4,
                     "sliding_window": 128, "max_position_embeddings": 131072,
                     "tie_word_embeddings": False, "attention_bias": True},
           attribute_map={"num_experts": "num_local_experts", "moe_intermediate_size": "intermediate_size"},
           qkv_bias="attention_bias", o_bias="attention_bias", sinks=True, moe="gpt_oss",
           sliding="alternate"),
    # GPT-2: Conv1D layers, LayerNorm with biases, learned positions; PretrainedConfig ties by default
    Family("gpt2", "models/gpt2/modeling_gpt2.py", layout="gpt2",
           architectures=("GPT2LMHeadModel", "GPT2Model"), dtype=DType.F32,
           defaults={"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
                     "tie_word_embeddings": True},
           attribute_map={"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
                          "num_attention_heads": "n_head", "num_hidden_layers": "n_layer"},
           ffn_rule="n_inner"),
    # GPT-SW3: GPT-2's layout and config
    Family("gpt-sw3", "models/gpt_sw3 (GPT2LMHeadModel)", layout="gpt2", dtype=DType.F32,
           describes=("GPT2LMHeadModel",),
           defaults={"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
                     "tie_word_embeddings": True},
           attribute_map={"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
                          "num_attention_heads": "n_head", "num_hidden_layers": "n_layer"},
           ffn_rule="n_inner"),
    # T5: encoder-decoder (encoders.t5_tensors)
    Family("t5", "models/t5/modeling_t5.py", layout="t5", architectures=("T5ForConditionalGeneration",),
           dtype=DType.F32,
           defaults={"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6,
                     "num_heads": 8, "relative_attention_num_buckets": 32, "feed_forward_proj": "relu",
                     "tie_word_embeddings": True},
           attribute_map=_T5_NAMES, decoder_layers="num_decoder_layers"),
    # mT5 and UMT5: T5 v1.1's layout (gated-gelu, an untied head in the published checkpoints) with a
    # 250k vocabulary; UMT5 learns relative position buckets in every self-attention block
    Family("mt5", "models/mt5/modeling_mt5.py", layout="t5", architectures=("MT5ForConditionalGeneration",),
           dtype=DType.F32, defaults=_MT5, attribute_map=_T5_NAMES, decoder_layers="num_decoder_layers"),
    Family("umt5", "models/umt5/modeling_umt5.py", layout="umt5",
           architectures=("UMT5ForConditionalGeneration",), dtype=DType.F32, defaults=_MT5,
           attribute_map=_T5_NAMES, decoder_layers="num_decoder_layers"),
    # BERT-style encoders: the bare model (BertModel, as sentence-transformers saves it) or …ForMaskedLM
    Family("bert", "models/bert/modeling_bert.py", layout="bert", architectures=("BertModel",),
           dtype=DType.F32, names={"prefix": "bert.", "mlm": "bert", "heads": "bert"},
           defaults={**_BERT, "vocab_size": 30522}),
    Family("roberta", "models/roberta/modeling_roberta.py", layout="bert",
           architectures=("RobertaModel",), dtype=DType.F32,
           names={"prefix": "roberta.", "mlm": "roberta", "heads": "roberta"},
           defaults={**_BERT, "vocab_size": 50265}),
    Family("xlm-roberta", "models/xlm_roberta/modeling_xlm_roberta.py", layout="bert",
           architectures=("XLMRobertaModel",), dtype=DType.F32,
           names={"prefix": "roberta.", "mlm": "roberta", "heads": "roberta"},
           defaults={**_BERT, "vocab_size": 30522}),
    Family("camembert", "models/camembert/modeling_camembert.py", layout="bert",
           architectures=("CamembertModel",), dtype=DType.F32,
           names={"prefix": "roberta.", "mlm": "roberta", "heads": "roberta"},
           defaults={**_BERT, "vocab_size": 30522}),
    Family("data2vec-text", "models/data2vec/modeling_data2vec_text.py", layout="bert",
           architectures=("Data2VecTextModel",), dtype=DType.F32,
           names={"prefix": "data2vec_text.", "mlm": "roberta", "heads": "roberta"},
           defaults={**_BERT, "vocab_size": 30522}),
    Family("ernie", "models/ernie/modeling_ernie.py", layout="bert", architectures=("ErnieModel",),
           dtype=DType.F32, names={"prefix": "ernie.", "mlm": "bert", "heads": "bert"},
           defaults={**_BERT, "vocab_size": 30522, "task_type_vocab_size": 3, "use_task_id": False}),
    Family("splinter", "models/splinter/modeling_splinter.py", layout="bert",
           architectures=("SplinterModel",), dtype=DType.F32, names={"prefix": "splinter.", "pooler": ""},
           defaults={**_BERT, "vocab_size": 30522}),
    Family("yoso", "models/yoso/modeling_yoso.py", layout="bert", architectures=("YosoModel",),
           dtype=DType.F32, names={"prefix": "yoso.", "pooler": "", "heads": "yoso"}, pos_offset=2,
           defaults={**_BERT, "vocab_size": 50265, "max_position_embeddings": 4096, "type_vocab_size": 1}),
    # ELECTRA: embeddings of embedding_size projected to hidden_size; no pooler
    Family("electra", "models/electra/modeling_electra.py", layout="bert", architectures=("ElectraModel",),
           dtype=DType.F32, names={"prefix": "electra.", "pooler": "", "heads": "electra"},
           defaults={**_BERT, "vocab_size": 30522, "embedding_size": 128, "hidden_size": 256,
                     "num_attention_heads": 4, "intermediate_size": 1024}),
)

# DistilBERT, MPNet (sentence-transformers' all-mpnet-base-v2), ModernBERT: encoders.py
_ENCODER_ROWS: tuple[Family, ...] = (
    Family("distilbert", "models/distilbert/modeling_distilbert.py", layout="distilbert",
           architectures=("DistilBertModel",), dtype=DType.F32,
           defaults={"vocab_size": 30522, "max_position_embeddings": 512, "dim": 768, "n_layers": 6,
                     "n_heads": 12, "hidden_dim": 3072, "tie_word_embeddings": True},
           attribute_map={"hidden_size": "dim", "num_attention_heads": "n_heads",
                          "num_hidden_layers": "n_layers", "intermediate_size": "hidden_dim"}),
    Family("mpnet", "models/mpnet/modeling_mpnet.py", layout="mpnet", architectures=("MPNetModel",),
           dtype=DType.F32,
           defaults={"vocab_size": 30527, "hidden_size": 768, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
                     "relative_attention_num_buckets": 32, "tie_word_embeddings": True}),
    Family("modernbert", "models/modernbert/modeling_modernbert.py", layout="modernbert",
           architectures=("ModernBertModel",), dtype=DType.F32,
           defaults={"vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152,
                     "num_hidden_layers": 22, "num_attention_heads": 12, "max_position_embeddings": 8192,
                     "norm_bias": False, "attention_bias": False, "mlp_bias": False, "decoder_bias": True,
                     "classifier_bias": False, "tie_word_embeddings": True}),
)

# encoder-decoders with BART's layer names: BART itself and Whisper (encoders.py)
_BART_NAMES = {"hidden_size": "d_model", "num_hidden_layers": "encoder_layers",
               "num_attention_heads": "encoder_attention_heads", "intermediate_size": "encoder_ffn_dim"}
_SEQ2SEQ_ROWS: tuple[Family, ...] = (
    Family("bart", "models/bart/modeling_bart.py", layout="bart",
           architectures=("BartForConditionalGeneration", "BartModel"), dtype=DType.F32,
           defaults={"vocab_size": 50265, "max_position_embeddings": 1024, "d_model": 1024,
                     "encoder_layers": 12, "decoder_layers": 12, "encoder_ffn_dim": 4096,
                     "decoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_attention_heads": 16,
                     "tie_word_embeddings": True, "num_labels": 3},  # BartConfig: 3 labels without id2label
           attribute_map=_BART_NAMES, decoder_layers="decoder_layers"),
    Family("whisper", "models/whisper/modeling_whisper.py", layout="whisper",
           architectures=("WhisperForConditionalGeneration",), dtype=DType.F32,
           defaults={"vocab_size": 51865, "num_mel_bins": 80, "d_model": 384, "encoder_layers": 4,
                     "decoder_layers": 4, "encoder_ffn_dim": 1536, "decoder_ffn_dim": 1536,
                     "encoder_attention_heads": 6, "decoder_attention_heads": 6,
                     "max_source_positions": 1500, "max_target_positions": 448, "tie_word_embeddings": True},
           attribute_map={**_BART_NAMES, "max_position_embeddings": "max_target_positions"},
           decoder_layers="decoder_layers", encoder_length="max_source_positions"),
)

# T5Gemma: the decoder section's numbers stand for the model (ArchConfig: its layers hold the KV cache,
# self-attention and cross-attention over the encoder output, whose width is the encoder section's)
_SEQ2SEQ_ROWS += (
    Family("t5gemma", "models/t5gemma/modeling_t5gemma.py", layout="t5gemma",
           architectures=("T5GemmaForConditionalGeneration",),
           defaults={"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                     "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4,
                     "head_dim": 256, "max_position_embeddings": 8192, "tie_word_embeddings": True},
           flatten=("decoder",), decoder_layers="num_hidden_layers", encoder_hidden="encoder.hidden_size"),
)

FAMILY_ROWS += TEXT_ROWS + SSM_ROWS + _ENCODER_ROWS + _SEQ2SEQ_ROWS
FAMILIES: dict[str, Family] = {f.model_type: f for f in FAMILY_ROWS}
BY_ARCHITECTURE: dict[str, str] = {a: f.model_type for f in FAMILY_ROWS for a in f.architectures}

# model_type spellings of older configs that name a family by another word
ALIASES: dict[str, str] = {}

# transformers' ``_keep_in_fp32_modules``, one entry per row whose class sets it: a model loaded in float16
# keeps the tensors whose names hold one of these strings in float32 (modeling_utils.py
# PreTrainedModel._get_dtype_plan: "only if the requested dtype is fp16"; core_model_loading.py matches
# the names by regex search), and save_pretrained writes them so. BRIA-3.2's float16 T5 text encoder holds
# its 24 DenseReluDense.wo in float32 (tests/fixtures/quantized_totals/out_of_sample_r6.json). bfloat16
# models keep every tensor in bfloat16 (FLUX's T5). tests/test_families_oracle.py holds this table equal
# to transformers' classes. (``_keep_in_fp32_modules_strict``, float32 in bfloat16 too, is written into the
# rows themselves: decoder.py's router biases.)
KEEP_IN_FP32: dict[str, tuple[str, ...]] = {
    "t5": ("wo",), "mt5": ("wo",), "umt5": ("wo",),  # T5PreTrainedModel and its copies
    "gpt_oss": ("post_attention_layernorm", "input_layernorm", "norm"),
    "afmoe": ("input_layernorm", "post_attention_layernorm", "pre_mlp_layernorm", "post_mlp_layernorm",
              "q_norm", "k_norm", "norm"),
    "deepseek_v32": ("indexer.weights_proj",), "glm_moe_dsa": ("indexer.weights_proj",),
}
# the first transformers to keep them (4.26.0 added _keep_in_fp32_modules, with T5's ["wo"]; 4.25.1 has
# neither): a float16 file an older version wrote holds every tensor in float16. (4.26's from_pretrained
# kept them only with accelerate installed: a file it wrote without accelerate holds wo in float16.)
KEEP_IN_FP32_SINCE = (4, 26)
