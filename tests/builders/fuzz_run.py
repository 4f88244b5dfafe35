"""Run one paramscope command on one hostile input in a forked child, and judge what came out.

The child is a fork of the test process (paramscope already imported: milliseconds, not an interpreter
start), with its address space capped (``RLIMIT_AS``: an allocation a header claims before checking it
against the file size fails there as MemoryError, exit 70, instead of taking the machine) and a
generous deadline that only tells a hang from a slow run (the input that hung is named; nothing is timed
against a figure). The contract judged (docs/cli.md, "Exit codes" and "Errors"): status 0, or a
documented non-zero status with exactly one ``Error: …`` line on stderr naming the file; never a
traceback, never 70 (a bug), and with ``--json`` a JSON object on stdout either way.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import signal
import time
from dataclasses import dataclass

HEADROOM = 1 << 30  # address space the child may add to what the test process already maps
DEADLINE_S = 120.0  # far above any run on a loaded 2-core machine: only a hang gets here
DOCUMENTED = {0, 1, 2}  # errors.EXIT_CODES less 70 (a bug) and 130 (Ctrl-C)


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int | None  # None: killed (hang, or a signal)
    out: str
    err: str
    note: str = ""  # "hang after N s", "signal N"


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def run(argv: list[str], deadline_s: float = DEADLINE_S, headroom: int = HEADROOM,
        columns: int = 80) -> Outcome:
    """``paramscope *argv`` through ``cli.app.main`` in a forked, memory-capped child."""
    from paramscope.cli.app import main

    _warm()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 99
        try:
            os.close(read_fd)
            limit = _vm_size() + headroom
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            os.environ["COLUMNS"] = str(columns)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(list(argv))
                    code = 0
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else 1
                except BaseException as e:
                    err.write(f"ESCAPED {type(e).__name__}: {e}\n")
                    code = 98
            payload = json.dumps({"code": code, "out": out.getvalue()[-200_000:],
                                  "err": err.getvalue()[-20_000:]}).encode()
            with os.fdopen(write_fd, "wb") as w:
                w.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    start = time.monotonic()
    note = ""
    with os.fdopen(read_fd, "rb") as r:
        while True:
            left = deadline_s - (time.monotonic() - start)
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                note = f"hang: no answer after {deadline_s:.0f} s"
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if note:
        return Outcome(tuple(argv), None, "", "", note)
    if os.WIFSIGNALED(status) or not chunks:
        return Outcome(tuple(argv), None, "", "", f"killed: status {status}")
    answer = json.loads(b"".join(chunks))
    return Outcome(tuple(argv), answer["code"], answer["out"], answer["err"])


_WARM: list[str] = []
SKIP_WARM = ("paramscope.web", "paramscope.app.zoo", "paramscope.cli.serve", "paramscope.cli.zoo")


def _warm() -> None:
    """Import what the commands import, once, in this process: each child then starts with it loaded
    (a fork shares it) instead of importing it again, which took most of a child's time."""
    if _WARM:
        return
    import importlib
    import pkgutil

    import paramscope

    for mod in pkgutil.walk_packages(paramscope.__path__, "paramscope."):
        if mod.name.endswith("__main__") or mod.name.startswith(SKIP_WARM):
            continue
        try:
            importlib.import_module(mod.name)
            _WARM.append(mod.name)
        except ImportError:
            pass


def problems(o: Outcome, names: tuple[str, ...] = (), json_errors: bool = True) -> list[str]:
    """What this outcome breaks of the contract ([] when nothing). ``names``: the input file's name (or
    names); an error line must mention one of them (a path, a basename, or a folder)."""
    found = []
    if o.code is None:
        return [o.note]
    if o.code not in DOCUMENTED:
        found.append(f"exit status {o.code}")
    if o.code == 0 and "Warning" in o.err:
        found.append("a warning on stderr")
    if "Traceback" in o.err or "Traceback" in o.out:
        found.append("traceback")
    lines = o.err.splitlines()
    # scan reports files it cannot verify or open in its own table (or JSON) and exits 1 or 2 with
    # nothing on stderr (docs/pytorch-onnx.md); its errors of usage still take the one line
    verdict = o.argv[0] == "scan" and not lines and o.code in (1, 2)
    if o.code == 1 and not verdict:
        if len(lines) != 1 or not lines[0].startswith("Error: "):
            found.append(f"{len(lines)} stderr lines, not one 'Error: ' line")
        elif names and not any(n in lines[0] for n in names):
            found.append("the error line names no input file")
    if json_errors and "--json" in o.argv and o.code in (0, 1, 2):
        try:
            data = json.loads(o.out)
        except ValueError:
            found.append("--json printed no JSON on stdout")
        else:
            is_error = isinstance(data, dict) and isinstance(data.get("error"), str)
            if o.code == 1 and not verdict and not is_error:
                found.append("--json error is not {'error': ...}")
    return found
