"""The hardware catalogue: one row per device, one table (docs/hardware.md explains every column).

Conventions, so that every number means one thing:

* **Memory** is stored twice. ``memory_bytes`` is the vendor's capacity with its "GB" read as GiB
  (2^30 bytes): memory chips and HBM stacks come in powers of two, and the drivers agree (an A100 80GB
  reports 81920 MiB = exactly 80 GiB; a B200 "180 GB" reports 183359 MiB ≈ 179.1 GiB). ``reported_bytes``
  is the total the driver reports (``nvidia-smi --query-gpu=memory.total``, which is NVML's
  ``nvmlDeviceGetMemoryInfo().total``) where a published nvidia-smi output shows it: an H100 80GB
  reports 81559 MiB, 361 MiB short of 80 GiB. ``cuda_bytes`` is the total the CUDA runtime reports
  (``cudaMemGetInfo``, i.e. ``torch.cuda.mem_get_info()[1]``, which vLLM prints as ``total_gpu_memory``
  and multiplies by ``--gpu-memory-utilization``), smaller again than NVML's where a log shows it: an RTX
  3090 reports 24576 MiB to NVML and 23.58 GiB to vLLM. ``usable_bytes`` prefers the CUDA total, then
  the NVML total, then the capacity.
* **Bandwidth** is the vendor's peak in bytes per second, decimal (3.35 TB/s = 3.35 × 10^12 B/s).
* **FLOP/s are dense peaks** of the matrix units (tensor cores, matrix cores) at the boost clock, with
  FP32 accumulation. Vendors that quote 2:4 structured sparsity get their figure halved in the row
  (``1979 * TFLOP / 2``). ``None`` means the device has no such unit or the vendor publishes no figure
  (Apple, DGX Spark and Strix Halo quote no dense BF16 rate; V100 and T4 have no BF16).
* **GeForce** rates are derived, never stored: SMs × boost clock × FLOP per clock per SM, with 512 dense
  16-bit FLOP/clk/SM at FP32 accumulation on consumer Ampere, Ada and Blackwell (half the FP16-accumulate
  rate; FP8 twice that). The formula reproduces the whitepapers' figures (RTX 4090: 128 × 2520 MHz × 512 =
  165.2 TFLOP/s, as in the Ada whitepaper); tests pin it to them.
* **CPU rows** describe a memory configuration, not a chip: bandwidth = channels × 8 bytes × MT/s, and
  the capacity is the configuration named in the row (``--ram`` overrides it).
* **Apple and other unified-memory rows** state the largest configuration of the chip and the
  bandwidth of that configuration; the OS keeps part of unified memory for itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from paramscope.errors import UnsupportedError
from paramscope.records import record, replace

Kind = Literal["gpu", "unified", "cpu"]
KINDS: tuple[Kind, ...] = ("gpu", "unified", "cpu")

MiB, GiB = 1 << 20, 1 << 30
GB = 10**9  # bandwidth in the vendors' GB/s
TFLOP = 1e12


@record
class Device:
    """A GPU or machine: memory, bandwidth and compute, as its vendor publishes them."""

    key: str  # short CLI name: "h100-sxm"
    name: str  # display name
    vendor: str
    kind: Kind  # "gpu": own memory; "unified": CPU and GPU share it; "cpu": host RAM only
    memory_bytes: int  # vendor capacity, "GB" read as GiB
    bandwidth: int | None  # peak memory bandwidth, bytes/s; None only for user-given devices
    bf16_flops: float | None  # dense peak FLOP/s, FP32 accumulate
    fp16_flops: float | None
    fp8_flops: float | None
    source: str  # where the figures come from
    reported_bytes: int | None = None  # total memory as the driver reports it, where published
    nvml_names: tuple[str, ...] = ()  # names NVML reports for this device
    note: str = ""
    cuda_bytes: int | None = None  # total as cudaMemGetInfo reports it (what torch and vLLM see)
    # the GPUs of a multi-GPU server of this model talk over NVLink (SXM boards: HGX / DGX), or over PCIe
    # only (False: every other NVIDIA GPU of the table, set below); None where not stated (a size given on
    # the command line, other vendors). NCCL's buffers and vLLM's custom all-reduce depend on it
    # (analyses/sizing/runtimes/common.py)
    nvlink: bool | None = None

    @property
    def usable_bytes(self) -> int:
        """The memory a runtime can see: the CUDA runtime's total where known, else the driver's (NVML),
        else the capacity."""
        for known in (self.cuda_bytes, self.reported_bytes):
            if known is not None:
                return known
        return self.memory_bytes

    @property
    def half_flops(self) -> float | None:
        """The 16-bit matrix rate a runtime would use: BF16 where the device has it, else FP16."""
        return self.bf16_flops if self.bf16_flops is not None else self.fp16_flops


def _tensor_rate(sms: int, boost_mhz: int, flop_per_clock_per_sm: int) -> float:
    """Peak FLOP/s from the chip's configuration: SMs × clock × FLOP per clock per SM."""
    return sms * boost_mhz * 1e6 * flop_per_clock_per_sm


def _bus(bits: int, gbps: float) -> int:
    """Peak bandwidth of a memory bus: width in bytes × data rate per pin (384 bit × 21 Gbps = 1008 GB/s)."""
    return round(bits / 8 * gbps * 1e9)


def _dram(channels: int, mega_transfers: int) -> int:
    """Peak DRAM bandwidth: each 64-bit channel moves 8 bytes per transfer (DDR4-3200: 25.6 GB/s)."""
    return channels * 8 * mega_transfers * 10**6


# GeForce tensor rates, dense, FP32 accumulate (GA102 / Ada / RTX Blackwell whitepapers)
_GEFORCE_16 = 512
_GEFORCE_FP8 = 1024
# professional and data-centre Ampere/Ada parts run FP32 accumulation at the full rate
_PRO_16 = 1024
_PRO_FP8 = 2048

_NV_SMI = "nvidia-smi total per github.com/modal-labs/modal-client/pull/2797"
_H100 = "NVIDIA H100 datasheet, nvidia.com/en-us/data-center/h100 (sparse figures halved)"
_H200 = "NVIDIA H200 datasheet, nvidia.com/en-us/data-center/h200 (sparse figures halved)"
_GH200 = "NVIDIA GH200 Grace Hopper Superchip datasheet (sparse figures halved)"
_A100 = "NVIDIA A100 datasheet, nvidia.com/en-us/data-center/a100 (dense column)"
_ADA = "NVIDIA Ada GPU architecture whitepaper v2.01"
_GA102 = "NVIDIA Ampere GA102 GPU architecture whitepaper v2.0"
_RTX_BW = "NVIDIA RTX Blackwell GPU architecture whitepaper"
_MAC = "Apple technical specifications, apple.com"

DEVICES: tuple[Device, ...] = (
    # --- NVIDIA data centre -------------------------------------------------------------------------
    Device("h100-sxm", "NVIDIA H100 SXM5 80GB", "NVIDIA", "gpu", 80 * GiB, 3350 * GB,
           1979 * TFLOP / 2, 1979 * TFLOP / 2, 3958 * TFLOP / 2, _H100 + "; " + _NV_SMI + "; CUDA total: "
           "vLLM's 'total_gpu_memory (79.22GiB)' on an H100-80G (vllm-project/vllm PR #12126)",
           reported_bytes=81559 * MiB, nvml_names=("NVIDIA H100 80GB HBM3",), cuda_bytes=round(79.22 * GiB),
           nvlink=True),
    Device("h100-pcie", "NVIDIA H100 PCIe 80GB", "NVIDIA", "gpu", 80 * GiB, 2000 * GB,
           1513 * TFLOP / 2, 1513 * TFLOP / 2, 3026 * TFLOP / 2, _H100, nvml_names=("NVIDIA H100 PCIe",)),
    Device("h100-nvl", "NVIDIA H100 NVL 94GB", "NVIDIA", "gpu", 94 * GiB, 3900 * GB,
           1671 * TFLOP / 2, 1671 * TFLOP / 2, 3341 * TFLOP / 2, _H100 + "; CUDA total: torch's 'GPU 0 has a "
           "total capacity of 93.09 GiB' on H100 NVLs (github.com/search?q=%22total+capacity+of+93.09+GiB%22"
           "&type=code; tests/fixtures/engine_logs/vllm/r14m-qwen3-vl-30b-a3b-h100nvl-*); nvidia-smi: "
           "'95830MiB' (github.com/search?q=%22NVIDIA+H100+NVL%22+%2295830MiB%22&type=code)",
           reported_bytes=95830 * MiB, nvml_names=("NVIDIA H100 NVL",), cuda_bytes=round(93.09 * GiB),
           note="figures of the 2024 datasheet (350-400 W board); the 2023 brief quoted a pair of boards"),
    Device("h200", "NVIDIA H200 SXM 141GB", "NVIDIA", "gpu", 141 * GiB, 4800 * GB,
           1979 * TFLOP / 2, 1979 * TFLOP / 2, 3958 * TFLOP / 2, _H200 + "; CUDA total per vLLM 0.10.2's "
           "'Free memory on device (139.21/139.81 GiB)' on an H200 (tests/fixtures/engine_logs/vllm/"
           "legalai-qwen3-next-80b-2xh200-v0102); nvidia-smi total 143771MiB in public H200 outputs "
           "(the code index holds a dozen)", reported_bytes=143771 * MiB, nvml_names=("NVIDIA H200",),
           cuda_bytes=round(139.81 * GiB), nvlink=True),
    Device("h200-nvl", "NVIDIA H200 NVL 141GB", "NVIDIA", "gpu", 141 * GiB, 4800 * GB,
           1671 * TFLOP / 2, 1671 * TFLOP / 2, 3341 * TFLOP / 2, _H200, nvml_names=("NVIDIA H200 NVL",)),
    Device("gh200", "NVIDIA GH200 96GB HBM3", "NVIDIA", "gpu", 96 * GiB, 4000 * GB,
           1979 * TFLOP / 2, 1979 * TFLOP / 2, 3958 * TFLOP / 2, _GH200, nvml_names=("NVIDIA GH200 480GB",),
           note="GPU memory only; the Grace CPU's LPDDR5X (up to 480 GB) is not counted"),
    Device("gh200-144g", "NVIDIA GH200 144GB HBM3e", "NVIDIA", "gpu", 144 * GiB, 4900 * GB,
           1979 * TFLOP / 2, 1979 * TFLOP / 2, 3958 * TFLOP / 2, _GH200,
           nvml_names=("NVIDIA GH200 144G HBM3e",),
           note="GPU memory only; the Grace CPU's LPDDR5X is not counted"),
    Device("b200", "NVIDIA B200 180GB", "NVIDIA", "gpu", 180 * GiB, 7700 * GB,
           4.5e15 / 2, 4.5e15 / 2, 9e15 / 2,
           "NVIDIA HGX B200 specifications, nvidia.com/en-us/data-center/hgx (per GPU: 180 GB, 7.7 TB/s, "
           "FP8 9 PF and BF16 4.5 PF with sparsity); nvidia-smi total per "
           "github.com/NVIDIA/TensorRT-LLM/issues/10278",
           reported_bytes=183359 * MiB, nvml_names=("NVIDIA B200",),
           note="early material said 192 GB and 8 TB/s; the driver reports a 7680-bit bus", nvlink=True),
    Device("h800", "NVIDIA H800 SXM5 80GB", "NVIDIA", "gpu", 80 * GiB, 3350 * GB,
           1979 * TFLOP / 2, 1979 * TFLOP / 2, 3958 * TFLOP / 2,
           "NVIDIA H800 SXM5 specifications (the H100 SXM5's memory and tensor rates, sparse figures halved; "
           "NVLink at 400 GB/s)", nvml_names=("NVIDIA H800",), nvlink=True),
    Device("h800-pcie", "NVIDIA H800 PCIe 80GB", "NVIDIA", "gpu", 80 * GiB, 2000 * GB,
           1513 * TFLOP / 2, 1513 * TFLOP / 2, 3026 * TFLOP / 2,
           "NVIDIA H800 PCIe specifications (the H100 PCIe's memory and tensor rates, sparse figures halved)",
           nvml_names=("NVIDIA H800 PCIe",)),
    Device("h20", "NVIDIA H20 96GB", "NVIDIA", "gpu", 96 * GiB, 4000 * GB,
           148 * TFLOP, 148 * TFLOP, 296 * TFLOP,
           "NVIDIA H20 specifications (96 GB HBM3, 4.0 TB/s; BF16 148, FP8 296 TFLOPS dense); nvidia-smi "
           "total 97871 MiB in public outputs (the code index holds several)",
           reported_bytes=97871 * MiB, nvml_names=("NVIDIA H20",), nvlink=True,
           note="a later H20 with 141 GB of HBM3e exists: name its memory (141GiB) for it"),
    Device("gb200", "NVIDIA GB200 (one Blackwell GPU)", "NVIDIA", "gpu", 186 * GiB, 8000 * GB,
           5e15 / 2, 5e15 / 2, 10e15 / 2,
           "NVIDIA GB200 NVL72 specifications (per Grace Blackwell superchip: two GPUs, 372 GB HBM3e, "
           "16 TB/s, FP8 20 PF and FP16/BF16 10 PF with sparsity; one GPU is half); nvidia-smi total "
           "189471 MiB in public outputs (the code index holds several)",
           reported_bytes=189471 * MiB, nvml_names=("NVIDIA GB200",), nvlink=True,
           note="GPU memory only; the Grace CPU's LPDDR5X is reachable over NVLink-C2C but not counted"),
    Device("a100-80g", "NVIDIA A100 SXM4 80GB", "NVIDIA", "gpu", 80 * GiB, 2039 * GB,
           312 * TFLOP, 312 * TFLOP, None, _A100 + "; " + _NV_SMI + "; CUDA total per PyTorch's "
           "out-of-memory message '79.25 GiB total capacity' on an A100 in "
           "github.com/levihsu/OOTDiffusion/issues/235", reported_bytes=81920 * MiB,
           nvml_names=("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", "A100-SXM-80GB"),
           cuda_bytes=round(79.25 * GiB), nvlink=True),
    Device("a100-80g-pcie", "NVIDIA A100 PCIe 80GB", "NVIDIA", "gpu", 80 * GiB, 1935 * GB,
           312 * TFLOP, 312 * TFLOP, None, _A100, nvml_names=("NVIDIA A100 80GB PCIe",)),
    Device("a100-40g", "NVIDIA A100 SXM4 40GB", "NVIDIA", "gpu", 40 * GiB, 1555 * GB,
           312 * TFLOP, 312 * TFLOP, None, _A100 + "; " + _NV_SMI + "; CUDA total per PyTorch's "
           "out-of-memory message 'GPU 0 has a total capacity of 39.50 GiB' on an A100 40GB in "
           "github.com/TianheWu/CoSeR/issues/10", reported_bytes=40960 * MiB,
           nvml_names=("NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB"), cuda_bytes=round(39.50 * GiB),
           nvlink=True),
    Device("a100-40g-pcie", "NVIDIA A100 PCIe 40GB", "NVIDIA", "gpu", 40 * GiB, 1555 * GB,
           312 * TFLOP, 312 * TFLOP, None, _A100, nvml_names=("NVIDIA A100-PCIE-40GB", "A100-PCIE-40GB")),
    Device("a800-80g", "NVIDIA A800 SXM4 80GB", "NVIDIA", "gpu", 80 * GiB, 2039 * GB,
           312 * TFLOP, 312 * TFLOP, None,
           "NVIDIA A800 SXM4 specifications (the A100 SXM4 80GB's memory and tensor rates; NVLink 400 GB/s)",
           nvml_names=("NVIDIA A800-SXM4-80GB",), nvlink=True),
    Device("a800-80g-pcie", "NVIDIA A800 PCIe 80GB", "NVIDIA", "gpu", 80 * GiB, 1935 * GB,
           312 * TFLOP, 312 * TFLOP, None,
           "NVIDIA A800 PCIe specifications (the A100 PCIe 80GB's memory and tensor rates)",
           nvml_names=("NVIDIA A800 80GB PCIe",)),
    Device("l40s", "NVIDIA L40S", "NVIDIA", "gpu", 48 * GiB, 864 * GB,
           362.05 * TFLOP, 362.05 * TFLOP, 733 * TFLOP, "NVIDIA L40S datasheet (dense column); " + _NV_SMI
           + "; CUDA total per vLLM 0.10.2's 'Free memory on device (43.93/44.42 GiB)' on eight L40S "
           "(tests/fixtures/engine_logs/vllm/l40s8-qwen3-235b-2507-fp8-tp8-ep-v0102)",
           reported_bytes=46068 * MiB, nvml_names=("NVIDIA L40S",), cuda_bytes=round(44.42 * GiB)),
    Device("l40", "NVIDIA L40", "NVIDIA", "gpu", 48 * GiB, 864 * GB,
           181.05 * TFLOP, 181.05 * TFLOP, 362 * TFLOP, "NVIDIA L40 datasheet (dense column); CUDA total "
           "per vLLM 0.7.2's 'total_gpu_memory (44.39GiB)' (tests/fixtures/engine_logs/vllm/"
           "cs336-qwen25-math-1.5b-l40-llm-v072)",
           nvml_names=("NVIDIA L40",), cuda_bytes=round(44.39 * GiB)),
    Device("l4", "NVIDIA L4", "NVIDIA", "gpu", 24 * GiB, 300 * GB,
           242 * TFLOP / 2, 242 * TFLOP / 2, 485 * TFLOP / 2,
           "NVIDIA L4 datasheet (sparse figures halved); " + _NV_SMI + "; CUDA total per vLLM's 'Free "
           "memory on device (21.84/22.03 GiB)' on L4s of three hosts, 0.28 to 0.30 (22.03 or 22.04: "
           "tests/fixtures/engine_logs/vllm/r24v-gemma4-26b-a4b-it-qat-w4a16-l4-2k-v0300, "
           "runpod-qwen35-4b-l4-v0290): 0.46 GiB below the driver's total, as every NVIDIA card's here",
           reported_bytes=23034 * MiB, nvml_names=("NVIDIA L4",), cuda_bytes=round(22.03 * GiB)),
    Device("l20", "NVIDIA L20", "NVIDIA", "gpu", 48 * GiB, 864 * GB,
           119.5 * TFLOP, 119.5 * TFLOP, 239 * TFLOP,
           "NVIDIA L20 specifications (48 GB GDDR6, 864 GB/s; FP16 119.5 and FP8 239 TFLOPS dense)",
           nvml_names=("NVIDIA L20",)),
    Device("a2", "NVIDIA A2", "NVIDIA", "gpu", 16 * GiB, 200 * GB,
           18 * TFLOP, 18 * TFLOP, None, "NVIDIA A2 datasheet (dense column: BF16 and FP16 18 TFLOPS)",
           nvml_names=("NVIDIA A2",)),
    Device("t4", "NVIDIA T4", "NVIDIA", "gpu", 16 * GiB, 320 * GB,
           None, 65 * TFLOP, None, "NVIDIA T4 datasheet (FP16 mixed precision); " + _NV_SMI + "; CUDA total "
           "per PyTorch's out-of-memory message 'GPU 0 has a total capacty of 14.58 GiB' on a Tesla T4 in "
           "github.com/datawhalechina/self-llm/issues/162",
           reported_bytes=15360 * MiB, nvml_names=("Tesla T4",), note="Turing: no BF16, no FP8",
           cuda_bytes=round(14.58 * GiB)),
    Device("v100-32g", "NVIDIA V100 SXM2 32GB", "NVIDIA", "gpu", 32 * GiB, 900 * GB,
           None, 125 * TFLOP, None, "NVIDIA V100 datasheet (SXM2 tensor performance)",
           nvml_names=("Tesla V100-SXM2-32GB",), note="Volta: no BF16, no FP8", nvlink=True),
    Device("v100-16g", "NVIDIA V100 SXM2 16GB", "NVIDIA", "gpu", 16 * GiB, 900 * GB,
           None, 125 * TFLOP, None, "NVIDIA V100 datasheet (SXM2 tensor performance)",
           nvml_names=("Tesla V100-SXM2-16GB",), note="Volta: no BF16, no FP8", nvlink=True),
    Device("v100-32g-pcie", "NVIDIA V100 PCIe 32GB", "NVIDIA", "gpu", 32 * GiB, 900 * GB,
           None, 112 * TFLOP, None, "NVIDIA V100 datasheet (PCIe tensor performance)",
           nvml_names=("Tesla V100-PCIE-32GB",), note="Volta: no BF16, no FP8"),
    Device("v100-16g-pcie", "NVIDIA V100 PCIe 16GB", "NVIDIA", "gpu", 16 * GiB, 900 * GB,
           None, 112 * TFLOP, None, "NVIDIA V100 datasheet (PCIe tensor performance)",
           nvml_names=("Tesla V100-PCIE-16GB",), note="Volta: no BF16, no FP8"),
    Device("v100s", "NVIDIA V100S PCIe 32GB", "NVIDIA", "gpu", 32 * GiB, 1134 * GB,
           None, 130 * TFLOP, None, "NVIDIA V100S datasheet (tensor performance 130 TFLOPS)",
           nvml_names=("Tesla V100S-PCIE-32GB",), note="Volta: no BF16, no FP8"),
    Device("p100", "NVIDIA Tesla P100 16GB", "NVIDIA", "gpu", 16 * GiB, 732 * GB,
           None, None, None, "NVIDIA Tesla P100 datasheet (16 GB HBM2, 732 GB/s)",
           nvml_names=("Tesla P100-PCIE-16GB", "Tesla P100-SXM2-16GB"),
           note="Pascal: no tensor cores (half precision 18.7-21.2 TFLOPS on the shader cores, not stored)"),
    Device("p40", "NVIDIA Tesla P40", "NVIDIA", "gpu", 24 * GiB, 346 * GB,
           None, None, None, "NVIDIA Tesla P40 datasheet (24 GB GDDR5, 346 GB/s)",
           nvml_names=("Tesla P40",),
           note="Pascal: no tensor cores and a 1/64-rate FP16; llama.cpp runs it on FP32 kernels"),
    Device("a10", "NVIDIA A10", "NVIDIA", "gpu", 24 * GiB, 600 * GB,
           125 * TFLOP, 125 * TFLOP, None, "NVIDIA A10 datasheet (dense column); " + _NV_SMI + "; CUDA "
           "total per PyTorch's out-of-memory message 'GPU 1 has a total capacity of 21.99 GiB' on one of "
           "four A10s under vLLM 0.8.5 in github.com/QwenLM/Qwen3/issues/1387",
           reported_bytes=23028 * MiB, nvml_names=("NVIDIA A10",), cuda_bytes=round(21.99 * GiB)),
    Device("a10g", "NVIDIA A10G (AWS)", "NVIDIA", "gpu", 24 * GiB, 600 * GB,
           None, None, None, "AWS EC2 G5 instance specifications (24 GB per GPU); nvidia-smi total per "
           "github.com/NVIDIA/DCGM/issues/232",
           reported_bytes=23028 * MiB, nvml_names=("NVIDIA A10G",), cuda_bytes=round(22.06 * GiB),
           note="AWS publishes no tensor rate; bandwidth as GDDR6 12.5 Gbps × 384 bit, not vendor-stated; "
                "CUDA total 22.06 GiB as vLLM 0.30 printed it on a g5.xlarge (tests/fixtures/engine_logs/"
                "vllm/r37v-qwen3-8b-bf16-a10g-g5-8k-v0300)"),
    Device("a40", "NVIDIA A40", "NVIDIA", "gpu", 48 * GiB, 696 * GB,
           149.7 * TFLOP, 149.7 * TFLOP, None, "NVIDIA A40 datasheet (dense column); nvidia-smi 46068 MiB"
           + "; CUDA total from vLLM 0.7.2's budget line on two A40s, whose four terms (19.40 + 0.32 + "
           "5.66 + 14.63 GiB) are 0.9 × 44.46 GiB (tests/fixtures/engine_logs/vllm/r17v-qwen25-72b-awq-*)",
           reported_bytes=46068 * MiB, nvml_names=("NVIDIA A40",), cuda_bytes=round(44.46 * GiB)),
    Device("a30", "NVIDIA A30", "NVIDIA", "gpu", 24 * GiB, 933 * GB,
           165 * TFLOP, 165 * TFLOP, None, "NVIDIA A30 datasheet (dense column)",
           nvml_names=("NVIDIA A30",)),
    # --- NVIDIA workstation ------------------------------------------------------------------------
    Device("rtx-a6000", "NVIDIA RTX A6000", "NVIDIA", "gpu", 48 * GiB, 768 * GB,
           _tensor_rate(84, 1800, _PRO_16), _tensor_rate(84, 1800, _PRO_16), None,
           "NVIDIA RTX A6000 datasheet (tensor 309.7 TFLOPS with sparsity = 84 SMs × 1800 MHz × 1024 × 2); "
           "nvidia-smi total 49140 MiB in public outputs (the code index holds several)",
           reported_bytes=49140 * MiB, nvml_names=("NVIDIA RTX A6000",)),
    Device("rtx-6000-ada", "NVIDIA RTX 6000 Ada Generation", "NVIDIA", "gpu", 48 * GiB, 960 * GB,
           _tensor_rate(142, 2505, _PRO_16), _tensor_rate(142, 2505, _PRO_16),
           _tensor_rate(142, 2505, _PRO_FP8),
           "NVIDIA RTX 6000 Ada datasheet (FP8 1457 TFLOPS with sparsity = 142 SMs × 2505 MHz × 2048 × 2)",
           nvml_names=("NVIDIA RTX 6000 Ada Generation",)),
    Device("rtx-pro-6000", "NVIDIA RTX PRO 6000 Blackwell", "NVIDIA", "gpu", 96 * GiB, 1792 * GB,
           _tensor_rate(188, 2617, _PRO_16), _tensor_rate(188, 2617, _PRO_16),
           _tensor_rate(188, 2617, _PRO_FP8),
           "NVIDIA RTX PRO 6000 Blackwell datasheet (96 GB GDDR7, 1792 GB/s, 188 SMs, 2617 MHz; 4000 AI "
           "TOPS = FP4 with sparsity, so FP8 dense 1000 ≈ 188 × 2617 MHz × 2048); CUDA total per vLLM "
           "0.27.1's '95.01 GiB' on the Server Edition (tests/fixtures/engine_logs/vllm/"
           "kubesimplify-qwen3-32b-tp1-rtxpro6000-v0271); nvidia-smi total 97887 MiB in public reports "
           "of both editions (the code index holds several)",
           nvml_names=("NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
                       "NVIDIA RTX PRO 6000 Blackwell Server Edition"),
           reported_bytes=97887 * MiB, cuda_bytes=round(95.01 * GiB),
           note="the 300 W Max-Q Workstation Edition runs slower clocks: its FLOP/s are lower"),
    Device("rtx-a5000", "NVIDIA RTX A5000", "NVIDIA", "gpu", 24 * GiB, 768 * GB,
           _tensor_rate(64, 1695, _PRO_16), _tensor_rate(64, 1695, _PRO_16), None,
           "NVIDIA RTX A5000 datasheet (tensor 222.2 TFLOPS with sparsity = 64 SMs × 1695 MHz × 1024 × 2); "
           "nvidia-smi total 24564 MiB in public outputs (the code index holds a dozen)",
           reported_bytes=24564 * MiB, nvml_names=("NVIDIA RTX A5000",)),
    Device("rtx-a4000", "NVIDIA RTX A4000", "NVIDIA", "gpu", 16 * GiB, 448 * GB,
           _tensor_rate(48, 1560, _PRO_16), _tensor_rate(48, 1560, _PRO_16), None,
           "NVIDIA RTX A4000 datasheet (tensor 153.4 TFLOPS with sparsity = 48 SMs × 1560 MHz × 1024 × 2)",
           nvml_names=("NVIDIA RTX A4000",)),
    Device("quadro-rtx-8000", "NVIDIA Quadro RTX 8000", "NVIDIA", "gpu", 48 * GiB, 672 * GB,
           None, 130.5 * TFLOP, None, "NVIDIA Quadro RTX 8000 datasheet (tensor performance 130.5 TFLOPS)",
           nvml_names=("Quadro RTX 8000",), note="Turing: no BF16, no FP8"),
    # --- NVIDIA GeForce (rates derived from SMs × boost clock, see the module docstring) -------------
    Device("rtx-3060-12g", "NVIDIA GeForce RTX 3060 12GB", "NVIDIA", "gpu", 12 * GiB, 360 * GB,
           _tensor_rate(28, 1777, _GEFORCE_16), _tensor_rate(28, 1777, _GEFORCE_16), None,
           "NVIDIA RTX 3060 specifications (28 SMs, 1777 MHz, 192-bit 15 Gbps); rate per " + _GA102,
           nvml_names=("NVIDIA GeForce RTX 3060",)),
    Device("rtx-3080", "NVIDIA GeForce RTX 3080 10GB", "NVIDIA", "gpu", 10 * GiB, 760 * GB,
           _tensor_rate(68, 1710, _GEFORCE_16), _tensor_rate(68, 1710, _GEFORCE_16), None,
           _GA102 + " (59.5 TFLOPS FP16 with FP32 accumulate)", nvml_names=("NVIDIA GeForce RTX 3080",)),
    Device("rtx-3090", "NVIDIA GeForce RTX 3090", "NVIDIA", "gpu", 24 * GiB, 936 * GB,
           _tensor_rate(82, 1695, _GEFORCE_16), _tensor_rate(82, 1695, _GEFORCE_16), None,
           _GA102 + " (71 TFLOPS FP16 with FP32 accumulate); nvidia-smi total per "
           "github.com/noonghunna/club-3090/issues/1128; CUDA total per vLLM's 'total_gpu_memory=23.58GiB' "
           "in github.com/vllm-project/vllm/issues/10517",
           reported_bytes=24576 * MiB, nvml_names=("NVIDIA GeForce RTX 3090",),
           cuda_bytes=round(23.58 * GiB)),
    Device("rtx-4060-ti-16g", "NVIDIA GeForce RTX 4060 Ti 16GB", "NVIDIA", "gpu", 16 * GiB, 288 * GB,
           _tensor_rate(34, 2535, _GEFORCE_16), _tensor_rate(34, 2535, _GEFORCE_16),
           _tensor_rate(34, 2535, _GEFORCE_FP8),
           "NVIDIA RTX 4060 Ti specifications (34 SMs, 2535 MHz, 128-bit 18 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4060 Ti",)),
    Device("rtx-4070", "NVIDIA GeForce RTX 4070", "NVIDIA", "gpu", 12 * GiB, 504 * GB,
           _tensor_rate(46, 2475, _GEFORCE_16), _tensor_rate(46, 2475, _GEFORCE_16),
           _tensor_rate(46, 2475, _GEFORCE_FP8),
           "NVIDIA RTX 4070 specifications (46 SMs, 2475 MHz, 192-bit 21 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4070",)),
    Device("rtx-4080", "NVIDIA GeForce RTX 4080", "NVIDIA", "gpu", 16 * GiB, _bus(256, 22.4),
           _tensor_rate(76, 2505, _GEFORCE_16), _tensor_rate(76, 2505, _GEFORCE_16),
           _tensor_rate(76, 2505, _GEFORCE_FP8),
           _ADA + " (97.5 TFLOPS BF16 with FP32 accumulate); NVIDIA RTX 4080 specifications (22.4 Gbps); "
           "nvidia-smi total 16376 MiB, which vLLM 0.26 took as its 15.99 GiB total (tests/fixtures/"
           "engine_logs/vllm/wsl-qwen25-7b-awq-4080-v0260)",
           reported_bytes=16376 * MiB, nvml_names=("NVIDIA GeForce RTX 4080",)),
    Device("rtx-4090", "NVIDIA GeForce RTX 4090", "NVIDIA", "gpu", 24 * GiB, 1008 * GB,
           _tensor_rate(128, 2520, _GEFORCE_16), _tensor_rate(128, 2520, _GEFORCE_16),
           _tensor_rate(128, 2520, _GEFORCE_FP8),
           _ADA + " (165.2 TFLOPS BF16, 330.3 FP8, FP32 accumulate); nvidia-smi total per "
           "github.com/RLinf/RLinf/issues/255; CUDA total from github.com/vllm-project/vllm/issues/13061 "
           "(a vLLM budget of 23.08 GiB at gpu_memory_utilization 0.98: 23.55 GiB)",
           reported_bytes=24564 * MiB, nvml_names=("NVIDIA GeForce RTX 4090",),
           cuda_bytes=round(23.55 * GiB)),
    Device("rtx-4090-d", "NVIDIA GeForce RTX 4090 D", "NVIDIA", "gpu", 24 * GiB, 1008 * GB,
           _tensor_rate(114, 2520, _GEFORCE_16), _tensor_rate(114, 2520, _GEFORCE_16),
           _tensor_rate(114, 2520, _GEFORCE_FP8),
           "NVIDIA GeForce RTX 4090 D specifications (14,592 CUDA cores: 114 SMs, 2.52 GHz boost, 24 GB "
           "GDDR6X on a 384-bit bus, 21 Gbps), the RTX 4090's memory with fewer SMs, so its CUDA total "
           "taken as the 4090's; " + _ADA,
           reported_bytes=24564 * MiB, nvml_names=("NVIDIA GeForce RTX 4090 D",),
           cuda_bytes=round(23.55 * GiB)),
    Device("rtx-5080", "NVIDIA GeForce RTX 5080", "NVIDIA", "gpu", 16 * GiB, 960 * GB,
           _tensor_rate(84, 2617, _GEFORCE_16), _tensor_rate(84, 2617, _GEFORCE_16),
           _tensor_rate(84, 2617, _GEFORCE_FP8),
           "NVIDIA RTX 5080 specifications (84 SMs, 2617 MHz, 256-bit 30 Gbps GDDR7); rate per " + _RTX_BW
           + "; nvidia-smi total 16303MiB in an SGLang set-up guide (tests/fixtures/engine_logs/sglang/"
           "mineru-blackwell-sglang-qwen3-0.6b-rtx5080)",
           reported_bytes=16303 * MiB, nvml_names=("NVIDIA GeForce RTX 5080",)),
    Device("rtx-5090", "NVIDIA GeForce RTX 5090", "NVIDIA", "gpu", 32 * GiB, 1792 * GB,
           _tensor_rate(170, 2407, _GEFORCE_16), _tensor_rate(170, 2407, _GEFORCE_16),
           _tensor_rate(170, 2407, _GEFORCE_FP8),
           _RTX_BW + " (209.5 TFLOPS BF16, 419 FP8, FP32 accumulate); nvidia-smi total per "
           "github.com/noonghunna/club-3090/issues/1261; CUDA's total 31.36 GiB as vLLM 0.28 prints it "
           "('Free memory on device (30.86/31.36 GiB)', tests/fixtures/engine_logs/vllm/"
           "rtx5090-qwen3-14b-awq-u070-32k-v0280)",
           reported_bytes=32607 * MiB, nvml_names=("NVIDIA GeForce RTX 5090",),
           cuda_bytes=round(31.36 * GiB)),
    Device("rtx-2080-ti", "NVIDIA GeForce RTX 2080 Ti", "NVIDIA", "gpu", 11 * GiB, 616 * GB,
           None, _tensor_rate(68, 1545, _GEFORCE_16), None,
           "NVIDIA Turing GPU architecture whitepaper (RTX 2080 Ti: 68 SMs, 1545 MHz, 616 GB/s; 53.8 "
           "TFLOPS FP16 with FP32 accumulate)",
           nvml_names=("NVIDIA GeForce RTX 2080 Ti",),
           note="Turing: no BF16, no FP8"),
    Device("rtx-2080", "NVIDIA GeForce RTX 2080", "NVIDIA", "gpu", 8 * GiB, 448 * GB,
           None, _tensor_rate(46, 1710, _GEFORCE_16), None,
           "NVIDIA Turing GPU architecture whitepaper (RTX 2080: 46 SMs, 1710 MHz, 448 GB/s; FP16 with FP32 "
           "accumulate at the GeForce rate)",
           nvml_names=("NVIDIA GeForce RTX 2080",),
           note="Turing: no BF16, no FP8"),
    Device("rtx-3060-ti", "NVIDIA GeForce RTX 3060 Ti", "NVIDIA", "gpu", 8 * GiB, 448 * GB,
           _tensor_rate(38, 1665, _GEFORCE_16), _tensor_rate(38, 1665, _GEFORCE_16), None,
           "NVIDIA RTX 3060 Ti specifications (38 SMs, 1665 MHz, 256-bit 14 Gbps); rate per " + _GA102,
           nvml_names=("NVIDIA GeForce RTX 3060 Ti",)),
    Device("rtx-3070", "NVIDIA GeForce RTX 3070", "NVIDIA", "gpu", 8 * GiB, 448 * GB,
           _tensor_rate(46, 1725, _GEFORCE_16), _tensor_rate(46, 1725, _GEFORCE_16), None,
           "NVIDIA RTX 3070 specifications (46 SMs, 1725 MHz, 256-bit 14 Gbps); rate per " + _GA102,
           nvml_names=("NVIDIA GeForce RTX 3070",)),
    Device("rtx-3080-ti", "NVIDIA GeForce RTX 3080 Ti", "NVIDIA", "gpu", 12 * GiB, 912 * GB,
           _tensor_rate(80, 1665, _GEFORCE_16), _tensor_rate(80, 1665, _GEFORCE_16), None,
           "NVIDIA RTX 3080 Ti specifications (80 SMs, 1665 MHz, 384-bit 19 Gbps); rate per " + _GA102,
           nvml_names=("NVIDIA GeForce RTX 3080 Ti",)),
    Device("rtx-3090-ti", "NVIDIA GeForce RTX 3090 Ti", "NVIDIA", "gpu", 24 * GiB, 1008 * GB,
           _tensor_rate(84, 1860, _GEFORCE_16), _tensor_rate(84, 1860, _GEFORCE_16), None,
           "NVIDIA RTX 3090 Ti specifications (84 SMs, 1860 MHz, 384-bit 21 Gbps); rate per " + _GA102,
           nvml_names=("NVIDIA GeForce RTX 3090 Ti",)),
    Device("rtx-4060", "NVIDIA GeForce RTX 4060", "NVIDIA", "gpu", 8 * GiB, 272 * GB,
           _tensor_rate(24, 2460, _GEFORCE_16), _tensor_rate(24, 2460, _GEFORCE_16),
           _tensor_rate(24, 2460, _GEFORCE_FP8),
           "NVIDIA RTX 4060 specifications (24 SMs, 2460 MHz, 128-bit 17 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4060",)),
    Device("rtx-4060-laptop", "NVIDIA GeForce RTX 4060 Laptop GPU", "NVIDIA", "gpu", 8 * GiB, 256 * GB,
           _tensor_rate(24, 2370, _GEFORCE_16), _tensor_rate(24, 2370, _GEFORCE_16),
           _tensor_rate(24, 2370, _GEFORCE_FP8),
           "NVIDIA GeForce RTX 4060 Laptop GPU specifications (AD107, 24 SMs, boost 1470-2370 MHz by the "
           "laptop's power limit, the highest taken; 128-bit 16 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4060 Laptop GPU",),
           note="a laptop's clocks follow its power limit: the FLOP rates are the top of the range"),
    Device("rtx-4060-ti-8g", "NVIDIA GeForce RTX 4060 Ti 8GB", "NVIDIA", "gpu", 8 * GiB, 288 * GB,
           _tensor_rate(34, 2535, _GEFORCE_16), _tensor_rate(34, 2535, _GEFORCE_16),
           _tensor_rate(34, 2535, _GEFORCE_FP8),
           "NVIDIA RTX 4060 Ti specifications (34 SMs, 2535 MHz, 128-bit 18 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4060 Ti",)),
    Device("rtx-4070-super", "NVIDIA GeForce RTX 4070 SUPER", "NVIDIA", "gpu", 12 * GiB, 504 * GB,
           _tensor_rate(56, 2475, _GEFORCE_16), _tensor_rate(56, 2475, _GEFORCE_16),
           _tensor_rate(56, 2475, _GEFORCE_FP8),
           "NVIDIA RTX 4070 SUPER specifications (56 SMs, 2475 MHz, 192-bit 21 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4070 SUPER",)),
    Device("rtx-4070-ti", "NVIDIA GeForce RTX 4070 Ti", "NVIDIA", "gpu", 12 * GiB, 504 * GB,
           _tensor_rate(60, 2610, _GEFORCE_16), _tensor_rate(60, 2610, _GEFORCE_16),
           _tensor_rate(60, 2610, _GEFORCE_FP8),
           "NVIDIA RTX 4070 Ti specifications (60 SMs, 2610 MHz, 192-bit 21 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4070 Ti",)),
    Device("rtx-4070-ti-super", "NVIDIA GeForce RTX 4070 Ti SUPER", "NVIDIA", "gpu", 16 * GiB, 672 * GB,
           _tensor_rate(66, 2610, _GEFORCE_16), _tensor_rate(66, 2610, _GEFORCE_16),
           _tensor_rate(66, 2610, _GEFORCE_FP8),
           "NVIDIA RTX 4070 Ti SUPER specifications (66 SMs, 2610 MHz, 256-bit 21 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4070 Ti SUPER",)),
    Device("rtx-4080-super", "NVIDIA GeForce RTX 4080 SUPER", "NVIDIA", "gpu", 16 * GiB, 736 * GB,
           _tensor_rate(80, 2550, _GEFORCE_16), _tensor_rate(80, 2550, _GEFORCE_16),
           _tensor_rate(80, 2550, _GEFORCE_FP8),
           "NVIDIA RTX 4080 SUPER specifications (80 SMs, 2550 MHz, 256-bit 23 Gbps); rate per " + _ADA,
           nvml_names=("NVIDIA GeForce RTX 4080 SUPER",)),
    Device("rtx-5060-ti-16g", "NVIDIA GeForce RTX 5060 Ti 16GB", "NVIDIA", "gpu", 16 * GiB, 448 * GB,
           _tensor_rate(36, 2572, _GEFORCE_16), _tensor_rate(36, 2572, _GEFORCE_16),
           _tensor_rate(36, 2572, _GEFORCE_FP8),
           "NVIDIA RTX 5060 Ti specifications (36 SMs, 2572 MHz, 128-bit 28 Gbps GDDR7); rate per " + _RTX_BW
           + "; driver total: nvidia-smi's '16311MiB' in public outputs (code index file ids 62717027887, "
           "63576539860, 60869868658)",
           reported_bytes=16311 * MiB, nvml_names=("NVIDIA GeForce RTX 5060 Ti",)),
    Device("rtx-5070", "NVIDIA GeForce RTX 5070", "NVIDIA", "gpu", 12 * GiB, 672 * GB,
           _tensor_rate(48, 2512, _GEFORCE_16), _tensor_rate(48, 2512, _GEFORCE_16),
           _tensor_rate(48, 2512, _GEFORCE_FP8),
           "NVIDIA RTX 5070 specifications (48 SMs, 2512 MHz, 192-bit 28 Gbps GDDR7); rate per " + _RTX_BW,
           nvml_names=("NVIDIA GeForce RTX 5070",)),
    Device("rtx-5070-ti", "NVIDIA GeForce RTX 5070 Ti", "NVIDIA", "gpu", 16 * GiB, 896 * GB,
           _tensor_rate(70, 2452, _GEFORCE_16), _tensor_rate(70, 2452, _GEFORCE_16),
           _tensor_rate(70, 2452, _GEFORCE_FP8),
           "NVIDIA RTX 5070 Ti specifications (70 SMs, 2452 MHz, 256-bit 28 Gbps GDDR7); rate per " + _RTX_BW,
           nvml_names=("NVIDIA GeForce RTX 5070 Ti",)),
    Device("gtx-1080-ti", "NVIDIA GeForce GTX 1080 Ti", "NVIDIA", "gpu", 11 * GiB, 484 * GB,
           None, None, None, "NVIDIA GTX 1080 Ti specifications (11 GB GDDR5X, 352-bit 11 Gbps, 484 GB/s)",
           nvml_names=("NVIDIA GeForce GTX 1080 Ti",),
           note="Pascal: no tensor cores and a 1/64-rate FP16"),
    Device("dgx-spark", "NVIDIA DGX Spark (GB10)", "NVIDIA", "unified", 128 * GiB, 273 * GB,
           None, None, None, "NVIDIA DGX Spark product page (128 GB LPDDR5x, 273 GB/s); CUDA total per "
           "vLLM's 'Free memory on device (115.95/121.69 GiB) on startup' on a DGX Spark "
           "(github.com/search?q=%22115.95%2F121.69+GiB%22&type=code; another Spark's log in a public test "
           "fixture says 121.70)",
           nvml_names=("NVIDIA GB10",), note="NVIDIA quotes only FP4 with sparsity (1 PFLOP)",
           cuda_bytes=round(121.69 * GiB)),
    Device("jetson-agx-thor", "NVIDIA Jetson AGX Thor", "NVIDIA", "unified", 128 * GiB, 273 * GB,
           None, None, None, "NVIDIA Jetson AGX Thor developer kit specifications (128 GB LPDDR5X, 273 GB/s)",
           note="NVIDIA quotes only FP4 rates; the OS keeps part of the memory"),
    Device("jetson-agx-orin", "NVIDIA Jetson AGX Orin 64GB", "NVIDIA", "unified", 64 * GiB, 204_800 * 10**6,
           None, None, None, "NVIDIA Jetson AGX Orin 64GB specifications (64 GB LPDDR5, 204.8 GB/s)",
           note="NVIDIA quotes only INT8 sparse TOPS; the OS keeps part of the memory"),
    # --- AMD ------------------------------------------------------------------------------------------
    Device("mi300x", "AMD Instinct MI300X", "AMD", "gpu", 192 * GiB, 5300 * GB,
           1307.4 * TFLOP, 1307.4 * TFLOP, 2614.9 * TFLOP, "AMD Instinct MI300X data sheet (dense); HIP "
           "total per vLLM 0.31.1rc1's 'Free memory on device (191.36/191.69 GiB)' on ROCm (tests/fixtures/"
           "engine_logs/vllm/r21v-gemma4-31b-it-bf16-mi300x-rocm-32k-v0311rc1)",
           cuda_bytes=round(191.69 * GiB)),
    Device("mi325x", "AMD Instinct MI325X", "AMD", "gpu", 256 * GiB, 6000 * GB,
           1307.4 * TFLOP, 1307.4 * TFLOP, 2614.9 * TFLOP, "AMD Instinct MI325X data sheet (dense)"),
    Device("mi355x", "AMD Instinct MI355X", "AMD", "gpu", 288 * GiB, 8000 * GB,
           2516.6 * TFLOP, 2516.6 * TFLOP, 5033.2 * TFLOP, "AMD Instinct MI355X data sheet (dense)"),
    Device("mi350x", "AMD Instinct MI350X", "AMD", "gpu", 288 * GiB, 8000 * GB,
           2306.9 * TFLOP, 2306.9 * TFLOP, 4613.7 * TFLOP, "AMD Instinct MI350X data sheet (dense)"),
    Device("mi300a", "AMD Instinct MI300A", "AMD", "unified", 128 * GiB, 5300 * GB,
           980.6 * TFLOP, 980.6 * TFLOP, 1961.2 * TFLOP, "AMD Instinct MI300A data sheet (dense)",
           note="an APU: the CPU cores share the 128 GB of HBM3"),
    Device("mi250x", "AMD Instinct MI250X", "AMD", "gpu", 128 * GiB, _bus(8192, 3.2),
           383 * TFLOP, 383 * TFLOP, None, "AMD Instinct MI250X specifications (8192-bit HBM2e, 3.2 Gbps)",
           note="two dies: the OS sees two 64 GB GPUs with half the bandwidth each"),
    Device("mi250", "AMD Instinct MI250", "AMD", "gpu", 128 * GiB, _bus(8192, 3.2),
           362.1 * TFLOP, 362.1 * TFLOP, None, "AMD Instinct MI250 specifications (8192-bit HBM2e, 3.2 Gbps)",
           note="two dies: the OS sees two 64 GB GPUs with half the bandwidth each"),
    Device("mi210", "AMD Instinct MI210", "AMD", "gpu", 64 * GiB, _bus(4096, 3.2),
           181 * TFLOP, 181 * TFLOP, None, "AMD Instinct MI210 specifications (4096-bit HBM2e, 3.2 Gbps)"),
    Device("mi100", "AMD Instinct MI100", "AMD", "gpu", 32 * GiB, _bus(4096, 2.4),
           92.3 * TFLOP, 184.6 * TFLOP, None, "AMD Instinct MI100 specifications (4096-bit HBM2, 2.4 Gbps)"),
    Device("mi60", "AMD Radeon Instinct MI60", "AMD", "gpu", 32 * GiB, 1024 * GB,
           None, None, None, "AMD Radeon Instinct MI60 specifications (32 GB HBM2, 1 TB/s)",
           note="Vega 20 (gfx906): no matrix cores (FP16 29.5 TFLOPS on the vector units, not stored)"),
    Device("mi50", "AMD Radeon Instinct MI50 32GB", "AMD", "gpu", 32 * GiB, 1024 * GB,
           None, None, None, "AMD Radeon Instinct MI50 specifications (32 GB HBM2, 1 TB/s)",
           note="Vega 20 (gfx906): no matrix cores (FP16 26.5 TFLOPS on the vector units, not stored); a "
                "16 GB MI50 also exists: name its memory (16GiB) for it"),
    Device("rx-7900-xtx", "AMD Radeon RX 7900 XTX", "AMD", "gpu", 24 * GiB, 960 * GB,
           None, 122.8 * TFLOP, None, "AMD Radeon RX 7900 XTX specifications (peak half precision)",
           note="AMD quotes no BF16 or matrix-unit rate"),
    Device("rx-6900-xt", "AMD Radeon RX 6900 XT", "AMD", "gpu", 16 * GiB, 512 * GB,
           None, 46.08 * TFLOP, None, "AMD Radeon RX 6900 XT specifications (peak half precision 46.08 "
           "TFLOPs; 256-bit 16 Gbps)",
           note="RDNA 2: no matrix units; AMD quotes no BF16 rate"),
    Device("rx-7900-xt", "AMD Radeon RX 7900 XT", "AMD", "gpu", 20 * GiB, 800 * GB,
           None, 103 * TFLOP, None, "AMD Radeon RX 7900 XT specifications (peak half precision)",
           note="AMD quotes no BF16 or matrix-unit rate"),
    Device("radeon-pro-w7900", "AMD Radeon PRO W7900", "AMD", "gpu", 48 * GiB, 864 * GB,
           None, 122.6 * TFLOP, None, "AMD Radeon PRO W7900 specifications (peak half precision)",
           note="AMD quotes no BF16 or matrix-unit rate"),
    Device("radeon-ai-pro-r9700", "AMD Radeon AI PRO R9700", "AMD", "gpu", 32 * GiB, 640 * GB,
           None, None, None, "AMD Radeon AI PRO R9700 specifications (32 GB GDDR6, 256-bit 20 Gbps)",
           note="RDNA 4 (gfx1201); AMD quotes AI TOPS with sparsity only"),
    Device("rx-9070-xt", "AMD Radeon RX 9070 XT", "AMD", "gpu", 16 * GiB, 640 * GB,
           None, None, None, "AMD Radeon RX 9070 XT specifications (16 GB GDDR6, 256-bit 20 Gbps)",
           note="AMD quotes AI TOPS with sparsity only"),
    # --- Intel -----------------------------------------------------------------------------------------
    Device("arc-a770", "Intel Arc A770 16GB", "Intel", "gpu", 16 * GiB, 560 * GB,
           None, None, None, "Intel Arc A770 specifications (16 GB GDDR6, 256-bit 17.5 Gbps)",
           note="Intel quotes INT8 TOPS only"),
    Device("arc-b580", "Intel Arc B580", "Intel", "gpu", 12 * GiB, 456 * GB,
           None, None, None, "Intel Arc B580 specifications (12 GB GDDR6, 192-bit 19 Gbps)",
           note="Intel quotes INT8 TOPS only"),
    Device("ryzen-ai-max-395", "AMD Ryzen AI Max+ 395 (Strix Halo)", "AMD", "unified", 128 * GiB,
           _dram(4, 8000), None, None, None,
           "AMD Ryzen AI Max+ 395 specifications (256-bit LPDDR5X-8000, up to 128 GB)",
           note="256-bit bus = four 64-bit channels; the GPU gets up to 96 GB by default"),
    # --- Apple (largest configuration of each chip) ---------------------------------------------------
    Device("m1", "Apple M1", "Apple", "unified", 16 * GiB, 68_250 * 10**6, None, None, None, _MAC),
    Device("m1-pro", "Apple M1 Pro", "Apple", "unified", 32 * GiB, 200 * GB, None, None, None, _MAC),
    Device("m2", "Apple M2", "Apple", "unified", 24 * GiB, 100 * GB, None, None, None, _MAC),
    Device("m3", "Apple M3", "Apple", "unified", 24 * GiB, 100 * GB, None, None, None, _MAC),
    Device("m1-max", "Apple M1 Max", "Apple", "unified", 64 * GiB, 400 * GB, None, None, None, _MAC),
    Device("m1-ultra", "Apple M1 Ultra", "Apple", "unified", 128 * GiB, 800 * GB, None, None, None, _MAC),
    Device("m2-pro", "Apple M2 Pro", "Apple", "unified", 32 * GiB, 200 * GB, None, None, None, _MAC),
    Device("m2-max", "Apple M2 Max", "Apple", "unified", 96 * GiB, 400 * GB, None, None, None, _MAC),
    Device("m2-ultra", "Apple M2 Ultra", "Apple", "unified", 192 * GiB, 800 * GB, None, None, None, _MAC),
    Device("m3-pro", "Apple M3 Pro", "Apple", "unified", 36 * GiB, 150 * GB, None, None, None, _MAC),
    Device("m3-max", "Apple M3 Max (40-core GPU)", "Apple", "unified", 128 * GiB, 400 * GB,
           None, None, None, _MAC, note="the 30-core-GPU M3 Max has 300 GB/s and at most 96 GB"),
    Device("m3-ultra", "Apple M3 Ultra", "Apple", "unified", 512 * GiB, 819 * GB, None, None, None, _MAC),
    Device("m4", "Apple M4", "Apple", "unified", 32 * GiB, 120 * GB, None, None, None, _MAC),
    Device("m4-pro", "Apple M4 Pro", "Apple", "unified", 64 * GiB, 273 * GB, None, None, None, _MAC),
    Device("m4-max", "Apple M4 Max (16-core CPU)", "Apple", "unified", 128 * GiB, 546 * GB,
           None, None, None, _MAC, note="the 14-core-CPU M4 Max has 410 GB/s and at most 36 GB"),
    Device("m5", "Apple M5", "Apple", "unified", 32 * GiB, 153 * GB, None, None, None, _MAC),
    # --- CPUs: a memory configuration each (bandwidth = channels × 8 bytes × MT/s) -------------------
    Device("ddr4-3200-2ch", "Desktop DDR4-3200, 2 channels (2 × 32 GB)", "JEDEC", "cpu", 64 * GiB,
           _dram(2, 3200), None, None, None, "JEDEC DDR4-3200; two 64-bit channels"),
    Device("ddr5-5600-2ch", "Desktop DDR5-5600, 2 channels (2 × 32 GB)", "JEDEC", "cpu", 64 * GiB,
           _dram(2, 5600), None, None, None, "JEDEC DDR5-5600; two 64-bit channels"),
    Device("ddr5-6400-2ch", "Desktop DDR5-6400, 2 channels (2 × 48 GB)", "JEDEC", "cpu", 96 * GiB,
           _dram(2, 6400), None, None, None, "JEDEC DDR5-6400; two 64-bit channels"),
    Device("threadripper-pro-7000-8ch", "AMD Threadripper PRO 7000, 8 × DDR5-5200 (8 × 32 GB)", "AMD",
           "cpu", 256 * GiB, _dram(8, 5200), None, None, None,
           "AMD Ryzen Threadripper PRO 7000 WX specifications (8 channels DDR5-5200)"),
    Device("epyc-milan-8ch", "AMD EPYC 7003 (Milan), 8 × DDR4-3200 (8 × 64 GB)", "AMD", "cpu", 512 * GiB,
           _dram(8, 3200), None, None, None, "AMD EPYC 7003 specifications (8 channels DDR4-3200)"),
    Device("epyc-genoa-12ch", "AMD EPYC 9004 (Genoa), 12 × DDR5-4800 (12 × 64 GB)", "AMD", "cpu",
           768 * GiB, _dram(12, 4800), None, None, None,
           "AMD EPYC 9004 specifications (12 channels DDR5-4800)"),
    Device("epyc-turin-12ch", "AMD EPYC 9005 (Turin), 12 × DDR5-6000 (12 × 64 GB)", "AMD", "cpu",
           768 * GiB, _dram(12, 6000), None, None, None,
           "AMD EPYC 9005 specifications (12 channels DDR5-6000)"),
    Device("xeon-spr-8ch", "Intel Xeon 4th gen (Sapphire Rapids), 8 × DDR5-4800 (8 × 64 GB)", "Intel",
           "cpu", 512 * GiB, _dram(8, 4800), None, None, None,
           "Intel Xeon Scalable 4th gen specifications (8 channels DDR5-4800)"),
    Device("xeon-gnr-12ch", "Intel Xeon 6900P (Granite Rapids), 12 × DDR5-6400 (12 × 64 GB)", "Intel",
           "cpu", 768 * GiB, _dram(12, 6400), None, None, None,
           "Intel Xeon 6900P specifications (12 channels DDR5-6400 RDIMM)"),
)
# An NVIDIA GPU not marked NVLink above is a PCIe card (H100 / H200 NVL boards bridge pairs only)
DEVICES = tuple(replace(d, nvlink=False) if d.vendor == "NVIDIA" and d.kind == "gpu" and d.nvlink is None
                else d for d in DEVICES)

# The totals CUDA reports (cudaMemGetInfo: what torch, vLLM and SGLang see), read in public logs that name
# the GPU beside the figure (PyTorch's "GPU 0 has a total capacity of X GiB", _CudaDeviceProperties'
# total_memory in MiB, vLLM's "Free memory on device (a/b GiB)"; the code index's file ids), and the
# driver's totals (nvidia-smi) seen beside them, for the cards whose entry above has none. Native Linux
# only: Windows and WSL2 report about nvidia-smi's total (an RTX 4090 23.99 GiB against 23.55); where
# drivers differ (newer ones report up to 190 MiB less) the newer figure; ECC on a workstation card takes
# about 6 % more, not counted. Cards whose figures conflict or were seen only on Windows are left out (the
# RTX 3070, P40, 4070 SUPER, 5070 Ti, H800, A2, 4060 Ti 16GB, 5070)
CUDA_TOTALS: dict[str, tuple[int, str]] = {
    "h100-pcie": (81008 * MiB, "code index file 33356850601 (81008 MiB, as the H100 SXM's many 79.11 GiB)"),
    "h200-nvl": (round(139.80 * GiB), "file 54844431486 ('143771 MiB (139.80 GB via torch) each')"),
    "gh200": (round(94.50 * GiB), "file 53207416324 (cudaMemGetInfo, driver 570.148)"),
    "b200": (182631 * MiB, "files 25224556183, 2097843420"),
    "h20": (97285 * MiB, "file 16046885641; github.com/modelscope/DiffSynth-Studio/issues/1238"),
    "gb200": (round(184.31 * GiB), "files 53295161045, 66768263030"),
    "a100-80g-pcie": (81154 * MiB, "file 22764764738"),
    "a100-40g-pcie": (40445 * MiB, "file 49094811676"),
    "a800-80g": (81222 * MiB, "github.com/Tencent-Hunyuan/HunyuanImage-3.0/issues/39 (79.32 GiB, "
                 "'/ 81222MiB'; 79.33 in hahnyuan/PB-LLM issue 3)"),
    "l20": (round(44.53 * GiB), "file 56252873675; github.com/Tencent-Hunyuan/HunyuanCustom/issues/36"),
    "v100-32g": (32501 * MiB, "files 56482091819, 66447892585"),
    "v100-16g": (16160 * MiB, "files 207808732, 1254196140"),
    "p100": (16269 * MiB, "file 53069264577"),
    "a30": (24164 * MiB, "file 52461638465"),
    "rtx-a6000": (48676 * MiB, "file 35030005167 (ECC off)"),
    "rtx-6000-ada": (48520 * MiB, "file 54150812406"),
    "rtx-a5000": (24138 * MiB, "file 29664974753"),
    "rtx-a4000": (round(15.61 * GiB), "github.com/DengKaiCQ/VGGT-Long/issues/6 (15.74 on older drivers)"),
    "quadro-rtx-8000": (48380 * MiB, "files 60313152358, 3316311062"),
    "rtx-3060-12g": (11931 * MiB, "file 47313141004 (Ubuntu; 11938 MiB in file 34396878803)"),
    "rtx-3080": (10002 * MiB, "file 67342091660"),
    "rtx-4070": (12002 * MiB, "file 31741465764"),
    "rtx-4080": (16049 * MiB, "file 22567041692"),
    "rtx-5080": (15840 * MiB, "file 56229221341"),
    "rtx-5060-ti-16g": (15841 * MiB, "file 9995932201"),
    "rtx-2080-ti": (10825 * MiB, "files 23646681945, 57589923636 (10.75 GiB on older drivers)"),
    "rtx-3060-ti": (7833 * MiB, "file 63137960356"),
    "rtx-3080-ti": (11910 * MiB, "file 53146072221"),
    "rtx-3090-ti": (24114 * MiB, "file 62087262535"),
    "rtx-4060": (7807 * MiB, "file 61661377491"),
    "rtx-4070-ti": (12007 * MiB, "file 32436493432"),
    "rtx-4070-ti-super": (15974 * MiB, "file 62007510912"),
    "rtx-4080-super": (15944 * MiB, "file 56169284282"),
    "gtx-1080-ti": (11172 * MiB, "file 40724275414"),
}
DRIVER_TOTALS: dict[str, int] = {  # nvidia-smi's, read beside them or in other logs of the same card
    "h200-nvl": 143771 * MiB, "gh200": 97871 * MiB, "a100-40g-pcie": 40960 * MiB, "a800-80g": 81920 * MiB,
    "l20": 46068 * MiB, "rtx-3090-ti": 24564 * MiB, "rtx-4070-ti-super": 16376 * MiB,
}
DEVICES = tuple(
    replace(d, cuda_bytes=CUDA_TOTALS[d.key][0], reported_bytes=d.reported_bytes or DRIVER_TOTALS.get(d.key),
            source=f"{d.source}; CUDA total per {CUDA_TOTALS[d.key][1]}")
    if d.key in CUDA_TOTALS and d.cuda_bytes is None else d for d in DEVICES)

# CUDA compute capability (major × 10 + minor) of each NVIDIA device, from NVIDIA's CUDA GPUs table
# (developer.nvidia.com/cuda-gpus): the kernels an engine can run depend on it (vLLM's Machete needs 9.0,
# Marlin 8.0, 7.5 from 0.14; Hopper 90, data-centre Blackwell 100, GeForce / RTX PRO Blackwell 120, GB10
# 121, Jetson Thor 110, Ada 89, Orin 87, GA10x 86, GA100 80, Turing 75, Volta 70, GP100 60, GP10x 61)
CUDA_CAPABILITY: dict[str, int] = {
    **dict.fromkeys(("h100-sxm", "h100-pcie", "h100-nvl", "h200", "h200-nvl", "gh200", "gh200-144g", "h800",
                     "h800-pcie", "h20"), 90),
    **dict.fromkeys(("b200", "gb200"), 100),
    **dict.fromkeys(("rtx-pro-6000", "rtx-5060-ti-16g", "rtx-5070", "rtx-5070-ti", "rtx-5080", "rtx-5090"),
                    120),
    "dgx-spark": 121, "jetson-agx-orin": 87,
    "jetson-agx-thor": 110,  # 11.0 under CUDA 13; CUDA 12.x called it 10.1
    **dict.fromkeys(("l40s", "l40", "l4", "l20", "rtx-6000-ada", "rtx-4060", "rtx-4060-laptop",
                     "rtx-4060-ti-8g", "rtx-4060-ti-16g", "rtx-4070", "rtx-4070-super", "rtx-4070-ti",
                     "rtx-4070-ti-super", "rtx-4080", "rtx-4080-super", "rtx-4090", "rtx-4090-d"), 89),
    **dict.fromkeys(("a100-80g", "a100-80g-pcie", "a100-40g", "a100-40g-pcie", "a800-80g", "a800-80g-pcie",
                     "a30"), 80),
    **dict.fromkeys(("a10", "a10g", "a40", "a2", "rtx-a6000", "rtx-a5000", "rtx-a4000", "rtx-3060-12g",
                     "rtx-3060-ti", "rtx-3070", "rtx-3080", "rtx-3080-ti", "rtx-3090", "rtx-3090-ti"), 86),
    **dict.fromkeys(("t4", "quadro-rtx-8000", "rtx-2080", "rtx-2080-ti"), 75),
    **dict.fromkeys(("v100-32g", "v100-16g", "v100-32g-pcie", "v100-16g-pcie", "v100s"), 70),
    "p100": 60, "p40": 61, "gtx-1080-ti": 61,
}


def cuda_capability(device: Device | None) -> int | None:
    """The device's CUDA compute capability (CUDA_CAPABILITY), None for other vendors and unknown GPUs."""
    return CUDA_CAPABILITY.get(device.key) if device is not None and device.vendor == "NVIDIA" else None


# Other spellings people type, each pointing at one key.
ALIASES: dict[str, str] = {
    "h100": "h100-sxm", "h100-sxm5": "h100-sxm", "h100-80g": "h100-sxm",
    "h200-sxm": "h200", "gh200-96g": "gh200", "b200-sxm": "b200",
    "a100": "a100-80g", "a100-sxm": "a100-80g", "a100-80g-sxm": "a100-80g", "a100-40g-sxm": "a100-40g",
    "a6000": "rtx-a6000", "6000-ada": "rtx-6000-ada", "rtx6000-ada": "rtx-6000-ada",
    "3060": "rtx-3060-12g", "rtx-3060": "rtx-3060-12g", "3080": "rtx-3080", "3090": "rtx-3090",
    "4060-ti-16g": "rtx-4060-ti-16g", "4070": "rtx-4070", "4080": "rtx-4080", "4090": "rtx-4090",
    "4090d": "rtx-4090-d", "4090-d": "rtx-4090-d", "rtx-4090d": "rtx-4090-d",
    "5080": "rtx-5080", "5090": "rtx-5090",
    "spark": "dgx-spark", "gb10": "dgx-spark",
    "h800-sxm": "h800", "a800": "a800-80g", "a800-sxm": "a800-80g", "h20-96g": "h20",
    "rtx-pro-6000-blackwell": "rtx-pro-6000", "pro-6000": "rtx-pro-6000", "a5000": "rtx-a5000",
    "a4000": "rtx-a4000", "rtx-8000": "quadro-rtx-8000", "v100s-pcie": "v100s",
    "2080-ti": "rtx-2080-ti", "3060-ti": "rtx-3060-ti", "3070": "rtx-3070", "3080-ti": "rtx-3080-ti",
    "3090-ti": "rtx-3090-ti", "4060": "rtx-4060", "4060-ti-8g": "rtx-4060-ti-8g",
    "4070-super": "rtx-4070-super", "4070-ti": "rtx-4070-ti", "4070-ti-super": "rtx-4070-ti-super",
    "4080-super": "rtx-4080-super", "5060-ti": "rtx-5060-ti-16g", "rtx-5060-ti": "rtx-5060-ti-16g",
    "5070": "rtx-5070", "5070-ti": "rtx-5070-ti", "1080-ti": "gtx-1080-ti",
    "thor": "jetson-agx-thor", "agx-thor": "jetson-agx-thor", "orin": "jetson-agx-orin",
    "agx-orin": "jetson-agx-orin", "mi50-32g": "mi50", "w7900": "radeon-pro-w7900",
    "pro-w7900": "radeon-pro-w7900", "7900-xt": "rx-7900-xt", "9070-xt": "rx-9070-xt", "a770": "arc-a770",
    "b580": "arc-b580", "r9700": "radeon-ai-pro-r9700", "ai-pro-r9700": "radeon-ai-pro-r9700",
    "mi300": "mi300x", "7900-xtx": "rx-7900-xtx", "7900xtx": "rx-7900-xtx",
    "strix-halo": "ryzen-ai-max-395", "ai-max-395": "ryzen-ai-max-395",
    "ddr4-dual-channel": "ddr4-3200-2ch", "ddr5-dual-channel": "ddr5-5600-2ch",
    "epyc-genoa": "epyc-genoa-12ch", "epyc-turin": "epyc-turin-12ch", "epyc-milan": "epyc-milan-8ch",
    "sapphire-rapids": "xeon-spr-8ch", "granite-rapids": "xeon-gnr-12ch",
}

BY_KEY: dict[str, Device] = {d.key: d for d in DEVICES}


def _norm(text: str) -> str:
    """'NVIDIA RTX 4090' → 'nvidia-rtx-4090': lower case, runs of spaces and underscores to one dash."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


# Words a GPU's full name carries that no key spells ('AMD Instinct MI300X' is mi300x, 'NVIDIA GeForce
# RTX 4090' rtx-4090, 'Intel(R) Arc(TM) A770 Graphics' arc-a770), and the '80GB' of a name that keys
# spell '80g'
_VENDOR_WORDS = re.compile(r"\b(nvidia|geforce|tesla|amd|radeon|instinct|apple|intel|graphics)\b|\((r|tm)\)")
_GB_SUFFIX = re.compile(r"(\d)gb\b")


def _plain(name: str) -> str:
    """A name without vendor words: 'AMD Radeon Instinct MI50 32GB' → 'mi50-32g'."""
    text = _GB_SUFFIX.sub(r"\1g", _VENDOR_WORDS.sub(" ", name.lower()))
    return re.sub(r"-{2,}", "-", _norm(re.sub(r"[^\w.]+", " ", text))).strip("-")


def _spellings(name: str) -> tuple[str, ...]:
    return name, name.replace("-", "")


def _forms(name: str) -> Iterator[str]:
    """The spellings a name given to find_device is looked up under, most literal first."""
    for spelled in (_norm(name), _plain(name)):
        yield from _spellings(spelled)


def _build_index() -> tuple[dict[str, Device], dict[str, tuple[Device, ...]]]:
    """Every spelling find_device accepts (keys, aliases, display and NVML names, each also without dashes
    and without vendor words), and the spellings several rows share: cards sold under one name in two
    memory sizes (RTX 4060 Ti 8 GB and 16 GB), which only the memory tells apart."""
    names: list[tuple[str, Device]] = [(d.key, d) for d in DEVICES]
    names += [(alias, BY_KEY[key]) for alias, key in ALIASES.items()]
    full = [(n, d) for d in DEVICES for n in (d.name, *d.nvml_names)]
    names += [(_norm(n), d) for n, d in full] + [(_plain(n), d) for n, d in full]
    owners: dict[str, list[Device]] = {}
    for name, device in names:
        for spelling in _spellings(name):
            found = owners.setdefault(spelling, [])
            if device not in found:
                found.append(device)
    # a key or alias always wins; a full name shared by rows names none of them
    exact = {s for name, _ in names[: len(DEVICES) + len(ALIASES)] for s in _spellings(name)}
    index = {s: found[0] for s, found in owners.items() if len(found) == 1 or s in exact}
    shared = {s: tuple(found) for s, found in owners.items() if len(found) > 1 and s not in exact}
    return index, shared


_INDEX, _SHARED = _build_index()


def _lookup(name: str) -> Device | None:
    return next((_INDEX[form] for form in _forms(name) if form in _INDEX), None)


def find_device(name: str) -> Device:
    """The catalogue row for a key, alias, display or NVML name, in any case ('H100', 'rtx4090', 'RTX 4090',
    'AMD Instinct MI300X')."""
    device = _lookup(name)
    if device is not None:
        return device
    shared = next((_SHARED[form] for form in _forms(name) if form in _SHARED), None)
    if shared is not None:
        keys = " or ".join(repr(d.key) for d in shared)
        raise UnsupportedError(f"ambiguous device {name!r}: {keys} (the name is sold in several memory "
                               "sizes; name the row)")
    import difflib  # only on the error path: keeps startup lean

    close = difflib.get_close_matches(_norm(name), [*BY_KEY, *ALIASES], n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else " (see `paramscope gpus`)"
    raise UnsupportedError(f"unknown device {name!r}{hint}")


_UNITS = {"k": 1, "m": 2, "g": 3, "t": 4}
# as text, compiled by re (and cached there) when a device spec is first parsed
_MEMORY = r"^(\d+(?:\.\d+)?)\s*([kmgt])(i?)b$"
_COUNT_FIRST = r"^(\d+)\s*[x×*]\s*(.+)$"
_COUNT_LAST = r"^(.+?)\s*([x×*])\s*(\d+)$"


def custom_device(memory: str) -> Device | None:
    """An unnamed device from a memory size, or None: '24GB' = 24 × 10^9 bytes, '24GiB' = 24 × 2^30.

    Units mean what they say; a card sold as "24 GB" holds 24 GiB (module docstring), so '24GiB'
    describes it. Bandwidth and FLOP/s are unknown.
    """
    match = re.match(_MEMORY, memory.strip().lower())
    if match is None:
        return None
    value, prefix, binary = match.groups()
    size = round(float(value) * (1024 if binary else 1000) ** _UNITS[prefix])
    if size <= 0:
        return None
    label = f"{value} {prefix.upper()}{'iB' if binary else 'B'}"
    return Device(label.replace(" ", "").lower(), f"custom {label}", "", "gpu", size, None,
                  None, None, None, "given on the command line")


def _device(name: str) -> Device:
    custom = custom_device(name)
    return custom if custom is not None else find_device(name)


def parse_gpu_spec(spec: str) -> tuple[Device, int]:
    """'h100x8', '8xH100', '8×h100', 'mi300x8', '4090', '24GiB', '2x24GB' → (device, count)."""
    text = spec.strip().lower()
    if not text:
        raise UnsupportedError("empty GPU spec: expected NAME, NAMExN, NxNAME or a memory size such as 24GiB")
    whole = custom_device(text) or _lookup(text)
    if whole is not None:
        return whole, 1
    readings: list[tuple[str, str]] = []  # (name, count), most likely first
    if match := re.match(_COUNT_FIRST, text):
        readings.append((match.group(2), match.group(1)))
    if match := re.match(_COUNT_LAST, text):
        name, separator, count = match.groups()
        readings.append((name, count))
        if separator == "x":  # 'mi300x8': the x may end the name
            readings.append((name + "x", count))
    first_error: UnsupportedError | None = None
    for name, count in readings:
        try:
            device = _device(name)
        except UnsupportedError as error:
            first_error = first_error or error
            continue
        if int(count) < 1:
            raise UnsupportedError(f"invalid GPU spec {spec!r}: the count must be at least 1 (found {count})")
        return device, int(count)
    if first_error is not None:
        raise UnsupportedError(f"invalid GPU spec {spec!r}: {first_error}")
    return find_device(spec), 1  # raises: unknown device, with suggestions


def match_nvml_name(name: str, total_bytes: int | None = None) -> Device | None:
    """The catalogue row for a GPU as NVML reports it, or None.

    The name must be one the row lists (with or without the 'NVIDIA ' prefix older drivers leave off),
    and where the total memory is known it must lie within 10 % of the row's: variants that share a
    name (RTX 4060 Ti 8 GB and 16 GB, RTX 3060 8 GB and 12 GB) are told apart by their memory.
    """
    wanted = _strip_vendor(name)
    candidates = [d for d in DEVICES if any(_strip_vendor(n) == wanted for n in d.nvml_names)]
    if total_bytes is None:
        return candidates[0] if len(candidates) == 1 else None
    fitting = [d for d in candidates if abs(total_bytes - d.usable_bytes) <= 0.1 * d.usable_bytes]
    return min(fitting, key=lambda d: abs(total_bytes - d.usable_bytes), default=None)


def _strip_vendor(name: str) -> str:
    lowered = " ".join(name.split()).lower()
    return lowered.removeprefix("nvidia ")
