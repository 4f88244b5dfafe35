// paramscope page: renders what the API returns (the CLI's --json). Names from model files are
// attacker-controlled, so text goes in through textContent only, never innerHTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const EMBEDDED = document.getElementById("paramscope-data");
const OFFLINE = EMBEDDED ? JSON.parse(EMBEDDED.textContent) : null; // the static report's data
const GIB = 2 ** 30;
const GPU_LINES = [8, 12, 16, 24, 48, 80, 141]; // GB as cards are sold (binary)
const WEIGHT_TYPES = ["", "bf16", "fp16", "fp8", "int8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m",
  "q2_k", "iq4_xs", "nf4", "int4"];
const KV_TYPES = ["", "f16", "bf16", "q8_0", "q4_0", "fp8"];
const GPUS = ["rtx-3060-12g", "rtx-4060-ti-16g", "rtx-4090", "rtx-5090", "l40s", "a100-80g", "h100-sxm",
  "h200", "mi300x"];
const COLORS = { weights: "#4c78a8", kv_cache: "#f58518", compute: "#54a24b", overhead: "#b279a2" };
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac",
  "#eeca3b", "#ff9da6"];

const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
const gib = (b) => (b / GIB).toFixed(2) + " GiB";
const state = { source: null, inspect: null, seq: 0 };

function el(tag, attrs = {}, text) {
  const svg = ["svg", "rect", "text", "line", "g", "title"].includes(tag);
  const node = svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

async function api(path, params, body) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const init = body === undefined ? {} : { method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json" } };
  const r = await fetch(path + "?" + q.toString(), init);
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || JSON.stringify(data.detail || data));
  return data;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// ---- open a model
async function openModel(source) {
  status("opening " + source + " …");
  const t0 = performance.now();
  try {
    state.source = source;
    state.inspect = OFFLINE ? OFFLINE.inspect
      : await api("/api/inspect", { source, tensors: true, layers: true });
  } catch (e) {
    status(e.message, true);
    return;
  }
  $("views").hidden = false;
  renderSummary(state.inspect);
  renderTreemap(state.inspect);
  document.body.dataset.treemapMs = String(Math.round(performance.now() - t0));
  status("");
  setupMemory(state.inspect);
  updateMemory();
  updateTokens();
}

function renderSummary(inv) {
  $("model-name").textContent = inv.source;
  const hp = inv.hyperparameters || {};
  $("summary").textContent = [inv.format, inv.architecture, `${inv.label} parameters (${fmt(inv.total_params)})`,
    inv.active_params !== inv.total_params ? `${fmt(inv.active_params)} active` : null,
    `${gib(inv.weights_bytes)} of weights`, `${fmt(inv.tensor_count)} tensors`,
    hp.n_layers ? `${hp.n_layers} layers` : null].filter(Boolean).join(" · ");
}

// ---- treemap: components (embedding, attention, ffn, experts …) and their parts (attention/q …)
function componentTree(inv) {
  const detail = inv.by_component_detail;
  const dtypes = {};
  for (const t of inv.tensors || []) {
    const parts = String(t.component || "").split("/");
    for (let i = 1; i <= parts.length; i++) {
      const key = parts.slice(0, i).join("/");
      (dtypes[key] = dtypes[key] || new Set()).add(t.dtype);
    }
  }
  const tops = Object.keys(detail).filter((k) => k !== "total" && !k.includes("/") && detail[k].params > 0);
  return tops.map((k) => {
    const kids = Object.keys(detail).filter((c) => c.startsWith(k + "/") && c.split("/").length === 2)
      .map((c) => ({ name: c, ...detail[c] }));
    const covered = kids.reduce((s, c) => s + c.params, 0);
    if (kids.length && covered < detail[k].params) {
      kids.push({ name: k + "/(rest)", params: detail[k].params - covered, share: null });
    }
    return { name: k, ...detail[k], children: kids.filter((c) => c.params > 0), dtypes: dtypes };
  });
}

// Squarified treemap (Bruls, Huizing, van Wijk 2000): rows of tiles kept close to square.
function squarify(items, x, y, w, h) {
  const total = items.reduce((s, i) => s + i.params, 0);
  const out = [];
  let rest = items.slice().sort((a, b) => b.params - a.params);
  while (rest.length) {
    const short = Math.min(w, h);
    const scale = (w * h) / rest.reduce((s, i) => s + i.params, 0);
    let row = [rest[0]], best = worst(row, short, scale);
    for (let i = 1; i < rest.length; i++) {
      const next = worst([...row, rest[i]], short, scale);
      if (next > best) break;
      row.push(rest[i]); best = next;
    }
    const area = row.reduce((s, i) => s + i.params, 0) * scale;
    const thick = area / short;
    let offset = 0;
    for (const item of row) {
      const len = (item.params * scale) / thick;
      out.push(w >= h ? { item, x, y: y + offset, w: thick, h: len } : { item, x: x + offset, y, w: len, h: thick });
      offset += len;
    }
    if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
    rest = rest.slice(row.length);
  }
  return total ? out : [];
}

function worst(row, short, scale) {
  const areas = row.map((i) => i.params * scale);
  const sum = areas.reduce((s, a) => s + a, 0);
  return Math.max(...areas.map((a) => Math.max((short * short * a) / (sum * sum), (sum * sum) / (short * short * a))));
}

function renderTreemap(inv) {
  const svg = $("treemap");
  svg.replaceChildren();
  const tree = componentTree(inv);
  const total = tree.reduce((s, c) => s + c.params, 0);
  svg.dataset.total = String(total);
  $("treemap-total").textContent = `total ${fmt(total)} parameters (${inv.label})`;
  squarify(tree, 0, 0, 960, 420).forEach((cell, n) => {
    const color = PALETTE[n % PALETTE.length];
    const group = el("g", { class: "component", "data-name": cell.item.name });
    svg.append(group);
    const kids = cell.item.children.length ? squarify(cell.item.children, cell.x + 2, cell.y + 16,
      Math.max(cell.w - 4, 1), Math.max(cell.h - 18, 1)) : [];
    group.append(tile(cell, color, 1, cell.item, cell.item.dtypes));
    for (const k of kids) group.append(tile(k, color, 0.75, k.item, cell.item.dtypes));
    if (cell.w > 60 && cell.h > 14) {
      group.append(el("text", { x: cell.x + 4, y: cell.y + 12 }, `${cell.item.name} ${pct(cell.item.share)}`));
    }
    for (const k of kids) {
      if (k.w > 50 && k.h > 14) group.append(el("text", { x: k.x + 3, y: k.y + 12 }, k.item.name.split("/")[1]));
    }
  });
}

function pct(share) {
  return share === null || share === undefined ? "" : (100 * share).toFixed(1) + "%";
}

function tile(cell, color, opacity, item, dtypes) {
  const rect = el("rect", { x: cell.x, y: cell.y, width: Math.max(cell.w, 0), height: Math.max(cell.h, 0),
    fill: color, "fill-opacity": opacity, "data-params": item.params });
  const types = dtypes[item.name] ? [...dtypes[item.name]].join(", ") : "";
  const info = `${item.name}: ${fmt(item.params)} parameters` + (item.share !== null ? ` (${pct(item.share)})` : "")
    + (item.bytes !== undefined ? `, ${fmt(item.bytes)} bytes, ${fmt(item.tensors)} tensors` : "")
    + (types ? `, ${types}` : "");
  rect.append(el("title", {}, info));
  rect.addEventListener("mouseenter", () => { $("treemap-info").textContent = info; });
  return rect;
}

// ---- memory: weights + KV cache + buffers + overhead for the chosen settings (the size API)
function contexts(inv) {
  const max = (inv.hyperparameters || {}).context_length || 131072;
  const out = [];
  for (let c = 256; c < max; c *= 2) out.push(c);
  out.push(max);
  const embedded = OFFLINE ? Object.keys(OFFLINE.sizes).map(Number).sort((a, b) => a - b) : [];
  return OFFLINE ? (embedded.length ? embedded : [0]) : out;
}

function setupMemory(inv) {
  const ctx = contexts(inv);
  const slider = $("context");
  slider.max = String(ctx.length - 1);
  const start = ctx.indexOf(OFFLINE ? OFFLINE.default_context : 8192);
  slider.value = String(start >= 0 ? start : Math.min(ctx.length - 1, 5));
  slider.dataset.values = JSON.stringify(ctx);
  fill($("weights"), WEIGHT_TYPES, "as stored");
  fill($("kv-type"), KV_TYPES, "runtime default");
  fill($("gpu"), GPUS, null);
  $("gpu").value = "rtx-4090";
  if (OFFLINE) {
    for (const id of ["batch", "weights", "kv-type", "runtime", "gpu"]) $(id).disabled = true;
  }
}

function fill(select, values, emptyLabel) {
  select.replaceChildren(...values.map((v) => el("option", { value: v }, v || emptyLabel)));
}

function memoryParams() {
  const ctx = JSON.parse($("context").dataset.values)[Number($("context").value)];
  return { source: state.source, context: ctx, batch: 2 ** Number($("batch").value), weights: $("weights").value,
    kv_type: $("kv-type").value, runtime: $("runtime").value };
}

async function updateMemory() {
  const p = memoryParams();
  $("context-out").textContent = fmt(p.context);
  $("batch-out").textContent = String(p.batch);
  const seq = ++state.seq; // answers can arrive out of order while a slider moves
  let size, fit = null;
  try {
    if (OFFLINE) {
      size = OFFLINE.sizes[String(p.context)];
      if (!size) throw new Error(OFFLINE.size_error || "no sizes in this report");
    } else {
      [size, fit] = await Promise.all([api("/api/size", p),
        api("/api/fit", { ...p, gpu: $("gpu").value }).catch((e) => ({ error: e.message }))]);
    }
  } catch (e) {
    if (seq === state.seq) { $("gpus-needed").textContent = e.message; $("gpus-needed").className = "info error"; }
    return;
  }
  if (seq !== state.seq) return;
  renderMemory(size, fit);
}

function renderMemory(size, fit) {
  const parts = [["weights", size.weights_bytes], ["kv_cache", size.kv_cache_bytes],
    ["compute", size.compute_bytes], ["overhead", size.overhead_bytes]];
  const tbody = $("memory-table").tBodies[0];
  tbody.replaceChildren(...[...parts, ["total", size.total_bytes]].map(([name, bytes]) => {
    const row = el("tr", { id: "mem-" + name, "data-bytes": bytes });
    row.append(el("td", {}, name.replace("_", " ")), el("td", {}, fmt(bytes) + " B"), el("td", {}, gib(bytes)));
    return row;
  }));
  $("memory-view").dataset.kvBytes = String(size.kv_cache_bytes);
  $("memory-view").dataset.context = String(size.context);
  const svg = $("memory-bars");
  svg.replaceChildren();
  const top = Math.max(size.total_bytes, 8 * GIB) * 1.08;
  const scale = (b) => 20 + (920 * b) / top;
  let x = 0;
  for (const [name, bytes] of parts) {
    const r = el("rect", { x: scale(x), y: 30, width: scale(x + bytes) - scale(x), height: 50, fill: COLORS[name] });
    r.append(el("title", {}, `${name.replace("_", " ")}: ${gib(bytes)}`));
    svg.append(r);
    x += bytes;
  }
  for (const gb of GPU_LINES) {
    if (gb * GIB > top) continue;
    svg.append(el("line", { x1: scale(gb * GIB), x2: scale(gb * GIB), y1: 15, y2: 95, stroke: "#333",
      "stroke-dasharray": "3 3" }));
    svg.append(el("text", { x: scale(gb * GIB) - 10, y: 110 }, gb + " GB"));
  }
  svg.append(el("text", { x: 20, y: 140 }, `${size.context_note}; batch ${size.batch}; weights ${size.weights}; ` +
    `KV ${size.kv_type}; ${size.runtime}; total ${gib(size.total_bytes)}`));
  const needed = $("gpus-needed");
  needed.className = "info";
  if (fit && !fit.error) {
    needed.dataset.devices = String(fit.devices_needed);
    needed.textContent = fit.devices_needed
      ? `${fit.devices_needed} × ${fit.device.name} needed; max context on one: ${fmt(fit.max_context)}`
      : `does not fit on ${fit.allowed_device_counts.slice(-1)[0]} × ${fit.device.name}`;
  } else {
    needed.textContent = fit && fit.error ? fit.error : "";
  }
  $("memory-explain").replaceChildren(...[...size.explain, ...size.notes, ...(fit && fit.explain ? fit.explain : [])]
    .map((line) => el("li", {}, line)));
}

// ---- tokens: the model's own tokenizer (the tokens API)
let tokenTimer = null;
function updateTokens() {
  clearTimeout(tokenTimer);
  tokenTimer = setTimeout(async () => {
    const text = $("tokens-text").value;
    let result;
    try {
      result = OFFLINE ? OFFLINE.tokens : await api("/api/tokens", { source: state.source }, { text });
    } catch (e) {
      $("tokens-out").replaceChildren();
      $("token-ids").textContent = "";
      $("tokens-summary").textContent = e.message;
      return;
    }
    renderTokens(result, OFFLINE ? OFFLINE.tokens_text : text);
  }, OFFLINE ? 0 : 150);
}

function renderTokens(result, text) {
  const out = $("tokens-out");
  if (!result) {
    out.replaceChildren();
    $("tokens-summary").textContent = OFFLINE && OFFLINE.tokens_error ? OFFLINE.tokens_error : "";
    return;
  }
  out.replaceChildren(...result.tokens.map((t, n) => {
    const special = t.start === t.end;
    const span = el("span", { class: `tok t${n % 4}` + (special ? " special" : ""), title: `id ${t.id}: ${t.text}` },
      special ? t.text : text.slice(t.start, t.end));
    span.append(el("sub", {}, t.id));
    return span;
  }));
  $("token-ids").textContent = result.tokens.map((t) => t.id).join(", ");
  $("tokens-summary").textContent = `${fmt(result.count)} tokens · ${fmt(result.characters)} characters` +
    (result.chars_per_token ? ` · ${result.chars_per_token.toFixed(2)} characters per token` : "") +
    ` · ${result.tokenizer.name} (${result.tokenizer.type}, ${fmt(result.tokenizer.vocab_size)} tokens)`;
}

// ---- numbers: histograms per component (the stats API; reads every weight)
async function runStats() {
  const t0 = performance.now();
  const tick = setInterval(() => {
    $("stats-status").textContent = `reading weights … ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  }, 200);
  let stats;
  try {
    stats = OFFLINE ? OFFLINE.stats : await api("/api/stats", { source: state.source });
  } catch (e) {
    $("stats-status").textContent = e.message;
    return;
  } finally {
    clearInterval(tick);
  }
  renderStats(stats);
}

function renderStats(stats) {
  if (!stats) { $("stats-status").textContent = "not in this report (paramscope report --stats)"; return; }
  $("stats-status").textContent = `${fmt(stats.bytes_scanned)} bytes read in ${stats.seconds} s; ` +
    `${stats.anomalies.length} anomalies`;
  const boxes = Object.entries(stats.by_component).filter(([, s]) => s.histogram).map(([name, s]) => {
    const box = el("div", { class: "hist" });
    box.append(el("div", {}, `${name}: std ${s.std.toPrecision(3)}, |x| max ${s.absmax.toPrecision(3)}`));
    const svg = el("svg", { viewBox: "0 0 280 100" });
    const counts = s.histogram.counts, top = Math.max(...counts, 1), w = 280 / counts.length;
    counts.forEach((c, i) => {
      const h = (90 * Math.log1p(c)) / Math.log1p(top); // log scale: the tails matter
      const r = el("rect", { x: i * w, y: 95 - h, width: Math.max(w - 0.5, 0.5), height: h });
      r.append(el("title", {}, `[${s.histogram.edges[i]}, ${s.histogram.edges[i + 1]}): ${fmt(c)}`));
      svg.append(r);
    });
    box.append(svg);
    return box;
  });
  const list = el("ul");
  for (const a of stats.anomalies.slice(0, 50)) list.append(el("li", {}, `${a.severity} ${a.kind}: ${a.detail}`));
  $("stats-out").replaceChildren(...boxes, list);
}

// ---- wiring
async function loadSources() {
  if (OFFLINE) return;
  try {
    const m = await api("/api/models", {});
    $("sources").replaceChildren(...[...m.local.map((f) => f.path), ...m.catalogue].map((v) => el("option", { value: v })));
  } catch (e) { /* the list is a convenience; typing a source still works */ }
}

function start() {
  $("open-form").addEventListener("submit", (ev) => { ev.preventDefault(); openModel($("source").value.trim()); });
  for (const id of ["context", "batch", "weights", "kv-type", "runtime", "gpu"]) $(id).addEventListener("input", updateMemory);
  $("tokens-text").addEventListener("input", updateTokens);
  $("stats-run").addEventListener("click", runStats);
  const wanted = OFFLINE ? OFFLINE.inspect.source : new URLSearchParams(location.search).get("source");
  if (OFFLINE) { $("open-form").hidden = true; $("tokens-text").value = OFFLINE.tokens_text; $("tokens-text").readOnly = true; }
  if (wanted) { $("source").value = wanted; openModel(wanted); }
  loadSources();
}

start();
