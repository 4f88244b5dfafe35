"""quantize-error: its sums over the sampled rows, fp8/bf16 rounding against ml_dtypes, sizes against
``reprice``, and the budget's greedy choice on small cases. The ggml quantizers themselves are checked
byte for byte against ggml's C code in tests/test_ggml_reference.py."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from paramscope.analyses.sizing.weights import reprice
from paramscope.analyses.values import quantize as qf
from paramscope.analyses.values.decode import dequantize
from paramscope.analyses.values.quant_error import (
    ErrorRow,
    ErrorTally,
    TargetResult,
    assign,
    component_tree,
    quantize_error,
    sample_runs,
)
from paramscope.cli import quant_error_cmd
from paramscope.formats import open_model
from paramscope.sources.mapped import MappedFiles

TARGETS = ["q8_0", "q6_k", "q4_k", "q4_0", "int8", "int4", "fp8"]


def report(path, targets=TARGETS, **kw):
    model = open_model(path)
    with MappedFiles() as source:
        return model, quantize_error(model, source, targets, **kw)


def sampled_values(path, name: str, sample: float) -> np.ndarray:
    """The rows quantize-error reads, decoded independently of it."""
    t = next(t for t in open_model(path).tensors if t.name == name)
    cols = t.shape[-1]
    with MappedFiles() as source:
        x = dequantize(source.view(t), t.dtype, t.n_elements).reshape(-1, cols)
    return np.concatenate([x[first:first + n] for first, n in sample_runs(x.shape[0], sample)])


def round_trip_error(x: np.ndarray, type_name: str) -> tuple[float, float]:
    """Σx² and Σ(x − x̂)² in float64, x̂ the type's round trip (its bytes are ggml's: test_ggml_reference)."""
    d = (x - qf.quantizer(type_name)(x)).astype(np.float64).ravel()  # float32 differences, as quant_error
    x64 = x.astype(np.float64).ravel()
    return float(np.dot(x64, x64)), float(np.dot(d, d))


# --- the sums over the sampled rows ------------------------------------------------------------------
@pytest.mark.parametrize(("which", "sample", "target", "type_name"), [
    ("minilm_dir", 1.0, "q8_0", "Q8_0"), ("gemma_gguf", 0.1, "q8_0", "Q8_0"),
    ("gemma_gguf", 0.05, "q4_k", "Q4_K"),
])
def test_errors_are_the_round_trips_of_the_sampled_rows(which, sample, target, type_name, request):
    """Each tensor's tally is Σx², Σ(x − x̂)² of the rows sample_runs picks, decoded here on their own,
    scaled by elements / sampled."""
    path = request.getfixturevalue(which)
    model, r = report(path, [target], sample=sample)
    rows = [row for row in r.targets[0].rows if row.type == type_name and row.sampled]
    assert len(rows) >= 5
    tensors = {t.name: t for t in model.tensors}
    for row in rows[:12]:
        x = sampled_values(path, row.name, sample)
        energy, error = round_trip_error(x, type_name)
        scale = tensors[row.name].n_elements / x.size
        assert row.sampled == x.size
        assert row.tally.energy == pytest.approx(energy * scale, rel=1e-9)
        assert row.tally.error == pytest.approx(error * scale, rel=1e-9)


def test_notes_say_what_is_ggml_and_what_cannot_be_reproduced(gemma_gguf):
    _, r = report(gemma_gguf, ["q4_k_m", "iq2_xxs", "int4"], sample=0.01)
    q4, iq2, int4 = r.targets
    assert any("ggml_quantize_chunk" in n and "Q4_K" in n for n in q4.notes)
    assert any("IQ2_XXS not simulated" in n and "importance matrix" in n for n in iq2.notes)
    assert any("this file type is made with one" in n for n in iq2.notes)  # its Q2_K etc. are not ggml's
    assert not any("ggml_quantize_chunk" in n for n in int4.notes)
    # a file type spelled as made with an importance matrix says so too
    (q4_0,) = report(gemma_gguf, ["q4_0_imatrix"], sample=0.01)[1].targets
    assert any("this file type is made with one" in n for n in q4_0.notes)


def test_error_falls_with_bits():
    x = (np.random.default_rng(2).standard_normal((64, 512)) * 0.02).astype(np.float32)

    def rel(name: str) -> float:
        y = qf.quantizer(name)(x)
        return float(np.sqrt(((x - y) ** 2).sum() / (x**2).sum()))

    errors = [rel(n) for n in ("F32", "F16", "Q8_0", "I8/row", "Q6_K", "F8_E4M3/b128", "Q4_K", "Q4_0")]
    assert errors[0] == 0
    assert errors[1] < errors[2] < errors[4] < errors[6] < errors[7]
    assert errors[3] < errors[4] and 0.01 < errors[5] < 0.05  # fp8 e4m3: 3 mantissa bits ≈ 2-3 %


# --- fp8, bf16, int4 rounding ------------------------------------------------------------------------
def test_fp8_e4m3_matches_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.standard_normal(20000) * 50, rng.standard_normal(2000) * 1e-3,
                        np.array([0, -0.0, 448, -448, 2**-9, 2**-10, 3 * 2**-10, 240, 248, 232])])
    v = np.clip(v, -448, 448).astype(np.float32)
    expected = v.astype(ml_dtypes.float8_e4m3fn).astype(np.float32)
    assert np.array_equal(qf.fp8_e4m3(v), expected)


def test_bf16_rounding_matches_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    v = (np.random.default_rng(4).standard_normal(50000) * 3).astype(np.float32)
    assert np.array_equal(qf.bf16_round(v), v.astype(ml_dtypes.bfloat16).astype(np.float32))


def test_int8_and_int4_grids():
    x = np.array([[0.0, 0.5, -1.0, 0.25], [2.0, 2.0, 2.0, 2.0]], np.float32)
    y8 = qf.int8_rows(x)
    assert y8[0, 2] == -1.0 and y8[1, 0] == 2.0  # the row's abs-max is on the grid
    assert np.max(np.abs(y8 - x)) <= 1.0 / 127 / 2 + 1e-7
    x4 = np.linspace(-1, 3, 300, dtype=np.float32).reshape(1, -1)
    y4 = qf.int4_groups(x4)
    assert y4.shape == x4.shape
    assert len(np.unique(y4[0, :128])) <= 16 and len(np.unique(y4[0, 256:])) <= 16
    assert np.array_equal(qf.int4_groups(x4, group=128), y4)


def test_int4_variants_round_trip_on_their_own_grid():
    """``I4/g32`` groups of 32; ``/sym``: absmax / 7.5 a step, the 16 values −8..7 times it, no zero point
    (compressed-tensors' symmetric int4), so a group's values are symmetric about 0."""
    x = np.random.default_rng(7).standard_normal((3, 96)).astype(np.float32)
    for label, group, sym in (("I4/g32", 32, False), ("I4/g64/sym", 64, True), ("I4/g128/sym", 128, True)):
        round_trip = qf.quantizer(label)
        assert round_trip is not None
        y = round_trip(x)
        assert np.array_equal(y, qf.int4_groups(x, group=group, symmetric=sym))
    y = qf.int4_groups(x, group=32, symmetric=True)
    for row, back in zip(x, y, strict=True):
        for g in range(3):
            vals, orig = back[32 * g: 32 * (g + 1)], row[32 * g: 32 * (g + 1)]
            step = qf.fp16_round(np.abs(orig).max() / np.float32(7.5))
            levels = np.rint(vals / step)
            assert np.array_equal(levels * step, vals) and levels.min() >= -8 and levels.max() <= 7
    # groups of 32 follow the weights more closely than groups of 128
    err = {g: np.abs(qf.int4_groups(x, group=g) - x).mean() for g in (32, 128)}
    assert err[32] < err[128]
    assert qf.quantizer("I4/g48/sym") is not None and qf.quantizer("I4/x") is None


# --- sizes, sampling, budget --------------------------------------------------------------------------
def test_sizes_are_repriced_bytes(minilm_dir):
    model, r = report(minilm_dir, ["q4_k", "int4"], sample=0.2)
    for res in r.targets:
        assert res.total.bytes == reprice(model, res.target).total_bytes
        assert res.by_component["total"] == res.total
    assert r.targets[0].scheme == "Q4_K_M"


def test_sampling_is_deterministic_and_spread():
    runs = sample_runs(262144, 0.1)
    assert runs == sample_runs(262144, 0.1)
    assert len(runs) == math.ceil(0.1 * 2048) and runs[0][0] < 128 * 10 and runs[-1][0] > 262144 - 128 * 10
    assert sample_runs(100, 0.01) == [(0, 100)]
    assert sum(n for _, n in sample_runs(1000, 1.0)) == 1000


def result(target: str, tallies: dict[str, ErrorTally]) -> TargetResult:
    rows = tuple(ErrorRow(f"{c}.weight", c, None, target, t, 1, True) for c, t in tallies.items())
    tree = component_tree(rows)
    return TargetResult(target, target, rows, tree["total"], tree)


def test_budget_greedy_buys_the_most_error_per_byte():
    small = result("small", {"a": ErrorTally(100, 10, 1.0, 0.5), "b": ErrorTally(100, 10, 1.0, 0.1)})
    big = result("big", {"a": ErrorTally(100, 20, 1.0, 0.0), "b": ErrorTally(100, 20, 1.0, 0.0)})
    assert assign([small, big], 30).choice == {"a": "big", "b": "small"}  # a gains 0.5, b only 0.1
    assert assign([small, big], 40).choice == {"a": "big", "b": "big"}
    tight = assign([small, big], 19)
    assert not tight.fits and tight.choice == {"a": "small", "b": "small"}
    assert tight.total.bytes == 20 and tight.total.error == pytest.approx(0.6)


def test_real_budget(gemma_gguf):
    _, r = report(gemma_gguf, ["q8_0", "q4_0"], sample=0.05, budget=260_000_000)
    a = r.assignment
    assert a.fits and a.total.bytes <= 260_000_000
    sizes = {res.target: res.total.bytes for res in r.targets}
    assert sizes["q4_0"] <= a.total.bytes and a.total.error <= r.targets[1].total.error


# --- the command -------------------------------------------------------------------------------------
def run_cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    quant_error_cmd.configure(p)
    p.add_argument("--json", action="store_true", dest="as_json")
    return quant_error_cmd.run(p.parse_args(list(argv)))


def test_cli_json(minilm_dir, capsys):
    assert run_cli(str(minilm_dir), "--to", "q8_0,int8,fp8", "--sample", "0.1", "--budget", "30MB",
                   "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [t["target"] for t in out["targets"]] == ["q8_0", "int8", "fp8"]
    assert out["assignment"]["budget"] == 30_000_000 and out["assignment"]["bytes"] <= 30_000_000
    assert all(t["snr_db"] > 20 for t in out["targets"])


def test_cli_tables(gemma_gguf, capsys):
    assert run_cli(str(gemma_gguf), "--to", "q8_0,q4_0", "--sample", "0.02", "--budget", "0.25GB") == 0
    text = capsys.readouterr().out
    assert "Whole model at each target" in text and "Most accurate choice per component" in text
