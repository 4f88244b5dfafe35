"""The worker processes behind `serve`: heavy work never runs in the process that answers HTTP.

Opening a model, reading every weight (``stats``, ``diff``), tokenizing a long text: all of it runs in
worker processes, so the event loop that answers ``/api/roots`` or serves the page never waits behind
it, holds no GIL for it, and a request that runs too long can be stopped (its worker is killed and
replaced; a thread could not be). Two lanes, each its own workers and queue, so a header read never
queues behind a full read of the weights:

- ``quick``: header reads (inspect, size, fit, short tokens, the model list);
- ``bulk``: reads of the values (stats, diff, long tokens).

Each lane is bounded: ``workers`` jobs run, at most ``queue`` wait (more: 503 with Retry-After), one
client (IP address) holds at most ``per_client`` running-or-waiting jobs (more: 429), and a job still
unanswered ``deadline`` seconds after it arrived is answered 504 (its worker is killed). Bulk workers
run at a lower CPU priority (``nice``) than the server and the quick lane, and each worker's heap is
capped (``memory``: 507 past it).

A route offloads with ``await jobs.offload(request, "bulk", function, *args)``: ``function`` is a
module-level function (it is sent by name) returning a JSON-able value; the answer is its JSON, or
``{"error": ...}`` with the status the exception maps to (``Refused``: its own, ``ParamscopeError``:
400), exactly as if the route had run it.

Workers start from a fork server (spawn where there is none), which imports the main module of the
program again: a script that builds the app itself must keep its start-up under
``if __name__ == "__main__":``, as multiprocessing requires of every program that uses it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paramscope.records import record, replace
from paramscope.web.security import Refused

# Imported once by the fork server, so that a new worker (at start, or replacing one stopped past its
# deadline) answers its first request without a second of imports. None reads the environment at
# import: each worker takes the server's own when it starts (_worker_main).
PRELOAD = ["paramscope.web.jobs", "paramscope.web.work", "paramscope.app.common", "paramscope.app.inspect",
           "paramscope.app.size", "paramscope.app.fit", "paramscope.app.tokens", "paramscope.app.stats",
           "paramscope.app.diff", "paramscope.formats.discover"]
MAX_RESPONSE_BYTES = 8 << 20  # an answer a browser page can take; tokens of 1 MB of text is ~26 MB


@record
class LaneConfig:
    """How much one lane takes on; ``deadline`` counts from arrival (waiting in the queue included)."""

    workers: int
    queue: int
    per_client: int
    deadline: float
    retry_after: int  # seconds, the Retry-After of a 503 / 429
    # A refused request is answered only after this long: a client that ignores Retry-After and asks
    # again at once then sends one request per ``tarpit`` instead of hundreds a second, each costing
    # the event loop what a cheap request costs. Waiting is free (no worker, no thread).
    tarpit: float = 0.0
    nice: int = 0  # CPU priority below the server's: bulk reads yield to everything else
    memory: int | None = None  # bytes of heap per worker (RLIMIT_DATA): past it, 507 instead of swapping


def default_lanes(cpus: int | None = None) -> dict[str, LaneConfig]:
    """One quick worker and the other cores for bulk reads (at least one each)."""
    n = cpus or os.cpu_count() or 1
    bulk = max(1, min(n - 1, 4))
    return {"quick": LaneConfig(workers=1 if n < 4 else 2, queue=32, per_client=16, deadline=30.0,
                                retry_after=1, tarpit=0.25, memory=_memory_share()),
            "bulk": LaneConfig(workers=bulk, queue=4 * bulk, per_client=4, deadline=300.0, retry_after=5,
                               tarpit=1.0, nice=10, memory=_memory_share())}


def _memory_share() -> int | None:
    """Half the machine's memory for one worker: a header bomb or a huge diff fails alone (507)
    instead of taking the machine into swap or the kernel's OOM killer."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return None


# ---------------------------------------------------------------- the worker side (its own process)

def _answer(status: int, value: Any) -> tuple[int, bytes]:
    return status, json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def error_body(message: str) -> bytes:
    return json.dumps({"error": " ".join(message.split())}, ensure_ascii=False).encode()


def run_job(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[int, bytes]:
    """Call ``fn``; its JSON or the error as (status, body). Never raises: the server must not have to
    unpickle an exception it does not know."""
    from paramscope.errors import ParamscopeError

    try:
        status, body = _answer(200, fn(*args))
    except Refused as e:
        return e.status, error_body(str(e))
    except ParamscopeError as e:
        return 400, error_body(str(e))
    except MemoryError:
        return 507, error_body("out of memory answering this request")
    except Exception as e:  # a bug: say so in one line, keep the worker
        return 500, error_body(f"internal error ({type(e).__name__}): {e}")
    if len(body) > MAX_RESPONSE_BYTES:
        return 413, error_body(f"the answer would be {len(body) / 1e6:.1f} MB of JSON, over the "
                               f"{MAX_RESPONSE_BYTES / 1e6:.1f} MB limit: ask for less (a shorter text, "
                               "fewer tensors)")
    return status, body


def _worker_main(conn: Any, environ: dict[str, str], cwd: str, nice: int, memory: int | None) -> None:
    # A fork server's child starts with the environment and folder the fork server had when it
    # started; the server's own (HF_HOME, HF_ENDPOINT, the caches…) are what its requests mean.
    os.environ.clear()
    os.environ.update(environ)
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    # Ctrl-C reaches the whole process group; the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(nice)
    if memory is not None:
        # Heap and anonymous maps only: the memory maps of the model files the readers use are not
        # counted (RLIMIT_AS would refuse a 70 GB file's map).
        with contextlib.suppress(ValueError, OSError, ImportError):
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_DATA)
            resource.setrlimit(resource.RLIMIT_DATA, (memory if hard == resource.RLIM_INFINITY
                                                      else min(memory, hard), hard))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        conn.send(run_job(fn, args))


# ---------------------------------------------------------------- the server side

def _context() -> Any:
    # Not fork: the server has threads and a running event loop. The fork server starts each worker
    # from a clean process with the readers already imported.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class WorkerDied(Exception):
    def __init__(self, idle: bool = False) -> None:
        super().__init__()
        self.idle = idle  # found dead before it had the job: nothing ran, another worker may take it


class Worker:
    def __init__(self, ctx: Any, config: LaneConfig) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, dict(os.environ), os.getcwd(),
                                                             config.nice, config.memory),
                                   daemon=True, name="paramscope-job")
        self.process.start()
        child.close()

    async def call(self, job: tuple[Any, ...], timeout: float) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if done.done():
                return
            try:
                done.set_result(self.conn.recv())
            except (EOFError, OSError):
                done.set_exception(WorkerDied())

        loop.add_reader(fd, readable)
        try:
            try:
                self.conn.send(job)
            except (BrokenPipeError, ConnectionResetError, EOFError):  # died while idle (OOM killer…)
                raise WorkerDied(idle=True) from None
            return await asyncio.wait_for(done, timeout)
        finally:
            loop.remove_reader(fd)

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class Lane:
    """``workers`` processes, a bounded wait for one, and the per-client count.

    The free workers are a plain list and each waiting request a future of the loop it runs on: the
    lane outlives any one event loop (a test client runs each request on a fresh one)."""

    def __init__(self, name: str, config: LaneConfig, ctx: Any) -> None:
        self.name, self.config, self.ctx = name, config, ctx
        self.all: list[Worker] = []
        self.free: list[Worker] = []
        self.waiters: collections.deque[asyncio.Future[Worker]] = collections.deque()
        self.held: Counter[str] = Counter()

    def start(self) -> None:
        while len(self.all) < self.config.workers:
            self._release(self._new())

    def _new(self) -> Worker:
        w = Worker(self.ctx, self.config)
        self.all.append(w)
        return w

    def _release(self, w: Worker) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(w)
                return
        self.free.append(w)

    def _replace(self, w: Worker) -> None:
        w.stop()
        self.all.remove(w)
        self._release(self._new())

    @property
    def waiting(self) -> int:
        return sum(not w.done() for w in self.waiters)

    def configure(self, **changes: Any) -> None:
        """Change the limits of a lane (tests, tuning); more workers start on the next request."""
        self.config = replace(self.config, **changes)

    async def run(self, fn: Callable[..., Any], args: tuple[Any, ...], client: str) -> tuple[int, bytes]:
        self.start()
        c = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + c.deadline
        if self.held[client] >= c.per_client:
            await asyncio.sleep(c.tarpit)
            raise Refused(f"{self.name} lane: {self.held[client]} of your requests are already running or "
                          f"waiting (at most {c.per_client}); retry when one is answered", 429,
                          retry_after=c.retry_after)
        if not self.free and self.waiting >= c.queue:
            await asyncio.sleep(c.tarpit)
            raise Refused(f"server busy: {len(self.all)} {self.name} jobs running and {self.waiting} "
                          f"waiting; retry in {c.retry_after} s", 503, retry_after=c.retry_after)
        self.held[client] += 1
        try:
            worker = await self._take(deadline)
            try:
                return await self._call(worker, (fn, args), deadline)
            except WorkerDied as e:
                if not e.idle:
                    raise
                # found dead before it had the job (the OOM killer, a signal): nothing ran, so
                # another worker may take it
                return await self._call(await self._take(deadline), (fn, args), deadline)
        except WorkerDied:
            raise Refused("the worker process died answering this request (out of memory?)", 500) from None
        finally:
            self.held[client] -= 1
            if not self.held[client]:
                del self.held[client]

    async def _call(self, worker: Worker, job: tuple[Any, ...], deadline: float) -> tuple[int, bytes]:
        """The job's answer from ``worker``, which goes back to the lane, or is replaced when it may be
        in any state but idle (past the deadline, died, cancelled mid-call)."""
        c = self.config
        try:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError
            result = await worker.call(job, remaining)
        except TimeoutError:
            self._replace(worker)  # it is still working: stop it, so the time limit frees the CPU
            raise Refused(f"no answer within {c.deadline:g} s (the server's time limit for "
                          f"{self.name} requests)", 504) from None
        except BaseException:  # died, or cancelled mid-call: its state is unknown
            self._replace(worker)
            raise
        self._release(worker)
        return result

    async def _take(self, deadline: float) -> Worker:
        if self.free:
            return self.free.pop()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Worker] = loop.create_future()
        self.waiters.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - loop.time()))
        except (TimeoutError, asyncio.CancelledError) as e:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed a worker as the wait ended: pass it on
            waiter.cancel()
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)
            if isinstance(e, TimeoutError):
                raise Refused(f"no {self.name} worker free within {self.config.deadline:g} s; retry later",
                              504, retry_after=self.config.retry_after) from None
            raise

    def stop(self) -> None:
        for w in self.all:
            w.stop()
        self.all.clear()
        self.free.clear()


class Jobs:
    """The lanes of one app; workers start on first use (or at server start-up)."""

    def __init__(self, lanes: dict[str, LaneConfig] | None = None) -> None:
        ctx = _context()
        self.lanes = {name: Lane(name, c, ctx) for name, c in (lanes or default_lanes()).items()}

    def start(self) -> None:
        for lane in self.lanes.values():
            lane.start()

    def stop(self) -> None:
        for lane in self.lanes.values():
            lane.stop()

    async def run(self, lane: str, fn: Callable[..., Any], *args: Any, client: str = "") -> tuple[int, bytes]:
        return await self.lanes[lane].run(fn, args, client)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


async def offload(request: Request, lane: str, fn: Callable[..., Any], *args: Any) -> Response:
    """The route's answer: ``fn(*args)`` run in ``lane`` of this app's workers, as JSON. A bulk job
    whose client has gone (closed the tab, aborted the fetch) is stopped, waiting or running: nobody
    would read its answer. (A quick one is left to finish: stopping it would cost a new worker.)"""
    jobs: Jobs = request.app.state.jobs
    job = asyncio.ensure_future(jobs.run(lane, fn, *args, client=client_of(request)))
    if lane == "bulk":
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            job.cancel()  # wait() leaves what it waits on running
            raise
        finally:
            gone.cancel()
        if not job.done():
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
            return Response(error_body("client went away"), status_code=499, media_type="application/json")
    status, body = await job
    return Response(body, status_code=status, media_type="application/json")


async def _disconnected(request: Request) -> None:
    # Once the request's body is in, the next message the server has for this request is the
    # disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
