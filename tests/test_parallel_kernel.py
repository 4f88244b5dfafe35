"""A process forked after numba ran a parallel region must still run paramscope's kernels.

GNU OpenMP kills such a child at its first parallel region (analyses/parallel_kernel.py). The test
runs a parallel kernel here, forks, and in the child decodes Q8_0 and computes statistics on the real
kernels; the child must finish with the same answer the parent gets.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from paramscope.analyses.values import stats_kernels as K  # noqa: E402
from paramscope.analyses.values.decode import ggml_kernels  # noqa: E402


def _work() -> bytes:
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 256, size=(4096, 34), dtype=np.uint8)
    blocks[:, :2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)  # a finite scale per block
    out = np.empty((4096, 32), np.float32)
    ggml_kernels.run(ggml_kernels.q8_0, blocks, out, ggml_kernels.F16_TO_F32)
    x = rng.standard_normal(1 << 21).astype(np.float32)  # 8 MiB: the parallel path of float_stats
    parts = K.float_parts(x.nbytes)
    grid = np.zeros((parts, K.GRID), np.int64)
    stats = np.zeros((parts, K.N_FIELDS), np.float64)
    cols = 1024
    rowmax = np.zeros(x.size // cols, np.float32)
    colmax = np.zeros((parts, cols), np.float32)
    K.float_stats(x, cols, 1.0, grid, stats, rowmax, colmax)
    return b"".join(a.tobytes() for a in (out, grid, stats, rowmax, colmax))


def test_kernels_run_in_a_child_forked_after_a_parallel_region() -> None:
    expected = _work()  # the parent runs the parallel kernels: the threading layer starts here
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as w:
                w.write(_work())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as r:
        got = r.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child killed (status {status}) on the {numba.threading_layer()} layer"
    assert got == expected
