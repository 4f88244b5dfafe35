"""The edited copies of the real model files that tests/test_diff.py compares, and docs/diff.md shows:
MiniLM with a rank-8 change merged into some of its matrices, MiniLM's weights as GGUF Q8_0 written by
gguf-py, and the Gemma GGUF with a few tensors re-quantized by gguf-py (tools/docs_outputs.py builds
the same files to re-run the page's commands)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

LORA_RANK = 8
LORA_TENSORS = tuple(f"encoder.layer.{i}.attention.self.{w}.weight"
                     for i in (1, 4) for w in ("query", "value"))
REQUANTIZED = {"attn_q": "Q8_0", "ffn_up": "Q4_0"}  # GGUF tensor kind → the type the copy stores it at
REQUANTIZED_LAYERS = (0, 1, 2)


def minilm_arrays(minilm_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(minilm_dir / "model.safetensors")


def minilm_lora(minilm_dir: Path, out: Path, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """A copy of MiniLM (folder ``out``) whose query and value matrices of layers 1 and 4 got
    W += 10⁻³·U·V, U 384×8, V 8×384."""
    from safetensors.numpy import save_file

    shutil.copytree(minilm_dir, out, ignore=shutil.ignore_patterns("model.safetensors"))
    rng = np.random.default_rng(8)
    arrays = dict(arrays if arrays is not None else minilm_arrays(minilm_dir))
    for name in LORA_TENSORS:
        w = arrays[name]
        u = rng.standard_normal((w.shape[0], LORA_RANK)).astype(np.float32)
        v = rng.standard_normal((LORA_RANK, w.shape[1])).astype(np.float32)
        arrays[name] = (w + 1e-3 * (u @ v)).astype(np.float32)
    save_file(arrays, out / "model.safetensors", metadata={"format": "pt"})
    return out


def converter_type(gguf_name: str, array: np.ndarray) -> Any:
    """llama.cpp convert_hf_to_gguf.py's choice at --outtype q8_0 (ModelBase.prepare_tensors): 1-D
    tensors and norms stay F32, and so do position and token-type embeddings; the rest is Q8_0."""
    from gguf import GGMLQuantizationType as T

    if array.ndim <= 1 or gguf_name.endswith("_norm.weight"):
        return T.F32
    if gguf_name.startswith(("position_embd.", "token_types.")):
        return T.F32
    return T.Q8_0


def minilm_q8_gguf(minilm_dir: Path, path: Path, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """MiniLM's weights as a GGUF Q8_0 file, written by gguf-py with gguf-py's BERT name map."""
    import gguf

    arrays = arrays if arrays is not None else minilm_arrays(minilm_dir)
    w = gguf.GGUFWriter(path, "bert")
    w.add_block_count(6)
    w.add_context_length(512)
    w.add_embedding_length(384)
    w.add_feed_forward_length(1536)
    w.add_head_count(12)
    w.add_vocab_size(30522)
    w.add_layer_norm_eps(1e-12)
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 6)
    for name, array in arrays.items():
        target = table.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:  # position_ids, pooler: the converter writes no such tensor
            continue
        qtype = converter_type(target, array)
        data = gguf.quants.quantize(array, qtype) if qtype != gguf.GGMLQuantizationType.F32 else array
        w.add_tensor(target, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gemma_requantized(reader: Any, path: Path) -> Path:
    """The Gemma GGUF (``reader``: gguf-py's GGUFReader on it) copied by gguf-py, every key and every
    tensor as stored, except the attn_q and ffn_up of layers 0-2, dequantized and quantized again at
    another type by gguf.quants."""
    import gguf
    from gguf import GGMLQuantizationType as T

    w = gguf.GGUFWriter(path, "gemma3")
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    for t in reader.tensors:
        kind = t.name.split(".")[-2] if t.name.startswith("blk.") else ""
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else -1
        if kind in REQUANTIZED and layer in REQUANTIZED_LAYERS:
            values = gguf.quants.dequantize(t.data, t.tensor_type)
            qtype = T[REQUANTIZED[kind]]
            w.add_tensor(t.name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
