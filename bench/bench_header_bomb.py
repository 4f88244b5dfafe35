"""Header bombs: files whose small headers declare a million tensors (issue 10).

    python bench/bench_header_bomb.py [--at-limit]

Builds, as sparse files (the data never touches the disk):
- a safetensors file whose 94 MB JSON header declares 1,300,000 one-element F32 tensors;
- a GGUF file whose 56 MB header declares 1,000,000 tensors;
then runs ``paramscope inspect`` on each in a fresh process and measures the whole process: wall time
and peak RSS (``wait4``'s ``ru_maxrss``). Both must be refused with one ``Error:`` line (exit 1) within
the floors: at most 5 s and 500 MB each (before the limits of formats/limits.py: 64 s and 1.36 GB,
40 s). ``--at-limit`` also times files of exactly ``MAX_TENSORS`` tensors, which are read (reported,
no floor). Exits 1 when a floor or the refusal fails.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, report

MAX_SECONDS = 5.0
MAX_RSS_BYTES = 500 * 2**20


def safetensors_bomb(path: Path, n: int) -> int:
    """n one-element F32 tensors named l.{i}.w; returns the header length. Written in pieces, so that
    this process stays small (a child forked from it starts with its resident size)."""
    with open(path, "wb") as f:
        f.write(bytes(8))
        length = 0
        for start in range(0, n, 10_000):
            piece = ",".join(f'"l.{i}.w":{{"dtype":"F32","shape":[1],"data_offsets":[{4 * i},{4 * i + 4}]}}'
                             for i in range(start, min(n, start + 10_000)))
            raw = ("{" if start == 0 else ",").encode() + piece.encode()
            f.write(raw)
            length += len(raw)
        tail = b"}" + b" " * (-(length + 1) % 8)
        f.write(tail)
        length += len(tail)
        f.truncate(8 + length + 4 * n)
        f.seek(0)
        f.write(struct.pack("<Q", length))
    return length


def gguf_bomb(path: Path, n: int) -> int:
    """n F32 tensors of 32 elements, one per layer; returns the header length."""
    key, value = b"general.architecture", b"llama"
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, n, 1))
        f.write(struct.pack("<Q", len(key)) + key + struct.pack("<I", 8))
        f.write(struct.pack("<Q", len(value)) + value)
        for start in range(0, n, 10_000):
            piece = bytearray()
            for i in range(start, min(n, start + 10_000)):
                name = f"blk.{i}.attn_q.weight".encode()
                piece += struct.pack("<Q", len(name)) + name + struct.pack("<IQIQ", 1, 32, 0, 128 * i)
            f.write(piece)
        f.write(bytes(-f.tell() % 32))
        length = f.tell()
        f.truncate(length + 128 * n)
    return length


def measure(path: Path) -> tuple[float, int, int, str]:
    """(seconds, peak RSS bytes, exit code, stderr) of `paramscope inspect PATH` in a new process."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "paramscope"), "inspect", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss * 1024, proc.returncode, err


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--at-limit", action="store_true", help="also time files of exactly MAX_TENSORS")
    args = parser.parse_args()
    from paramscope.formats.limits import MAX_TENSORS

    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("safetensors", 1_300_000, safetensors_bomb), ("gguf", 1_000_000, gguf_bomb)]
        for kind, n, build in cases:
            path = Path(tmp) / f"bomb.{kind}"
            header = build(path, n)
            seconds, rss, code, err = measure(path)
            lines = err.strip().splitlines()
            refused = code == 1 and len(lines) == 1 and lines[0].startswith("Error: ")
            ok = refused and seconds <= MAX_SECONDS and rss <= MAX_RSS_BYTES
            failed |= not ok
            print(f"{kind} bomb: {n:,} tensors in a {header / 1e6:.0f} MB header "
                  f"({'ok' if ok else 'FAILED'})")
            report([("wall time", f"{seconds:.2f} s (floor {MAX_SECONDS:.0f} s)"),
                    ("peak RSS", f"{rss / 2**20:.0f} MiB (floor {MAX_RSS_BYTES >> 20} MiB)"),
                    ("exit", f"{code}: {lines[0] if lines else ''}")])
            path.unlink()
        if args.at_limit:
            for kind, build in (("safetensors", safetensors_bomb), ("gguf", gguf_bomb)):
                path = Path(tmp) / f"limit.{kind}"
                header = build(path, MAX_TENSORS)
                seconds, rss, code, err = measure(path)
                print(f"{kind} at the limit: {MAX_TENSORS:,} tensors in a {header / 1e6:.0f} MB header "
                      "(read)")
                report([("wall time", f"{seconds:.2f} s"), ("peak RSS", f"{rss / 2**20:.0f} MiB"),
                        ("exit", str(code) + (f": {err.strip()}" if err.strip() else ""))])
                path.unlink()
    print(json.dumps({"ok": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
