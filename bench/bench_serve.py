"""Cheap requests to `paramscope serve` while 40 clients hammer it with `stats` of a real model.

    python bench/bench_serve.py [--clients 40] [--seconds 20] [--samples 40] [--slowloris 100]
                                [--source PATH] [--src DIR]

Starts the real server (``python -m paramscope serve ROOT --no-default-roots``) on a free port, then in
the same run:

1. unloaded: ``--samples`` sequential GETs of ``/api/roots`` (answered by the event loop) and of
   ``/api/inspect`` of the model (a header read, in the quick lane's worker);
2. loaded: ``--clients`` hostile clients in another process, each on its own keep-alive connection
   from its own loopback address (so the per-client limit does not stop them: the queue must), send
   ``/api/stats`` of the model (every weight read: seconds of CPU) again and again, the moment the
   previous answer arrives, ignoring Retry-After, while ``--slowloris`` connections send request
   headers a byte a second; after a few seconds of that, the same samples again.

Prints median and 90th percentile latency of each cheap request, unloaded and loaded, their ratio,
what the hammering clients got (200 / 429 / 503 / 504 counts) and how the slow connections ended.
The model is gemma-3-270m Q4_K_M (253 MB GGUF, tools/fetch_models.py) unless ``--source``. Exits 1
when the loaded median of ``/api/roots`` is over ``MAX_RATIO`` times its unloaded median (a ratio, so
that load from other processes on the machine hits both).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_RATIO = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status, time.perf_counter() - t0


def sample(port: int, path: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    out = []
    for _ in range(n):
        status, seconds = get(conn, path)
        assert status == 200, (path, status)
        out.append(seconds)
    conn.close()
    return out


def hammer(port: int, path: str, clients: int, seconds: float) -> None:
    """The hostile side (its own process): print the status counts as JSON at the end."""
    stop = time.monotonic() + seconds
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def client(i: int) -> None:
        # each client from its own loopback address (127.0.0.2, .3 …): 40 machines, not one
        def connect() -> http.client.HTTPConnection:
            return http.client.HTTPConnection("127.0.0.1", port, timeout=600,
                                              source_address=(f"127.0.0.{2 + i}", 0))
        conn = connect()
        while time.monotonic() < stop:
            try:
                status, _ = get(conn, path)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = connect()
                status = -1
            with lock:
                counts[status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts))


def slowloris(port: int, n: int) -> Future[Counter[str]]:
    """``n`` connections that each send a request's headers one byte a second, never finishing them;
    resolves to how each ended (the server's status line, or how it was cut)."""
    def one(i: int) -> str:
        request = b"GET /api/roots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
                for byte in request:
                    s.sendall(bytes([byte]))
                    readable, _, _ = select.select([s], [], [], 1.0)
                    if readable:
                        answer = s.recv(65536)
                        return answer.split(b"\r\n", 1)[0].decode() or "closed"
        except OSError as e:
            return type(e).__name__
        return "never cut off"

    pool = ThreadPoolExecutor(max(1, n))

    def all_of() -> Counter[str]:
        return Counter(pool.map(one, range(n)))
    return ThreadPoolExecutor(1).submit(all_of) if n else _done(Counter())


def _done(value: Counter[str]) -> Future[Counter[str]]:
    f: Future[Counter[str]] = Future()
    f.set_result(value)
    return f


def summary(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=40)
    p.add_argument("--seconds", type=float, default=20.0, help="how long the hammering lasts")
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--slowloris", type=int, default=100,
                   help="connections that send their headers a byte a second meanwhile (0: none)")
    p.add_argument("--source", type=Path, help="model file (default: gemma-3-270m GGUF)")
    p.add_argument("--src", type=Path, default=ROOT / "src",
                   help="the paramscope source tree to serve from (another checkout: before / after)")
    p.add_argument("--hammer", nargs=3, metavar=("PORT", "PATH", "SECONDS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.hammer:
        hammer(int(args.hammer[0]), args.hammer[1], args.clients, float(args.hammer[2]))
        return 0

    if args.source is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from _common import fetch_models

        args.source = fetch_models.gemma_gguf()
    source = args.source.resolve()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    server = subprocess.Popen([sys.executable, "-m", "paramscope", "serve", str(source.parent),
                               "--no-default-roots", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                sample(port, "/api/roots", 1)
                break
            except OSError:
                time.sleep(0.1)
        q = urllib.parse.quote(str(source))
        cheap = {"/api/roots": "/api/roots", "/api/inspect": f"/api/inspect?source={q}"}
        for path in cheap.values():  # warm: the worker imports the readers once
            sample(port, path, 3)
        base = {name: sample(port, path, args.samples) for name, path in cheap.items()}

        hammering = subprocess.Popen([sys.executable, __file__, "--clients", str(args.clients), "--hammer",
                                      str(port), f"/api/stats?source={q}", str(args.seconds)],
                                     stdout=subprocess.PIPE, text=True)
        slow = slowloris(port, args.slowloris)
        time.sleep(min(5.0, args.seconds / 4))  # let the load build
        loaded = {name: sample(port, path, args.samples) for name, path in cheap.items()}
        out, _ = hammering.communicate(timeout=args.seconds + 900)
        counts = json.loads(out)
        cut = slow.result()
    finally:
        server.terminate()
        server.wait(30)

    print(f"paramscope serve: {args.clients} clients hammering /api/stats of {source.name} "
          f"({source.stat().st_size / 1e6:.0f} MB) for {args.seconds:g} s; {args.samples} samples each")
    print(f"  {'request':<14} {'unloaded median / p90':>24} {'loaded median / p90':>24} {'ratio':>7}")
    ratios = {}
    for name in cheap:
        (b50, b90), (l50, l90) = summary(base[name]), summary(loaded[name])
        ratios[name] = l50 / b50
        print(f"  {name:<14} {b50 * 1e3:>10.1f} ms / {b90 * 1e3:>6.1f} ms {l50 * 1e3:>10.1f} ms / "
              f"{l90 * 1e3:>6.1f} ms {ratios[name]:>6.1f}×")
    print("  stats answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if args.slowloris:
        print(f"  slowloris: {args.slowloris} connections sending a header byte a second at the same time; "
              + ", ".join(f"{k}: {v}" for k, v in sorted(cut.items())))
    if ratios["/api/roots"] > MAX_RATIO:
        print(f"FAIL: /api/roots median {ratios['/api/roots']:.1f}× unloaded (limit {MAX_RATIO:g}×)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
