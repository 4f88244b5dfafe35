"""The hardware catalogue (knowledge/hardware.py) and the detection of this machine (system.py).

Third-party libraries (psutil, nvidia-ml-py) are replaced by small fakes in sys.modules; paramscope's
own code is never mocked.
"""

from __future__ import annotations

import os
import re
import sys
import types

import pytest

from paramscope import system
from paramscope.errors import ParamscopeError, UnsupportedError
from paramscope.knowledge import hardware
from paramscope.knowledge.hardware import (
    ALIASES,
    BY_KEY,
    DEVICES,
    GB,
    KINDS,
    TFLOP,
    GiB,
    MiB,
    custom_device,
    find_device,
    match_nvml_name,
    parse_gpu_spec,
)

# --- the table -----------------------------------------------------------------------------------------


def test_table_has_at_least_forty_rows_with_unique_keys():
    assert len(DEVICES) >= 40
    keys = [d.key for d in DEVICES]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", k) for k in keys)


@pytest.mark.parametrize("device", DEVICES, ids=lambda d: d.key)
def test_every_row_is_sane(device):
    assert device.kind in KINDS
    assert device.name and device.vendor and device.source
    assert device.memory_bytes > 0
    assert device.bandwidth is not None and device.bandwidth > 0
    for rate in (device.bf16_flops, device.fp16_flops, device.fp8_flops):
        assert rate is None or rate > 0
    # fp8 runs at least as fast as bf16, and fp16 at least as fast as bf16 (MI100: twice)
    if device.fp8_flops is not None and device.bf16_flops is not None:
        assert device.fp8_flops >= device.bf16_flops
    if device.fp16_flops is not None and device.bf16_flops is not None:
        assert device.fp16_flops >= device.bf16_flops
    if device.kind == "cpu":
        assert device.half_flops is None and not device.nvml_names


@pytest.mark.parametrize("device", [d for d in DEVICES if d.reported_bytes is not None], ids=lambda d: d.key)
def test_reported_totals_are_whole_mib_a_little_under_the_capacity(device):
    # the driver keeps a reserve: 81559 MiB of an H100's 80 GiB, never more than the capacity
    assert device.reported_bytes % MiB == 0
    assert 0.9 * device.memory_bytes <= device.reported_bytes <= device.memory_bytes
    assert device.usable_bytes == (device.cuda_bytes or device.reported_bytes)


@pytest.mark.parametrize("device", [d for d in DEVICES if d.cuda_bytes is not None], ids=lambda d: d.key)
def test_cuda_totals_are_below_the_driver_totals(device):
    # cudaMemGetInfo's total leaves out what the driver keeps for itself: below NVML's total, within 5 %;
    # unified memory (DGX Spark: nvidia-smi reports no memory total) and a card whose driver total is not
    # in the table (the L40, ROCm's MI300X) below the capacity, within 10 %
    if device.kind == "unified" or device.reported_bytes is None:
        assert 0.9 * device.memory_bytes <= device.cuda_bytes < device.memory_bytes
    else:
        assert 0.95 * device.reported_bytes <= device.cuda_bytes < device.reported_bytes
    assert device.usable_bytes == device.cuda_bytes


def test_rtx_3090_as_vllm_sees_it():
    # vLLM prints torch's total: "total_gpu_memory=23.58GiB" (tests/fixtures/engine_logs/vllm/10517-*)
    assert f"{find_device('rtx-3090').usable_bytes / 2**30:.2f}" == "23.58"


def test_memory_convention_reads_gb_as_gib():
    assert find_device("a100-80g").memory_bytes == 80 * 2**30 == find_device("a100-80g").reported_bytes
    assert find_device("h100-sxm").reported_bytes == 81559 * 2**20  # NVML's total
    # the CUDA runtime's, which vLLM prints (PR #12126: "total_gpu_memory (79.22GiB)" on an H100-80G)
    assert f"{find_device('h100-sxm').usable_bytes / 2**30:.2f}" == "79.22"
    # the CUDA total vLLM 0.10.2 printed on an H200 (tests/fixtures/engine_logs/vllm/legalai-*)
    assert f"{find_device('h200').usable_bytes / 2**30:.2f}" == "139.81"
    # a card with no published CUDA or driver total: the capacity
    assert find_device("rtx-5070").usable_bytes == find_device("rtx-5070").memory_bytes


def test_dense_figures_are_half_the_sparse_datasheet_figures():
    h100 = find_device("h100")
    assert h100.bf16_flops == pytest.approx(989.5 * TFLOP)
    assert h100.fp8_flops == pytest.approx(1979 * TFLOP)
    assert h100.bandwidth == 3_350_000_000_000
    assert find_device("mi300x").bf16_flops == pytest.approx(1307.4 * TFLOP)


@pytest.mark.parametrize(("key", "bf16_tflops", "fp8_tflops"), [
    # whitepaper figures, dense, FP32 accumulate: the derivation SMs × clock × rate must reproduce them
    ("rtx-3080", 59.5, None),  # GA102 whitepaper
    ("rtx-3090", 71, None),  # GA102 whitepaper, rounded there (82 × 1695 MHz × 512 = 71.16)
    ("rtx-4080", 97.5, 194.9),  # Ada whitepaper
    ("rtx-4090", 165.2, 330.3),  # Ada whitepaper
    ("rtx-5090", 209.5, 419),  # RTX Blackwell whitepaper
    ("rtx-a6000", 309.7 / 2, None),  # RTX A6000 datasheet, sparse figure halved
    ("rtx-6000-ada", 1457 / 4, 1457 / 2),  # RTX 6000 Ada datasheet: FP8 with sparsity
    ("rtx-a5000", 222.2 / 2, None),  # RTX A5000 datasheet, sparse figure halved
    ("rtx-a4000", 153.4 / 2, None),  # RTX A4000 datasheet, sparse figure halved
])
def test_derived_geforce_rates_match_the_published_figures(key, bf16_tflops, fp8_tflops):
    device = find_device(key)
    assert device.bf16_flops == pytest.approx(bf16_tflops * TFLOP, rel=3e-3)
    if fp8_tflops is not None:
        assert device.fp8_flops == pytest.approx(fp8_tflops * TFLOP, rel=3e-3)


def test_turing_geforce_rate_matches_the_whitepaper():
    # Turing whitepaper, RTX 2080 Ti reference board: 53.8 TFLOPS FP16 with FP32 accumulate; no BF16
    device = find_device("rtx-2080-ti")
    assert device.bf16_flops is None and device.fp16_flops == pytest.approx(53.8 * TFLOP, rel=3e-3)


def test_bandwidth_arithmetic():
    assert find_device("ddr5-5600-2ch").bandwidth == 89_600_000_000  # 2 × 8 B × 5600 MT/s
    assert find_device("epyc-genoa-12ch").bandwidth == 460_800_000_000  # 12 × 8 B × 4800 MT/s
    assert find_device("rtx-4080").bandwidth == 716_800_000_000  # 256 bit × 22.4 Gbps
    assert find_device("mi250x").bandwidth == 3_276_800_000_000  # 8192 bit × 3.2 Gbps
    assert find_device("strix-halo").bandwidth == 256 * GB  # 256 bit × 8000 MT/s


def test_no_bf16_where_the_hardware_has_none():
    for key in ("v100-32g", "t4"):
        device = find_device(key)
        assert device.bf16_flops is None and device.fp8_flops is None
        assert device.half_flops == device.fp16_flops
    assert find_device("a100").fp8_flops is None


# --- names ---------------------------------------------------------------------------------------------


def test_aliases_point_at_rows_and_never_shadow_a_key():
    for alias, key in ALIASES.items():
        assert key in BY_KEY, alias
        assert alias not in BY_KEY, alias
        assert find_device(alias) is BY_KEY[key]


def test_no_two_rows_share_a_spelling():
    seen: dict[str, str] = {}
    spellings = [(d.key, d.key) for d in DEVICES] + list(ALIASES.items())
    for spelling, key in spellings:
        for form in (spelling, spelling.replace("-", "")):
            assert seen.setdefault(form, key) == key, form


def test_rows_that_share_a_full_name_differ_in_memory_and_the_name_is_ambiguous():
    # a card sold in two memory sizes under one NVML name: detection tells them apart by the total
    # (match_nvml_name); find_device refuses the bare name rather than pick one
    by_name: dict[str, list] = {}
    for d in DEVICES:
        for n in d.nvml_names:
            by_name.setdefault(hardware._norm(n), []).append(d)
    shared = {n: ds for n, ds in by_name.items() if len(ds) > 1}
    assert set(shared) == {"nvidia-geforce-rtx-4060-ti"}
    for ds in shared.values():
        assert len({d.memory_bytes for d in ds}) == len(ds)
    with pytest.raises(UnsupportedError, match=r"ambiguous device 'NVIDIA GeForce RTX 4060 Ti': "
                                               r"'rtx-4060-ti-16g' or 'rtx-4060-ti-8g'"):
        find_device("NVIDIA GeForce RTX 4060 Ti")


@pytest.mark.parametrize("device", DEVICES, ids=lambda d: d.key)
def test_every_row_is_found_by_its_display_and_nvml_names(device):
    shared = {"NVIDIA GeForce RTX 4060 Ti"}
    for name in (device.key, device.name, *device.nvml_names):
        if name not in shared:
            assert find_device(name) is device, name


@pytest.mark.parametrize(("name", "key"), [
    ("h100", "h100-sxm"), ("H100", "h100-sxm"), ("H100-SXM", "h100-sxm"), ("h100 sxm", "h100-sxm"),
    ("4090", "rtx-4090"), ("RTX 4090", "rtx-4090"), ("rtx4090", "rtx-4090"), ("rtx_4090", "rtx-4090"),
    ("a100", "a100-80g"), ("MI300X", "mi300x"), ("ddr5-dual-channel", "ddr5-5600-2ch"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"), ("Tesla T4", "t4"), ("gb10", "dgx-spark"),
    # names as logs print them: vendor words and a memory size in GB
    ("AMD Instinct MI300X", "mi300x"), ("AMD Radeon Instinct MI50", "mi50"),
    ("AMD Instinct MI50 32GB", "mi50"),
    ("Radeon RX 7900 XTX", "rx-7900-xtx"), ("NVIDIA A100 80GB", "a100-80g"), ("NVIDIA A100-80GB", "a100-80g"),
    ("NVIDIA Tesla T4", "t4"), ("Intel(R) Arc(TM) A770 Graphics", "arc-a770"), ("Apple M5", "m5"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "rtx-pro-6000"), ("rtx pro 6000", "rtx-pro-6000"),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", "rtx-4070-ti-super"), ("Tesla P100-PCIE-16GB", "p100"),
])
def test_find_device_is_forgiving_about_spelling(name, key):
    assert find_device(name).key == key


def test_unknown_device_suggests_close_names():
    with pytest.raises(UnsupportedError, match=r"unknown device 'h10-sxm' \(did you mean 'h100-sxm'"):
        find_device("h10-sxm")
    with pytest.raises(ParamscopeError, match=r"unknown device 'zzz' \(see `paramscope gpus`\)"):
        find_device("zzz")


# --- GPU specs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "key", "count"), [
    ("h100", "h100-sxm", 1), ("h100x8", "h100-sxm", 8), ("H100X8", "h100-sxm", 8),
    ("8xh100", "h100-sxm", 8), ("8×H100", "h100-sxm", 8), ("8*h100", "h100-sxm", 8),
    ("h100 x 8", "h100-sxm", 8), ("4090x2", "rtx-4090", 2), ("rtx-4090x4", "rtx-4090", 4),
    ("mi300x8", "mi300x", 8), ("mi300xx2", "mi300x", 2), ("2xmi300x", "mi300x", 2),
    ("rx-7900-xtx", "rx-7900-xtx", 1), ("a100-40gx4", "a100-40g", 4),
])
def test_parse_gpu_spec_named(spec, key, count):
    device, n = parse_gpu_spec(spec)
    assert (device.key, n) == (key, count)


@pytest.mark.parametrize(("spec", "memory", "count"), [
    ("24GB", 24 * 10**9, 1), ("24GiB", 24 * GiB, 1), ("24 gib", 24 * GiB, 1), ("80gbx4", 80 * 10**9, 4),
    ("2x24GiB", 24 * GiB, 2), ("2×48GB", 48 * 10**9, 2), ("1.5TB", 1_500_000_000_000, 1),
    ("12.5GiB", 12 * GiB + GiB // 2, 1), ("512MiB", 512 * MiB, 1),
])
def test_parse_gpu_spec_custom_memory(spec, memory, count):
    device, n = parse_gpu_spec(spec)
    assert (device.memory_bytes, n) == (memory, count)
    assert device.bandwidth is None and device.half_flops is None and device.fp8_flops is None
    assert device.kind == "gpu" and device.usable_bytes == memory


def test_custom_device_label():
    device = custom_device("24GiB")
    assert device is not None and device.name == "custom 24 GiB" and device.key == "24gib"
    assert custom_device("24 furlongs") is None and custom_device("0GB") is None


@pytest.mark.parametrize(("spec", "message"), [
    ("", r"empty GPU spec"),
    ("h100x0", r"invalid GPU spec 'h100x0': the count must be at least 1 \(found 0\)"),
    ("0xh100", r"the count must be at least 1"),
    ("h10x8", r"invalid GPU spec 'h10x8': unknown device 'h10' \(did you mean 'h100'"),
    ("quantumx8", r"unknown device 'quantum'"),
    ("foo", r"^unknown device 'foo'"),
    ("24XB", r"invalid GPU spec '24XB': unknown device 'b'"),
    ("x8", r"unknown device 'x8'"),
])
def test_parse_gpu_spec_errors(spec, message):
    with pytest.raises(UnsupportedError, match=message):
        parse_gpu_spec(spec)


# --- matching NVML names to rows ------------------------------------------------------------------------


def test_match_nvml_name_uses_name_and_memory():
    assert match_nvml_name("NVIDIA H100 80GB HBM3", 81559 * MiB).key == "h100-sxm"
    assert match_nvml_name("A100-SXM-80GB", 81252 * MiB).key == "a100-80g"  # older driver, no prefix
    assert match_nvml_name("NVIDIA GeForce RTX 4060 Ti", 16380 * MiB).key == "rtx-4060-ti-16g"
    assert match_nvml_name("NVIDIA GeForce RTX 4060 Ti", 8188 * MiB).key == "rtx-4060-ti-8g"
    assert match_nvml_name("NVIDIA GeForce RTX 4060 Ti", None) is None  # which of the two: not known
    assert match_nvml_name("NVIDIA GB10", None).key == "dgx-spark"  # NVML has no total on GB10
    assert match_nvml_name("NVIDIA Quantum 9000", 80 * GiB) is None


# --- detection -----------------------------------------------------------------------------------------


def test_detect_reports_this_machine_without_touching_nvml(monkeypatch):
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    info = system.detect()
    assert info.total_ram_bytes is not None and info.total_ram_bytes > GiB
    assert info.available_ram_bytes is None or 0 < info.available_ram_bytes <= info.total_ram_bytes
    assert info.ram_source in ("psutil", "/proc/meminfo", "sysconf")
    assert info.cpu_count is not None and info.cpu_count >= 1
    assert info.gpus == () and not info.gpus_probed and info.gpu_note is None
    assert "pynvml" not in sys.modules


def test_detect_without_psutil_reads_proc_meminfo(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil → ImportError
    info = system.detect()
    expected = "/proc/meminfo" if os.path.exists(system.MEMINFO) else "sysconf"
    assert info.ram_source == expected
    assert info.total_ram_bytes > GiB


def test_proc_meminfo_agrees_with_psutil():
    """On Linux /proc/meminfo answers first: the same figures psutil.virtual_memory() reads there."""
    psutil = pytest.importorskip("psutil")
    if not os.path.exists(system.MEMINFO):
        pytest.skip("no /proc/meminfo here")
    total, available, source = system.ram()
    memory = psutil.virtual_memory()
    assert source == "/proc/meminfo" and total == memory.total
    assert abs(available - memory.available) < 256 * 2**20  # read a moment apart on a busy machine


def test_detect_without_psutil_or_meminfo_uses_sysconf(monkeypatch, tmp_path):
    if not hasattr(os, "sysconf"):
        pytest.skip("no os.sysconf here")
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setattr(system, "MEMINFO", tmp_path / "missing")
    info = system.detect()
    assert info.ram_source == "sysconf" and info.total_ram_bytes > GiB


def test_detect_asks_psutil_without_proc_meminfo(monkeypatch, tmp_path):
    fake = types.ModuleType("psutil")
    fake.virtual_memory = lambda: types.SimpleNamespace(total=64 * GiB, available=40 * GiB)
    monkeypatch.setitem(sys.modules, "psutil", fake)
    monkeypatch.setattr(system, "MEMINFO", tmp_path / "missing")  # macOS, Windows
    info = system.detect()
    assert (info.total_ram_bytes, info.available_ram_bytes, info.ram_source) == (64 * GiB, 40 * GiB, "psutil")


def test_parse_meminfo_and_cpuinfo():
    meminfo = "MemTotal:       24683656 kB\nMemFree:        22997836 kB\nMemAvailable:   23594444 kB\n"
    assert system.parse_meminfo(meminfo) == (24683656 * 1024, 23594444 * 1024)
    assert system.parse_meminfo("garbage\n") == (None, None)
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC 9654 96-Core Processor\nprocessor\t: 1\n"
    assert system.parse_cpuinfo(x86) == "AMD EPYC 9654 96-Core Processor"
    assert system.parse_cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\nModel\t: Raspberry Pi 5\n") == (
        "Raspberry Pi 5")
    assert system.parse_cpuinfo("") is None


def test_no_nvml_means_no_gpus_and_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml → ImportError
    info = system.detect(gpus=True)
    assert info.gpus == () and info.gpus_probed
    assert "nvidia-ml-py is not installed" in info.gpu_note


class FakeNVMLError(Exception):
    pass


def fake_pynvml(boards: list[tuple[str | bytes, int | None]], *, init_error: bool = False):
    """A stand-in for nvidia-ml-py with the five calls system.py makes."""
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.shutdowns = 0

    def init():
        if init_error:
            raise FakeNVMLError("Driver Not Loaded")

    def memory(handle):
        total = boards[handle][1]
        if total is None:
            raise FakeNVMLError("Not Supported")
        return types.SimpleNamespace(total=total, free=total, used=0)

    def shutdown():
        module.shutdowns += 1

    module.nvmlInit = init
    module.nvmlShutdown = shutdown
    module.nvmlDeviceGetCount = lambda: len(boards)
    module.nvmlDeviceGetHandleByIndex = lambda index: index
    module.nvmlDeviceGetName = lambda handle: boards[handle][0]
    module.nvmlDeviceGetMemoryInfo = memory
    return module


def test_fake_nvml_gpus_are_matched_to_rows(monkeypatch):
    fake = fake_pynvml([
        ("NVIDIA H100 80GB HBM3", 81559 * MiB),
        (b"Tesla T4", 15360 * MiB),  # old nvidia-ml-py returns bytes
        ("NVIDIA GeForce RTX 4090", 24564 * MiB),
        ("NVIDIA GB10", None),  # unified memory: NVML reports no total
        ("NVIDIA GeForce RTX 3060", 8 * GiB),  # the 8 GB variant: no catalogue row
        ("NVIDIA Future GPU", 200 * GiB),
    ])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    info = system.detect(gpus=True)
    assert info.gpus_probed and info.gpu_note is None
    assert [(g.index, g.name, g.total_bytes) for g in info.gpus][:2] == [
        (0, "NVIDIA H100 80GB HBM3", 81559 * MiB), (1, "Tesla T4", 15360 * MiB)]
    assert [g.device.key if g.device else None for g in info.gpus] == [
        "h100-sxm", "t4", "rtx-4090", "dgx-spark", None, None]
    assert info.gpu_memory_bytes == (81559 + 15360 + 24564) * MiB + 8 * GiB + 200 * GiB
    assert fake.shutdowns == 1


def test_nvml_that_fails_to_start_is_not_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([], init_error=True))
    info = system.detect(gpus=True)
    assert info.gpus == () and "Driver Not Loaded" in info.gpu_note


def test_nvml_that_fails_midway_is_not_an_error(monkeypatch):
    fake = fake_pynvml([("NVIDIA H100 80GB HBM3", 81559 * MiB)])

    def broken_count():
        raise FakeNVMLError("GPU is lost")

    fake.nvmlDeviceGetCount = broken_count
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    info = system.detect(gpus=True)
    assert info.gpus == () and "GPU is lost" in info.gpu_note and fake.shutdowns == 1


def test_nvidia_gpus_say_whether_they_talk_over_nvlink():
    # SXM boards are NVLink-connected; every other NVIDIA GPU of the table is a PCIe card; a size given on
    # the command line states nothing (vLLM's profile then takes the measured NVLink case)
    from paramscope.knowledge.hardware import DEVICES, custom_device, find_device
    nvidia = [d for d in DEVICES if d.vendor == "NVIDIA" and d.kind == "gpu"]
    assert all(d.nvlink is not None for d in nvidia)
    assert {d.key for d in nvidia if d.nvlink} == {"h100-sxm", "h200", "b200", "a100-80g", "a100-40g",
                                                     "v100-32g", "v100-16g", "h800", "h20", "a800-80g",
                                                     "gb200"}
    assert find_device("a10").nvlink is False and find_device("rtx-4090").nvlink is False
    device = custom_device("80GiB")
    assert device is not None and device.nvlink is None
