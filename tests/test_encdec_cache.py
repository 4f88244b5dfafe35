"""Encoder-decoder caches (T5, BART, Whisper) against the reference: tiny random transformers models run
on CPU with use_cache=True, their EncoderDecoderCache tensors measured byte by byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.kv_cache import CROSS, ENCODER_OUTPUT, kv_cache_for_context
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.transformers import transformers_memory
from paramscope.knowledge.families import arch_config_from_hf
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
F32 = DType.F32


def _cache_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


def _t5(dec_layers: int, heads: int, d_kv: int, seed: int):
    import transformers

    cfg = transformers.T5Config(vocab_size=64, d_model=16, d_kv=d_kv, d_ff=32, num_layers=2,
                                num_decoder_layers=dec_layers, num_heads=heads, decoder_start_token_id=0,
                                pad_token_id=0, feed_forward_proj="gated-gelu")
    return cfg, transformers.T5ForConditionalGeneration(cfg)


def _bart(dec_layers: int, heads: int, d_kv: int, seed: int):
    import transformers

    cfg = transformers.BartConfig(vocab_size=64, d_model=heads * d_kv, encoder_layers=2,
                                  decoder_layers=dec_layers, encoder_attention_heads=heads,
                                  decoder_attention_heads=heads, encoder_ffn_dim=32, decoder_ffn_dim=32,
                                  max_position_embeddings=64)
    return cfg, transformers.BartForConditionalGeneration(cfg)


def _whisper(dec_layers: int, heads: int, d_kv: int, seed: int):
    import transformers

    cfg = transformers.WhisperConfig(vocab_size=64, num_mel_bins=8, d_model=heads * d_kv, encoder_layers=2,
                                     decoder_layers=dec_layers, encoder_attention_heads=heads,
                                     decoder_attention_heads=heads, encoder_ffn_dim=32, decoder_ffn_dim=32,
                                     max_source_positions=6 + seed, max_target_positions=32, pad_token_id=0,
                                     bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    return cfg, transformers.WhisperForConditionalGeneration(cfg)


def _t5gemma(dec_layers: int, heads: int, d_kv: int, seed: int):
    """An encoder wider than the decoder, one KV head (GQA), sliding layers with a window longer than
    the decoded tokens (DynamicSlidingWindowLayer would keep only window − 1 of a longer run)."""
    import transformers
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    def module(layers: int, hidden: int):
        return T5GemmaModuleConfig(vocab_size=64, hidden_size=hidden, intermediate_size=32,
                                   num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=1,
                                   head_dim=d_kv, sliding_window=16,
                                   layer_types=[("sliding_attention", "full_attention")[i % 2]
                                                for i in range(layers)])

    cfg = transformers.T5GemmaConfig(encoder=module(2, 8 * heads * (2 + seed % 2)),
                                     decoder=module(dec_layers, 8 * heads),
                                     vocab_size=64)
    return cfg, transformers.T5GemmaForConditionalGeneration(cfg)


def _marian(dec_layers: int, heads: int, d_kv: int, seed: int):
    """No table row: the ArchConfig comes from transformers' config (families/fallback.py)."""
    import transformers

    cfg = transformers.MarianConfig(vocab_size=64, decoder_vocab_size=64, d_model=heads * d_kv,
                                    encoder_layers=2, decoder_layers=dec_layers,
                                    encoder_attention_heads=heads,
                                    decoder_attention_heads=heads, encoder_ffn_dim=32, decoder_ffn_dim=32,
                                    max_position_embeddings=64, pad_token_id=0, decoder_start_token_id=0)
    return cfg, transformers.MarianMTModel(cfg)


BUILDERS = {"t5": _t5, "bart": _bart, "whisper": _whisper, "t5gemma": _t5gemma, "marian": _marian}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(BUILDERS))
@settings(max_examples=3, deadline=None)
@given(dec_layers=st.integers(1, 3), heads=st.integers(1, 3),
       d_kv=st.sampled_from([4, 8]), batch=st.integers(1, 2), enc_len=st.integers(1, 9),
       dec_len=st.integers(1, 6), seed=st.integers(0, 3))
def test_cache_bytes_match_transformers(family, dec_layers, heads, d_kv, batch, enc_len, dec_len, seed):
    # imported here, not at collection (seconds in every pytest-xdist worker)
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    torch.manual_seed(seed)
    hf_cfg, model = BUILDERS[family](dec_layers, heads, d_kv, seed)
    model.eval()
    if family == "whisper":  # the conv stem halves the frames: the encoder output is max_source_positions
        inputs = {"input_features": torch.randn(batch, 8, 2 * hf_cfg.max_source_positions)}
    else:
        inputs = {"input_ids": torch.randint(3, 64, (batch, enc_len))}
    with torch.no_grad():
        out = model(**inputs, decoder_input_ids=torch.full((batch, dec_len), 1), use_cache=True)
    cache = out.past_key_values
    cfg = arch_config_from_hf(hf_cfg.to_dict())
    assert cfg.decoder_layers == dec_layers
    kv = transformers_memory(cfg, 0, context=dec_len, batch=batch, dtype=F32, encoder_length=enc_len).kv
    parts = {p.kind: p.total_bytes for p in kv.parts}
    self_attention = parts.get("full", 0) + parts.get("sliding", 0)
    assert self_attention == _cache_bytes(cache.self_attention_cache)
    assert parts[CROSS] == _cache_bytes(cache.cross_attention_cache)
    hidden = out.encoder_last_hidden_state
    assert parts[ENCODER_OUTPUT] == hidden.numel() * hidden.element_size()
    neutral = kv_cache_for_context(cfg, dec_len, batch, encoder_length=enc_len, type_k=F32, type_v=F32)
    assert neutral.total_bytes == self_attention + parts[CROSS]


def test_encoder_only_has_no_cache_and_decoder_only_no_cross():
    bert = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 100}
    assert kv_cache_for_context(arch_config_from_hf(bert), 512).total_bytes == 0
    llama = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
             "intermediate_size": 128, "vocab_size": 100}
    assert [p.kind for p in kv_cache_for_context(arch_config_from_hf(llama), 512).parts] == ["full"]


def test_llamacpp_keeps_the_encoder_output_not_a_cross_cache():
    """llama.cpp's T5: decoder self-attention K/V in the cache, the encoder output (f32) on the host."""
    cfg = arch_config_from_hf(json.loads((CONFIGS / "mt5-small.json").read_text()))
    m = llamacpp_memory(cfg, 0, n_ctx=1024, encoder_length=300)
    assert [p.kind for p in m.kv.parts] == ["full"]
    assert m.kv.parts[0].layers == cfg.decoder_layers
    base = llamacpp_memory(cfg, 0, n_ctx=1024, encoder_length=1).overhead_bytes
    assert m.overhead_bytes - base == (300 - 1) * cfg.hidden_size * 4


def test_whisper_encoder_length_is_fixed():
    cfg = arch_config_from_hf({"model_type": "whisper", "d_model": 1280, "encoder_layers": 32,
                               "decoder_layers": 2, "encoder_attention_heads": 20,
                               "decoder_attention_heads": 20})
    kv = kv_cache_for_context(cfg, 448, encoder_length=10)
    cross = kv.part(CROSS)
    assert cross is not None and (cross.cells, cross.layers) == (1500, 2)
    assert kv.part("full").layers == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(("decoder_keys", "expected"), [({}, 6), ({"t5.decoder_block_count": 4}, 4)])
def test_gguf_t5_caches_in_its_decoder_layers(decoder_keys, expected):
    from paramscope.knowledge.gguf_arch import arch_config

    meta = {"general.architecture": "t5", "t5.block_count": 6, "t5.embedding_length": 512,
            "t5.attention.head_count": 8, "t5.attention.key_length": 64, "t5.attention.value_length": 64,
            "t5.feed_forward_length": 2048, "t5.context_length": 512, **decoder_keys}
    cfg = arch_config(meta, set(), 32128, "t5.gguf")
    assert cfg is not None and cfg.decoder_layers == expected
    kv = kv_cache_for_context(cfg, 100, encoder_length=50)
    assert kv.part("full").layers == expected  # type: ignore[union-attr]
    assert kv.part(CROSS).cells == 50  # type: ignore[union-attr]


@pytest.mark.parametrize("model_type", ["t5", "mt5", "umt5"])
def test_an_encoder_class_keeps_no_cache(model_type: str) -> None:
    """T5EncoderModel (a diffusion pipeline's text encoder) has no decoder: no decoder layers, no KV cache,
    where T5ForConditionalGeneration of the same config caches in its decoder."""
    prefix = {"t5": "T5", "mt5": "MT5", "umt5": "UMT5"}[model_type]
    cfg = {"model_type": model_type, "num_layers": 2, "num_decoder_layers": 2, "d_model": 64, "d_ff": 128,
           "num_heads": 4, "d_kv": 16, "vocab_size": 100}
    encoder = arch_config_from_hf({**cfg, "architectures": [f"{prefix}EncoderModel"]})
    assert not encoder.is_encoder_decoder and set(encoder.layer_types) == {"none"}
    assert kv_cache_for_context(encoder, 512).total_bytes == 0
    whole = arch_config_from_hf({**cfg, "architectures": [f"{prefix}ForConditionalGeneration"]})
    assert whole.is_encoder_decoder and kv_cache_for_context(whole, 512).total_bytes > 0
