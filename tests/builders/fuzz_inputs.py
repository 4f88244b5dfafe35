"""Structure-aware mutations of real and generated model files, for the reader fuzzers.

Every mutator takes a ``random.Random`` (hypothesis hands one in through ``st.randoms()``, the campaign
a seeded one) and a seed input, and writes one hostile input under a folder, returning its path. The
mutations know the formats' structure: a GGUF header is walked into its integer fields (counts, string
lengths, type tags, dims, offsets) so a mutation sets one of them to a boundary value; a safetensors
header is parsed and one node of its JSON tree replaced; a config.json gets wrong types, NaN, huge,
negative and deeply nested values; an index gets bad shard names; zips and protobufs get their bytes
and fields changed. Byte-level flips, cuts and splices cover what the structure does not.
"""

from __future__ import annotations

import copy
import json
import math
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# integers at the edges of every width and of the checks readers make
EDGE_INTS = [0, 1, 2, 3, 4, 7, 8, 13, 31, 32, 63, 64, 127, 128, 255, 256, 4095, 65535, 65536,
             2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1]

# ---------------------------------------------------------------------------------------------------
# GGUF: the header as integer fields


GGUF_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q",
               11: "<q", 12: "<d"}
Field = tuple[int, int, str]  # offset, width in bytes, kind


def gguf_fields(data: bytes, max_strings: int = 2000) -> tuple[list[Field], int]:
    """The integer fields of a valid GGUF header in file order (at most ``max_strings`` string lengths
    per array), and where the header ends."""
    fields: list[Field] = [(4, 4, "version"), (8, 8, "n_tensors"), (16, 8, "n_kv")]
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
    pos = 24

    def string(kind: str) -> None:
        nonlocal pos
        fields.append((pos, 8, kind))
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n

    def value(vtype: int, kind: str) -> None:
        nonlocal pos
        if vtype == 8:
            string(f"{kind}.strlen")
        elif vtype == 9:
            fields.append((pos, 4, "array_type"))
            (sub,) = struct.unpack_from("<I", data, pos)
            fields.append((pos + 4, 8, "array_len"))
            (n,) = struct.unpack_from("<Q", data, pos + 4)
            pos += 12
            if sub == 8:
                for i in range(n):
                    if i < max_strings:
                        string("array.strlen")
                    else:
                        (k,) = struct.unpack_from("<Q", data, pos)
                        pos += 8 + k
            else:
                size = struct.calcsize(GGUF_SCALAR[sub])
                if n:
                    fields.append((pos, size, "array_item"))
                pos += n * size
        else:
            fields.append((pos, struct.calcsize(GGUF_SCALAR[vtype]), kind))
            pos += struct.calcsize(GGUF_SCALAR[vtype])

    for _ in range(n_kv):
        string("key.strlen")
        (vtype,) = struct.unpack_from("<I", data, pos)
        fields.append((pos, 4, "value_type"))
        pos += 4
        value(vtype, "value")
    for _ in range(n_tensors):
        string("tensor_name.strlen")
        (n_dims,) = struct.unpack_from("<I", data, pos)
        fields.append((pos, 4, "n_dims"))
        pos += 4
        for _ in range(n_dims):
            fields.append((pos, 8, "ne"))
            pos += 8
        fields.append((pos, 4, "ggml_type"))
        fields.append((pos + 4, 8, "tensor_offset"))
        pos += 12
    return fields, pos


def _edge(rnd: random.Random, width: int, old: int, file_size: int) -> int:
    pool = [*EDGE_INTS, old + 1, old - 1, old * 2, old // 2, file_size, file_size - 1, file_size + 1,
            rnd.getrandbits(8 * width)]
    if rnd.random() < 0.3:
        pool = [old ^ (1 << rnd.randrange(8 * width))]
    return rnd.choice(pool) % (1 << (8 * width))


def mutate_gguf_field(rnd: random.Random, data: bytes, fields: list[Field]) -> bytes:
    """One to three integer fields set to edge values: kinds chosen evenly, then a field of the kind."""
    out = bytearray(data)
    by_kind: dict[str, list[Field]] = {}
    for f in fields:
        by_kind.setdefault(f[2], []).append(f)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        kind = rnd.choice(sorted(by_kind))
        pos, width, _ = rnd.choice(by_kind[kind])
        old = int.from_bytes(out[pos:pos + width], "little")
        out[pos:pos + width] = _edge(rnd, width, old, len(data)).to_bytes(width, "little")
    return bytes(out)


def mutate_bytes(rnd: random.Random, data: bytes, region: int | None = None) -> bytes:
    """Flips, cuts, splices, duplications and insertions, within the first ``region`` bytes when given."""
    out = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 4, 8))):
        end = min(len(out), region or len(out))
        if not end:
            break
        op = rnd.randrange(6)
        i = rnd.randrange(end)
        if op == 0:
            out[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            out[i] = rnd.choice((0, 0xFF, 0x7F, 0x80, ord('"'), ord("\\"), ord("{"), ord("[")))
        elif op == 2:
            del out[i:i + rnd.choice((1, 2, 4, 8, 64))]
        elif op == 3:
            j = rnd.randrange(end)
            out[i:i] = out[j:j + rnd.choice((1, 4, 8, 64))]
        elif op == 4:
            out[i:i] = bytes(rnd.getrandbits(8) for _ in range(rnd.choice((1, 4, 8))))
        else:
            return bytes(out[:i])  # a cut
    return bytes(out)


def write_gguf_mutant(rnd: random.Random, seed: bytes, fields: list[Field], header_end: int,
                      data_size: int, path: Path) -> Path:
    """A mutated header followed by the seed's tensor data as a sparse tail of zeros (the real bytes
    are not needed to reach the checks; copying 250 MB per case would be)."""
    header = seed[:header_end]
    header = mutate_gguf_field(rnd, header, fields) if rnd.random() < 0.7 else mutate_bytes(rnd, header)
    cut = rnd.random() < 0.15
    with open(path, "wb") as f:
        f.write(header)
        if not cut:
            f.truncate(len(header) + data_size)
        else:
            f.truncate(len(header) + rnd.randrange(max(data_size, 1)))
    return path


# semantic GGUF: well-formed files whose metadata values are of the wrong type or absurd

ARCHES = ["llama", "gemma3", "qwen3moe", "deepseek2", "mamba", "bert", "gpt_oss", "falcon", "jamba",
          "qwen2", "phi3", "", "../x", "llama\x00", "🦙"]
ARCH_KEYS = ["block_count", "context_length", "embedding_length", "feed_forward_length",
             "attention.head_count", "attention.head_count_kv", "attention.key_length",
             "attention.value_length", "expert_count", "expert_used_count", "expert_shared_count",
             "attention.sliding_window", "attention.sliding_window_pattern", "rope.freq_base",
             "rope.dimension_count", "attention.kv_lora_rank", "attention.q_lora_rank",
             "leading_dense_block_count", "expert_feed_forward_length", "vocab_size", "ssm.state_size",
             "ssm.inner_size", "ssm.conv_kernel", "attention.layer_norm_rms_epsilon",
             "full_attention_interval", "rope.scaling.factor"]
GENERAL_KEYS = ["general.file_type", "general.quantization_version", "general.alignment", "split.count",
                "split.no", "split.tensors.count", "tokenizer.ggml.model", "tokenizer.ggml.tokens",
                "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.pre", "general.name", "general.size_label"]


def _gguf_value(rnd: random.Random) -> tuple[Any, Any, Any]:
    """A (value, type, sub type) of gguf-py's GGUFValueType, any type, edge values."""
    from gguf.constants import GGUFValueType as V

    kind = rnd.randrange(9)
    if kind == 0:
        return rnd.choice([0, 1, 2, 2**31 - 1, 2**32 - 1]), V.UINT32, None
    if kind == 1:
        return rnd.choice([-1, -(2**31), 0, 7]), V.INT32, None
    if kind == 2:
        return rnd.choice([0, 2**63 - 1, 2**64 - 1, 2**40]), V.UINT64, None
    if kind == 3:
        return rnd.choice([math.nan, math.inf, -math.inf, -1.5, 0.0, 1e38]), V.FLOAT32, None
    if kind == 4:
        return rnd.choice(["", "x", "llama", "1e9", "\udcff"[:0] + "é" * 3, "-1"]), V.STRING, None
    if kind == 5:
        return rnd.choice([True, False]), V.BOOL, None
    if kind == 6:
        n = rnd.choice([1, 2, 3, 4, 64])  # gguf-py writes no empty array
        return [rnd.choice([0, 1, 4, 2**31 - 1]) for _ in range(n)], V.ARRAY, V.UINT32
    if kind == 7:
        n = rnd.choice([1, 5])
        return [rnd.choice(["a", "", "<s>", "▁x"]) for _ in range(n)], V.ARRAY, V.STRING
    return [rnd.choice([-1.0, 0.0, math.nan]) for _ in range(rnd.choice([1, 2, 4]))], V.ARRAY, V.FLOAT32


FLOAT_KEYS = ("rope.freq_base", "rope.scaling.factor", "attention.layer_norm_rms_epsilon")
PER_LAYER_KEYS = ("feed_forward_length", "attention.head_count", "attention.head_count_kv",
                  "attention.sliding_window_pattern")


def _typed_value(rnd: random.Random, key: str) -> tuple[Any, Any, Any]:
    from gguf.constants import GGUFValueType as V

    if key.endswith(FLOAT_KEYS):
        return rnd.choice([math.nan, math.inf, 0.0, -1.0, 1e-30, 1e30]), V.FLOAT32, None
    if key.startswith("tokenizer.ggml.tokens") or key.endswith("merges"):
        words = [rnd.choice(["a", "", "<s>", "▁x", "a b"]) for _ in range(rnd.choice([1, 5]))]
        return words, V.ARRAY, V.STRING
    if key.endswith((".pre", ".model", ".name", ".size_label")):
        return rnd.choice(["llama", "gpt2", "bert", "t5", "rwkv", "", "x"]), V.STRING, None
    if key.endswith(("scores", "token_type")):
        return [rnd.choice([0, 1, 3, 6]) for _ in range(rnd.choice([1, 5]))], V.ARRAY, V.INT32
    if key.endswith(PER_LAYER_KEYS) and rnd.random() < 0.5:
        n = rnd.choice([1, 2, 3, 7, 300])
        return [rnd.choice([0, 1, 4, 8, 2**31 - 1]) for _ in range(n)], V.ARRAY, V.UINT32
    return rnd.choice([0, 0, 1, 2, 3, 4, 7, 64, 65535, 2**31 - 1, 2**32 - 1]), V.UINT32, None


def write_gguf_semantic(rnd: random.Random, path: Path) -> Path:
    """A file gguf-py writes without complaint, with absurd or mistyped architecture metadata."""
    import numpy as np
    from gguf import GGUFWriter
    from gguf.constants import GGMLQuantizationType as T

    arch = rnd.choice(ARCHES)
    w = GGUFWriter(path, arch)
    keys = {f"{arch}.{k}" for k in rnd.sample(ARCH_KEYS, rnd.randrange(1, 10))}
    keys |= set(rnd.sample(GENERAL_KEYS, rnd.randrange(0, 5)))
    typed = rnd.random() < 0.5  # every key of its kind: the file reaches the analyses
    for key in sorted(keys):
        if key == "general.alignment":
            w.add_custom_alignment(rnd.choice([1, 2, 64, 4096]))
            continue
        # mostly of the type llama.cpp reads the key as, with absurd values; else of any type
        value, vtype, sub = _typed_value(rnd, key) if typed or rnd.random() < 0.7 else _gguf_value(rnd)
        w.add_key_value(key, value, vtype, sub_type=sub)
    hidden = rnd.choice([0, 1, 8, 32])
    names = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_up.weight",
             "blk.1.attn_q.weight", "blk.0.ffn_gate_exps.weight", "output.weight",
             "blk.0.attn_kv_a_mqa.weight",
             "blk.9999999999.attn_q.weight", "blk.-1.attn_q.weight", "blk.0.ssm_a"]
    for name in rnd.sample(names, rnd.randrange(0, len(names))):
        rows = rnd.choice([0, 1, 4, 32])
        dtype = rnd.choice([np.float32, np.float16])
        arr = np.full((rows, hidden), rnd.choice([0.0, 1.0, np.nan, np.inf]), dtype=dtype)
        if rnd.random() < 0.2 and hidden and hidden % 32 == 0:
            w.add_tensor(name, np.zeros((rows, hidden // 32 * 18), np.uint8), raw_dtype=T.Q4_0)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ---------------------------------------------------------------------------------------------------
# JSON trees: safetensors headers, config.json, index json

WEIRD_JSON: list[Any] = [None, True, False, 0, -1, 1, 2**31, 2**63, 2**64, 10**30, -(10**30), 1.5, -0.0,
                         1e308, "NaN", "", "x", "F16", [], [1], [-1], [0, 0], [2**64, 1], [[1]], {},
                         {"a": 1}, [None], ["1"], [1.5, 2], "../../../etc/passwd", "/etc/passwd"]
# texts json.loads accepts though they are not numbers JSON allows, and ones that stress the parser
RAW_JSON_VALUES = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000, "-" + "9" * 4400,
                   "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                   '"\\ud800"', '"\\u0000"', "1E400", "123456789012345678901234567890"]


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*prefix, i))
    return out


def _set(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = tree
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return tree


RAW_MARK = "@@RAW{}@@"


def mutate_json(rnd: random.Random, tree: Any, n: int | None = None) -> str:
    """The tree with one to three nodes replaced, deleted or renamed, dumped; some replacements are raw
    texts JSON's parser accepts though JSON does not (NaN, 1e999, 5000 digits, deep nesting)."""
    tree = copy.deepcopy(tree)
    raws: list[str] = []
    for _ in range(n or rnd.choice((1, 1, 2, 3))):
        paths = _paths(tree)
        path = rnd.choice(paths[1:] or paths)
        op = rnd.randrange(10)
        if op < 5:
            tree = _set(tree, path, copy.deepcopy(rnd.choice(WEIRD_JSON)))
        elif op < 7:
            raws.append(rnd.choice(RAW_JSON_VALUES))
            tree = _set(tree, path, RAW_MARK.format(len(raws) - 1))
        elif op == 7 and path:
            parent = tree
            for k in path[:-1]:
                parent = parent[k]
            if isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.pop(path[-1])
        elif op == 8 and path and isinstance(path[-1], str):
            parent = tree
            for k in path[:-1]:
                parent = parent[k]
            new_key = rnd.choice(["", "__metadata__", path[-1] + "\x00", "a" * 300, "weight"])
            parent[new_key] = parent.pop(path[-1])
        else:
            tree = _set(tree, path, copy.deepcopy(_get(tree, rnd.choice(paths))))
    text = json.dumps(tree, allow_nan=True)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(RAW_MARK.format(i)), raw)
    return text


def _get(tree: Any, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def write_safetensors_mutant(rnd: random.Random, seed: Path, path: Path) -> Path:
    """A safetensors file whose header JSON, header bytes or length field is mutated; data as a sparse
    tail of the seed's data length (or cut short)."""
    raw = seed.read_bytes() if seed.stat().st_size < 1 << 20 else _head(seed)
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = raw[8:8 + n]
    data_len = seed.stat().st_size - 8 - n
    choice = rnd.random()
    length = None
    if choice < 0.6:
        text = mutate_json(rnd, json.loads(header)).encode()
    elif choice < 0.85:
        text = mutate_bytes(rnd, header)
    else:
        text = header
        length = _edge(rnd, 8, n, seed.stat().st_size)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length) + text)
        tail = data_len if rnd.random() > 0.15 else rnd.randrange(max(data_len, 1))
        f.truncate(8 + len(text) + tail)
    return path


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return struct.pack("<Q", n) + f.read(n)


def write_config_mutant(rnd: random.Random, seed: dict, path: Path) -> Path:
    path.write_text(mutate_json(rnd, seed, rnd.choice((1, 2, 3, 6))))
    return path


def write_index_mutant(rnd: random.Random, folder: Path) -> Path:
    """A sharded safetensors model (two shards) whose index JSON is mutated."""
    from builders.safetensors_files import write_sharded

    folder.mkdir(parents=True, exist_ok=True)
    index = write_sharded(folder, [{"model.embed_tokens.weight": ("F16", [16, 8]),
                                    "model.layers.0.self_attn.q_proj.weight": ("F16", [8, 8])},
                                   {"model.layers.0.mlp.up_proj.weight": ("BF16", [16, 8]),
                                    "lm_head.weight": ("F32", [16, 8])}])
    tree = json.loads(index.read_text())
    index.write_text(mutate_json(rnd, tree))
    return index


# ---------------------------------------------------------------------------------------------------
# zips (PyTorch) and protobufs (ONNX)


def write_zip_mutant(rnd: random.Random, seed: Path, path: Path) -> Path:
    """A torch.save zip with members changed (data files cut or grown, byteorder/version rewritten,
    members dropped or renamed) or its bytes mutated."""
    if rnd.random() < 0.4:
        path.write_bytes(mutate_bytes(rnd, seed.read_bytes()))
        return path
    with zipfile.ZipFile(seed) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    i = rnd.randrange(len(members))
    name, data = members[i]
    op = rnd.randrange(5)
    if op == 0:
        data = data[:rnd.randrange(len(data) + 1)]
    elif op == 1:
        data = data + b"\0" * rnd.choice((1, 8, 4096))
    elif op == 2:
        data = rnd.choice([b"big", b"little", b"", b"\xff", b"9999999999", b"-1", b"3\n"])
    elif op == 3:
        members.pop(i)
        members = members or [("x", b"")]
        i = 0
        name, data = members[0]
    else:
        name = rnd.choice([name + "x", "../" + name, name.rsplit("/", 1)[0] + "/data/999", "/" + name])
    if op != 3:
        members[i] = (name, data)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for n, d in members:
            z.writestr(n, d)
    return path


def write_onnx_mutant(rnd: random.Random, folder: Path) -> Path:
    """A small ONNX model whose initializers' dims, types, raw data or external-data entries are absurd,
    or whose serialized bytes are mutated."""
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    from builders.onnx_files import linear_model

    folder.mkdir(parents=True, exist_ok=True)
    inits = [numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W"),
             numpy_helper.from_array(np.ones(3, dtype=np.float16), "B"),
             numpy_helper.from_array(np.array([3], dtype=np.int64), "shape")]
    path = folder / "model.onnx"
    t = rnd.choice(inits)
    op = rnd.randrange(6)
    if op == 0:
        t.dims[:] = [rnd.choice([-1, 0, 2**62, 2**63 - 1, 3]) for _ in range(rnd.choice([1, 2, 5]))]
    elif op == 1:
        t.data_type = rnd.choice([0, 8, 17, 23, 24, 99, -1 & 0x7FFFFFFF])
    elif op == 2:
        t.raw_data = t.raw_data[:rnd.randrange(len(t.raw_data) + 1)]
    elif op == 3:
        (folder / "w.bin").write_bytes(b"\0" * rnd.choice([0, 16, 48]))
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", rnd.choice(["w.bin", "../../../etc/passwd", "/etc/passwd", "", "nope.bin",
                                               "model.onnx", "."])),
                     ("offset", str(rnd.choice([0, -1, 2**63, 7, 10**30]))),
                     ("length", str(rnd.choice([0, 48, 2**63, -5, 10**30])))):
            if rnd.random() < 0.85:
                entry = t.external_data.add()
                entry.key, entry.value = k, v
    elif op == 4:
        t.data_location = TensorProto.EXTERNAL  # external with no entries
    model = linear_model(inits)
    raw = model.SerializeToString()
    if op == 5:
        raw = mutate_bytes(rnd, raw)
    path.write_bytes(raw)
    del onnx
    return path


Mutator = Callable[[random.Random, Path], list[Path]]


def write_torch_seed(path: Path) -> Path:
    """A torch.save-layout zip (written without torch, as builders/pickle_files.py writes it)."""
    from builders.pickle_files import SPECS, state_dict_checkpoint

    return state_dict_checkpoint(path, SPECS)


SAME_WIDTH = [["F16", "BF16", "I16", "U16"], ["F32", "I32", "U32"], ["F64", "I64", "U64"],
              ["U8", "I8", "BOOL", "F8_E4M3", "F8_E5M2"]]
ODD_NAMES = ["", ".", "..", "a" * 300, "model.layers.99999999999.mlp.up_proj.weight", "model.layers.-1.x",
             "lm_head.weight", "model.embed_tokens.weight", "model.layers.0.mlp.experts.0.up_proj.weight",
             "ümlaut.weight", "x\x00y", "model.layers.0.self_attn.q_proj.qweight", "model.norm.weight"]


def write_safetensors_semantic(rnd: random.Random, seed: Path, path: Path) -> Path:
    """A file the safetensors library still accepts (sizes and offsets kept consistent), with tensors
    retyped among dtypes of one width, reshaped to another shape of the same element count, renamed to
    odd or colliding-looking names, or __metadata__ values changed: it reaches the analyses."""
    raw = seed.read_bytes() if seed.stat().st_size < 1 << 20 else _head(seed)
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    names = [k for k in header if k != "__metadata__"]
    for _ in range(rnd.choice((1, 2, 4))):
        name = rnd.choice(names)
        info = header[name]
        op = rnd.randrange(4)
        if op == 0:
            group = next((g for g in SAME_WIDTH if info["dtype"] in g), [info["dtype"]])
            info["dtype"] = rnd.choice(group)
        elif op == 1:
            count = math.prod(info["shape"])
            info["shape"] = rnd.choice([[count], [1, count], [count, 1], [1, 1, count], [count, 1, 1, 1, 1]])
        elif op == 2:
            new = rnd.choice(ODD_NAMES)
            if new not in header:
                header[new] = header.pop(name)
                names[names.index(name)] = new
        else:
            header["__metadata__"] = {rnd.choice(["format", "total_parameters", "", "x" * 100]):
                                      rnd.choice(["pt", "mlx", "", "1" * 30, "gguf"])}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    data_len = seed.stat().st_size - 8 - n
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + data_len)
    return path
