// Memory view: what it takes to run the model at the chosen settings (size), on the chosen GPU (fit),
// the fit matrix (context × weight type → GPUs needed / max batch) and the runtimes side by side.
"use strict";

(() => {
  const { $, el, fmt, gib, pct, api, latest, hover, PARTS, partColor, stackedBars, legend, OFFLINE, state } = PS;
  const WEIGHT_TYPES = ["", "bf16", "fp16", "fp8", "int8", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k",
    "iq4_xs", "iq2_xxs", "nf4", "int4"];
  const KV_TYPES = ["", "f16", "bf16", "q8_0", "q4_0", "fp8"];
  const RUNTIMES = ["llama.cpp", "vllm", "transformers"];
  const DEFAULT_GPU = "rtx-4090";
  const view = { size: null, fit: null, gpus: [], matrixKey: null, runtimesKey: null };

  function control(label, input, out) {
    const box = el("label", {});
    box.append(el("span", {}, label), input);
    if (out) box.append(out);
    return box;
  }

  function mount(section) {
    section.append(el("h2", {}, "Memory to run it"));
    const controls = el("div", { class: "controls" });
    const select = (id, values, empty) => {
      const s = el("select", { id });
      s.append(...values.map((v) => el("option", { value: v }, v || empty)));
      return s;
    };
    controls.append(
      control("context", el("input", { id: "context", type: "range", min: 0, max: 0, step: 1 }), el("output", { id: "context-out" })),
      control("batch", el("input", { id: "batch", type: "range", min: 0, max: 8, step: 1, value: 0 }), el("output", { id: "batch-out" }, "1")),
      control("weights", select("weights", WEIGHT_TYPES, "as stored")),
      control("KV cache", select("kv-type", KV_TYPES, "runtime default")),
      control("runtime", select("runtime", RUNTIMES)),
      control("GPU", select("gpu", [DEFAULT_GPU])));
    section.append(controls);
    section.append(el("div", { id: "memory-legend", class: "legend", "aria-label": "legend" }));
    section.append(el("div", { class: "chart" }));
    section.lastChild.append(el("svg", { id: "memory-bars", role: "img", "aria-label": "memory by part" }));
    section.append(el("p", { id: "memory-caption", class: "info" }));
    const table = el("table", { id: "memory-table", class: "figures" });
    const head = el("thead");
    const hr = el("tr");
    for (const h of ["", "part", "bytes", "GiB", "share"]) hr.append(el("th", {}, h));
    head.append(hr);
    table.append(head, el("tbody"));
    section.append(el("div", { class: "scroll" }));
    section.lastChild.append(table);
    section.append(el("p", { id: "gpus-needed", class: "verdict" }));
    const details = el("details");
    details.append(el("summary", {}, "formulas"), el("ol", { id: "memory-explain" }));
    section.append(details);

    section.append(el("h3", {}, "Fit matrix"));
    section.append(el("p", { id: "fit-matrix-caption", class: "info" }));
    section.append(el("div", { class: "scroll" }));
    section.lastChild.append(el("table", { id: "fit-matrix", class: "matrix" }));
    section.append(el("h3", {}, "Runtimes side by side"));
    section.append(el("p", { id: "runtimes-caption", class: "info" }));
    section.append(el("div", { class: "chart" }));
    section.lastChild.append(el("svg", { id: "runtime-bars", role: "img", "aria-label": "memory per runtime" }));
    section.append(el("div", { class: "scroll" }));
    section.lastChild.append(el("table", { id: "runtime-matrix", class: "matrix" }));

    legend($("memory-legend"));
    for (const id of ["context", "batch", "weights", "kv-type", "runtime", "gpu"]) $(id).addEventListener("input", changed);
  }

  function contexts(inv) {
    if (OFFLINE) return Object.keys(OFFLINE.sizes).map(Number).sort((a, b) => a - b);
    const max = (inv.hyperparameters || {}).context_length || 131072;
    const out = [];
    for (let c = 256; c < max; c *= 2) out.push(c);
    out.push(max);
    return out;
  }

  function setGpus(gpus) {
    view.gpus = gpus;
    const sel = $("gpu");
    const current = sel.value || DEFAULT_GPU;
    sel.replaceChildren(...gpus.map((g) => el("option", { value: g.key }, `${g.key} (${gib(g.memory_bytes).replace(".00", "")})`)));
    sel.value = gpus.some((g) => g.key === current) ? current : (gpus[0] || {}).key;
  }

  function open(inv) {
    const ctx = contexts(inv);
    const slider = $("context");
    slider.max = String(Math.max(ctx.length - 1, 0));
    const want = OFFLINE ? OFFLINE.default_context : 8192;
    const start = ctx.indexOf(want);
    slider.value = String(start >= 0 ? start : ctx.filter((c) => c < want).length > 0 ? ctx.filter((c) => c <= want).length - 1 : 0);
    slider.dataset.values = JSON.stringify(ctx);
    if (OFFLINE) {
      for (const id of ["batch", "weights", "kv-type", "runtime", "gpu"]) $(id).disabled = true;
      const m = OFFLINE.memory || {};
      $("weights").value = m.weights || "";
      $("kv-type").value = m.kv_type || "";
      $("runtime").value = m.runtime || "llama.cpp";
      $("batch").value = String(Math.round(Math.log2(m.batch || 1)));
    }
    if (!view.gpus.length && state.picker) setGpus(state.picker.gpus);
    if (OFFLINE && OFFLINE.gpu) $("gpu").value = OFFLINE.gpu;
    view.matrixKey = view.runtimesKey = null;
    changed();
  }

  function settings() {
    const ctx = JSON.parse($("context").dataset.values || "[]")[Number($("context").value)];
    return { context: ctx, batch: 2 ** Number($("batch").value), weights: $("weights").value,
      kv_type: $("kv-type").value, runtime: $("runtime").value, gpu: $("gpu").value };
  }

  function changed() {
    const s = settings();
    state.settings = s;
    $("context-out").textContent = fmt(s.context);
    $("batch-out").textContent = String(s.batch);
    updateMemory(s);
    updateMatrix(s);
    updateRuntimes(s);
    for (const v of PS.views) if (v.settings && v !== self) v.settings(s);
  }

  const sizeParams = (s) => ({ source: state.source, context: s.context, batch: s.batch, weights: s.weights,
    kv_type: s.kv_type, runtime: s.runtime });

  // The size answers at once; fit (devices needed, the verdict) can take seconds for a large MoE, so the
  // bar is drawn first and drawn again with the capacity of the GPUs needed when fit answers. Size is
  // asked first: on a small machine the quick lane has one worker, and it takes requests in order.
  async function updateMemory(s) {
    const current = latest("memory");
    const sizing = api("/api/size", sizeParams(s));
    sizing.catch(() => {});  // handled below; this keeps an early failure from being "unhandled"
    const fitting = OFFLINE ? Promise.resolve(null)
      : api("/api/fit", { ...sizeParams(s), gpu: s.gpu }).catch((e) => ({ error: e.message }));
    let size;
    try {
      size = await sizing;
    } catch (e) {
      if (current()) { $("gpus-needed").textContent = e.message; $("gpus-needed").className = "verdict error"; }
      return;
    }
    if (!current()) return;
    view.size = size;
    view.fit = null;
    $("gpus-needed").textContent = OFFLINE ? "" : "fit: computing …";
    renderMemory();
    const fit = await fitting;
    if (!current() || !fit) return;
    view.fit = fit;
    renderMemory();
  }

  function gpuOf(key) { return view.gpus.find((g) => g.key === key) || null; }

  function capacities(fit, gpuKey) {
    const device = (fit && !fit.error && fit.device) || gpuOf(gpuKey);
    if (!device) return [];
    const name = device.key;
    const out = [{ bytes: device.usable_bytes, label: `1 × ${name} (${gib(device.usable_bytes)} usable)` }];
    const n = fit && !fit.error ? fit.devices_needed : null;
    if (n && n > 1) out.push({ bytes: n * device.usable_bytes, label: `${n} × ${name}` });
    return out;
  }

  function renderMemory() {
    const size = view.size, fit = view.fit;
    const s = state.settings;
    const tbody = $("memory-table").tBodies[0];
    const rows = [...PARTS.map((p) => [p, size[p.field]]), [{ key: "total", label: "total" }, size.total_bytes]];
    tbody.replaceChildren(...rows.map(([p, bytes]) => {
      const row = el("tr", { id: "mem-" + p.key, "data-bytes": bytes });
      const sw = el("td", {});
      if (p.key !== "total") sw.append(el("span", { class: "swatch", style: `background:${partColor(p.key)}`, "data-part": p.key }));
      row.append(sw, el("td", {}, p.label), el("td", { class: "num" }, fmt(bytes)), el("td", { class: "num" }, gib(bytes)),
        el("td", { class: "num" }, pct(size.total_bytes ? bytes / size.total_bytes : 0)));
      return row;
    }));
    $("memory-view").dataset.kvBytes = String(size.kv_cache_bytes);
    $("memory-view").dataset.context = String(size.context);
    stackedBars($("memory-bars"), [{ label: "", size }], capacities(fit, s.gpu));
    $("memory-caption").textContent = `${size.context_note}; batch ${size.batch}; weights ${size.weights}; ` +
      `KV ${size.kv_type}; ${size.runtime}; total ${gib(size.total_bytes)} (${fmt(size.total_bytes)} bytes)`;
    const needed = $("gpus-needed");
    needed.className = "verdict";
    delete needed.dataset.devices;
    if (fit && !fit.error) {
      needed.dataset.devices = String(fit.devices_needed);
      needed.textContent = fit.verdict || (fit.devices_needed
        ? `${fit.devices_needed} × ${fit.device.name} needed; max context on one: ${fmt(fit.max_context)}`
        : `does not fit on ${fit.allowed_device_counts.slice(-1)[0]} × ${fit.device.name}`);
    } else if (fit && fit.error) {
      needed.textContent = fit.error;
    }
    $("memory-explain").replaceChildren(...[...size.explain, ...size.notes, ...(fit && fit.explain ? fit.explain : [])]
      .map((line) => el("li", {}, line)));
  }

  // ---- the fit matrix: one request per GPU / batch / KV type / runtime; the context and weights chosen
  // above are only highlighted in it
  async function updateMatrix(s) {
    const key = JSON.stringify([state.source, s.gpu, s.batch, s.kv_type, s.runtime]);
    if (key === view.matrixKey) { highlight(s); return; }
    view.matrixKey = key;
    const current = latest("matrix");
    $("fit-matrix-caption").textContent = "computing …";
    let m;
    try {
      m = await api("/api/fit_matrix", { source: state.source, gpu: s.gpu, batch: s.batch, kv_type: s.kv_type,
        runtime: [s.runtime] });
    } catch (e) {
      if (current()) { $("fit-matrix-caption").textContent = e.message; $("fit-matrix").replaceChildren(); }
      return;
    }
    if (!current()) return;
    $("fit-matrix-caption").textContent = `${m.runtimes[0]} on ${m.device.name} (${gib(m.device.usable_bytes)} usable ` +
      `each), batch ${m.batch}: each cell is the GPUs needed / the largest batch that fits on them`;
    matrixTable($("fit-matrix"), m, m.contexts.map((c) => ({ label: fmt(c), context: c, runtime: m.runtimes[0] })), "context");
    Object.assign($("fit-matrix").dataset, { gpu: m.device.key, batch: String(m.batch), runtime: m.runtimes[0] });
    highlight(s);
  }

  function cellText(c) {
    if (c.error) return ["n/a", c.error];
    if (c.devices === null) return ["✗", `does not fit on any allowed number of GPUs`];
    const batch = c.max_batch >= 4096 ? "4096+" : String(c.max_batch);
    return [`${c.devices} GPU${c.devices > 1 ? "s" : ""} · ${batch}`,
      `${c.devices} GPU(s), ${gib(c.bytes_per_device)} each at batch given; max batch ${batch}`];
  }

  function matrixTable(table, m, rows, rowHead) {
    const head = el("tr");
    head.append(el("th", { scope: "col" }, rowHead), ...m.weight_types.map((w) => el("th", { scope: "col" }, w || "as stored")));
    const body = rows.map((r) => {
      const tr = el("tr");
      tr.append(el("th", { scope: "row" }, r.label));
      for (const w of m.weight_types) {
        const c = m.cells.find((x) => x.context === r.context && x.weights === w && x.runtime === r.runtime);
        const [text, tip] = c ? cellText(c) : ["", ""];
        const cls = !c || c.error ? "na" : c.devices === null ? "no" : c.devices === 1 ? "one" : "many";
        const td = el("td", { class: "cell " + cls, "data-context": r.context, "data-weights": w, "data-runtime": r.runtime,
          "data-devices": c && c.devices !== null ? c.devices : "", "data-max-batch": c ? c.max_batch : "", tabindex: "0" }, text);
        hover(td, [`${r.label} · ${w || "as stored"}`, tip]);
        tr.append(td);
      }
      return tr;
    });
    table.replaceChildren(el("thead"), el("tbody"));
    table.tHead.append(head);
    table.tBodies[0].append(...body);
  }

  function highlight(s) {
    for (const td of document.querySelectorAll("#fit-matrix td.cell")) {
      td.classList.toggle("chosen", Number(td.dataset.context) === s.context && td.dataset.weights === s.weights);
    }
  }

  // ---- runtimes side by side: the three runtimes' sizes on one axis, and runtime × weight type cells
  async function updateRuntimes(s) {
    const current = latest("runtimes");
    let sizes;
    try {
      sizes = OFFLINE ? (OFFLINE.runtime_sizes || {})[String(s.context)] || []
        : await Promise.all(RUNTIMES.map((r) => api("/api/size", { ...sizeParams(s), runtime: r }).catch((e) => ({ error: e.message, runtime: r }))));
    } catch (e) {
      sizes = [];
    }
    if (!current()) return;
    const rows = sizes.map((z, i) => ({ label: z.error ? `${RUNTIMES[i]} (n/a)` : z.runtime, size: z.error ? null : z }));
    if (rows.length) stackedBars($("runtime-bars"), rows, capacities(view.fit, s.gpu).slice(0, 1));
    $("runtimes-caption").textContent = `at context ${fmt(s.context)}, batch ${s.batch}, weights ${s.weights || "as stored"}` +
      (sizes.some((z) => z.error) ? "; " + sizes.filter((z) => z.error).map((z) => `${z.runtime}: ${z.error}`).join("; ") : "");
    const key = JSON.stringify([state.source, s.gpu, s.batch, s.kv_type, s.context]);
    if (key === view.runtimesKey) return;
    view.runtimesKey = key;
    const currentM = latest("runtime-matrix");
    let m;
    try {
      m = await api("/api/fit_matrix", { source: state.source, gpu: s.gpu, batch: s.batch, kv_type: s.kv_type,
        runtime: RUNTIMES, context: [s.context] });
    } catch (e) {
      if (currentM()) $("runtime-matrix").replaceChildren();
      return;
    }
    if (!currentM()) return;
    matrixTable($("runtime-matrix"), m, m.runtimes.map((r) => ({ label: r, context: m.contexts[0], runtime: r })),
      `runtime at ${fmt(m.contexts[0])} tokens`);
  }

  const self = { id: "memory", mount, open, picker: (p) => setGpus(p.gpus || []),
    resize: () => { if (view.size) renderMemory(); if (state.settings) updateRuntimes(state.settings); } };
  PS.registerView(self);
})();
