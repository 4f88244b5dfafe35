"""GGUF files written by gguf-py's own GGUFWriter, for the reader, hf-dir, ls and scan tests."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

V = GGUFValueType
T = GGMLQuantizationType

# ---------------------------------------------------------------------------------------------------
# helpers: write with GGUFWriter, compare with GGUFReader


def write_gguf(path: Path, tensors: Sequence[tuple[str, np.ndarray, T | None]] = (),
               kv: dict[str, tuple[Any, GGUFValueType, GGUFValueType | None]] | None = None,
               arch: str = "llama", alignment: int | None = None, version: int = 3, **writer: Any) -> Path:
    w = GGUFWriter(path, arch, **writer)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for key, (value, vtype, sub_type) in (kv or {}).items():
        w.add_key_value(key, value, vtype, sub_type=sub_type)
    for name, array, raw_dtype in tensors:
        w.add_tensor(name, array, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version != 3:  # v2 and v3 share a layout; v3 only added big-endian files
        data = bytearray(path.read_bytes())
        data[4:8] = struct.pack("<I", version)
        path.write_bytes(bytes(data))
    return path


def raw_tensor(qtype: T, rows: int, blocks_per_row: int) -> tuple[np.ndarray, T]:
    """Bytes of the right byte shape for any ggml type (GGUFWriter derives the element shape)."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    data = np.arange(rows * blocks_per_row * type_size, dtype=np.uint32).astype(np.uint8)
    return data.reshape(rows, blocks_per_row * type_size), qtype


# mixture of experts and split models


def moe_tensors(n_expert: int = 4, hidden: int = 32, ff: int = 64) -> list[tuple[str, np.ndarray, T | None]]:
    return [
        ("token_embd.weight", np.zeros((100, hidden), np.float16), None),
        ("blk.0.ffn_gate_inp.weight", np.zeros((n_expert, hidden), np.float32), None),
        ("blk.0.ffn_gate_exps.weight", np.zeros((n_expert, ff, hidden), np.float16), None),
        ("blk.0.ffn_up_exps.weight", np.zeros((n_expert, ff, hidden), np.float16), None),
        ("blk.0.ffn_down_exps.weight", np.zeros((n_expert, hidden, ff), np.float16), None),
        ("output.weight", np.zeros((100, hidden), np.float16), None),
    ]


def moe_kv(arch: str = "llama") -> dict[str, tuple[Any, GGUFValueType, GGUFValueType | None]]:
    return {f"{arch}.block_count": (1, V.UINT32, None), f"{arch}.embedding_length": (32, V.UINT32, None),
            f"{arch}.feed_forward_length": (64, V.UINT32, None),
            f"{arch}.attention.head_count": (4, V.UINT32, None),
            f"{arch}.attention.head_count_kv": (2, V.UINT32, None),
            f"{arch}.expert_count": (4, V.UINT32, None), f"{arch}.expert_used_count": (2, V.UINT32, None),
            f"{arch}.context_length": (4096, V.UINT32, None)}


def glm_gguf(path: Path, trunk: int, nextn: int, kv_per_layer: bool = False, arch: str = "glm4moe") -> Path:
    """A GLM-style GGUF of ``trunk`` layers and ``nextn`` MTP blocks after them (block_count = trunk +
    nextn, ``{arch}.nextn_predict_layers``), f16 q/k/v in every block: 2 KV heads of 8."""
    hidden = 32
    blocks = trunk + nextn
    kv = {f"{arch}.block_count": (blocks, V.UINT32, None),
          f"{arch}.embedding_length": (hidden, V.UINT32, None),
          f"{arch}.feed_forward_length": (64, V.UINT32, None),
          f"{arch}.attention.head_count": (4, V.UINT32, None),
          f"{arch}.context_length": (4096, V.UINT32, None),
          f"{arch}.nextn_predict_layers": (nextn, V.UINT32, None)}
    kv[f"{arch}.attention.head_count_kv"] = ([2] * blocks, V.ARRAY, V.UINT32) if kv_per_layer else (
        2, V.UINT32, None)
    tensors = [("token_embd.weight", np.zeros((100, hidden), np.float16), None),
               ("output.weight", np.zeros((100, hidden), np.float16), None)]
    for il in range(blocks):
        tensors += [(f"blk.{il}.attn_q.weight", np.zeros((hidden, hidden), np.float16), None),
                    (f"blk.{il}.attn_k.weight", np.zeros((16, hidden), np.float16), None),
                    (f"blk.{il}.attn_v.weight", np.zeros((16, hidden), np.float16), None)]
    return write_gguf(path, tensors, kv, arch=arch)
