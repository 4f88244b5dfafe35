"""The pieces of paramscope diff against references: the kernel (numba and numpy, against float64 numpy),
the randomized SVD (against numpy's SVD), the row sample, llama.cpp's Q/K permutation and Gemma's norm
shift (files written by gguf-py, laid out as convert_hf_to_gguf.py lays them out), renamed tensors,
vocabularies and metadata."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.diff import kernels as K
from paramscope.analyses.diff.spectrum import RowSample, randomized_svd, spectrum
from paramscope.analyses.diff.vocab import Vocabulary, tokenizer_diff

BACKENDS = ["numba", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("PARAMSCOPE_DIFF_BACKEND", request.param)
    K.backend.cache_clear()
    yield request.param
    K.backend.cache_clear()


# --- the kernel ----------------------------------------------------------------------------------------
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, 3e38, -3e38], np.float32)


def reference(a: np.ndarray, b: np.ndarray, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """The figures straight from their definitions, in float64."""
    both = np.isfinite(a) & np.isfinite(b)
    x, y = np.where(both, a, 0).astype(np.float64), np.where(both, b, 0).astype(np.float64)
    with np.errstate(over="ignore"):
        gap = np.abs(b[both] - a[both])  # float32, as the kernel takes it
    out = np.zeros(K.N_FIELDS)
    out[K.F_AA], out[K.F_BB], out[K.F_DD] = (x * x).sum(), (y * y).sum(), ((y - x) ** 2).sum()
    out[K.F_MAX] = gap.max() if gap.size else 0.0
    out[K.F_CHANGED] = np.count_nonzero((a != b) & ~(np.isnan(a) & np.isnan(b)))
    out[K.F_NONFINITE_A], out[K.F_NONFINITE_B] = (~np.isfinite(a)).sum(), (~np.isfinite(b)).sum()
    rowe = ((y - x) ** 2).reshape(-1, cols).sum(axis=1) if cols else np.zeros(0)
    return out, rowe


def run_kernel(a: np.ndarray, b: np.ndarray, cols: int, bf16: bool) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((K.parts(a.size), K.N_FIELDS))
    rowe = np.zeros(a.size // cols if cols else 0)
    if bf16:
        K.pair_bf16((a.view(np.uint32) >> 16).astype(np.uint16), (b.view(np.uint32) >> 16).astype(np.uint16),
                    cols, out, rowe)
    else:
        K.pair_floats(a, b, cols, out, rowe)
    merged = out.sum(axis=0)
    merged[K.F_MAX] = out[:, K.F_MAX].max()
    return merged, rowe


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 40), cols=st.sampled_from([0, 1, 7, 64, 300]), seed=st.integers(0, 2**32 - 1),
       specials=st.integers(0, 6), bf16=st.booleans())
def test_kernel_matches_float64_reference(backend, rows, cols, seed, specials, bf16):
    rng = np.random.default_rng(seed)
    n = rows * max(cols, 1)
    a = rng.standard_normal(n).astype(np.float32)
    b = a.copy()
    moved = rng.random(n) < 0.3
    b[moved] += rng.standard_normal(moved.sum()).astype(np.float32) * 0.01
    for _ in range(specials):
        side = a if rng.random() < 0.5 else b
        side[rng.integers(n)] = rng.choice(SPECIAL)
    if bf16:  # values a bfloat16 can hold exactly
        a = ((a.view(np.uint32) >> 16) << 16).view(np.float32)
        b = ((b.view(np.uint32) >> 16) << 16).view(np.float32)
    got, rowe = run_kernel(a, b, cols, bf16)
    want, want_rowe = reference(a, b, cols)
    for f in (K.F_CHANGED, K.F_NONFINITE_A, K.F_NONFINITE_B, K.F_MAX):
        assert got[f] == want[f], f
    np.testing.assert_allclose(got[:K.F_MAX], want[:K.F_MAX], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(rowe, want_rowe, rtol=1e-12, atol=1e-300)


def test_kernel_large_chunk_in_parts(backend):
    """A chunk big enough for every thread: the partial rows add up to the reference."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(K.PARALLEL_MIN * 2).astype(np.float32)
    b = a + rng.standard_normal(a.size).astype(np.float32) * np.float32(1e-3)
    a[12345] = np.nan
    got, rowe = run_kernel(a, b, 512, bf16=False)
    want, want_rowe = reference(a, b, 512)
    assert got[K.F_CHANGED] == want[K.F_CHANGED] and got[K.F_MAX] == want[K.F_MAX]
    np.testing.assert_allclose(got[:K.F_MAX], want[:K.F_MAX], rtol=1e-12)
    np.testing.assert_allclose(rowe, want_rowe, rtol=1e-12)


# --- spectrum ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rows", "cols", "decay"), [(300, 200, 0.9), (150, 400, 0.8), (40, 30, 0.5)])
def test_randomized_svd_matches_numpy(rows, cols, decay):
    rng = np.random.default_rng(rows)
    u, _ = np.linalg.qr(rng.standard_normal((rows, min(rows, cols))))
    v, _ = np.linalg.qr(rng.standard_normal((cols, min(rows, cols))))
    s = decay ** np.arange(min(rows, cols))
    m = (u * s) @ v.T
    got = randomized_svd(m, 16)
    want = np.linalg.svd(m, compute_uv=False)[:16]
    # Halko et al. Thm 10.8: the error falls with (σ_{k+p+1} / σ_j)^(2q+1); the last of the 16 lie
    # closest to the next ones, so they are the least accurate
    np.testing.assert_allclose(got[:8], want[:8], rtol=1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-4)


@pytest.mark.slow  # runs long: SVDs of 2000-row matrices
@pytest.mark.parametrize("rank", [1, 4, 16])
def test_row_sample_keeps_the_rank(rank):
    """Sampled rows of a rank-r matrix span its row space: rank r exactly, also from a sample."""
    rng = np.random.default_rng(rank)
    d = (rng.standard_normal((2000, rank)) @ rng.standard_normal((rank, 256))).astype(np.float32)
    d[rng.random(2000) < 0.5] = 0  # rows that did not change are never drawn
    sample = RowSample(*d.shape, budget=128 * 256)
    assert not sample.exact and sample.size == 128
    for start in range(0, 2000, 300):
        block = d[start:start + 300].astype(np.float64)
        sample.add(start, (block ** 2).sum(axis=1), lambda idx, blk=block: blk[idx].astype(np.float32))
    sp = spectrum(sample)
    assert sp.rank99 == rank and sp.low_rank and not sp.exact
    exact = RowSample(*d.shape, budget=d.size)
    exact.add(0, (d.astype(np.float64) ** 2).sum(axis=1), lambda idx: d[idx])
    ex = spectrum(exact)
    want = np.linalg.svd(d, compute_uv=False)[:rank]
    np.testing.assert_allclose(ex.singular_values[:rank], want, rtol=1e-4)


def test_full_rank_change_is_reported_as_such():
    rng = np.random.default_rng(3)
    d = rng.standard_normal((500, 300)).astype(np.float32)
    sample = RowSample(*d.shape)
    sample.add(0, (d.astype(np.float64) ** 2).sum(axis=1), lambda idx: d[idx])
    sp = spectrum(sample)
    assert sp.rank99 is None and sp.rank_label() == ">32" and not sp.low_rank


# --- files written the way llama.cpp's converter writes them ---------------------------------------------
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
         "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2,
         "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
         "tie_word_embeddings": False}


def llama_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, f, kv = 64, 96, 2 * 16
    shapes = {"model.embed_tokens.weight": (100, h), "model.norm.weight": (h,), "lm_head.weight": (100, h)}
    for i in range(2):
        p = f"model.layers.{i}."
        shapes |= {p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kv, h),
                   p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, h),
                   p + "mlp.gate_proj.weight": (f, h), p + "mlp.up_proj.weight": (f, h),
                   p + "mlp.down_proj.weight": (h, f), p + "input_layernorm.weight": (h,),
                   p + "post_attention_layernorm.weight": (h,)}
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def hf_dir(path: Path, config: dict, weights: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    return path


def permute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute, as written there."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_file(path: Path, arch: str, config: dict, weights: dict[str, np.ndarray], convert) -> Path:
    """A GGUF file by gguf-py: names through its tensor map, values through ``convert(hf_name, array)``."""
    import gguf

    enum = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    table = gguf.get_tensor_name_map(enum, config["num_hidden_layers"])
    w = gguf.GGUFWriter(path, arch)
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    for name, array in weights.items():
        w.add_tensor(table.get_name(name, try_suffixes=(".weight", ".bias")), convert(name, array))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def llama_convert(name: str, array: np.ndarray) -> np.ndarray:
    if name.endswith("q_proj.weight"):
        return permute(array, 4, 4)
    if name.endswith("k_proj.weight"):
        return permute(array, 4, 2)
    return array


def test_llama_qk_permutation_undone(tmp_path):
    weights = llama_weights()
    hf = hf_dir(tmp_path / "hf", LLAMA, weights)
    gg = gguf_file(tmp_path / "llama.gguf", "llama", LLAMA, weights, llama_convert)
    r = paramscope.diff(str(hf), str(gg)).report
    assert r.verdict.kind == "same-weights", r.verdict.line
    assert all(d.identical for d in r.values.tensors)
    permuted = {d.name: d.transform for d in r.values.tensors if d.transform}
    assert set(permuted) == {f"model.layers.{i}.self_attn.{p}_proj.weight" for i in range(2) for p in "qk"}
    assert "4 heads" in permuted["model.layers.0.self_attn.q_proj.weight"]
    assert "2 heads" in permuted["model.layers.0.self_attn.k_proj.weight"]
    # the other way round, B is the HF side
    back = paramscope.diff(str(gg), str(hf)).report
    assert back.verdict.kind == "same-weights" and all(d.identical for d in back.values.tensors)


def test_llama_without_the_permutation_shows_the_rows_moved(tmp_path):
    """A GGUF written with Q/K as HF stores them is not what the converter writes: the diff says so."""
    weights = llama_weights()
    hf = hf_dir(tmp_path / "hf", LLAMA, weights)
    gg = gguf_file(tmp_path / "plain.gguf", "llama", LLAMA, weights, lambda n, a: a)
    r = paramscope.diff(str(hf), str(gg)).report
    moved = {d.name for d in r.values.tensors if not d.identical}
    assert moved == {f"model.layers.{i}.self_attn.{p}_proj.weight" for i in range(2) for p in "qk"}


def test_gguf_quant_against_its_original(tmp_path):
    """Q8_0 of the permuted weights (what llama.cpp stores) against the HF float32 original."""
    import gguf

    weights = llama_weights()
    hf = hf_dir(tmp_path / "hf", LLAMA, weights)

    def convert(name, array):
        x = llama_convert(name, array)
        return gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0) if x.ndim == 2 else x

    gg = gguf_file(tmp_path / "q8.gguf", "llama", LLAMA, weights, lambda n, a: a)
    # rewrite with raw Q8_0 tensors
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)
    w = gguf.GGUFWriter(gg, "llama")
    for k, v in (("block_count", 2), ("embedding_length", 64), ("feed_forward_length", 96),
                 ("attention.head_count", 4), ("attention.head_count_kv", 2), ("context_length", 128)):
        w.add_uint32(f"llama.{k}", v)
    for name, array in weights.items():
        data = convert(name, array)
        qtype = gguf.GGMLQuantizationType.Q8_0 if array.ndim == 2 else None
        w.add_tensor(table.get_name(name, try_suffixes=(".weight",)), data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = paramscope.diff(str(hf), str(gg)).report
    assert r.verdict.kind == "quantized", r.verdict.line
    for d in r.values.tensors:
        if d.retyped:
            x = llama_convert(d.name, weights[d.name]).astype(np.float64)
            q = gguf.quants.quantize(x.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
            y = gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0).astype(np.float64)
            assert d.snr_db == pytest.approx(10 * math.log10((x * x).sum() / ((y - x) ** 2).sum()), abs=1e-9)
        else:
            assert d.identical


GEMMA = {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "hidden_size": 64,
         "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
         "num_hidden_layers": 2, "vocab_size": 100, "max_position_embeddings": 128, "rms_norm_eps": 1e-6}


def test_gemma_norm_shift_undone(tmp_path):
    """Gemma's converters store norm weights + 1 (GemmaModel.modify_tensors); no Q/K permutation."""
    weights = {k: v for k, v in llama_weights().items() if k != "lm_head.weight"}
    hf = hf_dir(tmp_path / "hf", GEMMA, weights)

    def convert(name, array):
        return array + np.float32(1) if name.endswith("norm.weight") else array

    gg = gguf_file(tmp_path / "gemma.gguf", "gemma", GEMMA, weights, convert)
    r = paramscope.diff(str(hf), str(gg)).report
    assert r.verdict.kind == "same-weights", r.verdict.line
    shifted = {d.name for d in r.values.tensors if d.transform}
    assert shifted == {n for n in weights if n.endswith("norm.weight")}
    assert all(d.identical for d in r.values.tensors)


# --- renames, hashing, vocabulary, metadata ------------------------------------------------------------
def test_renamed_tensor_found_by_content(tmp_path):
    from safetensors.numpy import save_file

    w = llama_weights()
    save_file(w, tmp_path / "a.safetensors")
    renamed = {("model.layers.0.mlp.fc.weight" if k == "model.layers.0.mlp.up_proj.weight" else k): v
               for k, v in w.items()}
    save_file(renamed, tmp_path / "b.safetensors")
    r = paramscope.diff(str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")).report
    s = r.structure
    assert [(c.name_a, c.name_b) for c in s.renamed] == [("model.layers.0.mlp.up_proj.weight",
                                                           "model.layers.0.mlp.fc.weight")]
    assert not s.added and not s.removed
    assert r.verdict.kind == "same-weights" and "1 renamed" in r.verdict.line


def test_bit_identity_without_hashes(tmp_path, backend):
    from safetensors.numpy import save_file

    w = llama_weights()
    save_file(w, tmp_path / "a.safetensors")
    w2 = dict(w)
    w2["model.norm.weight"] = w["model.norm.weight"].copy()
    w2["model.norm.weight"][3] = -0.0 if w["model.norm.weight"][3] == 0 else w["model.norm.weight"][3] * 2
    save_file(w2, tmp_path / "b.safetensors")
    with_hashes = paramscope.diff(str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")).report
    without = paramscope.diff(str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
                              hashes=False).report
    for x, y in zip(with_hashes.values.tensors, without.values.tensors, strict=True):
        assert x.same_bytes == y.same_bytes == (x.name != "model.norm.weight")
        assert y.hash_a is None and x.hash_a is not None
    d = next(d for d in without.values.tensors if d.name == "model.norm.weight")
    assert d.changed == 1 and d.changed_share == 1 / 64


def test_backends_agree_on_a_bf16_fine_tune(tmp_path, monkeypatch):
    """The BF16 code path (numba) and the numpy fallback give the same report."""
    pytest.importorskip("numba")
    import ml_dtypes
    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    w = {k: v.astype(ml_dtypes.bfloat16) for k, v in llama_weights().items()}
    save_file(w, tmp_path / "a.safetensors")
    w2 = dict(w)
    for k in ("model.layers.1.mlp.down_proj.weight", "model.layers.0.self_attn.v_proj.weight"):
        x = w[k].astype(np.float32)
        w2[k] = (x + 0.05 * rng.standard_normal(x.shape).astype(np.float32)).astype(ml_dtypes.bfloat16)
    save_file(w2, tmp_path / "b.safetensors")
    reports = {}
    for name in BACKENDS:
        monkeypatch.setenv("PARAMSCOPE_DIFF_BACKEND", name)
        K.backend.cache_clear()
        reports[name] = paramscope.diff(str(tmp_path / "a.safetensors"),
                                        str(tmp_path / "b.safetensors")).report
    K.backend.cache_clear()
    for x, y in zip(reports["numba"].values.tensors, reports["numpy"].values.tensors, strict=True):
        exact = ("changed", "max_abs", "same_bytes", "hash_a", "hash_b")
        assert [getattr(x, f) for f in exact] == [getattr(y, f) for f in exact]
        assert x.sum_dd == pytest.approx(y.sum_dd, rel=1e-12)
        assert x.sum_aa == pytest.approx(y.sum_aa, rel=1e-12)
        if x.spectrum is not None:
            assert x.spectrum.rank99 == y.spectrum.rank99
            np.testing.assert_allclose(x.spectrum.singular_values, y.spectrum.singular_values, rtol=1e-6)
    assert reports["numba"].verdict == reports["numpy"].verdict
    assert reports["numba"].verdict.kind == "fine-tune"


def test_hash_fallback_is_blake2b(tmp_path, monkeypatch):
    """Without the xxhash package, content hashes are BLAKE2b-128 of the stored bytes (hashlib)."""
    import hashlib
    import sys

    from safetensors.numpy import save_file

    w = llama_weights()
    save_file(w, tmp_path / "a.safetensors")
    monkeypatch.setitem(sys.modules, "xxhash", None)
    r = paramscope.diff(str(tmp_path / "a.safetensors"), str(tmp_path / "a.safetensors")).report
    assert r.values.hash_name == "blake2b-128"
    d = next(d for d in r.values.tensors if d.name == "model.norm.weight")
    assert d.hash_a == hashlib.blake2b(w["model.norm.weight"].tobytes(), digest_size=16).hexdigest()


def test_vocabulary_differences():
    a = Vocabulary(("<pad>", "a", "b", "c"), frozenset({0}), "x")
    b = Vocabulary(("<pad>", "a", "B", "c", "<extra>", "<tool>"), frozenset({0, 5}), "y")
    t = tokenizer_diff(a, b)
    assert (t.size_a, t.size_b, t.changed, t.added, t.removed) == (4, 6, 1, 2, 0)
    assert t.examples_changed == ((2, "b", "B"),) and t.examples_added == ((4, "<extra>"), (5, "<tool>"))
    assert (t.special_added, t.examples_special_added) == (1, ((5, "<tool>"),)) and not t.same
    assert tokenizer_diff(a, a).same


def test_gguf_metadata_difference(tmp_path):
    import gguf

    for name, label in (("a", "first"), ("b", "second")):
        w = gguf.GGUFWriter(tmp_path / f"{name}.gguf", "llama")
        w.add_name(label)
        w.add_tensor("token_embd.weight", np.arange(64, dtype=np.float32).reshape(8, 8))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    r = paramscope.diff(str(tmp_path / "a.gguf"), str(tmp_path / "b.gguf")).report
    assert [(c.key, c.a, c.b) for c in r.structure.metadata] == [("general.name", "first", "second")]
    assert r.verdict.kind == "identical" and r.verdict.line.endswith("metadata differs (1 keys)")
