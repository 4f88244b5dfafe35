"""llama.cpp's CPU_REPACK copy per instruction set and build (runtimes/llamacpp/memory.py): ARM repacked
Q4_K from b7070, Q8_0 from about b7400, Q5_K and Q6_K from b7845; a phone's b7343 log repacked Q4_K alone."""

from __future__ import annotations

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.memory import (
    ARM_REPACK_FIRST_BUILD,
    CPU_REPACK_RULES,
    cpu_repack_bytes,
    repack_types,
)
from paramscope.errors import UnsupportedError
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

MATRICES = [Tensor(f"blk.0.ffn_{i}.weight", (4096, 4096), t, 4096 * 4096 // 2)
            for i, t in enumerate((DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q8_0, DType.Q4_0))]


def test_arm_repacks_more_types_in_later_builds():
    assert set(repack_types("arm-i8mm", 7343)) == {DType.Q4_0, DType.Q4_K, DType.IQ4_NL, DType.MXFP4}
    assert DType.Q8_0 in repack_types("arm-i8mm", 7500) and DType.Q6_K not in repack_types("arm-i8mm", 7500)
    assert repack_types("arm-i8mm", 7845) == {t: r for t, r in CPU_REPACK_RULES["arm-i8mm"].items()
                                              if t is not DType.Q1_0}
    assert repack_types("arm-i8mm") == CPU_REPACK_RULES["arm-i8mm"]  # no build: today's set
    assert repack_types("x86-avx2", 4000) == CPU_REPACK_RULES["x86-avx2"]  # x86's set is older than these
    assert all(build > 7000 for build in ARM_REPACK_FIRST_BUILD.values())


def test_repacked_bytes_follow_the_build():
    each = MATRICES[0].nbytes
    assert cpu_repack_bytes(MATRICES, "arm-i8mm", 7343) == 2 * each  # Q4_K and Q4_0
    assert cpu_repack_bytes(MATRICES, "arm-i8mm", 9000) == 5 * each
    assert cpu_repack_bytes(MATRICES, "x86-avx2") == 2 * each
    assert cpu_repack_bytes(MATRICES, "none") == 0
    with pytest.raises(UnsupportedError, match="unknown CPU instruction set"):
        cpu_repack_bytes(MATRICES, "riscv")


def test_the_cli_option_names_the_instruction_set(gemma_gguf):
    """Gemma 3 270M Q4_K_M on a CPU: an ARM CPU with i8mm also repacks its Q5_K/Q6_K/Q8_0 matrices; the
    note says how much (the copy is a note beside the mapped weights, as measured RSS counts it)."""
    with pytest.raises(paramscope.errors.UsageError, match="--cpu-isa takes one of"):
        paramscope.size(str(gemma_gguf), runtime="llama.cpp", context=4096, cpu_isa="riscv")
    model = paramscope.open_model(str(gemma_gguf))
    for isa, words in (("x86-avx2", "an x86 CPU with AVX2"), ("arm-i8mm", "an ARM CPU with i8mm")):
        est = paramscope.size(str(gemma_gguf), runtime="llama.cpp", context=4096, cpu_isa=isa).estimate
        repacked = cpu_repack_bytes(model.tensors, isa)
        assert any(f"{words}, llama.cpp copies {repacked:,} B" in note for note in est.notes)
    assert 0 < cpu_repack_bytes(model.tensors, "x86-avx2") < cpu_repack_bytes(model.tensors, "arm-i8mm")
    none = paramscope.size(str(gemma_gguf), runtime="llama.cpp", context=4096, cpu_isa="none").estimate
    assert not any("CPU_REPACK" in note for note in none.notes)
