"""The same file gives the same figures, to the last bit, whatever the number of numba threads: the
float64 sums of ``stats`` and ``diff`` depend on how the values are grouped into partial sums, and that
grouping is fixed by the tensor (stats_kernels.float_parts, diff/kernels.parts), never by the machine.
The tensors are larger than the kernels' PARALLEL_MIN thresholds, so the parallel kernels run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import paramscope
from builders.safetensors_files import header_json, write_raw

numba = pytest.importorskip("numba")

ROWS, COLS = 3_000, 1_100  # 3.3 M float32 values: 13 MB, above both kernels' one-thread thresholds


def write_f32(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    header = header_json({name: ("F32", a.shape) for name, a in arrays.items()})
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return write_raw(path, raw, b"".join(a.astype("<f4").tobytes() for a in arrays.values()))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[str, str]:
    rng = np.random.default_rng(7)
    # a large common offset and a spread of magnitudes: sums whose last bits depend on the grouping
    a = (rng.standard_normal((ROWS, COLS)) * rng.lognormal(0, 3, (ROWS, 1)) + 0.37).astype(np.float32)
    b = a.copy()
    b[::3] += np.float32(1e-3) * rng.standard_normal((len(b[::3]), COLS)).astype(np.float32)
    d = tmp_path_factory.mktemp("threads")
    return (str(write_f32(d / "a.safetensors", {"model.layers.0.mlp.down_proj.weight": a})),
            str(write_f32(d / "b.safetensors", {"model.layers.0.mlp.down_proj.weight": b})))


def on_threads(threads: int, fn):
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return fn()
    finally:
        numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has one thread here")
def test_stats_and_diff_do_not_depend_on_the_thread_count(files):
    a, b = files
    stats = [figures(on_threads(t, lambda: paramscope.stats(a).to_json())) for t in (1, 2)]
    assert stats[0] == stats[1]
    diffs = [figures(on_threads(t, lambda: paramscope.diff(a, b).to_json())) for t in (1, 2)]
    assert diffs[0] == diffs[1]


def figures(result):
    """A result without how long it took (at any depth), which is not a figure of the files."""
    if isinstance(result, dict):
        return {k: figures(v) for k, v in result.items() if k not in ("seconds", "bytes_per_second")}
    return [figures(v) for v in result] if isinstance(result, list) else result
