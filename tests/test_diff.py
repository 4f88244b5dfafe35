"""paramscope diff on real files: the MiniLM safetensors against a copy with a rank-8 change merged into
some of its matrices and against the same weights written as GGUF Q8_0 by gguf-py, the Gemma GGUF
against itself and against a copy re-quantized with gguf-py, unrelated and broken files.

Every expected figure comes from outside paramscope: numpy on the arrays the safetensors library loads,
gguf-py's own quantizer and tensor-name map, and ``quantize-error`` (itself checked against gguf-py)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

import paramscope
from builders.cli import cli_run
from builders.diff_files import (
    LORA_RANK,
    LORA_TENSORS,
    REQUANTIZED,
    REQUANTIZED_LAYERS,
)
from builders.diff_files import gemma_requantized as write_gemma_requantized
from builders.diff_files import minilm_lora as write_minilm_lora
from builders.diff_files import minilm_q8_gguf as write_minilm_q8_gguf
from paramscope.analyses.diff.names import QK_PERMUTED


# --- files (built in builders/diff_files.py, which tools/docs_outputs.py shares) ------------------------
@pytest.fixture(scope="module")
def minilm_arrays(minilm_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(minilm_dir / "model.safetensors")


@pytest.fixture(scope="module")
def minilm_lora(tmp_path_factory, minilm_dir: Path, minilm_arrays) -> Path:
    """A copy of MiniLM whose query and value matrices of layers 1 and 4 got W += U·V, U 384×8, V 8×384."""
    return write_minilm_lora(minilm_dir, tmp_path_factory.mktemp("lora") / "minilm-lora", minilm_arrays)


@pytest.fixture(scope="module")
def minilm_q8_gguf(tmp_path_factory, minilm_dir: Path, minilm_arrays) -> Path:
    """MiniLM's weights as a GGUF Q8_0 file, written by gguf-py with gguf-py's BERT name map."""
    return write_minilm_q8_gguf(minilm_dir, tmp_path_factory.mktemp("q8") / "minilm-q8_0.gguf", minilm_arrays)


@pytest.fixture(scope="module")
def gemma_requantized(tmp_path_factory, gemma_gguf_reference) -> Path:
    """The Gemma GGUF copied by gguf-py except the attn_q and ffn_up of layers 0-2, re-quantized."""
    out = tmp_path_factory.mktemp("requant") / "gemma-requant.gguf"
    return write_gemma_requantized(gemma_gguf_reference, out)


# --- MiniLM with a merged rank-8 change -----------------------------------------------------------------
def test_lora_merge_found_exactly(minilm_dir, minilm_lora, minilm_arrays):
    from safetensors.numpy import load_file

    r = paramscope.diff(str(minilm_dir), str(minilm_lora)).report
    changed = {d.name: d for d in r.values.tensors if not d.identical}
    assert set(changed) == set(LORA_TENSORS)
    for d in r.values.tensors:
        if d.name not in changed:
            assert d.same_bytes and d.hash_a == d.hash_b and d.rel_change == 0
    b = load_file(minilm_lora / "model.safetensors")
    for name, d in changed.items():
        x, y = minilm_arrays[name].astype(np.float64), b[name].astype(np.float64)
        assert d.rel_change == pytest.approx(np.linalg.norm(y - x) / np.linalg.norm(x), rel=1e-9)
        assert d.cosine == pytest.approx((x * y).sum() / np.linalg.norm(x) / np.linalg.norm(y), abs=1e-12)
        assert d.max_abs == np.abs(b[name] - minilm_arrays[name]).max()
        assert d.changed == np.count_nonzero(b[name] != minilm_arrays[name])
        sp = d.spectrum
        assert sp.exact and sp.rank99 == LORA_RANK and sp.rank90 <= LORA_RANK and sp.low_rank
        reference = np.linalg.svd(y - x, compute_uv=False)
        np.testing.assert_allclose(sp.singular_values[:LORA_RANK], reference[:LORA_RANK], rtol=1e-4)
        assert reference[LORA_RANK] < 1e-4 * reference[0]  # the matrix really is rank 8
    assert r.verdict.kind == "fine-tune"
    assert "4 of 104 tensors changed" in r.verdict.line
    assert "attention/q, attention/v in layers 1, 4" in r.verdict.line
    assert "low-rank (rank 8 at 99 % energy)" in r.verdict.line
    assert r.structure.same_layout and not r.structure.hyperparameters and r.structure.tokenizer.same


def test_lora_spectrum_also_from_a_row_sample(minilm_dir, minilm_lora, monkeypatch):
    """With the sample budget below the matrix, rows are drawn by length-squared sampling: a rank-8
    change keeps rank 8 (every sampled row lies in its row space)."""
    from paramscope.analyses.diff import spectrum

    monkeypatch.setattr(spectrum, "SAMPLE_ELEMENTS", 100 * 384)
    monkeypatch.setattr(spectrum, "MIN_ROWS", 16)
    r = paramscope.diff(str(minilm_dir), str(minilm_lora), hashes=False).report
    for d in r.values.tensors:
        if d.name in LORA_TENSORS:
            assert d.spectrum.rank99 == LORA_RANK
            assert d.same_bytes is False


# --- MiniLM against its GGUF Q8_0 ------------------------------------------------------------------------
def test_minilm_against_gguf_q8_0(minilm_dir, minilm_q8_gguf, minilm_arrays):
    import gguf

    r = paramscope.diff(str(minilm_dir), str(minilm_q8_gguf)).report
    s = r.structure
    assert s.mapping and "GGUF 'bert'" in s.mapping
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, 6)
    unmapped = {n for n in minilm_arrays if table.get_name(n, try_suffixes=(".weight", ".bias")) is None}
    assert {t.name for t in s.removed} == unmapped == {"embeddings.position_ids", "pooler.dense.weight",
                                                       "pooler.dense.bias"}
    assert not s.added and s.paired == len(minilm_arrays) - len(unmapped)
    for d in r.values.tensors:
        assert d.name_b == table.get_name(d.name, try_suffixes=(".weight", ".bias"))
        if d.dtype_b == "F32":
            assert d.identical
    # SNR: the same figure quantize-error gives at q8_0, per tensor and over the quantized tensors
    qe = paramscope.quantize_error(str(minilm_dir), to="q8_0").report.targets[0]
    rows = {row.name: row.tally for row in qe.rows if row.sampled}
    quantized = [d for d in r.values.tensors if d.retyped]
    assert {d.name for d in quantized} == set(rows) - {"pooler.dense.weight"}
    for d in quantized:
        assert d.snr_db == pytest.approx(rows[d.name].snr_db, abs=1e-9)
    energy = sum(rows[d.name].energy for d in quantized)
    error = sum(rows[d.name].error for d in quantized)
    snr = 10 * math.log10(energy / error)
    assert r.verdict.kind == "quantized"
    assert f"F32 → Q8_0 ×{len(quantized)}; SNR {snr:.1f} dB" in r.verdict.line
    assert "3 tensors only in A" in r.verdict.line


def test_names_map_both_ways(minilm_dir, minilm_q8_gguf):
    forward = paramscope.diff(str(minilm_dir), str(minilm_q8_gguf)).report
    backward = paramscope.diff(str(minilm_q8_gguf), str(minilm_dir)).report
    assert backward.structure.paired == forward.structure.paired
    assert {t.name for t in backward.structure.added} == {t.name for t in forward.structure.removed}
    fwd = {d.name: d.sum_dd for d in forward.values.tensors}
    assert {d.name_b: d.sum_dd for d in backward.values.tensors} == pytest.approx(fwd, rel=1e-9)


# --- Gemma ---------------------------------------------------------------------------------------------
def test_gemma_against_itself(gemma_gguf):
    r = paramscope.diff(str(gemma_gguf), str(gemma_gguf)).report
    assert r.verdict.kind == "identical"
    assert r.verdict.line == "identical: all 236 tensors bit for bit"
    assert all(d.same_bytes and d.sum_dd == 0 for d in r.values.tensors)
    assert r.structure.tokenizer.same and r.structure.tokenizer.size_a == 262144


def test_gemma_requantized_copy(gemma_gguf, gemma_requantized, gemma_gguf_reference):
    import gguf

    r = paramscope.diff(str(gemma_gguf), str(gemma_requantized)).report
    stored = {t.name: t for t in gemma_gguf_reference.tensors}
    retyped = {d.name: d for d in r.values.tensors if d.retyped}
    expected = {f"blk.{i}.{k}.weight" for i in REQUANTIZED_LAYERS for k in REQUANTIZED}
    assert set(retyped) == expected
    for name, d in retyped.items():
        a = gguf.quants.dequantize(stored[name].data, stored[name].tensor_type).astype(np.float64)
        q = gguf.quants.quantize(a.astype(np.float32), gguf.GGMLQuantizationType[d.dtype_b])
        b = gguf.quants.dequantize(q, gguf.GGMLQuantizationType[d.dtype_b]).astype(np.float64)
        assert d.snr_db == pytest.approx(10 * math.log10((a * a).sum() / ((b - a) ** 2).sum()), abs=1e-6)
    assert all(d.same_bytes for d in r.values.tensors if not d.retyped)
    assert r.verdict.kind == "quantized"
    types = {f"{stored[n].tensor_type.name} → {d.dtype_b}" for n, d in retyped.items()}
    for t in types:
        assert t in r.verdict.line
    assert r.structure.tokenizer.same and not r.structure.metadata


# --- unrelated and broken ------------------------------------------------------------------------------
def test_unrelated_models(gemma_gguf, minilm_dir):
    r = paramscope.diff(str(gemma_gguf), str(minilm_dir)).report
    assert r.verdict.kind == "different"
    assert r.verdict.line.startswith("different models: n_layers 18 → 6, hidden_size 640 → 384")


def cli(*args: str) -> subprocess.CompletedProcess:
    """`paramscope diff ARGS` at 80 columns, in this process (builders/cli.py)."""
    return cli_run("diff", *args, columns=80)


def test_truncated_files_give_one_line(tmp_path, minilm_dir, gemma_gguf):
    st = tmp_path / "cut.safetensors"
    raw = (minilm_dir / "model.safetensors").read_bytes()
    st.write_bytes(raw[: len(raw) // 2])
    gg = tmp_path / "cut.gguf"
    with open(gemma_gguf, "rb") as f:
        gg.write_bytes(f.read(50_000_000))
    for a, b in ((minilm_dir, st), (st, minilm_dir), (gemma_gguf, gg)):
        done = cli(str(a), str(b))
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and str(b if b in (st, gg) else a) in done.stderr


def test_missing_source(tmp_path, minilm_dir):
    done = cli(str(minilm_dir), str(tmp_path / "nope.gguf"))
    assert done.returncode == 1 and done.stderr.startswith("Error: ") and "nope.gguf" in done.stderr


def test_config_only_sources_compare_structure():
    r = paramscope.diff("llama-3.1-8b", "llama-3.2-1b").report
    assert r.values is None
    assert r.verdict.kind == "different" and "hidden_size 4096 → 2048" in r.verdict.line
    same = paramscope.diff("llama-3.1-8b", "llama-3.1-8b").report
    assert same.verdict.kind == "structure-only" and same.structure.same_layout


# --- the command line ------------------------------------------------------------------------------------
def test_cli_json_and_table_at_80_columns(minilm_dir, minilm_lora, tmp_path):
    done = cli(str(minilm_dir), str(minilm_lora), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["verdict"]["kind"] == "fine-tune"
    changed = [t for t in out["values"]["tensors"] if not t["identical"]]
    assert {t["name"] for t in changed} == set(LORA_TENSORS)
    assert all(t["spectrum"]["rank99"] == LORA_RANK for t in changed)
    plot = tmp_path / "change.png"
    done = cli(str(minilm_dir), str(minilm_lora), "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = done.stdout.splitlines()
    assert lines[4].startswith("verdict: B is a fine-tune of A")
    assert max(len(line) for line in lines) <= 80
    # names fold inside their table cells: join the first cells of the table's lines
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    for name in LORA_TENSORS:
        assert name in cells


def test_permuting_architectures_are_gguf_names():
    import gguf

    names = set(gguf.MODEL_ARCH_NAMES.values())
    assert set(QK_PERMUTED) <= names
