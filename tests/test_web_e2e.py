"""The page end to end in headless Chromium (Debian's package, driven by Playwright), against a server
started here: numbers on the page equal the CLI's --json (treemap, memory, tooltips, the fit matrix,
compare); the memory legend's colours are the bar's; axis labels never overlap (bounding boxes) for small
and huge models, at phone and desktop widths and over many scales; the GPU capacity line sits at its
value on the axis; the model picker lists the files under a root; hostile names stay text; the report
works offline. Skips when Chromium or Playwright is missing; a Chromium that is there but does not
start is a failure, not a skip. Screenshots (390 and 1920 px, light and dark) go to
$PARAMSCOPE_SCREENSHOTS (else the test's temporary folder). No timing is asserted: the page load to
first treemap is printed."""

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

from builders.cli import cli_json

# one browser and one server for the module: all its tests on one pytest-xdist worker
pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = os.environ.get("PARAMSCOPE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
XSS = "<script>alert(1)</script>"
SENTENCE = "The quick brown fox jumps over the lazy dog."

if not Path(CHROMIUM).is_file() or not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright (the Python package) is not installed")
pytest.importorskip("uvicorn", reason="the web extra is not installed")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    header = json.dumps({XSS: {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (root / "xss.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    return root


APPS: dict[str, object] = {}  # each server's app, by its address: a test may change its lanes' limits


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
    APPS[f"http://127.0.0.1:{port}"] = app
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
    context.set_default_timeout(120_000)  # a loaded machine; nothing here measures time
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
    page.wait_for_selector("#treemap[data-total]")
    return int(page.get_attribute("#treemap", "data-total"))


def set_slider(page, selector: str, index: int) -> None:
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); "
                                    "el.dispatchEvent(new Event('input', {bubbles: true})); }", index)


def fmt(n: int) -> str:
    """As the page writes counts (toLocaleString en-US)."""
    return f"{n:,}"


BOX = ("els => els.map(e => { const r = e.getBoundingClientRect(); "
       "return {x: r.x, y: r.y, w: r.width, h: r.height, t: e.textContent}; })")


def boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, BOX)


def overlapping(bs: list[dict]) -> list[tuple[str, str]]:
    return [(a["t"], b["t"]) for i, a in enumerate(bs) for b in bs[i + 1:]
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"]
            and b["y"] < a["y"] + a["h"]]


def axis_x(page, svg: str, value_gib: float) -> float:
    """Where ``value_gib`` lies on the axis, from two tick labels' values and positions."""
    ticks = page.eval_on_selector_all(f"{svg} text.tick", "els => els.map(e => [Number(e.dataset.value), "
                                                          "Number(e.dataset.x)])")
    (v0, x0), (v1, x1) = ticks[0], ticks[-1]
    return x0 + (x1 - x0) * (value_gib - v0) / (v1 - v0)


def open_page(page, server, source: str, width: int = 1100, scheme: str = "light", extra: str = "") -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.emulate_media(color_scheme=scheme)
    page.goto(f"{server}/?source={source}{extra}")
    treemap_total(page)
    page.wait_for_selector("#memory-bars text.tick")


def test_gemma_treemap_memory_tokens(server, page, gemma_gguf, shots):
    src = str(gemma_gguf.resolve())
    url = f"{server}/?source={src}"
    start = time.perf_counter()
    page.goto(url)
    total = treemap_total(page)
    print(f"\npage load to first treemap (Gemma 3 270M GGUF): {(time.perf_counter() - start) * 1000:.0f} ms")
    assert total == cli_json("inspect", src)["total_params"] == 268_098_176

    contexts = json.loads(page.get_attribute("#context", "data-values"))
    set_slider(page, "#context", contexts.index(32768))
    page.wait_for_selector('#memory-view[data-context="32768"]')
    want = cli_json("size", src, "--context", "32768")
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == want["kv_cache_bytes"]
    assert int(page.get_attribute("#mem-total", "data-bytes")) == want["total_bytes"]

    page.fill("#tokens-text", SENTENCE)
    ids = ", ".join(str(t["id"]) for t in cli_json("tokens", src, SENTENCE)["tokens"])
    page.wait_for_function("want => document.getElementById('token-ids').textContent === want", arg=ids)


def test_memory_legend_bar_table_and_capacity(server, page, gemma_gguf):
    src = str(gemma_gguf.resolve())
    open_page(page, server, src)
    page.wait_for_selector("#gpus-needed[data-devices]")
    colour = "el => getComputedStyle(el).backgroundColor"
    legend = {p: page.eval_on_selector(f'#memory-legend [data-part="{p}"] .swatch', colour)
              for p in ("weights", "kv_cache", "compute", "overhead")}
    bars = {p: page.eval_on_selector(f'#memory-bars rect[data-part="{p}"]', "el => getComputedStyle(el).fill")
            for p in legend}
    table = {p: page.eval_on_selector(f'#memory-table .swatch[data-part="{p}"]', colour) for p in legend}
    assert legend == bars == table
    assert len(set(legend.values())) == 4
    size = cli_json("size", src)
    for part, field in [("weights", "weights_bytes"), ("kv_cache", "kv_cache_bytes"),
                        ("compute", "compute_bytes"), ("overhead", "overhead_bytes")]:
        assert int(page.get_attribute(f'#memory-bars rect[data-part="{part}"]', "data-bytes")) == size[field]
    # the capacity line: the chosen GPU's usable bytes, drawn where the axis puts that value, and labelled
    usable = next(g for g in cli_json("gpus")["devices"] if g["key"] == "rtx-4090")
    line = page.query_selector("#memory-bars line.capacity")
    assert int(line.get_attribute("data-bytes")) == usable["usable_bytes"]
    x = float(line.get_attribute("x1"))
    assert abs(x - axis_x(page, "#memory-bars", usable["usable_bytes"] / 2**30)) < 0.5
    assert "rtx-4090" in page.text_content("#memory-bars text.capacity-label")


@pytest.mark.parametrize("source", ["GEMMA", "llama-3.1-8b", "deepseek-v3"])
@pytest.mark.parametrize("width", [390, 1920])
def test_axis_labels_never_overlap(server, page, gemma_gguf, source, width):
    src = str(gemma_gguf.resolve()) if source == "GEMMA" else source
    open_page(page, server, src, width=width)
    ticks = boxes(page, "#memory-bars text.tick")
    assert len(ticks) >= 3
    assert overlapping(ticks) == []
    assert overlapping(boxes(page, "#memory-bars text.tick, #memory-bars text.capacity-label, "
                                   "#memory-bars text.unit")) == []
    assert overlapping(boxes(page, "#layers-chart text.tick")) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen


def test_axis_ticks_at_many_scales(server, page, gemma_gguf):
    """The tick rule itself, drawn for totals from 1 KiB to 64 TiB on 260 to 1900 pixels: no overlap."""
    open_page(page, server, str(gemma_gguf.resolve()))
    found = page.evaluate("""() => {
      const bad = [];
      const box = document.createElement('div');
      document.body.append(box);
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      box.append(svg);
      let drawn = 0;
      for (const w of [260, 390, 600, 960, 1900]) {
        box.style.width = w + 'px';
        for (let e = 10; e <= 46; e += 0.37) {
          const total = Math.round(2 ** e);
          const size = {weights_bytes: Math.round(total * 0.7), kv_cache_bytes: Math.round(total * 0.2),
                        compute_bytes: Math.round(total * 0.06), overhead_bytes: 0};
          size.overhead_bytes = total - size.weights_bytes - size.kv_cache_bytes - size.compute_bytes;
          size.total_bytes = total;
          PS.stackedBars(svg, [{label: '', size}], [{bytes: total * 0.8, label: 'cap'}]);
          const rs = [...svg.querySelectorAll('text.tick')].map(t => t.getBoundingClientRect());
          if (rs.length < 2) bad.push(['too few ticks', w, total]);
          for (let i = 1; i < rs.length; i++) if (rs[i].left < rs[i - 1].right) bad.push([w, total, i]);
          drawn++;
        }
      }
      box.remove();
      return {bad, drawn};
    }""")
    assert found["drawn"] > 400
    assert found["bad"] == []


def test_fit_matrix_equals_fit_cli(server, page):
    open_page(page, server, "llama-3.1-8b")
    settings = [("rtx-4090", 8192, "", 0), ("rtx-3060-12g", 32768, "q4_k_m", 0),
                ("rtx-4090", 131072, "q8_0", 2)]
    for gpu, context, weights, batch_index in settings:
        page.select_option("#gpu", gpu)
        set_slider(page, "#batch", batch_index)
        cell = (f'#fit-matrix[data-gpu="{gpu}"][data-batch="{2 ** batch_index}"] '
                f'td[data-context="{context}"][data-weights="{weights}"]')
        page.wait_for_selector(cell)
        argv = ["fit", "llama-3.1-8b", "--gpu", gpu, "--context", str(context),
                "--batch", str(2 ** batch_index), "--ram", "64GiB",
                *(["--weights", weights] if weights else [])]
        want = cli_json(*argv)["devices_needed"]
        got = page.get_attribute(cell, "data-devices")
        assert (int(got) if got else None) == want
    # the runtimes side by side: one row per runtime, the same columns
    page.wait_for_selector('#runtime-matrix td[data-runtime="vllm"]')
    assert len(page.query_selector_all("#runtime-bars rect.part")) == 12


def test_picker_lists_models_under_root(server, page, gemma_gguf, root):
    page.goto(server)
    page.click("#source")
    page.fill("#source", "gemma q4")
    src = str(gemma_gguf.resolve())
    item = page.wait_for_selector(f'#picker-list li[data-source="{src}"]')
    assert "gguf" in item.text_content() and "268M" in item.text_content()
    sources = page.eval_on_selector_all("#picker-list li", "els => els.map(e => e.dataset.source)")
    assert str(root / "xss.safetensors") not in sources  # filtered out by the search
    page.fill("#source", "")
    all_sources = page.eval_on_selector_all("#picker-list li", "els => els.map(e => e.dataset.source)")
    assert {src, str(root / "xss.safetensors"), "llama-3.1-8b", "deepseek-v3"} <= set(all_sources)
    # keyboard: the first match, chosen with the arrow and Enter
    page.fill("#source", "gemma q4")
    page.press("#source", "ArrowDown")
    page.press("#source", "Enter")
    assert treemap_total(page) == 268_098_176
    assert page.text_content("#model-name") == src


def test_tooltips_give_cli_numbers(server, page, gemma_gguf):
    src = str(gemma_gguf.resolve())
    open_page(page, server, src)
    want = cli_json("inspect", src)["by_component_detail"]
    for name in ("embedding", "attention/k"):  # a big tile, and a small one with no room for a label
        page.hover(f'#treemap rect[data-name="{name}"]')
        tip = page.text_content("#tooltip")
        assert f"{fmt(want[name]['params'])} parameters" in tip and f"{fmt(want[name]['bytes'])} bytes" in tip
    size = cli_json("size", src)
    page.hover('#memory-bars rect[data-part="kv_cache"]')
    assert f"{fmt(size['kv_cache_bytes'])} bytes" in page.text_content("#tooltip")
    # click to zoom: the attention component fills the treemap with its parts
    page.click('#treemap rect[data-name="attention/q"]')  # a part zooms into its component
    page.wait_for_selector('#treemap[data-zoom="attention"]')
    names = page.eval_on_selector_all("#treemap rect", "els => els.map(e => e.dataset.name)")
    assert set(names) == {"attention/q", "attention/k", "attention/v", "attention/o"}
    page.click("#treemap-up")
    page.wait_for_selector('#treemap[data-zoom=""]')


def test_per_layer_chart_marks_attention_kinds(server, page, gemma_gguf):
    src = str(gemma_gguf.resolve())
    open_page(page, server, src)
    inv = cli_json("inspect", src, "--layers")
    kinds = page.eval_on_selector_all("#layers-chart rect.kind-mark", "els => els.map(e => e.dataset.kind)")
    assert kinds == inv["hyperparameters"]["layer_types"]
    values = page.eval_on_selector_all('#layers-chart rect[data-component="ffn"]',
                                       "els => els.map(e => +e.dataset.value)")
    assert values == [layer["ffn"]["params"] for layer in inv["by_layer"]]


def test_moe_layers_marked(server, page):
    open_page(page, server, "qwen1.5-moe-a2.7b")
    marks = page.eval_on_selector_all("#layers-chart rect.moe-mark", "els => els.map(e => e.dataset.moe)")
    inv = cli_json("inspect", "qwen1.5-moe-a2.7b", "--layers")
    assert marks == ["experts" if "experts" in layer else "dense" for layer in inv["by_layer"]]
    assert "experts" in marks


def test_compare_two_models(server, page):
    open_page(page, server, "llama-3.1-8b", extra="&compare=qwen3-8b")
    page.wait_for_selector('#compare-table tr[data-row="total"] td[data-value]:not([data-value=""])')
    a, b = cli_json("inspect", "llama-3.1-8b"), cli_json("inspect", "qwen3-8b")
    row = page.eval_on_selector_all('#compare-table tr[data-row="parameters"] td[data-value]',
                                    "els => els.map(e => +e.dataset.value)")
    assert row == [a["total_params"], b["total_params"]]
    total = page.eval_on_selector_all('#compare-table tr[data-row="total"] td[data-value]',
                                      "els => els.map(e => +e.dataset.value)")
    assert total == [cli_json("size", s, "--context", "8192")["total_bytes"]
                     for s in ("llama-3.1-8b", "qwen3-8b")]
    diff = cli_json("diff", "llama-3.1-8b", "qwen3-8b", "--structure-only")
    page.wait_for_function("want => document.getElementById('compare-diff').textContent === want",
                           arg="diff: " + diff["verdict"]["line"])
    assert len(page.query_selector_all("#compare-bars rect.part")) == 8


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1920])
def test_screenshots(server, page, gemma_gguf, shots, width, scheme):
    src = str(gemma_gguf.resolve())
    open_page(page, server, src, width=width, scheme=scheme, extra="&compare=llama-3.2-1b")
    page.wait_for_selector("#fit-matrix td.cell")
    page.wait_for_selector("#runtime-matrix td.cell")
    page.wait_for_selector("#gpus-needed[data-devices]")
    page.wait_for_selector('#compare-table tr[data-row="total"]')
    page.wait_for_function("() => !document.getElementById('compare-diff').textContent.includes('…')")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (bg == "rgb(15, 19, 25)") == (scheme == "dark")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(shots / f"gemma-{width}-{scheme}.png"), full_page=True)


def test_theme_button(server, page, gemma_gguf):
    open_page(page, server, str(gemma_gguf.resolve()), scheme="light")
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 19, 25)"


def test_llama_70b_from_the_form(server, page, shots):
    page.goto(server)
    page.fill("#source", "llama-3.1-70b")
    page.click("#open")
    assert treemap_total(page) == cli_json("inspect", "llama-3.1-70b")["total_params"]
    page.wait_for_selector("#memory-view[data-kv-bytes]")
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == \
        cli_json("size", "llama-3.1-70b")["kv_cache_bytes"]
    page.wait_for_selector("#gpus-needed[data-devices]")
    page.screenshot(path=str(shots / "llama-3.1-70b.png"), full_page=True)


def test_hostile_tensor_name_is_text(server, page, root):
    page.goto(f"{server}/?source={root / 'xss.safetensors'}")
    treemap_total(page)
    page.wait_for_selector("#treemap rect")
    assert page.dialogs == []
    srcs = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert srcs and all(s and s.startswith("/static/") for s in srcs)  # the page's own files only
    assert page.text_content("#model-name").endswith("xss.safetensors")
    assert page.eval_on_selector_all("script", "els => els.length") == len(srcs)  # no script was added


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
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    assert treemap_total(page) == cli_json("inspect", src)["total_params"]
    page.wait_for_selector("#memory-view[data-kv-bytes]")
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == cli_json("size", src)["kv_cache_bytes"]
    contexts = json.loads(page.get_attribute("#context", "data-values"))
    set_slider(page, "#context", contexts.index(32768))
    page.wait_for_selector('#memory-view[data-context="32768"]')
    assert int(page.get_attribute("#memory-view", "data-kv-bytes")) == \
        cli_json("size", src, "--context", "32768")["kv_cache_bytes"]
    cell = page.get_attribute('#fit-matrix td[data-context="32768"][data-weights=""]', "data-devices")
    fit = cli_json("fit", src, "--gpu", "rtx-4090", "--context", "32768", "--ram", "64GiB")
    assert int(cell) == fit["devices_needed"]
    page.wait_for_selector('#runtime-matrix td[data-runtime="vllm"]')
    assert page.query_selector("#memory-bars line.capacity") is not None
    want = ", ".join(str(t["id"]) for t in cli_json("tokens", src, SENTENCE)["tokens"])
    page.wait_for_function("want => document.getElementById('token-ids').textContent === want", arg=want)
    assert [u for u in requests if not u.startswith("file:")] == []
    assert errors == []
    assert page.query_selector("#compare-view") is None  # needs a server
    page.screenshot(path=str(shots / "report.png"), full_page=True)


def as_js(value):
    """``value`` as the browser's JSON.parse holds it: integers past 2**53 (training FLOPs) are doubles."""
    if isinstance(value, dict):
        return {k: as_js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_js(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return float(value)
    return value


def test_tour_equals_explain_cli(server, page, gemma_gguf, shots):
    """The Tour view is `paramscope explain SOURCE --json`: the same sections in order, each with the
    command's title, paragraphs and figures, and the pictures beside them (a histogram bar per count)."""
    for source in (str(gemma_gguf.resolve()), "llama-3.1-8b"):
        want = cli_json("explain", source)
        page.goto(f"{server}/?source={source}")
        treemap_total(page)
        # the tour (a full read of the weights on the server) is asked for only when it comes into sight
        assert page.eval_on_selector("#tour-out", "el => el.children.length") == 0
        # Scrolled to as a reader does: again while it has not been asked for, because the views above it
        # may still be growing as their answers arrive (on a loaded machine, enough to push it back out
        # of sight before the page drew a frame with it in view).
        page.wait_for_function("""() => {
            if (document.getElementById('tour-status').textContent
                || document.getElementById('tour-out').children.length) return true;
            document.getElementById('tour-view').scrollIntoView();
            return false; }""", polling=250)
        # the tour, or the page's own words for why not (a refusal, an error) as the failure
        page.wait_for_function("""source => {
            const out = document.getElementById('tour-out');
            return (out.dataset.source === source && out.querySelector('article.tour-section'))
                || document.getElementById('tour-status').classList.contains('error'); }""",
                               arg=want["source"])
        assert page.query_selector("#tour-status.error") is None, page.text_content("#tour-status")
        got = page.eval_on_selector_all("#tour-out article.tour-section", """els => els.map(a => ({
            key: a.dataset.key, title: a.querySelector('h3').textContent,
            text: [...a.querySelectorAll('.tour-text > p')].map(p => p.textContent),
            figures: JSON.parse(a.dataset.figures)}))""")
        fields = ("key", "title", "text", "figures")
        assert got == [{k: as_js(s[k]) for k in fields} for s in want["sections"]]
        page.wait_for_selector("#tour-memory svg.tour-memory rect.part")
        stored = page.get_attribute('#tour-memory rect[data-part="weights"]', "data-bytes")
        assert int(stored) == cli_json("size", source)["weights_bytes"]
        assert page.query_selector('#tour-where a[href="#params-view"]') is not None
        values = next((s for s in want["sections"] if s["key"] == "values"), None)
        bars = page.eval_on_selector_all("#tour-values svg.tour-hist rect",
                                         "els => els.map(r => Number(r.dataset.count))")
        assert bars == (values["figures"]["histogram_counts"] if values else [])
        if values:
            page.screenshot(path=str(shots / "tour.png"), full_page=True)


def test_busy_server_is_asked_again_after_retry_after(server, page, gemma_gguf):
    """A refusal with Retry-After (the bulk lane's share for this client taken: 429) is not the page's
    answer: it waits what the server says and asks again, and the histograms come."""
    lane = APPS[server].state.jobs.lanes["bulk"]
    config = lane.config
    refused: list[int] = []
    page.on("response", lambda r: refused.append(r.status) if "/api/stats" in r.url and r.status == 429
            else None)
    page.goto(f"{server}/?source={gemma_gguf.resolve()}")
    treemap_total(page)
    lane.configure(per_client=0, retry_after=1, tarpit=0.0)
    try:
        page.click("#stats-run")
        deadline = time.monotonic() + 60
        while not refused and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert refused, "the lane did not refuse"
    finally:
        lane.configure(per_client=config.per_client, retry_after=config.retry_after, tarpit=config.tarpit)
    page.wait_for_selector("#stats-out figure.hist")
    assert "of your requests are already running" not in page.text_content("#stats-status")
