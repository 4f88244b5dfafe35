"""The page end to end in headless Chromium (Debian's package, driven by Playwright), against a server
started here: numbers on the page equal the CLI's --json; hostile names stay text; the report works
offline. Skips when Chromium or Playwright is missing; a Chromium that is there but does not start is a
failure, not a skip. Screenshots go to $PARAMSCOPE_SCREENSHOTS (else
the test's temporary folder)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

# one browser and one server for the module: all its tests on one pytest-xdist worker
pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = os.environ.get("PARAMSCOPE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
XSS = "<script>alert(1)</script>"
SENTENCE = "The quick brown fox jumps over the lazy dog."
FIRST_TREEMAP_BUDGET_S = 1.0

if not Path(CHROMIUM).is_file() or not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright (the Python package) is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")


def cli_json(*argv: str) -> dict:
    import contextlib
    import io

    from paramscope.cli.app import build_parser

    args = build_parser().parse_args([*argv, "--json"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        args.run(args)
    return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    header = json.dumps({XSS: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (root / "xss.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    return root


@pytest.fixture(scope="module")
def server(gemma_gguf, root):
    import uvicorn

    from paramscope.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app([gemma_gguf.resolve().parent, root], defaults=False)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as e:  # e.g. a Chromium too old or too new for this Playwright
            pytest.fail(f"{CHROMIUM} is installed but did not start under Playwright: {e}")
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PARAMSCOPE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def treemap_total(page) -> int:
    page.wait_for_selector("#treemap[data-total]", timeout=15_000)
    return int(page.get_attribute("#treemap", "data-total"))


def set_slider(page, selector: str, index: int) -> None:
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); "
                                    "el.dispatchEvent(new Event('input', {bubbles: true})); }", index)


def test_gemma_treemap_memory_tokens(server, page, gemma_gguf, shots):
    src = str(gemma_gguf.resolve())
    url = f"{server}/?source={src}"
    start = time.perf_counter()
    page.goto(url)
    total = treemap_total(page)
    first_treemap_s = time.perf_counter() - start
    print(f"\npage load to first treemap (Gemma 3 270M GGUF): {first_treemap_s * 1000:.0f} ms")
    assert total == cli_json("inspect", src)["total_params"] == 268_098_176
    assert first_treemap_s <= FIRST_TREEMAP_BUDGET_S

    contexts = json.loads(page.get_attribute("#context", "data-values"))
    index = contexts.index(32768)
    set_slider(page, "#context", index)
    page.wait_for_selector('#memory-view[data-context="32768"]', timeout=10_000)
    kv = int(page.get_attribute("#memory-view", "data-kv-bytes"))
    assert kv == cli_json("size", src, "--context", "32768")["kv_cache_bytes"]
    assert int(page.get_attribute("#mem-total", "data-bytes")) == cli_json("size", src, "--context",
                                                                          "32768")["total_bytes"]

    page.fill("#tokens-text", SENTENCE)
    want = ", ".join(str(t["id"]) for t in cli_json("tokens", src, SENTENCE)["tokens"])
    page.wait_for_function("want => document.getElementById('token-ids').textContent === want", arg=want,
                           timeout=10_000)
    page.screenshot(path=str(shots / "gemma.png"), full_page=True)


def test_llama_70b_from_the_form(server, page, shots):
    page.goto(server)
    page.fill("#source", "llama-3.1-70b")
    page.click("#open")
    assert treemap_total(page) == cli_json("inspect", "llama-3.1-70b")["total_params"]
    page.wait_for_selector("#memory-view[data-kv-bytes]")
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == \
        cli_json("size", "llama-3.1-70b")["kv_cache_bytes"]
    page.wait_for_selector("#gpus-needed[data-devices]", timeout=10_000)
    page.screenshot(path=str(shots / "llama-3.1-70b.png"), full_page=True)


def test_hostile_tensor_name_is_text(server, page, root, shots):
    page.goto(f"{server}/?source={root / 'xss.safetensors'}")
    treemap_total(page)
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.eval_on_selector_all("script", "els => els.length") == 1  # app.js only
    titles = page.eval_on_selector_all("#treemap title", "els => els.map(e => e.textContent)")
    assert any(XSS in t for t in titles) or page.text_content("#model-name").endswith("xss.safetensors")


def test_outside_roots_refused_in_page(server, page):
    page.goto(f"{server}/?source=/etc/passwd")
    page.wait_for_selector("#status.error")
    assert "outside the allowed roots" in page.text_content("#status")


def test_report_offline(page, gemma_gguf, tmp_path, shots):
    from paramscope.web.report import build_report

    src = str(gemma_gguf.resolve())
    out = tmp_path / "report.html"
    out.write_text(build_report(src, {}, text=SENTENCE), encoding="utf-8")
    requests: list[str] = []
    page.context.route("**/*", lambda route: (requests.append(route.request.url),
                                              route.continue_() if route.request.url.startswith("file:")
                                              else route.abort()))
    page.goto(out.as_uri())
    assert treemap_total(page) == cli_json("inspect", src)["total_params"]
    page.wait_for_selector("#memory-view[data-kv-bytes]")
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == cli_json("size", src)["kv_cache_bytes"]
    contexts = json.loads(page.get_attribute("#context", "data-values"))
    set_slider(page, "#context", contexts.index(32768))
    page.wait_for_selector('#memory-view[data-context="32768"]')
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == \
        cli_json("size", src, "--context", "32768")["kv_cache_bytes"]
    want = ", ".join(str(t["id"]) for t in cli_json("tokens", src, SENTENCE)["tokens"])
    page.wait_for_function("want => document.getElementById('token-ids').textContent === want", arg=want)
    assert [u for u in requests if not u.startswith("file:")] == []
    page.screenshot(path=str(shots / "report.png"), full_page=True)
