"""A model zoo written for the zoo tests: many small files of every format, with duplicates, copies,
fine-tunes, shards, unsafe pickles and broken files placed on purpose, and the independent view of it:
every tensor's SHA-256 computed from what the safetensors and gguf libraries (and zipfile, for torch's
storages) read, never from paramscope."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from safetensors import safe_open
from safetensors.numpy import save_file

from builders.gguf_files import write_gguf
from builders.pickle_files import OD, G, R, dumps, storage, tensor, write_zip
from paramscope.model.dtypes import DType


@dataclass
class Zoo:
    root: Path
    files: list[Path] = field(default_factory=list)  # every model file written (broken ones too)
    unsafe: set[Path] = field(default_factory=set)  # pickles that could run code
    broken: set[Path] = field(default_factory=set)  # files every reader refuses
    same_model: list[set[str]] = field(default_factory=list)  # models (walk's keys) of equal content
    same_base: list[set[str]] = field(default_factory=list)  # models sharing most bytes, same model too
    shards: dict[str, set[Path]] = field(default_factory=dict)  # model → its shard files


def base_tensors(seed: int, width: int = 16) -> dict[str, np.ndarray]:
    """A tiny "model": embedding, two layers, a norm; values drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    out = {"model.embed_tokens.weight": rng.standard_normal((32, width)).astype(np.float32)}
    for layer in range(2):
        q = rng.standard_normal((width, width)).astype(np.float16)
        out[f"model.layers.{layer}.self_attn.q_proj.weight"] = q
        up = rng.standard_normal((2 * width, width)).astype(np.float32)
        out[f"model.layers.{layer}.mlp.up_proj.weight"] = up
    out["model.norm.weight"] = np.ones(width, np.float32)
    return out


def build_zoo(root: Path, n_bases: int = 3, copies: int = 1, finetunes: int = 2, repeat: int = 1) -> Zoo:
    """``repeat`` folders, each: ``n_bases`` base models (safetensors) with ``copies`` renamed copies and
    ``finetunes`` fine-tunes each (one tensor changed); the first base also as GGUF (same bytes, other
    names) and as two shards with an index; a safe torch checkpoint and a copy; two unsafe pickles;
    four broken files."""
    zoo = Zoo(root)
    sneaky_files = set()  # the same four floats in every folder: one content, ``repeat`` copies
    for r in range(repeat):
        d = root / f"set{r:04d}"
        d.mkdir(parents=True)
        for b in range(n_bases):
            seed = r * 1000 + b
            base = base_tensors(seed)
            group = {str(_save(zoo, d / f"base{b}" / "model.safetensors", base))}
            group |= {str(_save(zoo, d / f"copy{b}_{c}.safetensors", base)) for c in range(copies)}
            zoo.same_model.append(group)
            tunes = set()
            for f in range(finetunes):
                tuned = dict(base)
                name = "model.layers.1.mlp.up_proj.weight"
                tuned[name] = (base[name] + np.float32(f + 1)).astype(np.float32)
                tunes.add(str(_save(zoo, d / f"tune{b}_{f}.safetensors", tuned)))
            zoo.same_base.append(group | tunes)
        # base 0 of this folder: its GGUF and shards join its groups
        first, first_base = len(zoo.same_model) - n_bases, len(zoo.same_base) - n_bases
        base = base_tensors(r * 1000)
        gguf = d / "base0.gguf"
        write_gguf(gguf, [(n.replace("model.", ""), a, None) for n, a in base.items()])
        zoo.files.append(gguf)
        names = sorted(base)
        shard_names = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
        shards = {_save(zoo, d / "sharded" / shard_names[0], {n: base[n] for n in names[:3]}),
                  _save(zoo, d / "sharded" / shard_names[1], {n: base[n] for n in names[3:]})}
        weight_map = {n: shard_names[i >= 3] for i, n in enumerate(names)}
        (d / "sharded" / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}))
        zoo.shards[str(d / "sharded" / "model")] = shards
        # the same bytes under other names (GGUF), or split in two: the same content as base 0
        for key in (str(gguf), str(d / "sharded" / "model")):
            zoo.same_model[first].add(key)
            zoo.same_base[first_base].add(key)
        ckpt = {str(_torch(zoo, d / "pytorch_model.bin", seed=r)),
                str(_torch(zoo, d / "backup" / "pytorch_model.bin", seed=r))}
        zoo.same_model.append(ckpt)
        evil = d / "evil.pkl"
        evil.write_bytes(dumps(R(G("os", "system"), ("echo owned",))))
        zoo.files.append(evil)
        zoo.unsafe.add(evil)
        sneaky = d / "sneaky.pt"
        write_zip(sneaky, dumps(OD((("w", tensor(storage("0", DType.F32, 4), (4,))),
                                    ("hook", R(G("builtins", "exec"), ("print(1)",)))))),
                  {"0": np.arange(4, dtype=np.float32).tobytes()})
        zoo.files.append(sneaky)
        zoo.unsafe.add(sneaky)
        sneaky_files.add(str(sneaky))
        for name, data in (("truncated.safetensors", b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":"),
                           ("garbage.gguf", b"GGUF\xff\xff\xff\xff" + b"\x00" * 40),
                           ("random.bin", bytes(range(7, 200))),
                           ("empty.safetensors", b"")):
            (d / name).write_bytes(data)
            zoo.files.append(d / name)
            zoo.broken.add(d / name)
    if repeat > 1:
        zoo.same_model.append(sneaky_files)
    return zoo


def _save(zoo: Zoo, path: Path, tensors: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    zoo.files.append(path)
    return path


def _torch(zoo: Zoo, path: Path, seed: int) -> Path:
    rng = np.random.default_rng(10_000 + seed)
    arrays = {"encoder.weight": rng.standard_normal((8, 4)).astype(np.float32),
              "encoder.bias": rng.standard_normal(4).astype(np.float32)}
    items = tuple((n, tensor(storage(str(i), DType.F32, a.size), a.shape))
                  for i, (n, a) in enumerate(arrays.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_zip(path, dumps(OD(items)), {str(i): a.tobytes() for i, a in enumerate(arrays.values())})
    zoo.files.append(path)
    return path


def library_hashes(path: Path) -> dict[str, tuple[int, str]]:
    """tensor name → (bytes, SHA-256) as the format's own library reads the file."""
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="numpy") as f:
            return {n: _h(f.get_tensor(n).tobytes()) for n in f.keys()}  # noqa: SIM118
    if path.suffix == ".gguf":
        return {t.name: _h(t.data.tobytes()) for t in GGUFReader(path).tensors}
    # torch's zip layout: one member per storage, each tensor its whole storage here
    with zipfile.ZipFile(path) as z:
        data = [z.read(n) for n in sorted(z.namelist()) if "/data/" in n]
    names = ("encoder.weight", "encoder.bias") if len(data) == 2 else ("w",)
    return {n: _h(b) for n, b in zip(names, data, strict=True)}


def _h(b: bytes) -> tuple[int, str]:
    return len(b), hashlib.sha256(b).hexdigest()
