"""This machine: RAM, CPU, and (when asked) NVIDIA GPUs with their catalogue rows.

Cheap by design: ``detect()`` reads RAM and CPU facts only; GPUs are probed through NVML
(``nvidia-ml-py``, imported as ``pynvml``) only with ``detect(gpus=True)``; ``ram()`` alone is what
`fit` asks. Every probe degrades to "unknown" instead of raising: RAM comes from /proc/meminfo (Linux:
the file psutil reads there, without psutil's ~15 ms import), else psutil (other systems), else
``os.sysconf``; no nvidia-ml-py, no driver or an NVML error means no GPUs, with the reason in ``gpu_note``.
docs/hardware.md describes the order of the probes.
"""

from __future__ import annotations

import contextlib
import os

from paramscope.knowledge.hardware import Device, match_nvml_name
from paramscope.records import record

# plain paths read with open(): `fit` reads them at start-up, and pathlib would import urllib.parse and
# ipaddress (~4 ms) for two reads
MEMINFO = "/proc/meminfo"
CPUINFO = "/proc/cpuinfo"


@record
class GpuInfo:
    """A GPU NVML reports, matched to a catalogue device where one fits."""

    index: int
    name: str  # as NVML reports it: "NVIDIA H100 80GB HBM3"
    total_bytes: int | None  # NVML's total (nvidia-smi memory.total); None where NVML has none (GB10)
    device: Device | None  # the catalogue row, when the name and memory match one


@record
class SystemInfo:
    """This machine: its RAM (and where that figure came from), CPUs and GPUs."""

    total_ram_bytes: int | None
    available_ram_bytes: int | None
    ram_source: str  # "psutil", "/proc/meminfo", "sysconf" or "unknown"
    cpu_count: int | None  # logical CPUs
    cpu_model: str | None
    gpus: tuple[GpuInfo, ...] = ()
    gpus_probed: bool = False  # False: detect() was not asked to look
    gpu_note: str | None = None  # why no GPU was found, when probing failed

    @property
    def gpu_memory_bytes(self) -> int:
        """Total memory of the GPUs found (0 when none)."""
        return sum(g.total_bytes or 0 for g in self.gpus)


def detect(gpus: bool = False) -> SystemInfo:
    """Describe this machine. Never raises; unknown facts are None."""
    total, available, source = ram()
    found: tuple[GpuInfo, ...] = ()
    note = None
    if gpus:
        found, note = nvidia_gpus()
    return SystemInfo(total_ram_bytes=total, available_ram_bytes=available, ram_source=source,
                      cpu_count=os.cpu_count(), cpu_model=_cpu_model(), gpus=found, gpus_probed=gpus,
                      gpu_note=note)


def ram() -> tuple[int | None, int | None, str]:
    """(total, available, source) of this machine's RAM; never raises."""
    try:
        total, available = parse_meminfo(_read(MEMINFO))
    except (OSError, ValueError):
        pass
    else:
        if total is not None and available is not None:  # Linux ≥ 3.14 (what psutil reads there)
            return total, available, "/proc/meminfo"
    try:
        import psutil
    except ImportError:
        pass
    else:
        memory = psutil.virtual_memory()
        return int(memory.total), int(memory.available), "psutil"
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None, None, "unknown"
    try:
        available = page * os.sysconf("SC_AVPHYS_PAGES")  # free pages only: a lower bound
    except (OSError, ValueError):
        available = None
    return total, available, "sysconf"


def _read(path: str | os.PathLike[str]) -> str:
    with open(path) as f:
        return f.read()


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo, whose figures are in KiB ('kB')."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[key.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return fields.get("MemTotal"), fields.get("MemAvailable")


def _cpu_model() -> str | None:
    try:
        model = parse_cpuinfo(_read(CPUINFO))
    except (OSError, UnicodeDecodeError):
        model = None
    if model:
        return model
    import platform  # only where /proc/cpuinfo says nothing: its import compiles a dozen patterns

    return platform.processor() or None


def parse_cpuinfo(text: str) -> str | None:
    """The first 'model name' of /proc/cpuinfo (x86), else its 'Hardware' or 'Model' line (Arm)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Hardware", "Model") and value:
            found.setdefault(key, value)
    return found.get("model name") or found.get("Hardware") or found.get("Model")


def nvidia_gpus() -> tuple[tuple[GpuInfo, ...], str | None]:
    """NVIDIA GPUs through NVML, each matched to its catalogue row; ((), reason) when NVML is absent."""
    try:
        import pynvml
    except ImportError:
        return (), "nvidia-ml-py is not installed: pip install 'paramscope[hardware]'"
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, _DriverNotLoaded, …: no usable GPU
        return (), f"NVML could not start: {error}"
    try:
        found = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)  # bytes before nvidia-ml-py 11.5
            try:
                total: int | None = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)
            except Exception:  # "Not Supported" on unified-memory parts such as GB10
                total = None
            found.append(GpuInfo(index, name, total, match_nvml_name(name, total)))
        return tuple(found), None
    except Exception as error:
        return (), f"NVML failed: {error}"
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
