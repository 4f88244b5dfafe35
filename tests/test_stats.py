"""paramscope stats: every statistic checked against numpy's float64 computation on the values that
``analyses.values.decode`` decodes — on the real Gemma GGUF and MiniLM files, and on generated files that
hold NaN, Inf, zeros, dead rows, outliers and twins — with both kernel backends (numba and numpy)."""

from __future__ import annotations

import argparse
import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from builders.safetensors_files import header_json, write_raw
from paramscope.analyses.values import stats_engine as E
from paramscope.analyses.values import stats_kernels as K
from paramscope.analyses.values.decode import dequantize
from paramscope.analyses.values.stats import PERCENTILES, WeightStats, weight_stats
from paramscope.cli import stats_cmd
from paramscope.errors import OffsetError, ParamscopeError
from paramscope.formats import open_model
from paramscope.model import Tensor
from paramscope.model.dtypes import DType
from paramscope.sources.mapped import MappedFile, MappedFiles

BACKENDS = ["numba", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    if request.param == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("PARAMSCOPE_STATS_BACKEND", request.param)
    K.backend.cache_clear()
    yield request.param
    K.backend.cache_clear()


def scan(path, patterns: Sequence[str] = ()) -> WeightStats:
    with MappedFiles() as source:
        return weight_stats(open_model(path), source, patterns=patterns)


@functools.cache
def scan_real(path: Path) -> WeightStats:
    """The real models are scanned once per session (default backend)."""
    return scan(path)


def decoded(t: Tensor) -> np.ndarray:
    """The tensor's values in an array of their own (not a view of the mapping, closed on return)."""
    with MappedFiles() as source:
        values = dequantize(source.view(t), t.dtype, t.n_elements)
        return values if values.flags.owndata and values.flags.writeable else values.copy()


def write_values(path: Path, tensors: dict[str, tuple[str, tuple[int, ...], bytes]]) -> Path:
    """A safetensors file holding the given raw bytes per tensor (any dtype, bf16 and fp8 included)."""
    header = header_json({name: (dt, shape) for name, (dt, shape, _) in tensors.items()})
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return write_raw(path, raw, b"".join(data for _, _, data in tensors.values()))


def bf16(x: np.ndarray) -> bytes:
    return (np.asarray(x, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


# --- the reference: numpy float64 on the decoded values -----------------------------------------------
# The real Gemma embedding alone holds 168 M values: the reference walks them in chunks of a million
# (a full-size temporary costs more to allocate than to compute here), and sorts nothing but what
# np.percentile partitions.
CHUNK = 1 << 20


def check_against_numpy(stats, x32: np.ndarray, exact_percentiles: bool) -> None:
    """``stats`` against numpy on ``x32``, an array of the caller's that this may reorder."""
    s = stats.summary if hasattr(stats, "summary") else stats
    assert s.count == x32.size
    h = s.histogram
    edges = np.array(h.edges)
    # Counts and order statistics are the same on the float32 values as on their float64 widening (exact
    # and order-preserving) when the edges are float32 numbers too.
    as32 = np.array_equal(edges.astype(np.float32), edges)
    edges = edges.astype(np.float32 if as32 else np.float64)
    nan = posinf = neginf = zeros = 0
    total = total_abs = 0.0
    counts = np.zeros(len(edges) - 1, np.int64)
    parts = []
    for i in range(0, x32.size, CHUNK):
        chunk = x32[i:i + CHUNK]
        nan += np.count_nonzero(np.isnan(chunk))
        posinf += np.count_nonzero(chunk == np.inf)
        neginf += np.count_nonzero(chunk == -np.inf)
        mask = np.isfinite(chunk)
        finite = chunk if mask.all() else chunk[mask]
        parts.append(finite)
        zeros += np.count_nonzero(finite == 0)
        total += finite.sum(dtype=np.float64)
        total_abs += np.abs(finite).sum(dtype=np.float64)
        counts += np.histogram(finite if as32 else finite.astype(np.float64), bins=edges)[0]
    assert (s.nan, s.posinf, s.neginf) == (nan, posinf, neginf)
    # without NaN or ±Inf (the real files) the values are their own finite part: no copy of the Gemma
    # embedding's 672 MB (faulting in the fresh pages of two more cost more than the arithmetic)
    finite = x32 if not nan + posinf + neginf else np.concatenate(parts) if parts else x32[:0]
    del parts
    assert s.finite == finite.size
    if not finite.size:
        return
    n = finite.size
    assert s.zeros == zeros
    assert s.min == finite.min() and s.max == finite.max()  # exact
    mean = total / n
    assert s.mean == pytest.approx(mean, rel=1e-6, abs=1e-12 * total_abs / n)
    # the variance's second pass: float64 deviations from the float64 mean, as np.var takes them
    squares = sum(float(np.dot(d, d)) for d in (finite[i:i + CHUNK].astype(np.float64) - mean
                                                  for i in range(0, n, CHUNK)))
    assert s.std == pytest.approx(math.sqrt(squares / n), rel=1e-6)
    assert s.mean_abs == pytest.approx(total_abs / n, rel=1e-6)
    if n <= CHUNK:  # the generated files: numpy's whole-array float64 figures too
        x = finite.astype(np.float64)
        assert s.mean == pytest.approx(x.mean(), rel=1e-6, abs=1e-12 * np.abs(x).mean())
        assert s.std == pytest.approx(x.std(), rel=1e-6)
        assert s.mean_abs == pytest.approx(np.abs(x).mean(), rel=1e-6)
    assert list(counts) == list(h.counts)  # np.histogram's counts, chunk by chunk (counts add up)
    assert sum(h.counts) == n
    # ``finite`` is the caller's array or a copy of its finite values: np.percentile may reorder it
    # instead of copying it again
    truths = np.percentile(finite if as32 else finite.astype(np.float64), [p for p, _ in s.percentiles],
                           method="inverted_cdf", overwrite_input=True).astype(np.float64)
    for (p, value), true in zip(s.percentiles, truths, strict=True):
        if exact_percentiles:
            assert value == true, p
        else:  # floored onto the bfloat16 grid: at most 2⁻⁷ of the value below it
            assert value <= true and (true - value) <= abs(true) * 2**-7 + 1e-45, (p, value, true)


# --- real files ------------------------------------------------------------------------------------
# The Gemma file is checked in parts, so that the test workers share them out: its embedding (two thirds
# of its values) alone, the rest of its tensors dealt into two. Every tensor is in exactly one part.
GEMMA_PARTS = 3


def part_of(names: list[str], part: int) -> list[str]:
    embedding = [n for n in names if n == "token_embd.weight"]
    rest = sorted(set(names) - set(embedding))
    return embedding if part == 0 else rest[part - 1::GEMMA_PARTS - 1]


def test_the_parts_hold_every_tensor_once(gemma_gguf):
    names = [t.name for t in open_model(gemma_gguf).tensors]
    parts = [part_of(names, k) for k in range(GEMMA_PARTS)]
    assert sorted(n for p in parts for n in p) == sorted(names) and all(parts)


@pytest.mark.parametrize(("which", "part"), [("minilm_dir", None),
                                             *(("gemma_gguf", k) for k in range(GEMMA_PARTS))])
def test_every_tensor_of_the_real_models_equals_numpy_float64(which, part, request):
    path = request.getfixturevalue(which)
    tensors = {t.name: t for t in open_model(path).tensors}
    if part is None:
        result = scan_real(path)
    else:
        names = part_of(list(tensors), part)
        assert not any(c in n for n in names for c in "*?["), "names are matched as patterns"
        result = scan(path, names)
        tensors = {n: tensors[n] for n in names}
    assert len(result.tensors) == len(tensors) and not result.skipped
    for ts in result.tensors:
        t = tensors[ts.name]
        exact = t.dtype.type_size <= 2 and t.dtype.block_size == 1
        check_against_numpy(ts, decoded(t), exact)


def test_components_aggregate_their_tensors(minilm_dir):
    result = scan_real(minilm_dir)
    tensors = {t.name: t for t in open_model(minilm_dir).tensors}
    members = [ts for ts in result.tensors if ts.component.split("/")[0] == "attention"]
    x = np.concatenate([decoded(tensors[ts.name]) for ts in members])
    check_against_numpy(result.by_component["attention"], x, exact_percentiles=False)
    total = result.by_component["total"]
    assert total.count == sum(ts.summary.count for ts in result.tensors if ts.is_parameter)
    assert "embeddings.position_ids" in {ts.name for ts in result.tensors}  # listed, not aggregated


def test_per_layer_cells(gemma_gguf):
    result = scan(gemma_gguf, ["blk.*"])  # the layers' tensors (not the embedding: in no layer)
    assert sorted(result.by_layer) == list(range(18))
    cell = result.by_layer[3]["ffn"]
    tensors = {t.name: t for t in open_model(gemma_gguf).tensors}
    x = np.concatenate([decoded(tensors[f"blk.3.ffn_{k}.weight"]) for k in ("gate", "up", "down")])
    assert cell.std == pytest.approx(x.astype(np.float64).std(), rel=1e-6)
    assert cell.absmax == np.abs(x).max()


# --- generated files: every type path, both backends --------------------------------------------------
def awkward_values(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 0.05 + 0.3).astype(np.float32)  # a mean far from 0 tests the shift
    x[::97] = 0
    x[5::211] = -0.0
    x[7] = np.nan
    x[11] = np.inf
    x[13] = -np.inf
    x[17] = 40.0
    return x


def test_float32_bf16_f16_and_fp8(tmp_path, backend):
    x = awkward_values(64 * 300)
    f8 = np.random.default_rng(1).integers(0, 256, 64 * 300).astype(np.uint8)
    path = write_values(tmp_path / "m.safetensors", {
        "a.f32": ("F32", (300, 64), x.tobytes()),
        "a.bf16": ("BF16", (300, 64), bf16(x)),
        "a.f16": ("F16", (300, 64), x.astype(np.float16).tobytes()),
        "a.f8": ("F8_E4M3", (300, 64), f8.tobytes()),
        "a.i8": ("I8", (19200,), f8.view(np.int8).tobytes()),
    })
    result = scan(path)
    tensors = {t.name: t for t in open_model(path).tensors}
    for ts in result.tensors:
        check_against_numpy(ts, decoded(tensors[ts.name]), exact_percentiles=ts.dtype != "F32")
    assert result.backend == backend


def test_chunks_merge_exactly(tmp_path, backend, monkeypatch):
    """Tiny chunks force many partial merges; the result must not move."""
    x = awkward_values(256 * 1000, seed=3)
    path = write_values(tmp_path / "m.safetensors", {"w.f32": ("F32", (1000, 256), x.tobytes()),
                                                    "w.bf16": ("BF16", (1000, 256), bf16(x))})
    whole = scan(path)
    monkeypatch.setattr(E, "FLOAT_CHUNK_ELEMENTS", 1000)
    monkeypatch.setattr(E, "CODE_CHUNK_BYTES", 1000)
    pieces = scan(path)
    for a, b in zip(whole.tensors, pieces.tensors, strict=True):
        sa, sb = a.summary, b.summary
        assert (sa.min, sa.max, sa.zeros, sa.nan) == (sb.min, sb.max, sb.zeros, sb.nan)
        assert sa.histogram == sb.histogram
        assert sa.mean == pytest.approx(sb.mean, rel=1e-12) and sa.std == pytest.approx(sb.std, rel=1e-12)


def test_grid_keys_order_values():
    values = np.array([-np.finfo(np.float32).max, -1.5, -1e-40, -0.0, 0.0, 1e-40, 1.0, 1.0078125, 3e38],
                      np.float32)
    keys = K.grid_keys(values)
    assert list(keys) == sorted(keys)
    assert keys[3] == keys[4] == K.ZERO_KEY
    lower = K.grid_values()[keys]
    finite = np.isfinite(lower)
    assert np.all(lower[finite] <= values[finite])


def test_numba_and_numpy_kernels_agree():
    pytest.importorskip("numba")
    from paramscope.analyses.values import stats_numba

    x = awkward_values(8 * 1000, seed=5)
    outs = []
    for kernel in (stats_numba.float_stats, K._float_stats_numpy):
        parts = 3 if kernel is stats_numba.float_stats else 1
        grid, out = np.zeros((parts, K.GRID), np.int64), np.zeros((parts, K.N_FIELDS))
        rowmax, colmax = np.zeros(1000, np.float32), np.zeros((parts, 8), np.float32)
        kernel(x, 8, 0.3, grid, out, rowmax, colmax)
        outs.append((grid.sum(0), out, rowmax, colmax.max(0)))
    (g1, o1, r1, c1), (g2, o2, r2, c2) = outs
    assert (g1 == g2).all() and (r1 == r2).all() and (c1 == c2).all()
    for f in (K.F_NAN, K.F_POSINF, K.F_NEGINF, K.F_ZEROS, K.F_N):
        assert o1[:, f].sum() == o2[0, f]
    assert o1[:, K.F_S2].sum() == pytest.approx(o2[0, K.F_S2], rel=1e-12)


# --- anomalies ---------------------------------------------------------------------------------------
def test_anomalies_name_their_tensor(tmp_path, backend):
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((64, 32)) * 0.02).astype(np.float32)
    dead = w.copy()
    dead[[3, 9]] = 0
    dead[:, 5] = 0
    outlier = w.copy()
    outlier[10, 7] = 2.0  # 100 σ in input channel 7
    nan = w.copy()
    nan[1, 1] = np.nan
    path = write_values(tmp_path / "m.safetensors", {
        "layers.0.self_attn.q_proj.weight": ("F32", (64, 32), w.tobytes()),
        "layers.0.self_attn.k_proj.weight": ("F32", (64, 32), w.tobytes()),  # twin of q_proj
        "layers.0.self_attn.v_proj.weight": ("BF16", (64, 32), bf16(dead)),
        "layers.0.self_attn.o_proj.weight": ("F32", (64, 32), outlier.tobytes()),
        "layers.0.mlp.up_proj.weight": ("F32", (64, 32), nan.tobytes()),
        "layers.0.mlp.down_proj.weight": ("F32", (64, 32), np.zeros((64, 32), np.float32).tobytes()),
        "layers.0.input_layernorm.weight": ("F32", (32,), np.ones(32, np.float32).tobytes()),
    })
    found = {(a.kind, a.tensors[0]): a for a in scan(path).anomalies}
    assert found[("nan_inf", "layers.0.mlp.up_proj.weight")].severity == "error"
    assert ("all_zero", "layers.0.mlp.down_proj.weight") in found
    assert ("suspicious_scale", "layers.0.input_layernorm.weight") in found
    rows = found[("dead_rows", "layers.0.self_attn.v_proj.weight")]
    assert rows.detail.startswith("2 of 64 rows") and "3, 9" in rows.detail
    assert "channels 5" in found[("dead_columns", "layers.0.self_attn.v_proj.weight")].detail
    assert found[("outlier_channels", "layers.0.self_attn.o_proj.weight")].detail.count("σ)") == 1
    twins = found[("identical", "layers.0.self_attn.q_proj.weight")]
    assert twins.tensors == ("layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight")
    assert next(a.severity for a in scan(path).anomalies) == "error"  # errors first


# --- the memory map ----------------------------------------------------------------------------------
def test_mapped_ranges_are_checked_against_the_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 64)
    f = MappedFile(path)
    assert bytes(f.view(10, 4)) == bytes([10, 11, 12, 13])
    with pytest.raises(OffsetError, match="outside the file"):
        f.view(16000, 1000)
    f.release(0, 16384)  # whole pages handed back; the data is still readable afterwards
    assert f.view(4096, 1)[0] == 0
    f.close()
    lying = Tensor("t", (10000,), DType.F32, 40000, offset=0, file=str(path))
    with MappedFiles() as files, pytest.raises(OffsetError, match="data of t"):
        files.view(lying)


def test_chunks_hold_whole_blocks(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"\1" * (34 * 1000))
    t = Tensor("q", (32000,), DType.Q8_0, 34000, offset=0, file=str(path))
    with MappedFiles() as files:
        sizes = [v.size for _, v in files.chunks(t, 1000)]
    assert sum(sizes) == 34000 and all(s % 34 == 0 for s in sizes) and max(sizes) <= 1000


# --- the command ---------------------------------------------------------------------------------------
def run_cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    stats_cmd.configure(p)
    p.add_argument("--json", action="store_true", dest="as_json")
    return stats_cmd.run(p.parse_args(list(argv)))


def test_cli_json_with_a_glob(minilm_dir, capsys):
    assert run_cli(str(minilm_dir), "--tensor", "encoder.layer.0.*", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in out["tensors"]} == {
        t.name for t in open_model(minilm_dir).tensors if t.name.startswith("encoder.layer.0.")}
    assert set(out["tensors"][0]["percentiles"]) == {f"p{p:g}" for p in PERCENTILES}
    assert out["by_component"]["total"]["count"] == sum(t["count"] for t in out["tensors"])


def test_cli_tables_and_plot(gemma_gguf, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "stats.png"
    assert run_cli(str(gemma_gguf), "--plot", str(plot), "--no-tensors") == 0
    text = capsys.readouterr().out
    assert "Values by component" in text and "outlier_channels" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(ParamscopeError, match="no weights"):
        run_cli("llama-3.1-8b")
    with pytest.raises(ParamscopeError, match=r"\.png or \.svg"):
        run_cli("llama-3.1-8b", "--plot", str(tmp_path / "x.jpg"))


def test_json_has_no_nan(tmp_path, capsys):
    path = write_values(tmp_path / "m.safetensors", {"x": ("F32", (2,), np.array([np.nan, np.nan],
                                                                                  np.float32).tobytes())})
    assert run_cli(str(path), "--json") == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert out["tensors"][0]["mean"] is None and math.isnan(scan(path).tensors[0].summary.mean)
