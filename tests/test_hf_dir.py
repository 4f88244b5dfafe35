"""Hugging Face directories: which weights are read, what config.json and the tokenizer add.

The GGUF reader, the config.json reader and the family table belong to other modules; most tests here
stand them in with fakes (put in ``sys.modules``) to pin the delegation itself. Two tests use the real
modules and are skipped until those land.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builders.safetensors_files import MINILM_PARAMS, write_safetensors, write_sharded
from paramscope.errors import HeaderError, SourceError
from paramscope.formats import hf_dir, open_model

LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8,
                "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 1,
                "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 64}


def write_config(folder: Path, config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or LLAMA_CONFIG))
    return folder


# --- the real directory ------------------------------------------------------------------------------

def test_minilm_directory(minilm_dir: Path) -> None:
    model = hf_dir.read(minilm_dir)
    assert (model.format, model.source, model.params) == ("safetensors", str(minilm_dir), MINILM_PARAMS)
    assert model.files == (str(minilm_dir / "model.safetensors"),)
    assert model.metadata["config"] == json.loads((minilm_dir / "config.json").read_text())
    assert model.metadata["format"] == "pt"
    assert [Path(p).name for p in model.tokenizer_files] == [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
    assert open_model(minilm_dir).params == MINILM_PARAMS  # through the registry


def test_minilm_as_sentence_transformers_subfolder(tmp_path: Path, minilm_dir: Path) -> None:
    """Older sentence-transformers layout: the Transformer module in 0_Transformer/, a Dense module
    with its own weights in 2_Dense/; tokenizer files found in the module folder."""
    sub = tmp_path / "0_Transformer"
    sub.mkdir()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        shutil.copy(minilm_dir / name, sub / name)
    (tmp_path / "2_Dense").mkdir()
    write_safetensors(tmp_path / "2_Dense" / "model.safetensors",
                      {"linear.weight": ("F32", [256, 384]), "linear.bias": ("F32", [256])})
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 3, "name": "3", "path": "..", "type": "sentence_transformers.models.Dense"}]))
    model = hf_dir.read(tmp_path)
    assert model.params == MINILM_PARAMS + 256 * 384 + 256
    assert "2_Dense.linear.weight" in {t.name for t in model.tensors}
    assert [Path(p).name for p in model.tokenizer_files] == ["tokenizer.json"]
    assert len(model.files) == 2


# --- which weights --------------------------------------------------------------------------------

SHARDS = [{"model.embed_tokens.weight": ("BF16", [32, 8])},
          {"model.norm.weight": ("BF16", [8]), "lm_head.weight": ("BF16", [32, 8])}]


def test_sharded_directory(tmp_path: Path) -> None:
    write_config(tmp_path)
    write_sharded(tmp_path, SHARDS)
    write_safetensors(tmp_path / "consolidated.safetensors", {"x": ("F32", [4])})  # Mistral's extra copy
    (tmp_path / "tokenizer.model").write_bytes(b"\0")
    model = hf_dir.read(tmp_path)
    assert model.params == 32 * 8 + 8 + 32 * 8
    assert [Path(f).name for f in model.files] == ["model-00001-of-00002.safetensors",
                                                   "model-00002-of-00002.safetensors"]
    assert model.metadata["config"] == LLAMA_CONFIG
    assert [Path(p).name for p in model.tokenizer_files] == ["tokenizer.model"]


def test_single_file_under_another_name(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "diffusion_pytorch_model.safetensors", {"x": ("F16", [3, 3])})
    model = hf_dir.read(tmp_path)
    assert (model.format, model.params, model.config) == ("safetensors", 9, None)
    assert "config" not in model.metadata


def test_several_files_without_index(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        write_safetensors(tmp_path / f"{name}.safetensors", {"x": ("F16", [1])})
    with pytest.raises(SourceError, match=r"several \*\.safetensors files and no model\.safetensors\."
                                          r"index\.json \(a\.safetensors, b\.safetensors, c\.safetensors "
                                          r"\(and 1 more\)\); name the file to read"):
        hf_dir.read(tmp_path)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        hf_dir.read(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: no model weights and no config.json found (looked for ")
    assert "model.safetensors.index.json" in message and "*.gguf" in message


def test_broken_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F16", [1])})
    with pytest.raises(HeaderError, match=f"^{tmp_path}/config.json: not valid JSON"):
        hf_dir.read(tmp_path)


def test_sniff_and_registry(tmp_path: Path) -> None:
    assert hf_dir.sniff(b"", tmp_path)
    assert not hf_dir.sniff(b"", tmp_path / "missing")


# --- GGUF directories ----------------------------------------------------------------------------

def tiny_gguf(path: Path) -> Path:
    """A real two-tensor GGUF written by gguf-py's writer."""
    import numpy as np

    from builders.gguf_files import write_gguf

    return write_gguf(path, [("token_embd.weight", np.zeros((4, 8), np.float32), None),
                             ("output_norm.weight", np.ones(8, np.float32), None)])


def test_one_gguf(tmp_path: Path) -> None:
    tiny_gguf(tmp_path / "model-Q4_K_M.gguf")
    (tmp_path / "mmproj-model-f16.gguf").write_bytes(b"GGUF")  # a vision projector, not the model
    model = hf_dir.read(tmp_path)
    assert (model.format, model.source) == ("gguf", str(tmp_path))
    assert model.files == (str(tmp_path / "model-Q4_K_M.gguf"),) and model.params == 40


def test_gguf_split_set_reads_every_part(tmp_path: Path) -> None:
    from builders.gguf_files import moe_kv, moe_tensors, write_gguf

    write_gguf(tmp_path / "big.gguf", moe_tensors(), moe_kv(), split_max_tensors=2)
    parts = sorted(tmp_path.glob("big-*-of-*.gguf"))
    assert len(parts) > 1
    model = hf_dir.read(tmp_path)
    assert sorted(model.files) == [str(p) for p in parts]


def test_several_gguf_models(tmp_path: Path) -> None:
    for name in ("m-Q4_K_M.gguf", "m-Q8_0.gguf"):
        tiny_gguf(tmp_path / name)
    with pytest.raises(SourceError, match=r"several GGUF models \(m-Q4_K_M\.gguf, m-Q8_0\.gguf\)"):
        hf_dir.read(tmp_path)


def test_safetensors_preferred_over_gguf(tmp_path: Path) -> None:
    tiny_gguf(tmp_path / "m.gguf")
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F16", [2])})
    assert hf_dir.read(tmp_path).format == "safetensors"


# --- config.json: family table and config-only directories ----------------------------------------

def test_arch_config_attached(tmp_path: Path) -> None:
    write_config(tmp_path)
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F16", [2])})
    config = hf_dir.read(tmp_path).config
    assert config is not None and config.family == LLAMA_CONFIG["model_type"]
    assert config.hidden_size == LLAMA_CONFIG["hidden_size"]


def test_unknown_family_keeps_config_none(tmp_path: Path) -> None:
    write_config(tmp_path, {**LLAMA_CONFIG, "model_type": "no-such-family"})
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F16", [2])})
    model = hf_dir.read(tmp_path)
    assert model.config is None and model.params == 2


def test_malformed_config_leaves_a_warning(tmp_path: Path) -> None:
    write_config(tmp_path, {**LLAMA_CONFIG, "head_dim": 0})
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F16", [2])})
    model = hf_dir.read(tmp_path)
    assert model.config is None and model.params == 2
    (warning,) = model.metadata["warnings"]
    assert warning.startswith(f"{tmp_path}/config.json: architecture left unknown (")


def test_config_only_directory(tmp_path: Path) -> None:
    from paramscope.formats import config_json

    write_config(tmp_path)
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    model = hf_dir.read(tmp_path)
    assert (model.format, model.source, model.has_weights) == ("config", str(tmp_path), False)
    assert [Path(p).name for p in model.tokenizer_files] == ["vocab.txt"]
    assert model.params == config_json.read(tmp_path / "config.json").params > 0


def test_pytorch_weights_directory_single_and_sharded(tmp_path: Path) -> None:
    """pytorch_model.bin (or its sharded index) is read by the restricted pickle reader, never run."""
    from builders.pickle_files import SPECS, state_dict_checkpoint
    from paramscope.analyses.safety.pickle_safety import assess

    single = write_config(tmp_path / "single")
    state_dict_checkpoint(single / "pytorch_model.bin", SPECS)
    one = hf_dir.read(single)
    assert one.format == "pytorch" and one.config is not None and one.has_weights
    assert [t.name for t in one.tensors] == [s.name for s in SPECS]
    assert assess(one) is not None and assess(one).exit_code == 0
    sharded = write_config(tmp_path / "sharded")
    half = len(SPECS) // 2
    state_dict_checkpoint(sharded / "pytorch_model-00001-of-00002.bin", SPECS[:half])
    state_dict_checkpoint(sharded / "pytorch_model-00002-of-00002.bin", SPECS[half:])
    weight_map = {s.name: f"pytorch_model-0000{1 if i < half else 2}-of-00002.bin"
                  for i, s in enumerate(SPECS)}
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    both = hf_dir.read(sharded)
    assert sorted(t.name for t in both.tensors) == sorted(s.name for s in SPECS)
    assert len(both.files) == 2 and both.params == one.params
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {"x": "../evil.bin"}}))
    with pytest.raises(HeaderError, match="plain file name"):
        hf_dir.read(sharded)


def test_config_only_with_the_real_reader(tmp_path: Path, minilm_dir: Path) -> None:
    shutil.copy(minilm_dir / "config.json", tmp_path / "config.json")
    model = hf_dir.read(tmp_path)
    assert model.source == str(tmp_path) and not model.has_weights


def test_real_family_table_on_minilm(minilm_dir: Path) -> None:
    config = hf_dir.read(minilm_dir).config
    assert config is not None and (config.n_layers, config.hidden_size, config.n_heads) == (6, 384, 12)
