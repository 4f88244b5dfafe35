// paramscope page, shared parts: DOM helpers, the API (or the report's embedded answers), axis ticks,
// stacked bars, the tooltip, and registerView(), through which each view in views/*.js plugs in.
// Names from model files are attacker-controlled: text goes in through textContent only, never innerHTML.
// Renderers never compute model figures: every number shown comes from an API answer.
"use strict";

const PS = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const EMBEDDED = document.getElementById("paramscope-data");
  const OFFLINE = EMBEDDED ? JSON.parse(EMBEDDED.textContent) : null; // the static report's data
  const GIB = 2 ** 30;
  const views = [];
  const state = { source: null, inspect: null, picker: null, settings: null, seq: {} };

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
  const gib = (b) => (b === null || b === undefined ? "—" : (b / GIB).toFixed(2) + " GiB");
  const pct = (share) => (share === null || share === undefined ? "" : (100 * share).toFixed(1) + "%");

  function el(tag, attrs = {}, text) {
    const svg = ["svg", "rect", "text", "line", "g", "title", "path"].includes(tag);
    const node = svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined) continue;
      // through the CSSOM: the Content Security Policy refuses style attributes (style-src 'self')
      if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
    }
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // ---- data: the server's API, or in a report the answers computed when it was written
  const OFFLINE_ANSWERS = {
    "/api/inspect": () => OFFLINE.inspect,
    "/api/size": (p) => {
      const s = OFFLINE.sizes[String(p.context)];
      if (!s) throw new Error(OFFLINE.size_error || "not in this report");
      return s;
    },
    "/api/fit_matrix": (p) => {
      const m = (p.runtime || []).length > 1 ? OFFLINE.runtime_matrix : OFFLINE.fit_matrix;
      if (!m) throw new Error(OFFLINE.size_error || "not in this report");
      return m;
    },
    "/api/tokens": () => {
      if (!OFFLINE.tokens) throw new Error(OFFLINE.tokens_error || "no tokenizer in this report");
      return OFFLINE.tokens;
    },
    "/api/stats": () => {
      if (!OFFLINE.stats) throw new Error("not in this report (paramscope report --stats)");
      return OFFLINE.stats;
    },
    "/api/explain": () => {
      if (!OFFLINE.explain) throw new Error(OFFLINE.explain_error || "not in this report");
      return OFFLINE.explain;
    },
    "/api/picker": () => ({ models: [], roots: [], gpus: OFFLINE.gpus || [] }),
  };

  const BUSY_RETRIES = 5; // each after the server's Retry-After (at most MAX_RETRY_WAIT_S)
  const MAX_RETRY_WAIT_S = 30;

  async function api(path, params = {}, body) {
    if (OFFLINE) {
      const answer = OFFLINE_ANSWERS[path];
      if (!answer) throw new Error("not available in a report");
      return answer(params);
    }
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== null && v !== undefined && v !== "") q.set(k, v);
    }
    const init = body === undefined ? {} : { method: "POST", body: JSON.stringify(body),
      headers: { "content-type": "application/json" } };
    // A busy server (a full lane: 503, or this client's share taken: 429) says when to ask again in
    // Retry-After; the page waits that long and asks again, a few times, before showing the refusal.
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(path + "?" + q.toString(), init);
      const wait = Number(r.headers.get("retry-after"));
      if ((r.status === 503 || r.status === 429) && wait > 0 && attempt < BUSY_RETRIES) {
        await new Promise((done) => setTimeout(done, Math.min(wait, MAX_RETRY_WAIT_S) * 1000));
        continue;
      }
      const data = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
      if (r.ok) return data;
      throw new Error(data.error || JSON.stringify(data.detail || data));
    }
  }

  // Answers can arrive out of order while a slider moves: each channel keeps only its latest request.
  function latest(channel) {
    const n = (state.seq[channel] = (state.seq[channel] || 0) + 1);
    return () => n === state.seq[channel];
  }

  // ---- axis ticks: steps of 1, 2 or 5 × 10^k, the smallest whose labels cannot touch at this width
  const TICK_FONT_PX = 12;
  const CHAR_PX = 7.2; // an upper bound for a digit/letter at 12 px in the system UI fonts
  const TICK_GAP_PX = 14;

  function tickLabel(value, step) {
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return value.toFixed(Math.min(decimals, 6));
  }

  // Ticks for [0, max] drawn over widthPx pixels: [{value, label}]. The widest label decides the step,
  // so no two labels overlap whatever the scale (tested over many scales in the browser). On a vertical
  // axis the labels stack, so a line's height is the room each needs.
  function niceTicks(max, widthPx, unit = "", vertical = false) {
    if (!(max > 0) || !(widthPx > 0)) return [{ value: 0, label: "0" + unit }];
    for (let k = Math.floor(Math.log10(max)) - 3; k < 400; k++) {
      for (const m of [1, 2, 5]) {
        const step = m * 10 ** k;
        if (step <= 0 || !isFinite(step)) continue;
        const n = Math.floor(max / step + 1e-9);
        if (n > 40) continue;
        const values = [...Array(n + 1).keys()].map((i) => i * step);
        const labels = values.map((v) => tickLabel(v, step) + unit);
        const widest = vertical ? TICK_FONT_PX : Math.max(...labels.map((l) => l.length)) * CHAR_PX;
        const spacing = (step / max) * widthPx;
        if (spacing >= widest + TICK_GAP_PX) return values.map((v, i) => ({ value: v, label: labels[i] }));
      }
    }
    return [{ value: 0, label: "0" + unit }];
  }

  // ---- the tooltip: one floating box, filled with lines of text
  function tooltip() {
    let tip = $("tooltip");
    if (!tip) { tip = el("div", { id: "tooltip", role: "tooltip", hidden: "" }); document.body.append(tip); }
    return tip;
  }

  function showTip(ev, lines) {
    const tip = tooltip();
    tip.replaceChildren(...lines.map((l, i) => el(i === 0 ? "strong" : "div", {}, l)));
    tip.hidden = false;
    const pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - pad);
    if (y + h > window.innerHeight - 4) y = Math.max(4, ev.clientY - h - pad);
    tip.style.left = x + window.scrollX + "px";
    tip.style.top = y + window.scrollY + "px";
  }

  function hideTip() { tooltip().hidden = true; }

  function hover(node, lines) {
    node.addEventListener("mousemove", (ev) => showTip(ev, typeof lines === "function" ? lines() : lines));
    node.addEventListener("mouseleave", hideTip);
    node.addEventListener("focus", () => {
      const r = node.getBoundingClientRect();
      showTip({ clientX: r.left + r.width / 2, clientY: r.bottom }, typeof lines === "function" ? lines() : lines);
    });
    node.addEventListener("blur", hideTip);
  }

  // ---- memory parts: one colour each, shared by bars, legend and tables (CSS variables per theme)
  const PARTS = [
    { key: "weights", label: "weights", field: "weights_bytes" },
    { key: "kv_cache", label: "KV cache", field: "kv_cache_bytes" },
    { key: "compute", label: "runtime buffers", field: "compute_bytes" },
    { key: "overhead", label: "overhead", field: "overhead_bytes" },
  ];
  const partColor = (key) => `var(--part-${key})`;

  // Stacked horizontal bars, one row per {label, size}, on one GiB axis, with labelled capacity lines
  // [{bytes, label}]. The SVG is drawn at the container's pixel width so text stays 12 px on a phone.
  function stackedBars(svg, rows, capacities = []) {
    const width = Math.max(260, Math.floor(svg.parentElement.getBoundingClientRect().width));
    const labelW = rows.some((r) => r.label) ? Math.min(150, Math.round(width * 0.28)) : 0;
    // one line of text per capacity label above the bars: "1 × GPU" and "32 × GPU" can sit close together
    const LABEL_ROW = 16;
    const left = labelW + 44, right = 16, rowH = 30, plotW = width - left - right;
    const top = 30 + LABEL_ROW * Math.max(0, capacities.length - 1);
    const axisY = top + rows.length * (rowH + 8) + 4;
    const height = axisY + 20;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.replaceChildren();
    const biggest = Math.max(...rows.map((r) => r.size ? r.size.total_bytes : 0), ...capacities.map((c) => c.bytes));
    const maxGiB = (biggest * 1.06) / GIB;
    const ticks = niceTicks(maxGiB, plotW, "");
    const topGiB = Math.max(maxGiB, ticks[ticks.length - 1].value);
    const x = (bytes) => left + (plotW * bytes) / GIB / topGiB;
    svg.dataset.axisMax = String(topGiB);
    const axis = el("g", { class: "axis" });
    for (const t of ticks) {
      const tx = x(t.value * GIB);
      axis.append(el("line", { x1: tx, x2: tx, y1: top - 4, y2: axisY, class: "grid" }));
      axis.append(el("text", { x: tx, y: axisY + 14, "text-anchor": "middle", class: "tick", "data-value": t.value,
        "data-x": tx }, t.label));
    }
    // the unit left of the axis's 0, where no tick label can be
    axis.append(el("text", { x: left - 8 - (ticks[0].label.length * CHAR_PX) / 2, y: axisY + 14, "text-anchor": "end",
      class: "unit" }, "GiB"));
    svg.append(axis);
    rows.forEach((row, i) => {
      const y = top + i * (rowH + 8);
      const room = Math.max(4, Math.floor(labelW / CHAR_PX)); // characters that fit left of the bars
      if (row.label) svg.append(el("text", { x: labelW, y: y + rowH / 2 + 4, "text-anchor": "end", class: "row-label" },
        row.label.length > room ? "…" + row.label.slice(-(room - 1)) : row.label));
      if (!row.size) return;
      let at = 0;
      for (const part of PARTS) {
        const bytes = row.size[part.field];
        const r = el("rect", { x: x(at), y, width: Math.max(x(at + bytes) - x(at), 0), height: rowH,
          fill: partColor(part.key), class: "part", "data-part": part.key, "data-bytes": bytes, tabindex: "0",
          "aria-label": `${part.label}: ${gib(bytes)}` });
        hover(r, [`${row.label ? row.label + ": " : ""}${part.label}`, `${fmt(bytes)} bytes`, gib(bytes),
          `${pct(row.size.total_bytes ? bytes / row.size.total_bytes : 0)} of ${gib(row.size.total_bytes)}`]);
        svg.append(r);
        at += bytes;
      }
    });
    capacities.forEach((c, i) => {
      const cx = x(c.bytes);
      const line = el("line", { x1: cx, x2: cx, y1: top - 10, y2: axisY, class: "capacity", "data-bytes": c.bytes });
      svg.append(line);
      const anchor = cx > left + plotW * 0.6 ? "end" : "start";
      svg.append(el("text", { x: anchor === "end" ? cx - 4 : cx + 4, y: top - 14 - i * LABEL_ROW, class: "capacity-label",
        "text-anchor": anchor, "data-bytes": c.bytes }, c.label));
    });
    return { ticks, x };
  }

  function legend(container, parts = PARTS) {
    container.replaceChildren(...parts.map((p) => {
      const item = el("span", { class: "legend-item", "data-part": p.key });
      item.append(el("span", { class: "swatch", style: `background:${partColor(p.key)}` }), el("span", {}, p.label));
      return item;
    }));
  }

  // ---- views
  function registerView(view) { views.push(view); }

  function status(text, isError = false) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  return { $, el, fmt, gib, pct, api, latest, niceTicks, tickLabel, TICK_FONT_PX, showTip, hideTip, hover, PARTS,
    partColor, stackedBars, legend, registerView, views, state, status, OFFLINE, GIB };
})();
