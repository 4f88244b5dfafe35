"""`serve` under hostile load, through the real HTTP server (uvicorn on a free port, in a thread):
busy lanes answer 503/429 with Retry-After, late answers 504 (and the worker is replaced), cross-site
requests 403, oversized 413/414, slow clients 408, every error one JSON shape, /api/models and the
readers confined to the roots with symlinks. No timing is asserted: each limit is made certain by
occupying the workers with a job that outlasts it (``time.sleep``), not by racing a clock."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from paramscope.records import fields  # noqa: E402
from paramscope.web.app import create_app  # noqa: E402
from paramscope.web.jobs import MAX_RESPONSE_BYTES, LaneConfig, run_job  # noqa: E402
from paramscope.web.limits import server_config, slow_headers_protocol  # noqa: E402
from paramscope.web.security import Refused  # noqa: E402

LANES = {"quick": LaneConfig(workers=1, queue=8, per_client=8, deadline=120.0, retry_after=1, memory=1 << 30),
         "bulk": LaneConfig(workers=1, queue=0, per_client=8, deadline=120.0, retry_after=7)}
SLOW_SECONDS = 1.0  # header and body deadlines of the test server


def write_safetensors(path: Path, name: str = "w") -> Path:
    header = json.dumps({name: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, -1.0))
    return path


class Server:
    """The app behind uvicorn with `serve`'s own settings, on a loop this test can submit jobs to."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = server_config(app, "127.0.0.1", self.port, http=slow_headers_protocol(SLOW_SECONDS))
        self.server = uvicorn.Server(config)
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.server.serve(),),
                                       daemon=True)
        self.thread.start()
        for _ in range(6000):
            if self.server.started:
                break
            time.sleep(0.01)
        assert self.server.started, "the server did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def submit(self, lane: str, fn: Any, *args: Any, client: str = "someone else") -> Future:
        """A job run by the server's own lanes, as a request of ``client`` would."""
        return asyncio.run_coroutine_threadsafe(self.app.state.jobs.run(lane, fn, *args, client=client),
                                                self.loop)

    def lane(self, name: str) -> Any:
        return self.app.state.jobs.lanes[name]

    def occupy(self, lane: str, client: str = "someone else") -> Future:
        """Hold every worker of ``lane`` (until cancelled)."""
        lane_ = self.lane(lane)
        held = [self.submit(lane, time.sleep, 3600, client=client) for _ in range(lane_.config.workers)]
        wait_until(lambda: not lane_.free and all(not w.done() for w in held))
        return _all(held)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)


def _all(futures: list[Future]) -> Future:
    class Group(Future):
        def cancel(self) -> bool:
            for f in futures:
                f.cancel()
            return True
    return Group()


def wait_until(condition: Any) -> None:
    for _ in range(6000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition never met")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("serve")
    root = base / "root"
    root.mkdir()
    write_safetensors(root / "tiny.safetensors")
    outside = write_safetensors(base / "secret.safetensors")
    (root / "link-out.safetensors").symlink_to(outside)
    (root / "alias.safetensors").symlink_to(root / "tiny.safetensors")
    (root / "folder").mkdir()
    (root / "folder" / "model.safetensors").symlink_to(outside)
    return root


@pytest.fixture(scope="module")
def server(root) -> Iterator[Server]:
    app = create_app([root], defaults=False, lanes=LANES, body_seconds=SLOW_SECONDS)
    srv = Server(app)
    yield srv
    srv.close()


@pytest.fixture()
def http(server) -> Iterator[Any]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


@pytest.fixture(autouse=True)
def restore_lanes(request) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        for name, config in LANES.items():
            srv.lane(name).configure(**{f.name: getattr(config, f.name) for f in fields(config)})


def assert_error(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"] and body["error"] and "\n" not in body["error"], body
    assert "script-src 'self'" in r.headers["content-security-policy"]  # errors are answers too
    return body["error"]


def raw(server: Server, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_works(http, root):
    r = http.get("/api/inspect", params={"source": str(root / "tiny.safetensors")})
    assert r.status_code == 200 and r.json()["total_params"] == 2
    r = http.get("/api/stats", params={"source": str(root / "alias.safetensors")})
    assert r.status_code == 200, r.text


def test_bulk_lane_full_is_503_with_retry_after(server, http, root):
    held = server.occupy("bulk")
    try:
        r = http.get("/api/stats", params={"source": str(root / "tiny.safetensors")})
        assert "busy" in assert_error(r, 503)
        assert r.headers["retry-after"] == "7"
        # the quick lane and the event loop do not wait behind it
        assert http.get("/api/roots").status_code == 200
        assert http.get("/api/inspect", params={"source": str(root / "tiny.safetensors")}).status_code == 200
    finally:
        held.cancel()


def test_long_texts_are_tokenized_in_the_bulk_lane(server, http):
    held = server.occupy("bulk")
    try:
        long = http.post("/api/tokens", params={"source": "llama-3.1-70b"}, json={"text": "a" * 5000})
        assert_error(long, 503)
        short = http.post("/api/tokens", params={"source": "llama-3.1-70b"}, json={"text": "a" * 100})
        assert "no tokenizer" in assert_error(short, 400)
    finally:
        held.cancel()


def test_one_client_cannot_hold_more_than_its_share(server, http, root):
    server.lane("bulk").configure(per_client=1, queue=4)
    held = server.occupy("bulk", client="127.0.0.1")  # the test client's address
    try:
        r = http.get("/api/stats", params={"source": str(root / "tiny.safetensors")})
        assert "at most 1" in assert_error(r, 429)
        assert r.headers["retry-after"]
    finally:
        held.cancel()


def test_waiting_past_the_deadline_is_504(server, http, root):
    server.lane("bulk").configure(queue=4, deadline=0.5)
    held = server.occupy("bulk")
    try:
        r = http.get("/api/stats", params={"source": str(root / "tiny.safetensors")})
        assert "0.5 s" in assert_error(r, 504)
    finally:
        held.cancel()


def test_a_client_that_leaves_frees_its_place(server, root):
    lane = server.lane("bulk")
    lane.configure(queue=4)
    held = server.occupy("bulk")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=120) as s:
            s.sendall(f"GET /api/stats?source={root / 'tiny.safetensors'} HTTP/1.1\r\n"
                      "Host: 127.0.0.1\r\n\r\n".encode())
            wait_until(lambda: lane.waiting == 1)
        wait_until(lambda: lane.waiting == 0 and not lane.held.get("127.0.0.1"))
    finally:
        held.cancel()


def test_running_past_the_deadline_is_504_and_the_worker_is_replaced(server, http, root):
    lane = server.lane("bulk")
    lane.configure(deadline=0.5)
    before = {w.process.pid for w in lane.all}
    with pytest.raises(Refused) as e:
        server.submit("bulk", time.sleep, 3600).result(120)
    assert e.value.status == 504
    old = before.pop()
    wait_until(lambda: not _alive(old))
    assert [w.process.pid for w in lane.all] != [old] and all(w.process.is_alive() for w in lane.all)
    lane.configure(deadline=120.0)
    assert http.get("/api/stats", params={"source": str(root / "tiny.safetensors")}).status_code == 200


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child stays a zombie until reaped: ask its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_worker_that_dies_is_500_and_replaced(server, http, root):
    with pytest.raises(Refused) as e:
        server.submit("quick", os._exit, 3).result(120)
    assert e.value.status == 500
    assert http.get("/api/inspect", params={"source": str(root / "tiny.safetensors")}).status_code == 200


def test_a_worker_killed_while_idle_is_replaced_unseen(server, http, root):
    lane = server.lane("quick")
    victim = lane.all[0].process.pid
    os.kill(victim, 9)
    wait_until(lambda: not _alive(victim))
    assert http.get("/api/inspect", params={"source": str(root / "tiny.safetensors")}).status_code == 200
    assert victim not in [w.process.pid for w in lane.all]


def test_a_job_over_its_memory_cap_is_507_not_swap(server, http, root):
    status, body = server.submit("quick", bytearray, 2 << 30).result(120)  # 2 GiB against 1 GiB
    assert status == 507 and "out of memory" in json.loads(body)["error"]
    assert http.get("/api/inspect", params={"source": str(root / "tiny.safetensors")}).status_code == 200


def test_answers_over_the_cap_are_refused():
    status, body = run_job(list, (range(MAX_RESPONSE_BYTES // 4),))
    assert status == 413 and "MB of JSON" in json.loads(body)["error"]
    assert run_job(list, (range(3),)) == (200, b"[0,1,2]")


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}])
def test_cross_site_requests_refused(http, root, headers):
    for path in ("/api/roots", "/api/stats?source=" + str(root / "tiny.safetensors"), "/static/app.js"):
        assert "refused" in assert_error(http.get(path, headers=headers), 403)
    r = http.post("/api/tokens", params={"source": str(root / "tiny.safetensors")}, json={"text": "x"},
                  headers=headers)
    assert_error(r, 403)


def test_same_origin_and_typed_urls_allowed(server, http):
    assert http.get("/api/roots", headers={"Origin": server.url}).status_code == 200
    r = http.post("/api/tokens", params={"source": "llama-3.1-70b"}, json={"text": "hi"},
                  headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"})
    assert "no tokenizer" in assert_error(r, 400)  # past the guards, answered by the command
    for site in ("same-origin", "none"):
        assert http.get("/api/roots", headers={"Sec-Fetch-Site": site}).status_code == 200
    # a link from elsewhere to the page only shows the page
    page = http.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_every_error_is_one_json_shape(http, root):
    assert_error(http.get("/no/such/page"), 404)
    assert_error(http.post("/api/roots"), 405)
    assert_error(http.get("/static/nope.js"), 404)
    msg = assert_error(http.get("/api/size", params={"source": "llama-3.1-70b", "context": 0}), 422)
    assert msg.startswith("context:")
    msg = assert_error(http.get("/api/size", params={"context": "abc"}), 422)
    assert "source" in msg and "context" in msg
    assert_error(http.post("/api/tokens", params={"source": "llama-3.1-70b"}, content=b"{not json",
                           headers={"content-type": "application/json"}), 422)
    assert_error(http.get("/api/size", params={"source": "llama-3.1-70b", "weights": "q9_z"}), 400)
    assert_error(http.get("/api/inspect", params={"source": str(root / "none.gguf")}), 404)


def test_oversized_requests(server, http, root):
    src = str(root / "tiny.safetensors")
    assert_error(http.get("/api/inspect", params={"source": "x" * 20_000}), 414)
    big = json.dumps({"text": "a" * (1 << 20)}).encode()
    assert_error(http.post("/api/tokens", params={"source": src}, content=big,
                           headers={"content-type": "application/json"}), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies as the body streams in
        for _ in range(40):
            yield b"a" * 65536
    assert_error(http.post("/api/tokens", params={"source": src}, content=chunks(),
                           headers={"content-type": "application/json"}), 413)
    # headers that keep coming past the limit (never finished: the server reads all that was sent)
    answer = raw(server, b"GET /api/roots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40_000)
    assert answer.startswith(b"HTTP/1.1 400")
    assert "error" in json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_slow_headers_408(server):
    for sent in (b"", b"GET /api/roots HTTP/1.1\r\nHost: 127.0.0.1\r\n"):  # nothing, or headers unfinished
        answer = raw(server, sent)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert "not received" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]


def test_slow_body_408(server, root):
    head = (f"POST /api/tokens?source={root / 'tiny.safetensors'} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode()
    answer = raw(server, head + b'{"text": "')
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert "stalled" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]


def test_keep_alive_connection_keeps_working(http):
    for _ in range(3):  # the header clock re-arms per request on one connection without firing
        assert http.get("/api/roots").status_code == 200


def test_models_lists_only_what_may_be_opened(http, root):
    paths = [m["path"] for m in http.get("/api/models").json()["local"]]
    assert {str(root / "tiny.safetensors"), str(root / "alias.safetensors")} & set(paths)  # one file, once
    assert not any("link-out" in p or "folder" in p or "secret" in p for p in paths), paths


@pytest.mark.parametrize("name", ["link-out.safetensors", "folder", "../secret.safetensors"])
def test_paths_escaping_the_roots_refused(http, root, name):
    for endpoint in ("inspect", "stats"):
        assert_error(http.get(f"/api/{endpoint}", params={"source": f"{root}/{name}"}), 403)


@pytest.mark.slow  # runs long: a small load test
def test_forty_clients_hammering_stats(server, http, root):
    """A small load test: every heavy request is answered (a result or a busy/late error), and cheap
    requests keep being answered. The latency figures are bench/bench_serve.py's."""
    server.lane("bulk").configure(queue=4, per_client=8)
    src = str(root / "tiny.safetensors")

    def hammer(_: int) -> list[int]:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            return [c.get("/api/stats", params={"source": src}).status_code for _ in range(3)]

    with ThreadPoolExecutor(40) as pool:
        heavy = pool.map(hammer, range(40))
        cheap = [http.get(p).status_code for p in ("/api/roots", "/api/runtimes") * 10]
        statuses = [s for batch in heavy for s in batch]
    assert cheap == [200] * 20
    assert set(statuses) <= {200, 429, 503} and 200 in statuses, statuses


@pytest.mark.slow  # runs long: `paramscope serve` in a subprocess
def test_serve_command_banner_and_default_roots(tmp_path):
    """`paramscope serve` itself: the banner names the URL and the roots (the current directory when no
    ROOT is given), and the server it starts answers."""
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "paramscope", "serve", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in banner and str(tmp_path.resolve()) in banner, banner
        wait_until(lambda: _answers(port))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            assert c.get("/api/roots").json()["roots"] == [str(tmp_path.resolve())]
            assert_error(c.get("/docs"), 404)  # Swagger's page would load from a CDN
            assert c.get("/openapi.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(60)
    assert "Traceback" not in proc.stderr.read()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/roots", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
