"""ggml's own C kernels as the reference for paramscope's decoders and quantizers, bit for bit.

    python bench/ggml_reference.py --lib DIR [--rows N] [--record]
    python bench/ggml_reference.py --venv /path/to/llama-venv ...

``DIR`` holds ``libggml-base.so``: llama-cpp-python builds it from the llama.cpp it vendors
(site-packages/llama_cpp/lib; ``--venv`` finds it there). It is loaded with ctypes; nothing of
llama-cpp-python's Python code runs, so this script runs under paramscope's own interpreter.

Compared, for every ggml type paramscope handles:
- decoders: ``ggml_get_type_traits(type)->to_float`` (``dequantize_row_*``; Q8_K's is called by name)
  against ``paramscope.analyses.values.decode.dequantize`` on every installed backend, on random blocks
  (finite scales) and on every block of the real Gemma 3 270M GGUF: float32 values, bit for bit (any NaN
  equals any NaN);
- quantizers: ``ggml_quantize_chunk(type, …, imatrix=NULL)``, the call llama-quantize makes without an
  importance matrix, and ``traits->from_float_ref`` (``quantize_row_*_ref``), against
  ``paramscope.analyses.values.quantize.block_quantizer``, on random rows of several shapes of
  distribution and on real weights (Gemma's tensors as ggml decodes them, MiniLM's safetensors): block
  bytes, and the % of blocks equal.

Exits 1 when any value or block differs. ``--record`` also writes tests/fixtures/ggml_reference/ (a few
blocks per type, inputs and ggml's outputs, the llama.cpp version) for tests/test_ggml_reference.py,
which repeats the comparison in CI without the C library.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _common import ROOT, fetch_models

sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from builders.ggml_blocks import random_blocks
from paramscope.analyses.values.decode import BACKENDS, dequantize
from paramscope.analyses.values.quantize import PORTED, block_quantizer, shipped_block_types
from paramscope.model.dtypes import BY_GGML_ID, DTYPES, DType

FIXTURE_DIR = ROOT / "tests" / "fixtures" / "ggml_reference"
SEED = 20250918
# quantizer inputs: each row is one shape of distribution (random_rows); cols fit every block size
COLS = 1024
# real weights are cut into rows of this many values: every imatrix-free quantizer works block by block
# (quantize_row_*_ref on the flat values), so the row length changes nothing but the row count
REAL_COLS = 512


# --- the C library --------------------------------------------------------------------------------------
class TypeTraits(ctypes.Structure):
    # ggml.h struct ggml_type_traits
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


ROW_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)  # (src, dst, k)


class Ggml:
    """libggml-base through ctypes: to_float, from_float_ref and ggml_quantize_chunk per type."""

    def __init__(self, lib_dir: Path) -> None:
        self.path = lib_dir / "libggml-base.so"
        self.lib = ctypes.CDLL(str(self.path))
        self.lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
        self.lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        self.lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        # (type, src, dst, start, nrows, n_per_row, imatrix)
        self.lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ptr, ptr, i64, i64, i64, ptr]
        self.lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
        self.lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
        for name in ("ggml_version", "ggml_commit"):
            getattr(self.lib, name).restype = ctypes.c_char_p

    @property
    def version(self) -> str:
        return f"ggml {self.lib.ggml_version().decode()} (commit {self.lib.ggml_commit().decode()})"

    def traits(self, dtype: DType) -> TypeTraits:
        return self.lib.ggml_get_type_traits(dtype.info.ggml_id).contents

    def layout_differs(self, dtype: DType) -> str:
        """'' when ggml's block of the type has our size and length, else what differs."""
        t = self.traits(dtype)
        if (t.blck_size, t.type_size) == (dtype.block_size, dtype.type_size):
            return ""
        return (f"{dtype.value}: ggml's block holds {t.blck_size} values in {t.type_size} bytes, "
                f"ours {dtype.block_size} in {dtype.type_size}")

    def _to_float_fn(self, dtype: DType):
        if dtype is DType.Q8_K:  # no to_float in ggml-base's table (only the CPU backend dots with it)
            return ROW_FN(ctypes.cast(self.lib.dequantize_row_q8_K, ctypes.c_void_p).value)
        ptr = self.traits(dtype).to_float
        return ROW_FN(ptr) if ptr else None

    def can_decode(self, dtype: DType) -> bool:
        return (dtype.info.ggml_id is not None and not self.layout_differs(dtype)
                and self._to_float_fn(dtype) is not None)

    def to_float(self, dtype: DType, raw: np.ndarray) -> np.ndarray:
        raw = np.ascontiguousarray(raw, np.uint8).reshape(-1)
        n = raw.size // dtype.type_size * dtype.block_size
        out = np.empty(n, np.float32)
        self._to_float_fn(dtype)(raw.ctypes.data, out.ctypes.data, n)
        return out

    def quantize_ref(self, dtype: DType, x: np.ndarray) -> np.ndarray | None:
        ptr = self.traits(dtype).from_float_ref
        if not ptr:
            return None
        x = np.ascontiguousarray(x, np.float32).reshape(-1)
        out = np.zeros(dtype.nbytes(x.size), np.uint8)
        ROW_FN(ptr)(x.ctypes.data, out.ctypes.data, x.size)
        return out.reshape(-1, dtype.type_size)

    def quantize_chunk(self, dtype: DType, x: np.ndarray) -> np.ndarray:
        """llama-quantize's call (llama-quant.cpp llama_tensor_quantize_impl) with no imatrix."""
        x = np.ascontiguousarray(x, np.float32)
        rows, cols = x.reshape(-1, x.shape[-1]).shape
        out = np.zeros(dtype.nbytes(x.size), np.uint8)
        written = self.lib.ggml_quantize_chunk(dtype.info.ggml_id, x.ctypes.data, out.ctypes.data, 0, rows,
                                               cols, None)
        assert written == out.size, (dtype, written, out.size)
        return out.reshape(-1, dtype.type_size)

    def requires_imatrix(self, dtype: DType) -> bool:
        return bool(self.lib.ggml_quantize_requires_imatrix(dtype.info.ggml_id))


def find_lib(lib: str | None, venv: str | None) -> Path:
    if lib:
        return Path(lib)
    if venv:
        found = sorted(Path(venv).glob("lib/python*/site-packages/llama_cpp/lib"))
        if found:
            return found[0]
        raise SystemExit(f"no llama_cpp/lib under {venv}")
    spec = importlib.util.find_spec("llama_cpp")
    if spec and spec.origin:
        return Path(spec.origin).parent / "lib"
    raise SystemExit("give --lib DIR (holding libggml-base.so) or --venv PATH (llama-cpp-python's venv)")


def llama_cpp_python_version(lib_dir: Path) -> str:
    infos = sorted(lib_dir.parent.parent.glob("llama_cpp_python-*.dist-info"))
    return infos[0].name.removeprefix("llama_cpp_python-").removesuffix(".dist-info") if infos else "unknown"


# --- inputs ---------------------------------------------------------------------------------------------
def random_rows(rng: np.random.Generator, cols: int = COLS) -> dict[str, np.ndarray]:
    """Named rows of float32 values, each a shape of distribution a quantizer must get right."""
    normal = rng.standard_normal(cols)
    rows = {
        "normal": normal * 0.02,
        "normal_wide": normal * 3.0,
        "student_t3": rng.standard_t(3, cols) * 0.01,  # heavy tails: outliers pull the scales
        "laplace": rng.laplace(0, 0.05, cols),
        "uniform_positive": rng.uniform(0.5, 1.5, cols),  # every min > 0: the 'min > 0 → 0' branches
        "uniform_negative": -rng.uniform(0.1, 0.2, cols),
        "zeros": np.zeros(cols),
        "constant": np.full(cols, 0.75),
        "sparse": np.where(rng.random(cols) < 0.05, normal, 0.0),  # mostly-zero sub-blocks
        "outlier": np.where(np.arange(cols) % 97 == 5, 40.0, normal * 0.01),
        "tiny": normal * 1e-20,  # below half's range: scales round to 0
        "huge": normal * 3e4,  # near half's max
        "ties": np.round(normal * 8) / 8,  # values on a coarse grid: exact .5 ties after scaling
        "integers": rng.integers(-8, 8, cols).astype(np.float64),
    }
    return {k: v.astype(np.float32) for k, v in rows.items()}


def gemma_tensors(ggml: Ggml) -> Iterator[tuple[str, DType, np.ndarray]]:
    """(name, type, raw bytes as 1-D uint8) of every tensor of the Gemma GGUF, read by gguf-py."""
    from gguf import GGUFReader

    for t in GGUFReader(fetch_models.gemma_gguf()).tensors:
        dtype = BY_GGML_ID[int(t.tensor_type)]
        yield t.name, dtype, np.ascontiguousarray(t.data).reshape(-1).view(np.uint8)


def minilm_tensors() -> Iterator[tuple[str, np.ndarray]]:
    from safetensors.numpy import load_file

    for name, value in load_file(fetch_models.minilm_dir() / "model.safetensors").items():
        if value.dtype == np.float32 and value.size >= REAL_COLS:
            yield name, value.reshape(-1)


def spread_rows(x: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Up to ``rows`` rows of ``cols`` values, evenly spaced through the flat array ``x``."""
    total = x.size // cols
    if total == 0:
        return np.zeros((0, cols), np.float32)
    pick = np.unique(np.linspace(0, total - 1, min(rows, total)).astype(np.int64))
    return x[: total * cols].reshape(total, cols)[pick]


# --- comparing ------------------------------------------------------------------------------------------
def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: identical float32 bits, or both NaN."""
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


@dataclass
class Tally:
    compared: int = 0
    equal: int = 0
    sources: set[str] = field(default_factory=set)

    def add(self, equal: np.ndarray, source: str) -> None:
        self.compared += int(equal.size)
        self.equal += int(equal.sum())
        self.sources.add(source)

    @property
    def percent(self) -> float:
        return 100.0 * self.equal / self.compared if self.compared else 0.0


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if b != "numba" or importlib.util.find_spec("numba") is not None]


def compare_decoders(ggml: Ggml, n_blocks: int, real: list[tuple[str, DType, np.ndarray]]
                     ) -> dict[tuple[DType, str], Tally]:
    tallies: dict[tuple[DType, str], Tally] = {}
    types = [d for d in DTYPES if d.info.ggml_id is not None and ggml.can_decode(d)]
    for dtype in types:
        raw = random_blocks(dtype, n_blocks, seed=dtype.info.ggml_id) if dtype.info.quantized else \
            np.random.default_rng(dtype.info.ggml_id).integers(0, 256, n_blocks * 64, dtype=np.uint8)
        sources = [("random", raw)] + [("gemma", r) for _, d, r in real if d is dtype]
        for label, data in sources:
            expected = ggml.to_float(dtype, data)
            per_block = max(1, dtype.block_size)
            for backend in installed_backends() if dtype.info.quantized else ["numpy"]:
                ours = dequantize(data, dtype, expected.size, backend=backend)
                equal = same_bits(ours, expected).reshape(-1, per_block).all(axis=1)
                tallies.setdefault((dtype, backend), Tally()).add(equal, label)
    return tallies


def quantizer_backends(dtype: DType) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """(label, quantizer): a ported k-quant on each installed backend, gguf-py's quantizers as they are."""
    if dtype not in PORTED:
        return [("gguf", block_quantizer(dtype))]
    return [(b, lambda x, b=b: PORTED[dtype](x, backend=b)) for b in installed_backends()]


def compare_quantizers(ggml: Ggml, inputs: dict[str, np.ndarray]
                       ) -> dict[tuple[DType, str], dict[str, Tally]]:
    """Per shipped type and backend: blocks equal to ggml_quantize_chunk(imatrix NULL) and to *_ref."""
    out: dict[tuple[DType, str], dict[str, Tally]] = {}
    for dtype in shipped_block_types():
        for backend, quantize in quantizer_backends(dtype):
            out[dtype, backend] = compare_quantizer(ggml, dtype, quantize, inputs)
    return out


def compare_quantizer(ggml: Ggml, dtype: DType, quantize: Callable[[np.ndarray], np.ndarray],
                      inputs: dict[str, np.ndarray]) -> dict[str, Tally]:
    tallies = {"chunk": Tally(), "ref": Tally(), "ref_vs_chunk": Tally()}
    for label, x in inputs.items():
        if x.shape[0] == 0 or x.shape[-1] % dtype.block_size:
            continue
        ours = quantize(x)
        chunk = ggml.quantize_chunk(dtype, x)
        tallies["chunk"].add((ours == chunk).all(axis=1), label)
        ref = ggml.quantize_ref(dtype, x)
        if ref is not None:
            tallies["ref"].add((ours == ref).all(axis=1), label)
            tallies["ref_vs_chunk"].add((ref == chunk).all(axis=1), label)
    return tallies


def quantizer_inputs(ggml: Ggml, real: list[tuple[str, DType, np.ndarray]], rows_per_tensor: int
                     ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    inputs = {f"random/{k}": v.reshape(1, -1) for k, v in random_rows(rng).items()}
    inputs["random/normal_many"] = (rng.standard_normal((256, COLS)) * 0.02).astype(np.float32)
    for name, dtype, raw in real:
        values = ggml.to_float(dtype, raw) if dtype is not DType.F32 else raw.view(np.float32)
        inputs[f"gemma/{name}"] = spread_rows(values, REAL_COLS, rows_per_tensor)
    for name, values in minilm_tensors():
        inputs[f"minilm/{name}"] = spread_rows(values, REAL_COLS, rows_per_tensor)
    return inputs


# --- the CI fixture -------------------------------------------------------------------------------------
# A few blocks per type: 2048 values per decoder, the random rows below per quantizer; real inputs are
# named (tensor, first block / element, count) and read by the test from the files tools/fetch_models.py
# fetches, so no model bytes are stored here.
FIXTURE_VALUES = 2048
FIXTURE_COLS = 512
GEMMA_PICKS = {  # type → tensors of the Gemma GGUF whose first blocks are recorded
    DType.Q4_K: ("blk.0.attn_output.weight", "blk.2.ffn_down.weight"),
    DType.Q5_0: ("blk.0.attn_q.weight",),
    DType.Q6_K: ("blk.0.ffn_down.weight",),
    DType.Q8_0: ("token_embd.weight", "blk.0.attn_v.weight"),
}
MINILM_PICKS = ("encoder.layer.0.attention.self.query.weight", "embeddings.word_embeddings.weight",
                "encoder.layer.5.output.dense.weight")


def record(ggml: Ggml, binding_version: str, real: list[tuple[str, DType, np.ndarray]], out_dir: Path
           ) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {
        "source": "bench/ggml_reference.py --record: libggml-base from llama-cpp-python "
                  f"{binding_version} (vendored llama.cpp), {ggml.version}",
        "llama_cpp_python": binding_version, "ggml": ggml.version, "seed": SEED,
        "decoders": {}, "gemma": {}, "quantizers": {}, "minilm": {},
    }
    # decoders: random blocks, and the first blocks of a few real tensors
    for dtype in (d for d in DTYPES if d.info.ggml_id is not None and ggml.can_decode(d)):
        n_blocks = FIXTURE_VALUES // dtype.block_size
        seed = SEED + dtype.info.ggml_id
        raw = (random_blocks(dtype, n_blocks, seed=seed) if dtype.info.quantized else
               np.random.default_rng(seed).integers(0, 256, FIXTURE_VALUES * dtype.type_size, dtype=np.uint8))
        arrays[f"decode/{dtype.value}/raw"] = raw
        arrays[f"decode/{dtype.value}/values"] = ggml.to_float(dtype, raw)
        meta["decoders"][dtype.value] = n_blocks
    by_name = {name: (dtype, raw) for name, dtype, raw in real}
    gemma_values = []
    for dtype, names in GEMMA_PICKS.items():
        for name in names:
            found, raw = by_name[name]
            assert found is dtype, (name, found)
            n_blocks = FIXTURE_VALUES // dtype.block_size
            values = ggml.to_float(dtype, raw[: n_blocks * dtype.type_size])
            arrays[f"gemma/{name}/values"] = values
            meta["gemma"][name] = {"type": dtype.value, "first_block": 0, "blocks": n_blocks}
            gemma_values.append(values)
    # quantizers: random rows, the Gemma values just decoded, slices of MiniLM's float32 weights
    rows = random_rows(np.random.default_rng(SEED), FIXTURE_COLS)
    normal = (np.random.default_rng(SEED + 1).standard_normal((8, FIXTURE_COLS)) * 0.02).astype(np.float32)
    inputs = np.concatenate([np.stack(list(rows.values())), normal])
    arrays["quantize/inputs"] = inputs
    meta["quantize_rows"] = [*rows, *(["normal"] * len(normal))]
    minilm = dict(minilm_tensors())
    minilm_inputs = []
    for name in MINILM_PICKS:
        meta["minilm"][name] = {"first": 0, "count": FIXTURE_VALUES}
        minilm_inputs.append(minilm[name][:FIXTURE_VALUES])
    sets = {"random": inputs, "gemma": np.stack(gemma_values), "minilm": np.stack(minilm_inputs)}
    for dtype in shipped_block_types():
        info: dict[str, object] = {"requires_imatrix": ggml.requires_imatrix(dtype)}
        for label, x in sets.items():
            chunk = ggml.quantize_chunk(dtype, x)
            ref = ggml.quantize_ref(dtype, x)
            arrays[f"quantize/{dtype.value}/{label}"] = chunk
            info[f"{label}_ref_equals_chunk"] = bool(ref is not None and np.array_equal(ref, chunk))
        meta["quantizers"][dtype.value] = info
    np.savez_compressed(out_dir / "ggml_outputs.npz", **arrays)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    size = (out_dir / "ggml_outputs.npz").stat().st_size
    print(f"recorded {len(arrays)} arrays ({size / 1024:.0f} KiB) and meta.json in {out_dir}")


# --- report ---------------------------------------------------------------------------------------------
def report(ggml: Ggml, decoders: dict[tuple[DType, str], Tally],
           quantizers: dict[tuple[DType, str], dict[str, Tally]]) -> bool:
    ok = True
    print(f"reference: {ggml.version}, {ggml.path}")
    for dtype in DTYPES:
        if dtype.info.ggml_id is not None and (why := ggml.layout_differs(dtype)):
            print(f"not compared, block layout differs: {why}")
    print("\ndecoders (to_float): blocks with every value bit-identical")
    print(f"  {'type':<8} {'backend':<7} {'blocks':>9} {'equal':>9} {'%':>7}  sources")
    for (dtype, backend), t in decoders.items():
        ok &= t.equal == t.compared
        print(f"  {dtype.value:<8} {backend:<7} {t.compared:>9} {t.equal:>9} {t.percent:7.3f}  "
              f"{', '.join(sorted(t.sources))}")
    print("\nquantizers: blocks byte-identical to ggml (chunk = ggml_quantize_chunk with imatrix NULL, "
          "what llama-quantize writes; ref = quantize_row_*_ref)")
    print(f"  {'type':<8} {'backend':<7} {'blocks':>9} {'= chunk':>9} {'%':>7} {'= ref':>9} {'%':>7} "
          f"{'ref = chunk %':>13}  sources")
    for (dtype, backend), t in quantizers.items():
        ok &= t["chunk"].equal == t["chunk"].compared
        ref = t["ref"]
        chunk = t["chunk"]
        print(f"  {dtype.value:<8} {backend:<7} {chunk.compared:>9} {chunk.equal:>9} {chunk.percent:7.3f} "
              f"{ref.equal:>9} {ref.percent:7.3f} {t['ref_vs_chunk'].percent:13.3f}  "
              f"{', '.join(sorted({s.split('/')[0] for s in t['chunk'].sources}))}")
    print("\nall equal" if ok else "\nDIFFERENCES FOUND")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", help="directory holding libggml-base.so")
    parser.add_argument("--venv", help="llama-cpp-python's virtual environment (finds llama_cpp/lib)")
    parser.add_argument("--blocks", type=int, default=4096, help="random blocks per type for the decoders")
    parser.add_argument("--rows", type=int, default=64, help="rows per real tensor for the quantizers")
    parser.add_argument("--record", action="store_true", help="write tests/fixtures/ggml_reference/")
    args = parser.parse_args()
    lib_dir = find_lib(args.lib, args.venv)
    ggml = Ggml(lib_dir)
    real = list(gemma_tensors(ggml))
    decoders = compare_decoders(ggml, args.blocks, real)
    quantizers = compare_quantizers(ggml, quantizer_inputs(ggml, real, args.rows))
    ok = report(ggml, decoders, quantizers)
    if args.record:
        record(ggml, llama_cpp_python_version(lib_dir), real, FIXTURE_DIR)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
